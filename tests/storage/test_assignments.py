"""Assignments in the store: who may be named, the optimistic version check, the lead's
start and completion, the lists of work, departments, and the audit of each change."""

import pytest

import lienthong.storage.db as db
from lienthong.protocol.states import DocState
from lienthong.storage import assignments as work
from lienthong.storage.audit import entries, verify
from lienthong.storage.db import Store, migrations
from lienthong.storage.documents import change_state, record_incoming, record_outgoing
from lienthong.storage.errors import Conflict, NotFound, StoreError
from lienthong.storage.users import (
    add_department,
    add_user,
    create_session,
    get_session,
    get_user,
    list_departments,
    set_department,
    set_disabled,
)

TODAY = "2025-11-24"
FAST = {"opslimit": 1, "memlimit": 8192}


@pytest.fixture
async def office(store, make_doc):
    """A leader, two specialists, a clerk and one incoming document (id of make_doc(1))."""
    for name, role in (("ld", "leader"), ("cv1", "specialist"), ("cv2", "specialist")):
        await add_user(store, name, "mật khẩu dài", role=role, display_name=name, actor="t", **FAST)
    await add_user(store, "vt", "mật khẩu dài", role="clerk", display_name="vt", actor="t", **FAST)
    doc = make_doc(1)
    async with store.write() as tx:
        await record_incoming(tx, doc, b"envelope", at=1)
    return doc.id


async def _assign(store, doc_id, **kw):
    values = dict(
        lead="cv1", co=["cv2"], info=["ld"], deadline="2025-11-30", note="Giao CV1 chủ trì",
        actor="ld", version=0, today=TODAY, at=10,
    )  # fmt: skip
    values.update(kw)
    async with store.write() as tx:
        return await work.assign(tx, doc_id, **values)


async def _counts(store):
    async with store.read() as conn:
        return [
            (await conn.fetchone(f"SELECT count(*) FROM {t}"))[0]  # noqa: S608 - fixed names
            for t in ("assignments", "assignment_people", "audit_log")
        ]


async def test_assign_then_reassign_keeps_one_row_and_audits_each(store, office):
    """An assignment is read back whole; a reassignment from the current version replaces
    lead and people, counts the version up, and both are in the audit log."""
    first = await _assign(store, office)
    assert first.version == 1
    async with store.read() as conn:
        held = await work.get_assignment(conn, office)
    assert held == first
    assert (held.lead, held.co, held.info, held.deadline) == (
        "cv1",
        ("cv2",),
        ("ld",),
        "2025-11-30",
    )
    again = await _assign(store, office, lead="cv2", co=[], info=[], version=1)
    async with store.read() as conn:
        held = await work.get_assignment(conn, office)
        log = [e for e in await entries(conn, limit=100) if e.action == "document.assign"]
        assert (await verify(conn)).ok
    assert (held.version, held.lead, held.co, held.info) == (2, "cv2", (), ())
    assert again == held
    assert sorted(e.details["lead"] for e in log) == ["cv1", "cv2"]
    assert {e.details["version"] for e in log} == {1, 2}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"lead": "nobody"}, "not a user"),
        ({"co": ["ghost"]}, "not a user"),
        ({"lead": "vt"}, "only a leader or a specialist"),
        ({"deadline": "2025-11-23"}, "already past"),
        ({"co": ["cv1"]}, "named once"),
        ({"version": 3}, "assigned meanwhile"),
        ({"instructed_by": "cv2"}, "not a leader"),
        ({"note": "x" * (work.MAX_NOTE_CHARS + 1)}, "at most"),
    ],
)
async def test_bad_assignments_are_refused_with_nothing_written(store, office, change, words):
    """Each refusal names what was wrong and leaves assignments, people and audit as they were."""
    before = await _counts(store)
    with pytest.raises(StoreError, match=words):
        await _assign(store, office, **change)
    assert await _counts(store) == before


async def test_a_disabled_person_is_not_named(store, office):
    """Someone who left cannot be given work."""
    async with store.write() as tx:
        await set_disabled(tx, "cv2", True, actor="admin", at=5)
    with pytest.raises(StoreError, match="disabled"):
        await _assign(store, office)


async def test_second_leader_from_the_same_version_is_refused(store, office):
    """Two leaders open the form at version 0: the first wins, the second gets a Conflict
    naming the version, and the first assignment stands."""
    await _assign(store, office, lead="cv1")
    with pytest.raises(Conflict, match="version 1, the form had 0"):
        await _assign(store, office, lead="cv2", co=[], info=[])
    async with store.read() as conn:
        assert (await work.get_assignment(conn, office)).lead == "cv1"


async def test_only_the_lead_starts_and_completes_and_once(store, office, make_doc):
    """A co-handler cannot complete; the lead completes with a result and an outgoing answer;
    a completed document is neither completed nor reassigned again."""
    await _assign(store, office)
    async with store.write() as tx:
        with pytest.raises(StoreError, match="only its lead"):
            await work.start(tx, office, actor="cv2", at=11)
    async with store.write() as tx:
        await work.start(tx, office, actor="cv1", at=12)
    answer = make_doc(2, direction="out")
    async with store.write() as tx:
        await record_outgoing(tx, answer, b"answer", ["000.00.05.H53"], actor="cv1", at=13)
    async with store.write() as tx:
        with pytest.raises(NotFound, match="no outgoing document"):
            await work.complete(tx, office, actor="cv1", result="Xong", answer_id=office, at=14)
    async with store.write() as tx:
        with pytest.raises(StoreError, match="result note"):
            await work.complete(tx, office, actor="cv1", result="  ", answer_id=None, at=14)
    async with store.write() as tx:
        done = await work.complete(
            tx, office, actor="cv1", result="Đã báo cáo", answer_id=answer.id, at=15
        )
    assert (done.started_at, done.completed_at, done.answer_id) == (12, 15, answer.id)
    async with store.write() as tx:
        with pytest.raises(Conflict, match="already completed"):
            await work.complete(tx, office, actor="cv1", result="Lại", answer_id=None, at=16)
    with pytest.raises(Conflict, match="completed"):
        await _assign(store, office, version=1)
    async with store.read() as conn:
        actions = [e.action for e in await entries(conn, limit=100)]
    assert {"document.start", "document.complete"} <= set(actions)


