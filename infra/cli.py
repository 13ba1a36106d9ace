"""The `chirp` command line: services, migrations, and (later) operator tools."""

from __future__ import annotations

import sys

import click

from infra.logs import setup_logging
from infra.settings import Settings

SERVICE = click.option(
    "--only",
    type=click.Choice(["redis", "kafka", "cassandra"]),
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
    """Start local Kafka, Cassandra and Redis (reusing healthy ones) and wait until they answer."""
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
    """Show whether each service answers a real request; exit 1 if any does not."""
    from infra.services import launcher

    rows = launcher.status(Settings(), only)
    click.echo(f"{'service':<10} {'state':<9} {'address':<22} {'pid':<8} log")
    for s in rows:
        state = "healthy" if s.healthy else "down"
        pid = str(s.pid) if s.pid else ("-" if not s.healthy else "external")
        click.echo(f"{s.name:<10} {state:<9} {s.address:<22} {pid:<8} {s.log_file}")
    sys.exit(0 if all(s.healthy for s in rows) else 1)


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


if __name__ == "__main__":
    main()
