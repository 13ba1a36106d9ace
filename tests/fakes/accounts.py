"""In-memory accounts (infra/accounts.py's contract), OAuth state (infra/oauth.py's) and read markers
(infra/markers.py's), for unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from infra.accounts import Grant, email_key, handle_key, token_digest
from infra.markers import Marker
from infra.oauth import App, Code, digest


class MemoryAccounts:
    """Same contract as CassandraAccounts."""

    def __init__(self) -> None:
        self.handles: dict[str, int] = {}
        self.claimed_at: dict[str, datetime] = {}
        self.tokens: dict[bytes, Grant] = {}
        self.users: set[int] = set()
        self.emails: dict[str, int] = {}
        self.credentials: dict[int, tuple[str | None, str]] = {}

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

    async def save_token(
        self, token: str, user_id: int | None, scopes: frozenset[str] | None = None, client_id: str | None = None
    ) -> None:
        self.tokens[token_digest(token)] = Grant(user_id, scopes, client_id)

    async def delete_token(self, token: str) -> None:
        self.tokens.pop(token_digest(token), None)

    async def token_grant(self, token: str) -> Grant | None:
        return self.tokens.get(token_digest(token))

    async def user_for_token(self, token: str) -> int | None:
        grant = self.tokens.get(token_digest(token))
        return None if grant is None else grant.user_id

    async def record_account(self, user_id: int, handle: str) -> None:
        self.users.add(user_id)

    async def user_exists(self, user_id: int) -> bool:
        return user_id in self.users

    async def users_by_handle(self, handles: Sequence[str]) -> dict[str, int]:
        return {handle_key(h): self.handles[handle_key(h)] for h in handles if handle_key(h) in self.handles}

    async def claim_email(self, email: str, user_id: int) -> bool:
        return self.emails.setdefault(email_key(email), user_id) == user_id

    async def release_email(self, email: str, user_id: int) -> None:
        if self.emails.get(email_key(email)) == user_id:
            del self.emails[email_key(email)]

    async def save_credentials(self, user_id: int, email: str | None, password_hash: str, locale: str | None) -> None:
        self.credentials[user_id] = (email, password_hash)

    async def login(self, login: str) -> tuple[int, str] | None:
        login = login.strip().removeprefix("@") if login.count("@") == 1 and login.startswith("@") else login.strip()
        found = self.emails.get(email_key(login)) if "@" in login else self.handles.get(handle_key(login))
        if found is None or found not in self.credentials:
            return None
        return found, self.credentials[found][1]

    async def handle_of(self, user_id: int) -> str | None:
        return next((h for h, u in self.handles.items() if u == user_id and u in self.users), None)

    async def email_of(self, user_id: int) -> str | None:
        return self.credentials.get(user_id, (None, ""))[0]


class MemoryOAuth:
    """Same contract as infra.oauth.CassandraOAuth (codes never expire here)."""

    def __init__(self) -> None:
        self.apps: dict[str, App] = {}
        self.codes: dict[bytes, Code] = {}

    async def create_app(self, app: App, secret: str) -> None:
        from dataclasses import replace

        self.apps[app.client_id] = replace(app, secret_sha256=digest(secret))

    async def app(self, client_id: str) -> App | None:
        return self.apps.get(client_id)

    async def save_code(self, code: str, grant: Code, ttl_s: int) -> None:
        self.codes[digest(code)] = grant

    async def redeem_code(self, code: str) -> Code | None:
        return self.codes.pop(digest(code), None)


class MemoryMarkers:
    """Same contract as infra.markers.CassandraMarkers."""

    def __init__(self) -> None:
        self.markers: dict[tuple[int, str], Marker] = {}

    async def get(self, user_id: int, timelines: Sequence[str]) -> dict[str, Marker]:
        return {t: self.markers[(user_id, t)] for t in timelines if (user_id, t) in self.markers}

    async def set(self, user_id: int, timeline: str, last_read_id: int) -> Marker:
        old = self.markers.get((user_id, timeline))
        new = Marker(timeline, last_read_id, (old.version if old else 0) + 1, datetime.now(UTC))
        self.markers[(user_id, timeline)] = new
        return new
