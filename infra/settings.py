"""The one place that reads the environment: every setting is `CHIRP_<NAME>`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from limits import parse
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


Consistency = Literal["ONE", "LOCAL_ONE", "QUORUM", "LOCAL_QUORUM", "EACH_QUORUM", "ALL"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHIRP_", extra="ignore", frozen=True)

    # Services: point these at real clusters to run chirp beside them.
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated.")
    cassandra_hosts: str = Field("127.0.0.1", description="Cassandra contact points, comma separated.")
    cassandra_port: int = Field(9042, description="Cassandra native protocol port.")
    cassandra_storage_port: int = Field(
        7000, description="Cassandra inter-node port (for the nodes `chirp up` starts)."
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis URL for home timelines (with a Redis Cluster: its credentials and scheme; the nodes are "
        "CHIRP_REDIS_CLUSTER_NODES).",
    )
    redis_cluster_nodes: str = Field(
        "",
        description="host:port of every node of a Redis Cluster, comma separated (empty: one Redis, "
        "CHIRP_REDIS_URL). `chirp up` starts those on this machine; the first half become primaries.",
    )
    redis_wait_replicas: int = Field(
        0,
        ge=0,
        description="Replicas that must hold the stream worker's Redis writes before it commits their offsets "
        "(WAIT after each write round), and an API's idempotency lease before its write runs: Redis replicates "
        "asynchronously, and a primary that dies before its replica copied a write would take it along (an applied "
        "event, or the ids a retry must reuse). 0 on one Redis; 1 on a cluster with a replica per primary. "
        "If fewer answer within CHIRP_REDIS_WAIT_TIMEOUT_MS (a replica is down) both go on and log it: "
        "availability first.",
    )
    redis_wait_timeout_ms: int = Field(
        100, ge=1, description="How long a write round waits for CHIRP_REDIS_WAIT_REPLICAS replicas."
    )
    redis_cluster_node_timeout_ms: int = Field(
        5000,
        ge=500,
        description="Redis Cluster nodes `chirp up` starts: how long a primary may be unreachable before its replica "
        "takes over (cluster-node-timeout). Writes to its slots fail for about this plus 3 s; shorter fails over "
        "a primary that was only busy (a slow fsync, a long script) and then resyncs it in full.",
    )
    redis_aof_rewrite_percentage: int = Field(
        400,
        ge=0,
        description="Redis nodes `chirp up` starts: the append-only file is rewritten once it has grown this many "
        "percent past its last rewrite (auto-aof-rewrite-percentage; Redis's own default 100). Fan-out appends "
        "fast, and each rewrite forks and writes the whole data set again: at 100 a bulk drain rewrote every "
        "8 s. Higher trades disk for CPU; 0 turns automatic rewrites off.",
    )
    redis_aof_rewrite_min_mb: int = Field(
        256, ge=1, description="... and only once it is at least this large (auto-aof-rewrite-min-size)."
    )

    # Credentials and transport security (README: "Securing the connections"). Redis takes both in its URL:
    # redis://user:password@host:port/0 (an ACL user), rediss:// for TLS.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How clients talk to Kafka: TLS (SSL), SASL, both, or neither."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism, with CHIRP_KAFKA_SASL_USERNAME and _PASSWORD."
    )
    kafka_sasl_username: str = Field("", description="SASL user (SASL_PLAINTEXT or SASL_SSL).")
    kafka_sasl_password: str = Field("", description="SASL password.")
    kafka_ssl_cafile: str = Field("", description="CA bundle that signs the brokers' certificates (SSL, SASL_SSL).")
    cassandra_username: str = Field("", description="Cassandra user (PasswordAuthenticator); empty: no login.")
    cassandra_password: str = Field("", description="Cassandra password.")
    cassandra_ssl_cafile: str = Field("", description="CA bundle for TLS to Cassandra; empty: plain connections.")

    # Layout of the data.
    keyspace: str = Field("chirp", description="Cassandra keyspace.")
    cassandra_consistency: Consistency = Field(
        "LOCAL_QUORUM",
        description="Consistency of every Cassandra read and write but those below: a quorum of replicas, so a "
        "read sees every acknowledged write and one node of three may be down.",
    )
    cassandra_relaxed_consistency: Consistency = Field(
        "LOCAL_ONE",
        description="Consistency of reads that tolerate a stale replica: search candidates (each is confirmed "
        "against the tweet read at the full level).",
    )
    cassandra_replication_factor: int = Field(1, ge=1, description="Replication factor of the keyspace.")
    cassandra_schema_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Seconds a schema statement (a migration) may take on its coordinator, and to wait "
        "for every node to agree on the schema after it.",
    )
    cassandra_schema_attempts: int = Field(
        4,
        ge=1,
        description="Tries of a schema statement that times out (each on the next coordinator).",
    )
    cassandra_batch_statements: int = Field(
        64, ge=1, description="Statements per unlogged batch of the worker's writes: the cost is per request."
    )
    cassandra_batch_bytes: int = Field(
        40_000,
        ge=1,
        description="A batch is cut before its values reach this size: keep it under the cluster's "
        "batch_size_fail_threshold (50 KiB by default).",
    )
    kafka_replication_factor: int = Field(1, ge=1, description="Replication factor of every topic.")
    kafka_min_insync_replicas: int | None = Field(
        None,
        ge=1,
        description="Replicas that must have a write before Kafka acknowledges it (producers use acks=all); "
        "default: one less than the replication factor (2 of 3), at least 1.",
    )
    partitions: int = Field(8, ge=1, description="Partitions per event topic (tweets and follows must match).")
    topic_prefix: str = Field("chirp.", description="Prefix of every Kafka topic name.")
    redis_prefix: str = Field("chirp:", description="Prefix of every Redis key.")

    # Timelines.
    timeline_cap: int = Field(800, ge=10, description="Entries kept per home timeline in Redis (older: Cassandra).")
    celebrity_threshold: int = Field(
        10_000, ge=1, description="Followers above which an account is pulled at read time, not pushed."
    )
    active_window_s: int = Field(7 * 24 * 3600, ge=1, description="Timelines unread this long expire; rebuilt on read.")
    fanout_chunk: int = Field(
        256,
        ge=1,
        description="Deliveries one fan-out script call makes at most, whole followers (reads wait at most one chunk).",
    )
    fanout_round: int = Field(
        1024, ge=1, description="Deliveries the worker sends Redis in one round trip at most (chunks per pipeline)."
    )
    fanout_parallel_rounds: int = Field(
        2,
        ge=1,
        description="Rounds of a batch's deliveries the worker has in flight at once while nobody reads timelines: "
        "it packs one and reads another's replies while Redis runs a third (each follower is in one call, so "
        "their order does not matter; 1: one at a time).",
    )
    fanout_reading_round: int = Field(
        64,
        ge=1,
        description="Deliveries per round trip (and per script call) while timelines are being read: Redis runs a "
        "round's pipeline ahead of the reads that arrive behind it, so reads wait for a small one.",
    )
    fanout_reading_pause: float = Field(
        3.0,
        ge=0,
        description="While timelines are being read, the worker pauses after each fan-out round this many times as "
        "long as the round took: the fan-out takes at most 1 / (1 + this) of its time from the reads, more when "
        "Redis answers slowly (0: off).",
    )
    fanout_yield_ms: float = Field(
        20.0, ge=0, description="While reads are slow, the worker pauses this long before each fan-out round (0: off)."
    )
    trends_per_call: int = Field(
        64,
        ge=1,
        description="Tweets one trends script call counts at most (a call's start costs Redis more than a tweet's "
        "counts; a read of the trends waits for one call).",
    )
    read_slow_ms: float = Field(
        50.0, gt=0, description="A timeline read slower than this tells the fan-out to yield (the read p99 budget)."
    )

    search_budget_ms: float = Field(
        100.0,
        gt=0,
        description="Time one search may spend confirming candidates; then its page ends early, with a cursor.",
    )
    home_log_buckets: int = Field(
        3,
        ge=1,
        description="30-day buckets per author one home page reads from Cassandra (below the Redis "
        "horizon); a page that finds too few ends early, with a cursor.",
    )
    known_rows: int = Field(
        20_000,
        ge=2,
        description="Index rows (author-month, term-day) a process remembers having written, so as to write each "
        "once (the most recently used); bounds that memory (~3 MB per store).",
    )
    rebuild_entries: int = Field(
        200,
        ge=1,
        description="Entries a home timeline gets when it is materialized from the authors' lists (a returning "
        "user, a rebuild): the merge costs Redis ~0.7 us per entry. Older pages are read from Cassandra until "
        "deliveries fill the timeline to CHIRP_TIMELINE_CAP.",
    )
    rebuild_chunk: int = Field(
        50,
        ge=1,
        description="Followees one Redis script merges into a timeline being rebuilt (~0.5 ms each).",
    )

    # The stream worker.
    worker_batch: int = Field(500, ge=1, description="Events the worker takes per batch.")
    worker_batch_wait_ms: int = Field(10, ge=0, description="How long a batch waits to fill.")
    worker_align_ms: float = Field(
        1000.0,
        ge=0,
        description="Records wait until every partition with a backlog has been read up to their time, so "
        "followers get tweets in order; a partition silent this long stops holding the others (0: no holding).",
    )
    worker_align_max: int = Field(
        50_000, ge=0, description="Records the worker holds back at most while aligning partitions in time."
    )
    worker_fetch_min_bytes: int = Field(
        65_536,
        ge=1,
        description="Bytes a Kafka fetch of the worker waits for (up to the wait below): a trickle of tweets then "
        "costs one fetch per wait instead of one per record, CPU the broker and the worker give the fan-out (1: "
        "answer at once).",
    )
    worker_fetch_max_wait_ms: int = Field(
        10, ge=0, description="How long a Kafka fetch of the worker waits for the bytes above, at most."
    )
    worker_commit_interval_s: float = Field(
        0.5, gt=0, description="How often the worker commits consumer offsets (what a restart resumes from)."
    )
    worker_session_timeout_s: float = Field(
        10.0, gt=1, description="How soon Kafka hands a dead worker's partitions to another (or its restart)."
    )
    worker_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU niceness the worker adds to itself: where it shares cores with the API (one box), the "
        "kernel serves reads first and fan-out lags instead (0: off).",
    )
    gc_young_threshold: int = Field(
        5_000,
        ge=100,
        description="New objects that trigger a young garbage collection in the API and the worker (CPython: 700); "
        "what start-up built is frozen out of every collection (infra/heap.py).",
    )
    worker_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop",
        description="The worker's event loop: uvloop (libuv: less time per socket write and wake-up, where a "
        "drain spends much of its Python) or the standard library's.",
    )
    worker_id: str = Field("worker", description="Consumer group suffix (the group is <topic prefix><id>).")
    worker_metrics_port: int = Field(
        9108, ge=0, le=65535, description="Port of the worker's Prometheus metrics endpoint (0: off)."
    )

    # Operations.
    version_refresh_s: float = Field(
        0.5, gt=0, description="How often the API re-reads which timeline version is live (after a promote)."
    )
    operate_timeout_s: float = Field(
        600.0, gt=0, description="How long operator commands (replay, verify) wait for the worker to catch up."
    )

    # The local launcher.
    state_dir: Path = Field(REPO_ROOT / ".state", description="Data and logs of the local services.")
    kafka_heap: str = Field("1G", description="Kafka JVM heap (-Xmx).")
    cassandra_heap: str = Field("1G", description="Cassandra JVM heap (-Xmx).")
    jvm_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU niceness of the Kafka and Cassandra that `chirp up` starts. Reads are served from Redis "
        "by the API; on one box the JVMs serve the ingest side and yield the cores to reads (0: off).",
    )
    start_timeout_s: float = Field(180.0, description="Deadline for a local service to become ready.")

    # The API.
    api_host: str = Field("127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(8000, description="Port the API listens on.")
    api_workers: int = Field(
        1,
        ge=1,
        description="uvicorn worker processes. On 2 cores shared with Redis, 2 read as fast as 1 (the box is the "
        "limit) with a shorter tail and take ~1.5x the posts, but each answers /metrics for itself alone.",
    )
    api_reuse_port: bool = Field(
        False,
        description="Bind the API port with SO_REUSEPORT: several API processes on one host listen on the same port "
        "and the kernel spreads new connections over them, with no proxy in between (`chirp run --apis N` with "
        "CHIRP_API_BALANCER=kernel).",
    )
    api_balancer: Literal["nginx", "kernel"] = Field(
        "nginx",
        description="How `chirp run --apis N` (N > 1) spreads requests: nginx on the API port in front of the "
        "processes (it retries a request no process took), or the kernel (every process on the API port, "
        "SO_REUSEPORT: one hop less, nothing retried).",
    )
    api_metrics_port: int = Field(
        9101, ge=0, le=65535,
        description="Port of the API's Prometheus endpoint, apart from the public one (0: GET /metrics on the API "
        "port itself). With several API workers on one port, the first to bind it serves its own numbers.",
    )  # fmt: skip
    api_metrics_host: str = Field("127.0.0.1", description="Address the API's metrics endpoint listens on.")
    id_lease_s: float = Field(
        30.0,
        ge=1,
        description="Time to live of an API process's id-generator node lease (renewed every third of "
        "it); a process that cannot renew stops making ids when it ends.",
    )
    max_body_bytes: int = Field(
        262_144, ge=1024, description="Largest request body accepted (else 413); a valid one is a few KiB."
    )
    kafka_send_timeout_ms: int = Field(5_000, ge=100, description="How long a write waits for Kafka before 503.")
    log_level: str = Field("info", description="Log level of every chirp process.")

    # Abuse limits (api/ratelimit.py): kept in Redis, so every API process shares them. A limit is written
    # the way the `limits` package parses it: "300/3 hours", "5 per 30 minutes", "400/day".
    rate_limits: Literal["on", "off"] = Field("on", description="'off' turns every rate limit off (load tests).")
    rate_limit_register: str = Field("5/30 minutes", description="Registrations per client address.")
    rate_limit_anonymous: str = Field("3000/5 minutes", description="Reads without a valid token, per client address.")
    rate_limit_posts: str = Field("300/3 hours", description="Posts, replies and edits per user.")
    rate_limit_deletes: str = Field("30/30 minutes", description="Deleted tweets per user.")
    rate_limit_follows: str = Field("400/day", description="Follows and unfollows per user.")
    rate_limit_writes: str = Field(
        "1500/5 minutes", description="All authenticated writes together (likes, media, read marks too), per user."
    )
    rate_limit_search: str = Field("300/5 minutes", description="Searches per user (per address when anonymous).")
    rate_limit_streams: str = Field("60/5 minutes", description="Stream connections opened per user.")
    rate_limit_logins: str = Field(
        "30/5 minutes", description="Sign-in attempts (POST /oauth/token, the sign-in form) per client address."
    )
    operator_token: str = Field(
        "",
        description="Secret that exempts a request from rate limits when sent as `X-Chirp-Operator` (operator "
        "tools such as `chirp demo`); empty: no exemption. `chirp run` makes one if unset.",
    )
    trusted_proxies: str = Field(
        "",
        description="Addresses of reverse proxies whose X-Forwarded-For names the client (comma separated; "
        "empty: the peer address is the client, and X-Forwarded-For is ignored).",
    )

    token_ttl_s: int = Field(
        30 * 86_400, ge=60, description="Life of a bearer token; a token in use is extended (rolling expiry)."
    )
    view_cache: int = Field(
        50_000, ge=0, le=10_000_000,
        description="Tweet views (with counts and author) an API process keeps in its memory, kept exact by Redis's "
        "client-side caching invalidations (CLIENT TRACKING BCAST): a timeline page then costs Redis its entries "
        "only. 0: none, every page hydrated in Redis.",
    )  # fmt: skip
    view_cache_ping_s: float = Field(
        1.0, gt=0, le=60,
        description="How often an API process pings the connections that bring it Redis's invalidations; one "
        "unanswered for this long turns its view cache off (and empties it) until every node's is back.",
    )  # fmt: skip
    token_cache_s: float = Field(60.0, gt=0, description="How long an API process trusts its cached token lookup.")
    token_revocation_poll_s: float = Field(
        0.25, gt=0, le=1, description="How often each API process learns of revoked tokens (they are refused then)."
    )
    idempotency_ttl_s: int = Field(
        86_400, ge=60, description="How long the answer to a write with an Idempotency-Key is kept for its retries."
    )
    idempotency_lease_s: int = Field(
        30, ge=1, description="How long a retry waits (409) for the first request with its key to finish."
    )
    read_wait_ms: int = Field(
        2000, ge=0, le=30_000,
        description="How long a read that names a write's position (X-Chirp-Position) waits for the worker to have "
        "applied it, and how long a Mastodon home timeline waits for its user's own last write; past that the "
        "read is served as it is (X-Chirp-Caught-Up: false).",
    )  # fmt: skip
    write_marks_s: int = Field(
        60, ge=1, description="How long the API remembers a user's last write position (for the read-your-writes "
        "wait of the Mastodon home timeline).",
    )  # fmt: skip

    # The Mastodon-compatible API (api/mastodon/).
    public_url: str = Field(
        "",
        description="The public base URL clients reach the API at (https://chirp.example); it names the instance "
        "(its domain), account and tag URLs and the streaming URL. Empty: each request's own scheme and Host.",
    )
    instance_title: str = Field("chirp", description="The instance's name, as Mastodon clients show it.")
    instance_description: str = Field(
        "A Twitter-like timeline service built on an event log.", description="One line about the instance."
    )
    instance_contact_email: str = Field("", description="The contact address shown to clients (empty: none).")
    registrations_open: bool = Field(
        True, description="Whether POST /api/v1/accounts registers accounts (chirp's own POST /users always does)."
    )
    oauth_code_ttl_s: int = Field(600, ge=30, le=3600, description="Life of an OAuth authorization code.")

    # Push (GET /timeline/stream, /timeline/ws).
    push_heartbeat_s: float = Field(
        15.0, gt=0, description="Seconds between stream heartbeats; presence lasts three of them."
    )
    push_buffer: int = Field(
        256, ge=1, description="Messages queued per stream client; a client further behind is disconnected."
    )
    push_max_streams: int = Field(
        8, ge=1, description="Streams (SSE or WebSocket) one user may hold open on one API process (else 429)."
    )
    push_catch_up_max: int = Field(
        1000, ge=1, description="Most missed tweets a reconnect (Last-Event-ID) replays from the timeline."
    )

    # Media: bytes go to S3-compatible storage and out through it (or a CDN in front), never through chirp's API
    # on the way out. `chirp up` starts S3Proxy (filesystem backend, data in the state folder) when the endpoint
    # is on this machine; the defaults are that local server's, bound to loopback.
    media_base_url: str = Field(
        "",
        description="Public base URL of uploaded media (the CDN), e.g. https://cdn.example.com/media/: a media URL "
        "is this plus the object key. Empty: the S3 endpoint and bucket (path style).",
    )
    s3_endpoint: str = Field(
        "http://127.0.0.1:9880",
        description="S3-compatible endpoint, e.g. https://s3.us-east-1.amazonaws.com; on this machine `chirp up` "
        "starts S3Proxy there (empty: no media storage, no upload routes).",
    )
    s3_bucket: str = Field(
        "chirp-media",
        description="Bucket uploads go to (path-style URLs: <endpoint>/<bucket>/<key>); `chirp up` and "
        "`chirp migrate` make it.",
    )
    s3_region: str = Field("us-east-1", description="Region requests and upload URLs are signed for.")
    s3_access_key: str = Field(
        "chirp", description="Access key id chirp signs with (the local S3Proxy's identity, which `chirp up` sets)."
    )
    s3_secret_key: str = Field(
        "chirp-local-secret",
        description="Secret key chirp signs with (never sent anywhere). The default suits only the local S3Proxy, "
        "which listens on loopback: set your own anywhere else.",
    )
    s3_object_acl: str = Field(
        "public-read",
        description="Canned ACL objects are stored with, so clients read them without credentials (S3Proxy serves "
        "unsigned reads of public-read objects only). Empty: none (a bucket policy makes them readable, as on "
        "buckets with ACLs disabled).",
    )
    s3_presign_ttl_s: int = Field(900, ge=1, le=7 * 24 * 3600, description="How long an upload URL is valid.")
    s3proxy_heap: str = Field("256m", description="Heap (-Xmx) of the S3Proxy JVM `chirp up` starts.")
    media_upload_ttl_s: int = Field(
        86_400, ge=60, description="How long an upload (its media_id) can be attached to a tweet."
    )
    media_upload_max_bytes: int = Field(
        40 * 1024 * 1024,
        ge=1024,
        description="Largest file POST /api/v1/media and /api/v2/media take (the bytes pass through the API to "
        "storage; each type's own limit applies too: images 5 MiB, GIFs 15 MiB). chirp's own POST /media hands "
        "out an upload URL instead, up to each type's limit (videos 512 MiB).",
    )

    @field_validator(
        "rate_limit_register", "rate_limit_anonymous", "rate_limit_posts", "rate_limit_deletes",
        "rate_limit_follows", "rate_limit_writes", "rate_limit_search", "rate_limit_streams", "rate_limit_logins",
    )  # fmt: skip
    @classmethod
    def _a_limit(cls, value: str) -> str:
        """A limit that does not parse fails at start-up, not at the first request it would guard."""
        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate limit such as '300/3 hours' ({exc})") from exc
        return value

    @property
    def worker_group(self) -> str:
        """The stream worker's Kafka consumer group (and Faust app id)."""
        return f"{self.topic_prefix}{self.worker_id}"

    def child_env(self) -> dict[str, str]:
        """This process's environment plus these settings as CHIRP_* variables, for a child process."""
        env = dict(os.environ)
        for name, value in self.model_dump().items():
            if value is not None:
                env[f"CHIRP_{name.upper()}"] = str(value)
        return env

    @property
    def kafka_host_port(self) -> tuple[str, int]:
        return self.kafka_nodes[0]

    @property
    def redis_host_port(self) -> tuple[str, int]:
        return self.redis_nodes[0]

    @property
    def redis_cluster(self) -> bool:
        return bool(self.redis_cluster_nodes.strip())

    @property
    def redis_nodes(self) -> list[tuple[str, int]]:
        """The Redis Cluster's nodes, or the one Redis of the URL."""
        if self.redis_cluster:
            return [_host_port(a, 6379) for a in self.redis_cluster_nodes.split(",") if a.strip()]
        u = urlparse(self.redis_url)
        return [(u.hostname or "127.0.0.1", u.port or 6379)]

    @property
    def min_insync_replicas(self) -> int:
        rf = self.kafka_replication_factor
        return min(self.kafka_min_insync_replicas or max(1, rf - 1), rf)

    @property
    def kafka_nodes(self) -> list[tuple[str, int]]:
        """Every broker of the bootstrap list."""
        return [_host_port(a, 9092) for a in self.kafka_bootstrap.split(",") if a.strip()]

    @property
    def cassandra_contact_points(self) -> list[str]:
        return [h.strip() for h in self.cassandra_hosts.split(",") if h.strip()]

    @property
    def media_storage(self) -> bool:
        """Whether uploads can be signed: an endpoint, a bucket and both keys."""
        return all((self.s3_endpoint, self.s3_bucket, self.s3_access_key, self.s3_secret_key))

    @property
    def media_base(self) -> str:
        """The base media URLs are built from, ending in `/` (empty when neither is configured)."""
        base = self.media_base_url or (
            f"{self.s3_endpoint.rstrip('/')}/{self.s3_bucket}/" if self.s3_endpoint and self.s3_bucket else ""
        )
        return base if not base or base.endswith("/") else base + "/"

    def operator_secret(self, create: bool = False) -> str:
        """CHIRP_OPERATOR_TOKEN, else the secret kept in `state_dir/operator-token` (made, readable by its owner
        alone, on first use when `create`), so that `chirp demo` on this machine can find what `chirp run`
        chose. Empty when there is neither."""
        if self.operator_token:
            return self.operator_token
        path = self.state_dir / "operator-token"
        if not path.exists() and create:
            import secrets

            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"operator-token.{secrets.token_hex(8)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
            try:
                os.link(tmp, path)  # whole or absent: another API process may be making it at the same time
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip() if path.exists() else ""


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, colon, port = address.strip().rpartition(":")
    if not colon:
        return port, default_port
    return host or "127.0.0.1", int(port or default_port)
