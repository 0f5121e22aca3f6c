"""The gateway between real nodes over mutual TLS (127.0.0.1): C is the gateway of the
Government Office (outside the directory). A's document to it comes out of C's outgoing
folder as edXML and A's timeline shows it passed on; an edXML status dropped into C's
incoming folder reaches A's timeline; a package dropped in reaches B with its first sender
named, and B's answer leaves as an edXML status; bad files go to failed/ with the reason
(docs/GATEWAY.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from lienthong.node.unit import documents as service
from lienthong.node.unit import external
from lienthong.node.unit.gateway import Gateway, GatewayError, Spool
from lienthong.node.unit.gateway import _file_digest as gateway_file_digest
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.directory import ExternalOrganisation
from lienthong.protocol.document import DocumentMetadata, Organisation, Signer
from lienthong.protocol.edxml import EdxmlStatus, ExportAttachment, document_id
from lienthong.protocol.edxml_read import from_edxml, status_from_edxml
from lienthong.protocol.edxml_write import status_to_edxml, to_edxml
from lienthong.protocol.states import DocState
from lienthong.storage.documents import list_documents
from lienthong.storage.registers import list_register
from lienthong.storage.statuses import statuses_of
from tests.node.tls_federation import A, B, C, Federation, letter, reading_version_2, state

VPCP = ExternalOrganisation(code="000.00.00.G09", name="Văn phòng Chính phủ", gateway=C)
UNLISTED = "000.00.00.G99"


def with_gateway(fed: Federation) -> None:
    """Put in force everywhere a form-2 directory: A, B, C read version 2 and C is the
    gateway of the Government Office."""
    reading_version_2(fed, external=[VPCP])


@pytest.fixture
def gateway(fed, tmp_path) -> Gateway:
    with_gateway(fed)
    spool = Spool(tmp_path / "out", tmp_path / "in", None, 1)
    return Gateway(fed.units[C].ctx, spool=spool)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


async def timeline(unit, document_id: str):
    async with unit.ctx.store.read() as conn:
        return await statuses_of(conn, document_id)


async def to_vpcp(fed, tmp_path) -> tuple[str, Path]:
    """A sends a letter with one attachment to the Government Office; C gets it; its
    gateway writes the package and tells A. Returns A's document id and the package."""
    a = fed.units[A]
    pdf = tmp_path / "bao-cao.pdf"
    pdf.write_bytes(b"%PDF-1.4 bao cao\n" * 1000)
    doc_id = await service.send_document(a.ctx, letter(), [VPCP.code], files=[pdf], actor="vt")
    assert await a.engine.deliver(C) is True
    return doc_id, pdf


async def test_a_document_to_an_outside_organisation_leaves_the_gateway_as_edxml(
    fed, gateway, tmp_path
):
    """A addresses the Government Office: the envelope goes to C only, naming it in
    gateway.to, and A's outgoing register names the Office. C's gateway writes one package,
    <A>_<envelope>_<G09>.edxml (no temporary file left), that reads back with A as From,
    the Office as To, the letter's number and the attachment's bytes; A's timeline then
    holds C's 01 on arrival and a 01 naming the Office once its package was written."""
    a, c = fed.units[A], fed.units[C]
    doc_id, pdf = await to_vpcp(fed, tmp_path)
    assert await state(a, doc_id, C) is Delivery.ARRIVED
    async with a.ctx.store.read() as conn:
        (line,) = await list_register(conn, "outgoing", 2014)
    assert line.recipients == VPCP.name  # Nơi nhận: the Office, not its gateway
    async with c.ctx.store.read() as conn:
        (arrived,) = await list_documents(conn, direction="in")
    assert external.addressed_to(service.stored_body(arrived).metadata) == (VPCP.code,)

    assert await gateway.pass_on() >= 1
    out = tmp_path / "out"
    name = f"{A}_{doc_id}_{VPCP.code}.edxml"
    assert files(out) == [name]
    (tmp_path / "read").mkdir()
    with (out / name).open("rb") as f:
        package = from_edxml(f, tmp_path / "read")
    assert package.sender_id == A
    assert [r.code for r in package.receivers] == [VPCP.code]
    assert package.metadata.number_notation == letter().number_notation
    assert package.document_id == document_id(A, "2014-05-23", "2340/VP-TTTH")
    (attachment,) = package.attachments
    assert attachment.name == pdf.name and attachment.path.read_bytes() == pdf.read_bytes()

    assert await c.engine.deliver(A) is True
    answers = [s for s in await timeline(a, doc_id) if s.from_code == C]
    assert [s.code for s in answers] == [StatusCode.ARRIVED, StatusCode.ARRIVED]
    named = [external.note_organisation(s.note) for s in answers]  # same time: any order
    assert sorted(named, key=str) == [(VPCP.code, VPCP.name), None]
    assert await state(a, doc_id, C) is Delivery.ARRIVED


