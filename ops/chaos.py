"""`chirp chaos` / `make chaos`: faults under a load of writes and reads, judged against the log.

Each scenario runs the real stream worker and API (processes of their own, on the local services, under a
prefix and keyspace of their own) while a client posts, follows, unfollows, likes and reads through the
API, retrying every failed write with its `Idempotency-Key` as a careful client would. A fault is injected
(kill -9 of the worker, of Kafka, of Cassandra or of Redis, or on the cluster topology of one node or process
of each, a Redis Cluster primary included; Redis out of memory; poison and unknown-schema events); the
services come back; then the oracle, the reference model over the log, says:

- acknowledged: writes answered 2xx;
- missing: acknowledged writes not in the log (must be 0);
- duplicated: acknowledged writes in the log as two different events or tweets (must be 0; one event
  sent twice after an unconfirmed append has one event id and counts once);
- wrong timelines: home timelines served differently from the reference after recovery (must be 0);
- healthy dead-lettered: dead letters other than the poison the scenario sent (must be 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx

from infra.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from infra.services.launcher import RedisNode

POISON_KEY = b"chaos-poison"


@dataclass
class Outcome:
    """What one scenario measured (the five counts the oracle gives, and what the client saw)."""

    name: str
    acknowledged: int = 0
    missing: int = 0
    duplicated: int = 0
    wrong_timelines: int = 0
    healthy_dead_lettered: int = 0
    failed_requests: int = 0
    recovery_s: float = 0.0  # from the fault until writes succeed again (a restart included)
    outage_s: float = 0.0  # from the first failed request to the last one: how long clients saw failures
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.wrong_timelines or self.healthy_dead_lettered)


# Processes ------------------------------------------------------------------------------------------


class Child:
    """A chirp process (`python -m streams` or `python -m api`) with these settings; output to a log file."""

    def __init__(
        self, settings: Settings, module: str, log_path: str, command: list[str] | None = None, **env: str
    ) -> None:
        """`command`: another program to run instead of `python -m <module>` (nginx)."""
        self.settings, self.module, self.log_path, self.env = settings, module, log_path, env
        self.command = command or [sys.executable, "-m", module]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**self.settings.child_env(), **self.env}
        with Path(self.log_path).open("ab") as out:
            self.proc = subprocess.Popen(self.command, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                         env=env)  # fmt: skip

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        terminate(self.proc)


def terminate(proc: subprocess.Popen[Any] | None, grace_s: float = 30) -> None:
    """SIGTERM, and SIGKILL if the process is still there after `grace_s`."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    import socket

    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(check: Callable[[], bool], deadline_s: float, what: str) -> float:
    """Polls `check` until it holds; returns the seconds it took."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > deadline_s:
            raise RuntimeError(f"{what}: not within {deadline_s:.0f}s")
        time.sleep(0.2)
    return time.monotonic() - t0


# The client -----------------------------------------------------------------------------------------


@dataclass
class Ack:
    """An acknowledged write and what identifies it in the log."""

    kind: str  # post | follow | unfollow | like
    actor: int
    target: int | str  # followee, tweet id liked, or the post's content


class Client:
    """Writes and reads through the API as a careful client: every write carries an Idempotency-Key and is
    retried with it until it is answered (or `give_up_s` passes)."""

    def __init__(self, base_url: str, seed: int, give_up_s: float = 120.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.rng = random.Random(seed)
        self.give_up_s = give_up_s
        self.users: list[tuple[int, dict[str, str]]] = []
        self.acks: list[Ack] = []
        self.failed = 0
        self.failures: list[float] = []  # when requests failed (monotonic)
        self.reads = 0
        self.tag = uuid.uuid4().hex[:6]
        self.follows: set[tuple[int, int]] = set()
        self.done_pairs: set[tuple[int, int]] = set()  # followed then unfollowed: not again (one event each)
        self.posted: list[int] = []
        self.liked: set[tuple[int, int]] = set()

    def write(self, method: str, path: str, token: dict[str, str] | None, body: dict[str, Any]) -> httpx.Response:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        deadline = time.monotonic() + self.give_up_s
        while True:
            try:
                r = self.http.request(method, path, json=body, headers={**(token or {}), **key})
                if r.status_code < 500 and r.status_code not in (409, 429):
                    return r
            except httpx.HTTPError:
                pass
            self._failed()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path} not answered within {self.give_up_s:.0f}s")
            time.sleep(0.25)

    def _failed(self) -> None:
        self.failed += 1
        self.failures.append(time.monotonic())

    def outage_s(self) -> float:
        """Seconds from the first failed request to the last (0 when none failed)."""
        return self.failures[-1] - self.failures[0] if self.failures else 0.0

    def setup(self, users: int, follows_each: int) -> None:
        for i in range(users):
            r = self.write("POST", "/users", None, {"handle": f"c{self.tag}{i}", "display_name": f"Chaos {i}"})
            self.users.append((int(r.json()["user_id"]), {"Authorization": f"Bearer {r.json()['token']}"}))
        for u, auth in self.users:
            for v, _ in self.rng.sample(self.users, follows_each):
                if v != u and (u, v) not in self.follows:
                    self._follow(u, auth, v)

    def _follow(self, u: int, auth: dict[str, str], v: int) -> None:
        r = self.write("POST", "/follow", auth, {"follower_id": str(u), "followee_id": str(v)})
        if r.status_code == 204:
            self.follows.add((u, v))
            self.acks.append(Ack("follow", u, v))

    def step(self) -> None:
        """One action: mostly posts, some graph changes and likes, and reads."""
        u, auth = self.rng.choice(self.users)
        roll = self.rng.random()
        if roll < 0.55:
            content = f"chaos {self.tag} {len(self.acks)} {uuid.uuid4().hex[:8]}"
            r = self.write("POST", "/tweets", auth, {"user_id": str(u), "content": content})
            if r.status_code == 201:
                self.acks.append(Ack("post", u, content))
                self.posted.append(int(r.json()["tweet_id"]))
        elif roll < 0.65:
            mine = [v for (a, v) in self.follows if a == u]
            if mine and self.rng.random() < 0.5:
                v = self.rng.choice(mine)
                r = self.write("DELETE", "/follow", auth, {"follower_id": str(u), "followee_id": str(v)})
                if r.status_code == 204:
                    self.follows.discard((u, v))
                    self.done_pairs.add((u, v))
                    self.acks.append(Ack("unfollow", u, v))
            else:
                v = self.rng.choice(self.users)[0]
                if v != u and (u, v) not in self.follows and (u, v) not in self.done_pairs:
                    self._follow(u, auth, v)
        elif roll < 0.75 and self.posted:
            t = self.rng.choice(self.posted[-50:])
            if (u, t) not in self.liked:
                r = self.write("POST", f"/tweets/{t}/like", auth, {})
                if r.status_code == 204:
                    self.liked.add((u, t))
                    self.acks.append(Ack("like", u, t))
        else:
            try:
                self.http.get("/timeline", params={"user_id": str(u), "limit": 20}, headers=auth)
                self.reads += 1
            except httpx.HTTPError:
                self._failed()

    def run(self, stop: threading.Event, pause_s: float = 0.02) -> None:
        while not stop.is_set():
            self.step()
            time.sleep(pause_s)

    def acknowledged_writes(self) -> int:
        return len(self.acks)


@contextlib.contextmanager
def load(client: Client) -> Iterator[None]:
    """The client's writes and reads run in a thread for the duration."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def body() -> None:
        try:
            client.run(stop)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=body, name="chaos-load", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=client.give_up_s + 30)
    if errors:
        raise errors[0]


