"""The document service end to end without a network: send, receive, answer, recall."""

import hashlib

import pytest

from lienthong.crypto.keys import NodeKeys
from lienthong.node.unit import documents as service
from lienthong.node.unit.attachments import decrypt_to
from lienthong.protocol.codes import Confidentiality, StatusCode
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.document import DocumentMetadata, Organisation, Signer
from lienthong.protocol.errors import NotARecipient
from lienthong.protocol.states import DocState, TransitionError
from lienthong.storage import outbox
from lienthong.storage.audit import verify
from lienthong.storage.documents import get_document, get_envelope_raw
from lienthong.storage.registers import IncomingEntry, list_register, register_incoming
from tests.node.helpers import Clock, make_context, make_directory

A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"


def letter(**kw) -> DocumentMetadata:
    values = dict(
        number="2340",
        notation="VP-TTTH",
        doc_type="cong_van",
        issuer=Organisation(name="Văn phòng UBND tỉnh", code=A),
        place="Tây Ninh",
        issued_on="2014-05-23",
        subject="V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)",
        signer=Signer("Trương Văn Hùng", "Phó Chánh Văn phòng", "KT.", "Chánh Văn phòng"),
    )
    values.update(kw)
    return DocumentMetadata(**values)


@pytest.fixture
async def units(tmp_path):
    keys = {code: NodeKeys.generate() for code in (A, B, C)}
    directory = make_directory(NodeKeys.generate(), keys)
    clock = Clock()
    ctxs = {
        code: await make_context(tmp_path, code, k, directory, clock) for code, k in keys.items()
    }
    yield ctxs
    for ctx in ctxs.values():
        await ctx.store.close()


async def envelope_of(ctx, envelope_id):
    async with ctx.store.read() as conn:
        return await get_envelope_raw(conn, envelope_id)


async def test_letter_travels_and_comes_back_registered(units, tmp_path):
    """A sends with an attachment; B stores it once, accepts it with số đến 1; A sees each step."""
    a, b = units[A], units[B]
    attachment = tmp_path / "danh-sach.pdf"
    attachment.write_bytes(b"%PDF-1.4 danh sach 26 don vi" * 1000)
    envelope_id = await service.send_document(a, letter(), [B], files=[attachment], actor="vt.a")
    raw = await envelope_of(a, envelope_id)
    # Blobs travel first; B refuses the envelope until they are there.
    with pytest.raises(service.MissingBlobs):
        await service.receive_envelope(b, raw, via="direct")
    body = service.stored_body(await _doc(a, envelope_id))
    blob_id = body.attachments[0].blob
    b.blobs.path(blob_id).parent.mkdir(parents=True, exist_ok=True)
    b.blobs.path(blob_id).write_bytes(a.blobs.path(blob_id).read_bytes())
    receipt = await service.receive_envelope(b, raw, via="direct")
    assert await service.receive_envelope(b, raw, via="direct") == receipt  # idempotent
    assert await service.receive_status(a, receipt, via="direct")
    assert not await service.receive_status(a, receipt, via="direct")  # applied once
    number = await service.process_document(b, envelope_id, DocState.ACCEPTED, actor="vt.b")
    assert number == 1
    async with b.store.read() as conn:
        status_raw = (await outbox.due_for(conn, A, b.clock(), 10))[0].raw
    await service.receive_status(a, status_raw, via="direct")
    async with a.store.read() as conn:
        assert await outbox.delivery_state(conn, envelope_id, B) is Delivery.ACCEPTED
    out = tmp_path / "out.pdf"
    decrypt_to(b.blobs, service.stored_body(await _doc(b, envelope_id)).attachments[0], out)
    assert out.read_bytes() == attachment.read_bytes()
    for ctx in (a, b):
        async with ctx.store.read() as conn:
            assert (await verify(conn)).ok


async def _doc(ctx, envelope_id):
    async with ctx.store.read() as conn:
        return await get_document(conn, envelope_id)


