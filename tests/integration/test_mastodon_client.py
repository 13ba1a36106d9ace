"""A real Mastodon client library, Mastodon.py 2.3.3, against a real API process: it registers an application,
registers accounts through the API (an application token, then POST /api/v1/accounts), logs in with a
password (by e-mail and by username), reads its own account, follows and reads relationships, revokes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from mastodon import Mastodon, MastodonAPIError

from infra.settings import Settings
from tests.integration.support import WorkerProcess, wait_idle

pytestmark = pytest.mark.integration

SCOPES = ["read", "write", "follow", "push"]


def _client(base_url: str, client_id: str, secret: str, token: str | None = None) -> Any:
    return Mastodon(
        client_id=client_id, client_secret=secret, access_token=token, api_base_url=base_url, request_timeout=30
    )


def test_mastodon_py_registers_logs_in_and_follows(
    base_url: str, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    client_id, secret = Mastodon.create_app("chirp test client", scopes=SCOPES, api_base_url=base_url)
    assert client_id and secret

    ann = _client(base_url, client_id, secret)
    token = ann.create_account(f"ann{uniq}", "a long password", f"ann{uniq}@mail.example", agreement=True)
    assert token
    me = ann.account_verify_credentials()
    assert me.username == f"ann{uniq}" and me.acct == f"ann{uniq}" and me.source is not None

    bob = _client(base_url, client_id, secret)
    bob.create_account(f"bob{uniq}", "another password", f"bob{uniq}@mail.example", agreement=True)
    bob_id = bob.account_verify_credentials().id

    # log in again with the password grant, by e-mail (as Mastodon.py documents it) and by username
    again = _client(base_url, client_id, secret)
    assert again.log_in(f"ann{uniq}@mail.example", "a long password", scopes=SCOPES, allow_http=True)
    assert again.account_verify_credentials().id == me.id
    by_name = _client(base_url, client_id, secret)
    by_name.log_in(f"ann{uniq}", "a long password", scopes=["read"], allow_http=True)
    with pytest.raises(MastodonAPIError):  # a read-only token may not follow (403)
        by_name.account_follow(bob_id)
    with pytest.raises(Exception, match="Invalid user name, password"):
        _client(base_url, client_id, secret).log_in(f"ann{uniq}", "wrong", scopes=SCOPES, allow_http=True)

    rel = again.account_follow(bob_id)
    assert rel.id == bob_id and rel.following is True
    assert again.account_lookup(f"bob{uniq}").id == bob_id
    wait_idle(settings, worker)
    deadline = time.monotonic() + 30
    while True:
        rels = again.account_relationships([bob_id])
        if rels[0].following or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert rels[0].following is True and rels[0].followed_by is False
    assert [a.id for a in bob.account_followers(bob_id)] == [me.id]
    assert bob.account(bob_id).followers_count == 1

    unfollowed = again.account_unfollow(bob_id)
    assert unfollowed.following is False
    again.revoke_access_token(allow_http=True)
    with pytest.raises(MastodonAPIError):
        again.account_verify_credentials()