# The oracle -----------------------------------------------------------------------------------------


async def judge(settings: Settings, client: Client, out: Outcome, poison_sent: int, depth: int = 50) -> None:
    """Fills `out` from the log, the dead letters and the served timelines (after the worker caught up)."""
    from infra.kafka import read_all
    from ops.operate import verify
    from schemas.codec import DecodeError, default_codec
    from schemas.topics import DEAD_LETTERS, FOLLOWS, LIKES, TWEETS

    codec = default_codec()
    records = await read_all(settings, [t.kafka_name(settings.topic_prefix) for t in (TWEETS, FOLLOWS, LIKES)])
    events: dict[tuple[str, int, str], set[str]] = {}
    for rec in records:
        try:
            e = codec.decode(rec.value or b"")
        except DecodeError:
            continue
        kind = type(e).__name__
        ident = _identity(kind, e)
        if ident is not None:
            events.setdefault(ident, set()).add(_distinct(kind, e))
    missing: Counter[str] = Counter()
    for ack in client.acks:
        found = events.get((ack.kind, ack.actor, str(ack.target)), set())
        missing[ack.kind] += not found
        out.duplicated += len(found) > 1
    out.missing = sum(missing.values())
    if out.missing:
        out.notes.append("missing by kind: " + ", ".join(f"{k} {n}" for k, n in missing.items() if n))
        lost = next(a for a in client.acks if not events.get((a.kind, a.actor, str(a.target))))
        similar = [k for k in events if k[0] == lost.kind][:3]
        out.notes.append(f"for example {lost}; logged {lost.kind}s look like {similar}")
    out.acknowledged = client.acknowledged_writes()
    dead = await read_all(settings, [DEAD_LETTERS.kafka_name(settings.topic_prefix)])
    out.healthy_dead_lettered = sum(1 for d in dead if d.key != POISON_KEY)
    if poison_sent and sum(1 for d in dead if d.key == POISON_KEY) != poison_sent:
        out.notes.append(f"poison sent {poison_sent}, dead-lettered {sum(1 for d in dead if d.key == POISON_KEY)}")
    _, mismatches = await verify(settings, None, depth, show=False, report=lambda _: None)
    out.wrong_timelines = len(mismatches)
    out.notes += [m.describe() for m in mismatches[:3]]


