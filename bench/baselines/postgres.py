"""The seed's naive design as a baseline: PostgreSQL with users / follows / tweets tables and the home
timeline computed on read by one join, served over HTTP (`bench.baselines.pg_server`) so wrk reads it at
the same concurrency as chirp.

Made fair rather than naive where it counts: primary keys, follows indexed on (follower_id, followed_id),
tweets on (user_id, id DESC), VACUUM ANALYZE after the bulk load (fresh statistics, and a visibility map
that allows index-only scans), and settings sized for a small shared box. The cluster is throwaway:
`start` makes a fresh one, `stop` deletes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from infra.services.provision import apt_install
from infra.settings import REPO_ROOT

log = logging.getLogger("chirp.bench.postgres")
OS_USER = "postgres"
START_TIMEOUT_S = 60.0

# Modest for a 2-core box shared with Kafka, Cassandra and Redis. wal_level=minimal lets COPY into tables
# created in the same transaction skip the WAL; jit would only add compile time to millisecond queries.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "100",
    "shared_buffers": "256MB",
    "effective_cache_size": "1GB",
    "work_mem": "8MB",
    "maintenance_work_mem": "256MB",
    "random_page_cost": "1.1",
    "jit": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "2GB",
    "timezone": "UTC",
    "log_min_messages": "warning",
}

# Loaded without secondary indexes, which are built once afterwards (faster than maintaining them row by row).
SCHEMA = """
CREATE TABLE users (id bigint NOT NULL, username text NOT NULL, display_name text NOT NULL);
CREATE TABLE follows (id bigint GENERATED ALWAYS AS IDENTITY, follower_id bigint NOT NULL, followed_id bigint NOT NULL);
CREATE TABLE tweets (id bigint NOT NULL, user_id bigint NOT NULL, message text NOT NULL,
                     created_at timestamptz NOT NULL);
"""
INDEXES = """
ALTER TABLE users ADD PRIMARY KEY (id);
ALTER TABLE follows ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX follows_follower_followed ON follows (follower_id, followed_id);
ALTER TABLE tweets ADD PRIMARY KEY (id);
CREATE INDEX tweets_user_id_desc ON tweets (user_id, id DESC);
"""


class BaselineError(RuntimeError):
    """The baseline could not be installed, started or served; the message names the log to read."""


class PostgresBaseline:
    """A private PostgreSQL cluster on `port` plus its HTTP server on `http_port`."""

    def __init__(
        self, state_dir: Path, logdir: Path, port: int = 5499, http_port: int = 8098, workers: int = 1
    ) -> None:
        self.datadir = state_dir / "bench" / "postgres"
        self.logdir = logdir
        self.port = port
        self.http_port = http_port
        self.workers = workers
        self.dsn = f"postgresql://{OS_USER}@127.0.0.1:{port}/postgres"
        self.url = f"http://127.0.0.1:{http_port}"
        self.log_file = logdir / "postgres.log"
        self.server_log = logdir / "pg_server.log"
        self._pg: subprocess.Popen[bytes] | None = None
        self._http: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Installs PostgreSQL if missing, initialises a fresh cluster, starts it, waits until a query answers."""
        bindir = _bindir()
        as_root = os.geteuid() == 0
        if as_root:
            _ensure_os_user()
        self._stop_stale()
        shutil.rmtree(self.datadir, ignore_errors=True)
        self.datadir.mkdir(parents=True)
        if as_root:  # initdb and postgres refuse to run as root
            shutil.chown(self.datadir, OS_USER, OS_USER)
        self.logdir.mkdir(parents=True, exist_ok=True)
        sock_path = self.datadir / f".s.PGSQL.{self.port}"
        if len(str(sock_path)) > 107:
            raise BaselineError(f"unix socket path too long for the kernel ({len(str(sock_path))} > 107): {sock_path}")

        initdb = [str(bindir / "initdb"), "-D", str(self.datadir), "-U", OS_USER, "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync"]  # fmt: skip
        initdb_log = self.logdir / "postgres-initdb.log"
        with initdb_log.open("ab") as out:
            done = subprocess.run(initdb, stdout=out, stderr=subprocess.STDOUT, check=False, **_as_postgres(as_root))
        if done.returncode != 0:
            raise BaselineError(f"initdb failed ({done.returncode}); see {initdb_log}\n{_tail(initdb_log)}")

        settings = {**SETTINGS, "port": str(self.port), "unix_socket_directories": str(self.datadir)}
        cmd = [str(bindir / "postgres"), "-D", str(self.datadir)]
        for k, v in settings.items():
            cmd += ["-c", f"{k}={v}"]
        self._pg = _spawn(cmd, self.log_file, self.datadir, as_postgres=as_root)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not asyncio.run(_query_ok(self.dsn)):
            if self._pg.poll() is not None:
                raise BaselineError(
                    f"postgres exited ({self._pg.returncode}); see {self.log_file}\n{_tail(self.log_file)}"
                )
            if time.monotonic() > deadline:
                raise BaselineError(f"postgres did not answer within {START_TIMEOUT_S:.0f}s; see {self.log_file}")
            time.sleep(0.1)
        log.info("postgres %s ready on port %d (pid %d)", bindir.parent.name, self.port, self._pg.pid)

    def load(
        self,
        users: Sequence[tuple[int, str]],
        follows: Sequence[tuple[int, int]],
        tweets: Sequence[tuple[int, int, str, float]],
    ) -> dict[str, float]:
        """COPYs (id, handle), (follower, followee) and (tweet_id, author_id, text, created epoch s) in bulk,
        then builds the indexes and runs VACUUM ANALYZE; returns rows loaded and seconds taken, all included.

        The display name is `handle.title()`, what the workload registers users with in chirp."""
        t0 = time.monotonic()
        asyncio.run(_load(self.dsn, users, follows, tweets))
        return {"rows": float(len(users) + len(follows) + len(tweets)), "seconds": time.monotonic() - t0}

    def serve(self) -> str:
        """Starts `python -m bench.baselines.pg_server` and returns its base URL once /healthz answers 200."""
        cmd = [sys.executable, "-m", "bench.baselines.pg_server", "--dsn", self.dsn,
               "--port", str(self.http_port), "--workers", str(self.workers)]  # fmt: skip
        self._http = proc = _spawn(cmd, self.server_log, REPO_ROOT, as_postgres=False)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self.url
            if proc.poll() is not None:
                raise BaselineError(
                    f"pg_server exited ({proc.returncode}); see {self.server_log}\n{_tail(self.server_log)}"
                )
            if time.monotonic() > deadline:
                raise BaselineError(f"pg_server was not ready within {START_TIMEOUT_S:.0f}s; see {self.server_log}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stops the HTTP server and postgres (fast shutdown), then deletes the cluster. Safe to call twice."""
        if self._http is not None:
            _stop_group(self._http, signal.SIGTERM, grace_s=30)
            self._http = None
        if self._pg is not None:
            _stop_group(self._pg, signal.SIGINT, grace_s=60)  # SIGINT: postgres's "fast" shutdown
            self._pg = None
        self._stop_stale()
        shutil.rmtree(self.datadir, ignore_errors=True)

    def _stop_stale(self) -> None:
        """A postmaster left on this data dir by an interrupted run would hold the port; stop it."""
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return
        if b"postgres" not in cmdline or str(self.datadir).encode() not in cmdline:
            return
        log.warning("stopping postgres pid %d left on %s", pid, self.datadir)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 60
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)


