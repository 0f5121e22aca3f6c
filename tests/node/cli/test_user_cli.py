"""`lienthong user unlock|reset-password|disable|enable` on a real data directory."""

import asyncio
import subprocess
import sys

import pytest

from lienthong.node.cli.main import main
from lienthong.storage.db import Store
from lienthong.storage.users import (
    MAX_FAILED_LOGINS,
    LoginOutcome,
    create_session,
    get_session,
    get_user,
    record_failed_login,
    try_password,
)

CODE = "000.00.02.H53"
OLD, NEW = "mat-khau-cu-rat-dai", "mat-khau-moi-rat-dai"


async def cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


@pytest.fixture
async def node(tmp_path):
    """A node with the clerk account vt (password OLD)."""
    data = tmp_path / "node"
    assert await cli("init", "--data-dir", str(data), "--code", CODE, "--name", "Sở Nội vụ") == 0
    secret = tmp_path / "pw"
    secret.write_text(OLD + "\n")
    user = ("--data-dir", str(data), "--username", "vt")
    assert await cli("user", "add", *user, "--role", "clerk", "--password-file", str(secret)) == 0
    return data


async def _audit(store: Store, action: str) -> list[tuple[str, str]]:
    async with store.read() as conn:
        rows = await conn.fetchall(
            "SELECT actor, subject FROM audit_log WHERE action = ? ORDER BY seq", (action,)
        )
    return [tuple(row) for row in rows]


async def test_user_unlock_ends_a_lockout(node):
    """A locked clerk signs in again after `user unlock`, which the audit log records."""
    async with await Store.open(node / "store.sqlite3") as store:
        for _ in range(MAX_FAILED_LOGINS):
            async with store.write() as tx:
                await record_failed_login(tx, "vt", at=store.now())
        locked = await try_password(store, "vt", OLD)
    assert locked.outcome is LoginOutcome.LOCKED
    assert await cli("user", "unlock", "--data-dir", str(node), "--username", "vt") == 0
    async with await Store.open(node / "store.sqlite3") as store:
        assert (await try_password(store, "vt", OLD)).outcome is LoginOutcome.OK
        assert await _audit(store, "user.unlock") == [("cli", "vt")]


async def test_user_reset_password_reads_standard_input_and_ends_sessions(node):
    """`reset-password --password-file -` takes the password piped in (never an argument):
    the old password stops working, the new one works, the open session has ended."""
    async with await Store.open(node / "store.sqlite3") as store, store.write() as tx:
        session = await create_session(tx, "vt", at=store.now(), ttl_ms=10**7)
    args = ["user", "reset-password", "--data-dir", str(node), "--username", "vt"]
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "lienthong.node.cli", *args, "--password-file", "-"],
        input=NEW + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "1 session(s) ended" in result.stdout
    async with await Store.open(node / "store.sqlite3") as store:
        assert (await try_password(store, "vt", OLD)).outcome is LoginOutcome.WRONG
        assert (await try_password(store, "vt", NEW)).outcome is LoginOutcome.OK
        async with store.read() as conn:
            assert await get_session(conn, session.token, now=store.now()) is None
        assert await _audit(store, "user.password") == [("cli", "vt")]
    with pytest.raises(SystemExit) as refused:  # argparse: no such option, not even abbreviated
        await cli(*args, "--password", NEW)
    assert refused.value.code == 2


async def test_user_disable_then_enable(node):
    """A disabled account is refused even with its password and loses its session;
    enabled again it signs in; an unknown name is an error naming it."""
    async with await Store.open(node / "store.sqlite3") as store, store.write() as tx:
        session = await create_session(tx, "vt", at=store.now(), ttl_ms=10**7)
    user = ("--data-dir", str(node), "--username", "vt")
    assert await cli("user", "disable", *user) == 0
    async with await Store.open(node / "store.sqlite3") as store:
        assert (await try_password(store, "vt", OLD)).outcome is LoginOutcome.DISABLED
        async with store.read() as conn:
            assert await get_session(conn, session.token, now=store.now()) is None
            assert (await get_user(conn, "vt")).disabled
    assert await cli("user", "enable", *user) == 0
    async with await Store.open(node / "store.sqlite3") as store:
        assert (await try_password(store, "vt", OLD)).outcome is LoginOutcome.OK
        assert await _audit(store, "user.disable") == [("cli", "vt")]
        assert await _audit(store, "user.enable") == [("cli", "vt")]
    unknown = ["user", "disable", "--data-dir", str(node), "--username", "nobody"]
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "lienthong.node.cli", *unknown],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "no user 'nobody'" in result.stderr and "Traceback" not in result.stderr
