"""Starts, checks and stops the local Kafka, Cassandra, Redis and S3Proxy (media storage).

Idempotent by design: `up` first probes the configured address and reuses a healthy service,
whoever started it; it only starts a process when the address is on this machine and nothing
answers there. Readiness is a real request (Kafka metadata, a CQL query, a Redis PING, a signed
S3 ListBuckets).
State (jars, data, logs, pid files) lives under `Settings.state_dir`. Installing what a service needs
(redis-server, Java, Maven, the jars) is provision.py's; this module runs, probes and stops the processes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from infra.services.provision import ServiceError as ServiceError  # the launcher's error, for its callers
from infra.services.provision import require_java, require_redis_server, resolve_jars
from infra.settings import Settings

if TYPE_CHECKING:
    import redis

log = logging.getLogger("chirp.services")
TEMPLATES = Path(__file__).resolve().parent / "templates"
LOCAL_HOSTS = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost", "::1", "0.0.0.0"}
REDIS_SLOTS = 16384

CASSANDRA_JVM_EXPORTS = (
    "java.base/jdk.internal.misc", "java.management.rmi/com.sun.jmx.remote.internal.rmi",
    "java.management/com.sun.jmx.remote.security", "java.rmi/sun.rmi.registry", "java.rmi/sun.rmi.server",
    "java.sql/java.sql", "java.base/java.lang.ref", "jdk.unsupported/sun.misc",
)  # fmt: skip
CASSANDRA_JVM_OPENS = (
    "java.base/java.lang.module", "java.base/jdk.internal.loader", "java.base/jdk.internal.ref",
    "java.base/jdk.internal.reflect", "java.base/jdk.internal.math", "java.base/jdk.internal.module",
    "java.base/jdk.internal.util.jar", "jdk.management/com.sun.management.internal", "java.base/sun.nio.ch",
    "java.base/java.io", "java.base/java.lang.reflect", "java.base/java.lang", "java.base/java.util",
    "java.base/java.nio",
)  # fmt: skip


@dataclass(frozen=True)
class Status:
    name: str
    healthy: bool
    address: str
    pid: int | None
    managed: bool
    log_file: Path
    detail: str = ""


class Service:
    """One local service (or one node of it): how to probe it, prepare it, start it and recognise its process.
    `kind` is the service ("kafka"); `name` the node ("kafka", or "kafka-2" when the settings name several)."""

    kind = ""
    process_marker = ""

    def __init__(self, settings: Settings, index: int = 0, nodes: int = 1) -> None:
        self.settings = settings
        self.index = index
        self.nodes = nodes
        self.name = self.kind if nodes == 1 else f"{self.kind}-{index + 1}"
        self.home = settings.state_dir / self.name
        self.pid_file = self.home / "pid"
        self.console_log = self.home / "logs" / "console.log"
        self._proc: subprocess.Popen[bytes] | None = None  # the process this object spawned, if any

    # Overridden per service.
    @property
    def address(self) -> str:
        raise NotImplementedError

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0]

    @property
    def log_file(self) -> Path:
        return self.console_log

    def probe(self) -> bool:
        raise NotImplementedError

    def prepare(self) -> None:
        """Tools, jars and config files; cheap when already done."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def niceness(self) -> int:
        """CPU niceness to start the process with (every thread inherits it)."""
        return 0

    # Shared behaviour.
    def is_local(self) -> bool:
        return self.host in LOCAL_HOSTS

    def pid(self) -> int | None:
        """The pid of the process chirp started, if it is still that process."""
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if self.process_marker.encode() in cmdline else None

    def status(self) -> Status:
        pid = self.pid()
        healthy = self.probe()
        detail = "" if healthy else ("process up, not answering yet" if pid else "not running")
        return Status(self.name, healthy, self.address, pid, pid is not None, self.log_file, detail)

    def down(self) -> str:
        pid = self.pid()
        if pid is None:
            return "left alone (healthy, not started by chirp)" if self.probe() else "not running"
        _terminate(pid, grace_s=60.0)
        self.pid_file.unlink(missing_ok=True)
        return f"stopped (pid {pid})"

    def _spawn(self) -> None:
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        with self.console_log.open("ab") as out:
            nice = self.niceness()
            # Niceness is set in the child before its one exec: a `nice` wrapper would exec twice, and the
            # start-up check (`pid()` reads the command line) could catch the process between the two.
            proc = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.home, start_new_session=True, preexec_fn=(lambda: os.nice(nice)) if nice else None,
            )  # fmt: skip
        self.pid_file.write_text(str(proc.pid))
        self._proc = proc
        log.info("%s: started pid %d, log %s", self.name, proc.pid, self.log_file)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if self.probe():
                return
            if self._exited():
                raise ServiceError(f"{self.name} exited during start-up; see {self.log_file}\n{_tail(self.log_file)}")
            time.sleep(0.5)
        raise ServiceError(
            f"{self.name} was not ready within {self.settings.start_timeout_s:.0f}s; see {self.log_file}\n"
            f"{_tail(self.log_file)}"
        )

    def _exited(self) -> bool:
        """Whether the process being waited for is gone. One this object spawned is asked directly (and reaped):
        its command line is no proof of life while it starts, since Redis rewrites it (its process title) and a
        read of /proc can catch it blank. A process started earlier is recognised by its command line."""
        if self._proc is not None:
            return self._proc.poll() is not None
        return self.pid() is None

    def _render(self, template: str, target: Path, **values: object) -> Path:
        text = Template((TEMPLATES / template).read_text()).substitute({k: str(v) for k, v in values.items()})
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target


