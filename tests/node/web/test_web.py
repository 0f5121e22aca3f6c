"""The clerk's page over real stores: accounts, CSRF, roles, pages in both languages."""

import asyncio
import re

from lienthong.node.web import auth, i18n
from lienthong.node.web.base import SETTINGS
from lienthong.storage.users import LOCKOUT_MS, MAX_FAILED_LOGINS, get_user
from tests.node.helpers import DAY
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import PASSWORD, A, csrf_of, login, page_csrf

units, make_client = support.units, support.make_client

TEMPLATES = auth.__file__.rsplit("/", 1)[0] + "/templates"


async def test_no_session_redirects_to_login(units, make_client):
    """A page without a session goes to the login page; a POST without one is refused."""
    client = await make_client(units[A])
    response = await client.get("/outbox", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/outbox"
    response = await client.post("/logout", data={"csrf": "x"}, allow_redirects=False)
    assert response.status == 403


async def test_login_sets_a_strict_http_only_cookie(units, make_client):
    """A right password opens a session cookie that scripts cannot read or other sites send."""
    client = await make_client(units[A])
    response = await login(client, "vt")
    assert response.status == 303
    cookie = response.cookies[auth.SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    page = await client.get("/")
    assert page.status == 200
    assert "Văn bản đến" in await page.text()


async def test_wrong_passwords_wait_longer_then_lock(units, make_client):
    """Each wrong password waits longer; after MAX_FAILED_LOGINS even the right one is refused."""
    client = await make_client(units[A])
    for _ in range(MAX_FAILED_LOGINS):
        response = await login(client, "vt", "sai-mat-khau")
        assert response.status == 401
    delays = client.server.app[SETTINGS].sleep.seen
    assert delays == [auth.login_delay(n) for n in range(1, MAX_FAILED_LOGINS + 1)]
    assert delays == sorted(delays) and delays[0] < delays[-1]
    response = await login(client, "vt", PASSWORD)
    assert response.status == 401
    assert "bị khóa" in await response.text()
    units[A].clock.advance(DAY)
    assert (await login(client, "vt", PASSWORD)).status == 303


async def test_parallel_wrong_passwords_count_at_most_the_limit_then_lock(units, make_client):
    """40 wrong passwords sent at once over a real socket: at most MAX_FAILED_LOGINS are
    answered as tries, the account is locked once and stays locked (a guess finishing after
    the lock neither counts nor clears it), and the right password is refused while locked."""
    client = await make_client(units[A])
    token = csrf_of(await (await client.get("/login")).text())

    async def guess(password: str):
        response = await client.post(
            "/login",
            data={"csrf": token, "username": "vt", "password": password, "next": "/"},
            allow_redirects=False,
        )
        return response.status, await response.text()

    answers = await asyncio.gather(*(guess(f"sai-mat-khau-{n}") for n in range(40)))
    tried = i18n.translate("vi", "login.failed_count", max=MAX_FAILED_LOGINS)
    locked = i18n.translate("vi", "login.locked", minutes=LOCKOUT_MS // 60_000)
    assert all(status == 401 for status, _ in answers)
    tries = sum(tried in text for _, text in answers)
    assert tries <= MAX_FAILED_LOGINS - 1  # the try that locks is answered "locked"
    assert sum(locked in text for _, text in answers) == 40 - tries
    async with units[A].store.read() as conn:
        user = await get_user(conn, "vt")
        locks = await conn.fetchone("SELECT count(*) FROM audit_log WHERE action = 'user.locked'")
    assert user.locked(units[A].clock()) and locks[0] == 1
    status, text = await guess(PASSWORD)
    assert status == 401 and locked in text
    units[A].clock.advance(LOCKOUT_MS)
    assert (await login(client, "vt", PASSWORD)).status == 303


async def test_login_without_its_csrf_cookie_is_refused(units, make_client):
    """The login form's double-submit token must match its cookie."""
    client = await make_client(units[A])
    response = await client.post(
        "/login", data={"csrf": "forged", "username": "vt", "password": PASSWORD}
    )
    assert response.status == 403


async def test_post_without_a_valid_csrf_token_is_refused(units, make_client):
    """Every form post needs the session's CSRF token: missing or wrong gives 403."""
    client = await make_client(units[A])
    await login(client, "vt")
    data = {"arrived_on": "2025-11-24", "subject": "x"}
    assert (await client.post("/paper/incoming", data=data)).status == 403
    assert (await client.post("/paper/incoming", data=data | {"csrf": "wrong"})).status == 403
    assert (await client.post("/logout", data={"csrf": "wrong"})).status == 403


async def test_logout_ends_the_session(units, make_client):
    """After signing out the old cookie opens nothing."""
    client = await make_client(units[A])
    await login(client, "vt")
    token = await page_csrf(client)
    response = await client.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert response.status == 303
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_session_expires(units, make_client):
    """A session older than SESSION_TTL_MS no longer opens pages."""
    client = await make_client(units[A])
    await login(client, "vt")
    assert (await client.get("/", allow_redirects=False)).status == 200
    units[A].clock.advance(auth.SESSION_TTL_MS + 1)
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_roles_limit_pages(units, make_client):
    """A clerk cannot reach admin pages, a leader cannot compose, an admin manages users."""
    client = await make_client(units[A])
    await login(client, "vt")
    assert (await client.get("/admin/users")).status == 403
    assert (await client.get("/compose")).status == 200
    leader = await make_client(units[A])
    await login(leader, "ld")
    assert (await leader.get("/compose")).status == 403
    assert (await leader.get("/paper")).status == 403
    admin = await make_client(units[A])
    await login(admin, "qt")
    assert (await admin.get("/admin/users")).status == 200


async def test_admin_adds_a_user_who_can_sign_in(units, make_client):
    """The users page creates an account through storage.users; the new clerk signs in."""
    admin = await make_client(units[A])
    await login(admin, "qt")
    token = await page_csrf(admin, "/admin/users")
    form = {
        "csrf": token,
        "op": "add",
        "username": "vt2",
        "display_name": "Nguyễn Thị <b>Lan</b>",
        "role": "clerk",
        "password": "mot-mat-khau-moi",
        "password2": "mot-mat-khau-moi",
    }
    response = await admin.post("/admin/users", data=form)
    assert response.status == 200
    assert "Đã tạo tài khoản vt2" in await response.text()
    clerk = await make_client(units[A])
    assert (await login(clerk, "vt2", "mot-mat-khau-moi")).status == 303
    page = await (await clerk.get("/")).text()
    assert "Nguyễn Thị &lt;b&gt;Lan&lt;/b&gt;" in page


PAGES_VI_EN = {
    "/": ("Văn bản đến", "Incoming documents"),
    "/outbox": ("Văn bản đi", "Outgoing documents"),
    "/compose": ("Tất cả đơn vị", "All units"),
    "/registers": ("Sổ đăng ký văn bản đến năm", "Incoming register"),
    "/registers?kind=outgoing": ("Sổ đăng ký văn bản đi năm", "Outgoing register"),
    "/paper": ("Nhập văn bản giấy", "Paper entry"),
    "/health": ("Danh bạ liên thông", "Federation directory"),
}


async def test_every_page_renders_in_vietnamese_and_english(units, make_client):
    """Vietnamese by default; ?lang=en switches and the choice sticks in a cookie."""
    client = await make_client(units[A])
    await login(client, "vt")
    for path, (vi, _en) in PAGES_VI_EN.items():
        response = await client.get(path)
        assert response.status == 200, path
        assert vi in await response.text(), path
    response = await client.get("/?lang=en")
    assert "Incoming documents" in await response.text()
    for path, (_vi, en) in PAGES_VI_EN.items():
        response = await client.get(path)
        assert response.status == 200, path
        assert en in await response.text(), path
    admin = await make_client(units[A])
    await login(admin, "qt")
    assert "Thêm tài khoản" in await (await admin.get("/admin/users")).text()
    assert "Add an account" in await (await admin.get("/admin/users?lang=en")).text()


async def test_pages_carry_security_headers(units, make_client):
    """No framing, no sniffing, scripts from the node only."""
    client = await make_client(units[A])
    await login(client, "vt")
    response = await client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_word_of_the_templates_is_in_the_catalogue():
    """Each literal key a template asks for exists in both languages."""
    from pathlib import Path

    keys = set()
    for template in Path(TEMPLATES).glob("*.html"):
        keys |= set(re.findall(r"""_\(["']([a-z0-9_.-]+)["']""", template.read_text()))
    keys = {k for k in keys if not k.endswith((".", "_"))}  # prefixes: see the next test
    missing = sorted(k for k in keys if not i18n.has(k))
    assert missing == []
    assert all(vi and en for key, (vi, en) in i18n.CATALOGUE.items() if key != "recall.none")


def test_every_state_code_and_role_has_words():
    """The words built from a prefix (states, deliveries, statuses, roles, levels) all exist."""
    from lienthong.protocol.codes import Confidentiality, StatusCode, Urgency
    from lienthong.protocol.delivery import Delivery
    from lienthong.protocol.states import DocState, RecallState
    from lienthong.storage.users import ROLES

    keys = [f"state.{s.value}" for s in DocState] + [f"delivery.{d.value}" for d in Delivery]
    keys += [f"status.{int(c):02d}" for c in StatusCode] + [f"role.{r}" for r in ROLES]
    keys += [f"recall.{r.value}" for r in RecallState]
    keys += [f"urgency.{u.name.lower()}" for u in Urgency]
    keys += [f"conf.{c.name.lower()}" for c in Confidentiality]
    keys += [f"action.{a}" for a in ("accepted", "rejected", "assigned", "in-progress")]
    keys += ["action.completed", "action.recall", "action.recall-agree", "action.reply"]
    keys += ["reg.title_incoming", "reg.title_outgoing", "action.recall-refuse"]
    assert [k for k in keys if not i18n.has(k)] == []


def test_csrf_of_finds_the_token():
    """The helper reads the hidden field the templates write."""
    assert csrf_of('<input type="hidden" name="csrf" value="abc">') == "abc"


async def test_cli_user_add_creates_an_account_that_signs_in(tmp_path):
    """`lienthong user add --password-file` stores an argon2id hash the login accepts."""
    import asyncio

    from lienthong.node.cli.main import main
    from lienthong.storage.db import Store
    from lienthong.storage.users import check_password

    data = tmp_path / "node"
    assert (
        await asyncio.to_thread(
            main, ["init", "--data-dir", str(data), "--code", A, "--name", "Sở Nội vụ"]
        )
        == 0
    )
    secret = tmp_path / "pw"
    secret.write_text("mot-mat-khau-dai\n")
    args = ["user", "add", "--data-dir", str(data), "--username", "vt", "--role", "clerk"]
    assert await asyncio.to_thread(main, [*args, "--password-file", str(secret)]) == 0
    short = tmp_path / "short"
    short.write_text("ngan\n")
    args[5] = "vt2"
    assert await asyncio.to_thread(main, [*args, "--password-file", str(short)]) == 1
    async with await Store.open(data / "store.sqlite3") as store:
        user = await check_password(store, "vt", "mot-mat-khau-dai")
        assert user is not None and user.role == "clerk"
        assert await check_password(store, "vt2", "ngan") is None
