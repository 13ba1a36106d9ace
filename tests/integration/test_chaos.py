"""The short fault suite `make test` runs (`make chaos` runs every scenario): under a load of writes and reads,
nothing acknowledged is lost or doubled, every timeline ends as the log says, no healthy event is parked."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import Settings
from ops.chaos import scenario, table

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]


@pytest.mark.parametrize("name", ["worker", "poison", "redis-oom", "redis"])
def test_a_fault_under_load_loses_nothing(settings: Settings, name: str, tmp_path: Path) -> None:
    out = scenario(settings, name, str(tmp_path), report=print, users=10, kills=2)
    print(table([out]))
    assert out.acknowledged > 50, out  # the load ran
    assert (out.missing, out.duplicated, out.wrong_timelines, out.healthy_dead_lettered) == (0, 0, 0, 0), (
        table([out]) + "\n" + "\n".join(out.notes)
    )
