"""Safe retries: a write sent again with the same `Idempotency-Key` gets the first answer, not a second event.

The first request with a key takes a short lease on it in Redis (`SET NX`), runs, and stores its answer
for 24 hours (a setting) beside a digest of the request (method, path, query, body). A retry with the same
key and the same request gets that answer again with `Idempotent-Replayed: true`; with another request,
422; while the first is still running, 409 with `Retry-After`. Keys are scoped to the caller (the token's
user, or the client address when there is no valid token), so one client cannot read another's answers.

Only settled answers are kept: a 5xx or a 429 means nothing was written, so the lease is dropped and the
retry runs afresh; but when Kafka may have taken the event (its acknowledgement never came), the key
remembers the ids the attempt used and the retry uses them again (`Identities`). The lease itself records
the ids the attempt will use (drawn before it runs), so that if the process dies mid-write the retry, once
the lease has lapsed, uses them too: the log may then hold the event twice, never two writes. If Redis
cannot be reached the request runs without the guard (logged): the write is still acknowledged only after
Kafka took it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import redis.asyncio as aioredis
from fastapi import Depends
from redis.asyncio.cluster import RedisCluster
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.allow import methods_for
from api.headers import bearer, caller_key
from api.limits import buffered
from infra.redisnodes import RedisNodes
from schemas.events import Meta
from schemas.ids import IdSource

log = logging.getLogger("chirp.api.idempotency")

HEADER = "idempotency-key"
REPLAYED = b"idempotent-replayed"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY = 255
_KEPT_HEADERS = frozenset({b"content-type", b"location", b"etag", b"link", b"x-chirp-position"})


@dataclass
class Identities:
    """The ids a write hands out (tweet ids, event ids). A retry of a write whose first attempt may have
    reached Kafka (its acknowledgement never came) hands out the same ones again, so that if both attempts
    are in the log they are one event twice (same event id, same tweet id), which every read model and any
    consumer deduplicating by event id counts once, and never two tweets."""

    ids: IdSource
    reuse_ids: list[int] = field(default_factory=list)
    reuse_events: list[str] = field(default_factory=list)
    used_ids: list[int] = field(default_factory=list)
    used_events: list[str] = field(default_factory=list)

    def next_id(self) -> int:
        value = self.reuse_ids.pop(0) if self.reuse_ids else self.ids.next_id()
        self.used_ids.append(value)
        return value

    def plan(self, n: int) -> None:
        """Draws the next `n` ids and event ids before the write runs (the lease records them)."""
        self.reuse_ids = [self.ids.next_id() for _ in range(n)]
        self.reuse_events = [str(uuid.uuid4()) for _ in range(n)]

    def meta(self, actor_id: int) -> Meta:
        event_id = self.reuse_events.pop(0) if self.reuse_events else str(uuid.uuid4())
        self.used_events.append(event_id)
        return Meta(event_id, datetime.now(UTC), actor_id)


STATE_KEY = "chirp.identities"
PLANNED = 2  # ids and event ids drawn before a write runs: what the write routes take at most
MAYBE_WRITTEN = "chirp.maybe_written"


class IdempotencyStore:
    """The answers, in Redis under `{prefix}idem:`; the key layout lives here alone. One key per request and
    single-key commands only, so a Redis Cluster's general client (infra/redisnodes.py) serves it as one Redis."""

    def __init__(
        self, client: aioredis.Redis | RedisCluster | RedisNodes, prefix: str, ttl_s: int, lease_s: int,
        replicas: int = 0, wait_ms: int = 100,
    ) -> None:  # fmt: skip
        """`replicas`: how many replicas must hold a new lease before the write runs (WAIT; 0: none): a lease
        lost with a primary that failed over would let a retry draw new ids and write a second time."""
        self.nodes = client if isinstance(client, RedisNodes) else RedisNodes(client)
        self.r: Any = self.nodes.client
        self.prefix = f"{prefix}idem:"
        self.ttl_s = ttl_s
        self.lease_s = lease_s
        self.replicas = replicas
        self.wait_ms = wait_ms

    def _key(self, scope: str, key: str) -> str:
        return self.prefix + hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()

    async def begin(self, scope: str, key: str, digest: str, planned: Identities) -> dict[str, object] | None:
        """None when this request now holds the key (its lease records the identities it `planned` to use);
        else what is stored: an answer, a running lease, or an uncertain record to resume, which is also what
        a lapsed lease becomes (its holder died; its write may be in the log)."""
        k = self._key(scope, key)
        lease = self._lease(digest, planned.reuse_ids, planned.reuse_events)
        if await self._take(k, lease):
            return None
        raw = await self.r.get(k)
        if raw is None:  # the record expired between the two calls: take it now
            return None if await self.r.set(k, lease, nx=True, ex=self.ttl_s) else {"state": "running"}
        stored: dict[str, object] = orjson.loads(raw)
        until = stored.get("until", 0)
        if stored.get("state") == "running" and isinstance(until, int | float) and until < time.time():
            stored["state"] = "uncertain"
        return stored

    async def _take(self, k: str, lease: bytes) -> bool:
        """SET NX of a lease, then (with `replicas`) WAIT on the same connection of the key's node."""
        if not self.replicas:
            return bool(await self.r.set(k, lease, nx=True, ex=self.ttl_s))
        async with self.nodes.for_key(k).pipeline(transaction=False) as pipe:
            pipe.set(k, lease, nx=True, ex=self.ttl_s)
            pipe.execute_command("WAIT", self.replicas, self.wait_ms)
            taken, acked = await pipe.execute()
        if taken and acked < self.replicas:
            log.warning("idempotency lease on fewer than %d replicas in %d ms", self.replicas, self.wait_ms)
        return bool(taken)

    def _lease(self, digest: str, ids: list[int], events: list[str]) -> bytes:
        until = time.time() + self.lease_s
        return orjson.dumps({"digest": digest, "state": "running", "until": until, "ids": ids, "events": events})

    async def finish(self, scope: str, key: str, digest: str, status: int, headers: list[list[str]],
                     body: bytes) -> None:  # fmt: skip
        answer = {
            "digest": digest,
            "state": "done",
            "status": status,
            "headers": headers,
            "body": body.decode("latin-1"),
        }
        await self.r.set(self._key(scope, key), orjson.dumps(answer), ex=self.ttl_s)

    async def abandon(self, scope: str, key: str) -> None:
        await self.r.delete(self._key(scope, key))

    async def uncertain(self, scope: str, key: str, digest: str, used: Identities) -> None:
        """The write may be in the log: a retry must hand out the same identities (those this attempt used, then
        any it was given back and did not get to)."""
        ids, events = used.used_ids + used.reuse_ids, used.used_events + used.reuse_events
        record = {"digest": digest, "state": "uncertain", "ids": ids, "events": events}
        await self.r.set(self._key(scope, key), orjson.dumps(record), ex=self.ttl_s)

    async def retake(self, scope: str, key: str, digest: str, used: Identities) -> None:
        """Leases an uncertain key again for its retry (the identities stay in the record)."""
        await self.r.set(self._key(scope, key), self._lease(digest, used.reuse_ids, used.reuse_events), ex=self.ttl_s)


