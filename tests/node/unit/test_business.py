"""Updates (cập nhật), replacements (thay thế) and recalls between real nodes over mutual TLS:
the recipient links and applies them, 15/16 are read by what they answer, an agreed recall
is marked in the registers, and bad input is refused with nothing stored."""

from __future__ import annotations

import dataclasses

import pytest

from lienthong.node.unit import documents as service
from lienthong.node.unit.views import business_view, links_view, recipients_view, timeline_view
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.document import Business, DocumentBody, DocumentMetadata
from lienthong.protocol.envelope import seal_envelope
from lienthong.protocol.states import (
    DocState,
    RecallState,
    TransitionError,
    answer_of,
    check_transition,
)
from lienthong.protocol.status import make_status
from lienthong.storage.documents import get_document, incoming_document
from lienthong.storage.registers import list_register
from tests.node.tls_federation import (
    A,
    B,
    C,
    Federation,
    Unit,
    actions,
    letter,
    post_inbox,
    reading_version_2,
    row_counts,
    state,
)

# What a refused send or a refused message must leave as it was.
TABLES = (
    "documents",
    "outbox",
    "status_events",
    "status_outbox",
    "document_links",
    "outgoing_register",
    "incoming_register",
)


def numbered(number: str, subject: str | None = None) -> DocumentMetadata:
    m = letter()
    return dataclasses.replace(m, number=number, subject=subject or m.subject)


async def sent(unit: Unit, to: list[str], number: str, **kw) -> str:
    return await service.send_document(unit.ctx, numbered(number), to, actor="vt", **kw)


async def deliver(fed: Federation, source: str, destination: str) -> None:
    """Every item `source` has due for `destination`, delivered directly."""
    while await fed.units[source].engine.deliver(destination):
        pass


async def received(unit: Unit, sender: str, wire_id: str):
    async with unit.ctx.store.read() as conn:
        doc = await incoming_document(conn, sender, wire_id)
    assert doc is not None, f"{wire_id} from {sender} has not arrived"
    return doc


async def view(unit: Unit, document_id: str):
    """(links_view, business_view, timeline_view) of a document."""
    async with unit.ctx.store.read() as conn:
        doc = await get_document(conn, document_id)
        return (
            await links_view(conn, doc),
            await business_view(conn, doc),
            await timeline_view(conn, doc),
        )


async def register_line(unit: Unit, kind: str, document_id: str):
    """A document's line: the incoming register of the year it arrived, the outgoing one of
    the year it was issued."""
    year = int((service._today(unit.ctx) if kind == "incoming" else letter().issued_on)[:4])
    async with unit.ctx.store.read() as conn:
        lines = await list_register(conn, kind, year)
    (line,) = [entry for entry in lines if entry.document_id == document_id]
    return line


@pytest.fixture
async def fed2(fed):
    """The federation of conftest.py with every unit reading version 2."""
    reading_version_2(fed)
    return fed


