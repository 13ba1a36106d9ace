"""Accounts: the command-side state the API must check before appending an event.

Handles are claimed with a Cassandra lightweight transaction so that two concurrent
registrations cannot both win; tokens are kept only as SHA-256 digests.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import redis.asyncio as aioredis
from cassandra import ConsistencyLevel, WriteTimeout
from cassandra.cluster import Session
from cassandra.protocol import ErrorMessage
from cassandra.query import PreparedStatement
from redis.asyncio.cluster import RedisCluster

from infra.cassandra import execute
from infra.faults import cas_result_unknown

TOKEN_PREFIX = "chirp_"
CLAIM_ATTEMPTS = 3  # a handle claim that timed out in Paxos contention with nobody holding the handle after it
log = logging.getLogger("chirp.accounts")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def handle_key(handle: str) -> str:
    return handle.lower()


def email_key(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token stands for: its user (None for an application's own token, OAuth client_credentials), its
    scopes (None for chirp's own tokens, from POST /users and /tokens: every scope) and its OAuth application."""

    user_id: int | None
    scopes: frozenset[str] | None = None
    client_id: str | None = None

    def allows(self, scope: str) -> bool:
        """Whether the token holds `scope` itself (chirp's own tokens hold every one): chirp's routes ask for
        `read` or `write`."""
        return self.scopes is None or scope in self.scopes


class Accounts(Protocol):
    async def claim_handle(self, handle: str, user_id: int) -> bool: ...
    async def release_handle(self, handle: str, user_id: int) -> None: ...
    async def handle_claim(self, handle: str) -> tuple[int, datetime] | None:
        """Who claimed the handle, and when."""
        ...

    async def save_token(
        self, token: str, user_id: int | None, scopes: frozenset[str] | None = None, client_id: str | None = None
    ) -> None: ...
    async def delete_token(self, token: str) -> None: ...
    async def user_for_token(self, token: str) -> int | None:
        """The token's user (None: unknown, expired, revoked, or an application's token)."""
        ...

    async def token_grant(self, token: str) -> Grant | None: ...
    async def claim_email(self, email: str, user_id: int) -> bool: ...
    async def release_email(self, email: str, user_id: int) -> None: ...
    async def save_credentials(
        self, user_id: int, email: str | None, password_hash: str, locale: str | None
    ) -> None: ...

    async def login(self, login: str) -> tuple[int, str] | None:
        """(user id, password hash) of the account whose e-mail (when `login` has an @) or handle this is."""
        ...

    async def email_of(self, user_id: int) -> str | None: ...
    async def handle_of(self, user_id: int) -> str | None:
        """The handle an account registered with (the command side's record, before any projection has it)."""
        ...

    async def record_account(self, user_id: int, handle: str) -> None: ...
    async def user_exists(self, user_id: int) -> bool: ...
    async def users_by_handle(self, handles: Sequence[str]) -> dict[str, int]:
        """Lower-cased handle -> user id, for the handles claimed (unknown ones are left out)."""
        ...


@dataclass
class _Cached:
    grant: Grant
    expires_at: float  # epoch seconds
    loaded: float  # monotonic time it was read from Cassandra


class TokenRevocations:
    """Revoked token digests, numbered in Redis so that every API process learns of them in one poll:
    `{prefix}revoked` holds the newest digests scored by `{prefix}revoked:seq`. The key layout lives here. Each
    command touches one key (the pipeline too), so a Redis Cluster's general client serves it as one Redis."""

    KEEP = 10_000

    def __init__(self, client: aioredis.Redis | RedisCluster, prefix: str) -> None:
        self.r = client
        self.set_key = f"{prefix}revoked"
        self.seq_key = f"{prefix}revoked:seq"
        self.seen: int | None = None

    async def revoke(self, digest: bytes) -> None:
        seq = await self.r.incr(self.seq_key)
        async with self.r.pipeline(transaction=False) as p:
            p.zadd(self.set_key, {digest.hex(): seq})
            p.zremrangebyrank(self.set_key, 0, -self.KEEP - 1)
            await p.execute()

    async def since_last(self) -> list[bytes] | None:
        """Digests revoked since the previous call; None when some may have been missed (drop every cache)."""
        if self.seen is None:
            self.seen = int(await self.r.get(self.seq_key) or 0)
            return []
        rows: list[Any] = await self.r.zrangebyscore(self.set_key, f"({self.seen}", "+inf", withscores=True)
        if not rows:
            return []
        first, last = int(rows[0][1]), int(rows[-1][1])
        missed = first > self.seen + 1
        self.seen = last
        return None if missed else [bytes.fromhex(member.decode()) for member, _ in rows]


