"""Home timelines end to end: the real API (in-process), the real worker (a child process), Kafka,
Cassandra and Redis. Thresholds are tiny (see conftest): 3 followers make a celebrity, 12 entries
fill a timeline."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.settings import Settings
from projections.stores.keys import RedisKeys
from projections.timeline import encode_entry
from tests.integration.conftest import CELEBRITY_THRESHOLD, TIMELINE_CAP
from tests.integration.support import WorkerProcess, register, timeline, wait_idle

pytestmark = pytest.mark.integration

Auth = dict[str, str]


class Net:
    """A few users driven through the API, with the worker kept in step."""

    def __init__(self, api: TestClient, settings: Settings, worker: WorkerProcess, tag: str) -> None:
        self.api, self.settings, self.worker, self.tag = api, settings, worker, tag
        self.auth: dict[str, Auth] = {}
        self.n = 0

    def user(self, name: str) -> str:
        uid, auth = register(self.api, f"{name}_{self.tag}")
        self.auth[uid] = auth
        return uid

    def post(self, uid: str, content: str | None = None, reply_to: str | None = None) -> str:
        self.n += 1
        body: dict[str, Any] = {"user_id": uid, "content": content or f"tweet {self.n} by {uid}"}
        if reply_to:
            body["reply_to"] = reply_to
        r = self.api.post("/tweets", headers=self.auth[uid], json=body)
        assert r.status_code == 201, r.text
        tweet_id: str = r.json()["tweet_id"]
        return tweet_id

    def follow(self, a: str, b: str) -> None:
        r = self.api.post("/follow", headers=self.auth[a], json={"follower_id": a, "followee_id": b})
        assert r.status_code == 204, r.text

    def unfollow(self, a: str, b: str) -> None:
        r = self.api.delete("/follow", headers=self.auth[a], params={"follower_id": a, "followee_id": b})
        assert r.status_code == 204, r.text

    def home(self, uid: str, limit: int = 100) -> list[dict[str, Any]]:
        return timeline(self.api, uid, self.auth[uid], limit=limit)

    def home_ids(self, uid: str, limit: int = 100) -> list[str]:
        return [t["tweet_id"] for t in self.home(uid, limit)]

    def idle(self) -> None:
        wait_idle(self.settings, self.worker)


@pytest.fixture
def net(api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str) -> Net:
    return Net(api, settings, worker, uniq)


def newest_first(ids: list[str]) -> list[str]:
    return sorted(ids, key=int, reverse=True)


def wait_for(check: Any, what: str, deadline_s: float = 30) -> float:
    """Polls until check() is true; returns the seconds it took (fails at the deadline)."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < deadline_s, f"timed out waiting for {what}"
        time.sleep(0.002)
    return time.monotonic() - start


def test_tweet_reaches_follower_timeline(net: Net, settings: Settings, redis_client: Any) -> None:
    author, reader = net.user("author"), net.user("reader")
    net.follow(reader, author)
    net.idle()
    assert net.home(reader) == []  # materializes the reader's timeline

    delays = []
    for i in range(20):
        t0 = time.monotonic()
        tweet = net.post(author, f"hello #{i}")
        member = encode_entry(int(tweet), int(author))
        keys = RedisKeys(settings.redis_prefix)
        wait_for(
            lambda k=keys, m=member: (
                redis_client.lpos(k.timeline(reader), m) is not None
                or redis_client.zscore(k.inbox(reader), m) is not None
            ),
            "fan-out",
        )
        delays.append(time.monotonic() - t0)
    delays.sort()
    print(
        f"\npost accepted -> in follower's Redis timeline, {len(delays)} posts: "
        f"p50 {statistics.median(delays) * 1000:.1f} ms, max {delays[-1] * 1000:.1f} ms"
    )
    page = net.home(reader)
    assert [t["content"] for t in page] == [f"hello #{i}" for i in reversed(range(20))]
    first = page[0]
    assert first["user_id"] == author
    handle = f"author_{net.tag}"
    assert first["author"] == {"user_id": author, "handle": handle, "display_name": handle.title()}
    assert first["like_count"] == 0 and first["reply_count"] == 0
    assert first["reply_to"] is None and first["edited_at"] is None
    assert first["created_at"]


def test_authors_see_their_own_tweets(net: Net) -> None:
    me = net.user("self")
    assert net.home(me) == []
    mine = [net.post(me) for _ in range(3)]
    net.idle()
    assert net.home_ids(me) == newest_first(mine)


