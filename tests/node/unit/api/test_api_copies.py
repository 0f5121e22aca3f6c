"""Copies through the integration API, over real stores and B's real web port: a DMS makes a
sao y of a letter A sent, numbered in the copy register (its next number when none is
given), linked to the original and carrying its file, once for a retried Idempotency-Key;
a bad form, a type that is not the form's, a missing original or no recipient is refused
naming the field, with nothing stored."""

from __future__ import annotations

from lienthong.node.unit import documents as service
from lienthong.protocol.document import _metadata_v2
from lienthong.storage import links
from lienthong.storage.documents import get_document
from lienthong.storage.registers import COPIES, list_register
from tests.node.unit.api.conftest import A, B, metadata, sent_and_delivered
from tests.node.unit.api.test_api_writes import post

# What a refused copy must leave as it was (each API call is audited itself).
TABLES = ("documents", "outgoing_register", "document_links", "outbox")


async def _counts(ctx) -> dict[str, int]:
    async with ctx.store.read() as conn:
        return {t: (await conn.fetchone(f"SELECT count(*) FROM {t}"))[0] for t in TABLES}  # noqa: S608 - fixed names


def _copy_metadata(**changes) -> dict:
    """B's own metadata for a copy, as POST /documents takes it, without number, type and
    subject (the node fills them in) unless `changes` gives them."""
    wire = _metadata_v2(metadata())
    for name in ("number", "type", "subject"):
        wire.pop(name)
    wire["notation"] = "SY-SNV"
    wire["issuer"] = {"name": "Sở Nội vụ", "code": B}
    return wire | changes


async def test_a_sao_y_is_numbered_in_the_copy_register_linked_and_sent_once(units, dms, tmp_path):
    """201 with the copy's id, number 01 of the copy register and copy_of; the line is in
    the register "sao", the copy holds the original's file and subject and is linked to
    it; the same Idempotency-Key again answers the same, nothing made twice; a second copy
    (trích sao, number given) takes its own number."""
    b = units.ctx[B]
    scan = tmp_path / "quyết-định.pdf"
    scan.write_bytes(b"%PDF-1.4 goc\n" * 40)
    original = await sent_and_delivered(units, files=[scan])
    client = await dms(b, ("send",))
    path = f"/api/v1/documents/{original}/copies"
    body = {"form": "sao_y", "metadata": _copy_metadata(), "recipients": [A]}
    r = await post(client, path, body, "copy-1")
    assert r.status == 201, await r.text()
    made = await r.json()
    assert (made["copy_of"], made["form"], made["type"], made["number"]) == (
        original,
        "sao_y",
        "ban_sao_y",
        "01",
    )
    assert r.headers["Location"] == f"/api/v1/documents/{made['id']}"
    again = await post(client, path, body, "copy-1")
    assert again.status == 201 and await again.json() == made
    assert again.headers["Idempotent-Replayed"] == "true"
    async with b.store.read() as conn:
        (line,) = await list_register(conn, "outgoing", 2014, COPIES)
        copy = await get_document(conn, made["id"])
        linked = await links.links_of(conn, original)
    assert (line.document_id, line.number, line.doc_type) == (made["id"], "01", "ban_sao_y")
    body_of = service.stored_body(copy)
    assert [x.name for x in body_of.attachments] == ["quyết-định.pdf"]
    assert body_of.metadata.subject == metadata().subject
    assert [(x.document_id, x.kind, x.target_id) for x in linked] == [
        (made["id"], links.COPY_OF, original)
    ]
    extract = {
        "form": "trich_sao",
        "metadata": _copy_metadata(number="07", notation="TrS-SNV", subject="Trích điều 2"),
        "recipients": [A],
    }
    r = await post(client, path, extract, "copy-2")
    assert r.status == 201, await r.text()
    assert (await r.json())["number"] == "07"
    async with b.store.read() as conn:
        lines = await list_register(conn, "outgoing", 2014, COPIES)
    assert [(x.number, x.doc_type) for x in lines] == [("01", "ban_sao_y"), ("07", "ban_trich_sao")]


async def test_a_bad_copy_names_its_field_and_stores_nothing(units, dms):
    """An unknown form, a type other than the form's, a bad metadata field, no recipient:
    400 naming the field; an original this node does not hold: 404; a key without send:
    403; each leaves documents, register, links and outbox as they were."""
    b = units.ctx[B]
    original = await sent_and_delivered(units)
    client = await dms(b, ("send",))
    reader = await dms(b, ("read", "process"))
    path = f"/api/v1/documents/{original}/copies"
    good = {"form": "sao_luc", "metadata": _copy_metadata(), "recipients": [A]}
    before = await _counts(b)
    cases = [
        (client, path, good | {"form": "photocopy"}, 400, "form"),
        (client, path, good | {"metadata": _copy_metadata(type="cong_van")}, 400, "metadata.type"),
        (client, path, good | {"metadata": _copy_metadata(place="")}, 400, "metadata.place"),
        (client, path, good | {"recipients": []}, 400, "recipients"),
        (client, path, good | {"copies": 3}, 400, "copies"),
        (client, "/api/v1/documents/01HZZZZZZZZZZZZZZZZZZZZZZZ/copies", good, 404, None),
        (reader, path, good, 403, None),
    ]
    for n, (who, where, body, status, field) in enumerate(cases):
        r = await post(who, where, body, f"bad-{n}")
        assert r.status == status, (body, await r.text())
        assert r.content_type == "application/problem+json"
        problem = await r.json()
        if field is not None:
            assert [e["field"] for e in problem["errors"]] == [field], problem
    assert await _counts(b) == before
