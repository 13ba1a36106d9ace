"""The journey issue 17 is checked by, in one test: a new user's Mastodon.py 2.3.3 against a real API process and
worker. An app and two accounts registered through the API, a password log-in, posts (one retried with the same
Idempotency-Key, one with a PNG read back from its URL), a follow, the home timeline paged through Link headers and
since_id, a favourite, a reply and its context, an edit and a delete as the follower sees them, follow / favourite /
mention notifications, search, trending tags, `update` on stream_user, and a home timeline read without a token."""

from __future__ import annotations

import io
import queue
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest
from mastodon import Mastodon, MastodonNotFoundError, StreamListener
from PIL import Image

from infra.settings import Settings
from tests.integration.support import WorkerProcess, wait_idle

pytestmark = pytest.mark.integration

SCOPES = ["read", "write", "follow", "push"]
DEADLINE_S = 30.0
T = TypeVar("T")


def until(what: str, check: Callable[[], T | None], deadline_s: float = DEADLINE_S) -> T:
    """Polls `check` until it answers something truthy; fails with `what` after the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


class Updates(StreamListener):
    def __init__(self) -> None:
        self.updates: queue.Queue[Any] = queue.Queue()

    def on_update(self, status: Any) -> None:
        self.updates.put(status)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(out, "PNG")
    return out.getvalue()


def test_mastodon_py_journey(base_url: str, settings: Settings, worker: WorkerProcess, uniq: str) -> None:
    # an app, and two accounts registered through the API with its token
    client_id, secret = Mastodon.create_app("chirp journey", scopes=SCOPES, api_base_url=base_url)

    def client(token: str | None = None) -> Any:
        return Mastodon(client_id=client_id, client_secret=secret, access_token=token, api_base_url=base_url,
                        request_timeout=30)  # fmt: skip

    ann_name, bob_name = f"ja{uniq}", f"jb{uniq}"
    assert client().create_account(ann_name, "ann's long password", f"{ann_name}@mail.example", agreement=True)
    bob = client()
    bob.create_account(bob_name, "bob's long password", f"{bob_name}@mail.example", agreement=True)
    ann = client()  # ann logs in with her password (the password grant), as a new user's script would
    ann.log_in(f"{ann_name}@mail.example", "ann's long password", scopes=SCOPES, allow_http=True)
    ann_id, bob_id = ann.account_verify_credentials().id, bob.account_verify_credentials().id
    assert bob.account_follow(ann_id).following is True

    listener = Updates()
    stream = bob.stream_user(listener, run_async=True, reconnect_async=False)
    try:
        until("the user stream to connect", stream.is_receiving)

        # posts: one retried with the same Idempotency-Key, one with an image, a few to page through
        tag = f"jt{uniq}"
        first = ann.status_post(f"hello #{tag}", idempotency_key=f"journey-{uniq}")
        assert ann.status_post(f"hello #{tag}", idempotency_key=f"journey-{uniq}").id == first.id
        image = png()
        media = ann.media_post(io.BytesIO(image), mime_type="image/png", description="a teal card",
                               file_name="card.png", synchronous=True)  # fmt: skip
        pictured = ann.status_post(f"a picture #{tag}", media_ids=[media.id])
        attachment = pictured.media_attachments[0]
        assert attachment.id == media.id and attachment.description == "a teal card"
        got = httpx.get(attachment.url, timeout=30)
        assert got.status_code == 200 and got.content == image
        posted = [first.id, pictured.id] + [ann.status_post(f"post {i}").id for i in range(4)]
        assert [s.id for s in ann.timeline_home(limit=6)] == posted[::-1]  # one's own posts, at once

        # the follower's stream receives ann's statuses as `update`
        streamed = listener.updates.get(timeout=DEADLINE_S)
        assert streamed.id in posted and streamed.account.id == ann_id

        # the follower pages the home timeline through Link headers, and by since_id
        wait_idle(settings, worker)
        page = until("ann's posts on bob's home timeline", lambda: bob.timeline_home(limit=2) or None)
        assert [s.id for s in page] == [posted[5], posted[4]]
        older = bob.fetch_next(page)
        assert [s.id for s in older] == [posted[3], posted[2]]
        assert [s.id for s in bob.fetch_previous(older)] == [posted[5], posted[4]]
        assert [s.id for s in bob.timeline_home(since_id=posted[3])] == [posted[5], posted[4]]
        assert [s.id for s in bob.timeline_home(limit=40)] == posted[::-1]
        assert bob.timeline_home(limit=40)[4].media_attachments[0].url == attachment.url

        # favourite, reply, context
        faved = bob.status_favourite(first.id)
        assert faved.favourited is True and faved.favourites_count == 1
        reply = bob.status_reply(first, "a reply to ann")  # Mastodon.py puts @ann in front: a mention
        assert reply.in_reply_to_id == first.id and [m.id for m in reply.mentions] == [ann_id]
        wait_idle(settings, worker)
        context = ann.status_context(first.id)
        assert [s.id for s in context.descendants] == [reply.id] and context.ancestors == []
        assert [s.id for s in bob.status_context(reply.id).ancestors] == [first.id]

        # an edit the follower sees, then a delete after which the follower no longer sees the status
        edited = ann.status_update(posted[2], "post 0, edited")
        assert edited.edited_at is not None
        until("the edit on bob's home timeline", lambda: any(
            s.id == posted[2] and "post 0, edited" in s.content for s in bob.timeline_home(limit=40)))  # fmt: skip
        assert "post 0, edited" in bob.status(posted[2]).content
        ann.status_delete(posted[2])
        with pytest.raises(MastodonNotFoundError):
            bob.status(posted[2])
        until("the delete on bob's home timeline",
              lambda: posted[2] not in [s.id for s in bob.timeline_home(limit=40)])  # fmt: skip

        # ann's notifications: bob's follow, favourite and mention (the reply)
        wait_idle(settings, worker)
        notes = until("three notifications for ann", lambda: len(n := ann.notifications()) >= 3 and n)
        assert [(n.type, n.account.id) for n in notes] == [("mention", bob_id), ("favourite", bob_id),
                                                           ("follow", bob_id)]  # fmt: skip
        assert notes[0].status.id == reply.id and notes[1].status.id == first.id and notes[2].status is None

        # search and trends
        found = bob.search_v2(f"#{tag}", result_type="statuses")
        assert {s.id for s in found.statuses} == {first.id, pictured.id}
        assert [a.id for a in bob.search_v2(ann_name, result_type="accounts").accounts] == [ann_id]
        assert [h.name for h in bob.search_v2(tag, result_type="hashtags").hashtags] == [tag]
        assert any(t.name == tag for t in bob.trending_tags(limit=20))

        # every status ann posted after bob connected reached his stream; the last one surely did
        seen, end = {streamed.id}, time.monotonic() + DEADLINE_S
        while posted[5] not in seen:  # queue.Empty past the deadline
            seen.add(listener.updates.get(timeout=max(0.1, end - time.monotonic())).id)
        assert seen <= set(posted)
    finally:
        stream.close()

    # without a token there is no home timeline
    r = httpx.get(f"{base_url}/api/v1/timelines/home", timeout=30)
    assert r.status_code == 401 and r.json() == {"error": "The access token is invalid"}, r.text