async def test_a_status_dropped_in_goes_back_to_the_senders_timeline(fed, gateway, tmp_path):
    """The Office registers A's document: its edXML 03 (Description: the incoming number)
    dropped into C's incoming folder is moved to done/, and A's timeline holds a 03 from C
    with that number, naming the Office. The same bytes dropped again are not taken twice."""
    a, c = fed.units[A], fed.units[C]
    doc_id, _ = await to_vpcp(fed, tmp_path)
    await gateway.pass_on()
    answer = status_to_edxml(
        EdxmlStatus(
            sender=Organisation(name=VPCP.name, code=VPCP.code),
            code=StatusCode.ACCEPTED,
            timestamp="2014/05/26 08:30:00",
            document_id=document_id(A, "2014-05-23", "2340/VP-TTTH"),
            description="125",
        )
    )
    incoming = tmp_path / "in"
    (incoming / "vpcp-03.edxml").write_bytes(answer)
    assert await gateway.take_in() == 1
    assert files(incoming / "done") == ["vpcp-03.edxml"]
    assert files(incoming) == []

    assert await c.engine.deliver(A) is True
    (accepted,) = [s for s in await timeline(a, doc_id) if s.code == StatusCode.ACCEPTED]
    assert accepted.from_code == C and accepted.incoming_number == 125
    assert external.note_organisation(accepted.note) == (VPCP.code, "125")
    assert await state(a, doc_id, C) is Delivery.ACCEPTED

    (incoming / "again.edxml").write_bytes(answer)
    await gateway.take_in()
    assert "again.edxml.reason.txt" in files(incoming / "done")
    assert "taken before" in (incoming / "done" / "again.edxml.reason.txt").read_text()
    async with c.ctx.store.read() as conn:
        (doc,) = await list_documents(conn, direction="in")
        sent = [s for s in await statuses_of(conn, doc.id) if s.code == StatusCode.ACCEPTED]
    assert len(sent) == 1


def vpcp_letter() -> DocumentMetadata:
    return DocumentMetadata(
        signer=Signer("Trần Văn Sơn", "Chủ nhiệm"),
        number="512",
        notation="VPCP-KSTT",
        doc_type="cong_van",
        issuer=Organisation(name=VPCP.name, code=VPCP.code),
        place="Hà Nội",
        issued_on="2025-11-20",
        subject="V/v kết nối liên thông văn bản với Trục liên thông văn bản quốc gia",
    )


def package_to(receivers: list[str], *, sender: str = VPCP.code, business_type: int = 0):
    return to_edxml(
        vpcp_letter(),
        attachments=[ExportAttachment("cong-van.pdf", "application/pdf", b"%PDF-1.4 cv\n")],
        sender_id=sender,
        receivers=[Organisation(name="", code=code) for code in receivers],
        business_type=business_type,
    )


