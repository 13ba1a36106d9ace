"""OAuth 2 state of the Mastodon-compatible API: client applications and authorization codes, in Cassandra so
that every API process shares them. Secrets and codes are kept only as SHA-256 digests; a code lives
CHIRP_OAUTH_CODE_TTL_S (a Cassandra TTL) and is redeemed at most once (a lightweight-transaction delete)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from cassandra.cluster import Session

from infra.cassandra import execute


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class App:
    app_id: int
    client_id: str
    name: str
    website: str | None
    redirect_uris: tuple[str, ...]
    scopes: frozenset[str]
    created_at: datetime
    secret_sha256: bytes = b""

    def secret_matches(self, secret: str | None) -> bool:
        return secret is not None and hmac.compare_digest(digest(secret), self.secret_sha256)


@dataclass(frozen=True, slots=True)
class Code:
    client_id: str
    user_id: int
    redirect_uri: str
    scopes: tuple[str, ...]  # as asked, in order
    code_challenge: str | None  # S256 (PKCE), or None


class OAuthStore(Protocol):
    async def create_app(self, app: App, secret: str) -> None: ...
    async def app(self, client_id: str) -> App | None: ...
    async def save_code(self, code: str, grant: Code, ttl_s: int) -> None: ...
    async def redeem_code(self, code: str) -> Code | None:
        """The code's grant, once: a second redemption (or an expired or unknown code) gets None."""
        ...


class CassandraOAuth:
    def __init__(self, session: Session) -> None:
        self.session = session
        p = session.prepare
        self._app = p("INSERT INTO oauth_apps (client_id, app_id, client_secret_sha256, name, website, redirect_uris, "
                      "scopes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")  # fmt: skip
        self._get_app = p("SELECT app_id, client_secret_sha256, name, website, redirect_uris, scopes, created_at "
                          "FROM oauth_apps WHERE client_id = ?")  # fmt: skip
        self._code = p("INSERT INTO oauth_codes (code_sha256, client_id, user_id, redirect_uri, scopes, "
                       "code_challenge, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?")  # fmt: skip
        self._get_code = p("SELECT client_id, user_id, redirect_uri, scopes, code_challenge FROM oauth_codes "
                           "WHERE code_sha256 = ?")  # fmt: skip
        self._use_code = p("DELETE FROM oauth_codes WHERE code_sha256 = ? IF EXISTS")

    async def create_app(self, app: App, secret: str) -> None:
        await execute(self.session, self._app, (app.client_id, app.app_id, digest(secret), app.name, app.website,
                                                list(app.redirect_uris), " ".join(sorted(app.scopes)),
                                                app.created_at))  # fmt: skip

    async def app(self, client_id: str) -> App | None:
        rows = await execute(self.session, self._get_app, (client_id,))
        if not rows:
            return None
        r = rows[0]
        return App(r.app_id, client_id, r.name, r.website, tuple(r.redirect_uris or ()), frozenset(r.scopes.split()),
                   r.created_at.replace(tzinfo=UTC), r.client_secret_sha256)  # fmt: skip

    async def save_code(self, code: str, grant: Code, ttl_s: int) -> None:
        await execute(self.session, self._code, (digest(code), grant.client_id, grant.user_id, grant.redirect_uri,
                                                 " ".join(grant.scopes), grant.code_challenge,
                                                 datetime.now(UTC), ttl_s))  # fmt: skip

    async def redeem_code(self, code: str) -> Code | None:
        key = digest(code)
        rows = await execute(self.session, self._get_code, (key,))
        if not rows:
            return None
        used = await execute(self.session, self._use_code, (key,))
        if not used or not used[0].applied:
            return None  # redeemed a moment ago by another request
        r = rows[0]
        return Code(r.client_id, r.user_id, r.redirect_uri, tuple(r.scopes.split()), r.code_challenge)
