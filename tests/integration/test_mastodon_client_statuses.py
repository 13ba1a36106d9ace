"""Mastodon.py 2.3.3 against a real API process and worker: posting with an Idempotency-Key, the home timeline
paged with fetch_next / fetch_previous, favourites, a reply and its context, an edit and its history, a delete."""

from __future__ import annotations

from typing import Any

import pytest
from mastodon import Mastodon, MastodonNotFoundError

from infra.settings import Settings
from tests.integration.support import WorkerProcess, wait_idle

pytestmark = pytest.mark.integration

SCOPES = ["read", "write", "follow", "push"]


def _account(base_url: str, client_id: str, secret: str, name: str) -> Any:
    m = Mastodon(client_id=client_id, client_secret=secret, api_base_url=base_url, request_timeout=30)
    m.create_account(name, "a long password", f"{name}@mail.example", agreement=True)
    return m


def test_mastodon_py_posts_pages_favourites_replies_edits_and_deletes(
    base_url: str, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    client_id, secret = Mastodon.create_app("chirp statuses test", scopes=SCOPES, api_base_url=base_url)
    ann = _account(base_url, client_id, secret, f"mpa{uniq}")
    bob = _account(base_url, client_id, secret, f"mpb{uniq}")
    ann_id = ann.account_verify_credentials().id
    bob.account_follow(ann_id)
    wait_idle(settings, worker)

    first = ann.status_post(f"first #mp{uniq}", idempotency_key=f"idem-{uniq}")
    same = ann.status_post(f"first #mp{uniq}", idempotency_key=f"idem-{uniq}")
    assert same.id == first.id  # one status, whatever the retries
    posted = [first.id] + [ann.status_post(f"post {i}").id for i in range(5)]
    assert [s.id for s in ann.timeline_home(limit=6)] == posted[::-1]  # one's own posts, at once

    wait_idle(settings, worker)
    page = bob.timeline_home(limit=2)
    assert [s.id for s in page] == posted[:-3:-1]
    older = bob.fetch_next(page)
    assert [s.id for s in older] == [posted[3], posted[2]]
    newer = bob.fetch_previous(older)
    assert [s.id for s in newer] == [posted[5], posted[4]]
    assert [s.id for s in bob.timeline_home(since_id=posted[3])] == [posted[5], posted[4]]

    faved = bob.status_favourite(first.id)
    assert faved.favourited is True and faved.favourites_count == 1
    assert [s.id for s in bob.favourites()] == [first.id]

    reply = bob.status_reply(first, "a reply")
    assert reply.in_reply_to_id == first.id and reply.in_reply_to_account_id == ann_id
    wait_idle(settings, worker)
    ctx = ann.status_context(reply.id)
    assert [s.id for s in ctx.ancestors] == [first.id]
    assert [s.id for s in ann.status_context(first.id).descendants] == [reply.id]

    edited = ann.status_update(first.id, "first, edited")
    assert edited.edited_at is not None and "first, edited" in edited.content
    wait_idle(settings, worker)
    history = ann.status_history(first.id)
    assert len(history) == 2 and "edited" in history[-1].content and f"mp{uniq}" in history[0].content
    assert "first, edited" in bob.status(first.id).content  # the follower sees the edit

    deleted = ann.status_delete(posted[1])
    assert deleted.text == "post 0"
    with pytest.raises(MastodonNotFoundError):
        bob.status(posted[1])  # the follower sees the delete
    wait_idle(settings, worker)
    assert posted[1] not in [s.id for s in bob.timeline_home(limit=10)]
