"""X.509 for mutual TLS between nodes: the centre's CA, unit leaf certificates, SSL contexts.

The TLS key (keys/tls.key) can be sealed with the same passphrase as the identity key.
OpenSSL must read it (ssl.SSLContext.load_cert_chain), so it stays an encrypted PKCS#8
PEM; its password is not the passphrase but the key argon2id derives from it (base64),
with the salt and limits on one line before the PEM block (RFC 7468 lets text precede it):

    lienthong-kdf: {"alg": "argon2id13", "opslimit": 3, "memlimit": 268435456, "salt": "..."}
    -----BEGIN ENCRYPTED PRIVATE KEY-----

PKCS#8's own PBKDF2 (2048 rounds) alone would make a stolen file cheap to guess at; behind
argon2id a guess costs what it costs against the identity key file.

A federation's TLS keys are of one algorithm, the one its CA certificate's key has
(docs/FEDERATION.md, "TLS key algorithm"): Ed25519, where the CA key is the root key
itself, or ECDSA P-256 (for TLS stacks without Ed25519, such as Windows' SChannel), where
the CA key is a key of its own that the root key vouches for in an extension of the CA
certificate (`CaEndorsement`, docs/PROTOCOL.md 16.1.2).
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nacl.signing
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lienthong.crypto import signing
from lienthong.crypto.errors import (
    CertificateError,
    KeystoreError,
    SignatureError,
    WrongPassphraseError,
)
from lienthong.crypto.keystore import DEFAULT_MEMLIMIT, DEFAULT_OPSLIMIT, derive_key, new_kdf

# RFC 5280 4.1.2.2: a serial is a positive integer of at most 20 octets.
MAX_SERIAL = 2**159 - 1
# PEM files we load are a key or one certificate (under 1 KiB); refuse anything huge.
MAX_PEM_BYTES = 64 * 1024
# The line before a sealed TLS key's PEM block that holds its argon2id parameters.
SEALED_KEY_PREFIX = b"lienthong-kdf: "


# The TLS key algorithms a federation may use, by the names `centre init --tls-key` takes.
ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256"  # ECDSA on NIST P-256 (secp256r1), signing with SHA-256
TLS_ALGORITHMS = (ED25519, ECDSA_P256)
# A TLS public key as a registration request carries it (docs/PROTOCOL.md 9.1): Ed25519's
# 32 raw bytes, or P-256's uncompressed SEC1 point 0x04 || X || Y.
ED25519_PUBLIC_BYTES = 32
P256_POINT_BYTES = 65
P256_POINT_PREFIX = 0x04

TlsPrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
TlsPublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey


def generate_tls_key(algorithm: str = ED25519) -> TlsPrivateKey:
    """A fresh key for a TLS certificate (separate from the node's identity key), of the
    federation's algorithm (`algorithm_of` its CA certificate's key)."""
    if algorithm == ED25519:
        return Ed25519PrivateKey.generate()
    if algorithm == ECDSA_P256:
        return ec.generate_private_key(ec.SECP256R1())
    raise CertificateError(
        f"TLS key algorithm {algorithm!r} is not one of {', '.join(TLS_ALGORITHMS)}"
    )


def algorithm_of(key: object) -> str:
    """ED25519 or ECDSA_P256 for a public or private key of either; CertificateError for any
    other key (RSA, another curve)."""
    if isinstance(key, Ed25519PublicKey | Ed25519PrivateKey):
        return ED25519
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, ec.SECP256R1):
            return ECDSA_P256
        raise CertificateError(f"an ECDSA key on {key.curve.name}: only P-256 is used")
    raise CertificateError(f"a {type(key).__name__}: TLS keys are Ed25519 or ECDSA P-256")


def public_key_bytes(key: TlsPublicKey) -> bytes:
    """The public key as a registration request carries it: 32 raw bytes (Ed25519) or the
    65-byte uncompressed point (P-256)."""
    if algorithm_of(key) == ED25519:
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def public_key_from_bytes(data: bytes) -> TlsPublicKey:
    """The key `public_key_bytes` wrote; CertificateError for any other length, a point
    not in uncompressed form, or one not on the curve."""
    data = bytes(data)
    try:
        if len(data) == ED25519_PUBLIC_BYTES:
            return Ed25519PublicKey.from_public_bytes(data)
        if len(data) == P256_POINT_BYTES and data[0] == P256_POINT_PREFIX:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError as exc:
        raise CertificateError(f"the TLS public key is not a usable key: {exc}") from None
    raise CertificateError(
        f"the TLS public key is {len(data)} bytes: expected {ED25519_PUBLIC_BYTES} (Ed25519) "
        f"or {P256_POINT_BYTES} starting 04 (an uncompressed P-256 point)"
    )


def spki_der(key: TlsPublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo of a public key: what a CA endorsement signs."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_to_pem(
    key: TlsPrivateKey,
    passphrase: bytes | None = None,
    *,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> bytes:
    """PKCS#8 PEM: unencrypted (the file's 0600 mode protects it), or sealed with the
    passphrase (argon2id, then PKCS#8 encryption; the module docstring has the layout)."""
    if passphrase is None:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    if not passphrase:
        raise KeystoreError("the passphrase for the TLS key is empty; pass None to store unsealed")
    kdf = new_kdf(opslimit=opslimit, memlimit=memlimit)
    password = _pem_password(passphrase, kdf, "TLS key")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    return SEALED_KEY_PREFIX + json.dumps(kdf).encode() + b"\n" + pem


def is_sealed_key(data: bytes) -> bool:
    """Whether a TLS key PEM is sealed with a passphrase."""
    return data.startswith(SEALED_KEY_PREFIX)


def key_from_pem(
    data: bytes, passphrase: bytes | None = None, where: str = "TLS key"
) -> TlsPrivateKey:
    """Load an Ed25519 or ECDSA P-256 PKCS#8 PEM key, sealed or not; CertificateError if it
    is not one, KeystoreError if it is sealed and no passphrase is given,
    WrongPassphraseError if the passphrase does not open it."""
    _check_size(data, "private key PEM")
    password = sealed_key_password(data, passphrase, where)
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        if password is not None:
            raise WrongPassphraseError(f"the passphrase does not open the {where}") from None
        raise CertificateError(f"private key PEM does not load: {exc}") from None
    try:
        algorithm_of(key)
    except CertificateError as exc:
        raise CertificateError(f"private key PEM holds {exc}") from None
    return key  # type: ignore[return-value]


def sealed_key_password(data: bytes, passphrase: bytes | None, where: str) -> bytes | None:
    """The PKCS#8 password of a sealed TLS key PEM (None for an unsealed one)."""
    if not is_sealed_key(data):
        return None
    if not passphrase:
        raise KeystoreError(f"the {where} is sealed with a passphrase; none was given")
    line = data.split(b"\n", 1)[0][len(SEALED_KEY_PREFIX) :]
    try:
        kdf = json.loads(line)
    except ValueError:
        raise KeystoreError(f"the {where}: its kdf line is not JSON") from None
    return _pem_password(passphrase, kdf, where)


def _pem_password(passphrase: bytes, kdf: object, where: str) -> bytes:
    if not isinstance(kdf, dict):
        raise KeystoreError(f"the {where}: its kdf line is not a JSON object")
    try:  # derived once per process for each key file and passphrase (see below)
        return _derived_password(passphrase, json.dumps(kdf, sort_keys=True).encode())
    except KeystoreError as exc:
        raise KeystoreError(f"the {where}: {exc}") from None


# A node makes many TLS contexts from the same key file (a server context, a client
# context, one pinned context per destination), and argon2id at the sealing limits costs
# about a second and 256 MiB each time. The derived password is kept for the process,
# as the passphrase itself is (in the environment) and the key (in every context).
DERIVED_PASSWORDS_KEPT = 8  # a key file and, during a rotation, the next one


@functools.lru_cache(maxsize=DERIVED_PASSWORDS_KEPT)
def _derived_password(passphrase: bytes, kdf_line: bytes) -> bytes:
    return base64.b64encode(derive_key(passphrase, json.loads(kdf_line), "its kdf line"))


def cert_to_pem(cert: x509.Certificate) -> bytes:
    """The certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_from_pem(data: bytes) -> x509.Certificate:
    """Load one PEM certificate; CertificateError if it is not one."""
    _check_size(data, "certificate PEM")
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise CertificateError(f"certificate PEM does not load: {exc}") from None


# -- the root key's endorsement of an ECDSA CA key (docs/PROTOCOL.md 16.1.2) ---------------

# A private OID under the UUID arc (ITU-T X.667: 2.25.<a UUID as one integer>), which needs
# no registration; the UUID is 9f75300d-f1be-4365-8424-17091753be80.
CA_ENDORSEMENT_OID = x509.ObjectIdentifier("2.25.211955724722693188133728334495968640640")
# Its value, DER: SEQUENCE { rootKey OCTET STRING (32), signature OCTET STRING (64) }.
# Both sizes are fixed, so the encoding is these exact 102 bytes and is compared as such.
ENDORSEMENT_PREFIX = b"\x30\x64\x04\x20"  # SEQUENCE of 100 bytes, OCTET STRING of 32
SIGNATURE_PREFIX = b"\x04\x40"  # OCTET STRING of 64
ENDORSEMENT_BYTES = len(ENDORSEMENT_PREFIX) + 32 + len(SIGNATURE_PREFIX) + 64


@dataclass(frozen=True)
class CaEndorsement:
    """The root key's signature over an ECDSA CA key: `signature` = Ed25519(root key,
    "lienthong/v1/tls-ca" || 0x00 || DER SubjectPublicKeyInfo of the CA key)."""

    root_key: bytes  # the root Ed25519 public key, 32 bytes
    signature: bytes  # 64 bytes

    def to_der(self) -> bytes:
        if len(self.root_key) != 32 or len(self.signature) != 64:
            raise CertificateError("an endorsement holds a 32-byte key and a 64-byte signature")
        return ENDORSEMENT_PREFIX + self.root_key + SIGNATURE_PREFIX + self.signature

    @classmethod
    def from_der(cls, data: bytes) -> CaEndorsement:
        """Decode the extension's value; CertificateError unless it is exactly the layout."""
        data = bytes(data)
        if (
            len(data) != ENDORSEMENT_BYTES
            or not data.startswith(ENDORSEMENT_PREFIX)
            or data[36:38] != SIGNATURE_PREFIX
        ):
            raise CertificateError(
                f"the CA certificate's root endorsement ({CA_ENDORSEMENT_OID.dotted_string}) "
                f"is not SEQUENCE {{ OCTET STRING (32), OCTET STRING (64) }} in DER "
                f"({len(data)} bytes, expected {ENDORSEMENT_BYTES})"
            )
        return cls(data[4:36], data[38:])

    def verify(self, ca_public: TlsPublicKey) -> None:
        """Return if the root key signed this CA key; CertificateError otherwise."""
        try:
            signing.verify(self.root_key, signing.TLS_CA, spki_der(ca_public), self.signature)
        except SignatureError as exc:
            raise CertificateError(
                f"the CA certificate's key is not the one its root key endorsed: {exc}"
            ) from None


