"""What the public timeline must do over any postings store; run against the memory fake
(tests/unit/test_public_timeline.py) and Cassandra (tests/integration/test_mastodon_timelines.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from projections.model import TweetView
from projections.public import PublicProjection, PublicQueries
from projections.search import SearchStore
from schemas.events import Event, Meta, TweetDeleted, TweetPosted
from tests.unit.search_contract import at, tid


class PublicTimelineContract:
    """Subclasses provide `store` (a fixture)."""

    def world(self, store: SearchStore) -> tuple[PublicProjection, PublicQueries, dict[int, TweetView]]:
        key = "k" + uuid.uuid4().hex[:12]
        tweets: dict[int, TweetView] = {}

        async def hydrate(pairs: Sequence[tuple[int, int]]) -> list[TweetView]:
            return [tweets[t] for t, _ in pairs if t in tweets]

        return PublicProjection(store, key), PublicQueries(store, hydrate, key), tweets

    @staticmethod
    async def apply(projection: PublicProjection, events: Sequence[Event]) -> None:
        w = projection.writes()
        for e in events:
            w.apply(e, {})
        await w.flush()

    async def test_statuses_newest_first_without_replies_bounded_both_ways(self, store: SearchStore) -> None:
        projection, public, tweets = self.world(store)
        ids = [tid(500, n) for n in range(1, 8)]
        events: list[Event] = []
        for i, t in enumerate(ids):
            reply = ids[0] if i == 3 else None
            tweets[t] = TweetView(t, 5, f"s{i}", at(i), reply)
            events.append(TweetPosted(Meta(f"e{i}", at(i), 5), t, 5, f"s{i}", reply))
        await self.apply(projection, events)
        shown = [t for i, t in enumerate(ids) if i != 3][::-1]  # the reply is not on the public timeline
        assert [v.tweet_id for v in (await public.window(None, None, 40))[0]] == shown
        page, more = await public.window(None, None, 2)
        assert [v.tweet_id for v in page] == shown[:2] and more
        page, more = await public.window(shown[1], shown[4], 10)
        assert [v.tweet_id for v in page] == shown[2:4] and not more

    async def test_a_delete_hides_at_once_and_removes_and_a_replay_brings_nothing_back(
        self, store: SearchStore
    ) -> None:
        projection, public, tweets = self.world(store)
        a, b = tid(501, 1), tid(501, 2)
        posts = [TweetPosted(Meta(f"p{t}", at(1), 5), t, 5, "x") for t in (a, b)]
        tweets.update({t: TweetView(t, 5, "x", at(1)) for t in (a, b)})
        await self.apply(projection, posts)
        tweets[b] = TweetView(b, 5, "x", at(1), deleted=True)  # deleted, the posting not yet removed
        assert [v.tweet_id for v in (await public.window(None, None, 10))[0]] == [a]
        await self.apply(projection, [TweetDeleted(Meta("d", at(2), 5), b, 5)])
        await self.apply(projection, posts)  # redelivered: older than the delete
        assert [p.tweet_id for p in await store.postings(projection.key, None, 10)] == [a]
