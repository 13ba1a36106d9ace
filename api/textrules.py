"""What text and URLs chirp accepts from clients, checked at the edge so that nothing stored can hide,
spoof a terminal, or point a reader's client at a private address.

Text is NFC-normalized; C0 and C1 control characters are refused (newline alone is allowed, in content);
text must show at least one visible character (a zero-width space, a lone combining mark or a Hangul
filler is not one). Media URLs must be https and name a public host by a DNS name: no address literal
of any kind (so no loopback, private or link-local number, however written), no credentials, no port,
and no name that only resolves inside a network (localhost, .local, .internal, single labels). The
schema states the same pattern, so what it allows is what the server takes. Names are not resolved
here: a public name that resolves to a private address is the fetching client's to refuse.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable


def _char_class(chars: Iterable[int]) -> str:
    """A regex character class body for these BMP code points, as ranges of \\uXXXX escapes (read the same by
    Python's re and by ECMAScript, so the OpenAPI pattern means what the server checks)."""
    points = sorted(set(chars))
    ranges: list[tuple[int, int]] = []
    for p in points:
        if ranges and p == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], p)
        else:
            ranges.append((p, p))
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


_CONTROL = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
# What draws nothing: controls, separators and spaces, format characters (zero-width space, joiners, marks
# of direction), and letters and symbols that are blank (Hangul fillers, the braille blank). BMP only.
_INVISIBLE = [
    c for c in range(0x10000)
    if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zs", "Zl", "Zp") or chr(c) in "\u115f\u1160\u3164\uffa0\u2800"
]  # fmt: skip
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def text_pattern(newlines: bool) -> str:
    """Text with no control character (newline allowed when `newlines`) and at least one visible one."""
    control = _char_class(c for c in _CONTROL if not (newlines and c == 0x0A))
    invisible = _char_class(_INVISIBLE)
    return f"^[^{control}]*[^{invisible}][^{control}]*$"


CONTENT_PATTERN = text_pattern(newlines=True)
LINE_PATTERN = text_pattern(newlines=False)
_PATTERNS = {True: re.compile(CONTENT_PATTERN), False: re.compile(LINE_PATTERN)}


def clean_text(value: str, field: str, max_len: int, newlines: bool = False) -> str:
    """The NFC form of `value`, or ValueError naming `field` and what is wrong. Checked as sent (the schema's
    pattern and length), normalized after."""
    if len(value) > max_len:
        raise ValueError(f"{field} is {len(value)} characters long; the limit is {max_len}")
    if _LONE_SURROGATE.search(value):
        raise ValueError(f"{field} must be valid Unicode (it has a lone surrogate)")
    if not _PATTERNS[newlines].fullmatch(value):
        allowed = " other than newline" if newlines else ""
        raise ValueError(f"{field} must have a visible character and no control characters{allowed}")
    return unicodedata.normalize("NFC", value)


_INTERNAL_SUFFIXES = (".home.arpa",)
_INTERNAL_TLDS = frozenset({"localhost", "local", "internal", "localdomain", "lan", "intranet", "corp", "home"})

# The whole rule the schema can state: https, a lower-case DNS name ending in a letters-only top-level domain
# (so no address literal, no credentials, no port), then a path of printable ASCII.
URL_PATTERN = r"^https://(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?:/[!-~]{0,1900})?$"
_URL = re.compile(URL_PATTERN)


def public_https_url(value: str) -> str:
    """`value` if it is an https URL of a public host, without credentials; else ValueError saying why."""
    if not _URL.fullmatch(value):
        raise ValueError(
            "url must be https://<a lower-case domain name>/<path of printable ASCII>, without credentials, "
            "port or address literal"
        )
    host = value[len("https://") :].split("/", 1)[0]
    if host.endswith(_INTERNAL_SUFFIXES) or host.rsplit(".", 1)[-1] in _INTERNAL_TLDS:
        raise ValueError("url must name a public host, not an internal name")
    return value
