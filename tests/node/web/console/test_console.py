"""The centre's console with aiohttp's test client over a real centre (made by `centre init`):
who reaches it, adding a unit (token once, printable sheet), new token, approval, revocation,
CSRF, markup in unit names shown as text, the statistics' SVG charts and the pilot CSV."""

from __future__ import annotations

import csv
import io
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import nacl.pwhash.argon2id as argon2id
import pytest
from aiohttp.test_utils import TestClient, TestServer

from lienthong.crypto.keys import fingerprint
from lienthong.node.centre import rules as service
from lienthong.node.centre.rules import Centre, centre_of
from lienthong.node.centre.setup import create_centre
from lienthong.node.context import NodeContext
from lienthong.node.runtime import Node
from lienthong.node.web import create_web_app
from lienthong.node.web.console import charts
from lienthong.protocol.report import DELIVERY_BUCKETS, DayFigures, Report, day_of
from lienthong.storage import audit
from lienthong.storage.centre import get_token
from lienthong.storage.db import Store
from lienthong.storage.reports import save_report
from lienthong.storage.users import add_user
from tests.node.centre_support import (
    CENTRE_NAME,
    UNIT_A,
    UNIT_B,
    FakeClock,
    UnitSide,
    centre_context,
)
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import PASSWORD, A, Delays, csrf_of, login, page_csrf

units, make_client = support.units, support.make_client

EVIL = '<script>alert("x")</script> Sở & Co'
TOKEN = re.compile(r'id="sheet-token">([^<]+)<')
HOUR = 3_600_000


@dataclass
class CentreSite:
    ctx: NodeContext
    centre: Centre
    client: TestClient
    clock: FakeClock

    async def sign_in(self, username: str = "qt") -> None:
        assert (await login(self.client, username)).status == 303

    async def add(self, code: str, name: str, state: str = "Thử nghiệm", **extra: str):
        csrf = await page_csrf(self.client, "/centre")
        data = {"csrf": csrf, "code": code, "name": name, "state": state, **extra}
        return await self.client.post("/centre/units", data=data, allow_redirects=False)


async def _centre(tmp_path: Path, clock: FakeClock, **options) -> tuple[NodeContext, Store]:
    data_dir = tmp_path / "centre"
    ctx = await centre_context(data_dir, clock, blobs=data_dir / "blobs", **options)
    store = ctx.store
    for name, role in (("qt", "admin"), ("vt", "clerk"), ("ld", "leader")):
        await add_user(
            store, name, PASSWORD, role=role, display_name=f"Người dùng {name}", actor="test",
            opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN,
        )  # fmt: skip
    return ctx, store


@pytest.fixture
async def make_site(tmp_path) -> AsyncIterator:
    opened: list[tuple[Store, TestClient]] = []

    async def make(**options) -> CentreSite:
        clock = FakeClock()
        ctx, store = await _centre(tmp_path / str(len(opened)), clock, **options)
        client = TestClient(TestServer(create_web_app(ctx, sleep=Delays())))
        await client.start_server()
        opened.append((store, client))
        return CentreSite(ctx, centre_of(ctx), client, clock)

    yield make
    for store, client in opened:
        await client.close()
        await store.close()


@pytest.fixture
async def site(make_site) -> CentreSite:
    return await make_site()


async def test_only_an_admin_of_the_centre_reaches_the_console(site, units, make_client):
    """Clerk and leader at the centre, and an admin at a unit, get 403; the link is theirs only."""
    pages = ("/centre", "/centre/stats", "/centre/report", "/centre/report.csv")
    for name in ("vt", "ld"):
        client = TestClient(TestServer(create_web_app(site.ctx, sleep=Delays())))
        await client.start_server()
        try:
            assert (await login(client, name)).status == 303
            for path in (*pages, "/centre/units/000.00.05.H53/revoke"):
                response = await client.get(path)
                assert response.status == 403, path
                assert "không có quyền" in await response.text()
            assert 'href="/centre"' not in await (await client.get("/")).text()
            csrf = await page_csrf(client, "/")
            response = await client.post(
                "/centre/units", data={"csrf": csrf, "code": UNIT_A[0], "name": "x"}
            )
            assert response.status == 403
        finally:
            await client.close()
    assert UNIT_A[0] not in {u.code for u in await site.centre.units()}
    unit_admin = await make_client(units[A])
    assert (await login(unit_admin, "qt")).status == 303
    assert (await unit_admin.get("/centre")).status == 403
    assert 'href="/centre"' not in await (await unit_admin.get("/")).text()
    await site.sign_in()
    page = await site.client.get("/centre")
    assert page.status == 200
    html = await page.text()
    assert 'href="/centre"' in html and site.centre.fingerprint in html


