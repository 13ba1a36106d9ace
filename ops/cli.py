"""The `chirp` command line: services, migrations, and (later) operator tools."""

from __future__ import annotations

import sys
import time

import click

from infra.logs import setup_logging
from infra.settings import Settings
from ops.chaos import CLUSTER_SCENARIOS, SCENARIOS

SERVICE = click.option(
    "--only",
    type=click.Choice(["redis", "kafka", "cassandra", "s3proxy"]),
    default=None,
    help="Act on one service only.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """chirp: an event-sourced Twitter-like timeline backend.

    Every setting comes from CHIRP_* environment variables (see README).
    """


@main.command()
@SERVICE
def up(only: str | None) -> None:
    """Start local Kafka, Cassandra, Redis and S3Proxy (reusing healthy ones) and wait until they answer."""
    from infra.services import launcher

    setup_logging(Settings().log_level)
    try:
        launcher.up(Settings(), only, report=click.echo)
    except launcher.ServiceError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.command()
@SERVICE
def down(only: str | None) -> None:
    """Stop the services chirp started (data stays in the state folder)."""
    from infra.services import launcher

    launcher.down(Settings(), only, report=click.echo)


@main.command()
@SERVICE
def status(only: str | None) -> None:
    """The services' health, then the timeline versions, the worker's lag per partition and the dead letters.

    Exits 1 if a service does not answer a real request.
    """
    from infra.services import launcher

    settings = Settings()
    rows = launcher.status(settings, only)
    # A Redis Cluster node's role, the slots it serves and the cluster's state; why a node is down.
    wide = max((len(s.detail) for s in rows), default=0)
    detail = f"{'detail':<{wide}} " if wide else ""
    click.echo(f"{'service':<12} {'state':<9} {'address':<22} {'pid':<8} {detail}log")
    for s in rows:
        state = "healthy" if s.healthy else "down"
        pid = str(s.pid) if s.pid else ("-" if not s.healthy else "external")
        detail = f"{s.detail:<{wide}} " if wide else ""
        click.echo(f"{s.name:<12} {state:<9} {s.address:<22} {pid:<8} {detail}{s.log_file}")
    healthy = all(s.healthy for s in rows)
    if healthy and only is None:
        from ops.operate_cli import echo_pipeline

        echo_pipeline(settings)
    sys.exit(0 if healthy else 1)


@main.command()
def migrate() -> None:
    """Create the Kafka topics from the registry and apply CQL migrations (idempotent)."""
    from infra.migrate import migrate as run

    settings = Settings()
    setup_logging(settings.log_level)
    run(settings, report=click.echo)
    click.echo(f"migrations done (topics prefix {settings.topic_prefix!r}, keyspace {settings.keyspace!r})")


@main.command()
def api() -> None:
    """Serve the HTTP API (uvicorn)."""
    from api.__main__ import main as serve

    serve()


@main.command()
def worker() -> None:
    """Run the stream worker: Faust agents that project events into Redis and Cassandra."""
    from streams.__main__ import main as work

    work()


@main.command()
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1), help="Stream workers.")
@click.option("--apis", default=1, show_default=True, type=click.IntRange(1),
              help="API processes; more than one: behind nginx on the API port.")  # fmt: skip
def run(workers: int, apis: int) -> None:
    """Run the stream worker(s) and the API process(es) together, each restarted if it exits; Ctrl-C stops all."""
    from ops.topology import plan, supervise

    settings = Settings()
    supervise(plan(settings, workers, apis), click.echo)
    click.echo("stopped")


@main.command()
@click.option("--users", default=40, show_default=True, help="Accounts to create.")
@click.option("--tweets", default=300, show_default=True, help="Tweets (some of them replies) to post.")
@click.option("--seed", type=int, default=None, help="Make the graph and texts reproducible.")
@click.option("--url", default=None, help="API base URL (default: from CHIRP_API_HOST/PORT).")
def demo(users: int, tweets: int, seed: int | None, url: str | None) -> None:
    """Load a small social graph through the running API and print commands that show a timeline."""
    import json

    from ops.demo import DemoError, load, wait_visible

    settings = Settings()
    base = url or f"http://{settings.api_host}:{settings.api_port}"
    try:
        loaded = load(base, max(users, 3), tweets, seed, settings.operator_secret())
        page = wait_visible(base, loaded)
    except DemoError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    star_id, star_handle, _ = loaded.users[0]
    uid, handle, token = loaded.users[1]
    click.echo(
        f"\nLoaded {len(loaded.users)} users, {loaded.follows} follows and {loaded.tweets} tweets. "
        f"@{star_handle} has {loaded.star} followers (celebrity threshold: {settings.celebrity_threshold})."
    )
    click.echo(f"\nThe newest entries of @{handle}'s home timeline:")
    for t in page["tweets"]:
        click.echo(f"  {t['created_at'][:19]}  @{t['author']['handle']:<16} {t['content']}")
    auth = f"-H 'Authorization: Bearer {token}'"
    click.echo("\nTry these:")
    click.echo(f"  curl -s {auth} '{base}/timeline?user_id={uid}&limit=5' | python3 -m json.tool")
    click.echo(f"  curl -s '{base}/users/{star_id}'")
    click.echo(f"  curl -s '{base}/users/{star_id}/tweets?limit=3' | python3 -m json.tool")
    click.echo(f"  curl -s '{base}/users/{uid}/following' | python3 -m json.tool")
    post = json.dumps({"user_id": uid, "content": "hello from the demo"})
    click.echo(f"  curl -s {auth} -H 'Content-Type: application/json' -d '{post}' {base}/tweets")
    click.echo(f"  open {base}/docs for every route")


@main.command()
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(SCENARIOS + CLUSTER_SCENARIOS),
    help="Run these scenarios (repeat); default: all of one node, or of the cluster on its settings.",
)
@click.option("--kills", default=5, show_default=True, help="kill -9 of the worker, how many times.")
@click.option("--users", default=20, show_default=True, help="Accounts the load writes as.")
def chaos(only: tuple[str, ...], kills: int, users: int) -> None:
    """Inject faults under a load of writes and reads, then judge against the log.

    Scenarios: worker (kill -9, --kills times), kafka, cassandra, redis (kill -9, data kept), redis-wiped
    (kill -9, data deleted; timelines rebuilt with replay + promote), redis-oom (maxmemory for a while),
    poison (garbage and an unknown newer schema). Each prints acknowledged writes, missing from the log,
    duplicated, timelines differing from the reference, healthy events dead-lettered: all but the first
    must be 0 (exit 1 otherwise). Kills only services `chirp up` started on this machine.
    """
    import tempfile

    from ops.chaos import scenario, summary, table

    settings = Settings()
    logdir = tempfile.mkdtemp(prefix="chirp-chaos-")
    outcomes = []
    for name in only or (CLUSTER_SCENARIOS if settings.kafka_replication_factor > 1 else SCENARIOS):
        click.echo(f"scenario {name}: load, fault, recovery, judgement ...", err=True)
        many = 2 if name in CLUSTER_SCENARIOS else 1  # two workers and two API processes, behind nginx
        outcome = scenario(settings, name, logdir, report=lambda m: click.echo(m, err=True), users=users,
                           kills=kills, workers=many, apis=many)  # fmt: skip
        outcomes.append(outcome)
        for note in outcome.notes:
            click.echo(f"  {note}", err=True)
    click.echo(table(outcomes))
    totals = summary(outcomes)
    click.echo(
        f"\nlost {totals['missing']}, duplicated {totals['duplicated']}, wrong timelines {totals['wrong_timelines']}, "
        f"healthy events dead-lettered {totals['healthy_dead_lettered']} (process logs: {logdir})"
    )
    sys.exit(0 if not any(totals.values()) else 1)


@main.command()
@click.option("--duration", default="30m", show_default=True, help="How long: 90s, 30m, 2h.")
@click.option("--rate", type=float, default=None, help="Requests/s (a third posts); default ~75% of the last bench.")
@click.option("--every", default=10.0, show_default=True, help="Seconds between samples.")
@click.option("--out", default=None, help="Directory for soak.json, soak.png and the process logs.")
def soak(duration: str, rate: float | None, every: float, out: str | None) -> None:
    """A steady load for a long time: samples consumer lag, worker and API memory, Redis memory and the p99
    of reads and writes; draws them (soak.png) and says which trend upward (exit 1 if any)."""
    from pathlib import Path

    from ops.soak import default_rate
    from ops.soak import soak as run_soak

    unit = {"s": 1, "m": 60, "h": 3600}
    seconds = float(duration[:-1]) * unit[duration[-1]] if duration[-1] in unit else float(duration)
    chosen = rate or default_rate()
    outdir = Path(out) if out else Path("bench") / "results" / f"soak-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    click.echo(f"soak: {seconds:.0f}s at {chosen} requests/s, a sample every {every}s; results in {outdir}")
    result = run_soak(Settings(), seconds, chosen, every, outdir, report=click.echo)
    for name, growth in result["growth_per_hour"].items():
        click.echo(f"  {name:<14} {growth:+8.1%} per hour over the second half")
    up = result["trending_up"]
    click.echo(f"upward trends: {', '.join(up) if up else 'none'} (chart: {outdir / 'soak.png'})")
    sys.exit(1 if up else 0)


from ops.dlq_cli import dlq  # noqa: E402  (registered here, at the end, to keep edits apart)

main.add_command(dlq)


from ops.analyst.commands import export, tap  # noqa: E402  (analysts' tools: ops/analyst/)

main.add_command(tap)
main.add_command(export)


from ops.operate_cli import promote, replay, retire, verify  # noqa: E402  (operators' tools: ops/operate.py)

main.add_command(replay)
main.add_command(promote)
main.add_command(retire)
main.add_command(verify)


if __name__ == "__main__":
    main()
