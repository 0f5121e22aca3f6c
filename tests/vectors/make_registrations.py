"""Vectors of registration requests: enrolment token MAC and key-rotation signature; a TLS
key of either algorithm (Ed25519, 32 bytes; ECDSA P-256, 65 bytes)."""

from __future__ import annotations

from typing import Any

from lienthong.crypto import signing
from lienthong.protocol.certificate import binding_bytes, make_registration, token_mac
from lienthong.protocol.limits import MAX_REGISTRATION_BYTES
from tests.protocol.fixtures import NOW, A, B, counter_random, keys
from tests.vectors.common import (
    err,
    file_document,
    flip_signed_byte,
    hx,
    inner,
    oversized,
    rehint,
    resign,
    vector,
)
from tests.vectors.make_tls_ca import p256_point

TOKEN_ID = "tok-2026-0001"
TOKEN_SECRET = counter_random("token-secret")(32)


def registration_fields(owner: str, tls_key: bytes | None = None) -> dict[str, Any]:
    return {
        "code": A,
        "name": "Văn phòng UBND tỉnh Tây Ninh",
        "tls_key": keys(f"{owner} tls").sign_public if tls_key is None else tls_key,
        "endpoints": ["https://000-00-02-h53.tayninh.example:7443"],
        "reachable": True,
        "created": NOW,
    }


def registration_ok(owner: str, auth: dict[str, Any], tls_key: bytes | None = None) -> dict:
    k = keys(owner)
    f = registration_fields(owner, tls_key)
    binding = binding_bytes(f["code"], k.sign_public, k.enc_public, f["tls_key"], f["created"])
    if "token_id" in auth:
        auth = {**auth, "mac": token_mac(TOKEN_SECRET, binding)}
    out = {
        **f,
        "sign_key": k.sign_public,
        "enc_key": k.enc_public,
        "auth": {a: (hx(b) if isinstance(b, bytes) else b) for a, b in auth.items()},
        "binding": binding,
    }
    return {"ok": {a: (hx(b) if isinstance(b, bytes) else b) for a, b in out.items()}}


def registrations() -> dict:
    token_req = make_registration(
        keys("new node"),
        **registration_fields("new node"),
        token_id=TOKEN_ID,
        token_secret=TOKEN_SECRET,
    )
    rotation = make_registration(
        keys("A-new"), **registration_fields("A-new"), old_keys=keys(A), old_serial=1
    )
    rot_sig = inner(rotation)["auth"]["sig"]
    ecdsa_tls = p256_point("new node tls")
    ecdsa_req = make_registration(
        keys("new node"),
        **registration_fields("new node", ecdsa_tls),
        token_id=TOKEN_ID,
        token_secret=TOKEN_SECRET,
    )
    m = inner(token_req)
    token = {"id": TOKEN_ID, "secret": hx(TOKEN_SECRET)}
    old_a = hx(keys(A).sign_public)

    def self_signed(signed_map, domain=signing.REGISTRATION):
        return resign(signed_map, domain, "self", "new node")

    vectors = [
        vector(
            "token",
            "Enrolment of A's new node with a one-time token.",
            token_req,
            registration_ok("new node", {"token_id": TOKEN_ID}),
            token=token,
        ),
        vector(
            "token-ecdsa-tls-key",
            "The same enrolment in an ECDSA P-256 federation: tls_key is the 65-byte point.",
            ecdsa_req,
            registration_ok("new node", {"token_id": TOKEN_ID}, ecdsa_tls),
            token=token,
        ),
        vector(
            "tls-key-compressed-point",
            "Self-signed with tls_key the 33-byte compressed form of that point.",
            self_signed({**m, "tls_key": bytes([2 + ecdsa_tls[-1] % 2]) + ecdsa_tls[1:33]}),
            err("InvalidField"),
            token=token,
        ),
        vector(
            "tls-key-65-bytes-not-a-point",
            "Self-signed with tls_key 65 bytes that do not start with 04.",
            self_signed({**m, "tls_key": b"\x05" + ecdsa_tls[1:]}),
            err("InvalidField"),
            token=token,
        ),
        vector(
            "token-wrong-secret",
            "The same request checked with another secret.",
            token_req,
            err("BadSignature"),
            token={"id": TOKEN_ID, "secret": "00" * 32},
        ),
        vector(
            "token-other-id",
            "The same request checked against another token id.",
            token_req,
            err("BadSignature"),
            token={"id": "tok-2026-0002", "secret": hx(TOKEN_SECRET)},
        ),
        vector(
            "rotation",
            "A replaces certificate 1's key; the old key signs the binding.",
            rotation,
            registration_ok("A-new", {"serial": 1, "sig": rot_sig}),
            old_public=old_a,
        ),
        vector(
            "rotation-wrong-old-key",
            "The rotation checked against B's key.",
            rotation,
            err("BadSignature"),
            old_public=hx(keys(B).sign_public),
        ),
        vector(
            "bad-self-signature",
            "One bit of the signed bytes flipped.",
            flip_signed_byte(token_req),
            err("BadSignature"),
            token=token,
        ),
        vector(
            "wrong-domain",
            "Signed by the carried key in the envelope domain.",
            self_signed(m, signing.ENVELOPE),
            err("BadSignature"),
            token=token,
        ),
        vector(
            "signer-hint-not-self",
            "The signer hint is 'centre'.",
            rehint(token_req, "centre"),
            err("InvalidField"),
            token=token,
        ),
        vector(
            "unknown-field",
            "Self-signed with an extra field 'phone'.",
            self_signed({**m, "phone": "1"}),
            err("InvalidField"),
            token=token,
        ),
        vector(
            "unknown-version",
            "Self-signed with v = 2.",
            self_signed({**m, "v": 2}),
            err("UnknownVersion"),
            token=token,
        ),
        vector(
            "oversized",
            f"{MAX_REGISTRATION_BYTES + 1} bytes of 0x80.",
            None,
            err("LimitExceeded"),
            token=token,
            oversized=oversized(MAX_REGISTRATION_BYTES),
        ),
    ]
    return file_document(
        "registrations",
        "token: the enrolment token (id, secret) the centre checks the MAC with; old_public: "
        "the key of the certificate being replaced. ok.binding: the bytes the MAC or the "
        "rotation signature covers.",
        vectors,
    )
