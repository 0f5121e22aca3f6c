"""The C fast path of strict decoding: msgpack straight into msgspec structs, exact bytes only.

Every hot message (the signed wrapper, the envelope, the document body) has two readers:
this one and the field-by-field reader of its module (`wire.Fields`), which alone says
why bytes are refused. `exact()` decodes into a typed struct (types, lengths, ranges,
every field present, no unknown field: msgspec checks these in C) and then encodes the
struct again: the bytes must come back identical. That second step refuses anything the
struct cannot say the same way: a repeated key (msgspec keeps the last one), fields in
another order, an integer not in its shortest form, a missing optional field. Whatever
`exact()` refuses, or the module's own checks after it refuse, goes to the field-by-field
reader, which accepts it or raises its named error; so the fast path changes no error and
accepts nothing the strict reader refuses (tests/protocol/test_typed.py holds both to it).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec

T = TypeVar("T")

_ENCODER = msgspec.msgpack.Encoder()


def text(max_len: int, min_len: int = 0) -> Any:
    """A msgpack str of `min_len`..`max_len` characters (as Python's len counts them)."""
    return Annotated[str, msgspec.Meta(min_length=min_len, max_length=max_len)]


def binary(*, length: int | None = None, max_len: int | None = None) -> Any:
    """A msgpack bin of exactly `length` bytes, or of at most `max_len`."""
    if length is not None:
        return Annotated[bytes, msgspec.Meta(min_length=length, max_length=length)]
    return Annotated[bytes, msgspec.Meta(max_length=max_len)]


def integer(lo: int = 0, hi: int = 2**63 - 1) -> Any:
    """A msgpack integer (never a boolean or a float) in lo..hi."""
    return Annotated[int, msgspec.Meta(ge=lo, le=hi)]


def items(of: Any, max_items: int) -> Any:
    """A msgpack array of at most `max_items` values of type `of`."""
    return Annotated[list[of], msgspec.Meta(max_length=max_items)]


def decoder(kind: type[T]) -> msgspec.msgpack.Decoder[T]:
    return msgspec.msgpack.Decoder(kind)


def exact(data: bytes, reader: msgspec.msgpack.Decoder[T]) -> T | None:
    """`data` decoded by `reader` if it is exactly the encoding of a valid struct, else None
    (the caller then runs the field-by-field reader, which names what is wrong)."""
    try:
        value = reader.decode(data)
    except (msgspec.MsgspecError, RecursionError):
        return None
    if _ENCODER.encode(value) != data:
        return None
    return value