def _identity(kind: str, e: Any) -> tuple[str, int, str] | None:
    """The write a logged event stands for, in the terms the client recorded it."""
    match kind:
        case "TweetPosted":
            return "post", e.author_id, e.content
        case "UserFollowed":
            return "follow", e.follower_id, str(e.followee_id)
        case "UserUnfollowed":
            return "unfollow", e.follower_id, str(e.followee_id)
        case "TweetLiked":
            return "like", e.user_id, str(e.tweet_id)
    return None


def _distinct(kind: str, e: Any) -> str:
    """Two logged copies are one write if they are one event (same event id; for posts, same tweet id)."""
    return f"{e.meta.event_id}/{e.tweet_id}" if kind == "TweetPosted" else str(e.meta.event_id)


# Faults ---------------------------------------------------------------------------------------------


@dataclass
class Rig:
    """The processes under test and the services they use: stream workers (one consumer group), API processes,
    and nginx in front of them when there are several."""

    settings: Settings
    workers: list[Child]
    apis: list[Child]
    base_url: str
    logdir: str
    report: Callable[[str], None]
    proxy: Child | None = None

    @property
    def worker(self) -> Child:
        return self.workers[0]

    def api_ready(self) -> bool:
        return api_ready(self.base_url)

    def start(self) -> None:
        for c in (*self.workers, *self.apis, *([self.proxy] if self.proxy else [])):
            c.start()

    def stop(self) -> None:
        for c in (*([self.proxy] if self.proxy else []), *self.apis, *self.workers):
            c.stop()


def rig_for(settings: Settings, name: str, logdir: str, report: Callable[[str], None], workers: int = 1,
            apis: int = 1) -> Rig:  # fmt: skip
    """`workers` stream workers and `apis` API processes (behind nginx when more than one) on free ports."""
    ws = [Child(settings, "streams", f"{logdir}/worker{i + 1}-{name}.log", CHIRP_WORKER_METRICS_PORT=str(free_port()))
          for i in range(workers)]  # fmt: skip
    if apis == 1:
        api = Child(settings, "api", f"{logdir}/api-{name}.log")
        return Rig(settings, ws, [api], f"http://127.0.0.1:{settings.api_port}", logdir, report)
    from ops.topology import proxy_command

    ports = [free_port() for _ in range(apis)]
    api_children = [Child(settings, "api", f"{logdir}/api{i + 1}-{name}.log", CHIRP_API_PORT=str(port),
                          CHIRP_API_METRICS_PORT="0", CHIRP_TRUSTED_PROXIES="127.0.0.1")
                    for i, port in enumerate(ports)]  # fmt: skip
    nginx = proxy_command(settings.model_copy(update={"state_dir": Path(logdir) / f"nginx-{name}"}), ports)
    front = Child(settings, "", f"{logdir}/nginx-{name}.log", command=nginx)
    return Rig(settings, ws, api_children, f"http://127.0.0.1:{settings.api_port}", logdir, report, front)


def api_ready(base_url: str) -> bool:
    """Whether the API at `base_url` answers /readyz with 200 (its services all answer)."""
    try:
        return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def kill_service(settings: Settings, name: str) -> None:
    """kill -9 of a local service chirp started, then starts it again (its data kept)."""
    from infra.services import launcher

    service = next(s for s in launcher.services(settings, name))
    pid = service.pid()
    if pid is None:
        raise RuntimeError(f"{name} was not started by chirp here; chaos kills only its own services")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: service.pid() is None, 30, f"{name} to die")
    launcher.up(settings, only=name, report=lambda _: None)


