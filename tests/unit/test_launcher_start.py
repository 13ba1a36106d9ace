"""The launcher's start-up wait tells a process that died from one still starting, with real (tiny) processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infra.services.launcher import Service, ServiceError
from infra.settings import Settings


class _Tiny(Service):
    """A service whose process is a Python one-liner and whose probe is a file the process writes."""

    kind = "tiny"
    process_marker = "tiny-marker"

    def __init__(self, settings: Settings, code: str) -> None:
        super().__init__(settings)
        self.code = code
        self.ready_file = self.home / "ready"

    @property
    def address(self) -> str:
        return "127.0.0.1:1"

    def probe(self) -> bool:
        return self.ready_file.exists()

    def command(self) -> list[str]:
        return [sys.executable, "-c", self.code, "tiny-marker"]


def _service(tmp_path: Path, code: str) -> _Tiny:
    s = _Tiny(Settings(state_dir=tmp_path, start_timeout_s=30.0), code)
    s.home.mkdir(parents=True)
    return s


def test_a_process_that_exits_during_start_up_is_reported_with_its_log(tmp_path: Path) -> None:
    s = _service(tmp_path, "print('bad config'); raise SystemExit(3)")
    s._spawn()
    with pytest.raises(ServiceError, match="exited during start-up") as err:
        s._wait_ready()
    assert "bad config" in str(err.value)


def test_a_process_whose_command_line_is_blank_while_it_starts_is_waited_for(tmp_path: Path) -> None:
    # Like Redis rewriting its process title: for a while /proc/<pid>/cmdline lacks the marker.
    code = "import pathlib, time; time.sleep(1.0); pathlib.Path('ready').write_text('ok'); time.sleep(30)"
    s = _service(tmp_path, code)
    s.process_marker = "not-in-the-command-line"
    s._spawn()
    try:
        s._wait_ready()
        assert s.probe()
    finally:
        assert s._proc is not None
        s._proc.kill()
        s._proc.wait()
