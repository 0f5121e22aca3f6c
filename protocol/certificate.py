"""Node certificates (signed by the centre's root key) and registration requests.

A registration request is signed by the node's new key and authorised either
by a one-time enrolment token (an HMAC over the binding bytes, so the token
never travels) or, for a key rotation, by a signature of the old key.
Layout: docs/PROTOCOL.md, "Registration request" and "Node certificate".
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from lienthong.crypto import signing
from lienthong.crypto.errors import SignatureError
from lienthong.crypto.keys import NodeKeys
from lienthong.protocol.errors import BadSignature, Expired, InvalidField
from lienthong.protocol.limits import MAX_CERTIFICATE_BYTES, MAX_REGISTRATION_BYTES, MAX_URL
from lienthong.protocol.wire import (
    KEY_BYTES,
    SIGNATURE_BYTES,
    Fields,
    check_header,
    pack,
    unpack,
    unwrap,
    wrap,
)

CENTRE_SIGNER = "centre"  # signer hint of messages signed by the root key
SELF_SIGNER = "self"  # signer hint of a registration request: the key is inside
TOKEN_DOMAIN = b"lienthong/v1/enrolment\x00"
MAX_TOKEN_ID = 64
MAX_ENDPOINTS = 16  # a node listens on a few addresses at most
# A registration's tls_key (docs/PROTOCOL.md 9.1), in the algorithm of the federation's CA:
# a raw Ed25519 key, or an ECDSA P-256 key as the uncompressed point 0x04 || X || Y.
ED25519_TLS_KEY_BYTES = KEY_BYTES
P256_TLS_KEY_BYTES = 65
P256_UNCOMPRESSED = 0x04
_VERIFIED = object()


@dataclass(frozen=True, slots=True)
class NodeCertificate:
    """A unit's keys and endpoints as certified by the centre; made by verification only."""

    serial: int
    code: str
    name: str
    sign_key: bytes
    enc_key: bytes
    tls_sha256: bytes  # SHA-256 of the DER of the unit's X.509 TLS certificate
    endpoints: tuple[str, ...]
    reachable: bool  # False: behind NAT, pulls its mail from the relay
    not_before: int
    not_after: int
    raw: bytes
    _token: object

    def __post_init__(self) -> None:
        if self._token is not _VERIFIED:
            raise TypeError("a NodeCertificate is made by verifying one")

    def valid_at(self, now: int) -> bool:
        return self.not_before <= now <= self.not_after


def issue_certificate(
    root: NodeKeys,
    *,
    serial: int,
    code: str,
    name: str,
    sign_key: bytes,
    enc_key: bytes,
    tls_sha256: bytes,
    endpoints: tuple[str, ...] | list[str],
    reachable: bool,
    not_before: int,
    not_after: int,
) -> bytes:
    """Sign a node certificate with the centre's root key; returns the wire bytes."""
    signed = pack(
        {
            "v": 1,
            "kind": "certificate",
            "serial": serial,
            "code": code,
            "name": name,
            "sign_key": sign_key,
            "enc_key": enc_key,
            "tls_sha256": tls_sha256,
            "endpoints": list(endpoints),
            "reachable": reachable,
            "not_before": not_before,
            "not_after": not_after,
        }
    )
    raw = wrap(signed, signing.sign(root.signing, signing.CERTIFICATE, signed), CENTRE_SIGNER)
    verify_certificate(raw, root.sign_public)
    return raw


def verify_certificate(
    raw: bytes, root_public: bytes, *, now: int | None = None
) -> NodeCertificate:
    """Verify a certificate's own root signature; with `now`, also its validity period."""
    what = "certificate"
    wrapper = unwrap(raw, what=what, max_bytes=MAX_CERTIFICATE_BYTES)
    if wrapper.signer != CENTRE_SIGNER:
        raise InvalidField(what, "signer", f"expected {CENTRE_SIGNER!r}")
    try:
        signing.verify(root_public, signing.CERTIFICATE, wrapper.signed, wrapper.sig)
    except SignatureError as exc:
        raise BadSignature(f"{what}: not signed by this federation's centre: {exc}") from None
    cert = decode_certificate_signed(wrapper.signed, bytes(raw))
    if now is not None and not cert.valid_at(now):
        raise Expired(f"certificate {cert.serial} of {cert.code} is not valid at {now}")
    return cert


