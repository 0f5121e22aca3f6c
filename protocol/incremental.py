"""A msgpack body decoded as its bytes arrive (sans-IO): `feed` each chunk, then `finish`.

The rules are those of wire.unpack (exactly one value, no duplicate key, no ext, the
body's byte limit), plus one: no string or binary in it is longer than `max_item_bytes`.
A request body then costs its decoded values and at most one unfinished item in a buffer,
never the whole body a second time; an item over the limit is refused once its bytes
pass what the buffer holds (`max_item_bytes` and a piece), not after the whole item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgpack

from lienthong.protocol.errors import DecodeError, LimitExceeded

T = TypeVar("T")

# Bytes handed to the msgpack buffer at once: a caller's chunk is cut to this, so the buffer
# holds at most one unfinished item and one piece.
FEED_PIECE = 256 * 1024
# A string or binary's msgpack header: at most 5 bytes; the map and array headers around
# the unfinished item are parsed already.
ITEM_HEADER = 16
_NOTHING = object()


class IncrementalDecoder(Generic[T]):
    """One msgpack value from bytes that arrive in pieces, then `build` on it."""

    def __init__(
        self, what: str, *, max_bytes: int, max_item_bytes: int, build: Callable[[Any], T]
    ) -> None:
        self.what = what
        self.max_bytes = max_bytes
        self.max_item_bytes = max_item_bytes
        self.size = 0  # bytes fed so far
        self._build = build
        self._value: Any = _NOTHING
        self._unpacker = msgpack.Unpacker(
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_buffer_size=max_item_bytes + ITEM_HEADER + FEED_PIECE,
            max_str_len=max_item_bytes,
            max_bin_len=max_item_bytes,
            max_array_len=max_bytes,
            max_map_len=max_bytes,
            max_ext_len=0,
            object_pairs_hook=_map_without_duplicates,
        )

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the body; LimitExceeded or DecodeError as soon as they
        break a rule (the rest need not be read)."""
        self.size += len(data)
        if self.size > self.max_bytes:
            raise LimitExceeded(
                f"{self.what}: {self.size} bytes is over the limit of {self.max_bytes} bytes"
            )
        if self._value is not _NOTHING:
            return  # trailing bytes, refused by finish()
        view = memoryview(data)
        for start in range(0, len(view), FEED_PIECE):
            try:
                self._unpacker.feed(view[start : start + FEED_PIECE])
            except msgpack.BufferFull:
                raise LimitExceeded(
                    f"{self.what}: an item is over the limit of {self.max_item_bytes} bytes"
                ) from None
            self._advance()
            if self._value is not _NOTHING:
                return

    def _advance(self) -> None:
        try:
            self._value = self._unpacker.unpack()
        except msgpack.OutOfData:
            return
        except ValueError as exc:
            if "exceeds max_bin_len" in str(exc) or "exceeds max_str_len" in str(exc):
                raise LimitExceeded(
                    f"{self.what}: an item is over the limit of {self.max_item_bytes} bytes"
                ) from None
            raise DecodeError(f"{self.what}: malformed msgpack: {exc}") from None
        except (TypeError, msgpack.UnpackException, RecursionError) as exc:
            raise DecodeError(f"{self.what}: malformed msgpack: {exc}") from None

    def finish(self) -> T:
        """The body's value once every byte is fed: DecodeError if there are none, if the
        value is cut short, or if bytes follow it."""
        if self.size == 0:
            raise DecodeError(f"{self.what}: no bytes")
        if self._value is _NOTHING:
            raise DecodeError(f"{self.what}: truncated msgpack ({self.size} bytes)")
        trailing = self.size - self._unpacker.tell()
        if trailing:
            raise DecodeError(f"{self.what}: {trailing} trailing bytes after the message")
        return self._build(self._value)

    def decode(self, data: bytes) -> T:
        """A whole body at once: feed, then finish."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"{self.what}: expected bytes, got {type(data).__name__}")
        self.feed(data)
        return self.finish()


def _map_without_duplicates(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """Refuse a map with a repeated key, as wire.unpack does: two readers could keep
    different values."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("a map repeats a key")
    return result
