"""The centre's answer to a registration request: checked against our keys, then installed.

The answer (online 200 body, or the certificate file of the offline path) is
a msgpack map of four binaries: `certificate` (node certificate wire bytes),
`tls_certificate` (PEM X.509 leaf), `ca_certificate` (PEM) and `directory`
(signed directory bytes). Nothing is installed until every check holds.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509 as cx509
from cryptography.hazmat.primitives.serialization import Encoding

from lienthong.bootstrap.errors import AnswerRejected, FingerprintMismatch
from lienthong.bootstrap.settings import NodeSettings
from lienthong.crypto import x509 as tls
from lienthong.crypto.errors import LienthongError
from lienthong.crypto.files import (
    INSECURE_MODE_BITS,
    create_private,
    make_private_dir,
    sync_directory,
)
from lienthong.crypto.keys import NodeKeys, fingerprint, fingerprint_matches, normalise_fingerprint
from lienthong.protocol.certificate import NodeCertificate, verify_certificate
from lienthong.protocol.directory import Directory, verify_directory
from lienthong.protocol.limits import MAX_CERTIFICATE_BYTES, MAX_DIRECTORY_BYTES
from lienthong.protocol.wire import unpack

ANSWER_KEYS = frozenset({"certificate", "tls_certificate", "ca_certificate", "directory"})
# The largest valid answer: a directory, a certificate, two PEM certificates and the map.
MAX_ANSWER_BYTES = MAX_DIRECTORY_BYTES + MAX_CERTIFICATE_BYTES + 2 * tls.MAX_PEM_BYTES + 1024
WHAT = "the centre's answer"


@dataclass(frozen=True)
class CheckedAnswer:
    """An answer whose every part holds for our keys and the root key."""

    certificate: NodeCertificate
    tls_pem: bytes
    ca_pem: bytes
    directory: Directory


def raw_public(key: object) -> bytes:
    """A TLS public key as a registration request carries it (docs/PROTOCOL.md 9.1): the 32
    raw bytes of an Ed25519 key, or the 65-byte uncompressed point of a P-256 key."""
    try:
        return tls.public_key_bytes(key)  # type: ignore[arg-type]
    except LienthongError as exc:
        raise AnswerRejected(f"not a TLS key lienthong uses: {exc}") from None


def load_ca(ca_pem: bytes, where: str) -> tuple[cx509.Certificate, bytes]:
    """The CA certificate and the root key it stands for: its own Ed25519 key, or the root
    key that endorses its ECDSA P-256 key (crypto/x509.py ca_root_key); self-signed."""
    try:
        ca = tls.cert_from_pem(ca_pem)
        return ca, tls.ca_root_key(ca)
    except LienthongError as exc:
        raise AnswerRejected(f"{where}: the CA certificate is not usable: {exc}") from None


def check_pin(root_public: bytes, pinned: str, where: str) -> None:
    """FingerprintMismatch, naming both fingerprints, unless the root key is the pinned one."""
    if not fingerprint_matches(root_public, pinned):
        raise FingerprintMismatch(
            f"{where} presents a CA of the root key {fingerprint(root_public)}, but "
            f"the pinned centre fingerprint is {normalise_fingerprint(pinned)}: refusing to "
            "enrol (check the fingerprint on the enrolment sheet; if it is right, this is not "
            "your centre)"
        )


def decode_answer(data: bytes) -> dict[str, bytes]:
    """The four binaries of an answer; AnswerRejected for anything else."""
    try:
        value = unpack(data, what=WHAT, max_bytes=MAX_ANSWER_BYTES)
    except LienthongError as exc:
        raise AnswerRejected(str(exc)) from None
    if not isinstance(value, dict):
        raise AnswerRejected(f"{WHAT} is not a map")
    if set(value) != ANSWER_KEYS:
        raise AnswerRejected(
            f"{WHAT} has fields {sorted(map(str, value))}, expected {sorted(ANSWER_KEYS)}"
        )
    for key, item in value.items():
        if not isinstance(item, bytes):
            raise AnswerRejected(f"{WHAT}: field {key!r} is not binary")
    return value


def check_answer(
    data: bytes,
    *,
    code: str,
    keys: NodeKeys,
    tls_public: bytes,
    root_public: bytes,
    now: int,
) -> CheckedAnswer:
    """Every check an answer must pass before anything of it is kept.

    1. The CA certificate stands for the root key (pinned or already trusted): its key
       is that key, or that key endorses its key.
    2. The node certificate is signed by the root key, valid now, for our unit
       code and exactly our signing and encryption keys.
    3. The TLS certificate is issued by that CA, for our code and our TLS key,
       and is the one the node certificate names (SHA-256 of its DER).
    4. The directory verifies against the root key, is not expired, and lists
       the new certificate unrevoked.
    """
    parts = decode_answer(data)
    ca, ca_root = load_ca(parts["ca_certificate"], WHAT)
    if ca_root != root_public:
        raise AnswerRejected(
            f"{WHAT}: its CA stands for the root key {fingerprint(ca_root)}, not the centre's "
            f"root key {fingerprint(root_public)}"
        )
    try:
        cert = verify_certificate(parts["certificate"], root_public, now=now)
    except LienthongError as exc:
        raise AnswerRejected(f"{WHAT}: node certificate: {exc}") from None
    mine = {"unit code": code, "signing key": keys.sign_public, "encryption key": keys.enc_public}
    theirs = {"unit code": cert.code, "signing key": cert.sign_key, "encryption key": cert.enc_key}
    for label, value in mine.items():
        if theirs[label] != value:
            raise AnswerRejected(
                f"{WHAT}: node certificate {cert.serial} is for another {label} "
                f"({_show(theirs[label])}, ours is {_show(value)})"
            )
    _check_tls(parts["tls_certificate"], ca, cert, code, tls_public)
    try:
        directory = verify_directory(parts["directory"], root_public, now=now)
        directory.signing_key(code, cert.serial)
    except LienthongError as exc:
        raise AnswerRejected(f"{WHAT}: directory: {exc}") from None
    return CheckedAnswer(cert, parts["tls_certificate"], parts["ca_certificate"], directory)


def _check_tls(
    pem: bytes, ca: cx509.Certificate, cert: NodeCertificate, code: str, tls_public: bytes
) -> None:
    try:
        leaf = tls.cert_from_pem(pem)
        tls.verify_issued_by(leaf, ca)
        leaf_code = tls.unit_code_of(leaf)
    except LienthongError as exc:
        raise AnswerRejected(f"{WHAT}: TLS certificate: {exc}") from None
    if raw_public(leaf.public_key()) != tls_public:
        raise AnswerRejected(f"{WHAT}: the TLS certificate is for another key than our TLS key")
    if leaf_code != code:
        raise AnswerRejected(f"{WHAT}: the TLS certificate names unit {leaf_code}, not {code}")
    if hashlib.sha256(leaf.public_bytes(Encoding.DER)).digest() != cert.tls_sha256:
        raise AnswerRejected(
            f"{WHAT}: the TLS certificate is not the one node certificate {cert.serial} names"
        )


def _show(value: Any) -> str:
    return fingerprint(value) if isinstance(value, bytes) else str(value)


# -- files ----------------------------------------------------------------------------------


def write_file(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write `data` to `path` atomically (temp file, fsync, rename), with `mode`: a mode
    open to nobody else (0600) makes it private on every platform (crypto/files.py)."""
    make_private_dir(path.parent, parents=True)
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    if mode & INSECURE_MODE_BITS:
        file = os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb")
    else:
        file = create_private(tmp)
    try:
        with file as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    sync_directory(path.parent)


def install_answer(settings: NodeSettings, answer: CheckedAnswer) -> None:
    """Write certificate.bin, tls/cert.pem and tls/ca.pem of a checked answer."""
    write_file(settings.certificate_path, answer.certificate.raw)
    write_file(settings.tls_cert_path, answer.tls_pem)
    write_file(settings.ca_path, answer.ca_pem)