async def test_without_a_session_the_console_redirects_to_login(site):
    """No session: GET goes to the login page, POST is refused."""
    response = await site.client.get("/centre/report", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login?next=/centre/report"
    response = await site.client.post("/centre/units", data={"code": UNIT_A[0]})
    assert response.status == 403


async def test_adding_a_unit_shows_its_token_once_on_a_printable_sheet(site):
    """The sheet gives unit, code, centre URL, fingerprint, token, the enrol command, expiry;
    the token works at the centre, and no other page shows it again."""
    await site.sign_in()
    response = await site.add(*UNIT_A, state="Đã triển khai")
    assert response.status == 200
    html = await response.text()
    token = TOKEN.search(html).group(1)
    token_id = token.split(".")[0]
    async with site.ctx.store.read() as conn:
        assert (await get_token(conn, token_id)).code == UNIT_A[0]
    enrol = (
        f"lienthong enrol --centre {site.centre.url}"
        f" --fingerprint {site.centre.fingerprint} --token {token}"
    )
    assert enrol in html
    assert UNIT_A[1] in html and site.centre.url in html and "Hết hạn" in html
    # No --data-dir: each platform's own location, both named on the sheet.
    assert "--data-dir /" not in html and r"C:\ProgramData\lienthong (Windows)" in html
    assert 'id="print-sheet"' in html and "/static/centre.js" in html
    console = await (await site.client.get("/centre")).text()
    assert token not in console and token_id not in console
    assert UNIT_A[0] in console and "Chờ đăng ký" in console and "Đã triển khai" in console
    issued = await site.centre.enrol(UnitSide(*UNIT_A).request(token))
    assert isinstance(issued, service.Issued)
    async with site.ctx.store.read() as conn:
        entries = await audit.entries(conn, limit=100)
    assert any(e.action == "unit.added" and e.actor == "web:qt" for e in entries)


async def test_adding_twice_or_a_bad_code_is_refused_with_a_message(site):
    """The service's refusals come back on the console: 409 for a registered unit, 400 for a
    code off the pattern; the form keeps what was typed."""
    await site.sign_in()
    assert (await site.add(*UNIT_A)).status == 200
    again = await site.add(*UNIT_A)
    assert again.status == 409
    text = await again.text()
    assert f"Đơn vị {UNIT_A[0]} đã có trong danh sách" in text
    assert "enrolment" not in text  # the centre's English stays in its log
    bad = await site.add("12.34", "Sở Xây dựng")
    html = await bad.text()
    assert bad.status == 400 and "000.00.05.H53" in html and 'value="Sở Xây dựng"' in html
    assert [u.code for u in await site.centre.units()] == sorted([site.ctx.config.code, UNIT_A[0]])


async def test_a_post_without_its_csrf_token_changes_nothing(site):
    """Adding or revoking without the session's CSRF token: 403, nothing done."""
    await site.sign_in()
    response = await site.client.post("/centre/units", data={"code": UNIT_A[0], "name": "x"})
    assert response.status == 403
    response = await site.client.post(
        "/centre/units", data={"csrf": "forged", "code": UNIT_A[0], "name": "x"}
    )
    assert response.status == 403
    await site.centre.add_unit(*UNIT_B)
    response = await site.client.post(f"/centre/units/{UNIT_B[0]}/revoke", data={})
    assert response.status == 403
    assert {u.code: u.status for u in await site.centre.units()}[UNIT_B[0]] == "pending"


async def test_markup_in_a_unit_name_is_shown_as_text_everywhere(site):
    """A unit name with a script tag is escaped on the console, sheet, charts and report."""
    await site.sign_in()
    sheet = await (await site.add(UNIT_A[0], EVIL)).text()
    assert "<script>alert" not in sheet and "&lt;script&gt;alert" in sheet
    today = day_of(site.clock())
    async with site.ctx.store.write() as tx:
        report = Report(UNIT_A[0], 2, site.clock(), "0.1.0", 1, (DayFigures(today, sent=2),))
        await save_report(tx, report, b"raw", received_at=site.clock())
    for path in ("/centre", "/centre/stats", "/centre/report"):
        html = await (await site.client.get(path)).text()
        assert "<script>alert" not in html, path
        assert "&lt;script&gt;alert" in html, path


def _histogram(**buckets: int) -> tuple[int, ...]:
    counts = [0] * DELIVERY_BUCKETS
    for name, count in buckets.items():
        counts[int(name[1:])] = count
    return tuple(counts)


async def _pilot(site: CentreSite) -> str:
    """Two units that reported: A sent 7 (two days), B received 5 and left 3 unprocessed."""
    await site.centre.add_unit(*UNIT_A)
    await site.centre.add_unit("000.00.04.H53", '=HYPERLINK("x") Sở Y tế', state="Thử nghiệm")
    today = day_of(site.clock())
    yesterday = day_of(site.clock() - 24 * HOUR)
    a_days = (
        DayFigures(yesterday, sent=3, failures=1, delivery=_histogram(b0=2)),
        DayFigures(today, sent=4, delivery=_histogram(b1=2, b4=1)),
    )
    b_days = (DayFigures(today, received=5),)
    async with site.ctx.store.write() as tx:
        for code, days, open_ in ((UNIT_A[0], a_days, 0), ("000.00.04.H53", b_days, 3)):
            report = Report(code, 2, site.clock(), "0.1.0", open_, days)
            await save_report(tx, report, code.encode(), received_at=site.clock())
    return today


async def test_the_statistics_draw_three_svg_charts(site):
    """Documents per unit per day, delivery-time histogram and failures per day, as SVG."""
    today = await _pilot(site)
    await site.sign_in()
    html = await (await site.client.get("/centre/stats")).text()
    assert html.count("<svg") == 3
    for chart in ("chart-documents", "chart-times", "chart-failures"):
        assert f'id="{chart}"' in html
    assert f"Sở Nội vụ ({UNIT_A[0]}), ngày {today[8:]}/{today[5:7]}: 4 văn bản" in html
    assert 'class="heat heat-4"' in html and 'class="bar bad"' in html
    assert re.search(r'<span class="value" id="total-sent">7</span>', html)
    assert "1–5 giây" in html and "≥ 24 giờ" in html
    english = await (await site.client.get("/centre/stats?lang=en")).text()
    assert "Documents sent per unit per day" in english and "1–5 s" in english


async def test_the_pilot_report_and_its_csv(site):
    """Per unit: sent, received, median, open documents, failures; CSV in UTF-8 with a BOM."""
    await _pilot(site)
    await site.sign_in()
    html = await (await site.client.get("/centre/report")).text()
    assert "Báo cáo kết quả thí điểm" in html and 'id="report-csv"' in html
    row = html[html.index(f'<td class="code" data-label="Mã định danh">{UNIT_A[0]}') :]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.split("</tr>")[0])
    assert cells[3:8] == ["7", "0", "2 giây", "0", "1"]  # median of 2, 2, 1 in buckets 0, 1, 4
    response = await site.client.get("/centre/report.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "bao-cao-thi-diem-" in response.headers["Content-Disposition"]
    body = await response.read()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Mã định danh", "Tên đơn vị", "Tình trạng triển khai"]
    by_code = {r[0]: r for r in rows[1:]}
    assert by_code[UNIT_A[0]][3:8] == ["7", "0", "2.0", "0", "1"]
    y_te = by_code["000.00.04.H53"]
    assert y_te[1].startswith("'=HYPERLINK") and y_te[2] == "Thử nghiệm"
    assert y_te[3:8] == ["0", "5", "", "3", "0"]
    assert site.ctx.config.code not in by_code  # the centre itself sends no documents
    english = await (await site.client.get("/centre/report.csv?lang=en")).read()
    assert english.decode("utf-8-sig").startswith("Organisation code,Unit,Deployment")


async def test_a_bad_date_range_says_so_and_shows_the_default(site):
    """An unreadable date or a range over MAX_DAYS is reported; the page still renders."""
    await site.sign_in()
    response = await site.client.get("/centre/report?since=2025-13-01")
    assert response.status == 200 and "Ngày không hợp lệ" in await response.text()
    response = await site.client.get("/centre/stats?since=2020-01-01&until=2025-01-01")
    assert response.status == 200 and "tối đa 366 ngày" in await response.text()


async def test_revoking_asks_first_then_goes_through_the_centre(site):
    """The confirm page names the unit; the POST revokes it and signs a new directory."""
    await site.sign_in()
    new = await site.centre.add_unit(*UNIT_A)
    issued = await site.centre.enrol(UnitSide(*UNIT_A).request(new.token))
    assert isinstance(issued, service.Issued)
    version = await site.centre.directory_version()
    page = await site.client.get(f"/centre/units/{UNIT_A[0]}/revoke")
    html = await page.text()
    assert page.status == 200 and UNIT_A[1] in html and 'id="confirm-action"' in html
    response = await site.client.post(
        f"/centre/units/{UNIT_A[0]}/revoke", data={"csrf": csrf_of(html)}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == f"/centre?done=revoke&code={UNIT_A[0]}"
    assert {u.code: u.status for u in await site.centre.units()}[UNIT_A[0]] == "revoked"
    assert await site.centre.directory_version() == version + 1
    assert site.ctx.directory.current.current(UNIT_A[0]) is None
    done = await (await site.client.get(response.headers["Location"])).text()
    assert f"Đã thu hồi đơn vị {UNIT_A[0]}" in done
    assert (await site.client.get("/centre/units/000.00.09.H53/revoke")).status == 404
    own = site.ctx.config.code
    response = await site.client.post(f"/centre/units/{own}/revoke", data={"csrf": csrf_of(html)})
    assert response.status == 400 and "không thu hồi được" in await response.text()


async def test_a_new_token_replaces_the_old_one(site):
    """For a pending unit, a new token is shown on a new sheet and the old one is cancelled."""
    await site.sign_in()
    first = TOKEN.search(await (await site.add(*UNIT_A)).text()).group(1)
    html = await (await site.client.get(f"/centre/units/{UNIT_A[0]}/token")).text()
    response = await site.client.post(
        f"/centre/units/{UNIT_A[0]}/token", data={"csrf": csrf_of(html)}
    )
    second = TOKEN.search(await response.text()).group(1)
    assert second != first
    async with site.ctx.store.read() as conn:
        assert (await get_token(conn, first.split(".")[0])).cancelled_at is not None
        assert (await get_token(conn, second.split(".")[0])).cancelled_at is None


async def test_approval_shows_the_requesting_key_then_enrols(make_site):
    """With approval required, the console shows the waiting request and its key fingerprint;
    approving issues the certificate."""
    site = await make_site(require_approval=True)
    await site.sign_in()
    token = TOKEN.search(await (await site.add(*UNIT_A)).text()).group(1)
    side = UnitSide(*UNIT_A)
    assert isinstance(await site.centre.enrol(side.request(token)), service.Pending)
    console = await (await site.client.get("/centre")).text()
    assert "Chờ phê duyệt" in console and f"/centre/units/{UNIT_A[0]}/approve" in console
    html = await (await site.client.get(f"/centre/units/{UNIT_A[0]}/approve")).text()
    assert fingerprint(side.keys.sign_public) in html
    response = await site.client.post(
        f"/centre/units/{UNIT_A[0]}/approve", data={"csrf": csrf_of(html)}, allow_redirects=False
    )
    assert response.status == 303
    assert {u.code: u.status for u in await site.centre.units()}[UNIT_A[0]] == "active"


def test_the_y_axis_has_whole_steps():
    """charts.axis: a top that is a whole number of 1-2-5 steps, at most MAX_TICKS of them."""
    assert charts.axis(0) == (1, 1)
    assert charts.axis(1) == (1, 1)
    assert charts.axis(7) == (8, 2)
    assert charts.axis(200) == (200, 50)
    assert charts.axis(201) == (250, 50)
    for largest in range(0, 5000, 7):
        top, step = charts.axis(largest)
        assert top >= largest and top % step == 0 and top // step <= charts.MAX_TICKS


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def _set_web(data_dir: Path, address: str) -> None:
    path = data_dir / "node.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r'(?m)^web = ".*"$', f'web = "{address}"', text), encoding="utf-8")


async def test_the_running_centre_serves_its_console(tmp_path):
    """`lienthong run` on a centre serves the console on node.web."""
    data_dir = tmp_path / "centre"
    await create_centre(data_dir, name=CENTRE_NAME, listen=f"127.0.0.1:{_free_port()}")
    _set_web(data_dir, "127.0.0.1:0")
    node = await Node.open(data_dir)
    try:
        await node.start()
        assert node.web_port
        async with aiohttp.ClientSession() as http:
            response = await http.get(f"http://127.0.0.1:{node.web_port}/centre")
            assert response.status == 200 and "/login?next=/centre" in str(response.url)
    finally:
        await node.close()


async def test_a_centre_whose_console_port_is_taken_still_serves_the_relay(tmp_path):
    """node.web in use: the centre starts without its console instead of not at all."""
    data_dir = tmp_path / "centre"
    await create_centre(data_dir, name=CENTRE_NAME, listen=f"127.0.0.1:{_free_port()}")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        _set_web(data_dir, f"127.0.0.1:{taken.getsockname()[1]}")
        node = await Node.open(data_dir)
        try:
            await node.start()
            assert node.peer_port and node.web_port is None and node.web_runner is None
        finally:
            await node.close()
