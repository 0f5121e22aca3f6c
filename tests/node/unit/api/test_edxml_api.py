"""edXML through the integration API: POST /api/v1/edxml (scope process) takes the axis's
package in as an incoming document, once, with Idempotency-Key replayed; GET
/api/v1/documents/{id}/edxml gives the package back; a hostile or wrong package is a
problem naming what was wrong, with nothing stored and no spooled file left."""

from __future__ import annotations

from lienthong.storage.blobs import TMP_DIR
from tests.node.tls_federation import until
from tests.node.unit.api.conftest import A
from tests.protocol.test_edxml_roundtrip import DATA, NS, attachments_of, canonical, parse

AXIS = (DATA / "axis_cong_van.xml").read_bytes()
XML = {"Content-Type": "application/xml"}


def post(client, body: bytes, key: str, headers=XML):
    return client.post("/api/v1/edxml", data=body, headers={**headers, "Idempotency-Key": key})


async def incoming(ctx) -> int:
    async with ctx.store.read() as conn:
        return (await conn.fetchone("SELECT count(*) FROM documents WHERE direction = 'in'"))[0]


def spooled(ctx) -> list:
    return list((ctx.blobs.root / TMP_DIR).rglob("*"))


async def test_a_package_posted_is_an_incoming_document_and_comes_back(units, dms):
    """201 with the document's id, listed among incoming documents; the same request again
    is replayed; the same package under another key is 200, the same document; the export
    holds the package's envelope and attachments."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("process", "read"))
    r = await post(client, AXIS, "e-1")
    assert r.status == 201, await r.text()
    made = await r.json()
    assert made["created"] and made["document_id"] == "000.00.00.G22,2025/11/24,8123/VPCP-KSTT"
    assert r.headers["Location"] == made["href"]
    again = await post(client, AXIS, "e-1")
    assert again.status == 201 and again.headers.get("Idempotent-Replayed") == "true"
    other = await post(client, AXIS, "e-2")
    assert other.status == 200
    assert (await other.json())["id"] == made["id"] and not (await other.json())["created"]
    assert await incoming(ctx) == 1
    listed = await client.get("/api/v1/documents", params={"direction": "in"})
    assert made["id"] in [d["id"] for d in (await listed.json())["documents"]]

    exported = await client.get(f"/api/v1/documents/{made['id']}/edxml")
    assert exported.status == 200 and exported.content_type == "application/xml"
    before, after = parse(AXIS), parse(await exported.read())
    envelope = f"{NS}edXMLEnvelope"
    assert canonical(after.find(envelope)) == canonical(before.find(envelope))
    assert attachments_of(after) == attachments_of(before)
    # The export's temporary package is removed once its last byte is sent.
    await until(lambda: spooled(ctx) == [])


async def test_a_bad_package_is_a_problem_and_stores_nothing(units, dms):
    """A DTD, a wrong namespace, a missing field, a path in a file name: 400 naming it; the
    wrong media type 415; the scope read only 403; nothing stored, nothing spooled."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("process",))
    cases = [
        (AXIS.replace(b"<edXML xmlns", b"<!DOCTYPE edXML []><edXML xmlns", 1), "DOCTYPE"),
        (AXIS.replace(b"http://www.mic.gov.vn/TBT/QCVN_102_2016", b"urn:x"), "namespace"),
        (AXIS.replace(b"<edXML:DocumentId>000.00.00.G22,", b"<edXML:DocumentId>", 1), "Id"),
        (AXIS.replace(b"I.txt</AttachmentName>", b"../I.txt</AttachmentName>"), "AttachmentName"),
        (b"", "empty"),
    ]
    for i, (body, named) in enumerate(cases):
        r = await post(client, body, f"bad-{i}")
        assert r.status == 400, (named, await r.text())
        assert r.content_type == "application/problem+json"
        assert named in (await r.json())["detail"]
    r = await post(client, AXIS, "json", headers={"Content-Type": "application/json"})
    assert r.status == 415
    reader = await dms(ctx, ("read",))
    r = await post(reader, AXIS, "scope")
    assert r.status == 403 and "process" in (await r.json())["detail"]
    assert await incoming(ctx) == 0
    assert spooled(ctx) == []


async def test_an_export_of_an_unknown_document_is_404(units, dms):
    """A document id this node does not hold: 404 as a problem."""
    client = await dms(units.ctx[A], ("read",))
    r = await client.get("/api/v1/documents/01J0000000ABCDEFGHJKMNPQRS/edxml")
    assert r.status == 404 and r.content_type == "application/problem+json"