async def test_a_receipt_must_hash_the_envelope_sent(units):
    """A 01 whose hash is not that of A's envelope is refused: no proof, no arrival."""
    a, b = units[A], units[B]
    envelope_id = await service.send_document(a, letter(), [B], actor="vt.a")
    other_id = await service.send_document(a, letter(number="2341"), [B], actor="vt.a")
    await service.receive_envelope(b, await envelope_of(a, envelope_id), via="direct")
    from lienthong.protocol.status import make_status

    forged = make_status(
        b.keys,
        sender=B,
        serial=2,
        to=A,
        envelope=other_id,
        code=StatusCode.ARRIVED,
        at=b.clock(),
        receipt=hashlib.sha256(b"something else").digest(),
    )
    with pytest.raises(Exception, match="receipt does not match"):
        await service.receive_status(a, forged, via="direct")


async def test_a_01_lost_on_a_direct_answer_goes_back_when_the_relay_brings_the_envelope(units):
    """B stored A's envelope from a direct delivery whose answer A never got, so A deposited
    it at the relay: collecting it there queues B's 01 to A (once), or A waits forever."""
    a, b = units[A], units[B]
    envelope_id = await service.send_document(a, letter(), [B], actor="vt.a")
    raw = await envelope_of(a, envelope_id)
    receipt = await service.receive_envelope(b, raw, via="direct")  # the answer is lost
    async with b.store.read() as conn:
        assert await outbox.due_for(conn, A, b.clock(), 10) == []  # it travelled in the answer
    assert await service.receive_envelope(b, raw, via="relay") == receipt
    assert await service.receive_envelope(b, raw, via="relay") == receipt  # a second copy
    async with b.store.read() as conn:
        due = await outbox.due_for(conn, A, b.clock(), 10)
    assert [(d.kind, d.raw) for d in due] == [("status", receipt)]
    assert await service.receive_status(a, due[0].raw, via="relay")
    async with a.store.read() as conn:
        assert await outbox.delivery_state(conn, envelope_id, B) is Delivery.ARRIVED


async def test_status_for_an_envelope_never_sent_is_refused(units):
    """C cannot report on a document A sent only to B."""
    a, c = units[A], units[C]
    envelope_id = await service.send_document(a, letter(), [B], actor="vt.a")
    with pytest.raises(NotARecipient):
        await service.receive_envelope(c, await envelope_of(a, envelope_id), via="direct")
    from lienthong.protocol.status import make_status

    status = make_status(
        c.keys,
        sender=C,
        serial=3,
        to=A,
        envelope=envelope_id,
        code=StatusCode.COMPLETED,
        at=c.clock(),
    )
    with pytest.raises(Exception, match="not sent"):
        await service.receive_status(a, status, via="direct")


async def test_confidential_documents_need_the_setting(units):
    """Mật is refused with the reason unless security.allow_confidential is set."""
    with pytest.raises(service.ConfidentialRefused, match="allow_confidential"):
        await service.send_document(
            units[A], letter(confidentiality=Confidentiality.SECRET), [B], actor="vt.a"
        )


async def test_paper_entry_is_reconciled_not_registered_twice(units):
    """A paper copy registered by hand during an outage keeps its number when the file arrives."""
    a, b = units[A], units[B]
    envelope_id = await service.send_document(a, letter(), [B], actor="vt.a")
    async with b.store.write() as tx:
        manual = await register_incoming(
            tx,
            IncomingEntry(
                arrived_on="2014-05-26",
                issuer_name="VP UBND tỉnh",
                issuer_code=A,
                number_notation="2340/VP-TTTH",
                doc_date="2014-05-23",
                doc_type="cong_van",
                subject="V/v ...",
                manual=True,
            ),
            actor="vt.b",
            at=b.clock(),
        )
    await service.receive_envelope(b, await envelope_of(a, envelope_id), via="direct")
    number = await service.process_document(b, envelope_id, DocState.ACCEPTED, actor="vt.b")
    assert number == manual
    async with b.store.read() as conn:
        entries = await list_register(conn, "incoming", 2014)
    assert [e.number for e in entries] == [manual]