def test_celebrity_tweets_are_merged_in_order(net: Net, settings: Settings, redis_client: Any) -> None:
    celeb, regular, fan = net.user("celeb"), net.user("regular"), net.user("fan")
    others = [net.user(f"fan{i}") for i in range(CELEBRITY_THRESHOLD)]
    for f in [fan, *others]:
        net.follow(f, celeb)
    net.follow(fan, regular)
    net.idle()
    net.home(fan)
    expected = []
    for i in range(6):  # interleaved: the merge must keep time order
        expected.append(net.post(celeb, f"celeb {i}"))
        expected.append(net.post(regular, f"regular {i}"))
    net.idle()

    keys = RedisKeys(settings.redis_prefix)
    assert redis_client.exists(keys.celebrity(celeb))
    stored = redis_client.lrange(keys.timeline(fan), 0, -1)
    assert not any(m[8:] == int(celeb).to_bytes(8, "big") for m in stored), "celebrity tweets were fanned out"

    got = net.home_ids(fan, limit=5)
    assert got == newest_first(expected)
    assert len(set(got)) == len(got)
    # a new follower of the celebrity sees them at once, without a backfill
    late = net.user("late")
    net.home(late)
    net.follow(late, celeb)
    net.idle()
    assert net.home_ids(late) == newest_first(expected[0::2])


def test_returning_inactive_user_gets_complete_timeline(net: Net, settings: Settings, redis_client: Any) -> None:
    reader = net.user("away")
    authors = [net.user(f"a{i}") for i in range(3)]
    for a in authors:
        net.follow(reader, a)
    expected = [net.post(a) for _ in range(6) for a in authors]  # 18 > the cap of 12
    net.idle()
    assert len(expected) > TIMELINE_CAP

    key = RedisKeys(settings.redis_prefix).timeline(reader)
    redis_client.delete(key)  # what the activity window does
    r = net.api.get("/timeline", headers=net.auth[reader], params={"user_id": reader, "limit": 100})
    assert r.status_code == 200
    assert r.json()["status"] == "rebuilt"
    assert [t["tweet_id"] for t in r.json()["tweets"]] == newest_first(expected)

    r = net.api.get("/timeline", headers=net.auth[reader], params={"user_id": reader})
    assert r.json()["status"] == "ready"
    # skipped while away: fan-out does not write to a timeline that is not materialized
    redis_client.delete(key)
    later = net.post(authors[0], "while you were away")
    net.idle()
    assert not redis_client.exists(key)
    assert net.home_ids(reader)[0] == later


def test_paging_past_the_cap_has_no_seam(net: Net) -> None:
    reader = net.user("pager")
    a, b = net.user("pa"), net.user("pb")
    net.follow(reader, a)
    net.follow(reader, b)
    net.idle()
    net.home(reader)
    expected = [net.post(x) for _ in range(15) for x in (a, b)] + [net.post(reader)]
    net.idle()
    for limit in (1, 5, 7, 100):
        got = net.home_ids(reader, limit=limit)
        assert got == newest_first(expected), f"limit {limit}"


def test_follow_backfills_and_unfollow_purges(net: Net) -> None:
    reader, author = net.user("fol"), net.user("fee")
    net.home(reader)
    old = [net.post(author) for _ in range(3)]
    net.idle()
    net.follow(reader, author)
    net.idle()
    assert net.home_ids(reader) == newest_first(old)
    net.unfollow(reader, author)
    net.idle()
    assert net.home_ids(reader) == []
    net.post(author, "after unfollow")
    net.idle()
    assert net.home_ids(reader) == []
    r = net.api.post("/follow", headers=net.auth[reader], json={"follower_id": reader, "followee_id": "99999999999"})
    assert r.status_code == 404


def test_delete_removes_everywhere_and_edit_shows_everywhere(net: Net) -> None:
    author, fan = net.user("ed"), net.user("edfan")
    net.follow(fan, author)
    net.home(fan)
    keep, gone = net.post(author, "first draft"), net.post(author, "regrettable")
    reply = net.post(fan, "a reply", reply_to=keep)
    net.idle()
    assert net.api.get(f"/tweets/{keep}").json()["reply_count"] == 1

    other = net.user("intruder")
    assert net.api.patch(f"/tweets/{keep}", headers=net.auth[other], json={"content": "x"}).status_code == 403
    assert net.api.delete(f"/tweets/{keep}", headers=net.auth[other]).status_code == 403
    assert net.api.patch(f"/tweets/{keep}", headers=net.auth[author], json={"content": "final text"}).status_code in (
        200,
        202,
    )
    assert net.api.delete(f"/tweets/{gone}", headers=net.auth[author]).status_code == 204
    assert net.api.delete(f"/tweets/{reply}", headers=net.auth[fan]).status_code == 204
    net.idle()

    assert net.home_ids(fan) == [keep]
    assert net.home(fan)[0]["content"] == "final text"
    assert net.home(fan)[0]["edited_at"] is not None
    assert net.home(fan)[0]["reply_count"] == 0
    assert net.home_ids(author) == [keep]
    user_tweets = net.api.get(f"/users/{author}/tweets").json()["tweets"]
    assert [(t["tweet_id"], t["content"]) for t in user_tweets] == [(keep, "final text")]
    assert net.api.get(f"/tweets/{gone}").status_code == 404
    assert net.api.get(f"/tweets/{keep}").json()["content"] == "final text"
    assert net.api.get(f"/tweets/{keep}/replies").json()["tweets"] == []
    late = {"user_id": fan, "content": "late reply", "reply_to": gone}
    assert net.api.post("/tweets", headers=net.auth[fan], json=late).status_code == 404


