"""Push logic without services: message shapes, SSE framing, a client's buffer, and what one stream sends
(catch-up first, then live messages, each tweet once)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import orjson
import pytest
from fastapi import HTTPException

from api.push.hub import PushHub, PushUnavailable
from api.push.session import HEARTBEAT, Client, missed, sse_frame, stream
from api.routers.stream import resume_point
from infra.settings import Settings
from projections.model import TweetView, UserView
from projections.push import channel, message, online_index, presence_key, user_of_channel
from projections.queries import Page, Queries
from projections.timeline import encode_cursor
from projections.wire import author_json, delete_message, tweet_json, update_head, update_message

AUTHOR = UserView(42, "ada_l", 'Ada "the first" / Lovelace')


def view(t: int, author: UserView | None = AUTHOR) -> TweetView:
    return TweetView(t, 42, f"tweet {t}", datetime(2026, 1, 1, tzinfo=UTC), author=author)


def test_key_names_and_messages_follow_the_contract() -> None:
    names = {presence_key("chirp:", 7), channel("chirp:", 7), online_index("chirp:"), presence_key("chirp:", 8)}
    assert len(names) == 4 and all(n.startswith("chirp:") for n in names)  # distinct, under the prefix
    assert user_of_channel("chirp:", channel("chirp:", 7).encode()) == 7
    assert user_of_channel("chirp:", presence_key("chirp:", 7).encode()) is None
    assert orjson.loads(message("delete", "", {"tweet_id": "1"})) == {
        "event": "delete",
        "id": "",
        "data": {"tweet_id": "1"},
    }
    assert orjson.loads(delete_message(5)) == {"event": "delete", "id": "", "data": {"tweet_id": "5"}}
    update = orjson.loads(update_message(view(9)))
    assert update["id"] == encode_cursor(9) and update["data"] == orjson.loads(
        orjson.dumps(tweet_json(view(9)), option=orjson.OPT_UTC_Z)
    )


def test_the_update_head_completed_as_the_fanout_script_does_is_the_whole_message() -> None:
    """fanout.lua appends the author from the user hash (cjson-escaped strings) and `}}`."""
    head = update_head(view(9))
    a = author_json(AUTHOR)
    lua = (
        b'{"user_id":"42","handle":'
        + orjson.dumps(a["handle"])
        + b',"display_name":'
        + orjson.dumps(a["display_name"])
        + b"}"
    )
    assert orjson.loads(head + lua + b"}}") == orjson.loads(update_message(view(9)))
    assert orjson.loads(head + b"null}}")["data"]["author"] is None


def test_sse_frames() -> None:
    frame = sse_frame({"event": "update", "id": "abc", "data": {"content": "two\nlines"}})
    assert frame == b'event: update\nid: abc\ndata: {"content":"two\\nlines"}\n\n'
    assert (
        sse_frame({"event": "delete", "id": "", "data": {"tweet_id": "1"}})
        == b'event: delete\ndata: {"tweet_id":"1"}\n\n'
    )


def test_a_client_that_falls_behind_is_dropped_not_buffered() -> None:
    async def run() -> None:
        client = Client(1, asyncio.Queue(2))
        blocked = asyncio.create_task(asyncio.sleep(60))
        client.task = blocked
        assert client.offer(b"1") and client.offer(b"2")
        assert not client.offer(b"3")
        assert client.dropped is not None and "too slow" in client.dropped and client.queue.qsize() == 2
        await asyncio.sleep(0)
        assert blocked.cancelled()
        assert client.offer(b"4") and client.queue.qsize() == 2  # ignored once dropped

    asyncio.run(run())


class FakeQueries:
    """A home timeline holding the ids given, newest first."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = sorted(ids, reverse=True)
        self.reads = 0

    async def home(self, user_id: int, before: int | None, limit: int, after: int | None = None) -> Page:
        self.reads += 1
        rows = [t for t in self.ids if (before is None or t < before) and (after is None or t > after)]
        page = [view(t) for t in rows[:limit]]
        return Page(page, page[-1].tweet_id if len(rows) > limit else None, after=after)


class FakeHub:
    heartbeat_s = 0.05


async def _collect(client: Client, queries: FakeQueries, after: int | None, most: int = 1000) -> list[Any]:
    out: list[Any] = []
    async for raw, msg in stream(cast(PushHub, FakeHub()), cast(Queries, queries), client, after, most):
        if raw is HEARTBEAT:
            out.append("heartbeat")
        else:
            assert msg is not None
            out.append(f"{msg['event']}:{msg.get('id')}")
    return out


def test_a_stream_catches_up_then_sends_live_messages_once() -> None:
    async def run() -> list[Any]:
        client = Client(1, asyncio.Queue(100))
        for raw in [
            update_message(view(15)),  # read from the timeline too: once
            update_message(view(10)),  # at the Last-Event-ID: the client has it
            update_message(view(17)),
            b"not json",
            update_message(view(17)),  # redelivered by the worker
            delete_message(15),
            message("notification", "bm90aWY", {"kind": "like"}),
            update_message(view(16)),  # late (another partition): still sent
        ]:
            client.queue.put_nowait(raw)
        client.queue.put_nowait(None)
        return await _collect(client, FakeQueries([5, 10, 12, 15]), after=10)

    c = encode_cursor
    assert asyncio.run(run()) == [
        f"update:{c(12)}", f"update:{c(15)}", f"update:{c(17)}", "delete:", "notification:bm90aWY", f"update:{c(16)}",
    ]  # fmt: skip


def test_a_stream_without_last_event_id_reads_once_to_materialize_and_sends_heartbeats() -> None:
    async def run() -> tuple[list[Any], int]:
        client = Client(1, asyncio.Queue(10))
        queries = FakeQueries([5])
        asyncio.get_running_loop().call_later(0.2, client.queue.put_nowait, None)
        return await _collect(client, queries, after=None), queries.reads

    events, reads = asyncio.run(run())
    assert reads == 1 and events and set(events) == {"heartbeat"}


def test_missed_pages_down_and_returns_oldest_first_at_most_most() -> None:
    queries = FakeQueries(list(range(1, 351)))
    got = asyncio.run(missed(cast(Queries, queries), 1, 100, 1000))
    ids = [orjson.loads(m)["data"]["tweet_id"] for m in got]
    assert ids == [str(t) for t in range(101, 351)] and queries.reads == 3
    capped = asyncio.run(missed(cast(Queries, FakeQueries(list(range(1, 351)))), 1, 100, 120))
    assert [orjson.loads(m)["data"]["tweet_id"] for m in capped] == [str(t) for t in range(231, 351)]


def test_resume_points() -> None:
    assert resume_point(None, None) is None
    assert resume_point(encode_cursor(5), encode_cursor(9)) == 5  # the query parameter wins
    assert resume_point(None, encode_cursor(9)) == 9
    assert resume_point(None, "from-somewhere-else") is None  # a browser would retry a 400 forever
    with pytest.raises(HTTPException) as exc:
        resume_point("nope", None)
    assert exc.value.status_code == 400


def test_joining_without_the_pubsub_connection_is_refused() -> None:
    async def run() -> None:
        import redis.asyncio as aioredis

        hub = PushHub(aioredis.Redis(), Settings())
        with pytest.raises(PushUnavailable):
            await hub.join(1)

    asyncio.run(run())
