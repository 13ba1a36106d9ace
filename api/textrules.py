"""What text and URLs chirp accepts from clients, checked at the edge so that nothing stored can hide,
spoof a terminal, or point a reader's client at a private address.

Text is NFC-normalized; C0 and C1 control characters are refused (newline alone is allowed, in content);
text must show at least one visible character (a zero-width space, a lone combining mark or a Hangul
filler is not one). Media URLs must be https, carry no credentials, and name a public host: no loopback,
private, link-local, shared, reserved or multicast address, whichever way the number is written, and no
name that only resolves inside a network (localhost, .local, .internal, single labels). Names are not
resolved here: a public name that resolves to a private address is the fetching client's to refuse.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

_C0_C1_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_C0_C1 = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Letters and symbols that draw nothing, used to make "empty" names and posts.
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"})
MAX_URL = 2000
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan", ".intranet")
_HOST_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]")


def has_visible(text: str) -> bool:
    return any(c not in _BLANK_GLYPHS and unicodedata.category(c) not in _INVISIBLE_CATEGORIES for c in text)


def clean_text(value: str, field: str, max_len: int, newlines: bool = False) -> str:
    """The NFC form of `value`, or ValueError naming `field` and what is wrong."""
    if _SURROGATE.search(value):
        raise ValueError(f"{field} must be valid Unicode (it has a lone surrogate)")
    text = unicodedata.normalize("NFC", value)
    if (_C0_C1_BUT_NEWLINE if newlines else _C0_C1).search(text):
        allowed = " other than newline" if newlines else ""
        raise ValueError(f"{field} must not contain control characters{allowed}")
    if not has_visible(text):
        raise ValueError(f"{field} must have at least one visible character")
    if len(text) > max_len:
        raise ValueError(f"{field} is {len(text)} characters long; the limit is {max_len}")
    return text


def public_https_url(value: str) -> str:
    """`value` if it is an https URL of a public host, without credentials; else ValueError saying why."""
    if len(value) > MAX_URL or _C0_C1.search(value) or any(c.isspace() for c in value):
        raise ValueError(f"url must be at most {MAX_URL} characters with no spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"url is not a valid URL ({exc})") from exc
    if parts.scheme.lower() != "https":
        raise ValueError("url must be https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("url must not carry credentials")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError("url must name a host")
    _public_host(host)
    if port == 0:
        raise ValueError("url port must be 1-65535")
    return value


def _public_host(host: str) -> None:
    address = _as_address(host)
    if address is not None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise ValueError("url must name a public host, not a loopback, private, link-local or reserved address")
        return
    try:
        ascii_host = host.encode("idna").decode()  # an internationalized name, as DNS sees it
    except UnicodeError:
        raise ValueError("url host is not a valid domain name") from None
    if host == "localhost" or ascii_host.endswith(_INTERNAL_SUFFIXES) or not _HOST_NAME.fullmatch(ascii_host):
        raise ValueError("url must name a public host (a domain name with a dot, not an internal name)")


def _number(label: str) -> int:
    """One dotted part as inet_aton reads it: 0x hexadecimal, leading-zero octal, else decimal."""
    if label.startswith("0x"):
        return int(label, 16)
    return int(label, 8 if len(label) > 1 and label[0] == "0" else 10)


def _as_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a numeric host means, in any of the forms resolvers accept (`127.1`, `0x7f.0.0.1`,
    `2130706433`, `017700000001`), or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    labels = host.split(".")
    if not all(re.fullmatch(r"0x[0-9a-f]*|[0-9]+", label) for label in labels) or len(labels) > 4:
        return None
    try:
        numbers = [_number(label) for label in labels]
    except ValueError:
        raise ValueError("url host is a malformed address") from None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError("url host is a malformed address")
    value = 0
    for n in head:
        value = value * 256 + n
    value = value * 256 ** (5 - len(numbers)) + last
    return ipaddress.IPv4Address(value)
