"""Search terms: how tweet text and queries are cut into the terms of the inverted index. Pure, no I/O.

Text is normalized (NFKC, case folded, diacritics folded so `cafe` and `café` are one term) and read
as a sequence of *positions*, each the set of terms it answers to:

- a word (a run of letters, digits, marks and `_`, any script with spaces: Latin, Cyrillic, Greek,
  Arabic, Devanagari...) is one position, one term;
- `#tag` is one position answering to `#tag` and to the bare `tag` (a search for `chirp` finds
  `#chirp`, as on Twitter; a search for `#chirp` finds only the hashtag);
- `@handle` is one position, the term `@handle` (the bare handle is not a word of the text);
- a run of a script written without spaces (Han, kana, Hangul, Thai, Lao, Khmer, Myanmar) becomes its
  overlapping character bigrams, one position each (a single character stands alone); Han ideographs
  and Hangul syllables are also indexed alone, since one of them is often a whole word (猫, 山);
- a URL contributes the words of its host (`https://www.example.com/x?y` -> www, example, com); its
  path and query are noise and are dropped;
- everything else (punctuation, symbols, emoji) separates positions.

Queries go through the same function, so whatever a user types is cut exactly as the text was.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

MAX_TERM = 64  # code points; longer words are cut, the same way in tweets and queries
MAX_TERMS = 256  # distinct terms indexed per tweet (280 CJK characters make ~560 before the cap)

Position = frozenset[str]

_URL = re.compile(r"(?:https?|ftp)://\S+|www\.[^\s/]+\S*", re.IGNORECASE)
_HANDLE = re.compile(r"[a-z0-9_]{1,30}")
# Letters with no decomposition that still carry a diacritic or are ligatures, folded like ICU's folding.
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "\u0131": "i",
                          "ħ": "h", "ŧ": "t", "ŀ": "l", "ĸ": "k"})  # fmt: skip
# Spaceless scripts, as (first, last) code points: runs of these become bigrams.
_SPACELESS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3005, 0x3007),  # iteration mark, closing mark, ideographic zero
    (0x3021, 0x3029),
    (0x3031, 0x3035),  # kana repeat marks
    (0x3038, 0x303C),
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility jamo
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),
    (0xAC00, 0xD7FF),  # Hangul syllables and jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x323AF),  # CJK extensions B-H
)
_ALONE = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF), (0xAC00, 0xD7AF))

# Character classes of the scanner.
_OTHER, _WORD, _SPACELESS_WORD = 0, 1, 2


def _in(ranges: tuple[tuple[int, int], ...], ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in ranges)


@lru_cache(maxsize=8192)
def _kind(ch: str) -> int:
    cat = unicodedata.category(ch)
    if cat[0] in "LNM" or cat == "Pc":
        return _SPACELESS_WORD if _in(_SPACELESS, ch) else _WORD
    return _OTHER


def _foldable(ch: str) -> bool:
    """Combining marks that only decorate a letter: Latin/Greek/Cyrillic accents, Hebrew points,
    Arabic harakat and tatweel. Marks that make a different letter (kana voicing, Indic vowel signs)
    stay."""
    cp = ord(ch)
    return (
        0x0300 <= cp <= 0x036F
        or (0x0591 <= cp <= 0x05C7 and unicodedata.category(ch) == "Mn")
        or 0x064B <= cp <= 0x065F
        or cp in (0x0640, 0x0670)
    )


def normalize(text: str) -> str:
    """NFKC, case folded, diacritics folded: the form every term is made from."""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not _foldable(ch))
    return unicodedata.normalize("NFC", stripped).translate(_LETTERS)


@dataclass(frozen=True)
class Analyzed:
    """A text as the index sees it: its positions in order and every term it is indexed under."""

    positions: tuple[Position, ...]
    terms: tuple[str, ...]  # distinct, hashtags and mentions first, then in text order; at most MAX_TERMS

    def has_phrase(self, phrase: tuple[Position, ...]) -> bool:
        """True when consecutive positions answer to the phrase's positions in order (each of them to
        every term of its counterpart)."""
        n = len(phrase)
        if n == 0:
            return True
        if n == 1 and len(phrase[0]) == 1:
            return phrase[0] <= self.all_terms  # a lone ideograph is indexed with no position
        ps = self.positions
        return any(all(phrase[j] <= ps[i + j] for j in range(n)) for i in range(len(ps) - n + 1))

    @property
    def all_terms(self) -> frozenset[str]:
        """Every term, not only the first MAX_TERMS (for confirming a match against the current text)."""
        out: set[str] = set()
        for p in self.positions:
            out |= p
        return frozenset(out) | frozenset(self.extras)

    extras: tuple[str, ...] = ()  # terms with no position of their own (lone ideographs)


def _cut(term: str) -> str:
    return term[:MAX_TERM]


def _spaceless(run: str) -> tuple[list[Position], list[str]]:
    """Bigrams of a spaceless run (the run itself if one character) and its lone ideographs."""
    if len(run) == 1:
        return [frozenset({run})], []
    grams = [frozenset({run[i : i + 2]}) for i in range(len(run) - 1)]
    return grams, [ch for ch in run if _in(_ALONE, ch)]


def _words(text: str) -> Iterator[tuple[int, int, int]]:
    """(start, end, kind) of the maximal runs of one kind of word character."""
    i, n = 0, len(text)
    while i < n:
        k = _kind(text[i])
        if k == _OTHER:
            i += 1
            continue
        j = i + 1
        while j < n and _kind(text[j]) == k:
            j += 1
        yield i, j, k
        i = j


def _plain(text: str) -> tuple[list[Position], list[str]]:
    """Positions of text with no hashtags, mentions or URLs in it."""
    positions: list[Position] = []
    extras: list[str] = []
    for start, end, kind in _words(text):
        word = text[start:end]
        if kind == _WORD:
            positions.append(frozenset({_cut(word)}))
        else:
            grams, alone = _spaceless(word)
            positions += grams
            extras += alone
    return positions, extras


def _word_end(text: str, i: int) -> int:
    """End of the run of word characters (any script) starting at i."""
    while i < len(text) and _kind(text[i]) != _OTHER:
        i += 1
    return i


def analyze(text: str) -> Analyzed:
    """Cuts text into positions and terms. A hashtag's first position answers to `#tag` as well as to
    its first bare word, so a query `#tag` (cut the same way) asks for both, and `tag` for the word."""
    text = normalize(text)
    positions: list[Position] = []
    extras: list[str] = []
    tags: list[str] = []
    i, n, chunk = 0, len(text), 0  # text[chunk:i] is plain text not yet cut
    while i < n:
        ch = text[i]
        before = text[i - 1] if i else " "
        special: tuple[int, list[Position], list[str]] | None = None
        if ch in "hfwHFW" and _kind(before) == _OTHER and (m := _URL.match(text, i)):
            host = urlsplit(m.group() if "://" in m.group() else "//" + m.group()).hostname or ""
            p, e = _plain(host)
            special = (m.end(), p, e)
        elif ch == "#" and _kind(before) == _OTHER and before != "&":
            end = _word_end(text, i + 1)
            body = text[i + 1 : end]
            if body and not body.isdigit():
                tag = _cut("#" + body)
                tags.append(tag)
                p, e = _plain(body)
                special = (end, [p[0] | {tag}, *p[1:]] if p else [frozenset({tag})], e)
        elif (
            ch == "@"
            and _kind(before) == _OTHER
            and (m := _HANDLE.match(text, i + 1))
            and _word_end(text, m.end()) == m.end()  # the handle is not the start of a longer word
        ):
            tag = "@" + m.group()
            tags.append(tag)
            special = (m.end(), [frozenset({tag})], [])
        if special is None:
            i += 1
            continue
        p, e = _plain(text[chunk:i])
        positions += p
        extras += e
        end, p, e = special
        positions += p
        extras += e
        i = chunk = end
    p, e = _plain(text[chunk:])
    positions += p
    extras += e
    return Analyzed(tuple(positions), _index_terms(tags, positions, extras), tuple(dict.fromkeys(extras)))


def _index_terms(tags: list[str], positions: list[Position], extras: list[str]) -> tuple[str, ...]:
    ordered: dict[str, None] = dict.fromkeys(tags)
    for p in positions:
        for t in sorted(p, key=lambda t: (t[0] not in "#@", t)):
            ordered.setdefault(t, None)
    for t in extras:
        ordered.setdefault(t, None)
    return tuple(ordered)[:MAX_TERMS]


def terms(text: str) -> tuple[str, ...]:
    """The terms a tweet's text is indexed under."""
    return analyze(text).terms


