"""A node's key pair (Ed25519 identity, X25519 encryption) and key fingerprints."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import nacl.public
import nacl.signing

from lienthong.crypto.errors import KeystoreError

PUBLIC_KEY_BYTES = 32
SEED_BYTES = 32

# Domain prefix so a fingerprint can never collide with another hash of the same key.
FINGERPRINT_PREFIX = b"lienthong/v1/fingerprint\x00"
# 20 bytes (160 bits) is 32 base32 characters with no padding: long enough against second
# preimages, short enough to read over the phone in 8 groups of 4.
FINGERPRINT_HASH_BYTES = 20
FINGERPRINT_CHARS = 32
FINGERPRINT_GROUP = 4
_BASE32_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
# Text pinned in a config file or typed by an operator: refuse anything absurdly long before
# looking at it, so an error message never echoes a huge string.
MAX_FINGERPRINT_TEXT = 128


@dataclass(frozen=True)
class NodeKeys:
    """The two private keys of a node (or of the centre's root): signing and encryption."""

    signing: nacl.signing.SigningKey
    encryption: nacl.public.PrivateKey

    @property
    def sign_public(self) -> bytes:
        """The 32-byte Ed25519 public key: the node's identity."""
        return self.signing.verify_key.encode()

    @property
    def enc_public(self) -> bytes:
        """The 32-byte X25519 public key that content keys are sealed to."""
        return self.encryption.public_key.encode()

    @classmethod
    def generate(cls) -> NodeKeys:
        """Fresh random keys from the operating system's CSPRNG."""
        return cls(nacl.signing.SigningKey.generate(), nacl.public.PrivateKey.generate())

    @classmethod
    def from_seeds(cls, sign_seed: bytes, enc_seed: bytes) -> NodeKeys:
        """Deterministic keys from two 32-byte seeds, for test vectors."""
        for name, seed in (("sign_seed", sign_seed), ("enc_seed", enc_seed)):
            if len(seed) != SEED_BYTES:
                raise ValueError(f"{name} must be {SEED_BYTES} bytes, got {len(seed)}")
        return cls(nacl.signing.SigningKey(sign_seed), nacl.public.PrivateKey.from_seed(enc_seed))


def fingerprint(public_key: bytes) -> str:
    """The human-readable fingerprint of a 32-byte public key, e.g. "ABCD-EFGH-...-WXYZ".

    SHA-256 over a domain prefix and the key, first 20 bytes, RFC 4648 base32 without
    padding, in 8 groups of 4 characters joined by "-".
    """
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise ValueError(f"public key must be {PUBLIC_KEY_BYTES} bytes, got {len(public_key)}")
    digest = hashlib.sha256(FINGERPRINT_PREFIX + bytes(public_key)).digest()
    text = base64.b32encode(digest[:FINGERPRINT_HASH_BYTES]).decode("ascii")
    return _group(text)


def normalise_fingerprint(text: str) -> str:
    """The canonical grouped form of a fingerprint typed or pinned by a person.

    Accepts any case, spaces and dashes; raises KeystoreError saying what is wrong.
    normalise_fingerprint(fingerprint(k)) == fingerprint(k).
    """
    if len(text) > MAX_FINGERPRINT_TEXT:
        raise KeystoreError(
            f"fingerprint text is {len(text)} characters, over the limit of {MAX_FINGERPRINT_TEXT}"
        )
    if not text.isascii():  # str.upper() would turn "ı" into "I" and "ﬀ" into "FF"
        bad = "".join(sorted({ch for ch in text if not ch.isascii()}))
        raise KeystoreError(f"fingerprint contains characters outside base32 (A-Z, 2-7): {bad!r}")
    compact = "".join(ch for ch in text.upper() if ch not in " -\t")
    bad = sorted({ch for ch in compact if ch not in _BASE32_ALPHABET})
    if bad:
        raise KeystoreError(
            f"fingerprint contains characters outside base32 (A-Z, 2-7): {''.join(bad)!r}"
        )
    if len(compact) != FINGERPRINT_CHARS:
        raise KeystoreError(
            f"fingerprint has {len(compact)} base32 characters, expected {FINGERPRINT_CHARS}"
        )
    return _group(compact)


def fingerprint_matches(public_key: bytes, text: str) -> bool:
    """Whether text (any accepted spelling) is the fingerprint of public_key; constant time."""
    expected = fingerprint(public_key).encode("ascii")
    given = normalise_fingerprint(text).encode("ascii")
    return hmac.compare_digest(expected, given)


def _group(compact: str) -> str:
    return "-".join(
        compact[i : i + FINGERPRINT_GROUP] for i in range(0, len(compact), FINGERPRINT_GROUP)
    )