async def test_a_package_dropped_in_reaches_the_unit_it_names(fed, gateway, tmp_path):
    """A package from the Office to B: C sends it on (no line in C's outgoing register), B
    holds it with the Office as its issuer and gateway.from naming it, and the attachment's
    bytes. B registers it: its 03 reaches C, whose gateway writes it as an edXML status
    answering the package's DocumentId."""
    b, c = fed.units[B], fed.units[C]
    incoming = tmp_path / "in"
    (incoming / "vpcp-512.edxml").write_bytes(package_to([B, "000.00.00.H01"]))
    assert await gateway.take_in() == 1
    assert files(incoming / "done") == ["vpcp-512.edxml"]
    assert await c.engine.deliver(B) is True
    async with b.ctx.store.read() as conn:
        (doc,) = await list_documents(conn, direction="in")
    m = service.stored_body(doc).metadata
    assert doc.sender_code == C and m.issuer.code == VPCP.code
    assert external.brought_from(m) == VPCP.code
    assert m.subject == vpcp_letter().subject

    number = await service.process_document(b.ctx, doc.id, DocState.ACCEPTED, actor="vt")
    assert await b.engine.deliver(C) is True
    await gateway.pass_on()
    statuses = [n for n in files(tmp_path / "out") if n.startswith(f"status_{B}_")]
    assert statuses, files(tmp_path / "out")
    answers = [status_from_edxml((tmp_path / "out" / n).read_bytes()) for n in statuses]
    assert {s.code for s in answers} >= {StatusCode.ARRIVED, StatusCode.ACCEPTED}
    assert {s.document_id for s in answers} == {
        document_id(VPCP.code, "2025-11-20", "512/VPCP-KSTT")
    }
    assert number is not None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<edXML><not-closed>", "edXML"),
        (package_to([B], sender=UNLISTED), "not an organisation the directory lists"),
        (package_to(["000.00.00.H01"]), "To names no unit of the directory"),
        (package_to([B], business_type=2), "new documents (0) only"),
        (
            status_to_edxml(
                EdxmlStatus(
                    sender=Organisation(name=VPCP.name, code=VPCP.code),
                    code=StatusCode.COMPLETED,
                    timestamp="2025/11/21 09:00:00",
                    document_id="000.00.02.H53,2014/05/23,1/KHONG-CO",
                )
            ),
            "names no document this gateway passed on",
        ),
    ],
)
async def test_a_bad_file_goes_to_failed_with_its_reason(fed, gateway, tmp_path, content, reason):
    """A file that cannot be taken is moved to failed/ with <name>.reason.txt naming what
    was wrong; nothing is sent and nothing is stored."""
    c = fed.units[C]
    incoming = tmp_path / "in"
    (incoming / "bad.edxml").write_bytes(content)
    assert await gateway.take_in() == 1
    assert files(incoming) == []
    assert files(incoming / "failed") == ["bad.edxml", "bad.edxml.reason.txt"]
    assert reason in (incoming / "failed" / "bad.edxml.reason.txt").read_text(encoding="utf-8")
    async with c.ctx.store.read() as conn:
        assert await list_documents(conn, direction="out") == []


async def test_an_organisation_no_gateway_carries_is_refused_at_sending(fed, gateway):
    """A code that is neither a unit nor an organisation the directory lists is refused by
    name, with nothing stored."""
    a = fed.units[A]
    with pytest.raises(service.DocumentError, match=UNLISTED):
        await service.send_document(a.ctx, letter(), [UNLISTED], actor="vt")
    async with a.ctx.store.read() as conn:
        assert await list_documents(conn, direction="out") == []


async def test_a_document_edxml_cannot_carry_is_returned_to_its_sender(fed, gateway, tmp_path):
    """A letter without a number cannot be an edXML package: nothing is written, A gets a
    02 from C naming the Office with the reason, and the gateway goes on."""
    a, c = fed.units[A], fed.units[C]
    unnumbered = dataclasses.replace(letter(), number=None)
    doc_id = await service.send_document(a.ctx, unnumbered, [VPCP.code], actor="vt")
    assert await a.engine.deliver(C) is True
    assert await gateway.pass_on() >= 1
    assert files(tmp_path / "out") == []
    assert await c.engine.deliver(A) is True
    (rejected,) = [s for s in await timeline(a, doc_id) if s.code == StatusCode.REJECTED]
    assert external.note_organisation(rejected.note) == (VPCP.code, "")
    assert await state(a, doc_id, C) is Delivery.REJECTED


