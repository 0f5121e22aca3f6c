"""Signing at issue on the page ("Ký số và phát hành"): the clerk types the PIN on the
confirmation, every PDF is signed by the organisation and sent; the recipient's copy carries
the leader's and the organisation's signatures, both valid. A wrong PIN or an absent token
sends nothing and says why in Vietnamese."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from lienthong.node.config import Config, validate
from lienthong.node.unit import documents as service
from lienthong.node.unit.attachments import decrypt_to
from lienthong.node.web import compose
from lienthong.storage.documents import list_documents
from tests.crypto.signing_fixtures import (
    leader_signed,
    make_ca,
    make_pdf,
    make_signer,
    write_pkcs12,
)
from tests.crypto.signing_fixtures import validate as signatures
from tests.node.tls_federation import A, B, Federation
from tests.node.web.test_compose_arrival import arrived, deliver, offices, page_client
from tests.node.web.test_compose_official import ISSUER, official_form
from tests.node.web.test_web_support import page_csrf
from tests.softhsm import softhsm_token  # noqa: F401 - the session's token

P12_PASSPHRASE = "mat khau to chuc"


@contextlib.asynccontextmanager
async def signing_offices(tmp_path: Path, signing: dict[str, str]) -> AsyncIterator[Federation]:
    """offices() with A's [signing] set to `signing`."""
    async with offices(tmp_path) as fed:
        ctx = fed.units[A].ctx
        unit = {"code": A, "name": "Văn phòng", **ISSUER}
        ctx.config = Config(ctx.config.data_dir, validate({"unit": unit, "signing": signing}))
        yield fed


async def compose_with(client, pdf: bytes, name: str = "quyet-dinh.pdf") -> str:
    """Post the compose form with `pdf` and a text file; the confirmation page's path."""
    token = await page_csrf(client, "/compose")
    form = official_form(token)
    form.add_field("files", pdf, filename=name, content_type="application/pdf")
    form.add_field("files", b"ghi chu", filename="ghi-chu.txt", content_type="text/plain")
    response = await client.post("/compose", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def test_a_clerk_signs_and_sends_and_the_recipient_holds_both_valid_signatures(tmp_path):
    """With a PKCS#12 key the confirmation offers "Ký số và phát hành"; the PDF B receives
    verifies (leader and organisation), the text file arrives unchanged."""
    ca = make_ca()
    leader = make_signer(ca, "Trương Văn Hùng", "Văn phòng UBND tỉnh")
    # pyHanko's sync API runs an event loop of its own: off this test's loop.
    pdf = await asyncio.to_thread(leader_signed, make_pdf(3), leader)
    organisation = make_signer(ca, "Văn phòng UBND tỉnh Tây Ninh", "UBND tỉnh Tây Ninh")
    (tmp_path / "keys").mkdir()
    write_pkcs12(tmp_path / "keys" / "to-chuc.p12", organisation, P12_PASSPHRASE)
    signing = {"pkcs12": str(tmp_path / "keys" / "to-chuc.p12")}
    (tmp_path / "fed").mkdir()
    async with signing_offices(tmp_path / "fed", signing) as fed:
        client = await page_client(fed.units[A].ctx)
        try:
            confirm = await compose_with(client, pdf)
            page = await (await client.get(confirm)).text()
            assert "Ký số và phát hành" in page and 'type="password"' in page
            assert "quyet-dinh.pdf" in page.split('id="sign-form"')[1].split("</form>")[0]
            token = await page_csrf(client, confirm)
            response = await client.post(
                confirm,
                data={"csrf": token, "sign": "1", "pin": P12_PASSPHRASE},
                allow_redirects=False,
            )
            assert response.status == 303, await response.text()
            envelope_id = response.headers["Location"].split("/documents/")[1].split("?")[0]
        finally:
            await client.close()
        await deliver(fed, A, B)
        doc = await arrived(fed, B, A, envelope_id)
        files = {a.name: a for a in service.stored_body(doc).attachments}
        assert set(files) == {"quyet-dinh.pdf", "ghi-chu.txt"}
        out = tmp_path / "arrived.pdf"
        decrypt_to(fed.units[B].ctx.blobs, files["quyet-dinh.pdf"], out)
        received = out.read_bytes()
        assert received.startswith(pdf) and len(received) > len(pdf)
        status = await asyncio.to_thread(signatures, received, ca[1])
        assert set(status) == {"NguoiKy", "ToChuc"}
        assert all(s.bottom_line for s in status.values())
        subject = status["ToChuc"].signing_cert.subject.human_friendly
        assert "Văn phòng UBND tỉnh Tây Ninh" in subject
        decrypt_to(fed.units[B].ctx.blobs, files["ghi-chu.txt"], tmp_path / "ghi-chu.txt")
        assert (tmp_path / "ghi-chu.txt").read_bytes() == b"ghi chu"
        draft_dir = compose.drafts_root(fed.units[A].ctx)
        assert not draft_dir.exists() or not any(draft_dir.iterdir())


async def _refused(tmp_path: Path, signing: dict[str, str], pin: str, words: str) -> None:
    """Signing with `pin` is refused with `words` on the page; nothing is stored or sent and
    the draft stays for another try, without the PIN in the page."""
    pdf = make_pdf(1)
    async with signing_offices(tmp_path, signing) as fed:
        ctx = fed.units[A].ctx
        client = await page_client(ctx)
        try:
            confirm = await compose_with(client, pdf)
            token = await page_csrf(client, confirm)
            response = await client.post(
                confirm, data={"csrf": token, "sign": "1", "pin": pin}, allow_redirects=False
            )
            page = await response.text()
            assert response.status == 409
            assert words in page and "Văn bản chưa được gửi" in page
            assert pin not in page
            assert (await client.get(confirm)).status == 200  # the draft is kept
        finally:
            await client.close()
        async with ctx.store.read() as conn:
            assert await list_documents(conn, direction="out") == []
        signed = list(compose.drafts_root(ctx).glob(f"*/{compose.SIGNED_DIR}"))
        assert signed == []


async def test_a_wrong_pin_sends_nothing(tmp_path, softhsm_token):  # noqa: F811
    """A wrong PIN for the token: "Mã PIN không đúng", nothing stored or sent."""
    signing = {
        "pkcs11_module": softhsm_token.module,
        "token_label": softhsm_token.label,
        "key_label": softhsm_token.key_label,
    }
    await _refused(tmp_path, signing, "000000", "Mã PIN không đúng")


async def test_an_absent_token_sends_nothing(tmp_path, softhsm_token):  # noqa: F811
    """A token label no slot holds: the clerk is told to plug the device in; nothing sent."""
    signing = {
        "pkcs11_module": softhsm_token.module,
        "token_label": "chua-cam",
        "key_label": softhsm_token.key_label,
    }
    await _refused(tmp_path, signing, softhsm_token.pin, "Không thấy thiết bị ký số")


async def test_without_a_signing_key_the_page_offers_no_signing(tmp_path):
    """No [signing] key: the confirmation has no PIN field and the plain "Gửi" only."""
    async with offices(tmp_path) as fed:
        client = await page_client(fed.units[A].ctx)
        try:
            page = await (await client.get(await compose_with(client, make_pdf(1)))).text()
        finally:
            await client.close()
    assert 'type="password"' not in page and 'id="confirm-send"' in page