def endorse_ca_key(root: nacl.signing.SigningKey, ca_public: TlsPublicKey) -> CaEndorsement:
    """The root key vouching for an ECDSA P-256 CA key (made once, by `centre init`)."""
    if algorithm_of(ca_public) != ECDSA_P256:
        raise CertificateError("only an ECDSA P-256 CA key is endorsed; Ed25519's is the root")
    signature = signing.sign(root, signing.TLS_CA, spki_der(ca_public))
    return CaEndorsement(bytes(root.verify_key), signature)


def ca_root_key(ca: x509.Certificate) -> bytes:
    """The root Ed25519 key (32 bytes) a federation's CA certificate stands for.

    The certificate must be self-signed, with an Ed25519 key (which is the root key) or
    an ECDSA P-256 key that its root endorsement extension signs. CertificateError names
    what does not hold. The caller compares the result with the pinned fingerprint.
    """
    verify_issued_by(ca, ca)
    algorithm = algorithm_of(ca.public_key())
    try:
        extension = ca.extensions.get_extension_for_oid(CA_ENDORSEMENT_OID)
    except x509.ExtensionNotFound:
        extension = None
    if algorithm == ED25519:
        if extension is not None:
            raise CertificateError(
                "an Ed25519 CA certificate carries a root endorsement: its key is the root key"
            )
        return public_key_bytes(ca.public_key())  # type: ignore[arg-type]
    if extension is None:
        raise CertificateError(
            "the ECDSA CA certificate has no root endorsement extension "
            f"({CA_ENDORSEMENT_OID.dotted_string}): no root key vouches for it"
        )
    if extension.critical:
        raise CertificateError("the CA certificate's root endorsement is marked critical")
    value = extension.value
    assert isinstance(value, x509.UnrecognizedExtension)
    endorsement = CaEndorsement.from_der(value.value)
    endorsement.verify(ca.public_key())  # type: ignore[arg-type]
    return endorsement.root_key