async def test_packages_are_posted_to_the_connector_when_it_takes_them(fed, tmp_path):
    """With post_url the package is POSTed (application/xml, its name in X-Edxml-Name); a
    connector answering 503 gets it again on the next round, and the cursor does not move
    past it until it answered 2xx."""
    with_gateway(fed)
    got: list[tuple[str, bytes]] = []
    answers = [503, 200]

    async def take(request: web.Request) -> web.Response:
        got.append((request.headers["X-Edxml-Name"], await request.read()))
        return web.Response(status=answers.pop(0))

    app = web.Application()
    app.router.add_post("/edxml", take)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as session:
            spool = Spool(None, None, f"http://127.0.0.1:{port}/edxml", 1)
            gateway = Gateway(fed.units[C].ctx, session, spool)
            doc_id, _ = await to_vpcp(fed, tmp_path)
            with pytest.raises(GatewayError, match="HTTP 503"):
                await gateway.pass_on()
            assert await gateway.pass_on() >= 1
            await gateway.pass_on()  # the cursor moved past it: not POSTed again
    finally:
        await runner.cleanup()
    name = f"{A}_{doc_id}_{VPCP.code}.edxml"
    assert [n for n, _ in got] == [name, name]
    assert got[0][1] == got[1][1] and got[1][1].startswith(b"<?xml")


async def test_a_recall_goes_out_as_edxml_and_the_answer_comes_back(fed, gateway, tmp_path):
    """A asks to recall what it sent the Office: C's gateway writes an edXML 13 from A
    answering the package's DocumentId; the Office's 15 dropped in reaches A as C's 15
    naming the Office, and A's document is recalled at C."""
    a, c = fed.units[A], fed.units[C]
    doc_id, _ = await to_vpcp(fed, tmp_path)
    await gateway.pass_on()
    assert await service.recall(a.ctx, doc_id, actor="vt", reason="Ghi sai số") == [C]
    assert await a.engine.deliver(C) is True
    await gateway.pass_on()
    (name,) = [n for n in files(tmp_path / "out") if n.startswith(f"status_{A}_")]
    asked = status_from_edxml((tmp_path / "out" / name).read_bytes())
    original = document_id(A, "2014-05-23", "2340/VP-TTTH")
    assert (asked.code, asked.document_id, asked.sender.code) == (13, original, A)
    assert asked.description == "Ghi sai số" and name.endswith(f"_{VPCP.code}.edxml")

    agreed = EdxmlStatus(
        sender=Organisation(name=VPCP.name, code=VPCP.code),
        code=StatusCode.RECALL_AGREED,
        timestamp="2014/05/27 10:00:00",
        document_id=original,
    )
    (tmp_path / "in" / "vpcp-15.edxml").write_bytes(status_to_edxml(agreed))
    assert await gateway.take_in() == 1
    assert files(tmp_path / "in" / "done") == ["vpcp-15.edxml"]
    assert await c.engine.deliver(A) is True
    (answer,) = [s for s in await timeline(a, doc_id) if s.code == StatusCode.RECALL_AGREED]
    assert answer.from_code == C
    assert external.note_organisation(answer.note) == (VPCP.code, "")
    assert await state(a, doc_id, C) is Delivery.RECALLED


async def test_an_organisation_the_directory_does_not_list_gets_a_02(fed, gateway, tmp_path):
    """A document reaching the gateway with gateway.to naming a code the directory does
    not list (it changed since the sender sealed): no package, and a 02 to the sender
    naming the code, with the reason."""
    a, c = fed.units[A], fed.units[C]
    named = dataclasses.replace(letter(), extensions=((external.GATEWAY_TO, (UNLISTED,)),))
    doc_id = await service.send_document(a.ctx, named, [C], actor="vt")
    assert await a.engine.deliver(C) is True
    await gateway.pass_on()
    assert files(tmp_path / "out") == []
    assert await c.engine.deliver(A) is True
    (rejected,) = [s for s in await timeline(a, doc_id) if s.code == StatusCode.REJECTED]
    assert external.note_organisation(rejected.note) == (UNLISTED, "")
    assert UNLISTED in rejected.raw.decode("utf-8", "replace")


