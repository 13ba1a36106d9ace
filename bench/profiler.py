"""py-spy on the worker and the API while a phase runs: non-blocking sampling (the process is never paused),
written as collapsed stacks (`<name>.txt`, what flamegraph.pl or speedscope.app render) and a summary of the
functions where the samples fall (`<name>-top.txt`). Failing to attach is logged, never fatal."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

RATE = 100  # samples per second (py-spy's default)
TOP = 25


def _py_spy() -> str | None:
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


class Profile:
    """`with Profile(pid, path):` samples `pid` (and its children) until the block ends."""

    def __init__(self, pid: int | None, path: Path) -> None:
        self.pid = pid
        self.path = path
        self.proc: subprocess.Popen[bytes] | None = None
        self.result: dict[str, Any] = {"file": None}

    def __enter__(self) -> Profile:
        exe = _py_spy()
        if exe is None or self.pid is None:
            self.result["error"] = "py-spy not installed" if exe is None else "no process"
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [exe, "record", "--nonblocking", "--subprocesses", "--rate", str(RATE), "--format", "raw",
               "-o", str(self.path), "--pid", str(self.pid)]  # fmt: skip
        self.err = self.path.with_suffix(".log")
        with self.err.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.proc is None:
            return
        seconds = time.monotonic() - self.t0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes what it sampled on Ctrl-C
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.path.exists() or self.path.stat().st_size == 0:
            tail = self.err.read_text(errors="replace").strip().splitlines()[-3:] if self.err.exists() else []
            self.result["error"] = " / ".join(tail) or f"py-spy exited {self.proc.returncode}"
            print(f"py-spy: no profile of pid {self.pid}: {self.result['error']}", file=sys.stderr, flush=True)
            return
        self.err.unlink(missing_ok=True)
        summary = summarize(self.path.read_text(errors="replace"))
        top = self.path.with_name(self.path.stem + "-top.txt")
        top.write_text(render(summary))
        busy = 100.0 * summary["samples"] / max(seconds * RATE, 1e-9)  # of one thread's time
        self.result = {"file": self.path.name, "top_file": top.name, "seconds": seconds, "busy_pct": busy, **summary}


def _frame(f: str) -> str:
    """`fn (path/to/module.py:12)` -> `fn (module.py)`: one entry per function, not per line."""
    name, _, where = f.partition(" (")
    path = where.rsplit(":", 1)[0].rstrip(")")
    return f"{name} ({'/'.join(Path(path).parts[-2:])})" if path else name


def summarize(collapsed: str) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's raw (collapsed) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))] or frames
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    share = 100.0 / max(total, 1)
    return {
        "samples": total,
        "self_pct": [(f, round(n * share, 1)) for f, n in own.most_common(TOP)],
        "inclusive_pct": [(f, round(n * share, 1)) for f, n in inclusive.most_common(TOP)],
    }


def render(summary: dict[str, Any]) -> str:
    lines = [f"{summary['samples']} non-idle samples", "", "self % (where the samples fall):"]
    lines += [f"  {pct:5.1f}  {f}" for f, pct in summary["self_pct"]]
    lines += ["", "inclusive % (the function or what it calls):"]
    lines += [f"  {pct:5.1f}  {f}" for f, pct in summary["inclusive_pct"]]
    return "\n".join(lines) + "\n"