def issue_ca(
    key: TlsPrivateKey,
    name: str,
    *,
    not_before: datetime,
    not_after: datetime,
    endorsement: CaEndorsement | None = None,
) -> x509.Certificate:
    """A self-signed CA certificate that may sign leaf certificates only (path length 0).

    An Ed25519 `key` is the root key itself and takes no endorsement; an ECDSA P-256 key
    needs the root key's `endorsement` of it (endorse_ca_key), carried as a non-critical
    extension, and signs with ecdsa-with-SHA256.
    """
    _check_validity(not_before, not_after)
    public_key = key.public_key()
    algorithm = algorithm_of(key)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _bounded(name))])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if algorithm == ED25519:
        if endorsement is not None:
            raise CertificateError("an Ed25519 CA key is the root key: it takes no endorsement")
    else:
        if endorsement is None:
            raise CertificateError("an ECDSA CA key needs the root key's endorsement")
        endorsement.verify(public_key)
        builder = builder.add_extension(
            x509.UnrecognizedExtension(CA_ENDORSEMENT_OID, endorsement.to_der()), critical=False
        )
    return builder.sign(key, _hash_for(algorithm))


def issue_leaf(
    ca_key: TlsPrivateKey,
    ca_cert: x509.Certificate,
    public_key: TlsPublicKey | bytes,
    *,
    unit_code: str,
    unit_name: str,
    serial: int,
    hosts: Sequence[str],
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """A unit's TLS certificate, usable as server and client: CN=unit_code, O=unit_name.

    The leaf key must be of the CA key's algorithm (a federation's TLS keys are all one
    algorithm); an ECDSA CA signs with ecdsa-with-SHA256. `public_key` may be the bytes a
    registration request carries (public_key_bytes). hosts become subjectAltName entries
    (IPAddress when the string parses as an address, DNSName otherwise); with no hosts
    the certificate can only act as a client.
    """
    _check_validity(not_before, not_after)
    if not 0 < serial <= MAX_SERIAL:
        raise CertificateError(f"serial {serial} is outside 1..2**159-1 (RFC 5280)")
    if isinstance(public_key, bytes | bytearray):
        public_key = public_key_from_bytes(bytes(public_key))
    if spki_der(ca_key.public_key()) != spki_der(ca_cert.public_key()):  # type: ignore[arg-type]
        raise CertificateError("CA private key does not match the CA certificate")
    algorithm = algorithm_of(ca_key)
    if algorithm_of(public_key) != algorithm:
        raise CertificateError(
            f"the leaf key is {algorithm_of(public_key)}, but this federation's TLS keys are "
            f"{algorithm} (the CA's)"
        )
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, unit_code),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _bounded(unit_name)),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
            critical=False,
        )
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False
        )
    return builder.sign(ca_key, _hash_for(algorithm))