def test_likes_and_replies_are_counted_once(net: Net) -> None:
    author, fan, other = net.user("liked"), net.user("liker"), net.user("liker2")
    tweet = net.post(author, "like me")
    for _ in range(2):  # liking twice is harmless
        assert net.api.post(f"/tweets/{tweet}/like", headers=net.auth[fan]).status_code == 204
    assert net.api.post(f"/tweets/{tweet}/like", headers=net.auth[other]).status_code == 204
    replies = [net.post(fan, f"reply {i}", reply_to=tweet) for i in range(3)]
    net.idle()
    t = net.api.get(f"/tweets/{tweet}").json()
    assert (t["like_count"], t["reply_count"]) == (2, 3)
    assert net.api.delete(f"/tweets/{tweet}/like", headers=net.auth[other]).status_code == 204
    net.idle()
    assert net.api.get(f"/tweets/{tweet}").json()["like_count"] == 1

    page = net.api.get(f"/tweets/{tweet}/replies", params={"limit": 2}).json()
    assert [r["tweet_id"] for r in page["tweets"]] == newest_first(replies)[:2]
    rest = net.api.get(f"/tweets/{tweet}/replies", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [r["tweet_id"] for r in rest["tweets"]] == newest_first(replies)[2:]
    assert rest["next_cursor"] is None
    assert all(r["reply_to"] == tweet for r in page["tweets"])


def test_user_read_routes(net: Net) -> None:
    star = net.user("star")
    fans = [net.user(f"sf{i}") for i in range(3)]
    for f in fans:
        net.follow(f, star)
    net.follow(star, fans[0])
    posts = [net.post(star) for _ in range(5)]
    net.idle()

    profile = net.api.get(f"/users/{star}").json()
    assert profile == {"user_id": star, "handle": f"star_{net.tag}", "display_name": f"star_{net.tag}".title(),
                       "followers_count": 3, "following_count": 1}  # fmt: skip
    first = net.api.get(f"/users/{star}/followers", params={"limit": 2}).json()
    second = net.api.get(f"/users/{star}/followers", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert second["next_cursor"] is None
    assert sorted(u["user_id"] for u in first["users"] + second["users"]) == sorted(fans)
    following = net.api.get(f"/users/{star}/following").json()
    assert [u["user_id"] for u in following["users"]] == [fans[0]]

    page = net.api.get(f"/users/{star}/tweets", params={"limit": 3}).json()
    rest = net.api.get(f"/users/{star}/tweets", params={"limit": 3, "cursor": page["next_cursor"]}).json()
    assert [t["tweet_id"] for t in page["tweets"] + rest["tweets"]] == newest_first(posts)

    assert net.api.get("/users/123456789/tweets").status_code == 404
    assert net.api.get("/users/123456789").status_code == 404
    assert net.api.get("/tweets/123456789").status_code == 404


def test_read_errors(net: Net) -> None:
    me, other = net.user("me"), net.user("other")
    auth = net.auth[me]
    assert net.api.get("/timeline", params={"user_id": me}).status_code == 401
    r = net.api.get("/timeline", headers=auth, params={"user_id": other})
    assert r.status_code == 403
    for bad in ("garbage", "djI6MTIz", "x" * 300):
        r = net.api.get("/timeline", headers=auth, params={"user_id": me, "cursor": bad})
        assert r.status_code == 422, bad  # cursors are ids; the schema's pattern says so
        assert "cursor" in r.json()["message"]
    assert net.api.get(f"/users/{me}/tweets", params={"cursor": "nope"}).status_code == 422
    assert net.api.get("/timeline", headers=auth, params={"user_id": me, "limit": 0}).status_code == 422
    for _ in range(25):
        net.post(me)
    net.idle()
    r = net.api.get("/timeline", headers=auth, params={"user_id": me})
    assert len(r.json()["tweets"]) == 20  # the default
    r = net.api.get("/timeline", headers=auth, params={"user_id": me, "limit": 1000})
    assert r.status_code == 200 and len(r.json()["tweets"]) == 25
