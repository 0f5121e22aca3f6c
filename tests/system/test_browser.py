"""Headless Chromium over a real federation: two `lienthong run` processes and a centre.

The clerk at A composes with a 5 MB attachment and sends; the node's own delivery
engine carries it over mutual TLS to B; the clerk at B opens, checks the signature
badge, downloads the file and accepts it; B's 02 status travels back by itself and
A's outbox shows "số đến 1". Nothing is handed over by the test. The health page
then shows the centre reachable and B among the peers reached, and, once the
centre is stopped, the centre unreachable.
"""

import asyncio
import os
import tomllib
from pathlib import Path

import pytest
from playwright import async_api as playwright_api

from tests.node.web.test_web_browser import CHROMIUM, CHROMIUM_ARGS
from tests.system.harness import Federation, lienthong

pytestmark = pytest.mark.system

A, B = "000.00.02.H53", "000.00.03.H53"
PASSWORD = "mat-khau-rat-dai-cua-van-thu"
ATTACHMENT_BYTES = 5 * 1024 * 1024
ARRIVAL_TIMEOUT = 90.0  # seconds: delivery retries on two busy cores


@pytest.fixture
def federation(tmp_path):
    fed = Federation(tmp_path)
    password_file = tmp_path / "password.txt"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    for code, name in ((A, "VP UBND tỉnh Tây Ninh"), (B, "Sở Thông tin và Truyền thông")):
        node = fed.add_unit(code, name)
        lienthong(
            "user", "add", "--data-dir", str(node.data_dir), "--username", "vanthu",
            "--role", "clerk", "--password-file", str(password_file),
        )  # fmt: skip
    fed.start()
    yield fed
    fed.close()


def web_url(data_dir: Path) -> str:
    """The clerk's page of a node, read from its node.toml as a technician would."""
    with (data_dir / "node.toml").open("rb") as f:
        return "http://" + tomllib.load(f)["node"]["web"]


async def sign_in(page, base: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", "vanthu")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")


async def reload_until(page, url: str, selector: str, text: str, what: str) -> None:
    """Reload `url` until `selector` contains `text`; fail naming `what` after the timeout."""
    deadline = asyncio.get_running_loop().time() + ARRIVAL_TIMEOUT
    seen = ""
    while asyncio.get_running_loop().time() < deadline:
        await page.goto(url)
        if await page.locator(selector).count():
            seen = await page.text_content(selector) or ""
            if text in seen:
                return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what} not seen within {ARRIVAL_TIMEOUT}s; last {selector}: {seen!r}")


@pytest.fixture
def scan(tmp_path) -> Path:
    path = tmp_path / "Kế hoạch triển khai.pdf"
    path.write_bytes(b"%PDF-1.4\n" + os.urandom(ATTACHMENT_BYTES))
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    path = Path(os.environ.get("LIENTHONG_SCREENSHOTS") or tmp_path / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


async def test_clerks_exchange_a_letter_over_the_network(federation, scan, folder, tmp_path):
    """Send at A's page, accept at B's page, see B's số đến at A: real nodes deliver it."""
    base_a = web_url(federation.nodes[A].data_dir)
    base_b = web_url(federation.nodes[B].data_dir)

    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page_a = await browser.new_page(viewport={"width": 1280, "height": 900})
            await sign_in(page_a, base_a)
            await page_a.click("text=Soạn văn bản đi")
            await page_a.fill("#unit-filter", B)
            await page_a.check(f"input[name=to][value='{B}']")
            await page_a.fill("input[name=number]", "2340/VP-TTTH")
            await page_a.fill("textarea[name=subject]", "V/v triển khai liên thông (eOffice)")
            await page_a.fill("input[name=signer]", "Trương Văn Hùng")
            await page_a.fill("input[name=position]", "Phó Chánh Văn phòng")
            await page_a.fill("input[name=place]", "Tây Ninh")  # init sets none
            await page_a.set_input_files("#files", str(scan))
            await page_a.click("#compose-next")
            await page_a.wait_for_url("**/compose/confirm/**")
            await page_a.click("#confirm-send")
            await page_a.wait_for_url("**/documents/**")
            envelope_id = page_a.url.split("/documents/")[1].split("?")[0]

            page_b = await browser.new_page(viewport={"width": 1280, "height": 900})
            await sign_in(page_b, base_b)
            await reload_until(page_b, f"{base_b}/", "table.list", "V/v triển khai", "arrival")
            await page_b.click("table.list >> text=V/v triển khai liên thông")
            await page_b.wait_for_url(f"**/documents/{envelope_id}")
            badge = await page_b.text_content("#sender-check summary")
            assert f"Đã xác thực nơi gửi: VP UBND tỉnh Tây Ninh ({A})" in badge
            assert "chữ ký số" not in (await page_b.content()).lower()
            async with page_b.expect_download() as download_info:
                await page_b.click("ul.files a[download]")
            saved = tmp_path / "downloaded.pdf"
            await (await download_info.value).save_as(saved)
            assert saved.read_bytes() == scan.read_bytes()
            await page_b.click("#action-accepted")
            await page_b.wait_for_selector("#incoming-number")
            assert (await page_b.text_content("#incoming-number")).startswith("1 (")

            await reload_until(
                page_a, f"{base_a}/outbox", "table.matrix", "số đến 1", "B's 02 at the sender"
            )
            await page_a.screenshot(path=folder / "van-ban-di-qua-mang.png", full_page=True)
            await page_a.goto(f"{base_a}/health")
            assert "Kết nối được" in await page_a.text_content("#centre-link")
            assert B in await page_a.text_content("#peers-seen")
            await page_a.screenshot(path=folder / "tinh-trang-qua-mang.png", full_page=True)

            federation.nodes["centre"].stop()
            await page_a.goto(f"{base_a}/health")
            link = await page_a.text_content("#centre-link")
            assert "Không kết nối được" in link, link
            assert "Trả lời lần cuối" in link  # when it last answered stays on the page
        finally:
            await browser.close()
