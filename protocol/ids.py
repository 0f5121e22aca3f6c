"""Identifiers: ULIDs of envelopes and statuses (48-bit millisecond time + 80 random bits) and
blob ids (SHA-256 of a blob's ciphertext, lowercase hex)."""

import os
from collections.abc import Callable

from lienthong.protocol.text import pattern

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as the ULID spec
_SHIFTS = tuple(range(125, -1, -5))  # 26 five-bit digits of a 128-bit value, high first
ULID_PATTERN = pattern("ULID", "[0-7][0-9A-HJKMNP-TV-Z]{25}", "01J0000000ABCDEFGHJKMNPQRS")
BLOB_ID = pattern(
    "blob id", "[0-9a-f]{64}", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)


def new_ulid(now_ms: int, random: Callable[[int], bytes] = os.urandom) -> str:
    """Return the 26-character ULID for `now_ms` with 80 bits from `random`."""
    if not 0 <= now_ms < 2**48:
        raise ValueError("ULID time must fit in 48 bits of milliseconds")
    value = (now_ms << 80) | int.from_bytes(random(10), "big")
    return "".join([_ALPHABET[(value >> shift) & 31] for shift in _SHIFTS])


def is_ulid(text: str) -> bool:
    return ULID_PATTERN.matches(text)


def ulid_time_ms(text: str) -> int:
    value = 0
    for ch in text[:10]:
        value = value * 32 + _ALPHABET.index(ch)
    return value
