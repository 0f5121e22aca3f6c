"""Vectors of node certificates signed by the centre's root key."""

from __future__ import annotations

from typing import Any

from lienthong.crypto import signing
from lienthong.crypto.keys import fingerprint
from lienthong.protocol.certificate import issue_certificate
from lienthong.protocol.limits import MAX_CERTIFICATE_BYTES
from tests.protocol.fixtures import NOW, A, C, keys
from tests.vectors.common import (
    DAY,
    ROOT,
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

ROOT_HEX = hx(ROOT.sign_public)
CENTRE = {"name": "Trung tâm CNTT-TT tỉnh Tây Ninh", "url": "https://centre.tayninh.example:7443"}
RELAYS = ["https://centre.tayninh.example:7443/relay"]
TLS_SHA256 = bytes.fromhex("22" * 32)


def cert_fields(code: str, serial: int, owner: str, name: str) -> dict[str, Any]:
    k = keys(owner)
    return {
        "serial": serial,
        "code": code,
        "name": name,
        "sign_key": k.sign_public,
        "enc_key": k.enc_public,
        "tls_sha256": TLS_SHA256,
        "endpoints": [f"https://{code.replace('.', '-').lower()}.tayninh.example:7443"],
        "reachable": code != C,
        "not_before": NOW - DAY,
        "not_after": NOW + 365 * DAY,
    }


def cert(code: str, serial: int, owner: str | None = None, name: str = "Sở Nội vụ") -> bytes:
    return issue_certificate(ROOT, **cert_fields(code, serial, owner or code, name))


def cert_ok(fields: dict[str, Any]) -> dict:
    out = {k: (hx(v) if isinstance(v, bytes) else v) for k, v in fields.items()}
    out["sign_key_fingerprint"] = fingerprint(fields["sign_key"])
    return {"ok": out}


def centre_signed(signed_map: dict, domain: str = signing.CERTIFICATE) -> bytes:
    return resign(signed_map, domain, "centre", "root")


def certificates() -> dict:
    fields = cert_fields(A, 1, A, "Văn phòng UBND tỉnh Tây Ninh")
    good = issue_certificate(ROOT, **fields)
    m = inner(good)
    before, after = fields["not_before"], fields["not_after"]

    def v(name, description, raw, expected, now=NOW, root=ROOT_HEX, **kw):
        return vector(name, description, raw, expected, root_public=root, now=now, **kw)

    vectors = [
        v(
            "valid",
            "Certificate 1 of unit A, checked at a time inside its validity.",
            good,
            cert_ok(fields),
        ),
        v(
            "valid-without-time",
            "The same bytes, validity not checked (now is null).",
            good,
            cert_ok(fields),
            now=None,
        ),
        v("expired", "Checked 1 ms after not_after.", good, err("Expired"), now=after + 1),
        v("not-yet-valid", "Checked 1 ms before not_before.", good, err("Expired"), now=before - 1),
        v(
            "other-root",
            "Verified against another federation's root key.",
            good,
            err("BadSignature"),
            root=hx(keys("other root").sign_public),
        ),
        v(
            "bad-signature",
            "One bit of the signed bytes flipped.",
            flip_signed_byte(good),
            err("BadSignature"),
        ),
        v(
            "wrong-domain",
            "The signed bytes signed by the root in the directory domain.",
            centre_signed(m, signing.DIRECTORY),
            err("BadSignature"),
        ),
        v(
            "signer-hint-not-centre",
            "The signer hint is 'self'.",
            rehint(good, "self"),
            err("InvalidField"),
        ),
        v(
            "unknown-field",
            "Root-signed with an extra field 'email'.",
            centre_signed({**m, "email": "vp@tayninh.gov.vn"}),
            err("InvalidField"),
        ),
        v(
            "ends-before-it-begins",
            "Root-signed with not_after before not_before.",
            centre_signed({**m, "not_after": before - 1}),
            err("InvalidField"),
        ),
        v(
            "unknown-version",
            "Root-signed with v = 2.",
            centre_signed({**m, "v": 2}),
            err("UnknownVersion"),
        ),
        v(
            "unknown-kind",
            "Root-signed with kind 'registration'.",
            centre_signed({**m, "kind": "registration"}),
            err("UnknownKind"),
        ),
        v(
            "truncated",
            "The valid certificate without its last byte.",
            good[:-1],
            err("DecodeError"),
        ),
        v(
            "oversized",
            f"{MAX_CERTIFICATE_BYTES + 1} bytes of 0x80.",
            None,
            err("LimitExceeded"),
            oversized=oversized(MAX_CERTIFICATE_BYTES),
        ),
    ]
    return file_document(
        "certificates",
        "root_public: the centre's Ed25519 root key pinned by the verifier; now: unix ms, or null "
        "to skip the validity check.",
        vectors,
        root_fingerprint=fingerprint(ROOT.sign_public),
    )
