"""`chirp replay`, `chirp promote`, `chirp verify` and the pipeline part of `chirp status` (logic: ops/operate.py)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

from infra import heap
from infra.logs import setup_logging
from infra.settings import Settings

if TYPE_CHECKING:
    from ops.operate import Promoted


def _settings() -> Settings:
    settings = Settings()
    setup_logging("warning" if settings.log_level == "info" else settings.log_level)  # progress bars, not logs
    return settings


def _fail(exc: Exception) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


def _since(value: str) -> datetime | None:
    """`earliest`, or an ISO-8601 time (a date alone is midnight; no zone is UTC)."""
    if value == "earliest":
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: use `earliest` or an ISO-8601 time such as 2026-11-25T08:00:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@click.command()
@click.argument("what", type=click.Choice(["timelines", "projections", "all"]))
@click.option(
    "--from",
    "start",
    default="earliest",
    show_default=True,
    metavar="earliest|TIME",
    help="Replay from the start of the log, or from the first event at or after TIME (ISO-8601).",
)
@click.option("--user", "user_id", type=int, default=None, help="Rebuild this one user's timeline in place, now.")
def replay(what: str, start: str, user_id: int | None) -> None:
    """Rebuild read models from the event log into a new version, while the live one keeps serving.

    \b
    timelines    home timelines, trends and the caches: a new Redis key prefix
    projections  the durable projections (users, tweets, the graph, likes, search...): a new keyspace
    all          both

    \b
    The new version (v2, v3, ...) gets its own locations and its own consumer group; what it does not
    rebuild it shares with the live version. It is filled from the log with the live worker's projector
    (timelines: fan-out off, then the timelines of the users active now are materialized), then the stream
    worker (which must be running) brings it up to the end of the log and keeps it there. When it is
    ready, switch reads to it with `chirp promote <version>`.

    \b
    --from TIME replays only the events at or after TIME: the version then holds what those events build
    (for a rebuild whose earlier history does not matter, or a look at recent activity); `chirp verify`
    compares with the whole log.

    \b
    Examples:
      chirp replay timelines              # prints the new version's name when it is ready
      chirp replay all                    # every read model, into a new prefix and keyspace
      chirp promote v2                    # reads switch at once; the old data is then removed
      chirp replay timelines --user 3830415688119   # one damaged timeline, rebuilt in place
    """
    from ops.operate import OperateError, rebuild_user
    from ops.operate import replay as run
    from projections.versions import VersionError

    since = _since(start)
    if user_id is not None and (what != "timelines" or since is not None):
        _fail(click.UsageError("--user rebuilds one home timeline in place: use it with `timelines` alone"))
    settings = _settings()
    try:
        if user_id is not None:
            n = asyncio.run(rebuild_user(settings, user_id))
            click.echo(f"timeline of {user_id} rebuilt in place: {n} entries")
            return
        heap.settle(settings.gc_young_threshold)  # a replay allocates millions of objects: 1/4 of its CPU was GC
        version, result = asyncio.run(run(settings, what, since))  # type: ignore[arg-type]
    except (OperateError, VersionError) as exc:
        _fail(exc)
        return
    where = []
    if what in ("timelines", "all"):
        where.append(f"timelines under {version.prefix(settings.redis_prefix)!r}")
    if what in ("projections", "all"):
        where.append(f"projections in keyspace {version.keyspace}")
    click.echo(
        f"{version.name} ready ({', '.join(where)}): {result.events:,} events replayed in {result.seconds:.1f}s "
        f"({result.events_per_s:,.0f} events/s), {result.skipped} skipped (dead letters)"
        + (
            f"; {result.timelines:,} active timelines materialized in {result.warm_seconds:.1f}s"
            if what != "projections"
            else ""
        )
    )
    click.echo(f"switch reads to it with: chirp promote {version.name}")


@click.command()
@click.argument("version")
def promote(version: str) -> None:
    """Switch reads to a ready version at once, then remove the old version's data in batches.

    \b
    Example:
      chirp promote v2
    """
    from ops.operate import promote as run

    settings = _settings()
    done = _version_change(run, settings, version)
    click.echo(f"{version} is live; {done.old.name} retired, {_removed(settings, done)}")


def _version_change(
    run: Callable[[Settings, str], Coroutine[Any, Any, Promoted]], settings: Settings, version: str
) -> Promoted:
    """Runs `promote` or `retire`; a version error (unknown, wrong state) ends the command with exit 1."""
    from projections.versions import VersionError

    try:
        return asyncio.run(run(settings, version))
    except VersionError as exc:
        _fail(exc)


def _removed(settings: Settings, done: Promoted) -> str:
    removed = f"{done.keys_removed:,} keys no version uses removed"
    if done.keyspace_removed == settings.keyspace:
        removed += f", projection tables of keyspace {done.keyspace_removed} emptied"
    elif done.keyspace_removed:
        removed += f", keyspace {done.keyspace_removed} dropped"
    return removed


@click.command()
@click.argument("version")
def retire(version: str) -> None:
    """Discard a version that is not live (a rebuild you do not want): the worker stops writing it, then
    its data that no other version uses is removed.

    \b
    Example:
      chirp retire v3
    """
    from ops.operate import retire as run

    settings = _settings()
    done = _version_change(run, settings, version)
    click.echo(f"{version} retired, {_removed(settings, done)}")


@click.command()
@click.option("--users", "sample", type=int, default=None, help="Check a random sample of N users.")
@click.option("--all", "everyone", is_flag=True, help="Check every user (the default when --users is not given).")
@click.option("--depth", default=50, show_default=True, help="Entries of each timeline compared.")
def verify(sample: int | None, everyone: bool, depth: int) -> None:
    """Recompute home timelines from the event log and compare them with what the API serves.

    \b
    The reference model (projections/reference.py) applies every event in the log: the newest non-deleted
    tweets by the user and by everyone they follow now. Each served timeline must equal it, entry for
    entry and with the current text of edited tweets. Waits for the worker to reach the end of the log
    first. Prints every mismatch; exits 1 if there is any.

    \b
    Examples:
      chirp verify --all
      chirp verify --users 1000 --depth 20
    """
    from ops.operate import OperateError
    from ops.operate import verify as run

    if everyone and sample is not None:
        _fail(click.UsageError("--users and --all are alternatives"))
    settings = _settings()
    try:
        checked, mismatches = asyncio.run(run(settings, None if everyone else sample, depth))
    except OperateError as exc:
        _fail(exc)
        return
    if mismatches:
        click.echo(f"{len(mismatches)} of {checked} timelines differ from the log", err=True)
        sys.exit(1)
    click.echo(f"all {checked} timelines match the log (top {depth} entries)")


def _worker_degraded(settings: Settings) -> str | None:
    """What a stream worker is retrying against a failing store (None: nothing, or Redis cannot say)."""
    import redis

    from infra import redisnodes
    from projections.stores.keys import worker_degraded

    try:
        r = redisnodes.connect_sync(settings, socket_timeout=2)
        try:
            raw = r.get(worker_degraded(settings.redis_prefix))
        finally:
            r.close()
    except redis.RedisError:
        return None
    return raw.decode() if isinstance(raw, bytes) else None


def echo_pipeline(settings: Settings) -> None:
    """The versions, the worker's lag per partition and the dead letters, under the service table."""
    from aiokafka.errors import UnknownTopicOrPartitionError

    from ops.operate import pipeline_status

    try:
        status = asyncio.run(pipeline_status(settings))
    except UnknownTopicOrPartitionError:
        click.echo(f"\nno topics with the prefix {settings.topic_prefix!r} yet: run `chirp migrate` (or `make run`)")
        return
    click.echo("\nversion  state      created                    behind  timelines  keyspace")
    for v, behind in status.versions:
        lag = "-" if behind < 0 else f"{behind:,}"
        tl = v.timelines or v.name
        click.echo(
            f"{v.name:<8} {v.state:<10} {v.created_at or '(initial)':<26} {lag:>6}  {tl:<9}  "
            f"{v.keyspace_in(settings.keyspace)}{'  ' + v.note if v.note else ''}"
        )
    click.echo(f"\nworker group {settings.worker_group}: lag per partition (end - committed)")
    for key, (end, done) in status.lag.items():
        click.echo(f"  {key:<40} {end - done:>8,}  (end {end:,})")
    total = sum(end - done for end, done in status.lag.values())
    click.echo(f"  {'total':<40} {total:>8,}")
    click.echo(f"\ndead letters: {status.dead_letters:,} (chirp dlq list)")
    degraded = _worker_degraded(settings)
    click.echo(f"worker: {'degraded, retrying ' + degraded if degraded else 'ok'}")
