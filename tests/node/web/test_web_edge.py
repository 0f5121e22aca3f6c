"""The clerk's page at its edge: Host names (DNS rebinding), Secure cookies behind a TLS
reverse proxy, and a full disk shown as a page in the clerk's language."""

from __future__ import annotations

import nacl.pwhash.argon2id as argon2id
import pytest

from lienthong.crypto.keys import NodeKeys
from lienthong.node.web import auth, i18n
from lienthong.node.web.edge import host_name
from lienthong.storage.users import add_user
from tests.full_disk import small_disk
from tests.node.helpers import Clock, make_context, make_directory
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import PASSWORD, A, login

units, make_client = support.units, support.make_client


async def test_a_host_the_page_is_not_for_is_refused_with_421(units, make_client):
    """DNS rebinding: a page reached under another site's name (its DNS made to answer
    127.0.0.1) is refused before any route, /metrics and the login page included; the
    loopback names, node.web's host and web.allowed_hosts are served."""
    ctx = units[A]
    ctx.config.values["web"]["allowed_hosts"] = ["vanban.sct.tayninh.gov.vn"]
    client = await make_client(ctx)
    for host in ("evil.example", "evil.example:8080", "127.0.0.1.evil.example", "a:b:c", "x:8o"):
        for path in ("/login", "/metrics", "/"):
            response = await client.get(path, headers={"Host": host}, allow_redirects=False)
            assert response.status == 421, (host, path)
    text = await response.text()
    assert "không phục vụ tên máy chủ" in text
    served = (
        "127.0.0.1",
        "127.0.0.1:8080",
        "localhost:8080",
        "LOCALHOST",
        "[::1]:8080",
        "vanban.sct.tayninh.gov.vn",
        "VanBan.SCT.TayNinh.gov.vn.:443",
    )
    for host in served:
        response = await client.get("/login", headers={"Host": host})
        assert response.status == 200, host
    assert host_name("") is None and host_name("[::1") is None and host_name(":80") is None


async def test_cookies_are_secure_behind_a_tls_proxy_and_not_over_plain_http(units, make_client):
    """With web.behind_tls_proxy the login form's, the session's and the language cookie
    carry Secure (the browser reached the page over HTTPS at the proxy); without it, on
    plain HTTP to 127.0.0.1, they do not (a browser would then never send them back)."""
    plain = await make_client(units[A])
    response = await login(plain, "vt")
    assert response.status == 303
    assert not response.cookies[auth.SESSION_COOKIE]["secure"]
    units[A].config.values["web"]["behind_tls_proxy"] = True
    proxied = await make_client(units[A])
    # The test client, like a browser, keeps Secure cookies from plain HTTP: send them by hand,
    # as the browser does over HTTPS at the proxy.
    page = await proxied.get("/login")
    form_cookie = page.cookies[auth.LOGIN_CSRF_COOKIE]
    assert form_cookie["secure"] is True
    response = await proxied.post(
        "/login",
        data={"csrf": form_cookie.value, "username": "vt", "password": PASSWORD, "next": "/"},
        headers={"Cookie": f"{auth.LOGIN_CSRF_COOKIE}={form_cookie.value}"},
        allow_redirects=False,
    )
    assert response.status == 303
    session = response.cookies[auth.SESSION_COOKIE]
    assert session["secure"] is True and session["httponly"] is True
    english = await proxied.get(
        "/?lang=en", headers={"Cookie": f"{auth.SESSION_COOKIE}={session.value}"}
    )
    assert english.status == 200
    assert english.cookies[auth.LANG_COOKIE]["secure"] is True


@pytest.mark.small_disk
async def test_a_full_disk_shows_the_clerk_a_page_not_a_500(tmp_path, make_client):
    """On a full disk (a filled tmpfs) signing in cannot write its session: the clerk gets a
    507 page saying so in Vietnamese (English with the switch), no 500; once space is freed
    the same sign-in works."""
    keys = NodeKeys.generate()
    directory = make_directory(NodeKeys.generate(), {A: keys})
    with small_disk(tmp_path / "disk") as disk:
        ctx = await make_context(disk.path, A, keys, directory, Clock())
        try:
            await add_user(
                ctx.store,
                "vt",
                PASSWORD,
                role="clerk",
                display_name="Văn thư",
                actor="test",
                opslimit=argon2id.OPSLIMIT_MIN,
                memlimit=argon2id.MEMLIMIT_MIN,
            )
            client = await make_client(ctx)
            disk.fill()
            response = await login(client, "vt")
            assert response.status == 507
            text = await response.text()
            vietnamese = i18n.translate("vi", "error.disk_full", path=ctx.config.data_dir)
            assert vietnamese.split("(")[0] in text and str(ctx.config.data_dir) in text
            assert "Traceback" not in text
            english = await client.get("/login?lang=en")
            assert english.status == 200  # reading needs no room
            response = await login(client, "vt")
            assert response.status == 507
            assert "The disk holding this office" in await response.text()
            disk.free()
            response = await login(client, "vt")
            assert response.status == 303
            assert (await client.get("/")).status == 200
        finally:
            await ctx.store.close()
