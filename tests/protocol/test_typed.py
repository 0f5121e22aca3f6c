"""The C fast path (protocol/typed.py) accepts only what the field-by-field readers accept,
builds the same values, and leaves every refusal (and its named error) to them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lienthong.protocol import envelope as env
from lienthong.protocol.document import (
    Attachment,
    Business,
    StaffInfo,
    _fast_body,
    body_from_bytes,
    body_from_wire,
    body_to_wire,
)
from lienthong.protocol.errors import ProtocolError
from lienthong.protocol.limits import MAX_ENVELOPE_BYTES
from lienthong.protocol.wire import _WRAPPER, exact, pack, unpack, unwrap, unwrap_strictly
from tests.protocol.fixtures import A, B, letter_2340
from tests.protocol.test_envelope import sealed

MB = 1 << 20
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "envelopes.json"

ATTACHED = dataclasses.replace(
    letter_2340(
        (
            Attachment(
                "Công văn 2340.pdf", "application/pdf", 1234, b"\x01" * 32, "a" * 64, b"k" * 32
            ),
            Attachment(
                "danh sách.xlsx", "application/vnd.ms-excel", 0, b"\x02" * 32, "b" * 64, b"j" * 32
            ),
        )
    ),
    business=Business(reason=None, paper=True, staff=StaffInfo("Nguyễn Thị Trang", "VP", "", "")),
)

VALID_VECTORS = {
    "letter-2340", "with-attachments", "number-05", "legal-49-2025", "flash-scheduled",
    "update", "replace-two-targets", "paper", "extensions", "v1-letter-2340", "v1-update",
}  # fmt: skip

# Values put in place of a field: each is wrong somewhere, right somewhere else.
ODD = [
    None, "", " ", "x", "2014-02-30", "2014-05-23", "2025-11-24T14:30", "05", "٣", "a b",
    "VP\u202eTTTH", "x" * 300, "000.00.05.H53", "01J0000000ABCDEFGHJKMNPQRS", "a" * 64,
    "KT.", "new", "update", 0, 1, 4, 5, 99, 100, -1, 2**53 + 1, 2**64 - 1, True, False,
    b"", b"\x00" * 32, [], ["x"], [1], {}, {"a": 1}, {"sphere.detail": "x"}, {"Bad": 1},
    msgpack.ExtType(1, b"x"),
]  # fmt: skip


def _outcome(read, data: bytes) -> Any:
    """What a reader makes of `data`: its value, or the type and text of its refusal."""
    try:
        return read(data)
    except ProtocolError as exc:
        return (type(exc), str(exc))


def _mutations() -> st.SearchStrategy:
    """A path into a msgpack map and what happens there: a value replaced, the key removed,
    an unknown key added, or the map's keys reversed."""
    return st.tuples(
        st.lists(st.integers(0, 40), min_size=1, max_size=4),
        st.sampled_from(["replace", "remove", "add", "reverse"]),
        st.sampled_from(ODD),
    )


def _mutate(value: Any, path: list[int], op: str, new: Any) -> Any:
    """`value` (a decoded message) with one change at the map or array `path` leads to."""
    node = value
    for step in path[:-1]:
        if isinstance(node, dict) and node:
            child = list(node)[step % len(node)]
            if not isinstance(node[child], dict | list) or not node[child]:
                break
            node = node[child]
        elif isinstance(node, list) and node:
            child = step % len(node)
            if not isinstance(node[child], dict | list) or not node[child]:
                break
            node = node[child]
    if isinstance(node, list):
        if node:
            node[path[-1] % len(node)] = new
        return value
    keys = list(node)
    key = keys[path[-1] % len(keys)]
    if op == "replace":
        node[key] = new
    elif op == "remove":
        del node[key]
    elif op == "add":
        node["extra"] = new
    else:
        items = list(node.items())[::-1]
        node.clear()
        node.update(items)
    return value


