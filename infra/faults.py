"""Which failures are the infrastructure's (wait and retry: the event is fine) and which are the event's.

A store that is down, failing over, full, busy, loading or resharding answers with an error that says
nothing about the event in hand; projecting it again later succeeds. Dead-lettering it would skip a
healthy event for good, so these pause the work and retry. Only what no retry can fix (an event that
cannot be decoded, or breaks a rule, or a bug) may be parked in the dead-letter topic.
"""

from __future__ import annotations

import re

import redis.exceptions as redis_errors
from cassandra import CoordinationFailure, OperationTimedOut, Unavailable, WriteTimeout
from cassandra import Timeout as CassandraTimeout
from cassandra.cluster import NoHostAvailable
from cassandra.protocol import (
    ErrorMessage,
    IsBootstrappingErrorMessage,
    OverloadedErrorMessage,
    ServerError,
    TruncateError,
)

TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    # Redis: connection, time-out, and the answers of a server that cannot serve now
    redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.BusyLoadingError,
    redis_errors.ReadOnlyError, redis_errors.OutOfMemoryError, redis_errors.ClusterDownError,
    redis_errors.ClusterError, redis_errors.TryAgainError, redis_errors.MovedError, redis_errors.AskError,
    redis_errors.MasterDownError, redis_errors.NoScriptError, redis_errors.SlotNotCoveredError,
    redis_errors.MaxConnectionsError,
    # Cassandra: too few replicas, time-outs, failed writes/reads on a replica, overload, a node starting
    Unavailable, CassandraTimeout, CoordinationFailure, OperationTimedOut, NoHostAvailable,
    OverloadedErrorMessage, IsBootstrappingErrorMessage, ServerError, TruncateError,
    TimeoutError, OSError,
)  # fmt: skip

# A Redis error inside a pipeline or a script arrives as a plain ResponseError whose text carries the code.
_REDIS_CODES = re.compile(
    r"\b(OOM|READONLY|BUSY|LOADING|MOVED|ASK|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|NOREPLICAS|NOSCRIPT|UNBLOCKED)\b"
)


# Protocol v5's CAS_WRITE_UNKNOWN: a lightweight transaction's proposal reached some replicas but not a quorum,
# so whether it was applied is unknown. The driver has no class for it: a plain ErrorMessage with this code.
CAS_WRITE_UNKNOWN = 0x1700


def cas_result_unknown(exc: BaseException) -> bool:
    """What a lightweight transaction ends with when it may or may not have been applied (Paxos contention, or a
    replica lost): a time-out (of its Paxos rounds or of its commit) or CAS_WRITE_UNKNOWN. A serial read tells
    which."""
    if isinstance(exc, WriteTimeout):
        return True
    return isinstance(exc, ErrorMessage) and getattr(exc, "code", None) == CAS_WRITE_UNKNOWN


def is_transient(exc: BaseException) -> bool:
    """Whether waiting and trying again can make the operation succeed."""
    if isinstance(exc, TRANSIENT_TYPES) or cas_result_unknown(exc):
        return True
    if isinstance(exc, redis_errors.ResponseError):
        return bool(_REDIS_CODES.search(str(exc)))
    if isinstance(exc, BaseExceptionGroup):
        return all(is_transient(e) for e in exc.exceptions)
    return False
