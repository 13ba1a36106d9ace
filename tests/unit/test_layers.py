"""The layer contract in pyproject.toml (schemas <- infra <- projections <- {streams, api} <- ops), checked by
import-linter on every test run as well as by `make lint`, so an import that reaches up a layer fails CI."""

from __future__ import annotations

import os
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_imports_keep_the_layers() -> None:
    cwd = Path.cwd()
    os.chdir(ROOT)  # import-linter reads pyproject.toml from the working directory
    try:
        assert lint_imports(no_cache=True) == 0
    finally:
        os.chdir(cwd)
