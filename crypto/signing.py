"""Domain-separated Ed25519 signatures: sign and verify bytes under a named purpose."""

from __future__ import annotations

import nacl.bindings
import nacl.exceptions
import nacl.signing

from lienthong.crypto.errors import SignatureError

ENVELOPE = "lienthong/v1/envelope"
STATUS = "lienthong/v1/status"
REGISTRATION = "lienthong/v1/registration"
CERTIFICATE = "lienthong/v1/certificate"
DIRECTORY = "lienthong/v1/directory"
ROTATION = "lienthong/v1/rotation"
REPORT = "lienthong/v1/report"
TLS_CA = "lienthong/v1/tls-ca"  # the root key vouching for an ECDSA CA key (crypto/x509.py)
DOMAINS = frozenset(
    {ENVELOPE, STATUS, REGISTRATION, CERTIFICATE, DIRECTORY, ROTATION, REPORT, TLS_CA}
)

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


# Each domain's prefix, made once: ASCII domain and a zero byte.
_PREFIXES = {domain: domain.encode("ascii") + b"\x00" for domain in DOMAINS}


def signed_bytes(domain: str, message: bytes) -> bytes:
    """The exact bytes Ed25519 signs: ASCII domain, a zero byte, then the message."""
    prefix = _PREFIXES.get(domain)
    if prefix is None:
        raise ValueError(f"unknown signature domain {domain!r}")
    return prefix + bytes(message)


def sign(key: nacl.signing.SigningKey, domain: str, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature (pure, no prehash) of message under domain."""
    # libsodium's crypto_sign through nacl.bindings (what SigningKey.sign calls, without the
    # SignedMessage it builds); its secret key is the seed followed by the public key.
    secret = key.encode() + key.verify_key.encode()
    return nacl.bindings.crypto_sign(signed_bytes(domain, message), secret)[:SIGNATURE_BYTES]


def verify(public_key: bytes, domain: str, message: bytes, signature: bytes) -> None:
    """Return if signature is public_key's over message under domain; else SignatureError."""
    prefix = _PREFIXES.get(domain)
    if prefix is None:
        raise ValueError(f"unknown signature domain {domain!r}")
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise SignatureError(
            f"{domain}: public key is {len(public_key)} bytes, expected {PUBLIC_KEY_BYTES}"
        )
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureError(
            f"{domain}: signature is {len(signature)} bytes, expected {SIGNATURE_BYTES}"
        )
    try:
        # libsodium's crypto_sign_open through nacl.bindings: what VerifyKey.verify calls,
        # without building a VerifyKey for every message; the signature, the domain and the
        # message joined in one copy, as crypto_sign_open reads them.
        nacl.bindings.crypto_sign_open(b"".join((signature, prefix, message)), bytes(public_key))
    except nacl.exceptions.CryptoError:
        # libsodium refuses small-order and non-canonical keys; say so rather than "bad
        # signature". Checked only on failure: the check costs as much as half a verify.
        if not nacl.bindings.crypto_core_ed25519_is_valid_point(bytes(public_key)):
            raise SignatureError(f"{domain}: public key is not a valid Ed25519 point") from None
        raise SignatureError(f"{domain}: signature does not verify") from None
