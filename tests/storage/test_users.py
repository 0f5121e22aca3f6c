"""Users, passwords, lockout and sessions."""

import hashlib

import nacl.pwhash.argon2id as argon2id
import pytest

from lienthong.storage import users
from lienthong.storage.db import Store
from lienthong.storage.errors import Conflict, NotFound, StoreError

# The smallest argon2id cost: the tests check the store's logic, not the hash's strength.
FAST = {"opslimit": argon2id.OPSLIMIT_MIN, "memlimit": argon2id.MEMLIMIT_MIN}


async def _add(store: Store, name: str = "vanthu", role: str = "clerk") -> users.User:
    return await users.add_user(
        store, name, "mật khẩu đúng", role=role, display_name="Văn thư", actor="admin", **FAST
    )


async def test_add_and_check_password(store: Store) -> None:
    """The right password returns the user; a wrong one or an unknown user returns None."""
    added = await _add(store)
    assert await users.check_password(store, "vanthu", "mật khẩu đúng") == added
    assert await users.check_password(store, "vanthu", "sai") is None
    assert await users.check_password(store, "nobody", "x") is None
    async with store.read() as conn:
        row = await conn.fetchone("SELECT password_hash FROM users")
    assert row[0].startswith("$argon2id$")


async def test_duplicate_user_and_bad_role(store: Store) -> None:
    """A username is unique; roles are clerk, leader or admin."""
    await _add(store)
    with pytest.raises(Conflict):
        await _add(store)
    with pytest.raises(StoreError, match="role"):
        await _add(store, "other", role="boss")


async def test_lockout_after_repeated_failures(store: Store, clock: object) -> None:
    """MAX_FAILED_LOGINS wrong passwords lock the account, even for the right one, until
    LOCKOUT_MS has passed; then the right password works and clears the count."""
    await _add(store)
    for _ in range(users.MAX_FAILED_LOGINS):
        assert await users.check_password(store, "vanthu", "sai") is None
    async with store.read() as conn:
        user = await users.get_user(conn, "vanthu")
    assert user is not None and user.locked(store.now())
    assert await users.check_password(store, "vanthu", "mật khẩu đúng") is None
    clock.now += users.LOCKOUT_MS  # type: ignore[attr-defined]
    assert await users.check_password(store, "vanthu", "mật khẩu đúng") is not None
    async with store.read() as conn:
        user = await users.get_user(conn, "vanthu")
        locked = await conn.fetchone("SELECT count(*) FROM audit_log WHERE action = 'user.locked'")
    assert user is not None and (user.failed_logins, user.locked_until) == (0, None)
    assert locked[0] == 1


async def test_set_role(store: Store) -> None:
    """set_role changes the role and is audited; an unknown user raises NotFound."""
    await _add(store)
    async with store.write() as tx:
        await users.set_role(tx, "vanthu", "leader", actor="admin", at=1)
    async with store.read() as conn:
        user = await users.get_user(conn, "vanthu")
    assert user is not None and user.role == "leader"
    with pytest.raises(NotFound):
        async with store.write() as tx:
            await users.set_role(tx, "nobody", "leader", actor="admin", at=1)


async def test_sessions_store_only_the_token_hash(store: Store) -> None:
    """A session is found by its token until it expires; the token itself is not stored."""
    await _add(store)
    async with store.write() as tx:
        new = await users.create_session(tx, "vanthu", at=1000, ttl_ms=500)
    async with store.read() as conn:
        session = await users.get_session(conn, new.token, now=1200)
        expired = await users.get_session(conn, new.token, now=1500)
        wrong = await users.get_session(conn, new.token + "x", now=1200)
        stored = await conn.fetchone("SELECT token_hash FROM sessions")
    assert session == users.Session("vanthu", new.csrf, 1000, 1500)
    assert expired is None and wrong is None
    assert stored[0] == hashlib.sha256(new.token.encode()).digest()
    assert new.token.encode() not in stored[0]
    async with store.write() as tx:
        assert await users.delete_session(tx, new.token)
        assert not await users.delete_session(tx, new.token)


async def test_purge_sessions(store: Store) -> None:
    """Expired sessions are purged, live ones kept."""
    await _add(store)
    async with store.write() as tx:
        await users.create_session(tx, "vanthu", at=0, ttl_ms=10)
        live = await users.create_session(tx, "vanthu", at=0, ttl_ms=1000)
        assert await users.purge_sessions(tx, now=100) == 1
    async with store.read() as conn:
        assert await users.get_session(conn, live.token, now=100) is not None
