"""Password hashing: argon2id through argon2-cffi (its RFC 9106 low-memory profile), run off the event loop.

A hash names its own parameters, so hashes made with older parameters still verify; `needs_rehash` tells
when one should be made again with today's.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4

# Verified when the account is unknown, so that a wrong login takes as long as a wrong password.
_DUMMY = _HASHER.hash("chirp: no such account")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches the hash; with no hash (unknown account) it spends the same time and is False."""
    ok = await asyncio.to_thread(_verify, stored or _DUMMY, password)
    return ok and stored is not None
