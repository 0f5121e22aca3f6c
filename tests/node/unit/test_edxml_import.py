"""An edXML package taken in by import_edxml is an incoming document like any other (in the
inbox, registered with an incoming number, its attachment decrypting to the package's
bytes), stored once however often it is imported, and written out again by export_edxml
with every field of the package; a package that is wrong stores nothing."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from lienthong.node.runtime import context
from lienthong.node.unit.attachments import decrypt_to
from lienthong.node.unit.documents import process_document, stored_body
from lienthong.node.unit.edxml_import import export_edxml, import_edxml
from lienthong.protocol.edxml_write import DOCUMENT_ID_EXTENSION, TRACE_EXTENSION
from lienthong.protocol.states import DocState
from lienthong.storage import events, links
from lienthong.storage.documents import count_documents, get_document
from tests.node.cli.cli_node import unit_with_a_letter
from tests.protocol.test_edxml_roundtrip import DATA, NS, attachments_of, canonical, parse

AXIS = DATA / "axis_cong_van.xml"
AXIS_ID = "000.00.00.G22,2025/11/24,8123/VPCP-KSTT"


@pytest.fixture
async def unit(tmp_path) -> Path:
    """Unit A, with a directory and one letter from B in its inbox."""
    data_dir = tmp_path / "a"
    await unit_with_a_letter(data_dir, tmp_path)
    return data_dir


def _blob_files(data_dir: Path) -> set[Path]:
    root = data_dir / "blobs"
    return {p for p in root.rglob("*") if p.is_file()}


async def test_a_package_becomes_an_incoming_document_once(unit, tmp_path):
    """The axis's công văn is in the inbox (state arrived, From as its sender, the
    DocumentId and trace kept), with a document.arrived event; its attachment decrypts to
    the package's bytes; the clerk registers it with an incoming number. Imported again, it
    is the same document and nothing more is stored."""
    async with context(unit) as ctx:
        async with ctx.store.read() as conn:
            before = await count_documents(conn, direction="in")
        first = await import_edxml(ctx, AXIS)
        assert first.created and first.document_id == AXIS_ID
        assert first.sender == "000.00.00.G22" and first.attachments == 2
        async with ctx.store.read() as conn:
            doc = await get_document(conn, first.id)
            assert await count_documents(conn, direction="in") == before + 1
            kinds = [(e.kind, e.document_id) for e in await events.events_after(conn, 0, limit=100)]
        assert doc is not None and doc.direction == "in" and doc.state == "arrived"
        assert doc.sender_code == "000.00.00.G22" and doc.issuer_name == "Văn phòng Chính phủ"
        assert (events.DOCUMENT_ARRIVED, first.id) in kinds
        body = stored_body(doc)
        ext = dict(body.metadata.extensions)
        assert ext[DOCUMENT_ID_EXTENSION] == AXIS_ID
        assert ext[TRACE_EXTENSION][0] == "000.00.00.G22,2025/11/24 16:05:12"
        attachment = body.attachments[1]
        assert attachment.name == "Phụ lục I.txt"
        out = tmp_path / "phu-luc.txt"
        decrypt_to(ctx.blobs, attachment, out)
        assert out.read_bytes() == "Danh sách đơn vị: Tây Ninh, Quảng Ngãi.\n".encode()
        blobs = _blob_files(unit)

        again = await import_edxml(ctx, AXIS)
        assert (again.id, again.created) == (first.id, False)
        async with ctx.store.read() as conn:
            assert await count_documents(conn, direction="in") == before + 1
        assert _blob_files(unit) == blobs  # nothing encrypted for the repeat

        number = await process_document(ctx, first.id, DocState.ACCEPTED, actor="vanthu")
        assert number is not None
        async with ctx.store.read() as conn:
            # Its 03 is kept and published, not queued to a code no node answers for.
            queued = await conn.fetchall(
                "SELECT 1 FROM status_outbox WHERE destination = ?", (first.sender,)
            )
            kept = await conn.fetchall(
                "SELECT code FROM status_events WHERE envelope_id = ? AND direction = 'out'",
                (first.id,),
            )
            changed = [
                e.document_id
                for e in await events.events_after(conn, 0, limit=100)
                if e.kind == events.STATUS_CHANGED
            ]
        assert queued == [] and [tuple(r) for r in kept] == [(3,)] and first.id in changed


async def test_export_of_an_import_is_the_package(unit, tmp_path):
    """export(import(x)): the envelope element for element and the attachments byte for
    byte, for the axis's công văn and its replacement (business, ReplacementInfo)."""
    async with context(unit) as ctx:
        for name in ("axis_cong_van.xml", "axis_replacement.xml"):
            result = await import_edxml(ctx, DATA / name)
            out = tmp_path / f"out-{name}"
            await export_edxml(ctx, result.id, out)
            before, after = parse((DATA / name).read_bytes()), parse(out.read_bytes())
            envelope = f"{NS}edXMLEnvelope"
            assert canonical(after.find(envelope)) == canonical(before.find(envelope))
            assert attachments_of(after) == attachments_of(before)