class CassandraAccounts:
    """Handles, tokens and accounts in Cassandra. Token lookups are cached per process; a cached token is
    read again after `cache_s`, refused once expired, and dropped within a poll of its revocation by any
    process (`watch_revocations`). A token in use is extended (rolling expiry)."""

    def __init__(self, session: Session, cache_size: int = 100_000, revocations: TokenRevocations | None = None,
                 token_ttl_s: int = 30 * 86_400, cache_s: float = 60.0) -> None:  # fmt: skip
        self.session = session
        self._claim = session.prepare(
            "INSERT INTO handles (handle_key, user_id, claimed_at) VALUES (?, ?, ?) IF NOT EXISTS"
        )
        self._release = session.prepare("DELETE FROM handles WHERE handle_key = ? IF user_id = ?")
        self._save = session.prepare(
            "INSERT INTO auth_tokens (token_sha256, user_id, created_at, expires_at, client_id, scopes) "
            "VALUES (?, ?, ?, ?, ?, ?) USING TTL ?"
        )
        self._delete = session.prepare("DELETE FROM auth_tokens WHERE token_sha256 = ?")
        self._lookup = session.prepare(
            "SELECT user_id, created_at, expires_at, client_id, scopes FROM auth_tokens WHERE token_sha256 = ?"
        )
        self._claim_email = session.prepare(
            "INSERT INTO emails (email_key, user_id, claimed_at) VALUES (?, ?, ?) IF NOT EXISTS"
        )
        self._release_email = session.prepare("DELETE FROM emails WHERE email_key = ? IF user_id = ?")
        self._email = session.prepare("SELECT user_id FROM emails WHERE email_key = ?")
        self._save_credentials = session.prepare(
            "INSERT INTO credentials (user_id, email, password_hash, locale, created_at) VALUES (?, ?, ?, ?, ?)"
        )
        self._credentials = session.prepare("SELECT email, password_hash FROM credentials WHERE user_id = ?")
        self._account = session.prepare("INSERT INTO accounts (user_id, handle, created_at) VALUES (?, ?, ?)")
        self._exists = session.prepare("SELECT user_id FROM accounts WHERE user_id = ?")
        self._handle_of = session.prepare("SELECT handle FROM accounts WHERE user_id = ?")
        self._handle = session.prepare("SELECT user_id FROM handles WHERE handle_key = ?")
        self._claim_of = session.prepare("SELECT user_id, claimed_at FROM handles WHERE handle_key = ?")
        self._claim_serial = session.prepare("SELECT user_id FROM handles WHERE handle_key = ?")
        self._claim_serial.consistency_level = ConsistencyLevel.LOCAL_SERIAL  # sees (and ends) claims in flight
        self._email_serial = session.prepare("SELECT user_id FROM emails WHERE email_key = ?")
        self._email_serial.consistency_level = ConsistencyLevel.LOCAL_SERIAL
        self._cache: OrderedDict[bytes, _Cached] = OrderedDict()
        self._cache_size = cache_size
        self.revocations = revocations
        self.token_ttl_s = token_ttl_s
        self.cache_s = cache_s

    async def claim_handle(self, handle: str, user_id: int) -> bool:
        """The handle for `user_id` unless another holds it (a lightweight transaction)."""
        return await self._claimed(self._claim, self._claim_serial, handle_key(handle), user_id)

    async def _claimed(self, claim: PreparedStatement, serial: PreparedStatement, key: str, user_id: int) -> bool:
        """Claims `key` for `user_id` unless another holds it. Concurrent claims of one key contend in Paxos; one
        whose result is unknown (a WriteTimeout, or protocol v5's CAS_WRITE_UNKNOWN: the proposal reached some
        replicas, not a quorum) may still have been applied, so a serial read settles who holds
        it, and the claim is tried again only if nobody does."""
        for attempt in range(CLAIM_ATTEMPTS):
            try:
                rows = await execute(self.session, claim, (key, user_id, datetime.now(UTC)))
            except (WriteTimeout, ErrorMessage) as exc:
                if not cas_result_unknown(exc):
                    raise
                rows = await execute(self.session, serial, (key,))
                if rows and rows[0].user_id is not None:
                    return bool(rows[0].user_id == user_id)
                if attempt == CLAIM_ATTEMPTS - 1:
                    raise
                continue
            return bool(rows[0].applied) or rows[0].user_id == user_id  # a retry of the same registration
        raise AssertionError("unreachable")

    async def release_handle(self, handle: str, user_id: int) -> None:
        await execute(self.session, self._release, (handle_key(handle), user_id))

    async def handle_claim(self, handle: str) -> tuple[int, datetime] | None:
        rows = await execute(self.session, self._claim_of, (handle_key(handle),))
        if not rows or rows[0].user_id is None:
            return None
        claimed_at: datetime = rows[0].claimed_at.replace(tzinfo=UTC)
        return rows[0].user_id, claimed_at

    async def save_token(
        self, token: str, user_id: int | None, scopes: frozenset[str] | None = None, client_id: str | None = None
    ) -> None:
        await self._write_token(token_digest(token), Grant(user_id, scopes, client_id), datetime.now(UTC))

    async def _write_token(self, digest: bytes, grant: Grant, created_at: datetime) -> datetime:
        expires_at = datetime.now(UTC) + timedelta(seconds=self.token_ttl_s)
        scopes = None if grant.scopes is None else " ".join(sorted(grant.scopes))
        await execute(self.session, self._save, (digest, grant.user_id, created_at, expires_at, grant.client_id,
                                                 scopes, self.token_ttl_s))  # fmt: skip
        return expires_at

    async def delete_token(self, token: str) -> None:
        """Revokes the token: gone from Cassandra, and announced so that every process drops its copy."""
        digest = token_digest(token)
        self._cache.pop(digest, None)
        await execute(self.session, self._delete, (digest,))
        if self.revocations is not None:
            await self.revocations.revoke(digest)

    async def user_for_token(self, token: str) -> int | None:
        grant = await self.token_grant(token)
        return None if grant is None else grant.user_id

    async def token_grant(self, token: str) -> Grant | None:
        digest = token_digest(token)
        cached = self._cache.get(digest)
        if cached is not None and time.monotonic() - cached.loaded < self.cache_s:
            if time.time() < cached.expires_at:
                self._cache.move_to_end(digest)
                return cached.grant
            self._cache.pop(digest, None)
            return None
        rows = await execute(self.session, self._lookup, (digest,))
        if not rows:
            self._cache.pop(digest, None)
            return None
        row = rows[0]
        scopes = None if row.scopes is None else frozenset(row.scopes.split())
        grant = Grant(row.user_id, scopes, row.client_id)
        expires = await self._expiry(digest, grant, row.created_at, row.expires_at)
        if expires is None:
            return None
        self._cache[digest] = _Cached(grant, expires.timestamp(), time.monotonic())
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return grant

    async def _expiry(
        self, digest: bytes, grant: Grant, created: datetime, expires: datetime | None
    ) -> datetime | None:
        """When the token expires (None: it has), extended when less than half its life is left."""
        created = created.replace(tzinfo=UTC)
        expires = expires.replace(tzinfo=UTC) if expires else created + timedelta(seconds=self.token_ttl_s)
        now = datetime.now(UTC)
        if expires <= now:
            return None
        if (expires - now).total_seconds() < self.token_ttl_s / 2:
            expires = await self._write_token(digest, grant, created)
        return expires

    async def watch_revocations(self, poll_s: float) -> None:
        """Runs for the life of the process: drops revoked tokens from this process's cache."""
        if self.revocations is None:
            return
        while True:
            try:
                revoked = await self.revocations.since_last()
                for digest in revoked if revoked is not None else list(self._cache):
                    self._cache.pop(digest, None)
            except Exception as exc:  # Redis away: forget every cached token, so Cassandra says
                log.warning("cannot poll token revocations: %s", type(exc).__name__)
                self.revocations.seen = None
                self._cache.clear()
            await asyncio.sleep(poll_s)

    async def record_account(self, user_id: int, handle: str) -> None:
        await execute(self.session, self._account, (user_id, handle, datetime.now(UTC)))

    async def user_exists(self, user_id: int) -> bool:
        return bool(await execute(self.session, self._exists, (user_id,)))

    async def users_by_handle(self, handles: Sequence[str]) -> dict[str, int]:
        keys = sorted({handle_key(h) for h in handles})
        rows = await asyncio.gather(*(execute(self.session, self._handle, (k,)) for k in keys))
        return {k: r[0].user_id for k, r in zip(keys, rows, strict=True) if r and r[0].user_id is not None}

    async def claim_email(self, email: str, user_id: int) -> bool:
        return await self._claimed(self._claim_email, self._email_serial, email_key(email), user_id)

    async def release_email(self, email: str, user_id: int) -> None:
        await execute(self.session, self._release_email, (email_key(email), user_id))

    async def save_credentials(self, user_id: int, email: str | None, password_hash: str, locale: str | None) -> None:
        await execute(self.session, self._save_credentials, (user_id, email, password_hash, locale, datetime.now(UTC)))

    async def login(self, login: str) -> tuple[int, str] | None:
        login = login.strip()
        if login.startswith("@") and login.count("@") == 1:
            login = login[1:]  # @handle
        if "@" in login:
            rows = await execute(self.session, self._email, (email_key(login),))
        else:
            rows = await execute(self.session, self._handle, (handle_key(login),))
        if not rows or rows[0].user_id is None:
            return None
        user_id: int = rows[0].user_id
        found = await execute(self.session, self._credentials, (user_id,))
        if not found or not found[0].password_hash:
            return None
        return user_id, found[0].password_hash

    async def email_of(self, user_id: int) -> str | None:
        rows = await execute(self.session, self._credentials, (user_id,))
        return rows[0].email if rows else None

    async def handle_of(self, user_id: int) -> str | None:
        rows = await execute(self.session, self._handle_of, (user_id,))
        return rows[0].handle if rows else None
