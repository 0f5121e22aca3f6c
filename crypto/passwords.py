"""Clerk password hashing with argon2id (libsodium's crypt-style strings)."""

from __future__ import annotations

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id

from lienthong.crypto.errors import PasswordError

# libsodium's INTERACTIVE limits (2 passes, 64 MiB): its recommendation for online logins,
# where a node may check several clerks' passwords at once.
DEFAULT_OPSLIMIT = argon2id.OPSLIMIT_INTERACTIVE
DEFAULT_MEMLIMIT = argon2id.MEMLIMIT_INTERACTIVE
# Passwords come from a login form: cap them so a request cannot hand argon2 megabytes.
MAX_PASSWORD_BYTES = 1024
# A stored hash is about 100 characters; refuse absurd ones before parsing them.
MAX_HASH_CHARS = 512
HASH_PREFIX = "$argon2id$"


def hash_password(
    password: str, *, opslimit: int = DEFAULT_OPSLIMIT, memlimit: int = DEFAULT_MEMLIMIT
) -> str:
    """An argon2id hash string (salt and limits included) for storing password."""
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise PasswordError(
            f"password is {len(encoded)} bytes in UTF-8, over the limit of {MAX_PASSWORD_BYTES}"
        )
    return argon2id.str(encoded, opslimit=opslimit, memlimit=memlimit).decode("ascii")


def verify_password(hashed: str, password: str) -> bool:
    """Whether password matches hashed; PasswordError if hashed is not an argon2id string."""
    if len(hashed) > MAX_HASH_CHARS or not hashed.startswith(HASH_PREFIX):
        raise PasswordError("stored password hash is not an argon2id hash string")
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    try:
        return argon2id.verify(hashed.encode("ascii"), encoded)
    except UnicodeEncodeError:
        raise PasswordError("stored password hash is not ASCII") from None
    except nacl.exceptions.InvalidkeyError:
        return False