async def test_import_of_an_export_is_the_document(unit, tmp_path):
    """import(export(d)) for a letter that came in an envelope: the same metadata (but the
    routing the package adds), business and attachment bytes."""
    pdf = b"%PDF-1.4 noi dung\n" * 3000
    data_dir = tmp_path / "b-unit"
    letter = await unit_with_a_letter(data_dir, tmp_path / "b", {"Công văn.pdf": pdf})
    async with context(data_dir) as ctx:
        async with ctx.store.read() as conn:
            original = stored_body(await get_document(conn, letter))
        out = tmp_path / "letter.xml"
        await export_edxml(ctx, letter, out)
        result = await import_edxml(ctx, out)
        assert result.created and result.id != letter
        async with ctx.store.read() as conn:
            imported = stored_body(await get_document(conn, result.id))
        ext = dict(imported.metadata.extensions)
        assert ext[DOCUMENT_ID_EXTENSION] == result.document_id
        kept = {k: v for k, v in ext.items() if not k.startswith("edxml.")}
        assert kept == dict(original.metadata.extensions)
        assert replace(imported.metadata, extensions=original.metadata.extensions) == (
            original.metadata
        )
        assert imported.business == original.business
        (a,) = imported.attachments
        assert (a.name, a.size, a.sha256) == (
            "Công văn.pdf",
            len(pdf),
            hashlib.sha256(pdf).digest(),
        )


def _bad(original: bytes, old: bytes, new: bytes) -> bytes:
    assert old in original
    return original.replace(old, new, 1)


