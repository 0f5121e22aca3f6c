"""Users of the clerk's page (argon2id passwords, roles, departments, lockout, disabling) and
their sessions."""

import asyncio
import enum
import hashlib
import secrets
from dataclasses import dataclass, replace

from lienthong.crypto.passwords import (
    DEFAULT_MEMLIMIT,
    DEFAULT_OPSLIMIT,
    hash_password,
    verify_password,
)
from lienthong.storage import audit
from lienthong.storage.db import Queryable, Store, Tx
from lienthong.storage.errors import Conflict, NotFound, StoreError

# A specialist (chuyên viên) handles the documents a leader assigns (docs/CLERK.md).
ROLES = ("clerk", "leader", "specialist", "admin")
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
# A department's name (phòng ban) comes from the admin's form and is shown on every
# assignment: a name as an office writes it, "Phòng Tổ chức - Hành chính", fits easily.
MAX_DEPARTMENT_CHARS = 120


@dataclass(frozen=True)
class User:
    username: str
    role: str
    display_name: str
    created_at: int
    failed_logins: int
    locked_until: int | None
    disabled: bool = False
    department: str | None = None

    def locked(self, now: int) -> bool:
        return self.locked_until is not None and now < self.locked_until


class LoginOutcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"  # wrong password (counted as a try), or no such user
    LOCKED = "locked"  # locked now: by this wrong password, or before it counted
    DISABLED = "disabled"  # disabled by an administrator: the password was not tried


@dataclass(frozen=True)
class LoginAttempt:
    outcome: LoginOutcome
    user: User | None = None  # the signed-in user when the outcome is OK
    counted: bool = False  # a wrong password counted towards the lockout (maybe locking it)


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


_USER_COLUMNS = (
    "username, role, display_name, created_at, failed_logins, locked_until, disabled, department"
)
_SELECT_USER = f"SELECT {_USER_COLUMNS} FROM users"  # noqa: S608 - constant column names
_SELECT_USER_AND_HASH = f"SELECT {_USER_COLUMNS}, password_hash FROM users"  # noqa: S608
_RETURNING_USER = f" RETURNING {_USER_COLUMNS}"
# A right password signs in only if the account is still as it was when checked.
_SIGN_IN = (
    "UPDATE users SET failed_logins = 0, locked_until = NULL"  # noqa: S608
    " WHERE username = ? AND password_hash = ? AND disabled = 0"
    " AND (locked_until IS NULL OR locked_until <= ?)" + _RETURNING_USER
)
# A wrong password counts only while the account is unlocked; the last allowed one locks.
_COUNT_FAILURE = (
    "UPDATE users SET"
    " failed_logins = CASE WHEN failed_logins + 1 >= :max THEN 0 ELSE failed_logins + 1 END,"
    " locked_until = CASE WHEN failed_logins + 1 >= :max THEN :at + :lockout ELSE NULL END"
    " WHERE username = :username AND (locked_until IS NULL OR locked_until <= :at)"
    + _RETURNING_USER
)


def _user(row) -> User:
    return User(*row[:6], disabled=bool(row[6]), department=row[7])


async def get_user(conn: Queryable, username: str) -> User | None:
    row = await conn.fetchone(_SELECT_USER + " WHERE username = ?", (username,))
    return None if row is None else _user(row)


async def list_users(conn: Queryable) -> list[User]:
    """Every account, by username (for the admin's users page)."""
    rows = await conn.fetchall(_SELECT_USER + " ORDER BY username")
    return [_user(row) for row in rows]


async def check_password(store: Store, username: str, password: str) -> User | None:
    """The user if the password is right and the account neither locked nor disabled."""
    return (await try_password(store, username, password)).user


