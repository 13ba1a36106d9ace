"""`chirp dlq`: list, show and requeue dead letters. A thin click layer over ops/deadletters/,
kept apart so that `chirp` itself does not import Kafka clients until a dlq command runs."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, NoReturn

import click

from infra.settings import Settings

if TYPE_CHECKING:
    from ops.deadletters.kafkaio import Snapshot
    from ops.deadletters.letters import DeadLetter, Plan

EXIT_FAILED = 1  # something asked for was not requeued: unknown id, refused, or Kafka did not acknowledge
EXIT_NOT_RECORDED = 3  # resent, but the record of it could not be written (see `requeue --help`)
PROGRESS_FROM = 10  # show a progress bar from this many sends on


def _snapshot(settings: Settings) -> Snapshot:
    from ops.deadletters.kafkaio import read_snapshot
    from ops.deadletters.letters import DeadLetterError

    try:
        return asyncio.run(read_snapshot(settings))
    except DeadLetterError as exc:
        _fail(str(exc))


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group()
def dlq() -> None:
    """Inspect dead letters and send them back once their cause is fixed.

    The worker parks an event it cannot process in the dead-letter topic, with the reason and where
    it came from. A dead letter's id is its place in that topic, PARTITION:OFFSET (e.g. 3:17), as
    `list` shows; a bare offset works when only one partition has a dead letter there.

    \b
    Examples:
      chirp dlq list --reason "unknown tweet"
      chirp dlq show 3:17
      chirp dlq requeue 3:17 1:4
      chirp dlq requeue --all --reason "unknown tweet"
    """


@dlq.command("list")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Newest N; 0 for all.")
@click.option("--reason", metavar="TEXT", help="Only reasons containing TEXT (case-insensitive).")
@click.option("--key", metavar="KEY", help="Only dead letters with this exact key (e.g. an author id).")
def list_(limit: int, reason: str | None, key: str | None) -> None:
    """One line per dead letter, oldest first, then a count.

    Columns: the id (for show/requeue), when it failed (UTC), its origin as topic:partition@offset,
    the event type (or "undecodable"), whether it was requeued already, and the reason (truncated).

    A rule violation requeued while its cause remains (e.g. still an edit of an unknown tweet) is
    dead-lettered again as a NEW dead letter with a new id, so both are listed: the old one as
    requeued, the new one not.

    \b
    Examples:
      chirp dlq list
      chirp dlq list --limit 0 --reason undecodable
      chirp dlq list --key 383041568811982848
    """
    from ops.deadletters.letters import in_order, matches
    from ops.deadletters.render import list_rows, summary, table
    from schemas.codec import default_codec

    snap = _snapshot(Settings())
    chosen = in_order(d for d in snap.letters if matches(d, reason, key))
    shown = chosen[-limit:] if limit else chosen
    for line in table(list_rows(shown, snap.done, default_codec())):
        click.echo(line)
    requeued = sum(d.id in snap.done for d in chosen)
    click.echo(summary(len(chosen), requeued, len(shown), reason is not None or key is not None))


@dlq.command()
@click.argument("dead_letter_id", metavar="ID")
def show(dead_letter_id: str) -> None:
    """Everything about one dead letter: headers, key, whether it was requeued, and the event.

    The event is printed as JSON (ids as strings, as the API sends them) when it decodes, else as a
    hex dump of its first bytes.

    \b
    Examples:
      chirp dlq show 3:17
      chirp dlq show 17      (when only one partition has a dead letter at offset 17)
    """
    from ops.deadletters.letters import DeadLetterError, resolve
    from ops.deadletters.render import show_text
    from schemas.codec import default_codec
    from schemas.topics import DEAD_LETTERS

    settings = Settings()
    snap = _snapshot(settings)
    try:
        letter = resolve(dead_letter_id, snap.letters)
    except DeadLetterError as exc:
        _fail(str(exc))
    topic = DEAD_LETTERS.kafka_name(settings.topic_prefix)
    click.echo(show_text(letter, snap.done.get(letter.id), default_codec(), topic))


@dlq.command()
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "everything", is_flag=True, help="Every dead letter not requeued yet.")
@click.option("--reason", metavar="TEXT", help="With --all: only reasons containing TEXT (case-insensitive).")
def requeue(ids: tuple[str, ...], everything: bool, reason: str | None) -> None:
    """Send dead letters back to their origin topic, each at most once.

    Each goes back with its original key (so to the same partition) and its original bytes, plus a
    `requeued_from` header, through an idempotent acks=all producer, in the order they were
    dead-lettered. Only after Kafka acknowledged it is the requeue recorded (in a compacted Kafka
    topic beside the dead letters, so every operator sees it); requeueing it again then prints
    "already requeued at ... as topic:partition@offset" and sends nothing. --all picks only dead
    letters not requeued yet.

    If the cause remains (e.g. still an edit of an unknown tweet), the worker dead-letters the event
    again as a NEW dead letter with a new id; fix the cause and requeue that one.

    \b
    Exit status:
      0  every dead letter asked for is requeued: now, or already before (nothing sent again)
      1  an id is unknown or cannot be requeued (then nothing is sent; with --all those are
         skipped and the rest sent), or Kafka did not acknowledge a send (the ones before it
         were sent and recorded, none after it)
      3  an event was resent but the record could not be written; requeueing it again would
         send a second copy, which is harmless (every projection write is idempotent)

    \b
    Examples:
      chirp dlq requeue 3:17
      chirp dlq requeue 3:17 0:42 2:5
      chirp dlq requeue --all --reason "unknown tweet"
    """
    from ops.deadletters.letters import DeadLetterError, plan, resolve

    if bool(ids) == everything:
        raise click.UsageError("give dead-letter ids or --all (not both)")
    if reason is not None and not everything:
        raise click.UsageError("--reason selects among --all; name ids directly otherwise")
    settings = Settings()
    snap = _snapshot(settings)
    try:
        chosen = [resolve(i, snap.letters) for i in ids] if ids else _pending(snap, reason)
    except DeadLetterError as exc:
        _fail(str(exc))
    todo = plan(chosen, snap.done, settings)
    for letter, why in todo.refused:
        click.echo(f"{letter.id} cannot be requeued: {why}", err=True)
    if todo.refused and ids:
        _fail("nothing sent")
    _send(settings, todo)
    if todo.refused:
        sys.exit(EXIT_FAILED)


def _pending(snap: Snapshot, reason: str | None) -> list[DeadLetter]:
    from ops.deadletters.letters import matches

    return [d for d in snap.letters if d.id not in snap.done and matches(d, reason, None)]


def _send(settings: Settings, todo: Plan) -> None:
    from ops.deadletters.kafkaio import RecordFailed
    from ops.deadletters.letters import DeadLetterError
    from ops.deadletters.render import already_text

    for letter, done in todo.already:
        click.echo(already_text(letter, done))
    if not todo.send:
        click.echo(f"nothing to requeue; nothing sent ({len(todo.already)} already requeued)")
        return
    try:
        sent = asyncio.run(_send_all(settings, todo))
    except RecordFailed as exc:
        _fail(str(exc), EXIT_NOT_RECORDED)
    except DeadLetterError as exc:
        _fail(str(exc))
    click.echo(f"requeued {sent}, already requeued {len(todo.already)}")


async def _send_all(settings: Settings, todo: Plan) -> int:
    """Sends one by one, in order; a failure stops the rest (they stay unsent and unrecorded)."""
    from tqdm import tqdm

    from ops.deadletters.kafkaio import Requeuer
    from ops.deadletters.render import requeued_text

    sent = 0
    async with Requeuer(settings) as requeuer:
        with tqdm(
            total=len(todo.send), desc="requeue", unit="msg", file=sys.stderr, disable=len(todo.send) < PROGRESS_FROM
        ) as bar:
            for letter in todo.send:
                done = await requeuer.requeue(letter)
                sent += 1
                bar.write(requeued_text(letter, done), file=sys.stdout)
                bar.update()
    return sent
