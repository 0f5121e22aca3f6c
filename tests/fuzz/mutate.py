"""Structure-aware mutations of msgpack messages for the fuzz tests: start from a valid
message and change what a careless or hostile peer would change (a field's type or size,
a field removed or unknown, a key repeated, a length header that lies, bytes flipped)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import msgpack
from hypothesis import strategies as st

from lienthong.protocol.wire import pack, wrap

# Values of every msgpack type and at every edge the decoders check: empty, one over a
# limit, the integer bounds, the sizes of keys and signatures, codes and ids of the wrong
# shape. Kept small enough that a request stays far below the bodies' byte caps.
EDGE_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1,
    255,
    256,
    2**31,
    2**48,
    2**53 + 1,
    2**63 - 1,
    2**64 - 1,
    -(2**63),
    1.5,
    float("nan"),
    float("inf"),
    "",
    " ",
    "x" * 257,
    "x" * 4_001,
    "x" * 70_000,
    "\x00",
    "\u202e\ufeff",
    "\udcff",
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "01arz3ndektsv4rrffq69g5fav",
    "81ARZ3NDEKTSV4RRFFQ69G5FAV",
    "000.00.00.H53",
    "000.00.09.H53",
    "000.00.02.H5",
    "000.00.02.H53:1",
    "000.00.02.H53:²",
    "centre",
    "self",
    "../../etc/passwd",
    "0" * 64,
    "F" * 64,
    b"",
    b"\x00",
    b"\xc1",
    b"\x00" * 31,
    b"\x00" * 32,
    b"\x00" * 64,
    b"\x00" * 80,
    b"\xff" * 200_000,
    [],
    [None],
    [b""] * 300,
    {},
    {"": None},
    {1: 2},
    {b"key": 1},
    msgpack.ExtType(1, b"x"),
    msgpack.Timestamp(0, 0),
)

# msgpack headers that announce far more than follows (str32, bin32, array32, map32, ext32),
# and arrays nested deeper than msgpack's own stack allows.
LYING_HEADERS: tuple[bytes, ...] = (
    b"\x91" * 3_000 + b"\xc0",
    b"\xdb\xff\xff\xff\xff",
    b"\xc6\x7f\xff\xff\xff",
    b"\xdd\xff\xff\xff\xff",
    b"\xdf\x7f\xff\xff\xff",
    b"\xc9\xff\xff\xff\xff\x01",
    b"\xdc\xff\xff",
    b"\x9f",
)


def deep(levels: int) -> Any:
    """Lists nested `levels` deep (msgpack.packb stops at 512)."""
    value: Any = None
    for _ in range(levels):
        value = [value]
    return value


def leaf_values(known: Sequence[Any] = ()) -> st.SearchStrategy[Any]:
    """A replacement value: an edge value, a value that means something here, or random."""
    options = [
        st.sampled_from(EDGE_VALUES),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.text(max_size=40),
        st.binary(max_size=100),
        st.sampled_from([deep(20), deep(500)]),
    ]
    if known:
        options.insert(0, st.sampled_from(list(known)))
    return st.one_of(options)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


# Map keys: names the schemas use, and keys of the types strict decoding refuses.
KEYS = st.sampled_from(["v", "kind", "id", "extra", "signer", "", 0, b"id", None, True, 1.5]) | (
    st.text(max_size=12)
)
TREE_OPERATIONS = ("replace", "delete", "add", "rename", "duplicate", "wrap", "nested", "bytes")


def mutate_tree(data: st.DataObject, value: Any, known: Sequence[Any] = ()) -> Any:
    """A copy of a decoded message with one node changed (the root included)."""
    value = copy.deepcopy(value)
    path = data.draw(st.sampled_from(_paths(value)), label="path")
    op = data.draw(st.sampled_from(TREE_OPERATIONS), label="tree operation")
    node = _at(value, path)
    if op in ("delete", "rename", "duplicate") and path:
        parent, key = _at(value, path[:-1]), path[-1]
        if op == "delete":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            parent[data.draw(KEYS, label="new key")] = parent.pop(key)
        elif isinstance(parent, list):
            parent.insert(key, copy.deepcopy(node))
        return value
    if op == "add" and isinstance(node, dict):
        node[data.draw(KEYS, label="new key")] = data.draw(leaf_values(known))
        return value
    if op == "add" and isinstance(node, list):
        node.append(data.draw(leaf_values(known)))
        return value
    if op == "wrap":
        new: Any = [node] if data.draw(st.booleans()) else {"value": node}
    elif op == "nested" and isinstance(node, bytes):
        new = mutate_packed(data, node, known)
    elif op == "bytes" and isinstance(node, bytes | str):
        raw = node.encode("utf-8", "surrogatepass") if isinstance(node, str) else node
        new = mutate_bytes(data, raw)
        if isinstance(node, str):
            new = new.decode("utf-8", "replace")
    else:
        new = data.draw(leaf_values(known), label="new value")
    if not path:
        return new
    _at(value, path[:-1])[path[-1]] = new
    return value


def mutate_packed(data: st.DataObject, raw: bytes, known: Sequence[Any] = ()) -> bytes:
    """Bytes that hold msgpack (a certificate inside a directory): mutate inside, re-pack."""
    try:
        inner = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException):
        return mutate_bytes(data, raw)
    return safe_pack(mutate_tree(data, inner, known))


def safe_pack(value: Any) -> bytes:
    """msgpack of any mutated value; one the packer cannot encode becomes bytes that say so."""
    try:
        return pack(value)
    except (TypeError, ValueError, OverflowError):
        return b"\xc1 unpackable value"


BYTE_OPERATIONS = ("flip", "cut", "insert", "truncate", "append", "lie")


def mutate_bytes(data: st.DataObject, raw: bytes, rounds: int | None = None) -> bytes:
    """Bytes flipped, cut out, inserted, truncated, appended, or a lying length header."""
    out = bytearray(raw)
    for _ in range(rounds or data.draw(st.integers(1, 4), label="byte rounds")):
        op = data.draw(st.sampled_from(BYTE_OPERATIONS), label="byte operation")
        pos = data.draw(st.integers(0, len(out)), label="position")
        if op == "flip" and pos < len(out):
            out[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del out[pos : pos + data.draw(st.integers(1, 64))]
        elif op == "insert":
            out[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
        elif op == "truncate":
            del out[pos:]
        elif op == "append":
            out += data.draw(st.binary(min_size=1, max_size=16))
        else:
            out[pos:pos] = data.draw(st.sampled_from(LYING_HEADERS))
    return bytes(out)


def map_with_pairs(pairs: Sequence[tuple[Any, Any]]) -> bytes:
    """A msgpack map written by hand, so that a key may repeat (msgpack.packb cannot)."""
    n = len(pairs)
    head = bytes([0x80 | n]) if n < 16 else b"\xde" + n.to_bytes(2, "big")
    return head + b"".join(safe_pack(k) + safe_pack(v) for k, v in pairs)


def duplicate_a_key(data: st.DataObject, value: dict[Any, Any]) -> bytes:
    """The map with one key written twice, the second time with another value."""
    pairs = list(value.items())
    if not pairs:
        return map_with_pairs([("x", 1), ("x", 2)])
    key, _ = data.draw(st.sampled_from(pairs), label="repeated key")
    pairs.append((key, data.draw(leaf_values())))
    return map_with_pairs(pairs)


Signer = Callable[[bytes], bytes]
"""Signs the bytes of a message in its domain (the test holds the sender's key)."""


def mutate_signed(
    data: st.DataObject, signed: Any, sign: Signer, hint: str, known: Sequence[Any] = ()
) -> bytes:
    """A signed message mutated at one or more layers.

    Layer 1 changes the decoded message and signs it again (the signature is valid, so the
    receiver's field checks and store are reached); layer 2 changes the wrapper
    {signed, sig, signer}; layer 3 repeats a wrapper key; layer 4 changes the bytes.
    """
    inner = signed
    if data.draw(st.booleans(), label="mutate the message"):
        for _ in range(data.draw(st.integers(1, 3))):
            inner = mutate_tree(data, inner, known)
    body = safe_pack(inner)
    wrapper = {"signed": body, "sig": sign(body), "signer": hint}
    layer = data.draw(st.sampled_from(["none", "wrapper", "duplicate", "bytes"]), label="layer")
    if layer == "wrapper":
        return safe_pack(mutate_tree(data, wrapper, known))
    if layer == "duplicate":
        return duplicate_a_key(data, wrapper)
    raw = wrap(wrapper["signed"], wrapper["sig"], hint)
    return mutate_bytes(data, raw) if layer == "bytes" else raw