class Kafka(Service):
    """A KRaft node (broker and controller); as many as CHIRP_KAFKA_BOOTSTRAP names, all voters."""

    kind = "kafka"
    process_marker = "kafka.Kafka"

    @property
    def address(self) -> str:
        host, port = self.settings.kafka_nodes[self.index]
        return f"{host}:{port}"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "server.log"

    def probe(self) -> bool:
        return asyncio.run(_kafka_metadata(self.address))

    def prepare(self) -> None:
        require_java()
        self.lib = resolve_jars("kafka", self.settings.state_dir)
        host, port = self.settings.kafka_nodes[self.index]
        voters = ",".join(f"{i + 1}@{h}:{p + 1}" for i, (h, p) in enumerate(self.settings.kafka_nodes))
        replicas = min(self.nodes, 3)
        data = self.home / "data"
        self.props = self._render(
            "server.properties", self.home / "server.properties",
            host=host, port=port, controller_port=port + 1, data_dir=data, node_id=self.index + 1, voters=voters,
            replicas=replicas, min_isr=min(max(1, replicas - 1), replicas),
        )  # fmt: skip
        self.log4j = self._render("log4j.properties", self.home / "log4j.properties", log_file=self.log_file)
        if not (data / "meta.properties").exists():
            self._format_storage()

    def _java(self) -> list[str]:
        return ["java", f"-Dlog4j.configuration=file:{self.log4j}", f"-Dkafka.logs.dir={self.home / 'logs'}",
                "-cp", f"{self.lib}/*"]  # fmt: skip

    def _format_storage(self) -> None:
        cluster_id = _kafka_cluster_id(self.settings.state_dir)
        cmd = [*self._java(), "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.props)]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"kafka storage format failed: {result.stdout}{result.stderr}")

    def niceness(self) -> int:
        return self.settings.jvm_nice

    def command(self) -> list[str]:
        heap = self.settings.kafka_heap
        return [self._java()[0], f"-Xms{min_heap(heap)}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true", *self._java()[1:], "kafka.Kafka", str(self.props)]  # fmt: skip


class Cassandra(Service):
    """A Cassandra node; as many as CHIRP_CASSANDRA_HOSTS names (one token each, evenly spread; the first is
    the seed)."""

    kind = "cassandra"
    process_marker = "CassandraDaemon"

    @property
    def address(self) -> str:
        return f"{self.settings.cassandra_contact_points[self.index]}:{self.settings.cassandra_port}"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "system.log"

    def probe(self) -> bool:
        return _cql_ping([self.host], self.settings.cassandra_port)

    @property
    def token(self) -> int:
        return -(2**63) + self.index * (2**64 // self.nodes)

    def prepare(self) -> None:
        require_java()
        self.lib = resolve_jars("cassandra", self.settings.state_dir)
        data = self.home / "data"
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
            (data / sub).mkdir(parents=True, exist_ok=True)
        self.yaml = self._render(
            "cassandra.yaml", self.home / "cassandra.yaml",
            host=self.host, port=self.settings.cassandra_port, storage_port=self.settings.cassandra_storage_port,
            data_dir=data, seed=self.settings.cassandra_contact_points[0], token=self.token,
        )  # fmt: skip
        self.logback = self._render("logback.xml", self.home / "logback.xml", log_file=self.log_file)

    def niceness(self) -> int:
        return self.settings.jvm_nice

    def command(self) -> list[str]:
        heap = self.settings.cassandra_heap
        flags = [f"--add-exports={m}=ALL-UNNAMED" for m in CASSANDRA_JVM_EXPORTS]
        flags += [f"--add-opens={m}=ALL-UNNAMED" for m in CASSANDRA_JVM_OPENS]
        return [
            "java", f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-Xss256k", "-XX:+ExitOnOutOfMemoryError",
            "-ea", "-Djava.net.preferIPv4Stack=true", "-Dchronicle.analytics.disable=true",
            "-Djdk.attach.allowAttachSelf=true", "-Dio.netty.tryReflectionSetAccessible=true",
            f"-Dcassandra.config=file://{self.yaml}", f"-Dcassandra.storagedir={self.home / 'data'}",
            f"-Dcassandra.logdir={self.home / 'logs'}", "-Dcassandra-foreground=yes",
            f"-Dlogback.configurationFile=file://{self.logback}", "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            f"-Dcassandra.initial_token={self.token}", *flags, "-cp", f"{self.lib}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ]  # fmt: skip


class Redis(Service):
    """The Redis of CHIRP_REDIS_URL, or one node of the Redis Cluster CHIRP_REDIS_CLUSTER_NODES names."""

    kind = "redis"
    process_marker = "redis-server"

    @property
    def address(self) -> str:
        host, port = self.settings.redis_nodes[self.index]
        return f"{host}:{port}"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "redis.log"

    def probe(self) -> bool:
        import redis

        try:
            with contextlib.closing(redis_client(self.settings, *self.settings.redis_nodes[self.index])) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def status(self) -> Status:
        """A cluster node's health, and in `detail` its role, the slots it serves and the cluster's state as it
        sees them ("primary, slots 0-5460, cluster ok"; "replica of 127.0.0.2:17001, cluster ok")."""
        st = super().status()
        if not (st.healthy and self.settings.redis_cluster):
            return st
        import redis

        try:
            detail = node_role(self.settings, *self.settings.redis_nodes[self.index])
        except redis.RedisError as exc:
            detail = f"cluster unknown ({exc})"
        return dataclasses.replace(st, detail=detail)

    def prepare(self) -> None:
        require_redis_server()
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        host, port = self.settings.redis_nodes[self.index]
        # Bound to the configured (loopback) address, in protected mode: without a password it answers only
        # loopback clients. Redis serves timelines and the fan-out graph: an append-only file keeps them across
        # restarts (the log can always rebuild them). Listpack/intset limits keep capped timelines and follower
        # sets compact (see docs/architecture.md). A cluster primary unreachable for the node timeout
        # (CHIRP_REDIS_CLUSTER_NODE_TIMEOUT_MS) is replaced by its replica.
        # Nodes on several loopback addresses must be told theirs, or they never learn it and cannot join.
        cluster = ["--cluster-enabled", "yes", "--cluster-config-file", str(self.home / "data" / "nodes.conf"),
                   "--cluster-node-timeout", str(self.settings.redis_cluster_node_timeout_ms),
                   "--cluster-announce-ip", host]  # fmt: skip
        return ["redis-server", "--bind", host, "--port", str(port), "--save", "", "--appendonly", "yes",
                "--appendfsync", "everysec", "--set-max-intset-entries", "4096",
                "--auto-aof-rewrite-percentage", str(self.settings.redis_aof_rewrite_percentage),
                "--auto-aof-rewrite-min-size", f"{self.settings.redis_aof_rewrite_min_mb}mb",
                "--dir", str(self.home / "data"), "--logfile", str(self.log_file),
                "--zset-max-listpack-entries", "1024", "--zset-max-listpack-value", "64",
                "--protected-mode", "yes", *(cluster if self.settings.redis_cluster else [])]  # fmt: skip


class S3Proxy(Service):
    """S3Proxy, the S3-compatible server media is stored in (jclouds' filesystem backend, data in the state
    folder), started when CHIRP_S3_ENDPOINT is on this machine. Signed requests only, but for unsigned reads of
    public-read objects: how clients fetch media."""

    kind = "s3proxy"
    process_marker = "org.gaul.s3proxy.Main"

    @property
    def address(self) -> str:
        u = urlparse(self.settings.s3_endpoint)
        return f"{u.hostname}:{u.port or (443 if u.scheme == 'https' else 80)}"

    def probe(self) -> bool:
        from infra.objectstore import answers

        return answers(self.settings)

    def prepare(self) -> None:
        require_java()
        self.lib = resolve_jars("s3proxy", self.settings.state_dir)
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        s = self.settings
        self.conf = self._render(
            "s3proxy.conf", self.home / "s3proxy.conf",
            endpoint=f"http://{self.address}", access_key=s.s3_access_key, secret_key=s.s3_secret_key, data_dir=data,
        )  # fmt: skip
        self.conf.chmod(0o600)  # it holds the secret key

    def niceness(self) -> int:
        return self.settings.jvm_nice

    def command(self) -> list[str]:
        heap = self.settings.s3proxy_heap
        return ["java", f"-Xms{min_heap(heap)}", f"-Xmx{heap}", "-XX:+UseSerialGC",
                "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true", "-cp", f"{self.lib}/*",
                "org.gaul.s3proxy.Main", "--properties", str(self.conf)]  # fmt: skip


def services(settings: Settings, only: str | None = None) -> list[Service]:
    """Every node the settings name, Redis first; `only`: one service ("kafka") or one node ("kafka-2")."""
    all_: list[Service] = []
    kinds: list[tuple[type[Service], int]] = [
        (Redis, len(settings.redis_nodes)), (Kafka, len(settings.kafka_nodes)),
        (Cassandra, len(settings.cassandra_contact_points)), (S3Proxy, 1 if settings.s3_endpoint else 0),
    ]  # fmt: skip
    for kind, count in kinds:
        all_ += [kind(settings, i, count) for i in range(count)]
    chosen = [s for s in all_ if only in (None, s.kind, s.name)]
    if not chosen:
        raise ServiceError(
            f"unknown service {only!r}; known: redis, kafka, cassandra, s3proxy, or a node such as kafka-2"
        )
    return chosen


def up(settings: Settings, only: str | None = None, report: Callable[[str], None] = print) -> None:
    """Brings every node up: Kafka and Cassandra start in parallel to save wall time, but a Cassandra node
    other than the seed waits for the seed (it must gossip with it to join). A Redis Cluster is created once
    all its nodes answer; the media bucket once S3Proxy (or the S3 endpoint) answers."""
    chosen = services(settings, only)
    later: list[Service] = [s for s in chosen if isinstance(s, Cassandra) and s.index > 0]
    waves: list[list[Service]] = [[s for s in chosen if s not in later], later]
    for wave in waves:
        pending: list[Service] = []
        for s in wave:
            if s.probe():
                report(f"{s.name:<12} reused (already healthy at {s.address})")
                continue
            if not s.is_local():
                raise ServiceError(f"{s.name} at {s.address} is not answering, and it is not local to start")
            if s.pid() is None:
                s.prepare()
                s._spawn()
            pending.append(s)
        for s in pending:
            t0 = time.monotonic()
            s._wait_ready()
            report(f"{s.name:<12} started, ready in {time.monotonic() - t0:.1f}s at {s.address} (log {s.log_file})")
    if settings.redis_cluster and any(isinstance(s, Redis) for s in chosen):
        report(f"{'redis':<12} {form_redis_cluster(settings)}")
    if settings.media_storage and any(isinstance(s, S3Proxy) for s in chosen):
        from infra.objectstore import ensure_bucket

        made = ensure_bucket(settings)
        report(f"{'s3proxy':<12} bucket {settings.s3_bucket} {'created' if made else 'exists'}")


def down(settings: Settings, only: str | None = None, report: Callable[[str], None] = print) -> None:
    for s in reversed(services(settings, only)):
        report(f"{s.name:<12} {s.down()}")


def status(settings: Settings, only: str | None = None) -> list[Status]:
    return [s.status() for s in services(settings, only)]


# Helpers -----------------------------------------------------------------------------------------


async def _kafka_metadata(bootstrap: str) -> bool:
    from aiokafka import AIOKafkaClient
    from aiokafka.errors import KafkaError

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # a refused probe is an answer, not an error
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, metadata_max_age_ms=3000)
    try:
        await client.bootstrap()
        return bool(await client.fetch_all_metadata())
    except (KafkaError, OSError):
        return False
    finally:
        await client.close()


def _cql_ping(hosts: list[str], port: int) -> bool:
    from cassandra.cluster import Cluster

    logging.getLogger("cassandra").setLevel(logging.CRITICAL)
    cluster = Cluster(hosts, port=port, connect_timeout=2, control_connection_timeout=2)
    try:
        session = cluster.connect()
        return session.execute("SELECT release_version FROM system.local", timeout=3).one() is not None
    except Exception:  # any failure to answer a query means not ready
        return False
    finally:
        cluster.shutdown()


def _kafka_cluster_id(state_dir: Path) -> str:
    """The id every node of the local Kafka cluster is formatted with (made once, kept in the state folder)."""
    path = state_dir / "kafka-cluster-id"
    if path.exists():
        return path.read_text().strip()
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            break
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def _mb(heap: str) -> float:
    scale = {"k": 1 / 1024, "m": 1.0, "g": 1024.0}
    return float(heap[:-1]) * scale[heap[-1].lower()] if heap[-1].lower() in scale else float(heap) / 2**20


def min_heap(heap: str) -> str:
    """-Xms for a JVM whose -Xmx is `heap`: 512m, or the heap itself when that is smaller."""
    return heap if _mb(heap) < 512 else "512m"


def form_redis_cluster(settings: Settings) -> str:
    """Creates the Redis Cluster (`redis-cli --cluster create`, a replica per primary on another address)
    unless its nodes already know each other (a restart with their nodes.conf kept), then waits until every
    node says the cluster is ok and sees every other one serving slots or replicating a primary."""
    nodes = settings.redis_nodes
    u = urlparse(settings.redis_url)
    auth = ["-a", u.password, "--no-auth-warning"] if u.password else []
    made = ""
    if int(cluster_info(settings, *nodes[0]).get("cluster_known_nodes", "1")) < len(nodes):
        replicas = 1 if len(nodes) >= 6 else 0
        cmd = ["redis-cli", *auth, "--cluster", "create", *(f"{h}:{p}" for h, p in nodes),
               "--cluster-replicas", str(replicas), "--cluster-yes"]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            raise ServiceError(f"redis-cli --cluster create failed: {result.stdout[-2000:]}{result.stderr}")
        made = "created, "
    deadline = time.monotonic() + settings.start_timeout_s

    def ready(host: str, port: int) -> bool:
        import redis

        try:
            ok = cluster_info(settings, host, port).get("cluster_state") == "ok"
            return (
                ok
                and cluster_settled(cluster_nodes(settings, host, port), len(nodes))
                and in_sync(settings, host, port)
            )
        except redis.RedisError:
            return False

    while not all(ready(h, p) for h, p in nodes):
        if time.monotonic() > deadline:
            raise ServiceError("the Redis Cluster did not reach state ok with every node in place")
        time.sleep(0.5)
    primaries = sum(1 for n in cluster_nodes(settings, *nodes[0]) if n.primary and n.slots)
    return f"cluster {made}ok: {len(nodes)} nodes, {primaries} primaries"


# Redis Cluster: what a node says of the cluster -------------------------------------------------------


@dataclass(frozen=True)
class RedisNode:
    """One line of CLUSTER NODES: a node as the node asked sees it."""

    id: str
    address: str  # host:port
    primary: bool
    primary_id: str  # a replica's primary ("" for a primary)
    slots: tuple[tuple[int, int], ...]  # ranges served, both ends included
    failed: bool  # flagged unreachable (fail, or fail? before the others agree)
    myself: bool

    @property
    def slot_count(self) -> int:
        return sum(b - a + 1 for a, b in self.slots)


def parse_cluster_nodes(text: str) -> list[RedisNode]:
    """CLUSTER NODES: `<id> <ip:port@cport[,hostname]> <flags> <primary id|-> <ping> <pong> <epoch> <link>
    <slot or range>...`; slots being migrated (`[5461->-<id>]`) are not counted as served."""
    nodes = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        flags = set(fields[2].split(","))
        slots = []
        for s in fields[8:]:
            if s.startswith("["):
                continue
            a, _, b = s.partition("-")
            slots.append((int(a), int(b or a)))
        nodes.append(RedisNode(
            id=fields[0], address=fields[1].split("@", 1)[0], primary="master" in flags,
            primary_id="" if fields[3] == "-" else fields[3], slots=tuple(sorted(slots)),
            failed=bool(flags & {"fail", "fail?"}), myself="myself" in flags,
        ))  # fmt: skip
    return nodes


def cluster_settled(nodes: list[RedisNode], expected: int) -> bool:
    """Whether a node's view holds the `expected` nodes, none failed, each a primary serving slots or a replica
    of a primary (right after `--cluster create` the replicas are still learned of as empty primaries)."""
    ids = {n.id for n in nodes if n.primary and n.slots}
    return len(nodes) == expected and all(
        not n.failed and ((n.primary and n.slots) or (not n.primary and n.primary_id in ids)) for n in nodes
    )


def slot_ranges(slots: tuple[tuple[int, int], ...]) -> str:
    """`0-5460,10923-16383` (a single slot as `42`)."""
    return ",".join(f"{a}-{b}" if b > a else str(a) for a, b in slots) or "none"


def describe_role(nodes: list[RedisNode], state: str) -> str:
    """The asked node's role from its own CLUSTER NODES, for `chirp status`."""
    me = next((n for n in nodes if n.myself), None)
    if me is None:
        return f"cluster {state}"
    if me.primary:
        return f"primary, slots {slot_ranges(me.slots)}, cluster {state}"
    of = next((n.address for n in nodes if n.id == me.primary_id), me.primary_id[:8] or "?")
    return f"replica of {of}, cluster {state}"


def redis_client(settings: Settings, host: str, port: int) -> redis.Redis:
    """A plain client of one node, with the credentials and scheme of CHIRP_REDIS_URL. It does not retry (redis-py
    retries a refused connection three times with backoff, 4 s per node that is down): callers poll."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    u = urlparse(settings.redis_url)
    return redis.Redis(host=host, port=port, username=u.username, password=u.password, ssl=u.scheme == "rediss",
                       socket_timeout=3, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))  # fmt: skip


def _ask(settings: Settings, host: str, port: int, *command: str) -> str:
    with contextlib.closing(redis_client(settings, host, port)) as client:
        raw = client.execute_command(*command)  # type: ignore[no-untyped-call]  # "CLUSTER", "NODES": unparsed
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def cluster_info(settings: Settings, host: str, port: int) -> dict[str, str]:
    """CLUSTER INFO of one node (cluster_state, cluster_known_nodes, ...)."""
    text = _ask(settings, host, port, "CLUSTER", "INFO")
    return dict(line.split(":", 1) for line in text.split() if ":" in line)


def cluster_nodes(settings: Settings, host: str, port: int) -> list[RedisNode]:
    """CLUSTER NODES of one node: every node as that one sees it."""
    return parse_cluster_nodes(_ask(settings, host, port, "CLUSTER", "NODES"))


def in_sync(settings: Settings, host: str, port: int) -> bool:
    """A primary, or a replica whose link to its primary is up (it has loaded its copy): until then WAIT finds
    no replica, and a failover would promote a node without the data."""
    with contextlib.closing(redis_client(settings, host, port)) as client:
        info = client.info("replication")
    return info.get("role") != "slave" or info.get("master_link_status") == "up"


def node_role(settings: Settings, host: str, port: int) -> str:
    return describe_role(
        cluster_nodes(settings, host, port), cluster_info(settings, host, port).get("cluster_state", "?")
    )


def _terminate(pid: int, grace_s: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log written)"
