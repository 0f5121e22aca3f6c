"""Tests of crypto.keys: node key pairs and fingerprints."""

import base64
import hashlib
import re

import nacl.public
import nacl.signing
import pytest

from lienthong.crypto.errors import KeystoreError
from lienthong.crypto.keys import NodeKeys, fingerprint, fingerprint_matches, normalise_fingerprint

SIGN_SEED = bytes(range(32))
ENC_SEED = bytes(range(32, 64))


def test_generate_gives_distinct_32_byte_public_keys():
    """Two generated key sets differ and expose 32-byte public keys."""
    a, b = NodeKeys.generate(), NodeKeys.generate()
    assert len(a.sign_public) == 32 and len(a.enc_public) == 32
    assert a.sign_public != b.sign_public
    assert a.enc_public != b.enc_public


def test_from_seeds_is_deterministic_and_matches_pynacl():
    """from_seeds builds the same keys PyNaCl derives from the same seeds."""
    keys = NodeKeys.from_seeds(SIGN_SEED, ENC_SEED)
    assert keys == NodeKeys.from_seeds(SIGN_SEED, ENC_SEED)
    assert keys.sign_public == nacl.signing.SigningKey(SIGN_SEED).verify_key.encode()
    assert keys.enc_public == nacl.public.PrivateKey.from_seed(ENC_SEED).public_key.encode()


def test_from_seeds_refuses_wrong_seed_length():
    """A seed that is not 32 bytes is refused, naming which seed."""
    with pytest.raises(ValueError, match="enc_seed"):
        NodeKeys.from_seeds(SIGN_SEED, b"short")
    with pytest.raises(ValueError, match="sign_seed"):
        NodeKeys.from_seeds(b"x" * 33, ENC_SEED)


def test_node_keys_are_frozen():
    """NodeKeys cannot be mutated after construction."""
    keys = NodeKeys.generate()
    with pytest.raises(AttributeError):
        keys.signing = nacl.signing.SigningKey.generate()  # type: ignore[misc]


def test_fingerprint_follows_the_specified_construction():
    """The fingerprint is base32 of SHA-256(prefix || key)[:20], in 8 dash-joined groups of 4."""
    key = NodeKeys.from_seeds(SIGN_SEED, ENC_SEED).sign_public
    digest = hashlib.sha256(b"lienthong/v1/fingerprint\x00" + key).digest()[:20]
    compact = base64.b32encode(digest).decode()
    text = fingerprint(key)
    assert text.replace("-", "") == compact
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){7}", text)


def test_fingerprint_differs_between_keys():
    """Different keys have different fingerprints."""
    assert fingerprint(b"\x01" * 32) != fingerprint(b"\x02" * 32)


def test_fingerprint_refuses_wrong_length():
    """A public key that is not 32 bytes has no fingerprint."""
    with pytest.raises(ValueError, match="32 bytes"):
        fingerprint(b"\x01" * 31)


def test_normalise_accepts_case_spaces_and_dashes():
    """Lower case, spaces and missing dashes all normalise to the canonical grouped form."""
    fp = fingerprint(b"\x07" * 32)
    assert normalise_fingerprint(fp) == fp
    assert normalise_fingerprint(fp.lower()) == fp
    assert normalise_fingerprint(fp.replace("-", " ")) == fp
    assert normalise_fingerprint(fp.replace("-", "")) == fp
    assert normalise_fingerprint("  " + fp.replace("-", " - ").lower() + " ") == fp


def test_normalise_refuses_wrong_length():
    """A fingerprint with a character missing is refused, with the count in the message."""
    fp = fingerprint(b"\x07" * 32).replace("-", "")
    with pytest.raises(KeystoreError, match="31 base32 characters, expected 32"):
        normalise_fingerprint(fp[:-1])


def test_normalise_refuses_non_base32_characters():
    """Digits 0, 1, 8, 9 and punctuation are not base32 and are named in the error."""
    fp = fingerprint(b"\x07" * 32).replace("-", "")
    with pytest.raises(KeystoreError, match="'018'"):
        normalise_fingerprint("018" + fp[3:])
    with pytest.raises(KeystoreError, match="outside base32"):
        normalise_fingerprint(fp[:-1] + ".")


def test_normalise_refuses_huge_text():
    """An absurdly long string is refused before it is examined."""
    with pytest.raises(KeystoreError, match="over the limit"):
        normalise_fingerprint("A" * 10_000)


def test_fingerprint_matches_accepts_any_spelling_and_rejects_others():
    """fingerprint_matches is true for the key's fingerprint in any spelling, false for another."""
    key = b"\x09" * 32
    fp = fingerprint(key)
    assert fingerprint_matches(key, fp)
    assert fingerprint_matches(key, fp.lower().replace("-", " "))
    assert not fingerprint_matches(key, fingerprint(b"\x0a" * 32))


def test_fingerprint_matches_raises_on_malformed_text():
    """A malformed pinned fingerprint is an error, not a silent mismatch."""
    with pytest.raises(KeystoreError):
        fingerprint_matches(b"\x09" * 32, "not a fingerprint")


def test_normalise_refuses_letters_that_upper_case_into_base32():
    """'ı' (dotless i) upper-cases to 'I': a fingerprint is ASCII, so it is refused by name
    rather than read as the fingerprint it resembles."""
    fp = next(f for f in (fingerprint(bytes([b]) * 32) for b in range(256)) if "I" in f)
    with pytest.raises(KeystoreError, match="'ı'"):
        normalise_fingerprint(fp.replace("I", "ı", 1))
