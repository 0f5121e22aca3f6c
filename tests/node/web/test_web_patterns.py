"""The clerk's page matches URL parts and query values whole and in ASCII digits: another
script's digit (which int() would read) or a trailing newline in a path gives 404, where the
same URL in ASCII digits gives the page."""

from urllib.parse import quote

from tests.node.web import test_web_support as support
from tests.node.web.test_web_documents import send_from_page
from tests.node.web.test_web_support import A, login

units, make_client = support.units, support.make_client


async def status_of(client, path: str) -> int:
    response = await client.get(path, allow_redirects=False)
    await response.read()
    return response.status


async def test_routes_take_ascii_digits_only(units, make_client):
    """/files/0 and /registers/outgoing/2025.csv answer; with '٠' or '٢٠٢٥' (Arabic-Indic)
    or a newline after the document id they do not reach a handler."""
    client = await make_client(units[A])
    await login(client, "vt")
    envelope_id = await send_from_page(
        client, files=[("a.pdf", b"%PDF-1.4 x\n", "application/pdf")], issued_on="2025-11-24"
    )
    doc = f"/documents/{envelope_id}"
    assert await status_of(client, f"{doc}/files/0") == 200
    assert await status_of(client, f"{doc}/files/{quote('٠')}") == 404
    assert await status_of(client, f"{doc}/files/{quote('０')}") == 404
    assert await status_of(client, doc) == 200
    assert await status_of(client, f"{doc}%0A") == 404
    assert await status_of(client, "/registers/outgoing/2025.csv") == 200
    assert await status_of(client, f"/registers/outgoing/{quote('٢٠٢٥')}.csv") == 404
