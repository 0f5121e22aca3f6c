"""The admin's users page (accounts listed, unlocked, reset, disabled, enabled) and the health
page's last directory time."""

from __future__ import annotations

import nacl.pwhash.argon2id as argon2id

from lienthong.node.times import dmy_time
from lienthong.storage.directory import save_directory
from lienthong.storage.users import (
    MAX_FAILED_LOGINS,
    add_user,
    get_user,
    list_users,
    record_failed_login,
)
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
    assert f"<dd>{dmy_time(fetched_at)}</dd>" in html  # 24/11/2025 15:00, in English too
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


async def _audit(ctx, action: str) -> list[tuple[str, str]]:
    async with ctx.store.read() as conn:
        rows = await conn.fetchall(
            "SELECT actor, subject FROM audit_log WHERE action = ? ORDER BY seq", (action,)
        )
    return [tuple(row) for row in rows]


async def _post_user(client, op: str, username: str, **fields):
    token = await support.page_csrf(client, "/admin/users")
    data = {"csrf": token, "op": op, "username": username, **fields}
    response = await client.post("/admin/users", data=data)
    return response.status, await response.text()


async def test_admin_unlocks_a_locked_account_on_the_users_page(units, make_client):
    """The Unlock button shows on a locked row only; it lets the right password in at once
    and is audited with the administrator as actor."""
    ctx = units[A]
    for _ in range(MAX_FAILED_LOGINS):
        async with ctx.store.write() as tx:
            await record_failed_login(tx, "ld", at=ctx.clock())
    admin = await make_client(ctx)
    await login(admin, "qt")
    html = await (await admin.get("/admin/users")).text()
    assert html.count('name="op" value="unlock"') == 1
    assert (await login(await make_client(ctx), "ld")).status == 401
    status, html = await _post_user(admin, "unlock", "ld")
    assert status == 200 and "Đã mở khóa tài khoản ld." in html
    assert (await login(await make_client(ctx), "ld")).status == 303
    assert await _audit(ctx, "user.unlock") == [("qt", "ld")]


async def test_admin_disables_an_account_its_session_ends_and_enables_it(units, make_client):
    """A disabled clerk's open session ends at once and the right password is refused
    with a message saying why; enabling lets the clerk in again; the admin cannot disable
    their own account; every change is audited."""
    ctx = units[A]
    clerk = await make_client(ctx)
    assert (await login(clerk, "vt")).status == 303
    admin = await make_client(ctx)
    await login(admin, "qt")
    html = await (await admin.get("/admin/users")).text()
    own_row = html[html.index('<td class="code">qt</td>') :].split("</tr>")[0]
    assert 'value="disable"' not in own_row
    status, html = await _post_user(admin, "disable", "vt")
    assert status == 200 and "Đã vô hiệu hóa tài khoản vt" in html
    row = html[html.index('<td class="code">vt</td>') :].split("</tr>")[0]
    assert "Đã vô hiệu hóa" in row and 'value="enable"' in row
    response = await clerk.get("/", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login")
    refused = await login(clerk, "vt")
    assert refused.status == 401 and "đã bị vô hiệu hóa" in await refused.text()
    status, html = await _post_user(admin, "disable", "qt")
    assert status == 400 and "Không thể tự vô hiệu hóa" in html
    status, _ = await _post_user(admin, "enable", "vt")
    assert status == 200
    assert (await login(clerk, "vt")).status == 303
    assert await _audit(ctx, "user.disable") == [("qt", "vt")]
    assert await _audit(ctx, "user.enable") == [("qt", "vt")]


async def test_admin_resets_a_password_which_ends_the_sessions(units, make_client):
    """A reset needs the new password twice and long enough; then the old password is
    refused, the new one signs in, and the account's open session has ended."""
    ctx = units[A]
    clerk = await make_client(ctx)
    assert (await login(clerk, "vt")).status == 303
    admin = await make_client(ctx)
    await login(admin, "qt")
    new = "mat-khau-moi-rat-dai"
    status, html = await _post_user(admin, "reset", "vt", password=new, password2=new + "x")
    assert status == 400 and "Hai mật khẩu không khớp." in html
    status, html = await _post_user(admin, "reset", "vt", password="ngan", password2="ngan")
    assert status == 400 and "Mật khẩu cần ít nhất" in html
    status, html = await _post_user(admin, "reset", "nobody", password=new, password2=new)
    assert status == 400 and "Không có tài khoản nobody." in html
    status, html = await _post_user(admin, "reset", "vt", password=new, password2=new)
    assert status == 200 and "Đã đặt lại mật khẩu của vt" in html
    assert (await clerk.get("/", allow_redirects=False)).status == 303
    assert (await login(clerk, "vt", PASSWORD)).status == 401
    assert (await login(clerk, "vt", new)).status == 303
    assert await _audit(ctx, "user.password") == [("qt", "vt")]


async def test_account_actions_need_the_csrf_token_and_the_admin_role(units, make_client):
    """Unlock, reset, disable and enable are POSTs refused without the session's CSRF token
    or by a clerk; nothing changes."""
    ctx = units[A]
    admin = await make_client(ctx)
    await login(admin, "qt")
    clerk = await make_client(ctx)
    await login(clerk, "vt")
    clerk_token = await support.page_csrf(clerk, "/")
    for op in ("unlock", "reset", "disable", "enable"):
        forged = {"csrf": "forged", "op": op, "username": "ld", "password": "x" * 20}
        assert (await admin.post("/admin/users", data=forged)).status == 403
        forged["csrf"] = clerk_token
        assert (await clerk.post("/admin/users", data=forged)).status == 403
    async with ctx.store.read() as conn:
        user = await get_user(conn, "ld")
    assert not user.disabled
    assert (await login(await make_client(ctx), "ld")).status == 303
    for action in ("user.unlock", "user.password", "user.disable", "user.enable"):
        assert await _audit(ctx, action) == []
