"""HTTP front of the naive PostgreSQL baseline: `GET /timeline` is one fan-out-on-read join per request.

Same stack as chirp's API (FastAPI, uvicorn with uvloop and httptools, orjson) so the benchmark compares
designs, not frameworks. Everything comes from the command line (no environment):

    python -m bench.baselines.pg_server --dsn postgresql://postgres@127.0.0.1:5499/postgres --port 8098 --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import traceback
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
import orjson
import uvicorn
from fastapi import FastAPI, Query, Request, Response

MAX_LIMIT = 100  # chirp's API caps page sizes the same way

# The seed's join (tweet x user x follow), with the reader's own tweets added to the followed set, newest
# first. asyncpg prepares it once per pooled connection (its statement cache), so a request is one
# Bind/Execute round trip. Plan: the (follower_id, followed_id) index yields the followees, the
# (user_id, id DESC) index their newest tweets, a top-N sort keeps `limit`, the users pkey hydrates authors.
TIMELINE_SQL = """
SELECT t.id, t.user_id, t.message, t.created_at, u.username, u.display_name
FROM tweets t
INNER JOIN users u ON u.id = t.user_id
INNER JOIN (
    SELECT f.followed_id AS user_id FROM follows f WHERE f.follower_id = $1
    UNION
    SELECT $1
) AS src ON src.user_id = t.user_id
ORDER BY t.id DESC
LIMIT $2
"""


def _json(body: Any, status_code: int = 200) -> Response:
    # OPT_UTC_Z writes "...Z" like chirp's pydantic models do.
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), status_code=status_code, media_type="application/json")


def create_app(dsn: str, pool_size: int) -> FastAPI:
    """One asyncpg pool per worker process, opened in the lifespan so it lives on the serving loop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="chirp bench: naive PostgreSQL baseline", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz(request: Request) -> Response:
        """Ready means a query answers, not just that the process is up."""
        try:
            await request.app.state.pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            return _json({"ok": False, "detail": str(exc)}, 503)
        return _json({"ok": True})

    @app.get("/timeline")
    async def timeline(
        request: Request,
        user_id: Annotated[int, Query(ge=0, description="The reader (decimal id); no auth in the baseline.")],
        limit: Annotated[int, Query(ge=1)] = 20,
    ) -> Response:
        rows = await request.app.state.pool.fetch(TIMELINE_SQL, user_id, min(limit, MAX_LIMIT))
        tweets = [
            {
                "tweet_id": str(r[0]),
                "user_id": str(r[1]),
                "content": r[2],
                "created_at": r[3],
                "author": {"user_id": str(r[1]), "handle": r[4], "display_name": r[5]},
            }
            for r in rows
        ]
        return _json({"tweets": tweets})

    return app


def _serve(sock: socket.socket, dsn: str, pool_size: int) -> None:
    config = uvicorn.Config(
        create_app(dsn, pool_size), loop="uvloop", http="httptools", log_level="warning", access_log=False
    )
    uvicorn.Server(config).run(sockets=[sock])


def _supervise(children: list[int]) -> int:
    """Parent of forked workers: forwards SIGTERM/SIGINT, and stops the rest when one exits."""

    def stop_all(signum: int = signal.SIGTERM, frame: object = None) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    code = 0
    while children:
        pid, status = os.wait()
        children.remove(pid)
        code = code or os.waitstatus_to_exitcode(status)
        stop_all()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.baselines.pg_server", description=__doc__.splitlines()[0])
    p.add_argument("--dsn", required=True, help="asyncpg DSN of the baseline's database")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1, help="forked uvicorn processes sharing one socket")
    p.add_argument("--pool-size", type=int, default=10, help="PostgreSQL connections per worker")
    args = p.parse_args(argv)

    # Bound once here and inherited by every forked worker: the kernel spreads connections between them,
    # as uvicorn's own --workers does (which needs an import string, hence configuration from the environment).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    if args.workers <= 1:
        _serve(sock, args.dsn, args.pool_size)
        return 0
    # Signals stay blocked until the parent's forwarding handler is in place; each child unblocks at once
    # and lets uvicorn install its own handlers.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    children: list[int] = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
            code = 1
            try:
                _serve(sock, args.dsn, args.pool_size)
                code = 0
            except SystemExit as exc:  # uvicorn exits 3 when the lifespan (the pool) fails
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:
                traceback.print_exc()
            finally:
                os._exit(code)  # never return into the parent's code path
        children.append(pid)
    return _supervise(children)


if __name__ == "__main__":
    raise SystemExit(main())