def decode_certificate_signed(signed: bytes, raw: bytes) -> NodeCertificate:
    """Decode the signed bytes of a certificate whose signature the caller has checked.

    Used by the directory, whose own root signature covers every certificate's bytes.
    """
    what = "certificate"
    f = Fields(unpack(signed, what=what, max_bytes=MAX_CERTIFICATE_BYTES), what)
    check_header(f, what, "certificate")
    cert = NodeCertificate(
        serial=f.int("serial", lo=1, hi=2**53),
        code=f.code("code"),
        name=f.str("name", min_len=1),
        sign_key=f.bytes("sign_key", length=KEY_BYTES),
        enc_key=f.bytes("enc_key", length=KEY_BYTES),
        tls_sha256=f.bytes("tls_sha256", length=32),
        endpoints=f.strs("endpoints", max_items=MAX_ENDPOINTS, max_len=MAX_URL),
        reachable=f.bool("reachable"),
        not_before=f.int("not_before", hi=2**48 - 1),
        not_after=f.int("not_after", hi=2**48 - 1),
        raw=raw,
        _token=_VERIFIED,
    )
    f.done()
    if cert.not_after < cert.not_before:
        raise InvalidField(what, "not_after", "ends before it begins")
    return cert


@dataclass(frozen=True, slots=True)
class TokenAuth:
    token_id: str  # the public half of the enrolment token
    mac: bytes  # HMAC-SHA256(secret, TOKEN_DOMAIN || binding)


@dataclass(frozen=True, slots=True)
class RotationAuth:
    serial: int  # the certificate being replaced
    sig: bytes  # old key's signature of the binding in the rotation domain


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    """A node's request for a certificate; self-signed, so it proves possession of the key."""

    code: str
    name: str
    sign_key: bytes
    enc_key: bytes
    tls_key: bytes  # the public key of the node's X.509 TLS key (32 or 65 bytes, see 9.1)
    endpoints: tuple[str, ...]
    reachable: bool
    created: int
    auth: TokenAuth | RotationAuth
    raw: bytes

    @property
    def binding(self) -> bytes:
        return binding_bytes(self.code, self.sign_key, self.enc_key, self.tls_key, self.created)


def binding_bytes(
    code: str, sign_key: bytes, enc_key: bytes, tls_key: bytes, created: int
) -> bytes:
    """What a token MAC and a rotation signature cover: msgpack [code, keys..., created]."""
    return pack([code, sign_key, enc_key, tls_key, created])


def token_mac(secret: bytes, binding: bytes) -> bytes:
    return hmac.new(secret, TOKEN_DOMAIN + binding, hashlib.sha256).digest()


def make_registration(
    keys: NodeKeys,
    *,
    code: str,
    name: str,
    tls_key: bytes,
    endpoints: list[str] | tuple[str, ...],
    reachable: bool,
    created: int,
    token_id: str | None = None,
    token_secret: bytes | None = None,
    old_keys: NodeKeys | None = None,
    old_serial: int | None = None,
) -> bytes:
    """Build a registration request signed by `keys`, authorised by a token or the old key."""
    binding = binding_bytes(code, keys.sign_public, keys.enc_public, tls_key, created)
    if token_id is not None and token_secret is not None:
        auth: dict[str, Any] = {"token_id": token_id, "mac": token_mac(token_secret, binding)}
    elif old_keys is not None and old_serial is not None:
        auth = {
            "serial": old_serial,
            "sig": signing.sign(old_keys.signing, signing.ROTATION, binding),
        }
    else:
        raise ValueError("a registration needs a token (id and secret) or the old key and serial")
    signed = pack(
        {
            "v": 1,
            "kind": "registration",
            "code": code,
            "name": name,
            "sign_key": keys.sign_public,
            "enc_key": keys.enc_public,
            "tls_key": tls_key,
            "endpoints": list(endpoints),
            "reachable": reachable,
            "created": created,
            "auth": auth,
        }
    )
    raw = wrap(signed, signing.sign(keys.signing, signing.REGISTRATION, signed), SELF_SIGNER)
    verify_registration(raw)
    return raw


