"""Checks shared by the codec property tests: truncations, byte mutations, named refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from lienthong.protocol.errors import DecodeError, ProtocolError

Decode = Callable[[bytes], Any]


def mutated(data: st.DataObject, raw: bytes) -> bytes:
    """`raw` with 1 to 8 bytes flipped, runs cut out or bytes inserted."""
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]), label="op")
        pos = data.draw(st.integers(0, max(len(out) - 1, 0)), label="at")
        if op == "flip" and out:
            out[pos] ^= data.draw(st.integers(1, 255), label="xor")
        elif op == "cut":
            del out[pos : pos + data.draw(st.integers(1, 16), label="length")]
        else:
            out[pos:pos] = data.draw(st.binary(min_size=1, max_size=8), label="inserted")
    return bytes(out)


def decoded_or_named(decode: Decode, raw: bytes, what: str) -> Any:
    """What `decode` makes of `raw`, or None when it refuses it with a protocol error whose
    message names the message (`what`); any other exception fails the calling test."""
    try:
        return decode(raw)
    except ProtocolError as exc:
        assert str(exc).startswith(what), f"{type(exc).__name__} does not name {what!r}: {exc}"
        return None


def every_truncation_is_refused(decode: Decode, raw: bytes, what: str) -> None:
    """Each proper prefix of a valid message is refused as undecodable msgpack (DecodeError
    itself, not a field error): msgpack is prefix-free, so no cut is a shorter message."""
    for cut in range(len(raw)):
        try:
            decode(raw[:cut])
        except DecodeError as exc:
            assert type(exc) is DecodeError, f"cut at {cut}: {type(exc).__name__}: {exc}"
            assert str(exc).startswith(f"{what}: "), exc
            assert "truncated" in str(exc) or "no bytes" in str(exc), exc
        else:
            raise AssertionError(f"{what}: the first {cut} of {len(raw)} bytes decoded")
