"""Headless Chromium over real nodes (tls_federation: peer APIs over mutual TLS, A's own
delivery engine; each unit's clerk page served on 127.0.0.1): the clerk at A composes a
letter numbered "05" signed "KT. CHÁNH VĂN PHÒNG", sees the signature block drawn as on
paper while typing, sends it; the clerk at B opens it and reads "Số: 05/VP-TTTH", the
block in its three lines and the date dd/mm/yyyy.

Needs Debian's chromium and the playwright package, as test_web_browser.py. Screenshots go
to the test's folder, or to $LIENTHONG_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright import async_api as playwright_api

from lienthong.node.web import create_web_app
from tests.node.tls_federation import A, B
from tests.node.web.test_compose_arrival import deliver, offices
from tests.node.web.test_web_browser import CHROMIUM, CHROMIUM_ARGS
from tests.node.web.test_web_support import PASSWORD, Delays

BLOCK = ["KT. CHÁNH VĂN PHÒNG", "PHÓ CHÁNH VĂN PHÒNG", "Trương Văn Hùng"]
DMY = re.compile(r"[0-3][0-9]/[01][0-9]/[0-9]{4}")


@pytest.fixture
async def browser():
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LIENTHONG_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def sign_in(page, base: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", "vt")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")


async def lines(page, selector: str) -> list[str]:
    """The lines of an element as the browser lays them out (one <p> a line)."""
    text = await page.inner_text(selector)
    return [line.strip() for line in text.splitlines() if line.strip()]


async def test_a_clerk_writes_05_signed_kt_and_the_recipient_reads_it_as_on_paper(
    tmp_path, browser, shots
):
    """Compose "05" / VP-TTTH with KT. Chánh Văn phòng in Chromium at A; deliver over mutual
    TLS; at B the page reads "Số: 05/VP-TTTH", the block in three lines, a dd/mm/yyyy date."""
    async with offices(tmp_path) as fed:
        servers = {
            code: TestServer(create_web_app(fed.units[code].ctx, sleep=Delays())) for code in (A, B)
        }
        for server in servers.values():
            await server.start_server()
        try:
            base_a = str(servers[A].make_url("")).rstrip("/")
            base_b = str(servers[B].make_url("")).rstrip("/")
            page_a = await (
                await browser.new_context(viewport={"width": 1280, "height": 900})
            ).new_page()
            await sign_in(page_a, base_a)
            await page_a.goto(f"{base_a}/compose")
            assert await page_a.input_value("input[name=place]") == "Tây Ninh"  # [unit] place
            await page_a.fill("#unit-filter", B)
            await page_a.check(f"input[name=to][value='{B}']")
            await page_a.fill("input[name=number]", "05")
            await page_a.fill("input[name=notation]", "VP-TTTH")
            assert await page_a.text_content("#number-preview") == "05/VP-TTTH"
            await page_a.fill(
                "textarea[name=subject]",
                "V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)",
            )
            await page_a.select_option("select[name=authority]", "KT.")
            await page_a.fill("input[name=acts_for]", "Chánh Văn phòng")
            await page_a.fill("input[name=position]", "Phó Chánh Văn phòng")
            await page_a.fill("input[name=signer]", "Trương Văn Hùng")
            assert await lines(page_a, "#signature-preview") == BLOCK  # drawn while typing
            await page_a.screenshot(path=shots / "21-soan-the-thuc.png", full_page=True)
            await page_a.click("#compose-next")
            await page_a.wait_for_url("**/compose/confirm/**")
            assert await lines(page_a, "#signature-block") == BLOCK
            await page_a.screenshot(path=shots / "22-kiem-tra-the-thuc.png", full_page=True)
            await page_a.click("#confirm-send")
            await page_a.wait_for_url("**/documents/**")
            envelope_id = page_a.url.split("/documents/")[1].split("?")[0]

            await deliver(fed, A, B)

            page_b = await (
                await browser.new_context(viewport={"width": 1280, "height": 900})
            ).new_page()
            await sign_in(page_b, base_b)
            await page_b.click("table.list >> text=V/v triển khai liên thông")
            await page_b.wait_for_url(f"**/documents/{envelope_id}")
            assert await page_b.text_content("#official-number") == "Số: 05/VP-TTTH"
            assert await lines(page_b, "#signature-block") == BLOCK
            issued_on = await page_b.text_content("#official-issued-on")
            assert DMY.fullmatch(issued_on.strip()), issued_on
            place_date = await page_b.text_content("#place-date")
            day, month, year = issued_on.strip().split("/")
            month_written = month if int(month) < 3 else str(int(month))
            assert place_date.strip() == f"Tây Ninh, ngày {day} tháng {month_written} năm {year}"
            await page_b.screenshot(path=shots / "23-van-ban-den-the-thuc.png", full_page=True)
        finally:
            for server in servers.values():
                await server.close()
