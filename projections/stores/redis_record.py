"""Redis: a bulk rebuild's record-only writes (a timeline store with fan-out off, `RedisTimelines(push=False)`).

A rebuild replays the whole log into a fresh prefix that nobody reads yet: it records tweets in the authors'
lists, the follow graph, likes, replies and the hydration cache, and leaves the home timelines to its warm
phase. The live pass's writer (`RedisTimelineWrites`) sends a script call or a command per event, and each
call costs Redis more to start and answer (~15 us) than its writes (~3 us), and this process more to pack and
parse than the event's decoding. Here a batch's changes are queued per Redis node as ops of one script,
`record.lua` (a few hundred per call: a read of the live version waits one call at most), which does the same
writes with the same steps (lib.lua) as the live pass's scripts.

The order is the log's on each node. A follow and an unfollow have a followee's side and a follower's side,
on two nodes: the followee's sides go with the rest of the batch, the followers' sides after them, in log
order (a follow's needs the answer: whether the followee is a celebrity), as in the live pass; so do the
followers' timelines of a delete (`undeliver.lua`), and accounts the batch made celebrities.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from redis.typing import EncodableT

from projections.model import TweetView
from projections.timeline import encode_entry, id_bytes
from projections.wire import media_json

if TYPE_CHECKING:
    from datetime import datetime

    from projections.stores.redis import RedisTimelines

FOLLOW, DELETE = 0, 1  # the ops that answer (F, X): what the answer is about


class RedisRecordWrites:
    """One batch of a rebuild's record-only changes, as ops per node (a `TimelineWrites`)."""

    def __init__(self, tl: RedisTimelines) -> None:
        self.tl = tl
        self.keys = tl.keys
        self.chunk = tl.pacing.chunk_now()
        self._reset()

    def _reset(self) -> None:
        self.calls: dict[Any, list[list[EncodableT]]] = {}  # node -> its script calls' ops, in log order
        self.counts: dict[Any, int] = {}  # node -> ops in its last call
        self.asks: dict[Any, list[tuple[int, Any]]] = {}  # node -> (kind, what) of each answering op, in order
        self.links: list[tuple[int, int, bool]] = []  # (follower, followee, a follow?) in log order

    def _op(self, key: str, *op: EncodableT) -> Any:
        """Queues an op on the node that serves `key`; returns that node."""
        node = self.tl.nodes.for_key(key)
        calls = self.calls.get(node)
        if calls is None:
            calls = self.calls[node] = [[]]
            self.counts[node] = 0
            self.asks[node] = []
        elif self.counts[node] >= self.chunk:
            calls.append([])
            self.counts[node] = 0
        calls[-1].extend(op)
        self.counts[node] += 1
        return node

    # TimelineWrites ----------------------------------------------------------------------------------

    def save_user(self, user_id: int, handle: str, display_name: str) -> None:
        key = handle.lower()
        self._op(self.keys.user(user_id), b"S", user_id, handle, display_name)
        owner, index = self.keys.handle(key), self.keys.handles()
        self._op(owner, b"H", owner, user_id)
        self._op(index, b"Z", index, f"{key} {user_id}")

    def post(self, t: TweetView) -> None:
        media = json.dumps([media_json(m) for m in t.media]) if t.media else ""
        micros = int(t.created_at.timestamp() * 1_000_000)
        self._op(self.keys.tweet(t.tweet_id), b"T", t.tweet_id, t.author_id, t.content, micros, t.reply_to or "", media)
        if t.reply_to:
            self._op(self.keys.replies(t.reply_to), b"R", t.reply_to, t.tweet_id)
        self._op(self.keys.user_tweets(t.author_id), b"P", t.author_id, encode_entry(t.tweet_id, t.author_id))

    def edit(self, tweet_id: int, content: str, edited_at: datetime, author_id: int | None = None) -> None:
        self._op(self.keys.tweet(tweet_id), b"E", tweet_id, content, int(edited_at.timestamp() * 1_000_000))

    def delete(self, tweet_id: int, author_id: int, reply_to: int | None) -> None:
        self._op(self.keys.tweet(tweet_id), b"D", tweet_id)
        if reply_to:
            self._op(self.keys.replies(reply_to), b"r", reply_to, tweet_id)
        entry = encode_entry(tweet_id, author_id)
        node = self._op(self.keys.user_tweets(author_id), b"X", author_id, entry)
        self.asks[node].append((DELETE, entry))

    def follow(self, follower: int, followee: int) -> None:
        node = self._op(self.keys.followers(followee), b"F", follower, followee)
        self.asks[node].append((FOLLOW, followee))
        self.links.append((follower, followee, True))

    def unfollow(self, follower: int, followee: int) -> None:
        self._op(self.keys.followers(followee), b"U", follower, followee)
        self.links.append((follower, followee, False))

    def like(self, tweet_id: int, user_id: int, liked: bool) -> None:
        self._op(self.keys.likes(tweet_id), b"L" if liked else b"l", tweet_id, user_id)

    async def flush(self) -> int:
        """The batch's ops; then the celebrities its follows made, the followers' sides of its follows and
        unfollows, and the timelines its deletes reach. Returns the deliveries (tweets put on their authors'
        own timelines, where those are materialized)."""
        calls, asks, links = self.calls, self.asks, self.links
        self._reset()
        delivered, follows, deleted = self._answers(await self.tl.record(calls), asks)
        if links:
            await self._followers_sides(links, follows)
        for entry, followers in deleted:
            await self.tl.undeliver(entry, followers)
        return delivered

    @staticmethod
    def _answers(
        replies: dict[Any, list[Any]], asks: dict[Any, list[tuple[int, Any]]]
    ) -> tuple[int, dict[int, list[int]], list[tuple[bytes, list[bytes]]]]:
        """The deliveries; each followee's follow answers, in log order (its follows are all on its node, in
        order); each delete's entry and followers."""
        delivered = 0
        follows: dict[int, list[int]] = {}
        deleted: list[tuple[bytes, list[bytes]]] = []
        for node, answers in replies.items():
            wanted = iter(asks[node])
            for reply in answers:
                delivered += int(reply[0])
                for answer in reply[1:]:
                    kind, what = next(wanted)
                    if kind == DELETE:
                        deleted.append((what, answer))
                    else:
                        follows.setdefault(what, []).append(int(answer))
        return delivered, follows, deleted

    async def _followers_sides(self, links: list[tuple[int, int, bool]], follows: dict[int, list[int]]) -> None:
        promoted = sorted(followee for followee, got in follows.items() if 2 in got)
        if promoted:
            await self.tl.promote(promoted)
        answers = {followee: iter(got) for followee, got in follows.items()}
        # An unfollow the batch follows again later has nothing to remember: deliveries are wanted again.
        last_follow = {(a, b): n for n, (a, b, followed) in enumerate(links) if followed}
        for n, (follower, followee, followed) in enumerate(links):
            key, suffix = self.keys.following(follower), id_bytes(followee)
            if followed:
                self._op(key, b"G", follower, followee, suffix, int(next(answers[followee]) > 0))
            else:
                remember = 0 if last_follow.get((follower, followee), -1) > n else self.tl.unfollowed_s
                self._op(key, b"g", follower, followee, suffix, remember)
        calls = self.calls
        self._reset()
        await self.tl.record(calls)
