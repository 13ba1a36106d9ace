"""One client's stream (`GET /timeline/stream`, `/timeline/ws`): its bounded buffer, the catch-up from the
home timeline after a Last-Event-ID, the live messages the hub (hub.py) queues for it, each tweet sent once,
and the SSE framing.

The client subscribed (through the hub) before the timeline is read, so nothing falls between the catch-up and
the live messages; a tweet both read and heard, or published twice by the worker (a redelivery), is sent once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from projections.model import TweetView
from projections.queries import Queries
from projections.timeline import BadCursor, decode_cursor
from projections.wire import update_message

log = logging.getLogger("chirp.push")

RECENT_IDS = 4096  # live ids remembered per client to drop a redelivered duplicate
HEARTBEAT = b""


class Heartbeat(Protocol):
    """What a stream needs of the hub: how often to send a heartbeat when nothing else comes."""

    @property
    def heartbeat_s(self) -> float: ...


@dataclass(eq=False)
class Client:
    """One connected stream. `queue` holds raw messages; None ends the stream."""

    user_id: int
    queue: asyncio.Queue[bytes | None]
    task: asyncio.Task[Any] | None = None  # the task sending to the client: cancelled if it falls behind
    dropped: str | None = None  # why the hub ended it, if it did
    lease: str = ""  # its lease on one of the user's streams across processes (hub.claim)

    def offer(self, raw: bytes) -> bool:
        """Queues a message; False (and the client is dropped) when its buffer is full."""
        if self.dropped is not None:
            return True
        try:
            self.queue.put_nowait(raw)
            return True
        except asyncio.QueueFull:
            self.drop(f"too slow: {self.queue.qsize()} messages queued")
            return False

    def drop(self, reason: str) -> None:
        if self.dropped is not None:
            return
        self.dropped = reason
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:  # it is not reading: stop whatever it is blocked in
            if self.task is not None:
                self.task.cancel()


def last_event_id(value: str | None) -> int | None:
    """The tweet id a Last-Event-ID stands for (a timeline cursor); raises BadCursor."""
    return decode_cursor(value)


async def missed(queries: Queries, user_id: int, after: int, most: int) -> list[bytes]:
    """The "update" messages of the home-timeline entries newer than `after`, oldest first (so a client that
    drops mid-way resumes from the right id), at most `most` (the newest ones)."""
    views: list[TweetView] = []
    before: int | None = None
    while len(views) < most:
        page = await queries.home(user_id, before, min(100, most - len(views)), after)
        views.extend(page.tweets)
        if page.next_before is None:
            break
        before = page.next_before
    else:
        log.warning("push: user %d missed more than %d tweets; replaying the newest %d", user_id, most, most)
    return [update_message(v) for v in reversed(views)]


async def stream(
    hub: Heartbeat, queries: Queries, client: Client, after: int | None, most: int
) -> AsyncIterator[tuple[bytes, dict[str, Any] | None]]:
    """What one client gets, as (raw message, parsed) pairs, or (HEARTBEAT, None) every heartbeat: with a
    Last-Event-ID (`after`), every timeline entry newer than it, then live messages. The client subscribed
    before the timeline read, so nothing falls between; entries both read and heard are sent once, and so
    are live ones the worker published twice (a redelivery)."""
    sent: dict[int, None] = {}  # insertion-ordered: the oldest are forgotten first
    if after is None:
        await queries.home(client.user_id, None, 1)  # materializes the timeline, so the fan-out reaches it
    else:
        for update in await missed(queries, client.user_id, after, most):
            parsed = orjson.loads(update)
            sent[decode_cursor(parsed["id"]) or 0] = None
            yield update, parsed
    floor = after or 0
    while True:
        try:
            raw = await asyncio.wait_for(client.queue.get(), hub.heartbeat_s)
        except TimeoutError:
            yield HEARTBEAT, None
            continue
        if raw is None:
            return
        try:
            msg = orjson.loads(raw)
            if msg["event"] == "update":
                tweet_id = decode_cursor(msg["id"]) or 0
                if tweet_id <= floor or tweet_id in sent:
                    continue
                sent[tweet_id] = None
                if len(sent) > RECENT_IDS:
                    del sent[next(iter(sent))]
        except (ValueError, KeyError, TypeError, BadCursor):
            log.warning("push: dropping a malformed message for user %d: %r", client.user_id, raw[:200])
            continue
        yield raw, msg


def sse_frame(msg: dict[str, Any]) -> bytes:
    """One SSE event: `event:`, `id:` (left out when empty: an empty id would reset the client's
    Last-Event-ID), and the data object on one `data:` line."""
    out = b"event: " + str(msg["event"]).encode() + b"\n"
    if msg.get("id"):
        out += b"id: " + str(msg["id"]).encode() + b"\n"
    return out + b"data: " + orjson.dumps(msg.get("data")) + b"\n\n"
