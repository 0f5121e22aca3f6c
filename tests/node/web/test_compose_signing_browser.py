"""Headless Chromium: a clerk composes with a PDF the leader signed, types a wrong PIN on
"Ký số và phát hành" and is told so, types the right one and the document goes; the file B's
clerk downloads carries the leader's and the organisation's signatures, both valid."""

from __future__ import annotations

import asyncio

from lienthong.node.config import Config, validate
from tests.crypto.signing_fixtures import (
    leader_signed,
    make_ca,
    make_pdf,
    make_signer,
    write_pkcs12,
)
from tests.crypto.signing_fixtures import validate as signatures
from tests.node.web import test_web_browser as browsing
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import A, B, deliver

units, make_client = support.units, support.make_client
browser, shots = browsing.browser, browsing.shots
PASSPHRASE = "mat khau to chuc"


async def test_a_clerk_signs_and_issues_from_the_confirmation_page(
    units, make_client, browser, shots, tmp_path
):
    """Wrong PIN: "Mã PIN không đúng", nothing sent, the field empty again; right PIN: sent,
    and the downloaded PDF at B verifies with both signatures."""
    a, b = units[A], units[B]
    ca = make_ca()
    leader = make_signer(ca, "Trương Văn Hùng", "Văn phòng UBND tỉnh")
    pdf = await asyncio.to_thread(leader_signed, make_pdf(2), leader)
    write_pkcs12(tmp_path / "to-chuc.p12", make_signer(ca, "Văn phòng UBND tỉnh"), PASSPHRASE)
    unit = {"code": A, "name": a.config.name}
    signing = {"pkcs12": str(tmp_path / "to-chuc.p12")}
    a.config = Config(a.config.data_dir, validate({"unit": unit, "signing": signing}))
    scan = tmp_path / "Quyết định.pdf"
    scan.write_bytes(pdf)
    client_a, client_b = await make_client(a), await make_client(b)
    base_a = str(client_a.make_url("")).rstrip("/")
    base_b = str(client_b.make_url("")).rstrip("/")

    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await browsing.sign_in(page, base_a, "vt")
    await page.click("text=Soạn văn bản đi")
    await page.fill("#unit-filter", B)
    await page.check(f"input[name=to][value='{B}']")
    await page.fill("input[name=number]", "12/QĐ-UBND")
    await page.fill("textarea[name=subject]", "Quyết định ban hành quy chế văn thư")
    await page.fill("input[name=signer]", "Trương Văn Hùng")
    await page.fill("input[name=position]", "Chánh Văn phòng")
    await page.fill("input[name=place]", "Tây Ninh")
    await page.set_input_files("#files", str(scan))
    await page.click("#compose-next")
    await page.wait_for_url("**/compose/confirm/**")
    assert "Quyết định.pdf" in await page.text_content("#sign-form")
    await page.fill("#sign-pin", "sai")
    await page.click("#confirm-sign")
    await page.wait_for_selector("#confirm-error")
    assert "Mã PIN không đúng" in await page.text_content("#confirm-error")
    assert await page.input_value("#sign-pin") == ""
    await page.screenshot(path=shots / "ky-so-sai-ma-pin.png", full_page=True)
    await page.fill("#sign-pin", PASSPHRASE)
    await page.click("#confirm-sign")
    await page.wait_for_url("**/documents/**")
    envelope_id = page.url.split("/documents/")[1].split("?")[0]
    await page.screenshot(path=shots / "ky-so-da-gui.png", full_page=True)

    await deliver(a, b, envelope_id)
    page_b = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await browsing.sign_in(page_b, base_b, "vt")
    await page_b.goto(f"{base_b}/documents/{envelope_id}")
    async with page_b.expect_download() as download_info:
        await page_b.click("ul.files a[download]")
    saved = tmp_path / "downloaded.pdf"
    await (await download_info.value).save_as(saved)
    received = saved.read_bytes()
    assert received.startswith(pdf)
    status = await asyncio.to_thread(signatures, received, ca[1])
    assert set(status) == {"NguoiKy", "ToChuc"}
    assert all(s.bottom_line for s in status.values())