async def test_recall_agreed_and_refused(units):
    """13 reaches the recipient; 15 makes it recalled there and at the sender; 16 needs a reason."""
    a, b, c = units[A], units[B], units[C]
    envelope_id = await service.send_document(a, letter(), [B, C], actor="vt.a")
    raw = await envelope_of(a, envelope_id)
    for ctx in (b, c):
        await service.receive_status(
            a, await service.receive_envelope(ctx, raw, via="direct"), via="direct"
        )
    await service.recall(a, envelope_id, actor="vt.a", reason="sai số")
    async with a.store.read() as conn:
        requests = {
            i.destination: i.raw
            for d in (B, C)
            for i in await outbox.due_for(conn, d, a.clock(), 10)
        }
    for code, ctx in ((B, b), (C, c)):
        await service.receive_status(ctx, requests[code], via="direct")
    await service.answer_recall(b, envelope_id, agree=True, actor="vt.b")
    with pytest.raises(service.DocumentError, match="reason"):
        await service.answer_recall(c, envelope_id, agree=False, actor="vt.c")
    await service.answer_recall(c, envelope_id, agree=False, actor="vt.c", reason="đã xử lý")
    for ctx in (b, c):
        async with ctx.store.read() as conn:
            answer = (await outbox.due_for(conn, A, ctx.clock(), 10))[-1].raw
        await service.receive_status(a, answer, via="direct")
    assert (await _doc(b, envelope_id)).state == DocState.RECALLED
    async with a.store.read() as conn:
        assert await outbox.delivery_state(conn, envelope_id, B) is Delivery.RECALLED
        assert await outbox.delivery_state(conn, envelope_id, C) is Delivery.ARRIVED
    with pytest.raises(TransitionError):
        await service.process_document(b, envelope_id, DocState.ACCEPTED, actor="vt.b")


async def test_a_recall_that_overtakes_its_envelope_can_be_taken_later(units):
    """13 before the envelope: refused as 'not here yet' (kept for later), accepted after it."""
    a, b = units[A], units[B]
    envelope_id = await service.send_document(a, letter(), [B], actor="vt.a")
    await service.recall(a, envelope_id, actor="vt.a", reason="sai số")
    async with a.store.read() as conn:
        request = [i for i in await outbox.due_for(conn, B, a.clock(), 10) if i.kind == "status"]
    with pytest.raises(service.EnvelopeNotHereYet):
        await service.receive_status(b, request[0].raw, via="relay")
    await service.receive_envelope(b, await envelope_of(a, envelope_id), via="direct")
    assert await service.receive_status(b, request[0].raw, via="relay")
    assert (await _doc(b, envelope_id)).recall == "requested"


async def test_only_the_sender_can_recall_a_document(units):
    """C, a recipient too, sends B a 13 for A's letter: refused, B's copy stays as it was."""
    from lienthong.protocol.status import make_status

    a, b = units[A], units[B]
    envelope_id = await service.send_document(a, letter(), [B, C], actor="vt.a")
    await service.receive_envelope(b, await envelope_of(a, envelope_id), via="direct")
    before = (await _doc(b, envelope_id)).state
    forged = make_status(
        units[C].keys,
        sender=C,
        serial=3,  # make_directory numbers A, B, C 1, 2, 3
        to=B,
        envelope=envelope_id,
        code=StatusCode.RECALL_REQUESTED,
        at=b.clock(),
        reason="thu hồi giả",
    )
    with pytest.raises(Exception, match="did not send here"):
        await service.receive_status(b, forged, via="direct")
    assert (await _doc(b, envelope_id)).state == before
