"""Tests of crypto.aead: XChaCha20-Poly1305 with associated data."""

import nacl.bindings
import pytest

from lienthong.crypto import aead
from lienthong.crypto.errors import DecryptionError

KEY = bytes(range(32))
NONCE = bytes(range(24))
AAD = b"envelope header"


def test_round_trip():
    """decrypt(encrypt(m)) == m with the same key, nonce and aad."""
    ct = aead.encrypt(KEY, NONCE, b"document body", AAD)
    assert len(ct) == len(b"document body") + 16
    assert aead.decrypt(KEY, NONCE, ct, AAD) == b"document body"


def test_matches_libsodium_directly():
    """Output is libsodium's crypto_aead_xchacha20poly1305_ietf_encrypt, byte for byte."""
    expected = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(b"m", AAD, NONCE, KEY)
    assert aead.encrypt(KEY, NONCE, b"m", AAD) == expected


def test_random_key_and_nonce_are_fresh():
    """random_key and random_nonce give the right lengths and do not repeat."""
    assert len(aead.random_key()) == aead.KEY_BYTES == 32
    assert len(aead.random_nonce()) == aead.NONCE_BYTES == 24
    assert aead.random_key() != aead.random_key()


@pytest.mark.parametrize("what", ["key", "nonce", "aad", "ciphertext"])
def test_any_change_fails(what):
    """A different key, nonce or aad, or an altered ciphertext, raises DecryptionError."""
    ct = aead.encrypt(KEY, NONCE, b"document body", AAD)
    args = {"key": KEY, "nonce": NONCE, "ciphertext": ct, "aad": AAD}
    value = bytearray(args[what])
    value[0] ^= 1
    args[what] = bytes(value)
    with pytest.raises(DecryptionError, match="does not authenticate"):
        aead.decrypt(args["key"], args["nonce"], args["ciphertext"], args["aad"])


def test_decrypt_refuses_wrong_lengths():
    """Wrong key or nonce length, or a ciphertext shorter than the tag, raise DecryptionError."""
    ct = aead.encrypt(KEY, NONCE, b"x", AAD)
    with pytest.raises(DecryptionError, match="key is 16 bytes"):
        aead.decrypt(KEY[:16], NONCE, ct, AAD)
    with pytest.raises(DecryptionError, match="nonce is 12 bytes"):
        aead.decrypt(KEY, NONCE[:12], ct, AAD)
    with pytest.raises(DecryptionError, match="shorter than the 16-byte tag"):
        aead.decrypt(KEY, NONCE, ct[:15], AAD)


def test_encrypt_refuses_wrong_lengths():
    """Encrypting with a wrong-size key or nonce is a programming error."""
    with pytest.raises(ValueError, match="key must be 32 bytes"):
        aead.encrypt(KEY[:31], NONCE, b"x", AAD)
    with pytest.raises(ValueError, match="nonce must be 24 bytes"):
        aead.encrypt(KEY, NONCE[:23], b"x", AAD)
