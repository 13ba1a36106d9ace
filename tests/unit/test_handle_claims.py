"""A handle (or e-mail) claim whose lightweight transaction ends with its result unknown in Paxos contention (a
WriteTimeout of type CAS, or protocol v5's CAS_WRITE_UNKNOWN error, seen on three Cassandra nodes) is settled by
a serial read: the claimant learns it holds the key, or that another does, or (nobody does) claims it again."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from cassandra import ConsistencyLevel, WriteTimeout
from cassandra.protocol import ErrorMessage

from infra.accounts import CassandraAccounts

Handler = Callable[[Any], Any]


class Future:
    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome

    def add_callbacks(self, ok: Callable[[Any], None], fail: Callable[[BaseException], None]) -> None:
        if isinstance(self.outcome, BaseException):
            fail(self.outcome)
        else:
            ok(self.outcome)


class Session:
    """Answers the claim (INSERT ... IF NOT EXISTS) and the serial read from scripted outcomes, in order."""

    def __init__(self, claims: list[Any], serial: list[Any]) -> None:
        self.claims, self.serial = claims, serial
        self.serial_levels: list[Any] = []

    def prepare(self, query: str) -> Any:
        return SimpleNamespace(query_string=query, consistency_level=None)

    def execute_async(self, statement: Any, params: Any, execution_profile: Any = None) -> Future:
        if "IF NOT EXISTS" in statement.query_string and statement.query_string.startswith("INSERT INTO"):
            return Future(self.claims.pop(0))
        if statement.consistency_level == ConsistencyLevel.LOCAL_SERIAL:
            self.serial_levels.append(statement.consistency_level)
            return Future(self.serial.pop(0))
        raise AssertionError(f"unexpected statement {statement.query_string}")


def row(**fields: Any) -> SimpleNamespace:
    return SimpleNamespace(**fields)


TIMEOUT = WriteTimeout("CAS operation timed out", write_type=5)
UNKNOWN = ErrorMessage(0x1700, "CAS operation result is unknown - proposal accepted by 1 but not a quorum.", {})


async def claim(session: Session) -> bool:
    return await CassandraAccounts(session, revocations=None).claim_handle("Ada", 7)


@pytest.mark.parametrize(
    ("claims", "serial", "won"),
    [
        ([[row(applied=True, user_id=None)]], [], True),  # no contention
        ([[row(applied=False, user_id=8)]], [], False),  # another holds it
        ([TIMEOUT], [[row(user_id=7)]], True),  # timed out, yet applied
        ([TIMEOUT], [[row(user_id=8)]], False),  # timed out; another won
        ([TIMEOUT, [row(applied=True, user_id=None)]], [[row(user_id=None)]], True),  # nobody: claimed again
        ([UNKNOWN], [[row(user_id=7)]], True),  # result unknown, yet applied
        ([UNKNOWN], [[row(user_id=8)]], False),  # result unknown; another won
        ([UNKNOWN, [row(applied=True, user_id=None)]], [[row(user_id=None)]], True),
    ],
)
async def test_a_contended_claim_is_settled_by_a_serial_read(claims: list[Any], serial: list[Any], won: bool) -> None:
    session = Session(claims, serial)
    assert await claim(session) is won
    assert session.claims == [] and session.serial == []


async def test_claims_that_keep_timing_out_with_nobody_holding_the_handle_give_up() -> None:
    session = Session([TIMEOUT] * 3, [[row(user_id=None)]] * 3)
    with pytest.raises(WriteTimeout):
        await claim(session)


async def test_an_email_claim_is_settled_the_same_way() -> None:
    session = Session([UNKNOWN], [[row(user_id=8)]])
    assert await CassandraAccounts(session, revocations=None).claim_email("ada@example.org", 7) is False
    assert session.serial_levels == [ConsistencyLevel.LOCAL_SERIAL]


async def test_other_server_errors_are_not_taken_for_an_unknown_result() -> None:
    session = Session([ErrorMessage(0x2200, "Invalid", {})], [])
    with pytest.raises(ErrorMessage):
        await claim(session)
    assert session.serial == []