async def try_password(store: Store, username: str, password: str) -> LoginAttempt:
    """Check a password against the lockout, safe against guesses sent in parallel.

    The password hash takes a noticeable time (argon2id, in a thread), and many guesses
    can be inside it at once, all having seen the account unlocked. So the lock is
    checked again after the hash, in the same statement that writes the result:
    a wrong password is counted only while the account is not locked (record_failed_login),
    and a right one signs in only if the account is still unlocked, still enabled and
    still has the password that was checked. A guess that finishes after the lock was
    set gets LOCKED whatever the password: at most MAX_FAILED_LOGINS guesses per lock
    period get an answer.
    """
    async with store.read() as conn:
        row = await conn.fetchone(_SELECT_USER_AND_HASH + " WHERE username = ?", (username,))
    if row is None:
        return LoginAttempt(LoginOutcome.WRONG)
    user, hashed = _user(row), row[-1]
    if user.disabled:
        return LoginAttempt(LoginOutcome.DISABLED)
    if user.locked(store.now()):
        return LoginAttempt(LoginOutcome.LOCKED)
    if not await asyncio.to_thread(verify_password, hashed, password):
        async with store.write() as tx:
            after = await record_failed_login(tx, username, at=store.now())
        if after is None:  # locked while the hash was computed: not a try
            return LoginAttempt(LoginOutcome.LOCKED)
        locked = after.locked_until is not None
        return LoginAttempt(LoginOutcome.LOCKED if locked else LoginOutcome.WRONG, counted=True)
    now = store.now()
    async with store.write() as tx:
        cursor = await tx.execute(_SIGN_IN, (username, hashed, now))
        signed_in = next(iter(cursor.fetchall()), None)
        current = None if signed_in is not None else await get_user(tx, username)
    if signed_in is not None:
        return LoginAttempt(LoginOutcome.OK, _user(signed_in))
    if current is not None and current.disabled:
        return LoginAttempt(LoginOutcome.DISABLED)
    if current is not None and current.locked(now):
        return LoginAttempt(LoginOutcome.LOCKED)
    return LoginAttempt(LoginOutcome.WRONG)  # the password was reset during the check


async def record_failed_login(tx: Tx, username: str, *, at: int) -> User | None:
    """Count a wrong password, in one statement; the MAX_FAILED_LOGINS-th in a row locks
    the account for LOCKOUT_MS (and starts the count again for after the lock).

    Nothing is counted while the account is locked (a check that started before the lock
    finished after it), and a failure never clears or shortens a lock. Returns the user
    after the count, or None when the account was locked and nothing was counted.
    """
    cursor = await tx.execute(
        _COUNT_FAILURE,
        {"max": MAX_FAILED_LOGINS, "at": at, "lockout": LOCKOUT_MS, "username": username},
    )
    row = next(iter(cursor.fetchall()), None)
    if row is None:
        if await get_user(tx, username) is None:
            raise NotFound(f"no user {username!r}")
        return None
    user = _user(row)
    if user.locked_until is not None:
        await audit.append(
            tx,
            at=at,
            actor=username,
            action="user.locked",
            subject=username,
            details={"until": user.locked_until, "after_failures": MAX_FAILED_LOGINS},
        )
    return user


async def unlock_user(tx: Tx, username: str, *, actor: str, at: int) -> User:
    """End a lockout and clear the count of wrong passwords (audited as user.unlock)."""
    before = await get_user(tx, username)
    if before is None:
        raise NotFound(f"no user {username!r}")
    await tx.execute(
        "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE username = ?", (username,)
    )
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="user.unlock",
        subject=username,
        details={"was_locked": before.locked(at), "failed_logins": before.failed_logins},
    )
    return replace(before, failed_logins=0, locked_until=None)