class Idempotency:
    """ASGI middleware on the write methods; `store_of(scope)` and `caller_of(conn)` come from the app's
    wiring, so it runs without any when the app was built on fakes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        key = conn.headers.get(HEADER)
        wiring = getattr(scope["app"].state, "wiring", None)
        store: IdempotencyStore | None = getattr(wiring, "idempotency", None)
        if key is None or store is None or not _routed(scope):
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
            await _answer(send, 422, {"detail": f"Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters"})
            return
        body, receive = await buffered(scope, receive)
        caller = await _caller(wiring, conn)
        digest = _digest(scope, body)
        assert wiring is not None  # a store comes from the wiring
        identities = Identities(wiring.ids)
        try:
            identities.plan(PLANNED)
            stored = await store.begin(caller, key, digest, identities)
        except Exception as exc:  # Redis away (or no id can be made now): the write runs unguarded
            log.warning("Idempotency-Key not checked: %s", type(exc).__name__)
            await self.app(scope, receive, send)
            return
        resumed = stored is not None and stored.get("state") == "uncertain" and stored.get("digest") == digest
        if resumed:
            assert stored is not None
            identities.reuse_ids = list(stored.get("ids", []))  # type: ignore[call-overload]
            identities.reuse_events = list(stored.get("events", []))  # type: ignore[call-overload]
            await store.retake(caller, key, digest, identities)
        elif stored is not None:
            await _replay(send, stored, digest)
            return
        scope.setdefault("state", {})[STATE_KEY] = identities
        await self._run_and_keep(scope, receive, send, store, caller, key, digest, resumed)

    async def _run_and_keep(self, scope: Scope, receive: Receive, send: Send, store: IdempotencyStore,
                            caller: str, key: str, digest: str, resumed: bool) -> None:  # fmt: skip
        """Runs the write and keeps its outcome for the key. `resumed`: an earlier attempt may be in the log, so
        a failure of this one, even a certain one, keeps the key uncertain (its identities for the next retry):
        forgetting them would let a later retry write the same request under new ids."""
        start: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, keep)
        finally:
            status = int(start.get("status", 500))
            try:
                state = scope.get("state", {})
                if (status >= 500 or status == 429) and (resumed or state.get(MAYBE_WRITTEN)):
                    await store.uncertain(caller, key, digest, state[STATE_KEY])
                elif status >= 500 or status == 429:
                    await store.abandon(caller, key)  # nothing was written: the retry runs afresh
                else:
                    kept = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in start.get("headers", [])
                            if k.lower() in _KEPT_HEADERS]  # fmt: skip
                    await store.finish(caller, key, digest, status, kept, b"".join(chunks))
            except Exception as exc:
                log.warning("answer for an Idempotency-Key not kept (Redis): %s", type(exc).__name__)


def _routed(scope: Scope) -> bool:
    """Whether a route takes this method and path (else routing answers 404 or 405, key or no key)."""
    return scope["method"] in methods_for(scope)


async def _caller(wiring: Any, conn: HTTPConnection) -> str:
    """Whom a key belongs to: the token's user, else the client address."""
    token = bearer(conn.headers.get("authorization"))
    user = None
    if token is not None:
        with contextlib.suppress(Exception):  # the route will say what is wrong with the token
            user = await wiring.accounts.user_for_token(token)
    return caller_key(user, conn)


