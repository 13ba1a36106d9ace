"""A real Mastodon client library, Mastodon.py 2.3.3, against a real API process: it registers an application,
registers accounts through the API (an application token, then POST /api/v1/accounts), logs in with a
password (by e-mail and by username), reads its own account, follows and reads relationships, revokes; then
notifications with types, markers, search_v2, trending tags and stream_user (SSE) with a StreamListener."""

from __future__ import annotations

import queue
import time
from typing import Any

import httpx
import pytest
from mastodon import Mastodon, MastodonAPIError, StreamListener

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


class Listener(StreamListener):
    def __init__(self) -> None:
        self.updates: queue.Queue[Any] = queue.Queue()
        self.notifications: queue.Queue[Any] = queue.Queue()

    def on_update(self, status: Any) -> None:
        self.updates.put(status)

    def on_notification(self, notification: Any) -> None:
        self.notifications.put(notification)


def test_mastodon_py_notifications_markers_search_trends_and_stream(
    base_url: str, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    client_id, secret = Mastodon.create_app("chirp stream client", scopes=SCOPES, api_base_url=base_url)
    ann, bob = _client(base_url, client_id, secret), _client(base_url, client_id, secret)
    ann.create_account(f"pa{uniq}", "a long password", f"pa{uniq}@mail.example", agreement=True)
    bob.create_account(f"pb{uniq}", "a long password", f"pb{uniq}@mail.example", agreement=True)
    ann_id, bob_id = ann.account_verify_credentials().id, bob.account_verify_credentials().id
    ann.account_follow(bob_id)
    bob.account_follow(ann_id)
    wait_idle(settings, worker)

    def post(who: Any, user_id: Any, content: str) -> str:  # statuses are chirp's own route on this branch
        r = httpx.post(f"{base_url}/tweets", headers={"Authorization": f"Bearer {who.access_token}"},
                       json={"user_id": str(user_id), "content": content}, timeout=30)  # fmt: skip
        assert r.status_code == 201, r.text
        tweet_id: str = r.json()["tweet_id"]
        return tweet_id

    listener = Listener()
    handle = ann.stream_user(listener, run_async=True, reconnect_async=False)
    try:
        deadline = time.monotonic() + 30
        while not handle.is_receiving() and time.monotonic() < deadline:
            time.sleep(0.1)
        tag = f"mp{uniq}"
        mine = post(ann, ann_id, f"ann's own #{tag}")
        theirs = post(bob, bob_id, f"hi @pa{uniq} #{tag}")
        got = [listener.updates.get(timeout=30), listener.updates.get(timeout=30)]
        assert {s.id for s in got} == {mine, theirs}
        streamed = next(s for s in got if s.id == theirs)
        assert streamed.account.id == bob_id and streamed.mentions[0].id == ann_id
        assert listener.notifications.get(timeout=30).type == "mention"
    finally:
        handle.close()
    httpx.post(f"{base_url}/tweets/{mine}/like", headers={"Authorization": f"Bearer {bob.access_token}"}, timeout=30)
    wait_idle(settings, worker)

    notes = ann.notifications()
    assert [n.type for n in notes] == ["favourite", "mention", "follow"]
    assert [n.status.id for n in ann.notifications(types=["favourite"])] == [mine]
    assert [n.type for n in ann.notifications(exclude_types=["mention", "favourite"])] == ["follow"]
    assert ann.notifications(id=notes[1].id).status.id == theirs

    ann.markers_set(["home", "notifications"], [theirs, notes[0].id])
    markers = ann.markers_get(["home", "notifications"])
    assert markers.home.last_read_id == theirs and markers.notifications.last_read_id == notes[0].id
    assert markers.home.version == 1

    found = ann.search_v2(f"#{tag}", result_type="statuses")
    assert {s.id for s in found.statuses} == {mine, theirs}
    assert ann.search_v2(f"pb{uniq}").accounts[0].id == bob_id
    assert ann.search_v2(tag, result_type="hashtags").hashtags[0].name == tag
    trending = ann.trending_tags(limit=20)
    assert any(t.name == tag and int(t.history[0].accounts) == 2 for t in trending), trending
    assert ann.preferences()["posting:default:visibility"] == "public"
    ann.notifications_clear()
    assert ann.notifications() == []