async def test_an_update_is_applied_at_the_recipient_and_agreed_back(fed2):
    """B registers A's update: both documents link each other, the old one shows the update
    as its newest version, and the 15 back at A reads "Đồng ý cập nhật" (its delivery stays
    registered, not recalled)."""
    a, b = fed2.units[A], fed2.units[B]
    original = await sent(a, [B], "15")
    await deliver(fed2, A, B)
    old = await received(b, A, original)
    await service.process_document(b.ctx, old.id, DocState.ACCEPTED, actor="vt.b")
    update = await sent(
        a, [B], "16", business="update", targets=[original], reason="Sửa trích yếu", paper=True
    )
    await deliver(fed2, A, B)
    new = await received(b, A, update)
    links, business, _ = await view(b, old.id)
    (link,) = links
    assert (link["label"], link["id"], link["effect"]) == ("link.updated_by", new.id, "pending")
    assert business["latest_update"] is None  # not in effect before B's clerk registers it
    number = await service.process_document(b.ctx, new.id, DocState.ACCEPTED, actor="vt.b")
    assert number == 2
    links, business, _ = await view(b, old.id)
    assert links[0]["effect"] == "applied"
    assert business["latest_update"]["id"] == new.id
    links, business, timeline = await view(b, new.id)
    assert [(x["label"], x["id"], x["number"]) for x in links] == [
        ("link.updates", old.id, "15/VP-TTTH")
    ]
    assert (business["business"], business["reason"]) == ("update", "Sửa trích yếu")
    assert (business["paper"], business["paper_label"]) == (True, "doc.paper_follows")
    assert sorted(e["label"] for e in timeline) == ["status.01", "status.03", "status.15.update"]
    assert (
        "Được cập nhật bởi văn bản số 16/VP-TTTH"
        in (await register_line(b, "incoming", old.id)).link_notes
    )
    await deliver(fed2, B, A)
    _, _, timeline = await view(a, update)
    answers = [(e["code"], e["label"], e["label_vi"]) for e in timeline if e["code"] == 15]
    assert answers == [(15, "status.15.update", "Đồng ý cập nhật")]
    assert await state(a, update, B) is Delivery.ACCEPTED
    async with a.ctx.store.read() as conn:
        (recipient,) = await recipients_view(conn, update)
    assert recipient["answer"] == "status.15.update"
    links, business, _ = await view(a, original)  # the sender's pages link them too
    assert [(x["label"], x["id"]) for x in links] == [("link.updated_by", update)]
    assert business["latest_update"]["id"] == update


async def test_a_replacement_of_two_documents_supersedes_both(fed2):
    """A replaces two letters with one; when B registers the replacement both become
    superseded (audited, through the one state table), are linked to it, and take no
    further action; A reads the 15 as "Đồng ý thay thế"."""
    a, b = fed2.units[A], fed2.units[B]
    first, second = await sent(a, [B], "20"), await sent(a, [B], "21")
    await deliver(fed2, A, B)
    one, two = await received(b, A, first), await received(b, A, second)
    await service.process_document(b.ctx, one.id, DocState.ACCEPTED, actor="vt.b")
    await service.process_document(b.ctx, one.id, DocState.ASSIGNED, actor="vt.b", assignee="P1")
    replacement = await sent(
        a, [B], "22", business="replace", targets=[first, second], reason="Gộp hai văn bản"
    )
    await deliver(fed2, A, B)
    new = await received(b, A, replacement)
    await service.process_document(b.ctx, new.id, DocState.ACCEPTED, actor="vt.b")
    async with b.ctx.store.read() as conn:
        states = [(await get_document(conn, d.id)).state for d in (one, two)]
    assert states == [DocState.SUPERSEDED, DocState.SUPERSEDED]
    links, business, _ = await view(b, new.id)
    assert business["business"] == "replace"
    assert sorted((x["label"], x["id"]) for x in links) == sorted(
        [("link.replaces", one.id), ("link.replaces", two.id)]
    )
    for old in (one, two):
        links, business, _ = await view(b, old.id)
        assert [(x["label"], x["id"], x["effect"]) for x in links] == [
            ("link.replaced_by", new.id, "applied")
        ]
        assert business["superseded"]
    assert (await actions(b.ctx)).count("document.state") == 5  # 3 registrations + 2 supersedes
    with pytest.raises(TransitionError):
        await service.process_document(b.ctx, one.id, DocState.COMPLETED, actor="vt.b")
    await deliver(fed2, B, A)
    _, _, timeline = await view(a, replacement)
    assert [e["label_vi"] for e in timeline if e["code"] == 15] == ["Đồng ý thay thế"]


