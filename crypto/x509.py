"""X.509 for mutual TLS between nodes: the centre's CA, unit leaf certificates, SSL contexts.

The TLS key (keys/tls.key) can be sealed with the same passphrase as the identity key.
OpenSSL must read it (ssl.SSLContext.load_cert_chain), so it stays an encrypted PKCS#8
PEM; its password is not the passphrase but the key argon2id derives from it (base64),
with the salt and limits on one line before the PEM block (RFC 7468 lets text precede it):

    lienthong-kdf: {"alg": "argon2id13", "opslimit": 3, "memlimit": 268435456, "salt": "..."}
    -----BEGIN ENCRYPTED PRIVATE KEY-----

PKCS#8's own PBKDF2 (2048 rounds) alone would make a stolen file cheap to guess at; behind
argon2id a guess costs what it costs against the identity key file.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import ssl
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lienthong.crypto.errors import CertificateError, KeystoreError, WrongPassphraseError
from lienthong.crypto.keystore import DEFAULT_MEMLIMIT, DEFAULT_OPSLIMIT, derive_key, new_kdf

# RFC 5280 4.1.2.2: a serial is a positive integer of at most 20 octets.
MAX_SERIAL = 2**159 - 1
# PEM files we load are a key or one certificate (under 1 KiB); refuse anything huge.
MAX_PEM_BYTES = 64 * 1024
# The line before a sealed TLS key's PEM block that holds its argon2id parameters.
SEALED_KEY_PREFIX = b"lienthong-kdf: "


def generate_tls_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 key for a TLS certificate (separate from the node's identity key)."""
    return Ed25519PrivateKey.generate()


def key_to_pem(
    key: Ed25519PrivateKey,
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
) -> Ed25519PrivateKey:
    """Load an Ed25519 PKCS#8 PEM key, sealed or not; CertificateError if it is not one,
    KeystoreError if it is sealed and no passphrase is given, WrongPassphraseError if the
    passphrase does not open it."""
    _check_size(data, "private key PEM")
    password = sealed_key_password(data, passphrase, where)
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        if password is not None:
            raise WrongPassphraseError(f"the passphrase does not open the {where}") from None
        raise CertificateError(f"private key PEM does not load: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CertificateError(f"private key PEM holds a {type(key).__name__}, not Ed25519")
    return key


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


def issue_ca(
    key: Ed25519PrivateKey, name: str, *, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    """A self-signed CA certificate that may sign leaf certificates only (path length 0)."""
    _check_validity(not_before, not_after)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _bounded(name))])
    public_key = key.public_key()
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
    return builder.sign(key, None)  # Ed25519 takes no separate hash algorithm


def issue_leaf(
    ca_key: Ed25519PrivateKey,
    ca_cert: x509.Certificate,
    public_key: Ed25519PublicKey | bytes,
    *,
    unit_code: str,
    unit_name: str,
    serial: int,
    hosts: Sequence[str],
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """A unit's TLS certificate, usable as server and client: CN=unit_code, O=unit_name.

    hosts become subjectAltName entries (IPAddress when the string parses as an address,
    DNSName otherwise); with no hosts the certificate can only act as a client.
    """
    _check_validity(not_before, not_after)
    if not 0 < serial <= MAX_SERIAL:
        raise CertificateError(f"serial {serial} is outside 1..2**159-1 (RFC 5280)")
    if isinstance(public_key, bytes | bytearray):
        try:
            public_key = Ed25519PublicKey.from_public_bytes(bytes(public_key))
        except ValueError as exc:
            raise CertificateError(f"leaf public key is not an Ed25519 key: {exc}") from None
    if _raw(ca_key.public_key()) != _raw(ca_cert.public_key()):
        raise CertificateError("CA private key does not match the CA certificate")
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
    return builder.sign(ca_key, None)


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


def _raw(public_key: object) -> bytes:
    if not isinstance(public_key, Ed25519PublicKey):
        raise CertificateError(f"expected an Ed25519 key, got {type(public_key).__name__}")
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
