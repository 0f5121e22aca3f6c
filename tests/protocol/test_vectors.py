"""Our protocol code against every vector of tests/vectors: each gives the expected result."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import nacl.public
import nacl.signing
import pytest
from cryptography import x509

from lienthong.crypto import errors as crypto_errors
from lienthong.crypto import sealing
from lienthong.crypto import x509 as tls
from lienthong.crypto.errors import LienthongError
from lienthong.crypto.keys import NodeKeys, fingerprint
from lienthong.crypto.stream import CHUNK_SIZE, decrypt_chunks
from lienthong.protocol import errors as protocol_errors
from lienthong.protocol.certificate import (
    RotationAuth,
    check_rotation,
    check_token,
    verify_certificate,
    verify_registration,
)
from lienthong.protocol.directory import verify_directory
from lienthong.protocol.document import DocumentBody, body_from_wire, body_to_wire
from lienthong.protocol.envelope import open_envelope, verify_envelope
from lienthong.protocol.errors import UnknownSigner
from lienthong.protocol.status import verify_status
from tests.vectors.generate import BUILDERS, build_all

VECTORS = Path(__file__).parents[1] / "vectors"


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def cases(name: str) -> list:
    return [pytest.param(v, id=v["name"]) for v in load(name)["vectors"]]


def vector_bytes(v: dict, siblings: list[dict] | None = None) -> bytes:
    """The input bytes: stored as hex, described as length + fill, or derived from a sibling."""
    if v.get("oversized"):
        return bytes.fromhex(v["oversized"]["fill"]) * v["oversized"]["length"]
    if v.get("derived"):
        d = v["derived"]
        source = next(s for s in siblings or [] if s["name"] == d["from"])
        data = bytearray(vector_bytes(source))
        if "truncate_to" in d:
            del data[d["truncate_to"] :]
        if "xor" in d:
            data[d["xor"]["offset"]] ^= d["xor"]["mask"]
        return bytes(data)
    return bytes.fromhex(v["bytes"])


def outcome(run) -> dict:
    """{"ok": what run() returns} or {"error": the lienthong error class it raised}."""
    try:
        return {"ok": run()}
    except LienthongError as exc:
        return {"error": type(exc).__name__}


def hexed(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: hexed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [hexed(v) for v in value]
    return value


def lookup_from(table: dict[str, str]):
    def lookup(code: str, serial: int) -> bytes:
        try:
            return bytes.fromhex(table[f"{code}:{serial}"])
        except KeyError:
            raise UnknownSigner(f"no key for {code}:{serial} in this vector") from None

    return lookup


def x25519_keys(private_hex: str) -> NodeKeys:
    """Keys holding only the recipient's X25519 private key (the signing key is unused)."""
    return NodeKeys(
        nacl.signing.SigningKey(bytes(32)), nacl.public.PrivateKey(bytes.fromhex(private_hex))
    )


def printed(body: DocumentBody) -> dict[str, Any]:
    """What a reader prints: the "Số", edXML Competence, the signature block's lines."""
    m = body.metadata
    return {
        "number": m.number_notation,
        "competence": None if m.signer is None else m.signer.competence,
        "signature_block": None if m.signer is None else list(m.signer.block),
    }


def run_envelope(v: dict) -> dict:
    env = verify_envelope(vector_bytes(v), lookup_from(v["keys"]))
    h = env.header
    header: dict[str, Any] = {
        "id": h.id,
        "business": h.business,
        "sender": h.sender,
        "serial": h.serial,
        "recipients": list(h.recipients),
        "created": h.created,
        "reply_to": h.reply_to,
    }
    if h.version == 1:
        header["target"] = h.target
    else:
        header["targets"] = list(h.targets)
    header["blobs"] = [{"id": b.id, "size": b.size} for b in h.blobs]
    found: dict[str, Any] = {"v": h.version, "header": header, "sha256": env.sha256.hex()}
    if "open_as" in v:
        unit = v["open_as"]
        k = x25519_keys(unit["x25519_private"])
        body = open_envelope(env, unit["code"], k)
        index = h.recipients.index(unit["code"])
        found["content_key"] = sealing.unseal(k.encryption, env.sealed_keys[index]).hex()
        # Written again from what was read: the map decoded, so nothing was lost or added.
        found["body"] = hexed(body_to_wire(body, h.version))
        if h.version == 1:
            found["document"] = hexed(body_to_wire(body, 2))
        found["printed"] = printed(body)
    return found