def test_valid_messages_take_the_fast_path_and_read_the_same():
    """Letters with and without attachments, and every version-2 envelope vector, go
    through the C path (the wrapper, the signed bytes, the body) and give the same values."""
    raws = [sealed(), sealed(ATTACHED), sealed(recipients=(B,))]
    raws += [
        bytes.fromhex(v["bytes"])
        for v in json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"]
        if v["name"] in VALID_VECTORS
    ]
    fast_bodies = 0
    for raw in raws:
        assert exact(raw, _WRAPPER) is not None
        wrapper = unwrap(raw, what="envelope", max_bytes=MAX_ENVELOPE_BYTES)
        assert wrapper == unwrap_strictly(raw, what="envelope", max_bytes=MAX_ENVELOPE_BYTES)
        code, serial = wrapper.signer.rsplit(":", 1)
        strict = env._decode_signed_strictly(wrapper.signed, raw, code, int(serial))
        if strict.header.version == 2:
            fast = env._fast_signed(wrapper.signed, code, int(serial))
            assert fast is not None and fast[0] == strict.header
    for body in (letter_2340(), ATTACHED):
        data = pack(body_to_wire(body))
        assert _fast_body(data) == body_from_wire(unpack(data, what="b", max_bytes=1 << 20))
        assert _fast_body(data) == body
        fast_bodies += 1
    assert fast_bodies == 2
    assert len(raws) == 3 + len(VALID_VECTORS)


def test_repeated_keys_and_trailing_bytes_are_left_to_the_strict_reader():
    """A map repeating a key (msgspec keeps the last value) and bytes after the message are
    not exact encodings: the fast path declines and the strict reader names the fault."""
    data = pack(body_to_wire(letter_2340()))
    # 0x84 -> 0x85: one more pair than the body has, the pair "v": 2 again at the end.
    assert data[0] == 0x84
    repeated = bytes([0x85]) + data[1:] + pack("v") + pack(2)
    assert _fast_body(repeated) is None
    assert "repeats a key" in str(
        _outcome(lambda d: body_from_bytes(d, 2, max_bytes=1 << 20), repeated)[1]
    )
    assert _fast_body(data + b"\x00") is None


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_a_changed_body_is_read_alike_by_both_paths(mutation):
    """Whatever one change does to a body, the fast path accepts it only where the strict
    reader does and then builds the same document; what it declines, the strict reader
    accepts or refuses by name."""
    value = _mutate(body_to_wire(ATTACHED), *mutation)
    data = pack(value)
    strict = _outcome(
        lambda d: body_from_wire(unpack(d, what="document body", max_bytes=1 << 20)), data
    )
    fast = _fast_body(data)
    assert fast is None or fast == strict
    assert _outcome(lambda d: body_from_bytes(d, None, max_bytes=1 << 20), data) == strict


SIGNED = unwrap_strictly(sealed(ATTACHED), what="envelope", max_bytes=MAX_ENVELOPE_BYTES).signed


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_a_changed_envelope_is_read_alike_by_both_paths(mutation):
    """The same for the signed bytes of an envelope (header and body): accepted by the fast
    path only as the strict reader accepts them, with the same header."""
    value = _mutate(unpack(SIGNED, what="envelope", max_bytes=MAX_ENVELOPE_BYTES), *mutation)
    data = pack(value)
    strict = _outcome(lambda d: env._decode_signed_strictly(d, b"", A, 1), data)
    fast = env._fast_signed(data, A, 1)
    if fast is not None:
        assert not isinstance(strict, tuple), strict
        assert fast[0] == strict.header
        assert (tuple(fast[1].keys), fast[1].nonce, fast[1].ciphertext) == (
            strict.sealed_keys,
            strict.nonce,
            strict.ciphertext,
        )
    both = _outcome(lambda d: env._decode_signed(d, b"", A, 1), data)
    assert (both.header if not isinstance(both, tuple) else both) == (
        strict.header if not isinstance(strict, tuple) else strict
    )
