"""The Mastodon API's notifications, markers, first-screen routes, search and trends (in-process, real services),
and its streaming (a real API process): SSE and WebSocket clients receive update, notification, status.update and
delete."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect as ws_connect

from infra.settings import Settings
from tests.integration.support import ApiProcess, WorkerProcess, wait_idle
from tests.integration.test_mastodon_api import bearer, make_app, password_login, register

pytestmark = pytest.mark.integration
DEADLINE_S = 30.0
Client = TestClient | httpx.Client


class User:
    def __init__(self, c: Client, app: dict[str, Any], name: str) -> None:
        self.name = name
        self.token = register(c, app, name)["access_token"]
        self.auth = bearer(self.token)
        self.id: str = c.get("/api/v1/accounts/verify_credentials", headers=self.auth).json()["id"]


def post(c: Client, u: User, content: str, reply_to: str | None = None) -> str:
    r = c.post("/tweets", headers=u.auth, json={"user_id": u.id, "content": content, "reply_to": reply_to})
    assert r.status_code == 201, r.text
    tweet_id: str = r.json()["tweet_id"]
    return tweet_id


def like(c: Client, u: User, tweet_id: str) -> None:
    r = c.post(f"/tweets/{tweet_id}/like", headers=u.auth, json={"user_id": u.id})
    assert r.status_code in (200, 204), r.text


def follow(c: Client, u: User, other: User) -> None:
    r = c.post(f"/api/v1/accounts/{other.id}/follow", headers=u.auth)
    assert r.status_code == 200, r.text


def get(c: Client, path: str, u: User, **params: Any) -> Any:
    r = c.get(path, headers=u.auth, params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def app(api: TestClient) -> dict[str, Any]:
    made: dict[str, Any] = make_app(api)
    return made


def test_notifications_types_paging_markers_and_clear(
    api: TestClient, app: dict[str, Any], settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    ann, bob = User(api, app, f"na{uniq}"), User(api, app, f"nb{uniq}")
    follow(api, bob, ann)
    tweet = post(api, ann, "a status of ann's")
    wait_idle(settings, worker)
    mention = post(api, bob, f"hello @{ann.name}")
    like(api, bob, tweet)
    reply = post(api, bob, "a reply", reply_to=tweet)
    wait_idle(settings, worker)

    got = get(api, "/api/v1/notifications", ann)
    assert [n["type"] for n in got] == ["mention", "favourite", "mention", "follow"]  # the reply is a mention
    assert [n["status"]["id"] if n["status"] else None for n in got] == [reply, tweet, mention, None]
    assert all(n["account"]["id"] == bob.id and n["group_key"] == f"ungrouped-{n['id']}" for n in got)
    assert got[2]["status"]["mentions"][0]["id"] == ann.id and "h-card" in got[2]["status"]["content"]
    ids = [n["id"] for n in got]

    assert [n["id"] for n in get(api, "/api/v1/notifications", ann, **{"types[]": "favourite"})] == [ids[1]]
    assert [n["type"] for n in get(api, "/api/v1/notifications", ann, **{"exclude_types[]": ["mention"]})] == [
        "favourite", "follow",
    ]  # fmt: skip
    assert get(api, "/api/v1/notifications", ann, **{"types[]": ["status", "reblog"]}) == []
    assert len(get(api, "/api/v1/notifications", ann, account_id=bob.id)) == 4
    assert get(api, "/api/v1/notifications", ann, account_id=ann.id) == []

    # paging: limit and Link; since_id (the newest above), min_id (the ones just above)
    first = api.get("/api/v1/notifications", headers=ann.auth, params={"limit": 2})
    assert [n["id"] for n in first.json()] == ids[:2]
    links = dict((rel, url) for url, rel in _links(first.headers["link"]))
    assert parse_qs(urlsplit(links["next"]).query)["max_id"] == [ids[1]]
    older = api.get(links["next"].replace("http://testserver", ""), headers=ann.auth).json()
    assert [n["id"] for n in older] == ids[2:]
    assert [n["id"] for n in get(api, "/api/v1/notifications", ann, since_id=ids[3], limit=2)] == ids[:2]
    assert [n["id"] for n in get(api, "/api/v1/notifications", ann, min_id=ids[3], limit=2)] == ids[1:3]
    assert [n["id"] for n in get(api, "/api/v1/notifications", ann, **{"types[]": "mention", "limit": 1,
                                                                       "max_id": ids[0]})] == [ids[2]]  # fmt: skip

    assert get(api, f"/api/v1/notifications/{ids[1]}", ann)["status"]["id"] == tweet
    assert api.get(f"/api/v1/notifications/{ids[1]}", headers=bob.auth).status_code == 404  # not bob's
    assert api.get("/api/v1/notifications").status_code == 401
    narrow = password_login(api, app, ann.name, "correct horse", "read:accounts").json()["access_token"]
    assert api.get("/api/v1/notifications", headers=bearer(narrow)).status_code == 403
    assert api.get("/api/v1/markers", headers=bearer(narrow)).status_code == 403

    # markers: none yet; set home by JSON and notifications by form; versions count up
    assert get(api, "/api/v1/markers", ann, **{"timeline[]": ["home", "notifications"]}) == {}
    r = api.post("/api/v1/markers", headers=ann.auth, json={"home": {"last_read_id": tweet}})
    assert r.status_code == 200 and r.json()["home"]["last_read_id"] == tweet and r.json()["home"]["version"] == 1
    r = api.post("/api/v1/markers", headers=ann.auth, data={"notifications[last_read_id]": ids[1],
                                                           "home[last_read_id]": reply})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["home"] == {**r.json()["home"], "last_read_id": reply, "version": 2}
    markers = get(api, "/api/v1/markers", ann, **{"timeline[]": ["home", "notifications"]})
    assert markers["home"]["last_read_id"] == reply and markers["notifications"]["last_read_id"] == ids[1]
    assert list(get(api, "/api/v1/markers", ann, **{"timeline[]": "home"})) == ["home"]
    assert api.post("/api/v1/markers", headers=ann.auth, json={"home": {"last_read_id": "x"}}).status_code == 422
    # the notifications marker is chirp's read marker: one unread notification is left (the reply)
    assert get(api, "/notifications/unread_count", ann)["unread_count"] == 1

    r = api.post("/api/v1/notifications/clear", headers=ann.auth)
    assert r.status_code == 200 and r.json() == {}
    assert get(api, "/api/v1/notifications", ann) == []
    assert api.get(f"/api/v1/notifications/{ids[0]}", headers=ann.auth).status_code == 404
    assert get(api, "/notifications/unread_count", ann)["unread_count"] == 0
    assert len(get(api, "/notifications", ann)["notifications"]) == 4  # chirp's own feed keeps them


def _links(header: str) -> list[tuple[str, str]]:
    out = []
    for part in header.split(","):
        url, _, rel = part.partition(";")
        out.append((url.strip()[1:-1], rel.split("=")[1].strip('"')))
    return out


def test_first_screen_routes_answer_with_auth_and_scopes(api: TestClient, app: dict[str, Any], uniq: str) -> None:
    ann = User(api, app, f"fs{uniq}")
    prefs = get(api, "/api/v1/preferences", ann)
    assert prefs["posting:default:visibility"] == "public" and prefs["reading:expand:spoilers"] is False
    with_token = ["/api/v1/lists", "/api/v1/filters", "/api/v2/filters", "/api/v1/follow_requests",
                  "/api/v1/followed_tags", "/api/v1/announcements", "/api/v2/suggestions", "/api/v1/featured_tags",
                  "/api/v1/conversations", "/api/v1/bookmarks", "/api/v1/mutes", "/api/v1/blocks"]  # fmt: skip
    for path in with_token:
        assert get(api, path, ann) == [], path
        assert api.get(path).status_code == 401, path
    for path in ["/api/v1/custom_emojis", "/api/v1/trends/statuses", "/api/v1/trends/links"]:
        assert api.get(path).json() == [], path
    assert api.get(f"/api/v1/accounts/{ann.id}/featured_tags").json() == []
    assert api.get("/api/v1/accounts/1/featured_tags").status_code == 404
    assert api.get(f"/api/v1/accounts/{ann.id}").json()["id"] == ann.id  # the accounts routes still answer
    narrow = password_login(api, app, ann.name, "correct horse", "read:statuses").json()["access_token"]
    assert api.get("/api/v1/lists", headers=bearer(narrow)).status_code == 403
    assert api.get("/api/v1/preferences", headers=bearer(narrow)).status_code == 403
    assert api.get("/api/v1/conversations", headers=bearer(narrow)).json() == []


def test_search_and_trending_tags(
    api: TestClient, app: dict[str, Any], settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    ann, bob, annie = User(api, app, f"sa{uniq}"), User(api, app, f"sb{uniq}"), User(api, app, f"sa{uniq}ie")
    tag = f"zz{uniq}"
    posted = [post(api, u, f"word{uniq} number {i} #{tag.upper()}") for i, u in enumerate([ann, bob] * 4)]
    wait_idle(settings, worker)

    found = get(api, "/api/v2/search", ann, q=f"@{ann.name}", type="accounts")  # the holder, then those it starts
    assert [a["id"] for a in found["accounts"]] == [ann.id, annie.id] and found["statuses"] == found["hashtags"] == []
    by_start = get(api, "/api/v2/search", ann, q=f"SA{uniq[:6]}", type="accounts", limit=1, offset=1)["accounts"]
    assert [a["id"] for a in by_start] == [annie.id] and by_start[0]["acct"] == annie.name
    assert get(api, "/api/v2/search", ann, q="not a handle", type="accounts")["accounts"] == []
    assert get(api, "/api/v2/search", ann, q=f"{ann.name}@testserver", type="accounts")["accounts"][0]["id"] == ann.id
    assert get(api, "/api/v2/search", ann, q=f"{ann.name}@elsewhere.example", type="accounts")["accounts"] == []
    statuses = get(api, "/api/v2/search", ann, q=f"word{uniq}", type="statuses", limit=3)["statuses"]
    assert [s["id"] for s in statuses] == posted[::-1][:3]
    paged = get(api, "/api/v2/search", ann, q=f"word{uniq}", type="statuses", limit=3, offset=3, resolve="true")
    assert [s["id"] for s in paged["statuses"]] == posted[::-1][3:6]
    everything = get(api, "/api/v2/search", ann, q=f"#{tag}")
    assert everything["hashtags"][0]["name"] == tag.upper() and everything["hashtags"][0]["history"][0]["uses"] == "8"
    assert len(everything["statuses"]) == 8 and everything["accounts"] == []
    assert api.get("/api/v2/search", params={"q": f"word{uniq}"}).status_code == 200  # no token: allowed
    write_only = password_login(api, app, ann.name, "correct horse", "write").json()["access_token"]
    assert api.get("/api/v2/search", headers=bearer(write_only), params={"q": "x"}).status_code == 403
    assert api.get("/api/v2/search", params={"q": "x", "type": "groups"}).status_code == 422

    trends = api.get("/api/v1/trends/tags", params={"limit": 20}).json()
    mine = next(t for t in trends if t["name"] == tag.upper())
    assert mine["url"] == f"http://testserver/tags/{tag}"
    assert mine["history"][0]["uses"] == "8" and mine["history"][0]["accounts"] == "2"
    assert int(mine["history"][0]["day"]) % 86400 == 0
    assert api.get("/api/v1/trends", params={"limit": 20}).json() == trends


# Streaming --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[ApiProcess]:
    proc = ApiProcess(settings, CHIRP_PUSH_HEARTBEAT_S="0.5")
    yield proc
    proc.stop()


class Sse:
    """Mastodon's SSE stream read in a thread: (event, data) pairs land in a queue."""

    def __init__(self, url: str, token: str, path: str = "/api/v1/streaming/user") -> None:
        self.events: queue.Queue[tuple[str, str]] = queue.Queue()
        self.held: list[tuple[str, str]] = []
        self.comments: list[str] = []
        self.status: int | None = None
        self.opened, self.stop = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url + path, token), daemon=True)
        self.thread.start()
        assert self.opened.wait(DEADLINE_S) and self.status == 200, self.status

    def _run(self, url: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(timeout=httpx.Timeout(10, read=DEADLINE_S)) as c, c.stream("GET", url, headers=headers) as r:
            self.status = r.status_code
            current: dict[str, str] = {}
            for line in r.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith(":"):
                    self.comments.append(line)
                    self.opened.set()
                elif line == "":
                    if current:
                        self.events.put((current["event"], current["data"]))
                        current = {}
                else:
                    key, _, value = line.partition(": ")
                    current[key] = value
            self.opened.set()

    def next(self, event: str) -> str:
        """The first `event` not taken yet (others arrived meanwhile wait for their turn)."""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            for i, (name, data) in enumerate(self.held):
                if name == event:
                    del self.held[i]
                    return data
            try:
                self.held.append(self.events.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"no {event} arrived; got {self.held}") from None

    def close(self) -> None:
        self.stop.set()
        self.thread.join(DEADLINE_S)


def test_sse_user_stream_gets_update_notification_and_delete(
    api: TestClient, app: dict[str, Any], live: ApiProcess, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    reader, author = User(api, app, f"sr{uniq}"), User(api, app, f"sw{uniq}")
    follow(api, reader, author)
    own = post(api, reader, "the reader's own status")
    wait_idle(settings, worker)
    assert httpx.get(f"{live.url}/api/v1/streaming/health").text == "OK"
    assert httpx.get(f"{live.url}/api/v1/streaming/user", timeout=10).status_code == 401
    stream = Sse(live.url, reader.token)
    try:
        tweet = post(api, author, f"streamed to @{reader.name}")
        update = json.loads(stream.next("update"))
        assert update["id"] == tweet and update["account"]["id"] == author.id
        assert update["mentions"][0]["id"] == reader.id and f"@<span>{reader.name}</span>" in update["content"]
        note = json.loads(stream.next("notification"))  # the mention
        assert note["type"] == "mention" and note["status"]["id"] == tweet and note["account"]["id"] == author.id
        like(api, author, own)
        note = json.loads(stream.next("notification"))
        assert note["type"] == "favourite" and note["status"]["id"] == own
        r = api.patch(f"/tweets/{tweet}", headers=author.auth, json={"content": "edited, #now"})
        assert r.status_code == 200, r.text
        edited = json.loads(stream.next("status.update"))
        assert edited["id"] == tweet and edited["edited_at"] and "#<span>now</span>" in edited["content"]
        assert edited["created_at"] == update["created_at"] and edited["account"]["id"] == author.id
        assert api.delete(f"/tweets/{tweet}", headers=author.auth).status_code in (200, 202, 204)
        assert stream.next("delete") == tweet
        deadline = time.monotonic() + 10
        while ":thump" not in stream.comments and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ":thump" in stream.comments  # every 0.5 s here
    finally:
        stream.close()
    only = Sse(live.url, reader.token, "/api/v1/streaming/user/notification")
    try:
        post(api, author, "not a notification")
        post(api, author, f"but this is, @{reader.name}")
        assert json.loads(only.next("notification"))["type"] == "mention"
        assert only.events.empty() and not only.held  # the update of the first status was never sent here
    finally:
        only.close()


def test_websocket_subscribes_with_token_as_query_or_subprotocol(
    api: TestClient, app: dict[str, Any], live: ApiProcess, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    reader, author = User(api, app, f"wr{uniq}"), User(api, app, f"ww{uniq}")
    follow(api, reader, author)
    own = post(api, reader, "mine")
    wait_idle(settings, worker)
    url = live.url.replace("http", "ws") + "/api/v1/streaming"

    def frames(ws: Any, event: str) -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = json.loads(ws.recv(timeout=DEADLINE_S))
            if frame.get("event") == event or "error" in frame:
                return frame

    with ws_connect(f"{url}?access_token={reader.token}&stream=user", open_timeout=DEADLINE_S) as ws:
        tweet = post(api, author, "over the websocket")
        frame = frames(ws, "update")
        assert frame["stream"] == ["user"] and json.loads(frame["payload"])["id"] == tweet
        pushed = json.loads(frame["payload"])  # links to pages and images, not to the socket's ws:// scheme
        assert pushed["url"].startswith(live.url + "/@") and pushed["account"]["avatar"].startswith(live.url + "/")
        ws.send(json.dumps({"type": "subscribe", "stream": "public"}))
        assert frames(ws, "never") == {"error": "This stream is not available on this server", "status": 400}
        ws.send(json.dumps({"type": "subscribe", "stream": "user:notification"}))
        ws.send(json.dumps({"type": "subscribe", "stream": "nonsense"}))
        assert frames(ws, "never")["error"] == "Unknown stream type"
        like(api, author, own)
        got = [frames(ws, "notification"), frames(ws, "notification")]
        assert sorted(f["stream"][0] for f in got) == ["user", "user:notification"]
        assert json.loads(got[0]["payload"])["type"] == "favourite"
        assert api.delete(f"/tweets/{tweet}", headers=author.auth).status_code in (200, 202, 204)
        assert frames(ws, "delete")["payload"] == tweet

    with ws_connect(url, subprotocols=[reader.token], open_timeout=DEADLINE_S) as ws:
        assert ws.subprotocol == reader.token
        ws.send(json.dumps({"type": "subscribe", "stream": "user"}))
        time.sleep(0.5)  # the subscription is made by the message: give it a moment
        tweet = post(api, author, "a subprotocol's token")
        assert json.loads(frames(ws, "update")["payload"])["id"] == tweet
        ws.send(json.dumps({"type": "unsubscribe", "stream": "user"}))
        time.sleep(0.5)
        post(api, author, "not sent: unsubscribed")
        with pytest.raises(TimeoutError):
            ws.recv(timeout=2)
    with pytest.raises(Exception, match="403"), ws_connect(f"{url}?access_token=wrong", open_timeout=10):
        pass
