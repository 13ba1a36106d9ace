"""OAuth scopes as Mastodon defines them: four top-level scopes and their sub-scopes. Pure rules, no I/O.

`read` grants every `read:*`, `write` every `write:*`; the old `follow` scope grants the follow, block and mute
sub-scopes of both; `profile` grants nothing but verify_credentials (a route names it when it takes it).
A route names the scopes any one of which lets it run (`allows`).
"""

from __future__ import annotations

from collections.abc import Iterable

READ = ("accounts", "blocks", "bookmarks", "favourites", "filters", "follows", "lists", "mutes", "notifications",
        "search", "statuses")  # fmt: skip
WRITE = ("accounts", "blocks", "bookmarks", "conversations", "favourites", "filters", "follows", "lists", "media",
         "mutes", "notifications", "reports", "statuses")  # fmt: skip
FOLLOW = frozenset({"read:blocks", "read:follows", "read:mutes", "write:blocks", "write:follows", "write:mutes"})
TOP = ("read", "write", "follow", "push", "profile")
KNOWN = frozenset({*TOP, *(f"read:{s}" for s in READ), *(f"write:{s}" for s in WRITE)})
DEFAULT = "read"  # what an application or a token gets when it names none (as Mastodon)


class ScopeError(ValueError):
    """An unknown scope was asked for."""


def parse(text: str | Iterable[str] | None, default: str = DEFAULT) -> tuple[str, ...]:
    """The scopes named (space or `+` separated, or a list), each once in the order given; the default when none.
    Raises ScopeError naming the first unknown one."""
    parts = text.replace("+", " ").split() if isinstance(text, str) else [p for t in text or () for p in t.split()]
    out = tuple(dict.fromkeys(parts)) or (default,)
    unknown = [s for s in out if s not in KNOWN]
    if unknown:
        raise ScopeError(f"unknown scope {unknown[0]!r}")
    return out


def grants(granted: Iterable[str], scope: str) -> bool:
    """Whether a token with `granted` scopes holds `scope` (directly, through its parent, or through `follow`)."""
    held = set(granted)
    if scope in held:
        return True
    parent, colon, _ = scope.partition(":")
    if colon and parent in held:
        return True
    return scope in FOLLOW and "follow" in held


def allows(granted: Iterable[str] | None, any_of: Iterable[str]) -> bool:
    """Whether a token may use a route open to `any_of`; None (chirp's own tokens) allows everything."""
    if granted is None:
        return True
    held = tuple(granted)
    return any(grants(held, s) for s in any_of)


def within(asked: Iterable[str], allowed: Iterable[str]) -> bool:
    """Whether every scope asked for is one the application registered (or covered by one it did)."""
    allowed = tuple(allowed)
    return all(grants(allowed, s) for s in asked)
