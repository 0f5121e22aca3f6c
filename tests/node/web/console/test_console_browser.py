"""Headless Chromium drives the centre's console: the operator signs in, adds a unit, sees its
token once on the printable enrolment sheet, then reads the pilot report and the statistics;
screenshots of each page.

Needs Debian's chromium and the playwright package, as tests/node/web/test_web_browser.py.
Screenshots go to $LIENTHONG_SCREENSHOTS when set, else to the test's folder.
"""

from __future__ import annotations

import re

from lienthong.protocol.report import DELIVERY_BUCKETS, MS_PER_DAY, DayFigures, Report, day_of
from lienthong.storage.centre import touch_unit
from lienthong.storage.relay import MailItem, deposit
from lienthong.storage.reports import save_report
from tests.node.centre_support import UnitSide
from tests.node.web import test_web_browser as chromium
from tests.node.web.console import test_console as console
from tests.node.web.test_web_support import PASSWORD

browser, shots, make_site = chromium.browser, chromium.shots, console.make_site

# Units of the province's list (letter 2340/VP-TTTH), with deployment states.
PROVINCE = [
    ("000.00.02.H53", "Văn phòng UBND tỉnh", "Đã triển khai"),
    ("000.00.03.H53", "Sở Tài chính", "Đã triển khai"),
    ("000.00.04.H53", "Sở Nội vụ", "Đã triển khai"),
    ("000.00.06.H53", "Sở Giáo dục và Đào tạo", "Thử nghiệm"),
    ("000.00.07.H53", "Sở Y tế", "Thử nghiệm"),
]
NEW_UNIT = ("000.00.05.H53", "Sở Kế hoạch và Đầu tư")
DAYS = 14


def _figures(index: int, n: int, day: str) -> DayFigures:
    """Deterministic figures that look like a working fortnight."""
    sent = (index * 3 + n * 5) % 9
    delivery = [0] * DELIVERY_BUCKETS
    delivery[(index + n) % 3] = sent * 2
    delivery[4 + (n % 3)] = 1 if sent else 0
    failures = 1 if (index + n) % 7 == 0 else 0
    return DayFigures(day, sent, (index + 2 * n) % 6, failures, tuple(delivery))


async def _province(site: console.CentreSite) -> None:
    """The units enrolled (the last one still pending), a fortnight of their reports, and
    two items waiting at the relay for one of them."""
    now = site.clock()
    for index, (code, name, state) in enumerate(PROVINCE):
        new = await site.centre.add_unit(code, name, state=state)
        if index < len(PROVINCE) - 1:
            await site.centre.enrol(UnitSide(code, name).request(new.token))
        days = tuple(
            _figures(index, n, day_of(now - (DAYS - 1 - n) * MS_PER_DAY)) for n in range(DAYS)
        )
        async with site.ctx.store.write() as tx:
            report = Report(code, index + 2, now, "0.1.0", (index * 2) % 5, days)
            await save_report(tx, report, code.encode(), received_at=now)
            await touch_unit(tx, code, now - index * 60_000)
    async with site.ctx.store.write() as tx:
        for n in range(2):
            item = MailItem(
                PROVINCE[3][0], f"item-{n}", "envelope", PROVINCE[0][0], b"x", (), now, now
            )
            await deposit(tx, item)


async def test_the_operator_enrols_a_unit_and_reads_the_pilot_report(make_site, browser, shots):
    """Sign in, add a unit, see its token once on the sheet, open the report and statistics."""
    site = await make_site()
    await _province(site)
    base = str(site.client.make_url("")).rstrip("/")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", "qt")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")
    await page.click("header.top >> text=Điều hành liên thông")
    await page.wait_for_url(f"{base}/centre")
    assert await page.locator("table.units-table tbody tr").count() == len(PROVINCE) + 1
    await page.screenshot(path=shots / "centre-01-don-vi.png", full_page=True)

    await page.fill("#add-unit input[name=code]", NEW_UNIT[0])
    await page.fill("#add-unit input[name=name]", NEW_UNIT[1])
    await page.select_option("#add-unit select[name=state]", "Thử nghiệm")
    await page.click("#add-unit button[type=submit]")
    await page.wait_for_selector("#sheet-token")
    token = (await page.text_content("#sheet-token")).strip()
    assert re.fullmatch(r"[0-9a-f]{16}\.[A-Z2-7]{32}", token)
    assert token in await page.text_content("#sheet-enrol")
    assert await page.text_content("#sheet-fingerprint") == site.centre.fingerprint
    assert await page.is_visible("#print-sheet") and await page.is_visible("#token-once")
    await page.screenshot(path=shots / "centre-02-phieu-dang-ky.png", full_page=True)
    await page.emulate_media(media="print")
    assert not await page.is_visible("#print-sheet")  # the print shows the sheet alone
    assert await page.is_visible("#sheet-token")
    await page.screenshot(path=shots / "centre-03-phieu-dang-ky-ban-in.png", full_page=True)
    await page.emulate_media(media="screen")

    await page.click("text=Về danh sách đơn vị")
    await page.wait_for_url(f"{base}/centre")
    listing = await page.text_content("table.units-table")
    assert NEW_UNIT[1] in listing and token not in await page.content()
    await page.click("nav.tabs >> text=Báo cáo thí điểm")
    await page.wait_for_url(f"{base}/centre/report")
    assert await page.locator("table.pilot tbody tr").count() == len(PROVINCE) + 1
    await page.screenshot(path=shots / "centre-04-bao-cao-thi-diem.png", full_page=True)
    async with page.expect_download() as download_info:
        await page.click("#report-csv")
    download = await download_info.value
    assert download.suggested_filename.startswith("bao-cao-thi-diem-")

    await page.click("nav.tabs >> text=Thống kê")
    await page.wait_for_url(f"{base}/centre/stats")
    assert await page.locator("figure.chart svg").count() == 3
    assert await page.locator("#chart-documents rect.heat").count() == (len(PROVINCE) + 1) * 30
    await page.screenshot(path=shots / "centre-05-thong-ke.png", full_page=True)

    tablet = await (await browser.new_context(viewport={"width": 820, "height": 1180})).new_page()
    await tablet.goto(f"{base}/login?next=/centre/stats")
    await tablet.fill("input[name=username]", "qt")
    await tablet.fill("input[name=password]", PASSWORD)
    await tablet.click("button[type=submit]")
    await tablet.wait_for_url(f"{base}/centre/stats")
    await tablet.screenshot(path=shots / "centre-06-thong-ke-may-tinh-bang.png", full_page=True)
