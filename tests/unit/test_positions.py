"""Log positions as the API hands them out (projections/positions.py), and the wait for them."""

from __future__ import annotations

import pytest

from infra.eventlog import Position
from projections.positions import BadPosition, applied, decode, encode, progress_ends, wait_applied


def test_a_token_keeps_the_furthest_position_per_partition_and_reads_back() -> None:
    token = encode([Position("p.tweets", 1, 7), Position("p.tweets", 1, 3), Position("p.graph", 0, 0)])
    assert token == "p.graph:0:0,p.tweets:1:7"
    assert decode(token) == [Position("p.graph", 0, 0), Position("p.tweets", 1, 7)]
    assert progress_ends(decode(token)) == {"p.graph:0": 1, "p.tweets:1": 8}


@pytest.mark.parametrize(
    "token", ["", "tweets", "tweets:1", "tweets:x:1", "a b:1:2", "t:1:2;t:1:3", ",".join(["t:1:1"] * 40)]
)
def test_tokens_this_api_never_made_are_refused(token: str) -> None:
    with pytest.raises(BadPosition):
        decode(token)


def test_applied_means_every_partition_is_past_its_offset() -> None:
    assert applied({"t:0": 5, "t:1": 3}, {"t:0": 5})
    assert not applied({"t:0": 4}, {"t:0": 5})
    assert not applied({}, {"t:1": 1})


class Growing:
    def __init__(self) -> None:
        self.done = 0

    async def progress(self) -> dict[str, int]:
        self.done += 1
        return {"t:0": self.done}


async def test_the_wait_ends_when_applied_or_at_its_bound() -> None:
    assert await wait_applied(Growing(), {"t:0": 3}, 5)
    assert not await wait_applied(Growing(), {"t:0": 10_000}, 0.05)
    assert await wait_applied(Growing(), {}, 0)
