"""What `chirp dlq` prints: tables, summaries, one dead letter in full (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ops.deadletters.letters import (
    UNDECODABLE,
    DeadLetter,
    Decoded,
    LetterId,
    Requeue,
    decode,
    event_type,
    iso,
    text_or_hex,
)
from schemas.codec import Codec

REASON_WIDTH = 60
HEXDUMP_BYTES = 256


def _json_ready(name: str, value: Any) -> Any:
    """Ids become strings (64-bit ids lose digits in JavaScript), times ISO text; the API does the same."""
    if isinstance(value, int) and not isinstance(value, bool) and (name.endswith("_id") or name == "reply_to"):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: _json_ready(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(name, v) for v in value]
    return value


def event_json(decoded: Decoded) -> str:
    return json.dumps(_json_ready("", decoded.record), indent=2, ensure_ascii=False)


def hexdump(data: bytes, limit: int = HEXDUMP_BYTES) -> str:
    """`xxd`-style lines of the first `limit` bytes, with a note when there are more."""
    lines = []
    for start in range(0, min(len(data), limit), 16):
        chunk = data[start : start + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{start:08x}  {left:<23}  {right:<23}  |{text}|")
    if len(data) > limit:
        lines.append(f"... {len(data) - limit} more bytes")
    return "\n".join(lines) if lines else "(empty)"


def truncate(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


LIST_COLUMNS = ("ID", "FAILED AT (UTC)", "ORIGIN", "EVENT", "REQUEUED", "REASON")


def list_rows(letters: Sequence[DeadLetter], done: dict[LetterId, Requeue], codec: Codec) -> list[tuple[str, ...]]:
    return [
        (
            str(d.id),
            iso(d.failed_at),
            str(d.origin) if d.origin else "(unknown)",
            event_type(codec, d.value),
            "yes" if d.id in done else "no",
            truncate(d.reason, REASON_WIDTH),
        )
        for d in letters
    ]


def table(rows: Sequence[tuple[str, ...]], columns: tuple[str, ...] = LIST_COLUMNS) -> list[str]:
    """Left-aligned columns as wide as their widest cell; the last one is not padded."""
    widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns) - 1)]
    return [
        ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]).rstrip()
        for r in [columns, *rows]
    ]


def summary(matching: int, requeued: int, shown: int, filtered: bool) -> str:
    what = "dead letter" if matching == 1 else "dead letters"
    text = f"{matching} {what}{' match' if filtered else ''} ({requeued} requeued, {matching - requeued} not)"
    if shown < matching:
        text += f"; showing the newest {shown} (--limit 0 shows all)"
    return text


def requeued_text(letter: DeadLetter, done: Requeue) -> str:
    """One line per send; says so when the key routed it elsewhere than it came from (partitions changed?)."""
    text = f"requeued {letter.id} as {done.to}"
    origin = letter.origin
    if origin is not None and (origin.topic, origin.partition) != (done.to.topic, done.to.partition):
        text += f" (its key routes it there; it came from {origin})"
    return text


def already_text(letter: DeadLetter, done: Requeue) -> str:
    return f"{letter.id} already requeued at {iso(done.at)} as {done.to}; nothing sent"


def show_text(letter: DeadLetter, done: Requeue | None, codec: Codec, dead_letter_topic: str) -> str:
    """Everything about one dead letter, for `chirp dlq show`."""
    lines = [
        f"dead letter {letter.id} in {dead_letter_topic}",
        f"failed at  {iso(letter.failed_at)}",
        f"origin     {letter.origin or '(unknown: origin headers missing)'}",
        f"reason     {letter.reason}",
        f"requeued   {f'at {iso(done.at)} as {done.to}' if done else 'no'}",
        f"key        {text_or_hex(letter.key)}",
        "headers",
        *(f"  {name:<17} {text_or_hex(value)}" for name, value in letter.headers),
    ]
    got = decode(codec, letter.value)
    if isinstance(got, Decoded):
        lines += [f"event      {got.event_type} (schema v{got.version}, {len(letter.value)} bytes)", event_json(got)]
    else:
        lines += [f"event      {UNDECODABLE} ({len(letter.value)} bytes): {got}", hexdump(letter.value)]
    return "\n".join(lines)
