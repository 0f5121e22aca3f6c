"""The C fast path of a directory's decoding: its map and all its certificates, exact bytes only.

A national directory lists some 30,000 certificates, each a signed wrapper whose `signed`
bytes hold the certificate's own map. The field-by-field readers (protocol/directory.py,
protocol/certificate.py) unwrap and check each one in Python, which costs most of a
directory's verification. Here, as in protocol/typed.py, msgspec decodes into typed
structs in C, and a value is taken only when encoding it again gives back the very same
bytes; the certificates are decoded all at once: their bytes are joined under one msgpack
array header and decoded as one array, and then each item must re-encode to exactly the
bytes it came from (so no item borrows a byte of its neighbour). What this path declines,
or what a check after it would refuse, goes to the field-by-field readers, which accept it
or raise their named error: the fast path changes no error and accepts nothing they refuse
(tests/protocol/test_typed_directory.py holds both to it). The signatures are not checked
here: the directory's root signature, checked by the caller, covers every certificate's bytes.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgpack
import msgspec

from lienthong.protocol.certificate import _VERIFIED as CERTIFIED  # the token of a checked one
from lienthong.protocol.certificate import MAX_ENDPOINTS, NodeCertificate
from lienthong.protocol.limits import (
    MAX_CERTIFICATE_BYTES,
    MAX_DIRECTORY_UNITS,
    MAX_LIST_ITEMS,
    MAX_REVOKED,
    MAX_SHORT_TEXT,
    MAX_URL,
)
from lienthong.protocol.text import pattern
from lienthong.protocol.typed import binary, decoder, exact, integer, items, text
from lienthong.protocol.units import MAX_UNIT_CODE, WIRE_UNIT_CODE
from lienthong.protocol.wire import KEY_BYTES, MAX_SIGNER, SIGNATURE_BYTES

_ENCODER = msgspec.msgpack.Encoder()
_CODE = WIRE_UNIT_CODE.source
# Every code of a directory, one a line, matched by one call: 30,000 calls of the one-code
# pattern cost more than the rest of the decoding. A code that holds a line break itself is
# caught by counting the lines (codes_have_wire_shape).
UNIT_CODE_LINES = pattern(
    "unit codes (wire shape), one a line", f"{_CODE}(\n{_CODE})*", "000.00.05.H53\n000.00.06.H53"
)


@dataclass(frozen=True, slots=True)
class Listing:
    """The fields of a directory's signed map as read, before the checks that need the clock
    or the certificates: `certificates` are still wire bytes, `protocols` and `external`
    (form 2) still the decoded values that protocol/directory.py checks."""

    form: int
    version: int
    issued_at: int
    expires_at: int
    centre_name: str
    centre_url: str
    certificates: list[Any]
    revoked: list[Any]
    relays: tuple[str, ...]
    protocols: Any = None
    external: Any = None


class _Centre(msgspec.Struct, forbid_unknown_fields=True):
    name: text(MAX_SHORT_TEXT, 1)  # type: ignore[valid-type]
    url: text(MAX_URL)  # type: ignore[valid-type]


_Version = integer(1, 2**53)
_Time = integer(hi=2**48 - 1)
_Certificates = items(binary(max_len=MAX_CERTIFICATE_BYTES), MAX_DIRECTORY_UNITS)
# A revoked serial is any positive integer; msgspec bounds integers to int64, so a larger
# one (which msgpack allows) goes to the field-by-field reader.
_Revoked = items(integer(lo=1), MAX_REVOKED)
_Relays = items(text(MAX_URL), MAX_LIST_ITEMS)


class _Form1(msgspec.Struct, forbid_unknown_fields=True, tag_field="v", tag=1):
    """A directory's signed map, form 1, fields in the order issue_directory writes them."""

    kind: Literal["directory"]
    version: _Version
    issued_at: _Time
    expires_at: _Time
    centre: _Centre
    certificates: _Certificates
    revoked: _Revoked
    relays: _Relays


class _Form2(_Form1, tag=2):
    """Form 2: form 1 and then `protocols` and `external`, which protocol/directory.py
    checks (limits, codes, order) on the values decoded here."""

    protocols: dict[str, list[int]]
    external: list[dict[str, str]]


_FORMS = decoder(_Form1 | _Form2)