async def test_a_package_to_the_gateway_itself_is_its_own_incoming_document(fed, gateway, tmp_path):
    """A package from the Office to C and B: C takes it in as its own incoming document
    (node/unit/edxml_import.py) and sends it on to B."""
    b, c = fed.units[B], fed.units[C]
    (tmp_path / "in" / "vpcp.edxml").write_bytes(package_to([C, B]))
    assert await gateway.take_in() == 1
    assert files(tmp_path / "in" / "done") == ["vpcp.edxml"]
    async with c.ctx.store.read() as conn:
        (own,) = await list_documents(conn, direction="in")
    assert service.stored_body(own).metadata.subject == vpcp_letter().subject
    assert await c.engine.deliver(B) is True
    async with b.ctx.store.read() as conn:
        (sent_on,) = await list_documents(conn, direction="in")
    assert sent_on.sender_code == C
    assert external.brought_from(service.stored_body(sent_on).metadata) == VPCP.code
    # C registers its own copy: the 03 leaves as an edXML status with the incoming number,
    # not queued to the Office's code, which no node answers for.
    number = await service.process_document(c.ctx, own.id, DocState.ACCEPTED, actor="vt")
    await gateway.pass_on()
    (name,) = [n for n in files(tmp_path / "out") if n.startswith(f"status_{C}_")]
    answer = status_from_edxml((tmp_path / "out" / name).read_bytes())
    assert answer.code is StatusCode.ACCEPTED and answer.description == str(number)
    assert answer.document_id == document_id(VPCP.code, "2025-11-20", "512/VPCP-KSTT")
    async with c.ctx.store.read() as conn:
        queued = await conn.fetchall(
            "SELECT 1 FROM status_outbox WHERE destination = ?", (VPCP.code,)
        )
    assert queued == []


class Stopped(BaseException):
    """The gateway's process ending where the test says (not an error it would catch)."""


async def test_a_gateway_stopped_before_moving_a_file_sends_it_on_once(
    fed, gateway, tmp_path, monkeypatch
):
    """The gateway stops right after the package was sent on (the transaction committed),
    before anything else: at the next start the file is found taken (the record was written
    in the sending transaction) and goes to done/ saying so; B holds the document once. A
    file recorded the old way (a file under gateway/taken/) is still not taken again."""
    b, c = fed.units[B], fed.units[C]
    incoming = tmp_path / "in"
    (incoming / "vpcp-512.edxml").write_bytes(package_to([B]))

    send = service.send_document

    async def send_then_stop(*args, **kwargs):
        await send(*args, **kwargs)  # committed: the document is on its way to B
        raise Stopped

    with monkeypatch.context() as patch:
        patch.setattr(service, "send_document", send_then_stop)
        with pytest.raises(Stopped):
            await gateway.take_in()
    assert files(incoming) == ["vpcp-512.edxml"]  # still there, as after a crash

    restarted = Gateway(c.ctx, spool=gateway.spool)
    assert await restarted.take_in() == 1
    assert files(incoming / "done") == ["vpcp-512.edxml", "vpcp-512.edxml.reason.txt"]
    reason = (incoming / "done" / "vpcp-512.edxml.reason.txt").read_text(encoding="utf-8")
    assert "taken before" in reason and f"sent on to {B}" in reason
    assert await c.engine.deliver(B) is True
    async with b.ctx.store.read() as conn:
        assert len(await list_documents(conn, direction="in")) == 1

    legacy = package_to([B], business_type=0).replace(b"512", b"513")
    (incoming / "vpcp-513.edxml").write_bytes(legacy)
    taken = restarted.state / "taken"
    taken.mkdir(exist_ok=True)
    (taken / gateway_file_digest(incoming / "vpcp-513.edxml")).write_text(
        "vpcp-513.edxml: sent on before", encoding="utf-8"
    )
    assert await restarted.take_in() == 1
    assert "vpcp-513.edxml" in files(incoming / "done")
    async with c.ctx.store.read() as conn:
        assert len(await list_documents(conn, direction="out")) == 1
