"""Push and polling against the real services: two real API processes (`python -m api`), the real worker,
clients over SSE (httpx streaming) and WebSocket (the `websockets` package)."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect as ws_connect

from infra.settings import Settings
from projections.push import channel, online_index, presence_key
from projections.stores.keys import channels
from projections.timeline import decode_cursor, encode_cursor
from tests.integration.conftest import CELEBRITY_THRESHOLD
from tests.integration.support import ApiProcess, WorkerProcess, register, wait_idle

pytestmark = pytest.mark.integration
DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def apis(settings: Settings) -> Iterator[tuple[ApiProcess, ApiProcess]]:
    one = ApiProcess(settings, CHIRP_PUSH_HEARTBEAT_S="0.5")
    try:
        two = ApiProcess(settings, CHIRP_PUSH_HEARTBEAT_S="0.5")
    except BaseException:
        one.stop()
        raise
    yield one, two
    for p in (one, two):
        out = p.stop()
        assert "Application shutdown complete" in out, out[-3000:]


class Sse:
    """An SSE client in a thread: events land in a queue the test reads with a deadline."""

    def __init__(self, url: str, token: str, last_event_id: str | None = None, query: bool = False) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.comments: list[str] = []
        self.status: int | None = None
        self.opened = threading.Event()
        self.stop = threading.Event()
        headers, params = {}, {}
        if query:
            params["access_token"] = token
        else:
            headers["Authorization"] = f"Bearer {token}"
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.thread = threading.Thread(target=self._run, args=(url, headers, params), daemon=True)
        self.thread.start()
        assert self.opened.wait(DEADLINE_S), "the stream did not open"
        assert self.status == 200, self.status

    def _run(self, url: str, headers: dict[str, str], params: dict[str, str]) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=DEADLINE_S)) as c,
            c.stream("GET", f"{url}/timeline/stream", headers=headers, params=params) as r,
        ):
            self.status = r.status_code
            if r.status_code != 200:
                self.opened.set()
                return
            current: dict[str, str] = {}
            for line in r.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith(":"):
                    self.comments.append(line)
                    self.opened.set()
                elif line == "":
                    if current:
                        self.events.put({**current, "data": json.loads(current["data"])})
                        current = {}
                else:
                    name, _, value = line.partition(":")
                    current[name] = value.removeprefix(" ")

    def next(self) -> dict[str, Any]:
        try:
            return self.events.get(timeout=DEADLINE_S)
        except queue.Empty:
            raise AssertionError("no event arrived") from None

    def close(self) -> None:
        self.stop.set()  # the thread sees it at the next line: a heartbeat comes every 0.5 s
        self.thread.join(DEADLINE_S)
        assert not self.thread.is_alive()


def post(api: TestClient, auth: dict[str, str], user: str, content: str) -> str:
    r = api.post("/tweets", headers=auth, json={"user_id": user, "content": content})
    assert r.status_code == 201, r.text
    tweet_id: str = r.json()["tweet_id"]
    return tweet_id


def follow(api: TestClient, auth: dict[str, str], follower: str, followee: str) -> None:
    r = api.post("/follow", headers=auth, json={"follower_id": follower, "followee_id": followee})
    assert r.status_code == 204, r.text


def timeline(api: TestClient, auth: dict[str, str], user: str, **params: Any) -> dict[str, Any]:
    r = api.get("/timeline", headers=auth, params={"user_id": user, **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def token(auth: dict[str, str]) -> str:
    return auth["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def pair(api: TestClient, worker: WorkerProcess, settings: Settings, uniq: str) -> dict[str, Any]:
    """A reader following an author, projected."""
    reader, rauth = register(api, f"r{uniq}")
    author, aauth = register(api, f"a{uniq}")
    follow(api, rauth, reader, author)
    wait_idle(settings, worker)
    return {"reader": reader, "rauth": rauth, "author": author, "aauth": aauth}


def test_sse_pushes_a_followed_authors_tweet_as_get_timeline_renders_it(
    api: TestClient, apis: tuple[ApiProcess, ApiProcess], pair: dict[str, Any], worker: WorkerProcess,
    settings: Settings
) -> None:  # fmt: skip
    sse = Sse(apis[0].url, token(pair["rauth"]))
    try:
        tweet_id = post(api, pair["aauth"], pair["author"], "pushed to you")
        event = sse.next()
        assert event["event"] == "update" and event["id"] == encode_cursor(int(tweet_id))
        wait_idle(settings, worker)
        shown = timeline(api, pair["rauth"], pair["reader"])["tweets"][0]
        assert event["data"] == shown  # the same object GET /timeline renders
        assert shown["author"]["user_id"] == pair["author"]

        assert api.delete(f"/tweets/{tweet_id}", headers=pair["aauth"]).status_code == 204
        event = sse.next()
        assert event == {"event": "delete", "data": {"tweet_id": tweet_id}}  # no id: it would reset Last-Event-ID
        assert any("connected" in c for c in sse.comments)
    finally:
        sse.close()


def test_reconnect_with_last_event_id_gets_exactly_what_was_missed(
    api: TestClient, apis: tuple[ApiProcess, ApiProcess], pair: dict[str, Any], worker: WorkerProcess,
    settings: Settings
) -> None:  # fmt: skip
    a, aauth = pair["author"], pair["aauth"]
    sse = Sse(apis[0].url, token(pair["rauth"]))
    first = post(api, aauth, a, "seen live")
    seen = sse.next()
    assert seen["data"]["tweet_id"] == first
    sse.close()
    missed = [post(api, aauth, a, f"missed {i}") for i in range(3)]
    wait_idle(settings, worker)
    sse = Sse(apis[1].url, token(pair["rauth"]), last_event_id=seen["id"])  # another process, too
    try:
        after = post(api, aauth, a, "after the reconnect")
        got = [sse.next()["data"]["tweet_id"] for _ in range(4)]
        assert got == [*missed, after]  # oldest first, then live: no gap
        last = post(api, aauth, a, "one more")
        assert sse.next()["data"]["tweet_id"] == last  # and nothing twice before it
        assert sse.events.empty()
    finally:
        sse.close()


def test_clients_on_two_processes_each_get_their_pushes(
    api: TestClient, apis: tuple[ApiProcess, ApiProcess], worker: WorkerProcess, settings: Settings, uniq: str
) -> None:
    author, aauth = register(api, f"a{uniq}")
    readers = [register(api, f"r{i}{uniq}") for i in range(2)]
    for reader, rauth in readers:
        follow(api, rauth, reader, author)
    wait_idle(settings, worker)
    one = Sse(apis[0].url, token(readers[0][1]))
    two = Sse(apis[1].url, token(readers[1][1]), query=True)  # ?access_token= as browsers send it
    also = Sse(apis[1].url, token(readers[0][1]))  # the same user on the other process too
    try:
        tweet_id = post(api, aauth, author, "to both processes")
        for sse in (one, two, also):
            assert sse.next()["data"]["tweet_id"] == tweet_id
    finally:
        for sse in (one, two, also):
            sse.close()


def test_websocket_receives_pushes_and_heartbeats(
    api: TestClient, apis: tuple[ApiProcess, ApiProcess], pair: dict[str, Any]
) -> None:
    ws_url = apis[1].url.replace("http", "ws") + "/timeline/ws"
    with ws_connect(f"{ws_url}?access_token={token(pair['rauth'])}", open_timeout=DEADLINE_S) as ws:
        tweet_id = post(api, pair["aauth"], pair["author"], "over a websocket")
        events: list[dict[str, Any]] = []
        while not any(e["event"] == "update" for e in events):
            events.append(json.loads(ws.recv(timeout=DEADLINE_S)))
        update = next(e for e in events if e["event"] == "update")
        assert update["data"]["tweet_id"] == tweet_id and update["id"] == encode_cursor(int(tweet_id))
        while events[-1]["event"] != "heartbeat":
            events.append(json.loads(ws.recv(timeout=DEADLINE_S)))
        assert events[-1] == {"event": "heartbeat", "id": "", "data": {}}
    with pytest.raises(Exception, match="403"), ws_connect(f"{ws_url}?access_token=wrong", open_timeout=10):
        pass


def test_stream_errors(api: TestClient, apis: tuple[ApiProcess, ApiProcess], pair: dict[str, Any]) -> None:
    url = f"{apis[0].url}/timeline/stream"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, params={"access_token": "nope"}, timeout=10).status_code == 401
    auth = pair["rauth"]
    assert httpx.get(url, headers=auth, params={"user_id": pair["author"]}, timeout=10).status_code == 403
    r = httpx.get(url, headers=auth, params={"last_event_id": "garbage!"}, timeout=10)
    assert r.status_code in (400, 422) and "last_event_id" in r.text


def opens(url: str, auth: dict[str, str]) -> int:
    """The status a stream opens with (then it is closed)."""
    with httpx.stream("GET", url, headers=auth, timeout=10) as r:
        return r.status_code


def test_streams_per_user_are_capped_across_processes(
    api: TestClient, apis: tuple[ApiProcess, ApiProcess], settings: Settings, uniq: str
) -> None:
    """Eight streams (the default cap) spread over two processes: a ninth on either is 429; once one
    closes, its lease is given back and another opens."""
    _, auth = register(api, f"s{uniq}")
    cap = settings.push_max_streams
    streams = [Sse(apis[i % 2].url, token(auth)) for i in range(cap)]
    try:
        for proc in apis:
            r = httpx.get(f"{proc.url}/timeline/stream", headers=auth, timeout=10)
            assert r.status_code == 429 and "Retry-After" in r.headers, r.text
        streams.pop().close()
        deadline = time.monotonic() + DEADLINE_S
        while (code := opens(f"{apis[0].url}/timeline/stream", auth)) == 429:
            assert time.monotonic() < deadline, "the closed stream's lease was not given back"
            time.sleep(0.05)
        assert code == 200
    finally:
        for sse in streams:
            sse.close()


def test_polling_with_since_returns_only_newer_entries(
    api: TestClient, pair: dict[str, Any], worker: WorkerProcess, settings: Settings
) -> None:
    a, aauth, r, rauth = pair["author"], pair["aauth"], pair["reader"], pair["rauth"]
    post(api, aauth, a, "old")
    wait_idle(settings, worker)
    first = timeline(api, rauth, r)
    mark = first["newest_cursor"]
    assert mark == encode_cursor(int(first["tweets"][0]["tweet_id"]))
    assert timeline(api, rauth, r, since=mark) == {"tweets": [], "next_cursor": None, "status": "ready",
                                                   "newest_cursor": mark}  # fmt: skip
    new = [post(api, aauth, a, f"new {i}") for i in range(3)]
    wait_idle(settings, worker)
    polled = timeline(api, rauth, r, since=mark)
    assert [t["tweet_id"] for t in polled["tweets"]] == new[::-1] and polled["next_cursor"] is None
    assert polled["newest_cursor"] == encode_cursor(int(new[-1]))
    page = timeline(api, rauth, r, since=mark, limit=2)  # the newest two, and where the rest is
    assert [t["tweet_id"] for t in page["tweets"]] == new[:0:-1] and page["next_cursor"]
    rest = timeline(api, rauth, r, since=mark, cursor=page["next_cursor"], limit=2)
    assert [t["tweet_id"] for t in rest["tweets"]] == new[:1] and rest["next_cursor"] is None
    bad = api.get("/timeline", headers=rauth, params={"user_id": r, "since": "nope"})
    assert bad.status_code == 422 and "since" in bad.json()["message"]


def test_celebrity_tweets_reach_polls_and_streams(
    api: TestClient, apis: tuple[ApiProcess, ApiProcess], worker: WorkerProcess, settings: Settings, uniq: str
) -> None:
    celeb, cauth = register(api, f"c{uniq}")
    fans = [register(api, f"f{i}{uniq}") for i in range(CELEBRITY_THRESHOLD + 1)]
    for fan, fauth in fans:
        follow(api, fauth, fan, celeb)
    post(api, cauth, celeb, "crossing the threshold")
    wait_idle(settings, worker)
    fan, fauth = fans[0]
    mark = timeline(api, fauth, fan)["newest_cursor"]
    sse = Sse(apis[0].url, token(fauth))
    try:
        tweet_id = post(api, cauth, celeb, "merged at read time")
        assert sse.next()["data"]["tweet_id"] == tweet_id
        wait_idle(settings, worker)
        assert [t["tweet_id"] for t in timeline(api, fauth, fan, since=mark)["tweets"]] == [tweet_id]
    finally:
        sse.close()


def test_the_worker_publishes_only_for_users_online(
    api: TestClient, worker: WorkerProcess, settings: Settings, redis_client: Any, uniq: str
) -> None:
    """Watched from outside with a pattern subscription (not how the API listens): nothing is published
    for a follower without a presence key; once one exists, the next tweet is."""
    author, aauth = register(api, f"a{uniq}")
    reader, rauth = register(api, f"r{uniq}")
    follow(api, rauth, reader, author)
    timeline(api, rauth, reader)  # materialized: the fan-out delivers to it
    wait_idle(settings, worker)
    watch = redis_client.pubsub()
    watch.psubscribe(channels(settings.redis_prefix))
    try:
        unseen = post(api, aauth, author, "nobody is online")
        wait_idle(settings, worker)
        ((_, listeners),) = redis_client.pubsub_numsub(channel(settings.redis_prefix, int(reader)))
        assert listeners == 0  # no API process subscribes for a user nobody streams
        p = settings.redis_prefix
        redis_client.set(presence_key(p, int(reader)), 1, ex=60)
        redis_client.zadd(online_index(p), {reader: time.time() + 60})
        seen = post(api, aauth, author, "now someone is")
        wanted = {channel(p, int(reader)).encode(), channel(p, int(author)).encode()}
        deadline = time.monotonic() + DEADLINE_S
        got: list[dict[str, Any]] = []
        while not got:
            assert time.monotonic() < deadline, "nothing was published"
            m = watch.get_message(timeout=1)
            if m and m["type"] == "pmessage" and m["channel"] in wanted:
                got.append(json.loads(m["data"]))
        assert got[0]["data"]["tweet_id"] == seen != unseen  # the first tweet was never published
        assert decode_cursor(got[0]["id"]) == int(seen)
    finally:
        redis_client.delete(presence_key(settings.redis_prefix, int(reader)))
        watch.close()


def test_shutdown_ends_open_streams(api: TestClient, settings: Settings, pair: dict[str, Any]) -> None:
    """uvicorn waits for open responses before it shuts the app down; a stream never ends by itself, so the
    API ends them on SIGTERM and stops promptly (`stop` waits 30 s at most)."""
    proc = ApiProcess(settings, CHIRP_PUSH_HEARTBEAT_S="0.5")
    sse = Sse(proc.url, token(pair["rauth"]))
    with ws_connect(proc.url.replace("http", "ws") + f"/timeline/ws?access_token={token(pair['rauth'])}") as ws:
        out = proc.stop()
        assert "Application shutdown complete" in out, out[-3000:]
        sse.thread.join(DEADLINE_S)
        assert not sse.thread.is_alive()  # the response ended
        assert any("shutting down" in c for c in sse.comments)
        with pytest.raises(Exception, match="1012"):
            while True:
                ws.recv(timeout=DEADLINE_S)