async def test_an_agreed_recall_is_marked_in_both_registers(fed2):
    """A recalls a letter B registered; B agrees: the document is recalled and its incoming
    register line is kept, marked recalled with the day and A's reason; at A the 15 reads
    "Đồng ý thu hồi" and the outgoing line is marked too."""
    a, b = fed2.units[A], fed2.units[B]
    original = await sent(a, [B], "30")
    await deliver(fed2, A, B)
    doc = await received(b, A, original)
    await service.process_document(b.ctx, doc.id, DocState.ACCEPTED, actor="vt.b")
    await service.recall(a.ctx, original, actor="vt", reason="Sai số ký hiệu")
    await deliver(fed2, A, B)
    await service.answer_recall(b.ctx, doc.id, agree=True, actor="vt.b")
    today = service._today(b.ctx)
    line = await register_line(b, "incoming", doc.id)
    assert (line.recalled_on, line.recall_reason) == (today, "Sai số ký hiệu")
    assert (await get_document_of(b, doc.id)).state == DocState.RECALLED
    assert (await register_line(a, "outgoing", original)).recalled_on is None
    await deliver(fed2, B, A)
    _, _, timeline = await view(a, original)
    assert [e["label"] for e in timeline if e["code"] == 15] == ["status.15.recall"]
    assert await state(a, original, B) is Delivery.RECALLED
    line = await register_line(a, "outgoing", original)
    assert (line.recalled_on, line.recall_reason) == (today, "Sai số ký hiệu")


async def get_document_of(unit: Unit, document_id: str):
    async with unit.ctx.store.read() as conn:
        return await get_document(conn, document_id)


async def test_a_refused_update_is_read_as_a_refusal_of_the_update(fed2):
    """B returns A's update with a reason: it sends 02 and 16; A reads the 16 as "Từ chối
    cập nhật" (not a refused recall), the update's delivery is rejected, and at B the old
    document keeps no newest version."""
    a, b = fed2.units[A], fed2.units[B]
    original = await sent(a, [B], "40")
    await deliver(fed2, A, B)
    update = await sent(a, [B], "41", business="update", targets=[original], reason="Sửa ngày")
    await deliver(fed2, A, B)
    old, new = await received(b, A, original), await received(b, A, update)
    await service.process_document(
        b.ctx, new.id, DocState.REJECTED, actor="vt.b", reason="Văn bản gốc chưa vào sổ"
    )
    links, business, _ = await view(b, old.id)
    assert links[0]["effect"] == "refused" and business["latest_update"] is None
    await deliver(fed2, B, A)
    _, _, timeline = await view(a, update)
    (refusal,) = [e for e in timeline if e["code"] == StatusCode.RECALL_REFUSED]
    assert (refusal["label"], refusal["label_vi"]) == ("status.16.update", "Từ chối cập nhật")
    assert refusal["note"] == "Văn bản gốc chưa vào sổ"
    assert await state(a, update, B) is Delivery.REJECTED


async def test_an_update_of_a_document_never_received_is_kept_as_an_unknown_target(fed2):
    """A letter went to C only; its update goes to B, which keeps the link as an unknown
    target, shows it, and registers the update without error (its register note names
    the target's id)."""
    a, b = fed2.units[A], fed2.units[B]
    original = await sent(a, [C], "50")
    update = await sent(a, [B], "51", business="update", targets=[original], reason="Bổ sung")
    await deliver(fed2, A, B)
    new = await received(b, A, update)
    links, _, _ = await view(b, new.id)
    assert [(x["label"], x["known"], x["wire_id"], x["id"]) for x in links] == [
        ("link.updates", False, original, None)
    ]
    await service.process_document(b.ctx, new.id, DocState.ACCEPTED, actor="vt.b")
    notes = (await register_line(b, "incoming", new.id)).link_notes
    assert f"Cập nhật văn bản mã {original} (chưa nhận được)" in notes
    _, _, timeline = await view(b, new.id)
    assert "status.15.update" in [e["label"] for e in timeline]


async def test_a_replacement_that_overtakes_its_original_supersedes_it_on_arrival(fed2):
    """The replacement arrives (and is registered) before the letter it replaces: the link
    waits as an unknown target, and the letter is linked and superseded when it comes."""
    a, b = fed2.units[A], fed2.units[B]
    original = await sent(a, [B], "60")
    replacement = await sent(
        a, [B], "61", business="replace", targets=[original], reason="Thay thế"
    )
    async with a.ctx.store.read() as conn:
        raws = {
            i: (await conn.fetchone("SELECT envelope FROM documents WHERE id = ?", (i,)))[0]
            for i in (original, replacement)
        }
    (answer,) = (await post_inbox(a, b, envelopes=[raws[replacement]]))["envelopes"]
    assert answer["ok"]
    new = await received(b, A, replacement)
    await service.process_document(b.ctx, new.id, DocState.ACCEPTED, actor="vt.b")
    (answer,) = (await post_inbox(a, b, envelopes=[raws[original]]))["envelopes"]
    assert answer["ok"]
    old = await received(b, A, original)
    assert (await get_document_of(b, old.id)).state == DocState.SUPERSEDED
    links, _, _ = await view(b, new.id)
    assert [(x["known"], x["id"]) for x in links] == [(True, old.id)]