def _hash_for(algorithm: str) -> hashes.SHA256 | None:
    """Ed25519 takes no separate hash; ECDSA P-256 signs with SHA-256 (ecdsa-with-SHA256)."""
    return None if algorithm == ED25519 else hashes.SHA256()


# RFC 5280 upper bounds: ub-common-name and ub-organization-name are 64, which the
# cryptography package applies to the UTF-8 bytes. The full name travels in the node
# certificate; X.509 carries it only for people reading certificates.
MAX_NAME_BYTES = 64


def _bounded(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    cut = name.encode("utf-8")[: MAX_NAME_BYTES - 3].decode("utf-8", errors="ignore")
    return cut + "…"  # the ellipsis is 3 bytes


def unit_code_of(cert: x509.Certificate) -> str:
    """The unit code a leaf certificate names (its single subject CN)."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        raise CertificateError(f"certificate subject has {len(names)} common names, expected 1")
    value = names[0].value
    return value if isinstance(value, str) else value.decode("utf-8")


def unit_code_of_peercert(peercert: dict) -> str:
    """The unit code (subject CN) in the dict ssl.SSLSocket.getpeercert() returns."""
    codes = [
        value for rdn in peercert.get("subject", ()) for key, value in rdn if key == "commonName"
    ]
    if len(codes) != 1:
        raise CertificateError(f"peer certificate has {len(codes)} common names, expected 1")
    return codes[0]


def verify_issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> None:
    """Return if ca_cert's key signed cert and names match; CertificateError otherwise."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        detail = str(exc) or "signature does not verify"
        raise CertificateError(
            f"certificate {cert.subject.rfc4514_string()!r} was not issued by "
            f"{ca_cert.subject.rfc4514_string()!r}: {detail}"
        ) from None


def server_context(
    cert_path: Path, key_path: Path, ca_path: Path, passphrase: bytes | None = None
) -> ssl.SSLContext:
    """TLS 1.3 server context that requires a client certificate issued by the CA.
    `passphrase` opens a sealed TLS key (an unsealed one needs none)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    _load(context, cert_path, key_path, ca_path, passphrase)
    return context


def client_context(
    cert_path: Path, key_path: Path, ca_path: Path, passphrase: bytes | None = None
) -> ssl.SSLContext:
    """TLS 1.3 client context presenting our certificate and checking the server's name.
    `passphrase` opens a sealed TLS key (an unsealed one needs none)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    _load(context, cert_path, key_path, ca_path, passphrase)
    return context


def reload_context(
    context: ssl.SSLContext,
    cert_path: Path,
    key_path: Path,
    ca_path: Path,
    passphrase: bytes | None = None,
) -> None:
    """Load a new certificate and key (a renewal) into a context made earlier: its next
    handshakes present them, connections already open keep the old ones."""
    _load(context, cert_path, key_path, ca_path, passphrase)


def load_identity(
    context: ssl.SSLContext,
    cert_path: Path,
    key_path: Path,
    ca_path: Path,
    passphrase: bytes | None = None,
) -> None:
    """Load our certificate and key (a sealed key opened with `passphrase`) and the CA into
    `context`; CertificateError, KeystoreError or WrongPassphraseError name what failed."""
    _load(context, cert_path, key_path, ca_path, passphrase)


def _load(
    context: ssl.SSLContext,
    cert_path: Path,
    key_path: Path,
    ca_path: Path,
    passphrase: bytes | None,
) -> None:
    try:
        with open(key_path, "rb") as file:
            head = file.read(MAX_PEM_BYTES + 1)
    except OSError as exc:
        raise CertificateError(f"cannot read TLS key {key_path}: {exc.strerror}") from None
    _check_size(head, f"TLS key {key_path}")
    password = sealed_key_password(head, passphrase, f"TLS key {key_path}")

    def no_password() -> bytes:  # else OpenSSL would prompt on the terminal, or hang a service
        raise CertificateError(
            f"TLS key {key_path} is encrypted, but not sealed the lienthong way "
            f"(no '{SEALED_KEY_PREFIX.decode().strip()}' line): write it unencrypted or "
            "sealed with the node's passphrase"
        )

    try:
        context.load_cert_chain(
            str(cert_path), str(key_path), password=no_password if password is None else password
        )
    except (ssl.SSLError, OSError) as exc:
        if password is not None and isinstance(exc, ssl.SSLError):
            raise WrongPassphraseError(
                f"the passphrase does not open the TLS key {key_path} "
                f"(or it does not match {cert_path}): {exc}"
            ) from None
        raise CertificateError(
            f"cannot load TLS certificate {cert_path} with key {key_path}: {exc}"
        ) from None
    try:
        context.load_verify_locations(cafile=str(ca_path))
    except (ssl.SSLError, OSError) as exc:
        raise CertificateError(f"cannot load CA certificate {ca_path}: {exc}") from None


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _check_validity(not_before: datetime, not_after: datetime) -> None:
    for label, moment in (("not_before", not_before), ("not_after", not_after)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{label} must be a timezone-aware datetime")
    if not_after <= not_before:
        raise CertificateError(f"not_after {not_after} is not after not_before {not_before}")


def _check_size(data: bytes, label: str) -> None:
    if len(data) > MAX_PEM_BYTES:
        raise CertificateError(f"{label} is {len(data)} bytes, over the limit of {MAX_PEM_BYTES}")
