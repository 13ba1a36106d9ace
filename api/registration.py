"""Registering a user: the one command behind chirp's POST /users and Mastodon's POST /api/v1/accounts.

The handle is claimed (a Cassandra lightweight transaction: one winner), and the e-mail address when one is
given, then the `UserRegistered` event appended. If Kafka certainly did not take the event the claims are
released; if it may have (a time-out after sending), they stay with that user id, and a later registration
of the handle finishes that one (`unfinished`) rather than making a second account for the handle. The
password is kept only as an argon2id hash (infra/passwords.py), beside the e-mail, never in the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.aftermath import after_append
from api.idempotency import Identities
from api.wiring import Wiring
from infra.accounts import new_token
from infra.eventlog import EventLogUnavailable
from infra.passwords import hash_password
from schemas.events import UserRegistered

log = logging.getLogger("chirp.api")


class Taken(Exception):
    """The handle or the e-mail address belongs to another account."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is already taken")
        self.field = field


@dataclass(frozen=True)
class Credentials:
    password: str
    email: str | None = None
    locale: str | None = None


@dataclass(frozen=True)
class Registered:
    user_id: int
    token: str
    event: UserRegistered


async def register(
    w: Wiring, ids: Identities, handle: str, display_name: str, credentials: Credentials | None = None,
    scopes: frozenset[str] | None = None, client_id: str | None = None,
) -> Registered:  # fmt: skip
    """Registers the user and hands out a token (with `scopes` and `client_id` when issued through OAuth)."""
    password_hash = await hash_password(credentials.password) if credentials else None
    email = credentials.email if credentials else None
    user_id = ids.next_id()
    resumed = False
    if not await w.accounts.claim_handle(handle, user_id):
        unfinished = await unfinished_registration(w, handle)
        if unfinished is None:
            raise Taken("handle")
        user_id, resumed = unfinished, True
    if email is not None and not await w.accounts.claim_email(email, user_id):
        if not resumed:
            await w.accounts.release_handle(handle, user_id)
        raise Taken("email")
    token = new_token()
    event = UserRegistered(ids.meta(user_id), user_id, handle, display_name)
    try:
        if credentials is not None and password_hash is not None:
            await w.accounts.save_credentials(user_id, email, password_hash, credentials.locale)
        await w.accounts.save_token(token, user_id, scopes, client_id)
        await w.events.append(event)
    except BaseException as exc:
        if not (isinstance(exc, EventLogUnavailable) and exc.maybe_written):
            # Kafka did not take the registration: the handle and the address are free again.
            await after_append("release of the handle", w.accounts.release_handle(handle, user_id), None)
            if email is not None:
                await after_append("release of the e-mail", w.accounts.release_email(email, user_id), None)
        await after_append("removal of the unused token", w.accounts.delete_token(token), None)
        raise
    await after_append("account record", w.accounts.record_account(user_id, handle), None)
    return Registered(user_id, token, event)


async def unfinished_registration(w: Wiring, handle: str) -> int | None:
    """The user id of a registration of `handle` that was never answered with success (its event may or may
    not be in the log) and is older than any request still running; None when the handle is really taken."""
    claim = await w.accounts.handle_claim(handle)
    if claim is None:
        return None
    user_id, claimed_at = claim
    settled = datetime.now(UTC) - claimed_at > timedelta(seconds=2 * w.settings.kafka_send_timeout_ms / 1000 + 5)
    if not settled or await w.accounts.user_exists(user_id):
        return None
    if w.queries is not None and await w.queries.users([user_id]):
        return None
    log.warning("finishing an unanswered registration of user %d", user_id)
    return user_id