async def test_bad_updates_are_refused_with_a_clear_error_and_nothing_stored(fed2):
    """An update without a reason, of a document another unit sent, of an unknown id, or
    naming two documents; a replacement naming none; a recall of an update: each refused
    with its reason, nothing stored."""
    a, b = fed2.units[A], fed2.units[B]
    original = await sent(a, [B], "70")
    from_b = await sent(b, [A], "71")
    await deliver(fed2, A, B)
    await deliver(fed2, B, A)
    theirs = await received(a, B, from_b)
    before = await row_counts(a.ctx, TABLES)
    cases = [
        (dict(business="update", targets=[original]), "says why"),
        (dict(business="update", targets=[original], reason="   "), "says why"),
        (dict(business="update", targets=[theirs.id], reason="x"), f"sent by {B}"),
        (
            dict(business="replace", targets=["01J0000000000000000000000Z"], reason="x"),
            "no document",
        ),
        (dict(business="update", targets=[original, original], reason="x"), "exactly one"),
        (dict(business="replace", targets=[], reason="x"), "one or more"),
        (dict(business="replace", targets=[original, original], reason="x"), "named twice"),
        (dict(business="new", targets=[original]), "names no document"),
        (dict(business="revoke", targets=[original], reason="x"), "business 'revoke'"),
    ]
    for kw, message in cases:
        with pytest.raises(service.DocumentError, match=message):
            await sent(a, [B], "72", **kw)
    assert await row_counts(a.ctx, TABLES) == before
    update = await sent(a, [B], "73", business="update", targets=[original], reason="Sửa")
    before = await row_counts(a.ctx, TABLES)
    with pytest.raises(service.DocumentError, match="not recalled on its own"):
        await service.recall(a.ctx, update, actor="vt")
    assert await row_counts(a.ctx, TABLES) == before


async def test_a_recipient_refuses_a_recall_of_an_update_and_links_only_its_senders_documents(
    fed2,
):
    """At B: a 13 naming an update is refused (InvalidField) and changes nothing; an update
    from C naming the wire id of A's letter is kept with an unknown target, A's letter at B
    untouched."""
    a, b, c = fed2.units[A], fed2.units[B], fed2.units[C]
    original = await sent(a, [B], "80")
    update = await sent(a, [B], "81", business="update", targets=[original], reason="Sửa")
    await deliver(fed2, A, B)
    before = await row_counts(b.ctx, TABLES)
    recall = make_status(
        a.ctx.keys,
        sender=A,
        serial=fed2.serial(A),
        to=B,
        envelope=update,
        code=StatusCode.RECALL_REQUESTED,
        at=fed2.clock(),
    )
    (answer,) = (await post_inbox(a, b, statuses=[recall]))["statuses"]
    assert (answer["ok"], answer["error"]) == (False, "InvalidField")
    assert "not recalled on its own" in answer["message"]
    assert await row_counts(b.ctx, TABLES) == before
    directory = fed2.centre.directory.current
    raw = seal_envelope(
        keys=c.ctx.keys,
        sender=C,
        serial=fed2.serial(C),
        recipients={B: directory.current(B).enc_key},
        body=DocumentBody(metadata=numbered("82"), business=Business(reason="Giả mạo")),
        created=fed2.clock(),
        business="update",
        targets=(original,),
    )
    (answer,) = (await post_inbox(c, b, envelopes=[raw]))["envelopes"]
    assert answer["ok"]
    old = await received(b, A, original)
    forged = await received(b, C, raw_id(raw))
    links, _, _ = await view(b, forged.id)
    assert [(x["known"], x["wire_id"]) for x in links] == [(False, original)]
    links, _, _ = await view(b, old.id)
    assert [x["id"] for x in links] == [(await received(b, A, update)).id]  # A's update only
    await service.process_document(b.ctx, forged.id, DocState.ACCEPTED, actor="vt.b")
    assert (await get_document_of(b, old.id)).state == DocState.ARRIVED