def run_status(v: dict) -> dict:
    s = verify_status(vector_bytes(v), lookup_from(v["keys"])).status
    return {
        "id": s.id,
        "envelope": s.envelope,
        "sender": s.sender,
        "serial": s.serial,
        "to": s.to,
        "code": int(s.code),
        "at": s.at,
        "receipt": None if s.receipt is None else s.receipt.hex(),
        "number": s.number,
        "year": s.year,
        "reason": s.reason,
        "assignee": s.assignee,
        "staff": None if s.staff is None else {"name": s.staff.name, "position": s.staff.position},
        "note": s.note,
    }


def run_certificate(v: dict) -> dict:
    c = verify_certificate(vector_bytes(v), bytes.fromhex(v["root_public"]), now=v["now"])
    return {
        "serial": c.serial,
        "code": c.code,
        "name": c.name,
        "sign_key": c.sign_key.hex(),
        "enc_key": c.enc_key.hex(),
        "tls_sha256": c.tls_sha256.hex(),
        "endpoints": list(c.endpoints),
        "reachable": c.reachable,
        "not_before": c.not_before,
        "not_after": c.not_after,
        "sign_key_fingerprint": fingerprint(c.sign_key),
    }


def run_directory(v: dict) -> dict:
    d = verify_directory(
        vector_bytes(v), bytes.fromhex(v["root_public"]), now=v["now"], newer_than=v["newer_than"]
    )
    if "lookup" in v:
        return {"sign_key": d.signing_key(v["lookup"]["code"], v["lookup"]["serial"]).hex()}
    queries = v["expected"].get("ok", {}).get("lookups", [])
    return {
        "form": d.form,
        "protocols": {code: list(versions) for code, versions in d.protocols.items()},
        "external": [
            {"code": e.code, "name": e.name, "gateway": e.gateway} for e in d.external.values()
        ],
        "version": d.version,
        "issued_at": d.issued_at,
        "expires_at": d.expires_at,
        "centre": {"name": d.centre_name, "url": d.centre_url},
        "relays": list(d.relays),
        "revoked": sorted(d.revoked),
        "certificates": [
            {"serial": c.serial, "code": c.code, "sign_key": c.sign_key.hex()}
            for c in d.certificates
        ],
        "current": {
            code: (None if d.current(code) is None else d.current(code).serial)
            for code in sorted({c.code for c in d.certificates})
        },
        "lookups": [
            {
                "code": q["code"],
                "serial": q["serial"],
                "result": outcome(lambda q=q: d.signing_key(q["code"], q["serial"]).hex()),
            }
            for q in queries
        ],
    }


def run_registration(v: dict) -> dict:
    r = verify_registration(vector_bytes(v))
    if "token" in v:
        check_token(r, v["token"]["id"], bytes.fromhex(v["token"]["secret"]))
    if "old_public" in v:
        check_rotation(r, bytes.fromhex(v["old_public"]))
    auth = r.auth
    if isinstance(auth, RotationAuth):
        auth_map = {"serial": auth.serial, "sig": auth.sig.hex()}
    else:
        auth_map = {"token_id": auth.token_id, "mac": auth.mac.hex()}
    return {
        "code": r.code,
        "name": r.name,
        "tls_key": r.tls_key.hex(),
        "endpoints": list(r.endpoints),
        "reachable": r.reachable,
        "created": r.created,
        "sign_key": r.sign_key.hex(),
        "enc_key": r.enc_key.hex(),
        "auth": auth_map,
        "binding": r.binding.hex(),
    }


def run_tls_ca(v: dict) -> dict:
    ca = x509.load_der_x509_certificate(vector_bytes(v))
    root = tls.ca_root_key(ca)
    return {
        "algorithm": tls.algorithm_of(ca.public_key()),
        "root_key": root.hex(),
        "root_fingerprint": fingerprint(root),
    }


def run_stream(v: dict, siblings: list[dict]) -> dict:
    data = vector_bytes(v, siblings)
    pieces = [data[i : i + 10_000] for i in range(0, len(data), 10_000)]
    plain = b"".join(decrypt_chunks(bytes.fromhex(v["key"]), pieces))
    expected_plain = v.get("plaintext")
    if isinstance(expected_plain, str):
        assert plain == bytes.fromhex(expected_plain)
    elif isinstance(expected_plain, dict):
        assert plain == bytes(i % 251 for i in range(expected_plain["length"]))
    return {
        "blob_id": hashlib.sha256(data).hexdigest(),
        "size": len(plain),
        "sha256": hashlib.sha256(plain).hexdigest(),
        "chunks": len(plain) // CHUNK_SIZE + 1,
    }


