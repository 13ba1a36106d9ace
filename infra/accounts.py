"""Accounts: the command-side state the API must check before appending an event.

Handles are claimed with a Cassandra lightweight transaction so that two concurrent
registrations cannot both win; tokens are kept only as SHA-256 digests.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from cassandra.cluster import Session

from infra.cassandra import execute

TOKEN_PREFIX = "chirp_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def handle_key(handle: str) -> str:
    return handle.lower()


class Accounts(Protocol):
    async def claim_handle(self, handle: str, user_id: int) -> bool: ...
    async def release_handle(self, handle: str, user_id: int) -> None: ...
    async def handle_claim(self, handle: str) -> tuple[int, datetime] | None:
        """Who claimed the handle, and when."""
        ...

    async def save_token(self, token: str, user_id: int) -> None: ...
    async def delete_token(self, token: str) -> None: ...
    async def user_for_token(self, token: str) -> int | None: ...
    async def record_account(self, user_id: int, handle: str) -> None: ...
    async def user_exists(self, user_id: int) -> bool: ...
    async def users_by_handle(self, handles: Sequence[str]) -> dict[str, int]:
        """Lower-cased handle -> user id, for the handles claimed (unknown ones are left out)."""
        ...


class CassandraAccounts:
    def __init__(self, session: Session, cache_size: int = 100_000) -> None:
        self.session = session
        self._claim = session.prepare(
            "INSERT INTO handles (handle_key, user_id, claimed_at) VALUES (?, ?, ?) IF NOT EXISTS"
        )
        self._release = session.prepare("DELETE FROM handles WHERE handle_key = ? IF user_id = ?")
        self._save = session.prepare("INSERT INTO auth_tokens (token_sha256, user_id, created_at) VALUES (?, ?, ?)")
        self._delete = session.prepare("DELETE FROM auth_tokens WHERE token_sha256 = ?")
        self._lookup = session.prepare("SELECT user_id FROM auth_tokens WHERE token_sha256 = ?")
        self._account = session.prepare("INSERT INTO accounts (user_id, handle, created_at) VALUES (?, ?, ?)")
        self._exists = session.prepare("SELECT user_id FROM accounts WHERE user_id = ?")
        self._handle = session.prepare("SELECT user_id FROM handles WHERE handle_key = ?")
        self._claim_of = session.prepare("SELECT user_id, claimed_at FROM handles WHERE handle_key = ?")
        self._cache: OrderedDict[bytes, int] = OrderedDict()
        self._cache_size = cache_size

    async def claim_handle(self, handle: str, user_id: int) -> bool:
        rows = await execute(self.session, self._claim, (handle_key(handle), user_id, datetime.now(UTC)))
        return bool(rows[0].applied)

    async def release_handle(self, handle: str, user_id: int) -> None:
        await execute(self.session, self._release, (handle_key(handle), user_id))

    async def handle_claim(self, handle: str) -> tuple[int, datetime] | None:
        rows = await execute(self.session, self._claim_of, (handle_key(handle),))
        if not rows or rows[0].user_id is None:
            return None
        claimed_at: datetime = rows[0].claimed_at.replace(tzinfo=UTC)
        return rows[0].user_id, claimed_at

    async def save_token(self, token: str, user_id: int) -> None:
        await execute(self.session, self._save, (token_digest(token), user_id, datetime.now(UTC)))

    async def delete_token(self, token: str) -> None:
        digest = token_digest(token)
        self._cache.pop(digest, None)
        await execute(self.session, self._delete, (digest,))

    async def user_for_token(self, token: str) -> int | None:
        digest = token_digest(token)
        cached = self._cache.get(digest)
        if cached is not None:
            self._cache.move_to_end(digest)
            return cached
        rows = await execute(self.session, self._lookup, (digest,))
        if not rows:
            return None
        user_id: int = rows[0].user_id
        self._cache[digest] = user_id
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return user_id

    async def record_account(self, user_id: int, handle: str) -> None:
        await execute(self.session, self._account, (user_id, handle, datetime.now(UTC)))

    async def user_exists(self, user_id: int) -> bool:
        return bool(await execute(self.session, self._exists, (user_id,)))

    async def users_by_handle(self, handles: Sequence[str]) -> dict[str, int]:
        keys = sorted({handle_key(h) for h in handles})
        rows = await asyncio.gather(*(execute(self.session, self._handle, (k,)) for k in keys))
        return {k: r[0].user_id for k, r in zip(keys, rows, strict=True) if r and r[0].user_id is not None}
