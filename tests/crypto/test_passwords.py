"""Tests of crypto.passwords: argon2id password hashes for clerks."""

import nacl.pwhash.argon2id as argon2id
import pytest

from lienthong.crypto import passwords
from lienthong.crypto.errors import PasswordError
from lienthong.crypto.passwords import hash_password, verify_password

FAST = {"opslimit": argon2id.OPSLIMIT_MIN, "memlimit": argon2id.MEMLIMIT_MIN}


def test_hash_then_verify():
    """The right password verifies, a wrong one does not."""
    hashed = hash_password("mật khẩu 2340", **FAST)
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "mật khẩu 2340")
    assert not verify_password(hashed, "mat khau 2340")
    assert not verify_password(hashed, "")


def test_hashes_are_salted():
    """The same password hashes differently each time, and both verify."""
    a, b = hash_password("pw", **FAST), hash_password("pw", **FAST)
    assert a != b
    assert verify_password(a, "pw") and verify_password(b, "pw")


def test_default_limits_are_recorded_in_the_hash():
    """Without keyword arguments the INTERACTIVE limits (64 MiB, 2 passes) are used."""
    hashed = hash_password("pw")
    assert "$m=65536,t=2," in hashed
    assert verify_password(hashed, "pw")


def test_too_long_password():
    """Hashing refuses a password over the limit; verifying one returns False."""
    hashed = hash_password("pw", **FAST)
    long = "x" * (passwords.MAX_PASSWORD_BYTES + 1)
    with pytest.raises(PasswordError, match="over the limit of 1024"):
        hash_password(long, **FAST)
    assert not verify_password(hashed, long)


@pytest.mark.parametrize("stored", ["", "plaintext", "$2b$12$bcrypthash", "$argon2id$" + "a" * 600])
def test_malformed_stored_hash_raises(stored):
    """A stored value that is not an argon2id string is an error, not a failed login."""
    with pytest.raises(PasswordError, match="not an argon2id hash"):
        verify_password(stored, "pw")


def test_non_ascii_stored_hash_raises():
    """A stored hash with non-ASCII characters is reported as corrupt."""
    with pytest.raises(PasswordError, match="not ASCII"):
        verify_password("$argon2id$ư", "pw")


def test_damaged_argon2id_hash_does_not_verify():
    """A hash with a damaged digest never verifies."""
    hashed = hash_password("pw", **FAST)
    damaged = hashed[:-4] + ("AAAA" if not hashed.endswith("AAAA") else "BBBB")
    assert not verify_password(damaged, "pw")
