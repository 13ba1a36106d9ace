"""The correctness rule, tested as a property: random command sequences go through the real API and
the real worker; once the worker is idle (by offsets), every served home timeline equals the one the
reference model computes from the log. Sequences cross the celebrity threshold (3 followers here)
and the activity window (a timeline dropped from Redis is what expiry does), and in the second test
the worker is killed with SIGKILL and restarted in the middle of the run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from infra.settings import Settings
from projections.reference import ReferenceModel
from projections.stores.keys import RedisKeys
from schemas.codec import DecodeError, default_codec
from schemas.events import Event
from schemas.topics import EVENT_TOPICS
from tests.integration.support import WorkerProcess, read_topic, register, wait_idle

pytestmark = pytest.mark.integration

USERS = 6
# Weighted toward what interacts: posts, follows and unfollows of accounts that post, reads.
KINDS = ["post"] * 4 + ["follow"] * 3 + ["unfollow"] * 2 + ["read"] * 2 + [
    "reply", "edit", "delete", "like", "unlike", "away", "register",
]  # fmt: skip
OPS = st.tuples(st.sampled_from(KINDS), st.sampled_from(range(64)), st.sampled_from(range(64)))
# No shrinking: each example drives real services, and the raw failing sequence is reported as is.
RUNS = dict(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    phases=[Phase.explicit, Phase.generate],
    print_blob=True,
)


@dataclass
class Run:
    api: TestClient
    settings: Settings
    redis: Any
    users: list[str] = field(default_factory=list)
    auth: dict[str, dict[str, str]] = field(default_factory=dict)
    tweets: list[tuple[str, str]] = field(default_factory=list)  # (tweet id, author)
    follows: list[tuple[str, str]] = field(default_factory=list)  # (follower, followee), made via the API

    def register(self) -> None:
        uid, auth = register(self.api, f"p{uuid.uuid4().hex[:12]}")
        self.users.append(uid)
        self.auth[uid] = auth

    def user(self, i: int) -> str:
        return self.users[i % len(self.users)]

    def do(self, op: tuple[Any, ...]) -> None:
        """One command; (kind, a, b) with a and b taken modulo what exists (users, tweets, follows).

        Answers a real client can get (404 for a tweet deleted meanwhile) are fine.
        """
        kind, a, b = op
        u = self.user(a)
        h = self.auth[u]
        if kind == "register":
            self.register()
        elif kind in ("post", "reply"):
            body: dict[str, Any] = {"user_id": u, "content": f"{kind} {len(self.tweets)} ünïcode ✓"}
            if kind == "reply" and self.tweets:
                body["reply_to"] = self.tweets[b % len(self.tweets)][0]
            r = self.api.post("/tweets", headers=h, json=body)
            assert r.status_code in (201, 404), r.text
            if r.status_code == 201:
                self.tweets.append((r.json()["tweet_id"], u))
        elif kind in ("edit", "delete") and self.tweets:
            tweet, author = self.tweets[a % len(self.tweets)]
            h = self.auth[author]
            if kind == "edit":
                r = self.api.patch(f"/tweets/{tweet}", headers=h, json={"content": f"edited {uuid.uuid4().hex[:6]}"})
            else:
                r = self.api.delete(f"/tweets/{tweet}", headers=h)
            assert r.status_code in (200, 202, 204, 404), r.text
        elif kind == "follow":
            other = self.user(b)
            if other != u:
                r = self.api.post("/follow", headers=h, json={"follower_id": u, "followee_id": other})
                assert r.status_code == 204, r.text
                self.follows.append((u, other))
        elif kind == "unfollow" and self.follows:
            u, other = self.follows[a % len(self.follows)]
            params = {"follower_id": u, "followee_id": other}
            r = self.api.delete("/follow", headers=self.auth[u], params=params)
            assert r.status_code == 204, r.text
        elif kind in ("like", "unlike") and self.tweets:
            tweet = self.tweets[b % len(self.tweets)][0]
            r = (self.api.post if kind == "like" else self.api.delete)(f"/tweets/{tweet}/like", headers=h)
            assert r.status_code in (204, 404), r.text
        elif kind == "read":
            r = self.api.get("/timeline", headers=h, params={"user_id": u, "limit": 5})
            assert r.status_code == 200, r.text
        elif kind == "away":
            self.redis.delete(RedisKeys(self.settings.redis_prefix).timeline(u))

    def check(self) -> None:
        ref = ReferenceModel(log_events(self.settings))
        likes, replies = ref.like_counts(), ref.reply_counts()
        for u in self.users:
            was_away = not self.redis.exists(RedisKeys(self.settings.redis_prefix).timeline(u))
            served, statuses = self.home(u)
            expected = ref.home(int(u), 10_000)
            assert [int(t["tweet_id"]) for t in served] == expected, f"home timeline of {u}"
            assert statuses[0] == ("rebuilt" if was_away else "ready")
            for t in served:
                tid = int(t["tweet_id"])
                assert t["content"] == ref.content[tid]
                assert (t["like_count"], t["reply_count"]) == (likes.get(tid, 0), replies.get(tid, 0)), tid
                assert t["user_id"] == str(ref.tweets[tid].author_id)

    def home(self, u: str) -> tuple[list[dict[str, Any]], list[str]]:
        out: list[dict[str, Any]] = []
        statuses: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"user_id": u, "limit": 7}
            if cursor:
                params["cursor"] = cursor
            r = self.api.get("/timeline", headers=self.auth[u], params=params)
            assert r.status_code == 200, r.text
            out += r.json()["tweets"]
            statuses.append(r.json()["status"])
            cursor = r.json()["next_cursor"]
            if not cursor:
                return out, statuses


def log_events(settings: Settings) -> list[Event]:
    """Every event in the log, per partition in log order; poison (from other tests) is left out."""
    codec = default_codec()
    out: list[Event] = []
    for topic in EVENT_TOPICS:
        for m in read_topic(settings, topic.name):
            try:
                out.append(codec.decode(m.value))
            except DecodeError:
                continue
    return out


def start_run(api: TestClient, settings: Settings, redis: Any) -> Run:
    run = Run(api, settings, redis)
    for _ in range(USERS):
        run.register()
    # one account starts above the threshold, so every run has a celebrity and ordinary accounts
    for fan in run.users[1:]:
        run.do(("follow", run.users.index(fan), 0))
    for reader in range(1, USERS - 1):  # materialized timelines; the last user starts inactive
        run.do(("read", reader, 0))
    return run


@hsettings(max_examples=12, **RUNS)  # type: ignore[arg-type]
@given(ops=st.lists(OPS, min_size=40, max_size=80))
def test_every_home_timeline_equals_the_reference(
    ops: list[tuple[Any, ...]], api: TestClient, settings: Settings, worker: WorkerProcess, redis_client: Any
) -> None:
    run = start_run(api, settings, redis_client)
    for op in ops:
        run.do(op)
    wait_idle(settings, worker)
    run.check()


@hsettings(max_examples=3, **RUNS)  # type: ignore[arg-type]
@given(ops=st.lists(OPS, min_size=40, max_size=80), kill_at=st.floats(0.1, 0.9))
def test_the_rule_holds_when_the_worker_is_killed_mid_run(
    ops: list[tuple[Any, ...]],
    kill_at: float,
    api: TestClient,
    settings: Settings,
    worker: WorkerProcess,
    redis_client: Any,
) -> None:
    run = start_run(api, settings, redis_client)
    cut = int(len(ops) * kill_at)
    for op in ops[:cut]:
        run.do(op)
    worker.kill()  # SIGKILL while events are in flight: no clean shutdown, no final commit
    for op in ops[cut:]:  # the API keeps accepting writes while no worker runs
        run.do(op)
    worker.start()
    wait_idle(settings, worker, deadline_s=120)
    run.check()
