"""Users of the clerk's page (argon2id passwords, roles, lockout) and their sessions."""

import asyncio
import hashlib
import secrets
from dataclasses import dataclass

from lienthong.crypto.passwords import (
    DEFAULT_MEMLIMIT,
    DEFAULT_OPSLIMIT,
    hash_password,
    verify_password,
)
from lienthong.storage import audit
from lienthong.storage.db import Queryable, Store, Tx
from lienthong.storage.errors import Conflict, NotFound, StoreError

ROLES = ("clerk", "leader", "admin")
# Usernames come from a form and appear in the audit log: short and printable.
MAX_USERNAME_CHARS = 64
MIN_PASSWORD_CHARS = 8  # the least a clerk's password may have (CLI and users page)
# Wrong passwords in a row before the account is locked, and for how long: slows
# guessing to a few tries per quarter hour without locking a clerk out for the day.
MAX_FAILED_LOGINS = 5
LOCKOUT_MS = 15 * 60 * 1000
# Session tokens: 32 random bytes, base64url. Longer cookies are refused unhashed.
SESSION_TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 128


@dataclass(frozen=True)
class User:
    username: str
    role: str
    display_name: str
    created_at: int
    failed_logins: int
    locked_until: int | None

    def locked(self, now: int) -> bool:
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True)
class Session:
    username: str
    csrf: str
    created_at: int
    expires_at: int


@dataclass(frozen=True)
class NewSession:
    token: str  # give to the browser; the store keeps only its SHA-256
    csrf: str
    expires_at: int


def _check_username(username: str) -> None:
    if not 1 <= len(username) <= MAX_USERNAME_CHARS or not username.isprintable():
        raise StoreError(
            f"username must be 1 to {MAX_USERNAME_CHARS} printable characters, not {username!r}"
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


async def add_user(
    store: Store,
    username: str,
    password: str,
    *,
    role: str,
    display_name: str,
    actor: str,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> User:
    """Create a user; the password is hashed (argon2id) in a thread before the write."""
    _check_username(username)
    _check_role(role)
    hashed = await asyncio.to_thread(hash_password, password, opslimit=opslimit, memlimit=memlimit)
    at = store.now()
    async with store.write() as tx:
        if await tx.fetchone("SELECT 1 FROM users WHERE username = ?", (username,)):
            raise Conflict(f"user {username!r} already exists")
        await tx.execute(
            "INSERT INTO users (username, password_hash, role, display_name, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (username, hashed, role, display_name, at),
        )
        await audit.append(
            tx, at=at, actor=actor, action="user.add", subject=username, details={"role": role}
        )
    return User(username, role, display_name, at, 0, None)


async def get_user(conn: Queryable, username: str) -> User | None:
    row = await conn.fetchone(
        "SELECT username, role, display_name, created_at, failed_logins, locked_until"
        " FROM users WHERE username = ?",
        (username,),
    )
    return None if row is None else User(*row)


async def list_users(conn: Queryable) -> list[User]:
    """Every account, by username (for the admin's users page)."""
    rows = await conn.fetchall(
        "SELECT username, role, display_name, created_at, failed_logins, locked_until"
        " FROM users ORDER BY username"
    )
    return [User(*row) for row in rows]


async def check_password(store: Store, username: str, password: str) -> User | None:
    """The user if the password is right and the account not locked, else None.

    A wrong password counts towards the lockout; a right one clears the count.
    """
    async with store.read() as conn:
        row = await conn.fetchone(
            "SELECT username, role, display_name, created_at, failed_logins, locked_until,"
            " password_hash FROM users WHERE username = ?",
            (username,),
        )
    if row is None:
        return None
    user, hashed = User(*row[:-1]), row[-1]
    if user.locked(store.now()):
        return None
    if not await asyncio.to_thread(verify_password, hashed, password):
        async with store.write() as tx:
            await record_failed_login(tx, username, at=store.now())
        return None
    if user.failed_logins or user.locked_until is not None:
        async with store.write() as tx:
            await reset_failed_logins(tx, username)
    return User(user.username, user.role, user.display_name, user.created_at, 0, None)


async def record_failed_login(tx: Tx, username: str, *, at: int) -> User:
    """Count a wrong password; the MAX_FAILED_LOGINS-th in a row locks for LOCKOUT_MS."""
    row = await tx.fetchone("SELECT failed_logins FROM users WHERE username = ?", (username,))
    if row is None:
        raise NotFound(f"no user {username!r}")
    failed = row[0] + 1
    locked_until = at + LOCKOUT_MS if failed >= MAX_FAILED_LOGINS else None
    if locked_until is not None:
        failed = 0
        await audit.append(
            tx,
            at=at,
            actor=username,
            action="user.locked",
            subject=username,
            details={"until": locked_until, "after_failures": MAX_FAILED_LOGINS},
        )
    await tx.execute(
        "UPDATE users SET failed_logins = ?, locked_until = ? WHERE username = ?",
        (failed, locked_until, username),
    )
    user = await get_user(tx, username)
    assert user is not None
    return user


async def reset_failed_logins(tx: Tx, username: str) -> None:
    await tx.execute(
        "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE username = ?", (username,)
    )


async def set_role(tx: Tx, username: str, role: str, *, actor: str, at: int) -> None:
    _check_role(role)
    cursor = await tx.execute("UPDATE users SET role = ? WHERE username = ?", (role, username))
    if cursor.rowcount == 0:
        raise NotFound(f"no user {username!r}")
    await audit.append(
        tx, at=at, actor=actor, action="user.role", subject=username, details={"role": role}
    )


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


async def create_session(tx: Tx, username: str, *, at: int, ttl_ms: int) -> NewSession:
    """A new session for the user; only the SHA-256 of its token is stored."""
    if await tx.fetchone("SELECT 1 FROM users WHERE username = ?", (username,)) is None:
        raise NotFound(f"no user {username!r}")
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    csrf = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    expires_at = at + ttl_ms
    await tx.execute(
        "INSERT INTO sessions (token_hash, username, csrf, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (_token_hash(token), username, csrf, at, expires_at),
    )
    return NewSession(token, csrf, expires_at)


async def get_session(conn: Queryable, token: str, *, now: int) -> Session | None:
    """The live session for this token, or None (unknown, expired or malformed)."""
    if not 1 <= len(token) <= MAX_TOKEN_CHARS:
        return None
    row = await conn.fetchone(
        "SELECT username, csrf, created_at, expires_at FROM sessions WHERE token_hash = ?",
        (_token_hash(token),),
    )
    if row is None or now >= row[3]:
        return None
    return Session(*row)


async def delete_session(tx: Tx, token: str) -> bool:
    if not 1 <= len(token) <= MAX_TOKEN_CHARS:
        return False
    cursor = await tx.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))
    return cursor.rowcount == 1


async def purge_sessions(tx: Tx, *, now: int) -> int:
    """Delete expired sessions; return how many."""
    cursor = await tx.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
    return cursor.rowcount
