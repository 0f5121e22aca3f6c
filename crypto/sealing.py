"""Content keys sealed to a recipient's X25519 key, byte-compatible with crypto_box_seal."""

from __future__ import annotations

import hashlib

import nacl.bindings as sodium
import nacl.exceptions
import nacl.public

from lienthong.crypto.errors import DecryptionError, InvalidKeyError

PUBLIC_KEY_BYTES = sodium.crypto_box_PUBLICKEYBYTES
SEED_BYTES = sodium.crypto_box_SEEDBYTES
# Ephemeral public key (32) and Poly1305 tag (16), as libsodium's crypto_box_SEALBYTES.
SEALED_OVERHEAD = 48


def seal(recipient_public: bytes, message: bytes, *, ephemeral_seed: bytes | None = None) -> bytes:
    """Encrypt message so only the holder of recipient_public's private key can read it.

    Output is epk || crypto_box(message, nonce, recipient_pk, esk) with
    nonce = BLAKE2b-192(epk || recipient_pk), as libsodium's crypto_box_seal. A seed makes
    the ephemeral key, and so the output, deterministic (test vectors only).
    """
    if len(recipient_public) != PUBLIC_KEY_BYTES:
        raise InvalidKeyError(
            f"recipient public key is {len(recipient_public)} bytes, expected {PUBLIC_KEY_BYTES}"
        )
    try:
        if ephemeral_seed is None:
            # libsodium's own crypto_box_seal in one call: the same bytes' layout, with an
            # ephemeral key from libsodium's generator.
            return sodium.crypto_box_seal(bytes(message), bytes(recipient_public))
        if len(ephemeral_seed) != SEED_BYTES:
            raise ValueError(
                f"ephemeral seed must be {SEED_BYTES} bytes, got {len(ephemeral_seed)}"
            )
        epk, esk = sodium.crypto_box_seed_keypair(ephemeral_seed)
        nonce = _nonce(epk, bytes(recipient_public))
        return epk + sodium.crypto_box(bytes(message), nonce, bytes(recipient_public), esk)
    except nacl.exceptions.CryptoError:
        # libsodium refuses a low-order point, whose shared secret would be all zeros.
        raise InvalidKeyError("recipient public key is not a usable X25519 key") from None


def unseal(private_key: nacl.public.PrivateKey, sealed: bytes) -> bytes:
    """Open a sealed message addressed to private_key; DecryptionError if it does not open."""
    if len(sealed) < SEALED_OVERHEAD:
        raise DecryptionError(
            f"sealed message is {len(sealed)} bytes, "
            f"shorter than the {SEALED_OVERHEAD}-byte overhead"
        )
    try:
        # libsodium's crypto_box_seal_open in one call (it derives the nonce itself).
        return sodium.crypto_box_seal_open(
            bytes(sealed), private_key.public_key.encode(), private_key.encode()
        )
    except nacl.exceptions.CryptoError:
        raise DecryptionError(
            "sealed message does not open with this private key (altered or for another key)"
        ) from None


def _nonce(epk: bytes, recipient_pk: bytes) -> bytes:
    # Unkeyed BLAKE2b-192, as libsodium's crypto_box_seal; hashlib's is the same function
    # without PyNaCl's per-call argument checks, which cost more than the hash itself.
    return hashlib.blake2b(epk + recipient_pk, digest_size=sodium.crypto_box_NONCEBYTES).digest()
