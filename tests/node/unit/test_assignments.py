"""Assignment between real units over mutual TLS: a leader of B assigns a document from A
with a deadline, its lead completes it, and A receives 04 then 06 naming the people; bad
assignments are refused with nothing written; the overdue list follows the injected clock."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from lienthong.node.unit import assignments as office
from lienthong.node.unit import documents as service
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.states import DocState, TransitionError
from lienthong.protocol.status import verify_status
from lienthong.storage import assignments as store
from lienthong.storage import links
from lienthong.storage.statuses import statuses_of
from lienthong.storage.users import add_department, add_user, set_department
from tests.node.tls_federation import DAY, A, B, letter, row_counts, send

FAST = {"opslimit": 1, "memlimit": 8192}
MINUTE = 60_000
TABLES = ("assignments", "assignment_people", "status_events", "audit_log", "outbox")


async def _staff(ctx) -> None:
    """B's office: leader ld, specialists cv1 (Phòng Tổng hợp) and cv2, clerk vt."""
    for name, role, display in (
        ("ld", "leader", "Trần Văn Lãnh"),
        ("cv1", "specialist", "Nguyễn Thị Chuyên"),
        ("cv2", "specialist", "Lê Văn Phối"),
        ("vt", "clerk", "Phạm Văn Thư"),
    ):
        await add_user(
            ctx.store, name, "mật khẩu dài", role=role, display_name=display, actor="t", **FAST
        )
    async with ctx.store.write() as tx:
        await add_department(tx, "Phòng Tổng hợp", actor="admin", at=ctx.clock())
        await set_department(tx, "cv1", "Phòng Tổng hợp", actor="admin", at=ctx.clock())


async def _registered(fed) -> tuple[str, str]:
    """A sends to B, B's clerk registers it; returns (A's envelope id, B's document id)."""
    a, b = fed.units[A], fed.units[B]
    await _staff(b.ctx)
    envelope_id, _ = await send(a, [B])
    assert await a.engine.deliver(B)
    fed.clock.now += MINUTE
    await service.process_document(b.ctx, envelope_id, DocState.ACCEPTED, actor="vt")
    fed.clock.now += MINUTE
    return envelope_id, envelope_id


async def _seen_by_sender(fed, envelope_id: str) -> list:
    async with fed.units[A].ctx.store.read() as conn:
        events = await statuses_of(conn, envelope_id)
    lookup = fed.units[A].ctx.directory.key_lookup
    return [verify_status(e.raw, lookup).status for e in events if e.direction == "in"]


async def test_leader_assigns_lead_completes_and_the_sender_sees_04_then_06(fed):
    """04 names the lead and their department (staff, as edXML's StaffInfo), with the
    leader, the steering note and the deadline in its note; 06 carries the result as its
    note and the lead as its staff; the answer is linked."""
    b = fed.units[B]
    envelope_id, doc_id = await _registered(fed)
    deadline = office.today(b.ctx)
    made = await office.assign(
        b.ctx, doc_id, lead="cv1", co=["cv2"], deadline=deadline,
        note="Đề nghị Phòng Tổng hợp tham mưu", actor="ld", version=0,
    )  # fmt: skip
    assert made.version == 1
    fed.clock.now += MINUTE  # each step a minute later: the timeline's order is the clock's
    await office.start(b.ctx, doc_id, actor="cv1")
    fed.clock.now += MINUTE
    answer = await service.send_document(b.ctx, letter(), [A], actor="cv1")
    await office.complete(
        b.ctx, doc_id, actor="cv1", result="Đã báo cáo UBND tỉnh", answer_id=answer
    )
    assert await b.engine.deliver(A)
    seen = await _seen_by_sender(fed, envelope_id)
    codes = [s.code for s in seen]
    assert codes[-4:] == [
        StatusCode.ACCEPTED, StatusCode.ASSIGNED, StatusCode.IN_PROGRESS, StatusCode.COMPLETED,
    ]  # fmt: skip
    assigned, completed = seen[-3], seen[-1]
    assert assigned.assignee == "Nguyễn Thị Chuyên (Phòng Tổng hợp)"
    assert (assigned.staff.name, assigned.staff.position) == ("Nguyễn Thị Chuyên", "Phòng Tổng hợp")
    assert "Lãnh đạo giao: Trần Văn Lãnh" in assigned.note
    assert "Đề nghị Phòng Tổng hợp tham mưu" in assigned.note
    assert f"Hạn xử lý: {deadline[8:]}/{deadline[5:7]}/{deadline[:4]}" in assigned.note
    assert completed.note == "Đã báo cáo UBND tỉnh"
    assert "Xử lý chính: Nguyễn Thị Chuyên (Phòng Tổng hợp)" in assigned.note
    assert (completed.staff.name, completed.staff.position) == (
        "Nguyễn Thị Chuyên",
        "Phòng Tổng hợp",
    )
    async with b.ctx.store.read() as conn:
        done = await store.get_assignment(conn, doc_id)
        made_links = await links.links_of(conn, doc_id)
    assert done.completed_at is not None and done.answer_id == answer
    assert [(x.document_id, x.kind) for x in made_links] == [(answer, links.REPLIES_TO)]