def _recovered(rig: Rig, client: Client) -> float:
    """Seconds until a write goes through again."""
    auth = client.users[0][1]
    body = {"user_id": str(client.users[0][0]), "content": f"recovered {uuid.uuid4().hex[:8]}"}

    def ok() -> bool:
        try:
            r = client.http.post("/tweets", json=body | {"content": f"probe {uuid.uuid4().hex[:8]}"}, headers=auth)
        except httpx.HTTPError:
            return False
        if r.status_code == 201:
            client.acks.append(Ack("post", client.users[0][0], json_content(r)))
        return r.status_code == 201

    return wait_for(ok, 300, "writes to succeed again")


def json_content(r: httpx.Response) -> str:
    content: str = r.json()["content"]
    return content


SCENARIOS = ("worker", "kafka", "cassandra", "redis", "redis-wiped", "redis-oom", "poison")
# On the cluster topology (make test-cluster): one node of each killed while the others serve.
CLUSTER_SCENARIOS = ("kafka-node", "cassandra-node", "redis-primary", "worker-one", "api-one")
NODE_OF = {"kafka-node": "kafka-2", "cassandra-node": "cassandra-2"}


def inject(rig: Rig, client: Client, name: str, kills: int) -> tuple[float, int]:
    """Runs one fault under load; returns (seconds until writes succeed again, poison events sent)."""
    s = rig.settings
    poison = 0
    with load(client):
        time.sleep(3)
        t0 = time.monotonic()
        if name == "worker":
            for _ in range(kills):
                rig.worker.kill9()
                rig.worker.start()
                time.sleep(3)
        elif name in ("kafka", "cassandra", "redis"):
            kill_service(s, name)
        elif name in NODE_OF:
            kill_service(s, NODE_OF[name])
        elif name == "redis-primary":
            failover = kill_redis_primary(s)
            rig.report(f"  {failover.name} ({failover.address}) killed; {failover.replica} took its slots over in "
                       f"{failover.takeover_s:.1f}s")  # fmt: skip
            time.sleep(3)  # the load runs on the promoted replica
            rejoined = rejoin_redis_node(s, failover)
            rig.report(f"  {failover.name} back as a replica of {failover.replica} in {rejoined:.1f}s")
        elif name == "worker-one":
            rig.workers[-1].kill9()
            time.sleep(5)  # the others take its partitions over
            rig.workers[-1].start()
        elif name == "api-one":
            rig.apis[-1].kill9()
            time.sleep(5)  # nginx sends everything to the others
            rig.apis[-1].start()
        elif name == "redis-wiped":
            kill_service(s, "redis")
            _forget(s)
        elif name == "redis-oom":
            _redis_full(s, seconds=8)
        elif name == "poison":
            poison = asyncio.run(_send_poison(s))
        if name not in ("worker", "poison", "redis-oom", "worker-one"):
            _recovered(rig, client)
        recovery = time.monotonic() - t0
        time.sleep(3)
    if name == "redis-wiped":
        _rebuild_after_wipe(rig)
    return recovery, poison


# Redis Cluster ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failover:
    """A Redis Cluster primary killed, and the replica that took its slots over."""

    name: str  # the killed node's service name (redis-2)
    address: str
    node_id: str
    replica: str  # address of the replica that took over
    replica_id: str
    slots: tuple[tuple[int, int], ...]
    takeover_s: float  # from the kill until the replica served the slots and every other node said ok


def pick_primary(nodes: list[RedisNode], ours: set[str], avoid: str = "") -> tuple[RedisNode, RedisNode]:
    """A primary that serves slots and has a replica, among the nodes at `ours` (those chirp started here), and
    that replica; the node at `avoid` (the one CHIRP_REDIS_URL names) only if no other will do."""
    replicas = {n.primary_id: n for n in nodes if not n.primary and not n.failed}
    fit = [n for n in nodes if n.primary and n.slots and not n.failed and n.address in ours and n.id in replicas]
    if not fit:
        raise RuntimeError("no primary with slots and a replica that chirp started here: is it a Redis Cluster?")
    victim = sorted(fit, key=lambda n: (n.address == avoid, n.address))[0]
    return victim, replicas[victim.id]


def cluster_view(settings: Settings, skip: str = "") -> list[RedisNode]:
    """The cluster's nodes as the first node that answers (other than `skip`) sees them."""
    import redis

    from infra.services.launcher import cluster_nodes

    for host, port in settings.redis_nodes:
        if f"{host}:{port}" != skip:
            with contextlib.suppress(redis.RedisError):
                return cluster_nodes(settings, host, port)
    raise RuntimeError("no Redis Cluster node answers")


