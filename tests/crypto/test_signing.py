"""Tests of crypto.signing: domain-separated Ed25519."""

import nacl.signing
import pytest

from lienthong.crypto import signing
from lienthong.crypto.errors import SignatureError
from lienthong.crypto.keys import NodeKeys

KEYS = NodeKeys.from_seeds(b"\x11" * 32, b"\x22" * 32)
MESSAGE = b"signed envelope bytes"


def test_domains_lists_every_constant():
    """DOMAINS holds exactly the eight named domains."""
    assert {
        "lienthong/v1/envelope",
        "lienthong/v1/status",
        "lienthong/v1/registration",
        "lienthong/v1/certificate",
        "lienthong/v1/directory",
        "lienthong/v1/rotation",
        "lienthong/v1/report",
        "lienthong/v1/tls-ca",
    } == signing.DOMAINS
    assert signing.ENVELOPE in signing.DOMAINS and signing.ROTATION in signing.DOMAINS


def test_signature_is_over_domain_zero_byte_message():
    """The 64-byte signature is plain Ed25519 over domain || 0x00 || message."""
    sig = signing.sign(KEYS.signing, signing.ENVELOPE, MESSAGE)
    assert len(sig) == 64
    nacl.signing.VerifyKey(KEYS.sign_public).verify(b"lienthong/v1/envelope\x00" + MESSAGE, sig)
    assert signing.signed_bytes(signing.ENVELOPE, MESSAGE) == b"lienthong/v1/envelope\x00" + MESSAGE


def test_sign_then_verify_round_trip_in_every_domain():
    """A signature made in each domain verifies in that domain."""
    for domain in signing.DOMAINS:
        sig = signing.sign(KEYS.signing, domain, MESSAGE)
        assert signing.verify(KEYS.sign_public, domain, MESSAGE, sig) is None


def test_sign_refuses_unknown_domain():
    """Signing under a domain not in DOMAINS is a programming error."""
    with pytest.raises(ValueError, match="unknown signature domain"):
        signing.sign(KEYS.signing, "lienthong/v1/other", MESSAGE)


def test_verify_refuses_unknown_domain():
    """Verifying under a domain not in DOMAINS is a programming error."""
    sig = signing.sign(KEYS.signing, signing.STATUS, MESSAGE)
    with pytest.raises(ValueError, match="unknown signature domain"):
        signing.verify(KEYS.sign_public, "status", MESSAGE, sig)


def test_signature_from_another_domain_fails_naming_the_domain():
    """A status signature does not pass as an envelope signature; the error names the domain."""
    sig = signing.sign(KEYS.signing, signing.STATUS, MESSAGE)
    with pytest.raises(SignatureError, match="lienthong/v1/envelope"):
        signing.verify(KEYS.sign_public, signing.ENVELOPE, MESSAGE, sig)


def test_altered_message_fails():
    """Changing one byte of the message breaks the signature."""
    sig = signing.sign(KEYS.signing, signing.ENVELOPE, MESSAGE)
    with pytest.raises(SignatureError, match="does not verify"):
        signing.verify(KEYS.sign_public, signing.ENVELOPE, MESSAGE + b"!", sig)


def test_altered_signature_fails():
    """Flipping a bit of the signature breaks it."""
    sig = bytearray(signing.sign(KEYS.signing, signing.ENVELOPE, MESSAGE))
    sig[10] ^= 1
    with pytest.raises(SignatureError):
        signing.verify(KEYS.sign_public, signing.ENVELOPE, MESSAGE, bytes(sig))


def test_wrong_key_fails():
    """A signature does not verify under another node's key."""
    sig = signing.sign(KEYS.signing, signing.ENVELOPE, MESSAGE)
    other = NodeKeys.generate()
    with pytest.raises(SignatureError, match="does not verify"):
        signing.verify(other.sign_public, signing.ENVELOPE, MESSAGE, sig)


def test_wrong_lengths_fail():
    """Keys and signatures of the wrong length raise SignatureError naming the length."""
    sig = signing.sign(KEYS.signing, signing.ENVELOPE, MESSAGE)
    with pytest.raises(SignatureError, match="public key is 31 bytes"):
        signing.verify(KEYS.sign_public[:31], signing.ENVELOPE, MESSAGE, sig)
    with pytest.raises(SignatureError, match="signature is 63 bytes"):
        signing.verify(KEYS.sign_public, signing.ENVELOPE, MESSAGE, sig[:63])


def test_invalid_point_fails():
    """A 32-byte key that is not a valid (or is a small-order) point is refused."""
    sig = signing.sign(KEYS.signing, signing.ENVELOPE, MESSAGE)
    # The identity point (y = 1) has small order; 0xff..ff is not a canonical encoding.
    identity = b"\x01" + b"\x00" * 31
    for bad in (identity, b"\xff" * 32):
        with pytest.raises(SignatureError, match="not a valid Ed25519 point"):
            signing.verify(bad, signing.ENVELOPE, MESSAGE, sig)