# Queries ------------------------------------------------------------------------------------------

MAX_QUERY = 500  # characters of `q`
MAX_QUERY_TERMS = 32
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "\uff02": '"'})
_CHUNK = re.compile(r'(-?)"([^"]*)"|(\S+)')

Phrase = tuple[Position, ...]


class BadQuery(ValueError):
    """The query cannot be searched (empty, too long); the message says why, for the client."""


class NothingToFind(BadQuery):
    """A query with no term to look for: punctuation, or exclusions alone. It matches nothing."""


@dataclass(frozen=True)
class Query:
    """What a search asks for: every `required` phrase (a single term is a phrase of one) and none of
    the `excluded` ones. A bare chunk that cuts into several terms (`example.com`, `don't`, `東京タワー`)
    is a phrase too: its terms must be adjacent, as they were in what the user typed."""

    required: tuple[Phrase, ...]
    excluded: tuple[Phrase, ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        """The distinct terms a match must be indexed under."""
        return tuple(dict.fromkeys(t for phrase in self.required for p in phrase for t in sorted(p)))

    @property
    def one_term(self) -> bool:
        """A single term and nothing else: any posting of it is a match while the text is unedited."""
        return len(self.required) == 1 and len(self.required[0]) == 1 and len(self.required[0][0]) == 1 \
            and not self.excluded  # fmt: skip

    def matches(self, text: str) -> bool:
        """Whether a tweet's (current) text answers the query."""
        a = analyze(text)
        return all(a.has_phrase(p) for p in self.required) and not any(a.has_phrase(p) for p in self.excluded)


def parse_query(q: str) -> Query:
    """Words (all of them), `#tag`, `@handle`, `"exact phrase"`, and `-word` or `-"phrase"` to exclude."""
    if not q.strip():
        raise BadQuery("q must not be empty")
    if len(q) > MAX_QUERY:
        raise BadQuery(f"q is {len(q)} characters long; the limit is {MAX_QUERY}")
    required: list[Phrase] = []
    excluded: list[Phrase] = []
    for m in _CHUNK.finditer(q.translate(_QUOTES)):
        minus, quoted, bare = m.groups()
        negate = bool(minus)
        text = quoted
        if bare is not None:
            negate = len(bare) > 1 and bare.startswith("-")
            text = bare[1:] if negate else bare
        phrase = analyze(text).positions
        if phrase:
            (excluded if negate else required).append(phrase)
    if not required:
        raise NothingToFind("q has no term to search for (words, #hashtags, @handles or \"phrases\"; "
                            "punctuation and exclusions alone match nothing)")  # fmt: skip
    return Query(*_within_budget(tuple(dict.fromkeys(required)), tuple(dict.fromkeys(excluded))))


def _within_budget(required: tuple[Phrase, ...], excluded: tuple[Phrase, ...]) -> tuple[tuple[Phrase, ...], ...]:
    """The first MAX_QUERY_TERMS terms, required ones first: the work of a search stays bounded, and a
    longer query still finds what matches its beginning."""
    kept: list[list[Phrase]] = [[], []]
    budget = MAX_QUERY_TERMS
    for i, phrases in enumerate((required, excluded)):
        for phrase in phrases:
            if len(phrase) > budget:
                phrase = phrase[:budget]
            if phrase:
                kept[i].append(phrase)
                budget -= len(phrase)
    return tuple(kept[0]), tuple(kept[1])