def raw_id(raw: bytes) -> str:
    from lienthong.protocol.envelope import header_of_own_envelope

    return header_of_own_envelope(raw).id


async def test_an_update_to_a_version_1_reader_is_still_linked_and_applied(fed):
    """With a directory of form 1 (every unit reads version 1 only), an update travels with
    its one target (the reason stays at the sender) and is linked and applied at B; a
    replacement of two documents is refused before anything is stored, saying why."""
    a, b = fed.units[A], fed.units[B]
    first, second = await sent(a, [B], "90"), await sent(a, [B], "91")
    update = await sent(a, [B], "92", business="update", targets=[first], reason="Sửa")
    await deliver(fed, A, B)
    new = await received(b, A, update)
    links, business, _ = await view(b, new.id)
    assert [x["id"] for x in links] == [(await received(b, A, first)).id]
    assert (business["business"], business["reason"]) == ("update", None)
    before = await row_counts(a.ctx, TABLES)
    with pytest.raises(service.DocumentError, match="needs protocol version 2"):
        await sent(a, [B], "93", business="replace", targets=[first, second], reason="Gộp")
    assert await row_counts(a.ctx, TABLES) == before


def test_15_and_16_are_read_by_the_business_of_the_envelope_they_name():
    """answer_of: about an update or a replacement they answer it, about a new document a
    recall; other codes answer nothing. The labels follow."""
    assert [answer_of(15, b) for b in ("new", "update", "replace")] == [
        "recall",
        "update",
        "replace",
    ]
    assert answer_of(16, "update") == "update" and answer_of(3, "update") is None
    assert StatusCode(16).label_vi_answering("replace") == "Từ chối thay thế"
    assert StatusCode(15).label_vi_answering("recall") == "Đồng ý thu hồi"
    assert StatusCode(3).label_vi_answering(None) == StatusCode(3).label_vi


@pytest.mark.parametrize("current", list(DocState))
def test_superseded_is_reached_from_every_open_state_and_leads_only_to_recalled(current):
    """Every state but rejected and recalled may be superseded; a superseded document
    takes no action but an agreed recall."""
    may = current not in (DocState.REJECTED, DocState.RECALLED, DocState.SUPERSEDED)
    if may:
        check_transition(current, DocState.SUPERSEDED, RecallState.NONE)
    else:
        with pytest.raises(TransitionError):
            check_transition(current, DocState.SUPERSEDED, RecallState.NONE)
    for action in service.ACTIONS.values():
        if current is DocState.SUPERSEDED:
            with pytest.raises(TransitionError):
                check_transition(current, action, RecallState.NONE)
    if current is DocState.SUPERSEDED:
        check_transition(current, DocState.RECALLED, RecallState.REQUESTED)


async def test_an_update_keeping_its_number_has_no_register_line_of_its_own(fed2):
    """A corrected document keeps its number: the update is sent (no "number already
    taken"), the outgoing register keeps one line, the original's, noting the update; an
    update under a new number gets its own line."""
    a = fed2.units[A]
    original = await sent(a, [B], "21")
    same = await sent(a, [B], "21", business="update", targets=[original], reason="Sửa lỗi")
    year = int(letter().issued_on[:4])
    async with a.ctx.store.read() as conn:
        lines = await list_register(conn, "outgoing", year)
    assert [line.document_id for line in lines] == [original]
    assert "21/VP-TTTH" in (await register_line(a, "outgoing", original)).link_notes
    renumbered = await sent(a, [B], "22", business="update", targets=[same], reason="Số mới")
    async with a.ctx.store.read() as conn:
        lines = await list_register(conn, "outgoing", year)
    assert [line.document_id for line in lines] == [original, renumbered]