def kill_redis_primary(settings: Settings) -> Failover:
    """kill -9 of a Redis Cluster primary that serves slots (one chirp started here), then waits until its
    replica serves those slots and every other node says the cluster is ok."""
    from infra.services import launcher

    ours = {s.address: s for s in launcher.services(settings, "redis") if s.pid() is not None}
    url = urlparse(settings.redis_url)
    victim, replica = pick_primary(cluster_view(settings), set(ours), avoid=f"{url.hostname}:{url.port or 6379}")
    service = ours[victim.address]
    pid = service.pid()
    if pid is None:
        raise RuntimeError(f"{service.name} exited before chaos could kill it")
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    wait_for(lambda: service.pid() is None, 30, f"{service.name} to die")
    others = [(h, p) for h, p in settings.redis_nodes if f"{h}:{p}" != victim.address]
    wait_for(lambda: all(_serves(settings, h, p, replica.id, victim.slots) for h, p in others), 120,
             f"{replica.address} to take {service.name}'s slots over")  # fmt: skip
    return Failover(service.name, victim.address, victim.id, replica.address, replica.id, victim.slots,
                    time.monotonic() - t0)  # fmt: skip


def rejoin_redis_node(settings: Settings, failover: Failover) -> float:
    """Starts the killed node again (its data kept) and waits until it is a replica of the node that took over,
    in sync with it, and every node says the cluster is ok; returns the seconds that took."""
    import redis

    from infra.services import launcher

    t0 = time.monotonic()
    launcher.up(settings, only=failover.name, report=lambda _: None)  # waits for every node to say ok

    def rejoined() -> bool:
        if not all(_serves(settings, h, p, failover.replica_id, failover.slots, failover.node_id)
                   for h, p in settings.redis_nodes):  # fmt: skip
            return False
        host, port = failover.address.rsplit(":", 1)
        try:
            return launcher.in_sync(settings, host, int(port))
        except redis.RedisError:
            return False

    wait_for(rejoined, 120, f"{failover.name} to rejoin as a replica of {failover.replica}")
    return time.monotonic() - t0


def _serves(settings: Settings, host: str, port: int, primary_id: str, slots: tuple[tuple[int, int], ...],
            replica_id: str = "") -> bool:  # fmt: skip
    """Whether the node at host:port says the cluster is ok, `primary_id` a primary serving `slots` and (if
    given) `replica_id` a healthy replica of it."""
    import redis

    from infra.services.launcher import cluster_info, cluster_nodes

    try:
        if cluster_info(settings, host, port).get("cluster_state") != "ok":
            return False
        view = {n.id: n for n in cluster_nodes(settings, host, port)}
    except redis.RedisError:
        return False
    primary = view.get(primary_id)
    if primary is None or not primary.primary or primary.failed or primary.slots != slots:
        return False
    if not replica_id:
        return True
    replica = view.get(replica_id)
    return replica is not None and not replica.primary and not replica.failed and replica.primary_id == primary_id


def _forget(settings: Settings) -> None:
    """Redis lost this deployment's data: every key under its prefix is gone (other deployments' keys on
    the same Redis are left alone, so that a chaos run does not wipe a developer's `make run` data). On a Redis
    Cluster the general client's SCAN walks every primary and its DEL of a batch is split by slot."""
    from infra import redisnodes

    r = redisnodes.connect_sync(settings)
    try:
        for keys in _batched(r.scan_iter(match=f"{settings.redis_prefix}*", count=1000), 1000):
            r.delete(*keys)
    finally:
        r.close()


