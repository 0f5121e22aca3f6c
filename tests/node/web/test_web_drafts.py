"""Drafts of the compose form: one clerk's upload in progress survives another clerk's compose,
and left-over draft directories go once they are older than a draft's lifetime."""

import asyncio
import os

from lienthong.node.unit.documents import stored_body
from lienthong.node.web import compose
from lienthong.storage.documents import get_document
from tests.node.web import test_web_support as support
from tests.node.web.test_web_documents import compose_form
from tests.node.web.test_web_support import A, login, page_csrf

units, make_client = support.units, support.make_client
FILE_BYTES = 3 * compose.READ_CHUNK  # several reads: the server writes, then waits for more
WAIT_SECONDS = 60  # bounded wait for the server to have started writing the upload


async def test_an_upload_in_progress_survives_another_compose(units, make_client):
    """While clerk 1's file is still uploading, clerk 2 composes (which cleans old drafts);
    clerk 1's upload then completes and the document is sent with its attachment."""
    a = units[A]
    first, second = await make_client(a), await make_client(a)
    for client in (first, second):
        await login(client, "vt")
    token = await page_csrf(first, "/compose")
    form = compose_form(
        token, files=[("phu-luc.pdf", b"%PDF" * (FILE_BYTES // 4), "application/pdf")]
    )
    payload = form()
    body = await payload.as_bytes()
    split = body.index(b"%PDF") + compose.READ_CHUNK + 1024
    release = asyncio.Event()

    async def slow_body():
        yield body[:split]
        await release.wait()
        yield body[split:]

    uploading = asyncio.create_task(
        first.post(
            "/compose",
            data=slow_body(),
            headers={"Content-Type": payload.content_type},
            allow_redirects=False,
        )
    )
    root = compose.drafts_root(a)
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while not list(root.glob("*/phu-luc.pdf")):
        assert not uploading.done(), await uploading
        assert asyncio.get_running_loop().time() < deadline, "the upload never started"
        await asyncio.sleep(0.01)

    other = await second.post(
        "/compose",
        data=compose_form(await page_csrf(second, "/compose"), number="12/VP-TTTH"),
        allow_redirects=False,
    )
    assert other.status == 303, await other.text()

    release.set()
    response = await uploading
    assert response.status == 303, await response.text()
    sent = await first.post(
        response.headers["Location"], data={"csrf": token}, allow_redirects=False
    )
    assert sent.status == 303, await sent.text()
    envelope_id = sent.headers["Location"].split("/documents/")[1].split("?")[0]
    async with a.store.read() as conn:
        doc = await get_document(conn, envelope_id)
    assert doc is not None
    assert [f.name for f in stored_body(doc).attachments] == ["phu-luc.pdf"]


def test_a_directory_without_a_draft_goes_only_once_older_than_a_draft(tmp_path):
    """At run time a directory no draft owns is kept while young (an upload in progress) and
    removed once older than DRAFT_TTL_MS; at start-up every one goes."""
    young, old = tmp_path / "young", tmp_path / "old"
    for path in (young, old):
        path.mkdir()
        (path / "file.pdf").write_bytes(b"%PDF")
    now_s = 2_000_000_000
    os.utime(young, (now_s - 60, now_s - 60))
    os.utime(old, (now_s - compose.DRAFT_TTL_MS // 1000 - 60,) * 2)

    compose.clean_drafts({}, tmp_path, now_s * 1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["young"]

    compose.clean_drafts({}, tmp_path, now_s * 1000, everything=True)
    assert list(tmp_path.iterdir()) == []
