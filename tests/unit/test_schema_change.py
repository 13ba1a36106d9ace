"""A migration's schema statement that times out is tried again; a late "already exists" means it applied."""

from __future__ import annotations

from typing import Any, cast

import pytest
from cassandra import AlreadyExists, InvalidRequest, OperationTimedOut
from cassandra.cluster import Session

from infra.migrate import schema_change
from infra.settings import Settings


class FakeControl:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def wait_for_schema_agreement(self, wait_time: float) -> bool:
        self.waits.append(wait_time)
        return True


class FakeSession:
    """Answers each execute with the next outcome: an exception to raise, or None for success."""

    def __init__(self, outcomes: list[BaseException | None]) -> None:
        self.outcomes = outcomes
        self.calls: list[tuple[str, float]] = []
        self.cluster = type("C", (), {"control_connection": FakeControl()})()

    def execute(self, stmt: str, timeout: float) -> Any:
        self.calls.append((stmt, timeout))
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return []


SETTINGS = Settings(cassandra_schema_attempts=3, cassandra_schema_timeout_s=7.0)


def run(outcomes: list[BaseException | None]) -> FakeSession:
    session = FakeSession(outcomes)
    schema_change(cast(Session, session), SETTINGS, "CREATE TABLE t (k int PRIMARY KEY)")
    return session


def test_a_timed_out_statement_is_tried_again_then_the_nodes_must_agree() -> None:
    session = run([OperationTimedOut("slow"), None])
    assert [t for _, t in session.calls] == [7.0, 7.0]
    assert session.cluster.control_connection.waits == [7.0]


def test_already_exists_after_a_timed_out_try_means_it_applied() -> None:
    session = run([OperationTimedOut("slow"), AlreadyExists(keyspace="ks", table="t")])
    assert len(session.calls) == 2
    session = run([OperationTimedOut("slow"), InvalidRequest("Column with name 'x' already exists")])
    assert len(session.calls) == 2


def test_already_exists_on_the_first_try_is_an_error() -> None:
    with pytest.raises(AlreadyExists):
        run([AlreadyExists(keyspace="ks", table="t")])


def test_other_refusals_are_not_retried() -> None:
    with pytest.raises(InvalidRequest):
        run([OperationTimedOut("slow"), InvalidRequest("Unknown type foo")])


def test_gives_up_after_the_configured_tries() -> None:
    with pytest.raises(OperationTimedOut):
        run([OperationTimedOut("slow")] * 3)
