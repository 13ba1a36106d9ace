"""Infrastructure errors are retried; everything else is the event's (or a bug's) and may be parked."""

from __future__ import annotations

import pytest
import redis.exceptions as redis_errors
from cassandra import OperationTimedOut, Unavailable
from cassandra.cluster import NoHostAvailable
from cassandra.protocol import ErrorMessage

from infra.faults import is_transient


@pytest.mark.parametrize(
    "exc",
    [
        redis_errors.ResponseError("Command # 3 (EVALSHA 1a2b 0) of pipeline caused error: OOM command not allowed"),
        redis_errors.ResponseError("READONLY You can't write against a read only replica."),
        redis_errors.ResponseError("BUSY Redis is busy running a script."),
        redis_errors.ResponseError("LOADING Redis is loading the dataset in memory"),
        redis_errors.ResponseError("MOVED 3999 127.0.0.2:6381"),
        redis_errors.ResponseError("TRYAGAIN Multiple keys request during rehashing of slot"),
        redis_errors.ResponseError("CLUSTERDOWN The cluster is down"),
        redis_errors.ConnectionError("Connection refused"),
        redis_errors.ReadOnlyError("read only"),
        Unavailable("Cannot achieve consistency level QUORUM"),
        OperationTimedOut("timed out"),
        NoHostAvailable("no host", {}),
        ConnectionResetError(),
        TimeoutError(),
        ErrorMessage(0x1700, "CAS operation result is unknown - proposal accepted by 1 but not a quorum.", {}),
    ],
)
def test_infrastructure_errors_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        redis_errors.ResponseError("ERR Error running script (call to f_1a2b): attempt to compare nil with number"),
        redis_errors.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        ValueError("bad event"),
        KeyError("missing"),
        ErrorMessage(0x2200, "Invalid query", {}),
    ],
)
def test_errors_of_the_event_or_the_code_are_not(exc: BaseException) -> None:
    assert not is_transient(exc)
