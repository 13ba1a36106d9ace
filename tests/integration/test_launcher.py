"""The launcher: up is idempotent and reuses healthy services; down stops them; up brings them back.

Runs last: it stops the shared services and leaves them running again.
"""

from __future__ import annotations

import pytest

from tests.integration.support import chirp_cli

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]
ALL_HEALTHY = {"redis": "healthy", "kafka": "healthy", "cassandra": "healthy", "s3proxy": "healthy"}


def _status() -> tuple[int, dict[str, str]]:
    """The service table: the lines after the header, up to the first blank line (the pipeline follows)."""
    r = chirp_cli("status")
    table = r.stdout.split("\n\n")[0].splitlines()[1:]
    return r.returncode, {line.split()[0]: line.split()[1] for line in table if line.strip()}


def test_up_up_down_up() -> None:
    first = chirp_cli("up")
    assert first.returncode == 0, first.stderr
    second = chirp_cli("up")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("reused (already healthy") == 4, second.stdout
    assert _status() == (0, ALL_HEALTHY)

    down = chirp_cli("down")
    assert down.returncode == 0, down.stderr
    code, rows = _status()
    assert code == 1 and set(rows.values()) == {"down"}, rows

    again = chirp_cli("up")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("started, ready in") == 4, again.stdout
    assert _status() == (0, ALL_HEALTHY)


def test_a_failed_start_names_its_log(tmp_path: object) -> None:
    """A port held by something that is not Redis: the start fails, and the error names the log file."""
    import os
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {**os.environ, "CHIRP_REDIS_URL": f"redis://127.0.0.1:{port}/0", "CHIRP_STATE_DIR": str(tmp_path),
               "CHIRP_START_TIMEOUT_S": "20"}  # fmt: skip
        r = chirp_cli("up", "--only", "redis", env=env)
    assert r.returncode == 1
    assert "redis" in r.stderr and f"{tmp_path}/redis/logs/redis.log" in r.stderr, r.stderr
