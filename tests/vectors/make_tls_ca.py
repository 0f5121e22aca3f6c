"""Vectors of the federation's CA certificate and the root key it stands for (PROTOCOL.md
16.1.2): an Ed25519 CA whose key is the root key, an ECDSA P-256 CA that the root key
endorses in an extension, and every way the endorsement can fail.

The certificates are built here with `cryptography` directly, not with crypto/x509.py, so
that our checker is tested against certificates made to the specification. ECDSA signs
deterministically (RFC 6979), so two runs write the same bytes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from lienthong.crypto import signing
from lienthong.crypto.keys import fingerprint
from tests.protocol.fixtures import NOW, B, keys
from tests.vectors.common import ROOT, err, file_document, hx, vector

# docs/PROTOCOL.md 16.1.2 (also crypto/x509.py CA_ENDORSEMENT_OID): 2.25.<UUID as integer>.
ENDORSEMENT_OID = x509.ObjectIdentifier("2.25.211955724722693188133728334495968640640")
NOT_BEFORE = datetime.fromtimestamp(NOW // 1000, UTC)
NOT_AFTER = NOT_BEFORE + timedelta(days=20 * 365)
SERIAL = 0x4C69656E74686F6E67  # "Lienthong"


def ec_key(name: str, curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    """An ECDSA key derived from a name, so every run makes the same one (the scalar is
    below 2^255 + 1, inside the group order of P-256 and P-384)."""
    digest = hashlib.sha256(f"ecdsa:{name}".encode()).digest()
    scalar = int.from_bytes(digest, "big") % 2**255 + 1
    return ec.derive_private_key(scalar, curve or ec.SECP256R1())


def p256_point(name: str) -> bytes:
    """The uncompressed point 0x04 || X || Y of ec_key(name): a tls_key of 65 bytes."""
    return (
        ec_key(name)
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


def spki(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def endorsement(root_key: bytes, signature: bytes) -> bytes:
    """SEQUENCE { OCTET STRING rootKey, OCTET STRING signature } in DER."""
    return b"\x30\x64\x04\x20" + root_key + b"\x04\x40" + signature


def endorse(public_key, *, owner: str = "root", domain: str = signing.TLS_CA) -> bytes:
    """keys(owner) endorses `public_key` (its DER SubjectPublicKeyInfo) in `domain`."""
    k = keys(owner)
    return endorsement(k.sign_public, signing.sign(k.signing, domain, spki(public_key)))


def ca_certificate(key, extension: bytes | None = None, *, critical: bool = False) -> bytes:
    """A self-signed CA certificate (DER) as `centre init` makes one, with the endorsement
    extension `extension` if given."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Trung tâm (lienthong CA)")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(SERIAL)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if extension is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ENDORSEMENT_OID, extension), critical=critical
        )
    if isinstance(key, Ed25519PrivateKey):
        cert = builder.sign(key, None)
    else:
        digest = hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()
        cert = builder.sign(key, digest, ecdsa_deterministic=True)
    return cert.public_bytes(serialization.Encoding.DER)


def ok(algorithm: str, root_key: bytes) -> dict:
    return {
        "ok": {
            "algorithm": algorithm,
            "root_key": hx(root_key),
            "root_fingerprint": fingerprint(root_key),
        }
    }


def tls_ca() -> dict:
    ca_key = ec_key("tls-ca")
    root_as_ca = Ed25519PrivateKey.from_private_bytes(ROOT.signing.encode())
    refused = err("CertificateError")
    vectors = [
        vector(
            "ecdsa-p256-ca",
            "An ECDSA P-256 CA whose key the root key endorses: it stands for the root key.",
            ca_certificate(ca_key, endorse(ca_key.public_key())),
            ok("ecdsa-p256", ROOT.sign_public),
        ),
        vector(
            "ed25519-ca",
            "An Ed25519 CA whose key is the root key itself (no extension).",
            ca_certificate(root_as_ca),
            ok("ed25519", ROOT.sign_public),
        ),
        vector(
            "ecdsa-ca-without-endorsement",
            "An ECDSA P-256 CA without the extension: no root key vouches for it.",
            ca_certificate(ca_key),
            refused,
        ),
        vector(
            "endorsement-of-another-key",
            "The root key's endorsement of another P-256 key, copied into this CA.",
            ca_certificate(ca_key, endorse(ec_key("another ca").public_key())),
            refused,
        ),
        vector(
            "endorsement-in-another-domain",
            "The root key signed the CA's SubjectPublicKeyInfo in the certificate domain.",
            ca_certificate(ca_key, endorse(ca_key.public_key(), domain=signing.CERTIFICATE)),
            refused,
        ),
        vector(
            "endorsement-names-another-root",
            "The extension names B's key, with the root key's signature.",
            ca_certificate(
                ca_key,
                endorsement(
                    keys(B).sign_public,
                    signing.sign(ROOT.signing, signing.TLS_CA, spki(ca_key.public_key())),
                ),
            ),
            refused,
        ),
        vector(
            "endorsement-critical",
            "A valid endorsement marked critical (other TLS stacks would refuse the CA).",
            ca_certificate(ca_key, endorse(ca_key.public_key()), critical=True),
            refused,
        ),
        vector(
            "endorsement-not-its-layout",
            "A valid endorsement with one byte more at its end.",
            ca_certificate(ca_key, endorse(ca_key.public_key()) + b"\x00"),
            refused,
        ),
        vector(
            "ecdsa-p384-ca",
            "An endorsed CA on P-384: only P-256 is used.",
            ca_certificate(
                ec_key("p384 ca", ec.SECP384R1()),
                endorse(ec_key("p384 ca", ec.SECP384R1()).public_key()),
            ),
            refused,
        ),
        vector(
            "ed25519-ca-with-endorsement",
            "An Ed25519 CA (the root key) that also carries an endorsement of itself.",
            ca_certificate(root_as_ca, endorse(root_as_ca.public_key())),
            refused,
        ),
    ]
    return file_document(
        "tls_ca",
        "bytes: a CA certificate, DER. ok: the key algorithm of the federation's TLS "
        "certificates, and the root key the CA stands for (to compare with the pinned "
        "fingerprint); an error is CertificateError (PROTOCOL.md 16.1.2).",
        vectors,
    )
