"""Strict msgpack decoding of untrusted bytes and the signed wrapper every message uses.

A signed message on the wire is the msgpack map
`{"signed": bin, "sig": bin(64), "signer": str}`: `signed` holds the msgpack
of the message itself, `sig` is Ed25519 over `domain || 0x00 || signed`, and
`signer` names the key that made `sig` so a receiver can find it *before*
decoding `signed` (docs/PROTOCOL.md, "The signed wrapper").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol, TypeVar

import msgpack
import msgspec

from lienthong.crypto import signing
from lienthong.crypto.errors import SignatureError
from lienthong.protocol.errors import (
    BadSignature,
    DecodeError,
    InvalidField,
    LimitExceeded,
    SignerMismatch,
    UnknownKind,
    UnknownVersion,
)
from lienthong.protocol.ids import ULID_PATTERN, is_ulid
from lienthong.protocol.limits import MAX_LIST_ITEMS, MAX_MAP_KEYS, MAX_SHORT_TEXT
from lienthong.protocol.text import pattern
from lienthong.protocol.typed import binary, decoder, exact, text
from lienthong.protocol.units import check_wire_code, has_wire_shape

PROTOCOL_VERSION = 1  # of every message whose layout version 2 did not change
# Envelopes and directories have a version 2 (docs/PROTOCOL.md, "Protocol versions"): a node
# reads both and writes version 2 only to readers that declare it.
PROTOCOL_VERSIONS = (1, 2)
SIGNATURE_BYTES = 64
KEY_BYTES = 32
MAX_SIGNER = 48  # "<unit code>:<serial>" at most 32 + 1 + 15 characters
DATE = pattern("calendar date", "[0-9]{4}-[0-9]{2}-[0-9]{2}", "2014-05-23")
# The serial of a unit signer hint: 1-15 ASCII digits (str.isdigit() accepts "²", int() "٣").
SIGNER_SERIAL = pattern("signer hint serial", "[0-9]{1,15}", "1")


def pack(value: Any) -> bytes:
    """Encode with the options every lienthong message uses (str as str, bytes as bin)."""
    return msgpack.packb(value, use_bin_type=True)


def unpack(data: bytes, *, what: str, max_bytes: int) -> Any:
    """Decode exactly one msgpack value from untrusted `data`, refusing anything over limits."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise LimitExceeded(f"{what}: {len(data)} bytes is over the limit of {max_bytes} bytes")
    if len(data) == 0:
        raise DecodeError(f"{what}: no bytes")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_str_len=max_bytes,
            max_bin_len=max_bytes,
            max_array_len=max_bytes,
            max_map_len=max_bytes,
            max_ext_len=0,
            object_pairs_hook=_map_without_duplicates,
        )
    except msgpack.ExtraData as exc:
        raise DecodeError(f"{what}: {len(exc.extra)} trailing bytes after the message") from None
    except ValueError as exc:
        if "incomplete" in str(exc):
            raise DecodeError(f"{what}: truncated msgpack ({len(data)} bytes)") from None
        raise DecodeError(f"{what}: malformed msgpack: {exc}") from None
    except (TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise DecodeError(f"{what}: malformed msgpack: {exc}") from None
    return value


@lru_cache(maxsize=4096)  # documents repeat a few dates; the check parses the calendar
def is_date(value: str) -> bool:
    if not DATE.matches(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _map_without_duplicates(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """Refuse a map with a repeated key: two readers could keep different values."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("a map repeats a key")
    return result


class Fields:
    """Typed, exhaustive access to the fields of one decoded msgpack map."""

    def __init__(self, value: Any, what: str, field: str = "") -> None:
        if not isinstance(value, dict):
            raise InvalidField(what, field or "(message)", f"expected a map, got {_tname(value)}")
        if len(value) > MAX_MAP_KEYS:
            raise LimitExceeded(f"{what}: {len(value)} fields is over the limit of {MAX_MAP_KEYS}")
        self._map: dict[str, Any] = value
        self._what = what
        self._used: set[str] = set()

    def _get(self, key: str, optional: bool) -> Any:
        self._used.add(key)
        if key not in self._map:
            if optional:
                return None
            raise InvalidField(self._what, key, "missing")
        return self._map[key]

    def raw_keys(self) -> frozenset[str]:
        return frozenset(self._map)

    def raw(self, key: str, *, optional: bool = False) -> Any:
        if key in self._map:
            self._used.add(key)
            return self._map[key]
        return self._get(key, optional)

    def str(
        self,
        key: str,
        *,
        max_len: int = MAX_SHORT_TEXT,
        optional: bool = False,
        min_len: int = 0,
        choices: frozenset[str] | None = None,
    ) -> Any:
        # Fast path first: decoding speed is part of the delivery budget (bench/codec.py).
        self._used.add(key)
        value = self._map.get(key)
        if (
            type(value) is str
            and min_len <= len(value) <= max_len
            and (choices is None or value in choices)
        ):
            return value
        if value is None and optional:
            return None
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise InvalidField(self._what, key, f"expected a string, got {_tname(value)}")
        if len(value) > max_len:
            raise InvalidField(self._what, key, f"{len(value)} characters, limit is {max_len}")
        if len(value) < min_len:
            raise InvalidField(self._what, key, "must not be empty")
        if choices is not None and value not in choices:
            raise InvalidField(
                self._what, key, f"{value[:40]!r} is not one of {', '.join(sorted(choices))}"
            )
        return value

    def int(self, key: str, *, lo: int = 0, hi: int = 2**63 - 1, optional: bool = False) -> Any:
        self._used.add(key)
        value = self._map.get(key)
        if type(value) is int and lo <= value <= hi:
            return value
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidField(self._what, key, f"expected an integer, got {_tname(value)}")
        if not lo <= value <= hi:
            raise InvalidField(self._what, key, f"{value} is outside {lo}..{hi}")
        return value

    def bool(self, key: str) -> bool:
        value = self._get(key, False)
        if not isinstance(value, bool):
            raise InvalidField(self._what, key, f"expected a boolean, got {_tname(value)}")
        return value

    def bytes(
        self, key: str, *, length: int | None = None, max_len: int = 0, optional: bool = False
    ) -> Any:
        self._used.add(key)
        value = self._map.get(key)
        if type(value) is bytes and (
            len(value) == length if length is not None else len(value) <= max_len
        ):
            return value
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, bytes):
            raise InvalidField(self._what, key, f"expected binary, got {_tname(value)}")
        if length is not None and len(value) != length:
            raise InvalidField(self._what, key, f"expected {length} bytes, got {len(value)}")
        if length is None and len(value) > max_len:
            raise InvalidField(self._what, key, f"{len(value)} bytes, limit is {max_len}")
        return value

    def code(self, key: str, *, optional: bool = False) -> Any:
        self._used.add(key)
        value = self._map.get(key)
        if type(value) is str and has_wire_shape(value):
            return value
        value = self._get(key, optional)
        if value is None and optional:
            return None
        return check_wire_code(value, self._what, key)

    def ulid(self, key: str, *, optional: bool = False) -> Any:
        self._used.add(key)
        value = self._map.get(key)
        if type(value) is str and ULID_PATTERN.matches(value):
            return value
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not is_ulid(value):
            raise InvalidField(self._what, key, "expected a 26-character ULID")
        return value

    def date(self, key: str, *, optional: bool = False) -> Any:
        self._used.add(key)
        value = self._map.get(key)
        if type(value) is str and is_date(value):
            return value
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not DATE.matches(value):
            raise InvalidField(self._what, key, "expected a date YYYY-MM-DD")
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidField(self._what, key, f"{value!r} is not a calendar date") from None
        return value

    def list(self, key: str, *, max_items: int = MAX_LIST_ITEMS, optional: bool = False) -> Any:
        self._used.add(key)
        value = self._map.get(key)
        if type(value) is list and len(value) <= max_items:
            return value
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, list):
            raise InvalidField(self._what, key, f"expected an array, got {_tname(value)}")
        if len(value) > max_items:
            raise LimitExceeded(
                f"{self._what}: field {key!r}: {len(value)} items is over the limit of {max_items}"
            )
        return value

    def strs(self, key: str, *, max_items: int = MAX_LIST_ITEMS, max_len: int = MAX_SHORT_TEXT):
        items = self.list(key, max_items=max_items)
        for i, item in enumerate(items):
            if not isinstance(item, str) or len(item) > max_len:
                raise InvalidField(self._what, f"{key}[{i}]", f"expected a string of <= {max_len}")
        return tuple(items)

    def map(self, key: str, *, optional: bool = False) -> Fields | None:
        value = self._get(key, optional)
        if value is None and optional:
            return None
        return Fields(value, self._what, key)

    def done(self) -> None:
        """Refuse keys the schema does not name (v1 is strict; new fields mean a new version)."""
        unknown = set(self._map) - self._used
        if unknown:
            names = ", ".join(sorted(repr(k) for k in unknown)[:5])
            raise InvalidField(self._what, names, "unknown field")


def check_header(
    fields: Fields, what: str, kind: str, versions: tuple[int, ...] = (PROTOCOL_VERSION,)
) -> int:
    """Check the `v` and `kind` fields that open every signed message; return `v`."""
    version = fields.raw("v")
    if type(version) is not int or version not in versions:
        speaks = " or ".join(str(v) for v in versions)
        raise UnknownVersion(
            f"{what}: protocol version {version!r} is not supported (this node reads {speaks})"
        )
    found = fields.raw("kind")
    if found != kind:
        raise UnknownKind(f"{what}: kind {str(found)[:40]!r} where {kind!r} was expected")
    return version


_Signature = binary(length=SIGNATURE_BYTES)
_SignerHint = text(MAX_SIGNER, 1)


class SignedWrapper(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """The outer map, decoded but not yet verified: signer hint, signed bytes, signature.

    Also the C fast path's type (protocol/typed.py): unwrap decodes exact bytes straight
    into it. `signed` is shorter than the whole, which unwrap's caller has already held to
    its limit."""

    signed: bytes
    sig: _Signature
    signer: _SignerHint


_WRAPPER = decoder(SignedWrapper)
# msgspec writes the wrapper map (bin, bin, str) byte for byte as pack() does, without
# building a dict first (tests/vectors regenerate identically).
_WRAP_ENCODER = msgspec.msgpack.Encoder()


def wrap(signed: bytes, sig: bytes, signer: str) -> bytes:
    return _WRAP_ENCODER.encode({"signed": signed, "sig": sig, "signer": signer})


def unwrap(data: bytes, *, what: str, max_bytes: int) -> SignedWrapper:
    """Decode the outer signed wrapper of untrusted bytes (nothing inside it is trusted yet)."""
    if type(data) is bytes and 0 < len(data) <= max_bytes:
        fast = exact(data, _WRAPPER)
        if fast is not None:
            return fast
    return unwrap_strictly(data, what=what, max_bytes=max_bytes)


def unwrap_strictly(data: bytes, *, what: str, max_bytes: int) -> SignedWrapper:
    """The field-by-field reader of the signed wrapper: what it refuses, it names."""
    fields = Fields(unpack(data, what=what, max_bytes=max_bytes), what)
    signed = fields.bytes("signed", max_len=max_bytes)
    sig = fields.bytes("sig", length=SIGNATURE_BYTES)
    signer = fields.str("signer", max_len=MAX_SIGNER, min_len=1)
    fields.done()
    return SignedWrapper(signed=bytes(signed), sig=bytes(sig), signer=signer)


def verify_unit_signed(
    raw: bytes, *, what: str, max_bytes: int, domain: str, lookup: Callable[[str, int], bytes]
) -> tuple[SignedWrapper, str, int]:
    """Unwrap a message signed by a unit and verify its signature over the exact bytes.

    Returns the wrapper and the signer's (code, serial); the signed bytes are not
    decoded yet. Raises BadSignature naming the signer, or the lookup's own error.
    """
    wrapper = unwrap(raw, what=what, max_bytes=max_bytes)
    code, serial = parse_unit_signer(wrapper.signer, what)
    public_key = lookup(code, serial)
    try:
        signing.verify(public_key, domain, wrapper.signed, wrapper.sig)
    except SignatureError as exc:
        raise BadSignature(
            f"{what}: signature does not verify for {code} (certificate {serial}): {exc}"
        ) from None
    return wrapper, code, serial


class UnitMessage(Protocol):
    """A message a unit signs: it names its author and the serial of the signing key."""

    @property
    def sender(self) -> str: ...

    @property
    def serial(self) -> int: ...


M = TypeVar("M", bound=UnitMessage)


def sign_unit_message(
    signing_key: Any,
    value: dict[str, Any],
    *,
    what: str,
    max_bytes: int,
    domain: str,
    decode: Callable[[Any], M],
) -> bytes:
    """Pack `value`, decode it as a receiver would (nothing is signed that a receiver would
    refuse), sign it in `domain` and wrap it under the hint of the sender and serial it names."""
    signed = pack(value)
    message = decode(unpack(signed, what=what, max_bytes=max_bytes))
    sig = signing.sign(signing_key, domain, signed)
    return wrap(signed, sig, unit_signer(message.sender, message.serial))


def verify_unit_message(
    raw: bytes,
    *,
    what: str,
    max_bytes: int,
    domain: str,
    lookup: Callable[[str, int], bytes],
    decode: Callable[[Any], M],
) -> M:
    """Verify a unit's signed message over the exact bytes, decode the signed bytes with
    `decode`, and check that the message names its signer (SignerMismatch if not)."""
    wrapper, code, serial = verify_unit_signed(
        raw, what=what, max_bytes=max_bytes, domain=domain, lookup=lookup
    )
    message = decode(unpack(wrapper.signed, what=what, max_bytes=max_bytes))
    if (message.sender, message.serial) != (code, serial):
        raise SignerMismatch(
            f"{what}: signed by {code}:{serial} but it names {message.sender}:{message.serial}"
        )
    return message


def unit_signer(code: str, serial: int) -> str:
    return f"{code}:{serial}"


@lru_cache(maxsize=4096)  # every envelope of a unit names the same hint; refusals are not kept
def parse_unit_signer(signer: str, what: str) -> tuple[str, int]:
    code, sep, serial = signer.rpartition(":")
    if not sep or not SIGNER_SERIAL.matches(serial):
        raise InvalidField(what, "signer", f"{signer!r} is not '<unit code>:<serial>'")
    return check_wire_code(code, what, "signer"), int(serial)


def _tname(value: Any) -> str:
    return {
        dict: "map",
        list: "array",
        str: "string",
        bytes: "binary",
        int: "integer",
        bool: "boolean",
        float: "float",
        type(None): "nil",
    }.get(type(value), type(value).__name__)


Clock = Callable[[], int]
