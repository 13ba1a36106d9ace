"""The layer contract in pyproject.toml (schemas <- infra <- projections <- {streams, api} <- ops), checked by
import-linter on every test run as well as by `make lint`, so an import that reaches up a layer fails CI.

It runs in a child process: import-linter configures logging with `dictConfig`, which would disable the
loggers other tests in this session capture."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = "from importlinter.cli import lint_imports; raise SystemExit(lint_imports(no_cache=True))"


def test_imports_keep_the_layers() -> None:
    done = subprocess.run([sys.executable, "-c", LINT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