async def set_password(
    store: Store,
    username: str,
    password: str,
    *,
    actor: str,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> int:
    """Give an account a new password (a reset by an administrator): the lockout is
    cleared and every session of the account ends. Audited as user.password (the hash is
    not logged). Returns how many sessions ended."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise StoreError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    hashed = await asyncio.to_thread(hash_password, password, opslimit=opslimit, memlimit=memlimit)
    at = store.now()
    async with store.write() as tx:
        cursor = await tx.execute(
            "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL"
            " WHERE username = ?",
            (hashed, username),
        )
        if cursor.rowcount == 0:
            raise NotFound(f"no user {username!r}")
        ended = await _end_sessions(tx, username)
        await audit.append(
            tx,
            at=at,
            actor=actor,
            action="user.password",
            subject=username,
            details={"sessions_ended": ended},
        )
    return ended


async def set_disabled(tx: Tx, username: str, disabled: bool, *, actor: str, at: int) -> int:
    """Disable an account (it cannot sign in; its sessions end at once) or enable it
    again. Audited as user.disable or user.enable. Returns how many sessions ended."""
    cursor = await tx.execute(
        "UPDATE users SET disabled = ? WHERE username = ?", (int(disabled), username)
    )
    if cursor.rowcount == 0:
        raise NotFound(f"no user {username!r}")
    ended = await _end_sessions(tx, username) if disabled else 0
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="user.disable" if disabled else "user.enable",
        subject=username,
        details={"sessions_ended": ended},
    )
    return ended


async def _end_sessions(tx: Tx, username: str) -> int:
    cursor = await tx.execute("DELETE FROM sessions WHERE username = ?", (username,))
    return cursor.rowcount


async def set_role(tx: Tx, username: str, role: str, *, actor: str, at: int) -> None:
    _check_role(role)
    cursor = await tx.execute("UPDATE users SET role = ? WHERE username = ?", (role, username))
    if cursor.rowcount == 0:
        raise NotFound(f"no user {username!r}")
    await audit.append(
        tx, at=at, actor=actor, action="user.role", subject=username, details={"role": role}
    )


def _check_department(name: str) -> None:
    if not 1 <= len(name) <= MAX_DEPARTMENT_CHARS or not name.isprintable() or name != name.strip():
        raise StoreError(
            f"a department's name must be 1 to {MAX_DEPARTMENT_CHARS} printable characters,"
            f" without blanks around it, not {name!r}"
        )


async def add_department(tx: Tx, name: str, *, actor: str, at: int) -> None:
    """Add a department (phòng ban) of the unit; audited as department.add."""
    _check_department(name)
    if await tx.fetchone("SELECT 1 FROM departments WHERE name = ?", (name,)):
        raise Conflict(f"department {name!r} already exists")
    await tx.execute("INSERT INTO departments (name, created_at) VALUES (?, ?)", (name, at))
    await audit.append(tx, at=at, actor=actor, action="department.add", subject=name, details={})


async def list_departments(conn: Queryable) -> list[str]:
    """The unit's departments, by name."""
    return [row[0] for row in await conn.fetchall("SELECT name FROM departments ORDER BY name")]


async def set_department(
    tx: Tx, username: str, department: str | None, *, actor: str, at: int
) -> None:
    """Put a user in a department (None: in none); audited as user.department."""
    if department is not None and not await tx.fetchone(
        "SELECT 1 FROM departments WHERE name = ?", (department,)
    ):
        raise NotFound(f"no department {department!r}: add it first")
    cursor = await tx.execute(
        "UPDATE users SET department = ? WHERE username = ?", (department, username)
    )
    if cursor.rowcount == 0:
        raise NotFound(f"no user {username!r}")
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="user.department",
        subject=username,
        details={"department": department},
    )


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


async def create_session(tx: Tx, username: str, *, at: int, ttl_ms: int) -> NewSession:
    """A new session for the user; only the SHA-256 of its token is stored."""
    row = await tx.fetchone("SELECT disabled FROM users WHERE username = ?", (username,))
    if row is None:
        raise NotFound(f"no user {username!r}")
    if row[0]:
        raise StoreError(f"the account {username!r} is disabled: it cannot sign in")
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