@pytest.mark.parametrize("v", cases("envelopes.json"))
def test_envelope_vector(v):
    """Verifying (and, with open_as, opening) the envelope gives the expected fields or error."""
    assert outcome(lambda: run_envelope(v)) == v["expected"]


def test_version_1_is_written_from_its_source():
    """Each version-1 vector made from a version-2 document (`source`) holds exactly what
    body_to_wire(..., 1) writes of it: the down-conversion of docs/PROTOCOL.md 5.5."""
    sources = [v for v in load("envelopes.json")["vectors"] if "source" in v]
    assert {v["name"] for v in sources} >= {"v1-letter-2340", "v1-number-05", "v1-down-converted"}
    for v in sources:
        written = body_to_wire(body_from_wire(v["source"], 2), 1)
        assert hexed(written) == v["expected"]["ok"]["body"], v["name"]


def test_envelope_vectors_hold_both_versions():
    """Version 2 and version 1 each have valid vectors a recipient opens."""
    vectors = load("envelopes.json")["vectors"]
    opened = {v["expected"]["ok"]["v"] for v in vectors if "body" in v["expected"].get("ok", {})}
    assert opened == {1, 2}
    names = {v["name"] for v in vectors}
    assert {"letter-2340", "v1-letter-2340", "update", "replace-two-targets"} <= names


@pytest.mark.parametrize("v", cases("statuses.json"))
def test_status_vector(v):
    """Verifying the status gives the expected fields or error."""
    assert outcome(lambda: run_status(v)) == v["expected"]


@pytest.mark.parametrize("v", cases("certificates.json"))
def test_certificate_vector(v):
    """Verifying the certificate against the root key at `now` gives the expected result."""
    assert outcome(lambda: run_certificate(v)) == v["expected"]


@pytest.mark.parametrize("v", cases("directories.json"))
def test_directory_vector(v):
    """Verifying the directory (rollback, expiry) and its key lookups give the expected result."""
    assert outcome(lambda: run_directory(v)) == v["expected"]


@pytest.mark.parametrize("v", cases("registrations.json"))
def test_registration_vector(v):
    """Verifying the request, then its token MAC or rotation signature, gives the result."""
    assert outcome(lambda: run_registration(v)) == v["expected"]


@pytest.mark.parametrize("v", cases("tls_ca.json"))
def test_tls_ca_vector(v):
    """The root key a CA certificate stands for (itself, or the endorsing key) or a refusal."""
    assert outcome(lambda: run_tls_ca(v)) == v["expected"]


@pytest.mark.parametrize("v", cases("streams.json"))
def test_stream_vector(v):
    """Decrypting the attachment blob gives the expected plaintext digest or error."""
    siblings = load("streams.json")["vectors"]
    assert outcome(lambda: run_stream(v, siblings)) == v["expected"]


def test_regenerating_gives_the_committed_files():
    """generate.py rebuilt in memory writes exactly the committed vector files."""
    for name, text in build_all().items():
        assert (VECTORS / name).read_text(encoding="utf-8") == text, f"{name} is stale"


def test_generation_is_reproducible():
    """Two in-memory builds are identical (no clock or OS randomness leaks in)."""
    assert build_all() == build_all()


def test_every_expected_error_is_a_named_error_class():
    """Each error a vector expects is a class of protocol.errors or crypto.errors."""
    names = {n for n in dir(protocol_errors) + dir(crypto_errors) if n[0].isupper()}
    for file in BUILDERS:
        for v in load(file)["vectors"]:
            if "error" in v["expected"]:
                assert v["expected"]["error"] in names, (file, v["name"])


def test_vectors_cover_the_required_refusals():
    """The envelope and status files hold every refusal an outside verifier must reproduce."""
    expected = {
        "envelopes.json": {
            "BadSignature",
            "UnknownSigner",
            "SignerMismatch",
            "DecodeError",
            "LimitExceeded",
            "UnknownVersion",
            "UnknownKind",
            "InvalidField",
            "NotARecipient",
        },
        "statuses.json": {"BadSignature", "SignerMismatch", "InvalidField", "LimitExceeded"},
        "directories.json": {"Rollback", "Expired", "BadSignature", "Revoked", "UnknownSigner"},
        "certificates.json": {"Expired", "BadSignature"},
        "registrations.json": {"BadSignature", "InvalidField"},
        "tls_ca.json": {"CertificateError"},
    }
    for file, errors in expected.items():
        found = {v["expected"].get("error") for v in load(file)["vectors"]}
        assert errors <= found, (file, errors - found)
