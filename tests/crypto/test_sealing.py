"""Tests of crypto.sealing: sealed boxes compatible with libsodium's crypto_box_seal."""

import nacl.public
import pytest

from lienthong.crypto.errors import DecryptionError, InvalidKeyError
from lienthong.crypto.sealing import SEALED_OVERHEAD, seal, unseal

RECIPIENT = nacl.public.PrivateKey.from_seed(b"\x33" * 32)
PK = RECIPIENT.public_key.encode()
CONTENT_KEY = bytes(range(32))


def test_overhead_is_libsodiums():
    """SEALED_OVERHEAD equals crypto_box_SEALBYTES and the real size difference."""
    import nacl.bindings

    assert nacl.bindings.crypto_box_SEALBYTES == SEALED_OVERHEAD == 48
    assert len(seal(PK, CONTENT_KEY)) == len(CONTENT_KEY) + SEALED_OVERHEAD


def test_pynacl_sealed_box_opens_our_seal():
    """libsodium's crypto_box_seal_open (via SealedBox) opens what seal produced."""
    assert nacl.public.SealedBox(RECIPIENT).decrypt(seal(PK, CONTENT_KEY)) == CONTENT_KEY


def test_unseal_opens_pynacl_sealed_box():
    """unseal opens what libsodium's crypto_box_seal (via SealedBox) produced."""
    sealed = nacl.public.SealedBox(RECIPIENT.public_key).encrypt(CONTENT_KEY)
    assert unseal(RECIPIENT, sealed) == CONTENT_KEY


def test_round_trip_including_empty_message():
    """seal/unseal round-trips any message, the empty one included."""
    for message in (b"", b"x", CONTENT_KEY, b"\x00" * 5000):
        assert unseal(RECIPIENT, seal(PK, message)) == message


def test_ephemeral_seed_makes_output_deterministic():
    """The same ephemeral seed gives identical bytes; different seeds or none differ."""
    a = seal(PK, CONTENT_KEY, ephemeral_seed=b"\x01" * 32)
    assert a == seal(PK, CONTENT_KEY, ephemeral_seed=b"\x01" * 32)
    assert a != seal(PK, CONTENT_KEY, ephemeral_seed=b"\x02" * 32)
    assert seal(PK, CONTENT_KEY) != seal(PK, CONTENT_KEY)
    assert unseal(RECIPIENT, a) == CONTENT_KEY


def test_ephemeral_seed_of_wrong_length_is_refused():
    """An ephemeral seed that is not 32 bytes is a programming error."""
    with pytest.raises(ValueError, match="ephemeral seed must be 32 bytes"):
        seal(PK, CONTENT_KEY, ephemeral_seed=b"\x01" * 16)


def test_wrong_private_key_fails():
    """A message sealed to one key does not open with another."""
    sealed = seal(PK, CONTENT_KEY)
    with pytest.raises(DecryptionError, match="does not open"):
        unseal(nacl.public.PrivateKey.generate(), sealed)


def test_altered_sealed_message_fails():
    """Flipping a bit in the ephemeral key, the tag or the ciphertext is detected."""
    sealed = seal(PK, CONTENT_KEY)
    for position in (0, 40, len(sealed) - 1):
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            unseal(RECIPIENT, bytes(altered))


def test_too_short_sealed_message_fails():
    """Fewer bytes than the overhead cannot be a sealed message."""
    with pytest.raises(DecryptionError, match="shorter than the 48-byte overhead"):
        unseal(RECIPIENT, b"\x00" * 47)


def test_recipient_key_of_wrong_length_is_refused():
    """Sealing to a key that is not 32 bytes raises InvalidKeyError."""
    with pytest.raises(InvalidKeyError, match="31 bytes"):
        seal(PK[:31], CONTENT_KEY)


def test_low_order_recipient_key_is_refused():
    """Sealing to the all-zero (low-order) point is refused rather than producing a weak box."""
    with pytest.raises(InvalidKeyError, match="not a usable X25519 key"):
        seal(b"\x00" * 32, CONTENT_KEY)
