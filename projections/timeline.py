"""Pure timeline rules: entry encoding, cursors, buckets and the merge. No I/O.

A timeline entry is 16 bytes: the tweet id then the author id, both big-endian. Sorted-set
members compare bytewise, so with every score 0 the member order *is* the id order, exactly, for
all 63-bit ids (a double score would round ids past 2^53). Carrying the author lets an unfollow
purge an author's entries without looking anything up.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.ids import MAX_ID, NODE_BITS, SEQ_BITS

_ENTRY = struct.Struct(">QQ")
BUCKET_MS = 30 * 24 * 3600 * 1000


@dataclass(frozen=True, order=True, slots=True)
class Entry:
    tweet_id: int
    author_id: int


def encode_entry(tweet_id: int, author_id: int) -> bytes:
    return _ENTRY.pack(tweet_id, author_id)


def decode_entry(member: bytes) -> Entry:
    tweet_id, author_id = _ENTRY.unpack(member)
    return Entry(tweet_id, author_id)


def id_bytes(value: int) -> bytes:
    return value.to_bytes(8, "big")


def bucket_of(tweet_id: int) -> int:
    """The 30-day window of the id's creation time (user_tweets partitions)."""
    return (tweet_id >> (NODE_BITS + SEQ_BITS)) // BUCKET_MS


class BadCursor(ValueError):
    pass


def encode_cursor(tweet_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{tweet_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The exclusive upper bound a cursor stands for; None for the first page."""
    if cursor is None or cursor == "":
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, _, value = text.partition(":")
        number = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor("cursor is not one this API returned") from exc
    if version != "v1" or not 0 < number <= MAX_ID:
        raise BadCursor("cursor is not one this API returned")
    return number


def merge_newest(sources: Iterable[Iterable[Entry]], limit: int, before: int | None = None) -> list[Entry]:
    """The newest `limit` distinct entries over sources (each any order), optionally below `before`."""
    seen: dict[int, Entry] = {}
    for source in sources:
        for e in source:
            if before is None or e.tweet_id < before:
                seen.setdefault(e.tweet_id, e)
    return heapq.nlargest(limit, seen.values())