def read_listing(signed: bytes, forms: tuple[int, ...]) -> Listing | None:
    """The listing of exact signed bytes of a directory in one of `forms`, or None (then
    the field-by-field reader reads them and names what is wrong)."""
    top = exact(signed, _FORMS)
    if top is None:
        return None
    form = 2 if isinstance(top, _Form2) else 1
    if form not in forms:
        return None
    return Listing(
        form=form,
        version=top.version,
        issued_at=top.issued_at,
        expires_at=top.expires_at,
        centre_name=top.centre.name,
        centre_url=top.centre.url,
        certificates=top.certificates,
        revoked=top.revoked,
        relays=tuple(top.relays),
        protocols=top.protocols if form == 2 else None,  # type: ignore[attr-defined]
        external=top.external if form == 2 else None,  # type: ignore[attr-defined]
    )


class _Wrapper(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A certificate's signed wrapper (protocol/wire.py); `signed` is shorter than the
    whole, which the directory's list already holds to MAX_CERTIFICATE_BYTES."""

    signed: bytes
    sig: binary(length=SIGNATURE_BYTES)  # type: ignore[valid-type]
    signer: text(MAX_SIGNER, 1)  # type: ignore[valid-type]


# Decoded as a tuple, the type NodeCertificate holds, with no list made on the way.
_Endpoints = Annotated[tuple[text(MAX_URL), ...], msgspec.Meta(max_length=MAX_ENDPOINTS)]


class _Certificate(msgspec.Struct, forbid_unknown_fields=True, gc=False, tag_field="v", tag=1):
    """A certificate's signed map, fields in the order issue_certificate writes them; the
    code's shape and the order of the two times are checked after decoding."""

    kind: Literal["certificate"]
    serial: integer(1, 2**53)  # type: ignore[valid-type]
    code: text(MAX_UNIT_CODE, 1)  # type: ignore[valid-type]
    name: text(MAX_SHORT_TEXT, 1)  # type: ignore[valid-type]
    sign_key: binary(length=KEY_BYTES)  # type: ignore[valid-type]
    enc_key: binary(length=KEY_BYTES)  # type: ignore[valid-type]
    tls_sha256: binary(length=32)  # type: ignore[valid-type]
    endpoints: _Endpoints
    reachable: bool
    not_before: _Time
    not_after: _Time


_WRAPPERS = decoder(list[_Wrapper])
_CERTIFICATES = decoder(list[_Certificate])


def exact_items(data: list[bytes], reader: msgspec.msgpack.Decoder[list[Any]]) -> list[Any] | None:
    """Each of `data` decoded by `reader` (a decoder of a list) in one call, if each is
    exactly the encoding of a valid item, else None."""
    joined = msgpack.Packer().pack_array_header(len(data)) + b"".join(data)
    try:
        values = reader.decode(joined)
    except (msgspec.MsgspecError, RecursionError):
        return None
    # Each item must give back its own bytes: the joined bytes alone could be cut elsewhere.
    # Compared one by one, so that no second copy of all the bytes is held at once.
    if not all(map(operator.eq, map(_ENCODER.encode, values), data)):
        return None
    return values


def codes_have_wire_shape(codes: list[str]) -> bool:
    """Whether every code (a str of at most MAX_UNIT_CODE characters) has the wire shape of
    a unit code (units.has_wire_shape), checked by one match over all of them."""
    if not codes:
        return True
    lines = "\n".join(codes)
    return lines.count("\n") == len(codes) - 1 and UNIT_CODE_LINES.matches(lines)


def read_certificates(data: list[Any]) -> list[NodeCertificate] | None:
    """The certificates of a directory's list (wire bytes each), as decode_certificate_signed
    reads them one by one, or None (then they are read one by one, which names the fault)."""
    if not all(type(item) is bytes for item in data):
        return None
    wrappers = exact_items(data, _WRAPPERS)
    if wrappers is None:
        return None
    bodies = exact_items([w.signed for w in wrappers], _CERTIFICATES)
    if bodies is None or not codes_have_wire_shape([b.code for b in bodies]):
        return None
    if any(b.not_after < b.not_before for b in bodies):
        return None
    return [
        NodeCertificate(
            b.serial,
            b.code,
            b.name,
            b.sign_key,
            b.enc_key,
            b.tls_sha256,
            b.endpoints,
            b.reachable,
            b.not_before,
            b.not_after,
            raw,
            CERTIFIED,
        )
        for b, raw in zip(bodies, data, strict=True)
    ]