async def test_lists_of_work_overdue_and_due_soon(store, office, make_doc):
    """Việc của tôi finds the lead, a co-handler, a reader and the leader who assigned;
    overdue and due-soon split by the day asked; completed work leaves every list."""
    later = make_doc(3)
    async with store.write() as tx:
        await record_incoming(tx, later, b"envelope 3", at=2)
    await _assign(store, office, deadline="2025-11-25", info=[])
    await _assign(store, later.id, lead="cv2", co=[], info=[], deadline="2025-12-10")
    async with store.read() as conn:
        assert [a.document_id for a in await work.work_of(conn, "cv1")] == [office]
        assert [a.document_id for a in await work.work_of(conn, "cv2")] == [office, later.id]
        assert len(await work.work_of(conn, "ld")) == 2  # assigned by them
        assert await work.work_of(conn, "vt") == []
        overdue = await work.overdue(conn, today="2025-11-26")
        soon = await work.due_soon(conn, today="2025-11-26", last_day="2025-12-10")
        marks = await work.deadlines_of(conn, [office, later.id, "01J-unknown"])
    assert [a.document_id for a in overdue] == [office]
    assert overdue[0].overdue("2025-11-26") and not overdue[0].overdue("2025-11-25")
    assert [a.document_id for a in soon] == [later.id]
    assert marks == {office: "2025-11-25", later.id: "2025-12-10"}
    async with store.write() as tx:
        await work.complete(tx, office, actor="cv1", result="Xong", answer_id=None, at=20)
    async with store.read() as conn:
        assert await work.overdue(conn, today="2025-11-26") == []
        assert [a.document_id for a in await work.work_of(conn, "cv1")] == []


async def test_a_document_out_of_the_units_hands_leaves_the_lists(store, office):
    """Completed by the one-click action (not through its assignment) or recalled: no
    longer overdue, nor anyone's work, nor marked in the inbox."""
    await _assign(store, office, deadline=TODAY)
    async with store.read() as conn:
        assert len(await work.overdue(conn, today="2025-12-01")) == 1
    async with store.write() as tx:
        await change_state(tx, office, DocState.ACCEPTED, actor="vt", at=20)
        await change_state(tx, office, DocState.COMPLETED, actor="vt", at=21)
    async with store.read() as conn:
        assert await work.overdue(conn, today="2025-12-01") == []
        assert await work.work_of(conn, "cv1") == []
        assert await work.deadlines_of(conn, [office]) == {}


async def test_departments_are_kept_by_the_admin(store, office):
    """A department is added once, a user is put in it, an unknown one is refused; audited."""
    async with store.write() as tx:
        await add_department(tx, "Phòng Tổ chức - Hành chính", actor="admin", at=1)
    async with store.write() as tx:
        with pytest.raises(Conflict):
            await add_department(tx, "Phòng Tổ chức - Hành chính", actor="admin", at=2)
    async with store.write() as tx:
        with pytest.raises(StoreError, match="printable"):
            await add_department(tx, " Phòng ", actor="admin", at=2)
    async with store.write() as tx:
        with pytest.raises(NotFound, match="no department"):
            await set_department(tx, "cv1", "Phòng Kế toán", actor="admin", at=3)
    async with store.write() as tx:
        await set_department(tx, "cv1", "Phòng Tổ chức - Hành chính", actor="admin", at=4)
    async with store.read() as conn:
        assert await list_departments(conn) == ["Phòng Tổ chức - Hành chính"]
        assert (await get_user(conn, "cv1")).department == "Phòng Tổ chức - Hành chính"
        actions = [e.action for e in await entries(conn, limit=100)]
    assert {"department.add", "user.department"} <= set(actions)


async def test_migration_keeps_users_and_their_sessions(tmp_path, monkeypatch):
    """A store made before 0018 with a user and a live session: after the migration the
    user is there (no department), the session still signs in, a specialist can be added."""
    path = tmp_path / "store.sqlite3"
    shipped = migrations()
    before = next(v for v, name, _ in shipped if name == "assignments") - 1
    with monkeypatch.context() as patch:
        patch.setattr(db, "migrations", lambda: shipped[:before])
        async with await Store.open(path) as old:
            await add_user(
                old, "vt", "mật khẩu dài", role="clerk", display_name="vt", actor="t", **FAST
            )
            async with old.write() as tx:
                session = await create_session(tx, "vt", at=1, ttl_ms=10**15)
    async with await Store.open(path) as store:
        async with store.read() as conn:
            assert (await get_user(conn, "vt")).department is None
            assert (await get_session(conn, session.token, now=2)).username == "vt"
        await add_user(
            store, "cv", "mật khẩu dài", role="specialist", display_name="cv", actor="t", **FAST
        )
