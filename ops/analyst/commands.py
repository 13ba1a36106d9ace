"""The `chirp tap` and `chirp export` commands: option parsing and messages only; the work is in tap/export.

Kept here rather than in ops/cli.py so that file only registers them; heavy imports (pyarrow, aiokafka)
wait until a command runs, so `chirp --help` stays fast.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from infra.settings import Settings
from ops.analyst import AnalystError, parse_time
from schemas.topics import DEAD_LETTERS, EVENT_TOPICS, by_name

# The event topics and the dead letters; other registry topics (bookkeeping) carry no events to read.
TOPIC = click.argument("topic", type=click.Choice([t.name for t in (*EVENT_TOPICS, DEAD_LETTERS)]), metavar="TOPIC")


class IsoTime(click.ParamType):
    """ISO-8601 date or datetime; UTC unless it names a zone."""

    name = "ISO-8601"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value))
        except AnalystError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@TOPIC
@click.option("--from-beginning", is_flag=True, help="Start at the first offset (default: at the end).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until Ctrl-C (default: stop at the end).")
@click.option("--type", "event_type", metavar="EVENT", default=None, help="Only this event type, e.g. TweetEdited.")
def tap(topic: str, from_beginning: bool, follow: bool, event_type: str | None) -> None:
    """Print a topic's events as JSON lines, decoded with only the .avsc files.

    TOPIC is a registry name: users, tweets, follows, likes or deadletters
    (the Kafka topic is CHIRP_TOPIC_PREFIX + TOPIC). Without --from-beginning
    reading starts at the end; without --follow it stops at the end offsets
    taken at start (so plain `chirp tap tweets` prints nothing: add one).

    One object per event: the Avro record's fields resolved to the latest
    schema version (event_id, event_type, schema_version, occurred_at as
    ISO-8601 UTC, actor_id, then the payload; see docs/events.md), plus
    _kafka: {partition, offset, timestamp, key}. 64-bit ids (every top-level
    Avro long: tweet_id, author_id, actor_id, ...) are decimal strings, as in
    the API, because jq and JavaScript round integers past 2^53; compare them
    as strings or use `tonumber` only for small values. Dead letters print
    {headers, event, error, _kafka}: event is null when the original bytes do
    not decode, and error says why.

    Messages that do not decode are reported on stderr (partition, offset,
    reason) and skipped. Ctrl-C, SIGTERM and a closed pipe (`| head`) end it
    quietly.

    \b
    Examples:
      chirp tap tweets --from-beginning | jq -c 'select(.reply_to != null)'
      chirp tap tweets --from-beginning --type TweetPosted \\
        | jq -r .author_id | sort | uniq -c | sort -rn | head
      chirp tap tweets --from-beginning --type TweetEdited | jq '{tweet_id, content, occurred_at}'
      chirp tap likes --follow | jq -c '[.event_type, .tweet_id, .user_id]'
      chirp tap deadletters --from-beginning | jq -r '[.headers.reason, .headers.origin_offset] | @tsv'
      chirp tap users --from-beginning | jq -s 'map(.handle) | length'
    """
    from ops.analyst.tap import check_type
    from ops.analyst.tap import tap as run

    chosen = by_name(topic)
    try:
        check_type(chosen, event_type)
    except AnalystError as exc:
        raise click.BadParameter(str(exc), param_hint="--type") from None
    try:
        asyncio.run(
            run(Settings(), chosen, from_beginning=from_beginning, follow=follow, event_type=event_type,
                out=sys.stdout.buffer, err=sys.stderr)
        )  # fmt: skip
    except AnalystError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:  # before the signal handlers were in place: still a quiet stop
        pass


@click.command()
@TOPIC
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="FILE.avro or FILE.parquet; the suffix picks the format (replaced if it exists).",
)  # fmt: skip
@click.option("--since", type=IsoTime(), default=None, help="Events at or after this time (occurred_at).")
@click.option("--until", type=IsoTime(), default=None, help="Events before this time (exclusive).")
@click.option(
    "--seek-margin", "margin_s", type=float, default=60.0, show_default=True, metavar="SECONDS",
    help="Enter Kafka's time index this long before --since, for clocks that disagree.",
)  # fmt: skip
def export(topic: str, out: Path, since: datetime | None, until: datetime | None, margin_s: float) -> None:
    """Write a topic's events to an Avro or Parquet file, one row per event.

    pandas, DuckDB and Spark open the file as it is. The columns are generated
    from the .avsc files: the envelope (event_id, event_type, schema_version,
    occurred_at, actor_id), every payload field of every event type on the
    topic (null where an event type has no such field; media is a list of
    records), then kafka_partition, kafka_offset, kafka_timestamp. Ids are
    64-bit integers; timestamps are UTC microseconds (Avro timestamp-micros,
    Parquet timestamp[us, UTC]). Field docs: docs/events.md.

    --since and --until take an ISO-8601 date or datetime (UTC when no zone is
    given) and select by event time: since <= occurred_at < until. Kafka's time
    index finds where --since begins, so a recent window does not scan the
    whole topic. The file is written in chunks (Parquet row groups of 50,000
    rows) as FILE.partial and renamed when complete; a progress bar with
    events/s and ETA shows on a terminal.

    \b
    Examples:
      chirp export tweets --out tweets.parquet --since 2026-01-01 --until 2026-02-01
      chirp export likes --out likes.avro --since 2026-03-01T12:00:00+01:00
      python -c "import pandas as pd; df = pd.read_parquet('tweets.parquet');
                 print(df.groupby('event_type').size())"
      duckdb -c "SELECT author_id, count(*) AS posts FROM 'tweets.parquet'
                 WHERE event_type = 'TweetPosted' GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
      duckdb -c "INSTALL avro; LOAD avro; SELECT event_type, count(*) FROM read_avro('likes.avro') GROUP BY 1"
      python -c "import fastavro; print(next(fastavro.reader(open('likes.avro', 'rb'))))"
      spark.read.format('avro').load('likes.avro')      # with the spark-avro package
    """
    from ops.analyst.export import Interrupted, Window, format_of
    from ops.analyst.export import export as run

    try:
        format_of(out)
    except AnalystError as exc:
        raise click.BadParameter(str(exc), param_hint="--out") from None
    try:
        result = asyncio.run(run(Settings(), by_name(topic), out, Window(since, until, margin_s), sys.stderr))
    except AnalystError as exc:
        raise click.ClickException(str(exc)) from None
    except (Interrupted, KeyboardInterrupt):
        click.echo(f"interrupted: {out} not written", err=True)
        sys.exit(130)
    click.echo(result.summary(), err=True)
