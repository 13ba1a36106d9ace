"""Parsing tweet text: the #hashtags it uses (trends) and the @handles it mentions (notifications). Pure
functions, no I/O.

A hashtag is `#` (or the full-width number sign, U+FF03) at the start of the text or after a character that is not part
of a word, followed by word characters (letters, digits, underscore and combining marks, in any script),
with at least one that is not a digit (`#2024` is not a hashtag, as on Twitter). Tags are compared in
NFKC case-folded form, so `#Chirp`, `#CHIRP` and a full-width `#chirp` are one trend; the form first written is kept
for display.

A mention is `@` and a handle's 3 to 30 ASCII word characters, not glued to a word or another `@` on either
side; handles compare lower-cased.
"""

from __future__ import annotations

import re
import sys
import unicodedata

MAX_TAG = 100  # code points; longer runs are not hashtags (nobody trends on them)
MAX_HASHTAGS = 10  # per tweet: a tweet of nothing but tags counts for ten, so it cannot flood the trends


def _marks() -> str:
    """Every combining mark (Mn, Mc, Me): Python's `\\w` lacks them, and many scripts need them in words
    (Devanagari viramas, Thai vowels)."""
    chars = (chr(c) for c in range(sys.maxunicode + 1))
    return "".join(re.escape(c) for c in chars if unicodedata.category(c) in ("Mn", "Mc", "Me"))


_MARKS = _marks()
_WORD = rf"[\w{_MARKS}]"
# The `#` first, then a look back at it and the character before it: the engine finds each `#` by its literal
# and tests the (large) class once there, where a look-behind first would test it at every position of the text
# (10x slower on a tweet).
_HASHTAG = re.compile(rf"#(?<![\w{_MARKS}&#]#)({_WORD}+)")


def normalize(tag: str) -> str:
    """The form tags are compared in: NFKC, case-folded, NFKC again (what Unicode calls NFKC_Casefold,
    near enough for hashtags). ASCII is its own NFKC form, and its case fold is its lower case."""
    if tag.isascii():
        return tag.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", tag).casefold())


def is_tag(word: str) -> bool:
    """Whether the word after a `#` makes a hashtag: not too long, and not digits and underscores alone."""
    return len(word) <= MAX_TAG and not all(c.isdigit() or c == "_" for c in word)


HASHTAG = _HASHTAG  # group 1: the tag without `#` (check it with is_tag)


def hashtags(text: str) -> dict[str, str]:
    """The tweet's hashtags, each once, the first MAX_HASHTAGS: normalized tag -> the form first written."""
    out: dict[str, str] = {}
    if "#" not in text and "\uff03" not in text:
        return out
    for m in _HASHTAG.finditer(text if text.isascii() else unicodedata.normalize("NFKC", text)):
        display = m.group(1)
        if not is_tag(display):
            continue
        out.setdefault(normalize(display), display)
        if len(out) == MAX_HASHTAGS:
            break
    return out


MAX_MENTIONS = 50
_MENTION = re.compile(r"(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_@])")


MENTION = _MENTION  # group 1: the handle


def mentioned_handles(text: str) -> list[str]:
    """The @handles a text names, lower-cased, first appearance first, at most MAX_MENTIONS.
    `x@host` (an e-mail address) and `@toolong...` (more than a handle can hold) are not mentions."""
    seen: dict[str, None] = {}
    for m in _MENTION.finditer(text):
        seen.setdefault(m.group(1).lower(), None)
        if len(seen) >= MAX_MENTIONS:
            break
    return list(seen)