AXIS_BYTES = AXIS.read_bytes()
BAD = {
    "entity": (
        _bad(AXIS_BYTES, b"<edXML xmlns", b'<!DOCTYPE edXML [<!ENTITY a "aaaa">]><edXML xmlns'),
        "DOCTYPE",
    ),
    "external": (
        _bad(
            AXIS_BYTES, b"<edXML xmlns", b'<!DOCTYPE edXML SYSTEM "http://x.example/"><edXML xmlns'
        ),
        "DOCTYPE",
    ),
    "deep": (
        _bad(
            AXIS_BYTES,
            b"<edXML:Content>",
            b"<edXML:Content>" + b"<edXML:x>" * 40 + b"</edXML:x>" * 40,
        ),
        "MAX_DEPTH",
    ),
    "namespace": (
        AXIS_BYTES.replace(b"http://www.mic.gov.vn/TBT/QCVN_102_2016", b"urn:other"),
        "namespace",
    ),
    "missing subject": (
        _bad(
            AXIS_BYTES,
            "<edXML:Subject>V/v kết nối, liên thông văn bản điện tử &amp; báo cáo &lt;tháng "
            "11&gt;</edXML:Subject>".encode(),
            b"",
        ),
        "Subject",
    ),
    "bad base64": (
        _bad(
            AXIS_BYTES,
            base64.b64encode("Danh sách đơn vị: Tây Ninh, Quảng Ngãi.\n".encode())[:8],
            b"!!!!****",
        ),
        "base64",
    ),
    "path in a name": (
        _bad(AXIS_BYTES, b"I.txt</AttachmentName>", b"../x.txt</AttachmentName>"),
        "plain file name",
    ),
    "control character": (
        _bad(AXIS_BYTES, b"I.txt</AttachmentName>", b"a&#8238;txt.exe</AttachmentName>"),
        "U+202E",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_a_bad_package_stores_nothing(unit, tmp_path, case):
    """Each hostile or broken package: an error naming what is wrong; no document, no
    blob, no decoded file left behind."""
    data, named = BAD[case]
    path = tmp_path / "bad.xml"
    path.write_bytes(data)
    async with context(unit) as ctx:
        async with ctx.store.read() as conn:
            before = await count_documents(conn, direction="in")
        blobs = _blob_files(unit)
        with pytest.raises(Exception) as caught:
            await import_edxml(ctx, path)
        assert named in str(caught.value)
        async with ctx.store.read() as conn:
            assert await count_documents(conn, direction="in") == before
        assert _blob_files(unit) == blobs


def _replacement_of(original: bytes, replaced_id: str) -> bytes:
    """The axis's công văn as a replacement (BussinessDocType 3) of `replaced_id`, under a
    number of its own."""
    xml = original.replace(b"8123", b"8124")
    return xml.replace(
        b"<edXML:BussinessDocType>0</edXML:BussinessDocType>",
        b"<edXML:BussinessDocType>3</edXML:BussinessDocType>"
        + "<edXML:BussinessDocReason>Sai sót về thể thức</edXML:BussinessDocReason>".encode(),
    ).replace(
        b"</edXML:StaffInfo>",
        b"</edXML:StaffInfo><edXML:ReplacementInfoList><edXML:ReplacementInfo>"
        + f"<edXML:DocumentId>{replaced_id}</edXML:DocumentId>".encode()
        + b"</edXML:ReplacementInfo></edXML:ReplacementInfoList>",
    )


@pytest.mark.parametrize("order", ["original first", "replacement first"])
async def test_an_imported_replacement_is_linked_and_applied_when_registered(unit, tmp_path, order):
    """A replacement package names the document it replaces by its DocumentId: imported
    (before or after its original), it is linked to it both ways; registered, it supersedes
    the original, and its 15 is kept, not queued to a node nobody runs (the gateway or the
    DMS sends it on)."""
    replacement = tmp_path / "thay-the.xml"
    replacement.write_bytes(_replacement_of(AXIS.read_bytes(), AXIS_ID))
    async with context(unit) as ctx:
        if order == "original first":
            first = await import_edxml(ctx, AXIS)
            second = await import_edxml(ctx, replacement)
        else:
            second = await import_edxml(ctx, replacement)
            first = await import_edxml(ctx, AXIS)
        assert second.created and second.document_id.endswith("8124/VPCP-KSTT")
        async with ctx.store.read() as conn:
            made = await links.links_of(conn, second.id)
            named = await links.links_of(conn, first.id)
        assert [(x.kind, x.target_id) for x in made] == [(links.REPLACES, first.id)]
        assert [(x.document_id, x.kind) for x in named] == [(second.id, links.REPLACES)]

        await process_document(ctx, first.id, DocState.ACCEPTED, actor="vanthu")
        await process_document(ctx, second.id, DocState.ACCEPTED, actor="vanthu")
        async with ctx.store.read() as conn:
            old = await get_document(conn, first.id)
            queued = await conn.fetchone(
                "SELECT count(*) FROM status_outbox WHERE destination = ?", ("000.00.00.G22",)
            )
        assert old is not None and old.state == DocState.SUPERSEDED.value
        assert queued is not None and queued[0] == 0