def _batched(items: Iterator[Any], n: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def _redis_full(settings: Settings, seconds: float) -> None:
    """Every primary (the one Redis, or each primary of a cluster) refuses writes for `seconds`."""
    from infra import redisnodes

    general = redisnodes.connect_sync(settings)
    each = redisnodes.primaries_sync(general)
    before = [str(r.config_get("maxmemory")["maxmemory"]) for r in each]
    try:
        for r in each:
            r.config_set("maxmemory", max(int(r.info("memory")["used_memory"]) // 2, 1))
        time.sleep(seconds)
    finally:
        for r, value in zip(each, before, strict=True):
            r.config_set("maxmemory", value)
        general.close()


async def _send_poison(settings: Settings) -> int:
    """Garbage, and a well-formed event of a schema this worker does not know (a newer writer's)."""
    from infra.kafka import producer
    from schemas.topics import TWEETS

    topic = TWEETS.kafka_name(settings.topic_prefix)
    unknown_schema = b"\xc3\x01" + bytes.fromhex("0123456789abcdef") + b"\x02a newer event"
    p = producer(settings, "chirp-chaos")
    await p.start()
    try:
        for value in (b"not avro at all", unknown_schema):
            await p.send_and_wait(topic, value, key=POISON_KEY)
    finally:
        await p.stop()
    return 2


def _rebuild_after_wipe(rig: Rig) -> None:
    """The operator's procedure after losing Redis: rebuild the timelines from the log, switch to them."""
    run = [sys.executable, "-m", "ops.cli"]
    env = rig.settings.child_env()
    replay = subprocess.run([*run, "replay", "timelines"], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if replay.returncode != 0:
        raise RuntimeError(f"chirp replay timelines failed:\n{replay.stdout}\n{replay.stderr}")
    version = replay.stdout.strip().splitlines()[-1].split()[-1]
    promote = subprocess.run([*run, "promote", version], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if promote.returncode != 0:
        raise RuntimeError(f"chirp promote {version} failed:\n{promote.stdout}\n{promote.stderr}")
    rig.report(f"  rebuilt timelines after the wipe: {version} promoted")


# Running --------------------------------------------------------------------------------------------


def scenario(base: Settings, name: str, logdir: str, report: Callable[[str], None], users: int = 20,
             kills: int = 5, workers: int = 1, apis: int = 1, drop_keyspace: bool = True) -> Outcome:  # fmt: skip
    """One scenario on fresh topics, keyspace and key prefix; everything it started is stopped after.
    `drop_keyspace=False` keeps its keyspace: a DROP KEYSPACE of tables a node just lost writes of (killed, then
    restarted) has stalled a Cassandra 5.0 node's schema work ("Unknown CF" while recycling its commit log), and
    the next scenario's migration with it. A throwaway cluster goes away with its keyspaces."""
    from infra.migrate import drop, migrate

    run = uuid.uuid4().hex[:8]
    settings = base.model_copy(update={
        "topic_prefix": f"chaos{run}.", "keyspace": f"chaos_{run}", "redis_prefix": f"chaos{run}:",
        "partitions": 4, "rate_limits": "off", "api_port": free_port(), "worker_metrics_port": free_port(),
        "worker_commit_interval_s": 0.2, "log_level": "warning",
    })  # fmt: skip
    migrate(settings, report=lambda _: None)
    rig = rig_for(settings, name, logdir, report, workers, apis)
    out = Outcome(name)
    rig.start()
    try:
        wait_for(rig.api_ready, 90, "the API to be ready")
        client = Client(rig.base_url, seed=zlib.crc32(name.encode()))
        client.setup(users, follows_each=6)
        out.recovery_s, poison = inject(rig, client, name, kills)
        out.failed_requests = client.failed
        out.outage_s = client.outage_s()
        asyncio.run(judge(settings, client, out, poison))
    finally:
        rig.stop()
        with contextlib.suppress(Exception):
            drop(settings, keyspaces=drop_keyspace)
    return out


def table(outcomes: list[Outcome]) -> str:
    """One row per scenario: the oracle's counts, the requests that failed, for how long clients saw failures
    (first to last failed request), and the seconds from the fault until writes succeeded again (a restart
    of what was killed included)."""
    head = f"{'scenario':<14} {'acked':>6} {'missing':>8} {'duplicated':>10} {'wrong tl':>9} {'healthy DLQ':>11} " \
           f"{'failed req':>10} {'failing s':>9} {'recovery s':>10}"  # fmt: skip
    rows = [head, "-" * len(head)]
    for o in outcomes:
        rows.append(f"{o.name:<14} {o.acknowledged:>6} {o.missing:>8} {o.duplicated:>10} {o.wrong_timelines:>9} "
                    f"{o.healthy_dead_lettered:>11} {o.failed_requests:>10} {o.outage_s:>9.1f} "
                    f"{o.recovery_s:>10.1f}")  # fmt: skip
    return "\n".join(rows)


def summary(outcomes: list[Outcome]) -> Counter[str]:
    return Counter(
        missing=sum(o.missing for o in outcomes),
        duplicated=sum(o.duplicated for o in outcomes),
        wrong_timelines=sum(o.wrong_timelines for o in outcomes),
        healthy_dead_lettered=sum(o.healthy_dead_lettered for o in outcomes),
    )
