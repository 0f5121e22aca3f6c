"""XChaCha20-Poly1305 (IETF) authenticated encryption with associated data."""

from __future__ import annotations

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils

from lienthong.crypto.errors import DecryptionError

KEY_BYTES = 32
NONCE_BYTES = 24
TAG_BYTES = 16


def random_key() -> bytes:
    """A fresh 32-byte key from the operating system's CSPRNG."""
    return nacl.utils.random(KEY_BYTES)


def random_nonce() -> bytes:
    """A fresh 24-byte nonce; XChaCha20's nonce is long enough to pick at random."""
    return nacl.utils.random(NONCE_BYTES)


def encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Ciphertext || 16-byte tag, authenticating aad as well."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"key must be {KEY_BYTES} bytes, got {len(key)}")
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"nonce must be {NONCE_BYTES} bytes, got {len(nonce)}")
    return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        bytes(plaintext), bytes(aad), bytes(nonce), bytes(key)
    )


def decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """The plaintext, or DecryptionError if key, nonce, ciphertext or aad do not match."""
    if len(key) != KEY_BYTES:
        raise DecryptionError(f"key is {len(key)} bytes, expected {KEY_BYTES}")
    if len(nonce) != NONCE_BYTES:
        raise DecryptionError(f"nonce is {len(nonce)} bytes, expected {NONCE_BYTES}")
    if len(ciphertext) < TAG_BYTES:
        raise DecryptionError(
            f"ciphertext is {len(ciphertext)} bytes, shorter than the {TAG_BYTES}-byte tag"
        )
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            bytes(ciphertext), bytes(aad), bytes(nonce), bytes(key)
        )
    except nacl.exceptions.CryptoError:
        raise DecryptionError(
            "ciphertext does not authenticate (altered, wrong key, nonce or associated data)"
        ) from None
