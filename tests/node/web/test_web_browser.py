"""Headless Chromium drives the clerk's pages of two units: send with a 5 MB attachment,
receive, accept, and see the incoming number back at the sender; screenshots of each page.

Needs Debian's chromium (/usr/bin/chromium, installed by .ci/run) and the playwright
package (the test extra). Screenshots go to the test's folder, or to
$LIENTHONG_SCREENSHOTS when set.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright import async_api as playwright_api

from lienthong.node.unit import documents as service
from tests.node.tls_federation import letter
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import PASSWORD, A, B, deliver, return_statuses

CHROMIUM = "/usr/bin/chromium"
# What Debian's Chromium needs to run headless as root with no network: no sandbox, no GPU,
# and none of the background connections a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ATTACHMENT_BYTES = 5 * 1024 * 1024
# A time as the clerk reads it (Nghị định 30/2020 writes dates dd/mm/yyyy): 24/11/2025 14:05.
DMY_TIME = re.compile(r"^[0-3][0-9]/[01][0-9]/[0-9]{4} [0-2][0-9]:[0-5][0-9]$")
# The law's words for a signature with a licensed CA's certificate on the document: the
# node's check of where a document came from must never be called one.
LEGAL_WORDS = ("chữ ký số", "chứng thư số")

units, make_client = support.units, support.make_client


def test_chromium_is_installed():
    """The browser tests need Debian's chromium; .ci/run installs it (apt-get install chromium)."""
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: apt-get install -y chromium"


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


async def sign_in(page, base: str, username: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")


async def assert_sender_verified(page) -> None:
    """The document page says where the document came from, never with the law's words."""
    check = await page.text_content("#sender-check")
    assert f"Đã xác thực nơi gửi: Unit {A} ({A})" in check
    shown = (await page.inner_text("body")).casefold()
    assert not [words for words in LEGAL_WORDS if words in shown]


async def test_a_clerk_reads_dates_as_dd_mm_yyyy_and_where_a_document_came_from(
    units, make_client, browser, shots
):
    """In Chromium B's clerk sees the arrival time as 24/11/2025 16:00, filters the inbox by
    a date typed 01/01/2014 (the text input takes it and shows it back), and reads "Đã xác
    thực nơi gửi" on the document, the key's serial behind its details."""
    a, b = units[A], units[B]
    envelope_id = await service.send_document(a, letter(), [B], actor="vt")
    await deliver(a, b, envelope_id)
    client_b = await make_client(b)
    base_b = str(client_b.make_url("")).rstrip("/")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await sign_in(page, base_b, "vt")
    assert DMY_TIME.match((await page.text_content("tr.new td")).strip())
    await page.fill("input[name=since]", "01/01/2014")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**/?*since=01%2F01%2F2014*")
    assert await page.input_value("input[name=since]") == "01/01/2014"
    assert await page.locator("tr.new").count() == 1
    await page.click("tr.new td a")
    await page.wait_for_url(f"**/documents/{envelope_id}")
    await assert_sender_verified(page)
    assert await page.locator("#sender-check p").is_hidden()  # the serial: behind the summary
    await page.click("#sender-check summary")
    assert "số 1." in await page.text_content("#sender-check p")
    assert await page.text_content("#official-issued-on") == "23/05/2014"
    assert "Tây Ninh, ngày 23 tháng 5 năm 2014" in await page.text_content("#place-date")
    await page.screenshot(path=shots / "12-xac-thuc-noi-gui.png", full_page=True)


async def test_a_document_travels_between_two_clerks(units, make_client, browser, shots, tmp_path):
    """A composes with 5 MB and sends; B sees, opens and accepts it; A sees B's số đến."""
    a, b = units[A], units[B]
    client_a, client_b = await make_client(a), await make_client(b)
    base_a = str(client_a.make_url("")).rstrip("/")
    base_b = str(client_b.make_url("")).rstrip("/")
    scan = tmp_path / "Danh sách đơn vị.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + os.urandom(ATTACHMENT_BYTES))

    page_a = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page_a.goto(f"{base_a}/login")
    await page_a.screenshot(path=shots / "01-dang-nhap.png")
    await sign_in(page_a, base_a, "vt")
    await page_a.click("text=Soạn văn bản đi")
    await page_a.fill("#unit-filter", B)
    await page_a.check(f"input[name=to][value='{B}']")
    await page_a.fill("input[name=number]", "2340/VP-TTTH")
    await page_a.fill(
        "textarea[name=subject]", "V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)"
    )
    await page_a.select_option("select[name=urgency]", "1")
    await page_a.fill("input[name=signer]", "Trương Văn Hùng")
    await page_a.fill("input[name=position]", "Phó Chánh Văn phòng")
    await page_a.select_option("select[name=authority]", "KT.")
    await page_a.fill("input[name=acts_for]", "Chánh Văn phòng")
    await page_a.fill("input[name=place]", "Tây Ninh")
    await page_a.set_input_files("#files", str(scan))
    await page_a.screenshot(path=shots / "02-soan-van-ban.png", full_page=True)
    await page_a.click("#compose-next")
    await page_a.wait_for_url("**/compose/confirm/**")
    await page_a.screenshot(path=shots / "03-kiem-tra-truoc-khi-gui.png", full_page=True)
    await page_a.click("#confirm-send")
    await page_a.wait_for_url("**/documents/**")
    envelope_id = page_a.url.split("/documents/")[1].split("?")[0]
    await page_a.goto(f"{base_a}/outbox")
    await page_a.screenshot(path=shots / "04-van-ban-di.png", full_page=True)

    await deliver(a, b, envelope_id)

    page_b = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await sign_in(page_b, base_b, "vt")
    assert await page_b.locator("tr.new").count() == 1
    assert DMY_TIME.match((await page_b.text_content("tr.new td")).strip())
    await page_b.screenshot(path=shots / "05-van-ban-den.png", full_page=True)
    await page_b.click("table.list >> text=V/v triển khai liên thông")
    await page_b.wait_for_url(f"**/documents/{envelope_id}")
    await assert_sender_verified(page_b)
    async with page_b.expect_download() as download_info:
        await page_b.click("ul.files a[download]")
    download = await download_info.value
    saved = tmp_path / "downloaded.pdf"
    await download.save_as(saved)
    assert saved.read_bytes() == scan.read_bytes()
    await page_b.screenshot(path=shots / "06-xem-van-ban.png", full_page=True)
    await page_b.click("#action-accepted")
    await page_b.wait_for_selector("#incoming-number")
    assert (await page_b.text_content("#incoming-number")).startswith("1 (")
    await page_b.screenshot(path=shots / "07-tiep-nhan-vao-so.png", full_page=True)
    await page_b.goto(f"{base_b}/registers")
    await page_b.screenshot(path=shots / "08-so-van-ban-den.png", full_page=True)
    await page_b.goto(f"{base_b}/health")
    await page_b.screenshot(path=shots / "09-tinh-trang.png", full_page=True)

    await return_statuses(b, a)
    await page_a.goto(f"{base_a}/outbox")
    assert "số đến 1" in await page_a.text_content("table.matrix")
    await page_a.screenshot(path=shots / "10-van-ban-di-da-vao-so.png", full_page=True)

    tablet = await (await browser.new_context(viewport={"width": 820, "height": 1180})).new_page()
    await sign_in(tablet, base_b, "vt")
    await tablet.screenshot(path=shots / "11-may-tinh-bang.png", full_page=True)
    await tablet.goto(f"{base_b}/?lang=en")
    assert "Incoming documents" in await tablet.text_content("h1")
