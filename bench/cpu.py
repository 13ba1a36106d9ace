"""CPU seconds per process over a phase, from /proc: where the box's two cores go while chirp reads and
ingests (Redis, the JVMs, the worker, the API and the load generators share them)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int, reaped: bool = False) -> tuple[int, float] | None:
    """(parent pid, user + system seconds) of a live process; with `reaped`, its exited children's too."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces: fields start after it
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return int(fields[1]), ticks / TICK


def _all() -> dict[int, tuple[int, float]]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (s := _stat(int(entry.name))) is not None:
            out[int(entry.name)] = s
    return out


def tree_seconds(roots: Mapping[str, int | None], reaped: str = "") -> dict[str, float]:
    """CPU seconds of each named process and its live descendants (an API's uvicorn workers, wrk), less the
    subtrees of the other named processes (the bench starts the worker and the API). The process named
    `reaped` also counts its children that exited (a load generator run to completion)."""
    procs = _all()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    named = {pid for pid in roots.values() if pid is not None}
    out = {}
    for name, root in roots.items():
        if root is None or root not in procs:
            continue
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += procs[pid][1]
            todo += [c for c in children.get(pid, []) if c not in named]  # a named child counts as itself
        if name == reaped and (own := _stat(root, reaped=True)) is not None:
            total += own[1] - procs[root][1]  # children that ran and exited (wrk)
        out[name] = total
    return out


def pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class ProcessCpu:
    """Snapshots and deltas of `tree_seconds` for the processes `roots()` names at the time."""

    def __init__(self, roots: Callable[[], Mapping[str, int | None]]) -> None:
        self.roots = roots

    def snapshot(self) -> dict[str, float]:
        return tree_seconds(self.roots(), reaped="bench")

    @staticmethod
    def delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
        """Seconds per process over the interval (a process that started within it counts from zero)."""
        return {name: after[name] - before.get(name, 0.0) for name in after}