async def _query_ok(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=2)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False  # refused, or "the database system is starting up"
    try:
        return bool(await conn.fetchval("SELECT 1") == 1)
    finally:
        await conn.close()


async def _load(
    dsn: str,
    users: Sequence[tuple[int, str]],
    follows: Sequence[tuple[int, int]],
    tweets: Sequence[tuple[int, int, str, float]],
) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE IF EXISTS users, follows, tweets")
        async with conn.transaction():  # tables created in this transaction: with wal_level=minimal, no WAL
            await conn.execute(SCHEMA)
            await conn.copy_records_to_table(
                "users", records=[(uid, h, h.title()) for uid, h in users], columns=["id", "username", "display_name"]
            )
            await conn.copy_records_to_table("follows", records=follows, columns=["follower_id", "followed_id"])
            await conn.copy_records_to_table(
                "tweets",
                records=[(tid, uid, text, datetime.fromtimestamp(ts, UTC)) for tid, uid, text, ts in tweets],
                columns=["id", "user_id", "message", "created_at"],
            )
            await conn.execute(INDEXES)
        await conn.execute("VACUUM (ANALYZE) users, follows, tweets")
    finally:
        await conn.close()


def _bindir() -> Path:
    """The newest Debian-packaged PostgreSQL, installed with apt on first use."""
    found = _installed()
    if not found:
        apt_install("postgresql")
        found = _installed()
    if not found:
        raise BaselineError("installed the postgresql package but found no /usr/lib/postgresql/*/bin/postgres")
    return found[-1]


def _installed() -> list[Path]:
    bins = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    return sorted(bins, key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)


def _ensure_os_user() -> None:
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        OS_USER], check=True, capture_output=True)  # fmt: skip


def _as_postgres(as_root: bool) -> dict[str, Any]:
    """Popen arguments that drop root to the postgres user (it still writes logs through fds opened as root)."""
    return {"user": OS_USER, "group": OS_USER, "extra_groups": []} if as_root else {}


def _spawn(cmd: list[str], logfile: Path, cwd: Path, as_postgres: bool) -> subprocess.Popen[bytes]:
    """A child in its own session, so stopping it reaches everything it forked and nothing else."""
    with logfile.open("ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                start_new_session=True, **_as_postgres(as_postgres))  # fmt: skip


def _stop_group(proc: subprocess.Popen[bytes], sig: signal.Signals, grace_s: float) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("pid %d ignored %s for %.0fs; killing its group", proc.pid, sig.name, grace_s)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the leader and what it forked (the workers)
    proc.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
