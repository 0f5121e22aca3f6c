"""Document envelopes: seal (encrypt, then sign the bytes) and verify-then-open.

An envelope's signed bytes hold a cleartext header (who, to whom, which blobs)
and a body encrypted end to end: the document is encrypted once with a random
content key (XChaCha20-Poly1305), and that key is sealed to each recipient's
X25519 key. A relay can check the signature and carry the blobs; only the
recipients can read the document. Layout: docs/PROTOCOL.md, "Envelope".
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import msgspec

from lienthong.crypto import aead, sealing, signing
from lienthong.crypto.errors import DecryptionError
from lienthong.crypto.keys import NodeKeys
from lienthong.crypto.stream import ciphertext_size
from lienthong.protocol.document import (
    DocumentBody,
    body_bytes_pass,
    body_from_bytes,
    body_plaintext,
    body_to_wire,
)
from lienthong.protocol.errors import (
    DecodeError,
    InvalidField,
    LimitExceeded,
    NotARecipient,
    SignerMismatch,
)
from lienthong.protocol.ids import BLOB_ID, ULID_PATTERN, is_ulid, new_ulid
from lienthong.protocol.limits import MAX_ATTACHMENTS, MAX_ENVELOPE_BYTES, MAX_RECIPIENTS
from lienthong.protocol.typed import binary, decoder, exact, integer, items, text
from lienthong.protocol.units import check_wire_code, has_wire_shape
from lienthong.protocol.wire import (
    Fields,
    check_header,
    pack,
    unit_signer,
    unpack,
    unwrap,
    verify_unit_signed,
    wrap,
)

WHAT = "envelope"
# edXML business types 0, 2, 3; edXML 1 (revoke) is the status 13 (docs/PROTOCOL.md 4.4).
BUSINESS_TYPES = frozenset({"new", "update", "replace"})
# One replacement may supersede several documents (a decision replacing three earlier ones);
# 32 is far beyond any real case and keeps the header small.
MAX_TARGETS = 32
ENVELOPE_VERSIONS = (1, 2)
SEALED_KEY_BYTES = 80  # 32 ephemeral public key + 16 MAC + 32 content key
ULID_RANDOM_BYTES = 10  # the 80 random bits of an envelope id (protocol/ids.py)
BODY_AAD_PREFIX = b"lienthong/v1/body\x00"

KeyLookup = Callable[[str, int], bytes]
"""(unit code, certificate serial) -> Ed25519 public key; raises UnknownSigner if none."""


class BlobRef(msgspec.Struct, frozen=True, gc=False):
    """A blob the envelope depends on: SHA-256 hex of the ciphertext and its size in bytes."""

    id: str
    size: int


class EnvelopeHeader(msgspec.Struct, frozen=True, gc=False):
    """The cleartext header of an envelope. Frozen msgspec structs, as BlobRef and
    VerifiedEnvelope: made once per envelope read, in C."""

    id: str
    business: str  # "new" | "update" | "replace"
    sender: str
    serial: int  # the sender's certificate serial: which key signed
    recipients: tuple[str, ...]
    created: int  # unix milliseconds, UTC
    reply_to: str | None = None
    targets: tuple[str, ...] = ()  # the documents an update (one) or replacement changes
    blobs: tuple[BlobRef, ...] = ()
    version: int = 2  # the envelope's protocol version (1 or 2)

    @property
    def target(self) -> str | None:
        """The first target: the one document of an update."""
        return self.targets[0] if self.targets else None


_VERIFIED = object()


class VerifiedEnvelope(msgspec.Struct, frozen=True, gc=False):
    """An envelope whose signature has been checked; only verify_envelope makes one.

    A frozen msgspec struct rather than a dataclass: made once per envelope read, in C
    (a sixth of a dataclass's construction); it holds no cycle, so the collector skips it."""

    header: EnvelopeHeader
    raw: bytes  # the exact bytes received, kept as proof
    sealed_keys: tuple[bytes, ...]  # index-aligned with header.recipients
    nonce: bytes
    ciphertext: bytes
    _token: object

    def __post_init__(self) -> None:
        if self._token is not _VERIFIED:
            raise TypeError("a VerifiedEnvelope is made by protocol.envelope.verify_envelope only")

    @property
    def sha256(self) -> bytes:
        """Hash of the bytes received: what the 01 (arrived) status carries as proof."""
        return hashlib.sha256(self.raw).digest()


def seal_envelope(
    *,
    keys: NodeKeys,
    sender: str,
    serial: int,
    recipients: Mapping[str, bytes],
    body: DocumentBody,
    created: int,
    envelope_id: str | None = None,
    business: str = "new",
    reply_to: str | None = None,
    targets: tuple[str, ...] = (),
    version: int = 2,
    random: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """Encrypt `body` to every recipient (code -> X25519 public key), sign, return wire bytes.

    `version` 1 is for recipients that read only version 1 (docs/PROTOCOL.md 1.2, 5.5). The
    result is decoded again before it is returned, so a document that this node would
    refuse from a peer is refused here, with the same message.
    """
    if version not in ENVELOPE_VERSIONS:
        raise ValueError(f"envelope version {version}: this node writes 1 or 2")
    codes = list(recipients)
    if random is os.urandom:
        # One call to the operating system for every random byte, split: the id's 80 bits,
        # the content key and the nonce; the sealed boxes' ephemeral keys come from
        # libsodium's own generator inside crypto_box_seal.
        drawn = os.urandom(ULID_RANDOM_BYTES + aead.KEY_BYTES + aead.NONCE_BYTES)
        if envelope_id is None:
            envelope_id = new_ulid(created, lambda n: drawn[:n])
        content_key = drawn[ULID_RANDOM_BYTES : ULID_RANDOM_BYTES + aead.KEY_BYTES]
        nonce = drawn[ULID_RANDOM_BYTES + aead.KEY_BYTES :]
        seeds = None
    else:
        # A chosen source (test vectors): one draw per value in the order the vectors fix.
        envelope_id = envelope_id or new_ulid(created, random)
        content_key = b""
        nonce = b""
        seeds = random
    header = _header_map(
        version, envelope_id, business, sender, serial, codes, created, reply_to,
        list(targets), [],
    )  # fmt: skip
    if version != 2 or not _header_passes(header):
        _check_header(header, version)
    # Refuse here what a recipient would refuse, with its message: the C path fills, checks
    # and encodes the body struct when it can say yes; anything else is packed and decoded
    # as the recipient will decode it, which names what is wrong.
    plaintext = body_plaintext(body, MAX_ENVELOPE_BYTES) if version == 2 else None
    if plaintext is None:
        plaintext = pack(body_to_wire(body, version))
        if version != 2 or not body_bytes_pass(plaintext, MAX_ENVELOPE_BYTES):
            checked = body_from_bytes(plaintext, version, max_bytes=MAX_ENVELOPE_BYTES)
            _check_business(business, checked, WHAT, version)
        else:
            _check_business(business, body, WHAT, version)  # the bytes say what `body` says
    else:
        _check_business(business, body, WHAT, version)
    if seeds is not None:
        content_key = seeds(aead.KEY_BYTES)
        nonce = seeds(aead.NONCE_BYTES)
    ciphertext = aead.encrypt(content_key, nonce, plaintext, BODY_AAD_PREFIX + envelope_id.encode())
    sealed = [
        sealing.seal(
            recipients[code],
            content_key,
            ephemeral_seed=None if seeds is None else seeds(sealing.SEED_BYTES),
        )
        for code in codes
    ]
    header["blobs"] = [{"id": a.blob, "size": ciphertext_size(a.size)} for a in body.attachments]
    # msgspec writes these maps byte for byte as pack() does (str, bin, int, nil, arrays;
    # the vectors regenerate identically), without msgpack's Python-object walk.
    signed = _SIGNED_ENCODER.encode(
        {
            "v": version,
            "kind": "envelope",
            "header": header,
            "body": {"keys": sealed, "nonce": nonce, "ciphertext": ciphertext},
        }
    )
    raw = wrap(
        signed, signing.sign(keys.signing, signing.ENVELOPE, signed), unit_signer(sender, serial)
    )
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise LimitExceeded(
            f"{WHAT}: {len(raw)} bytes is over the limit of {MAX_ENVELOPE_BYTES} bytes"
        )
    return raw


def verify_envelope(raw: bytes, lookup: KeyLookup) -> VerifiedEnvelope:
    """Check the signature over the exact signed bytes, then decode them strictly.

    Steps (docs/PROTOCOL.md, "Verifying an envelope"): 1. size cap and outer
    map; 2. find the signer's key from the hint; 3. verify the signature in
    the envelope domain; 4. decode the signed bytes; 5. the header's sender
    and serial must be the signer's.
    """
    wrapper, code, serial = verify_unit_signed(
        raw, what=WHAT, max_bytes=MAX_ENVELOPE_BYTES, domain=signing.ENVELOPE, lookup=lookup
    )
    return _decode_signed(wrapper.signed, bytes(raw), code, serial)


def header_of_own_envelope(raw: bytes) -> EnvelopeHeader:
    """The header of an envelope this node sealed and stored itself (no signature check).

    For the sender's delivery engine only, which needs the blob list of its own
    stored envelopes; bytes from anywhere else go through verify_envelope.
    """
    wrapper = unwrap(raw, what=WHAT, max_bytes=MAX_ENVELOPE_BYTES)
    top = Fields(unpack(wrapper.signed, what=WHAT, max_bytes=MAX_ENVELOPE_BYTES), WHAT)
    version = top.int("v", lo=1, hi=max(ENVELOPE_VERSIONS))
    return _check_header(top.raw("header"), version)


def open_envelope(envelope: VerifiedEnvelope, unit_code: str, keys: NodeKeys) -> DocumentBody:
    """Unseal the content key addressed to `unit_code` and decrypt the document body."""
    header = envelope.header
    try:
        index = header.recipients.index(unit_code)
    except ValueError:
        raise NotARecipient(
            f"{WHAT} {header.id} from {header.sender} is not addressed to {unit_code}"
        ) from None
    try:
        content_key = sealing.unseal(keys.encryption, envelope.sealed_keys[index])
        plaintext = aead.decrypt(
            content_key, envelope.nonce, envelope.ciphertext, BODY_AAD_PREFIX + header.id.encode()
        )
    except DecryptionError as exc:
        raise DecodeError(
            f"{WHAT} {header.id} from {header.sender}: cannot decrypt the body for "
            f"{unit_code}: {exc}"
        ) from None
    body = body_from_bytes(plaintext, header.version, max_bytes=MAX_ENVELOPE_BYTES)
    _check_business(header.business, body, f"{WHAT} {header.id}", header.version)
    if (header.blobs or body.attachments) and [(b.id, b.size) for b in header.blobs] != [
        (a.blob, ciphertext_size(a.size)) for a in body.attachments
    ]:
        raise InvalidField(
            WHAT, "header.blobs", "the blobs in the header do not match the attachment manifest"
        )
    return body


# The signed bytes of a version-2 envelope for the C fast path (protocol/typed.py), fields
# in the order seal_envelope writes them; _fast_signed checks what a type cannot say.
_Ulid = text(26, 26)
_BlobId = text(64, 64)
_Size = integer()
_Serial = integer(hi=2**53)
_Created = integer(hi=2**48 - 1)
_Codes = items(str, MAX_RECIPIENTS)
_Targets = items(str, MAX_TARGETS)
_SealedKeys = items(binary(length=SEALED_KEY_BYTES), MAX_RECIPIENTS)
_Nonce = binary(length=aead.NONCE_BYTES)


class _BlobWire(msgspec.Struct, forbid_unknown_fields=True):
    id: _BlobId
    size: _Size


_Blobs = items(_BlobWire, MAX_ATTACHMENTS)


class _HeaderWire(msgspec.Struct, forbid_unknown_fields=True):
    id: _Ulid
    business: Literal["new", "update", "replace"]
    sender: str
    serial: _Serial
    recipients: _Codes
    created: _Created
    reply_to: _Ulid | None
    targets: _Targets
    blobs: _Blobs


class _BodyWire(msgspec.Struct, forbid_unknown_fields=True):
    keys: _SealedKeys
    nonce: _Nonce
    ciphertext: bytes


class _SignedWire(msgspec.Struct, forbid_unknown_fields=True):
    v: Literal[2]
    kind: Literal["envelope"]
    header: _HeaderWire
    body: _BodyWire


_SIGNED = decoder(_SignedWire)
_SIGNED_ENCODER = msgspec.msgpack.Encoder()


# Unit codes seen with the wire shape: a province's few hundred, so a fan-out's 26 recipients
# are checked by one set inclusion. Bounded: past it codes are checked one by one.
MAX_SHAPED_CODES = 4096
_SHAPED: set[str] = set()


def _shaped(codes: set[str]) -> bool:
    """Whether every code has the wire shape of a unit code (has_wire_shape)."""
    if codes <= _SHAPED:
        return True
    for code in codes - _SHAPED:
        if not has_wire_shape(code):
            return False
        if len(_SHAPED) < MAX_SHAPED_CODES:
            _SHAPED.add(code)
    return True


_HEADER_KEYS = frozenset(
    {"id", "business", "sender", "serial", "recipients", "created", "reply_to", "targets", "blobs"}
)


def _header_passes(header: dict[str, Any]) -> bool:
    """Whether _check_header would accept a version-2 header map this node has just made
    (before its blobs are filled in), answered from the Python values themselves: no
    encoding, no EnvelopeHeader built. False means only "not sure" (then _check_header
    accepts it or names what is wrong); tests/protocol/test_seal_checks.py holds it to
    _check_header."""
    recipients, targets = header.get("recipients"), header.get("targets")
    business, sender = header.get("business"), header.get("sender")
    serial, created = header.get("serial"), header.get("created")
    reply_to = header.get("reply_to")
    if not (
        header.keys() == _HEADER_KEYS
        and header["blobs"] == []
        and type(recipients) is list
        and 0 < len(recipients) <= MAX_RECIPIENTS
        and all(type(code) is str for code in recipients)
        and type(targets) is list
        and _is_ulid(header["id"])
        and (reply_to is None or _is_ulid(reply_to))
        and type(sender) is str
        and (sender in _SHAPED or _shaped({sender}))
        and type(serial) is int
        and 0 <= serial <= 2**53
        and type(created) is int
        and 0 <= created <= 2**48 - 1
        and type(business) is str
    ):
        return False
    codes = set(recipients)
    if len(codes) != len(recipients) or not _shaped(codes):
        return False
    if business == "new" and not targets:
        return True  # the commonest header: what check_targets accepts, no target to see
    if not all(type(t) is str and ULID_PATTERN.matches(t) for t in targets):
        return False
    try:
        check_targets(business, targets, "envelope header")
    except InvalidField:
        return False
    return True


def _is_ulid(value: object) -> bool:
    return type(value) is str and ULID_PATTERN.matches(value)


def _fast_header(h: _HeaderWire) -> EnvelopeHeader | None:
    """The header of a decoded version-2 header struct that passes every check of
    _check_header, or None (then _check_header reads it field by field)."""
    if not _header_checks(h):
        return None
    return EnvelopeHeader(
        h.id,
        h.business,
        h.sender,
        h.serial,
        tuple(h.recipients),
        h.created,
        h.reply_to,
        tuple(h.targets),
        tuple([BlobRef(b.id, b.size) for b in h.blobs]) if h.blobs else (),
        2,
    )


def _header_checks(h: _HeaderWire) -> bool:
    """Whether a decoded version-2 header struct passes the checks no type can say."""
    recipients = h.recipients
    codes = set(recipients)  # msgspec made each a str, as every target
    targets, blobs = h.targets, h.blobs
    if (
        not recipients
        or len(codes) != len(recipients)
        or not _shaped(codes)
        or not ULID_PATTERN.matches(h.id)
        or (h.reply_to is not None and not ULID_PATTERN.matches(h.reply_to))
        or (h.sender not in _SHAPED and not _shaped({h.sender}))
    ):
        return False
    if h.business == "new" and not targets and not blobs:
        return True  # the commonest header: what check_targets accepts, nothing more to see
    if not all(ULID_PATTERN.matches(t) for t in targets) or not all(
        BLOB_ID.matches(b.id) for b in blobs
    ):
        return False
    try:
        check_targets(h.business, targets, "envelope header")
    except InvalidField:
        return False
    return True


def _fast_signed(signed: bytes, code: str, serial: int) -> tuple[EnvelopeHeader, _BodyWire] | None:
    """The header and body of exact version-2 signed bytes that pass every check of
    _decode_signed, or None (then _decode_signed reads them field by field)."""
    top = exact(signed, _SIGNED)
    if top is None:
        return None
    header = _fast_header(top.header)
    if (
        header is None
        or len(top.body.keys) != len(header.recipients)
        or (header.sender, header.serial) != (code, serial)
    ):
        return None
    return header, top.body


def _decode_signed(signed: bytes, raw: bytes, code: str, serial: int) -> VerifiedEnvelope:
    """Decode the signed bytes strictly; the caller has verified (or just made) the signature."""
    if len(signed) <= MAX_ENVELOPE_BYTES:
        fast = _fast_signed(signed, code, serial)
        if fast is not None:
            header, fast_body = fast
            return VerifiedEnvelope(
                header=header,
                raw=raw,
                sealed_keys=tuple(fast_body.keys),
                nonce=fast_body.nonce,
                ciphertext=fast_body.ciphertext,
                _token=_VERIFIED,
            )
    return _decode_signed_strictly(signed, raw, code, serial)


def _decode_signed_strictly(signed: bytes, raw: bytes, code: str, serial: int) -> VerifiedEnvelope:
    """The field-by-field reader of the signed bytes: what it refuses, it names."""
    top = Fields(unpack(signed, what=WHAT, max_bytes=MAX_ENVELOPE_BYTES), WHAT)
    version = check_header(top, WHAT, "envelope", ENVELOPE_VERSIONS)
    header = _check_header(top.raw("header"), version)
    body = Fields(top.raw("body"), "envelope body")
    sealed_keys = body.list("keys", max_items=MAX_RECIPIENTS)
    nonce = body.bytes("nonce", length=aead.NONCE_BYTES)
    ciphertext = body.bytes("ciphertext", max_len=MAX_ENVELOPE_BYTES)
    body.done()
    top.done()
    if len(sealed_keys) != len(header.recipients):
        raise InvalidField(
            "envelope body",
            "keys",
            f"{len(sealed_keys)} sealed keys for {len(header.recipients)} recipients",
        )
    for i, item in enumerate(sealed_keys):
        if not isinstance(item, bytes) or len(item) != SEALED_KEY_BYTES:
            raise InvalidField("envelope body", f"keys[{i}]", f"expected {SEALED_KEY_BYTES} bytes")
    if (header.sender, header.serial) != (code, serial):
        raise SignerMismatch(
            f"{WHAT}: signed by {code}:{serial} but the header names "
            f"{header.sender}:{header.serial}"
        )
    return VerifiedEnvelope(
        header=header,
        raw=raw,
        sealed_keys=tuple(sealed_keys),
        nonce=nonce,
        ciphertext=ciphertext,
        _token=_VERIFIED,
    )


def _header_map(
    version: int,
    envelope_id: str,
    business: str,
    sender: str,
    serial: int,
    recipients: list[str],
    created: int,
    reply_to: str | None,
    targets: list[str],
    blobs: list[dict[str, Any]],
) -> dict[str, Any]:
    """The header in its version's layout: version 1 names one `target` (or nil), version 2
    a list `targets`."""
    header: dict[str, Any] = {
        "id": envelope_id,
        "business": business,
        "sender": sender,
        "serial": serial,
        "recipients": recipients,
        "created": created,
        "reply_to": reply_to,
    }
    if version == 1:
        if len(targets) > 1:
            raise InvalidField("envelope header", "target", "version 1 names one target at most")
        header["target"] = targets[0] if targets else None
    else:
        header["targets"] = targets
    header["blobs"] = blobs
    return header


_NAMED = {"new": "a new document", "update": "an update", "replace": "a replacement"}


def check_targets(business: str, targets: Sequence[str], what: str) -> None:
    """What each business type names: the one place for it, for the header a node reads
    and for the document a clerk is about to send. A new document names no target, an
    update exactly one, a replacement one or more; each once, at most MAX_TARGETS."""
    if business not in BUSINESS_TYPES:
        names = ", ".join(sorted(BUSINESS_TYPES))
        raise InvalidField(what, "business", f"business {business[:40]!r} is not one of {names}")
    if len(targets) > MAX_TARGETS:
        raise InvalidField(what, "targets", f"at most {MAX_TARGETS} documents, not {len(targets)}")
    if business == "new" and targets:
        raise InvalidField(
            what,
            "targets",
            "a new document names no target: it names no document to update or replace",
        )
    if business == "update" and len(targets) != 1:
        raise InvalidField(what, "targets", "an update names exactly one target")
    if business == "replace" and not targets:
        raise InvalidField(
            what, "targets", "a replacement names the documents it replaces (one or more)"
        )
    if len(set(targets)) != len(targets):
        raise InvalidField(what, "targets", "a document is named twice")


def check_reason(business: str, reason: str | None, what: str) -> None:
    """An update or a replacement says why (edXML BussinessDocReason)."""
    if business != "new" and not (reason or "").strip():
        raise InvalidField(what, "business.reason", f"{_NAMED[business]} says why (the reason)")


def _check_business(business: str, body: DocumentBody, what: str, version: int) -> None:
    """Version 1 cannot carry the reason; version 2 must."""
    if version >= 2:
        check_reason(business, body.business.reason, what)


def _check_header(value: Any, version: int) -> EnvelopeHeader:
    what = "envelope header"
    f = Fields(value, what)
    recipients = f.list("recipients", max_items=MAX_RECIPIENTS)
    if not recipients:
        raise InvalidField(what, "recipients", "at least one recipient is needed")
    codes: list[str] = []
    for i, item in enumerate(recipients):
        codes.append(check_wire_code(item, what, f"recipients[{i}]"))
    if len(set(codes)) != len(codes):
        raise InvalidField(what, "recipients", "a unit is listed twice")
    blobs = []
    for i, item in enumerate(f.list("blobs", max_items=MAX_ATTACHMENTS)):
        b = Fields(item, what)
        blob_id = b.str("id", max_len=64, min_len=64)
        if not BLOB_ID.matches(blob_id):
            raise InvalidField(what, f"blobs[{i}].id", "expected 64 lowercase hex digits")
        blobs.append(BlobRef(id=blob_id, size=b.int("size")))
        b.done()
    business = f.str("business", choices=BUSINESS_TYPES)
    if version == 1:
        target = f.ulid("target", optional=True)
        targets: tuple[str, ...] = () if target is None else (target,)
    else:
        raw_targets = f.list("targets", max_items=MAX_TARGETS)
        for i, item in enumerate(raw_targets):
            if not is_ulid(item):
                raise InvalidField(what, f"targets[{i}]", "expected a 26-character ULID")
        targets = tuple(raw_targets)
    header = EnvelopeHeader(
        id=f.ulid("id"),
        business=business,
        sender=f.code("sender"),
        serial=f.int("serial", hi=2**53),
        recipients=tuple(codes),
        created=f.int("created", hi=2**48 - 1),
        reply_to=f.ulid("reply_to", optional=True),
        targets=targets,
        blobs=tuple(blobs),
        version=version,
    )
    f.done()
    check_targets(business, targets, what)
    return header