def _digest(scope: Scope, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


async def _replay(send: Send, stored: dict[str, object], digest: str) -> None:
    if stored.get("digest") not in (None, digest):
        await _answer(send, 422, {"detail": "this Idempotency-Key was used for another request"})
        return
    if stored.get("state") != "done":
        await _answer(send, 409, {"detail": "a request with this Idempotency-Key is still running; retry"},
                      ((b"retry-after", b"1"),))  # fmt: skip
        return
    pairs: list[list[str]] = stored.get("headers", [])  # type: ignore[assignment]
    body = str(stored.get("body", "")).encode("latin-1")
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs]
    headers += [(REPLAYED, b"true"), (b"content-length", str(len(body)).encode())]
    status = stored.get("status", 200)
    await send({"type": "http.response.start", "status": int(status) if isinstance(status, int) else 200,
                "headers": headers})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


async def _answer(
    send: Send, status: int, payload: dict[str, str], extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    body = orjson.dumps(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


KEY_NOTE = (
    "\n\nSend `Idempotency-Key: <a unique string, such as a UUID>` to make a retry safe: for 24 hours the same "
    "key and request get the first answer again (with `Idempotent-Replayed: true`) and write nothing; the "
    "same key with another request is 422; while the first is still running, 409."
)
CONFLICT = {
    "description": "A request with this Idempotency-Key is still running; retry after `Retry-After`.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Says in every write operation of an OpenAPI schema what the middleware serves: the header, in the
    description (not as a formal parameter: a schema-driven client that made keys up would reuse one for
    different requests and meet the 422 it asks for), and the 409."""
    for operations in schema.get("paths", {}).values():
        for method, op in operations.items():
            if method.upper() in WRITES:
                op["description"] = op.get("description", op.get("summary", "")) + KEY_NOTE
                op.setdefault("responses", {}).setdefault("409", CONFLICT)
    return schema


async def identities(request: Request) -> Identities:
    """The ids this request hands out: stable across retries with one Idempotency-Key, else fresh. A
    coroutine, though it awaits nothing: FastAPI runs a plain function dependency in its thread pool, a hop
    to a worker thread and back on every write."""
    found = request.scope.get("state", {}).get(STATE_KEY)
    return found if found is not None else Identities(request.app.state.wiring.ids)


Ids = Annotated[Identities, Depends(identities)]
