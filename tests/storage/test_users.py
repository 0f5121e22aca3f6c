"""Users, passwords, lockout and sessions."""

import asyncio
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


async def _audit_actions(store: Store, action: str) -> list[tuple[str, str]]:
    async with store.read() as conn:
        rows = await conn.fetchall(
            "SELECT actor, subject FROM audit_log WHERE action = ? ORDER BY seq", (action,)
        )
    return [tuple(row) for row in rows]


async def test_parallel_wrong_guesses_count_at_most_the_limit(store: Store) -> None:
    """40 wrong passwords checked at once (all past the first lock check before any is
    counted) give exactly MAX_FAILED_LOGINS counted tries and one lock; the others are
    answered LOCKED, none clears the lock, and the right password is refused after."""
    await _add(store)
    attempts = await asyncio.gather(
        *(users.try_password(store, "vanthu", f"sai {n}") for n in range(40))
    )
    assert sum(a.counted for a in attempts) == users.MAX_FAILED_LOGINS
    assert all(a.user is None for a in attempts)
    outcomes = [a.outcome for a in attempts]
    assert outcomes.count(users.LoginOutcome.WRONG) == users.MAX_FAILED_LOGINS - 1
    assert outcomes.count(users.LoginOutcome.LOCKED) == 40 - (users.MAX_FAILED_LOGINS - 1)
    async with store.read() as conn:
        user = await users.get_user(conn, "vanthu")
    assert user is not None and user.locked_until == store.now() + users.LOCKOUT_MS
    assert await _audit_actions(store, "user.locked") == [("vanthu", "vanthu")]
    right = await users.try_password(store, "vanthu", "mật khẩu đúng")
    assert right.outcome is users.LoginOutcome.LOCKED and not right.counted


async def test_a_failure_recorded_during_a_lock_neither_counts_nor_clears_it(
    store: Store, clock: object
) -> None:
    """A wrong password whose check began before the lock and ends after it is not
    counted, and the lock stays as it was (it used to be cleared to NULL)."""
    await _add(store)
    now = store.now()
    for _ in range(users.MAX_FAILED_LOGINS):
        async with store.write() as tx:
            await users.record_failed_login(tx, "vanthu", at=now)
    clock.now += 1000  # type: ignore[attr-defined]
    async with store.write() as tx:
        assert await users.record_failed_login(tx, "vanthu", at=store.now()) is None
        user = await users.get_user(tx, "vanthu")
    assert user is not None and user.locked_until == now + users.LOCKOUT_MS
    assert user.failed_logins == 0
    with pytest.raises(NotFound):
        async with store.write() as tx:
            await users.record_failed_login(tx, "nobody", at=now)


async def test_after_a_lock_ends_the_count_starts_again(store: Store, clock: object) -> None:
    """Once the lock has ended, a wrong password counts from one again, not towards a
    second lock at once."""
    await _add(store)
    for _ in range(users.MAX_FAILED_LOGINS):
        await users.try_password(store, "vanthu", "sai")
    clock.now += users.LOCKOUT_MS  # type: ignore[attr-defined]
    attempt = await users.try_password(store, "vanthu", "sai")
    assert (attempt.outcome, attempt.counted) == (users.LoginOutcome.WRONG, True)
    async with store.read() as conn:
        user = await users.get_user(conn, "vanthu")
    assert user is not None and (user.failed_logins, user.locked_until) == (1, None)


async def test_unlock_ends_a_lock_and_is_audited(store: Store) -> None:
    """An administrator's unlock lets the right password in at once."""
    await _add(store)
    for _ in range(users.MAX_FAILED_LOGINS):
        await users.try_password(store, "vanthu", "sai")
    async with store.write() as tx:
        unlocked = await users.unlock_user(tx, "vanthu", actor="qt", at=store.now())
    assert (unlocked.failed_logins, unlocked.locked_until) == (0, None)
    assert await users.check_password(store, "vanthu", "mật khẩu đúng") is not None
    assert await _audit_actions(store, "user.unlock") == [("qt", "vanthu")]
    with pytest.raises(NotFound):
        async with store.write() as tx:
            await users.unlock_user(tx, "nobody", actor="qt", at=store.now())


async def test_reset_password_unlocks_and_ends_sessions(store: Store) -> None:
    """A reset password replaces the old one, clears a lock, ends every session of the
    account (not others'), and is audited without the password."""
    await _add(store)
    await _add(store, "lanhdao", role="leader")
    async with store.write() as tx:
        mine = await users.create_session(tx, "vanthu", at=store.now(), ttl_ms=10**6)
        other = await users.create_session(tx, "lanhdao", at=store.now(), ttl_ms=10**6)
    for _ in range(users.MAX_FAILED_LOGINS):
        await users.try_password(store, "vanthu", "sai")
    ended = await users.set_password(store, "vanthu", "mật khẩu mới dài", actor="qt", **FAST)
    assert ended == 1
    assert await users.check_password(store, "vanthu", "mật khẩu đúng") is None
    assert await users.check_password(store, "vanthu", "mật khẩu mới dài") is not None
    async with store.read() as conn:
        assert await users.get_session(conn, mine.token, now=store.now()) is None
        assert await users.get_session(conn, other.token, now=store.now()) is not None
        details = await conn.fetchone(
            "SELECT details FROM audit_log WHERE action = 'user.password'"
        )
    assert "mới" not in details[0] and "argon2" not in details[0]
    with pytest.raises(StoreError, match="at least"):
        await users.set_password(store, "vanthu", "ngan", actor="qt", **FAST)
    with pytest.raises(NotFound):
        await users.set_password(store, "nobody", "mật khẩu mới dài", actor="qt", **FAST)


async def test_a_disabled_account_cannot_sign_in_until_enabled(store: Store) -> None:
    """Disabling ends the account's sessions and refuses even the right password, without
    counting it; enabling lets it sign in again; both are audited."""
    await _add(store)
    async with store.write() as tx:
        session = await users.create_session(tx, "vanthu", at=store.now(), ttl_ms=10**6)
        assert await users.set_disabled(tx, "vanthu", True, actor="qt", at=store.now()) == 1
    attempt = await users.try_password(store, "vanthu", "mật khẩu đúng")
    assert (attempt.outcome, attempt.user, attempt.counted) == (
        users.LoginOutcome.DISABLED,
        None,
        False,
    )
    async with store.read() as conn:
        assert await users.get_session(conn, session.token, now=store.now()) is None
        user = await users.get_user(conn, "vanthu")
    assert user is not None and user.disabled and user.failed_logins == 0
    with pytest.raises(StoreError, match="disabled"):
        async with store.write() as tx:
            await users.create_session(tx, "vanthu", at=store.now(), ttl_ms=10)
    async with store.write() as tx:
        assert await users.set_disabled(tx, "vanthu", False, actor="cli", at=store.now()) == 0
    assert await users.check_password(store, "vanthu", "mật khẩu đúng") is not None
    assert await _audit_actions(store, "user.disable") == [("qt", "vanthu")]
    assert await _audit_actions(store, "user.enable") == [("cli", "vanthu")]
    with pytest.raises(NotFound):
        async with store.write() as tx:
            await users.set_disabled(tx, "nobody", True, actor="qt", at=store.now())
