"""Test-session wiring shared by every layer: disruptive tests (they stop services) run last."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-examples", default="200", help="Schemathesis examples per operation (tests/integration/test_fuzz.py)."
    )
