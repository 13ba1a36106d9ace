"""How the worker's timestamped writes are grouped into unlogged batches (a fake session records requests)."""

from __future__ import annotations

from typing import Any

import pytest
from cassandra.query import BatchStatement

from infra.cassandra import Batching, execute_unordered


class _Done:
    def add_callbacks(self, ok: Any, fail: Any) -> None:
        ok([])


class _Session:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def execute_async(self, statement: Any, params: Any, execution_profile: object = None) -> _Done:
        self.sent.append((statement, params))
        return _Done()


def _sizes(sent: list[Any]) -> list[int]:
    return [len(s._statements_and_parameters) if isinstance(s, BatchStatement) else 1 for s, _ in sent]


@pytest.mark.asyncio
async def test_batches_hold_at_most_the_statements_set() -> None:
    session = _Session()
    await execute_unordered(session, [("INSERT %s", (i,)) for i in range(10)], Batching(statements=4, max_bytes=10**6))
    assert _sizes(session.sent) == [4, 4, 2]


@pytest.mark.asyncio
async def test_a_batch_is_cut_before_its_values_pass_the_byte_limit() -> None:
    session = _Session()
    rows = [("INSERT %s %s", ("x" * 400, i)) for i in range(5)]  # about 416 bytes each
    await execute_unordered(session, rows, Batching(statements=64, max_bytes=1000))
    assert _sizes(session.sent) == [2, 2, 1]
    assert session.sent[-1] == rows[-1]  # a lone statement goes as itself, not as a batch of one


@pytest.mark.asyncio
async def test_a_statement_larger_than_the_limit_still_goes_alone() -> None:
    session = _Session()
    rows = [("INSERT 1", ("y" * 5000,)), ("INSERT 1", ("z",))]
    await execute_unordered(session, rows, Batching(statements=64, max_bytes=1000))
    assert session.sent == rows


@pytest.mark.asyncio
async def test_a_collection_value_counts_by_its_elements() -> None:
    # A tweet's postings are one statement whose terms are a list: their length counts toward the limit.
    session = _Session()
    rows = [("UPDATE %s", (["t" * 100] * 4,)) for _ in range(3)]  # about 400 bytes each
    await execute_unordered(session, rows, Batching(statements=64, max_bytes=1000))
    assert _sizes(session.sent) == [2, 1]