def verify_registration(raw: bytes) -> RegistrationRequest:
    """Decode a self-signed request and verify it with the key it carries.

    This proves possession of the key only; the centre then checks the token
    (check_token) or, for a rotation, the old key's signature (check_rotation).
    """
    what = "registration request"
    wrapper = unwrap(raw, what=what, max_bytes=MAX_REGISTRATION_BYTES)
    if wrapper.signer != SELF_SIGNER:
        raise InvalidField(what, "signer", f"expected {SELF_SIGNER!r}")
    f = Fields(unpack(wrapper.signed, what=what, max_bytes=MAX_REGISTRATION_BYTES), what)
    check_header(f, what, "registration")
    code = f.code("code")
    name = f.str("name", min_len=1)
    sign_key = f.bytes("sign_key", length=KEY_BYTES)
    enc_key = f.bytes("enc_key", length=KEY_BYTES)
    tls_key = f.bytes("tls_key", max_len=P256_TLS_KEY_BYTES)
    if len(tls_key) != ED25519_TLS_KEY_BYTES and (
        len(tls_key) != P256_TLS_KEY_BYTES or tls_key[0] != P256_UNCOMPRESSED
    ):
        raise InvalidField(
            what,
            "tls_key",
            f"expected {ED25519_TLS_KEY_BYTES} bytes (Ed25519) or {P256_TLS_KEY_BYTES} bytes "
            f"starting 04 (an uncompressed P-256 point), got {len(tls_key)}",
        )
    endpoints = f.strs("endpoints", max_items=MAX_ENDPOINTS, max_len=MAX_URL)
    reachable = f.bool("reachable")
    created = f.int("created", hi=2**48 - 1)
    a = f.map("auth")
    assert a is not None
    auth: TokenAuth | RotationAuth
    if "token_id" in a.raw_keys():
        auth = TokenAuth(
            token_id=a.str("token_id", max_len=MAX_TOKEN_ID, min_len=1),
            mac=a.bytes("mac", length=32),
        )
    else:
        auth = RotationAuth(
            serial=a.int("serial", lo=1, hi=2**53), sig=a.bytes("sig", length=SIGNATURE_BYTES)
        )
    a.done()
    f.done()
    try:
        signing.verify(sign_key, signing.REGISTRATION, wrapper.signed, wrapper.sig)
    except SignatureError as exc:
        raise BadSignature(f"{what} for {code}: not signed by the key it carries: {exc}") from None
    return RegistrationRequest(
        code=code,
        name=name,
        sign_key=sign_key,
        enc_key=enc_key,
        tls_key=tls_key,
        endpoints=endpoints,
        reachable=reachable,
        created=created,
        auth=auth,
        raw=bytes(raw),
    )


def check_token(request: RegistrationRequest, token_id: str, secret: bytes) -> None:
    """Raise BadSignature unless the request's token MAC was made with this token."""
    auth = request.auth
    if not isinstance(auth, TokenAuth) or auth.token_id != token_id:
        raise BadSignature(f"registration request for {request.code}: not bound to this token")
    if not hmac.compare_digest(auth.mac, token_mac(secret, request.binding)):
        raise BadSignature(
            f"registration request for {request.code}: the token does not match (wrong token?)"
        )


def check_rotation(request: RegistrationRequest, old_public: bytes) -> None:
    """Raise BadSignature unless the old key signed the new keys (a key rotation)."""
    auth = request.auth
    if not isinstance(auth, RotationAuth):
        raise BadSignature(f"registration request for {request.code}: not a key rotation")
    try:
        signing.verify(old_public, signing.ROTATION, request.binding, auth.sig)
    except SignatureError as exc:
        raise BadSignature(
            f"key rotation for {request.code}: not signed by certificate {auth.serial}: {exc}"
        ) from None