async def test_refusals_leave_nothing_written(fed):
    """An unknown lead, a deadline past, a clerk without the leader's instruction, a
    specialist assigning, a specialist completing someone else's work, and an assignment
    before registration: each refused, nothing stored and no status queued."""
    b = fed.units[B]
    _, doc_id = await _registered(fed)
    yesterday = office.today(b.ctx)
    b.ctx.clock.now += DAY  # type: ignore[attr-defined]
    before = await row_counts(b.ctx, TABLES)
    refusals = [
        (dict(lead="ghost", actor="ld"), "not an active user"),
        (dict(lead="cv1", actor="ld", deadline=yesterday), "already past"),
        (dict(lead="cv1", actor="vt"), "leader's instruction"),
        (dict(lead="cv1", actor="cv2"), "a leader assigns"),
        (dict(lead="vt", actor="ld"), "only a leader or a specialist"),
    ]
    for (kw, words), code in zip(
        refusals, ["person", "deadline", "instruction", "assigner", "person"], strict=True
    ):
        with pytest.raises(office.AssignmentError, match=words) as refused:
            await office.assign(b.ctx, doc_id, version=0, **kw)
        assert refused.value.code == code
    assert await row_counts(b.ctx, TABLES) == before
    await office.assign(b.ctx, doc_id, lead="cv1", actor="vt", instructed_by="ld", version=0)
    before = await row_counts(b.ctx, TABLES)
    with pytest.raises(office.AssignmentError, match="only its lead") as refused:
        await office.complete(b.ctx, doc_id, actor="cv2", result="Xong")
    assert refused.value.code == "not_lead"
    assert await row_counts(b.ctx, TABLES) == before
    second = await service.send_document(
        fed.units[A].ctx, replace(letter(), number="2341"), [B], actor="vt"
    )
    assert await fed.units[A].engine.deliver(B)
    before = await row_counts(b.ctx, TABLES)
    with pytest.raises(TransitionError):  # not registered yet
        await office.assign(b.ctx, second, lead="cv1", actor="ld", version=0)
    assert await row_counts(b.ctx, TABLES) == before


async def test_two_leaders_at_once_the_second_is_refused(fed):
    """Both forms were drawn at version 0: one assignment is stored, the other refused as
    out of date; exactly one 04 is queued."""
    b = fed.units[B]
    _, doc_id = await _registered(fed)
    await add_user(
        b.ctx.store, "ld2", "mật khẩu dài", role="leader", display_name="ld2", actor="t", **FAST
    )
    results = await asyncio.gather(
        office.assign(b.ctx, doc_id, lead="cv1", actor="ld", version=0),
        office.assign(b.ctx, doc_id, lead="cv2", actor="ld2", version=0),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and "assigned meanwhile" in str(refused[0])
    async with b.ctx.store.read() as conn:
        held = await store.get_assignment(conn, doc_id)
        assigned = [e for e in await statuses_of(conn, doc_id) if e.code == StatusCode.ASSIGNED]
    assert held.version == 1 and len(assigned) == 1


async def test_overdue_and_due_soon_follow_the_clock(fed):
    """Due today: in the due-soon list, not overdue; a day after its last day: overdue."""
    b = fed.units[B]
    _, doc_id = await _registered(fed)
    due = office.due_soon_until(office.today(b.ctx))
    await office.assign(b.ctx, doc_id, lead="cv1", actor="ld", version=0, deadline=due)
    today = office.today(b.ctx)
    async with b.ctx.store.read() as conn:
        soon = await store.due_soon(conn, today=today, last_day=office.due_soon_until(today))
        assert await store.overdue(conn, today=today) == []
    assert [x.document_id for x in soon] == [doc_id]
    b.ctx.clock.now += office.DUE_SOON_DAYS * DAY  # type: ignore[attr-defined]
    async with b.ctx.store.read() as conn:
        late = await store.overdue(conn, today=office.today(b.ctx))
    assert [x.document_id for x in late] == [doc_id]
