"""In-memory accounts (infra/accounts.py's contract), for unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from infra.accounts import handle_key, token_digest


class MemoryAccounts:
    """Same contract as CassandraAccounts."""

    def __init__(self) -> None:
        self.handles: dict[str, int] = {}
        self.claimed_at: dict[str, datetime] = {}
        self.tokens: dict[bytes, int] = {}
        self.users: set[int] = set()

    async def claim_handle(self, handle: str, user_id: int) -> bool:
        self.claimed_at.setdefault(handle_key(handle), datetime.now(UTC))
        return self.handles.setdefault(handle_key(handle), user_id) == user_id

    async def handle_claim(self, handle: str) -> tuple[int, datetime] | None:
        k = handle_key(handle)
        return (self.handles[k], self.claimed_at[k]) if k in self.handles else None

    async def release_handle(self, handle: str, user_id: int) -> None:
        if self.handles.get(handle_key(handle)) == user_id:
            del self.handles[handle_key(handle)]
            del self.claimed_at[handle_key(handle)]

    async def save_token(self, token: str, user_id: int) -> None:
        self.tokens[token_digest(token)] = user_id

    async def delete_token(self, token: str) -> None:
        self.tokens.pop(token_digest(token), None)

    async def user_for_token(self, token: str) -> int | None:
        return self.tokens.get(token_digest(token))

    async def record_account(self, user_id: int, handle: str) -> None:
        self.users.add(user_id)

    async def user_exists(self, user_id: int) -> bool:
        return user_id in self.users

    async def users_by_handle(self, handles: Sequence[str]) -> dict[str, int]:
        return {handle_key(h): self.handles[handle_key(h)] for h in handles if handle_key(h) in self.handles}
