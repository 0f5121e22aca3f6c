"""The admin's users page (accounts listed) and the health page's last directory time."""

from __future__ import annotations

import nacl.pwhash.argon2id as argon2id

from lienthong.node.times import when
from lienthong.storage.directory import save_directory
from lienthong.storage.users import MAX_FAILED_LOGINS, add_user, list_users, record_failed_login
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import ACCOUNTS, PASSWORD, A, login

units, make_client = support.units, support.make_client


async def test_list_users_returns_every_account_by_username(units):
    """storage.users.list_users gives each account's role and display name, sorted."""
    async with units[A].store.read() as conn:
        users = await list_users(conn)
    assert [u.username for u in users] == sorted(ACCOUNTS)
    assert {u.username: u.role for u in users} == ACCOUNTS
    assert all(u.display_name == f"Người dùng {u.username}" for u in users)
    assert all(u.locked_until is None for u in users)


async def test_users_page_lists_accounts_and_shows_locked_ones(units, make_client):
    """The admin sees each username, role, display name, and which account is locked."""
    ctx = units[A]
    for _ in range(MAX_FAILED_LOGINS):
        async with ctx.store.write() as tx:
            await record_failed_login(tx, "ld", at=ctx.clock())
    client = await make_client(ctx)
    assert (await login(client, "qt")).status == 303
    html = await (await client.get("/admin/users?lang=en")).text()
    assert "Accounts" in html
    for name in ACCOUNTS:
        assert f'<td class="code">{name}</td>' in html
        assert f"Người dùng {name}" in html
    assert "<td>Leader</td>" in html and "<td>Clerk</td>" in html
    assert html.count(">Locked</span>") == 1
    assert html.count(">Active</span>") == 2
    row = html[html.index('<td class="code">ld</td>') :].split("</tr>")[0]
    assert "Locked" in row


async def test_users_page_shows_a_display_name_as_text(units, make_client):
    """Markup in a display name is escaped on the users page, not run."""
    ctx = units[A]
    await add_user(
        ctx.store,
        "evil",
        PASSWORD,
        role="clerk",
        display_name="<script>alert(1)</script>",
        actor="test",
        opslimit=argon2id.OPSLIMIT_MIN,
        memlimit=argon2id.MEMLIMIT_MIN,
    )
    client = await make_client(ctx)
    await login(client, "qt")
    html = await (await client.get("/admin/users")).text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_health_page_shows_when_the_directory_was_last_received(units, make_client):
    """With a cached directory, the health page gives its fetched_at under its label."""
    ctx = units[A]
    directory = ctx.directory.current
    fetched_at = ctx.clock() - 3_600_000
    async with ctx.store.write() as tx:
        await save_directory(
            tx,
            directory.version,
            directory.raw,
            directory.issued_at,
            directory.expires_at,
            fetched_at,
        )
    client = await make_client(ctx)
    await login(client, "vt")
    response = await client.get("/health?lang=en")
    html = await response.text()
    assert response.status == 200
    assert "Last directory from the centre or a peer" in html
    assert f"<dd>{when(fetched_at)}</dd>" in html
    assert "Never received" not in html


async def test_health_page_says_no_directory_was_ever_received(units, make_client):
    """Without a cached directory the health page still renders and says so, in Vietnamese."""
    client = await make_client(units[A])
    await login(client, "vt")
    response = await client.get("/health")
    html = await response.text()
    assert response.status == 200
    assert "Danh bạ nhận gần nhất từ Trung tâm hoặc đơn vị khác" in html
    assert "Chưa nhận lần nào" in html
