"""Token lifecycle against the real Cassandra and Redis: another token, revocation seen by every process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.settings import Settings
from tests.integration.support import register


@pytest.fixture(scope="module")
def second_api(settings: Settings) -> Iterator[TestClient]:
    """Another API instance on the same services: another process, as far as caches go."""
    with TestClient(create_app(settings)) as client:
        yield client


def _status(api: TestClient, auth: dict[str, str]) -> int:
    return int(api.post("/tokens", headers=auth).status_code)


def test_a_revoked_token_is_refused_by_every_process_within_a_second(
    api: TestClient, second_api: TestClient, uniq: str
) -> None:
    _, auth = register(api, f"tok{uniq}")
    assert _status(second_api, auth) == 201  # now cached by the second process too
    assert api.delete("/tokens/current", headers=auth).status_code == 204
    assert _status(api, auth) == 401
    revoked_at = time.monotonic()
    while _status(second_api, auth) != 401:
        assert time.monotonic() - revoked_at < 1.0, "the other process still accepts the revoked token"
        time.sleep(0.02)


def test_post_tokens_issues_another_that_works_and_survives_revoking_the_first(api: TestClient, uniq: str) -> None:
    user, auth = register(api, f"tok2{uniq}")
    r = api.post("/tokens", headers=auth)
    assert r.status_code == 201
    body = r.json()
    assert body["user_id"] == user and body["token"].startswith("chirp_") and body["expires_at"]
    other = {"Authorization": f"Bearer {body['token']}"}
    assert api.delete("/tokens/current", headers=auth).status_code == 204
    posted = api.post("/tweets", json={"user_id": user, "content": "with my second token"}, headers=other)
    assert posted.status_code == 201
    assert api.delete("/tokens/current", headers=other).status_code == 204
    assert api.post("/tweets", json={"user_id": user, "content": "no"}, headers=other).status_code == 401


def test_an_expired_token_is_refused(settings: Settings, uniq: str) -> None:
    import asyncio

    from infra import cassandra
    from infra.accounts import CassandraAccounts, token_digest

    async def scenario() -> tuple[int | None, int | None]:
        cluster, session = await asyncio.to_thread(cassandra.connect, settings, settings.keyspace)
        try:
            short = CassandraAccounts(session, token_ttl_s=60, cache_s=0.001)
            await short.save_token(f"tok-{uniq}", 42)
            fresh = await short.user_for_token(f"tok-{uniq}")
            later = CassandraAccounts(session, token_ttl_s=60, cache_s=0.001)
            await asyncio.to_thread(
                session.execute,
                "UPDATE auth_tokens SET expires_at = toTimestamp(now()) - 1s WHERE token_sha256 = %s",
                (token_digest(f"tok-{uniq}"),),
            )
            return fresh, await later.user_for_token(f"tok-{uniq}")
        finally:
            await asyncio.to_thread(cluster.shutdown)

    fresh, expired = asyncio.run(scenario())
    assert fresh == 42 and expired is None
