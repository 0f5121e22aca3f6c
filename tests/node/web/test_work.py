"""The work pages over real stores and a real aiohttp server: the admin keeps departments,
a leader assigns from the document page, the specialist finds it in "Việc của tôi" and
completes it, the sender's page shows 04 and 06 with names; the overdue list and the
inbox mark follow the injected clock; refusals say what was wrong and change nothing."""

from __future__ import annotations

import nacl.pwhash.argon2id as argon2id

from lienthong.node.unit import assignments as office
from lienthong.storage.assignments import get_assignment
from tests.node.helpers import DAY
from tests.node.web import test_web_support as support
from tests.node.web.test_web_documents import send_from_page
from tests.node.web.test_web_support import (
    PASSWORD,
    A,
    B,
    deliver,
    login,
    page_csrf,
    return_statuses,
)

units, make_client = support.units, support.make_client
DEPARTMENT = "Phòng Tổng hợp"


async def _specialists(ctx) -> None:
    for name, display in (("cv1", "Nguyễn Thị Chuyên"), ("cv2", "Lê Văn Phối")):
        await support.add_user(
            ctx.store, name, PASSWORD, role="specialist", display_name=display, actor="test",
            opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN,
        )  # fmt: skip


async def _received(units, make_client) -> tuple[str, object]:
    """A sends from its page, B's clerk registers it; returns (id, B's clerk client)."""
    a, b = units[A], units[B]
    await _specialists(b)
    sender = await make_client(a)
    await login(sender, "vt")
    envelope_id = await send_from_page(sender)
    await deliver(a, b, envelope_id)
    clerk = await make_client(b)
    await login(clerk, "vt")
    path = f"/documents/{envelope_id}"
    token = await page_csrf(clerk, path)
    response = await clerk.post(path, data={"csrf": token, "action": "accepted"})
    assert response.status == 200
    return envelope_id, sender


async def _client(make_client, ctx, username):
    client = await make_client(ctx)
    await login(client, username)
    return client


async def test_leader_assigns_specialist_completes_sender_sees_names(units, make_client):
    """Department set by the admin; the leader's form names lead, co-handler, deadline and
    note; cv1 sees it in Việc của tôi and completes; A's page shows 04 and 06 with names."""
    a, b = units[A], units[B]
    envelope_id, sender = await _received(units, make_client)
    admin = await _client(make_client, b, "qt")
    token = await page_csrf(admin, "/admin/departments")
    page = await admin.post(
        "/admin/departments", data={"csrf": token, "op": "add", "department": DEPARTMENT}
    )
    assert f"Đã thêm phòng ban {DEPARTMENT}" in await page.text()
    data = {"csrf": token, "op": "member", "username": "cv1", "department": DEPARTMENT}
    assert (await admin.post("/admin/departments", data=data)).status == 200
    leader = await _client(make_client, b, "ld")
    path = f"/documents/{envelope_id}"
    page = await (await leader.get(path)).text()
    assert 'id="assign-form"' in page and 'name="version" value="0"' in page
    token = await page_csrf(leader, path)
    deadline = office.today(b)
    response = await leader.post(
        path + "/assign",
        data=[
            ("csrf", token), ("version", "0"), ("lead", "cv1"), ("co", "cv2"),
            ("deadline", deadline), ("note", "Tham mưu trả lời trước hạn"),
        ],
    )  # fmt: skip
    assert response.status == 200
    page = await response.text()
    assert 'id="work-lead">Nguyễn Thị Chuyên (Phòng Tổng hợp)' in page
    assert 'id="action-completed"' not in page  # the lead's own form completes it now
    specialist = await _client(make_client, b, "cv1")
    mine = await (await specialist.get("/work")).text()
    assert f'href="/documents/{envelope_id}"' in mine and "Xử lý chính" in mine
    token = await page_csrf(specialist, path)
    b.clock.now += 60_000
    response = await specialist.post(
        path + "/work", data={"csrf": token, "op": "complete", "result": "Đã có văn bản trả lời"}
    )
    assert response.status == 200
    assert 'id="work-result"' in await response.text()
    await return_statuses(b, a)
    seen = await (await sender.get(path)).text()
    lead = (
        '<span class="lead-name">Nguyễn Thị Chuyên</span> '
        '(<span class="lead-department">Phòng Tổng hợp</span>)'
    )
    assert seen.count(lead) >= 3  # on the 04, on the 06 and beside the recipient's state
    assert "Ý kiến chỉ đạo: Tham mưu trả lời trước hạn" in seen
    assert '<span class="result">Đã có văn bản trả lời</span>' in seen
    assert seen.index("<strong>04") < seen.index("<strong>06")


async def test_a_clerk_enters_a_leaders_instruction(units, make_client):
    """The clerk's form asks for the leader; the assignment names the leader as the one who
    gave it and the clerk as the one who entered it; without a leader it is refused."""
    b = units[B]
    envelope_id, _ = await _received(units, make_client)
    clerk = await _client(make_client, b, "vt")
    path = f"/documents/{envelope_id}"
    page = await (await clerk.get(path)).text()
    assert 'id="assign-leader"' in page
    token = await page_csrf(clerk, path)
    form = {"csrf": token, "version": "0", "lead": "cv1"}
    response = await clerk.post(path + "/assign", data=form)
    assert response.status == 409
    assert "Văn thư phân công cần ghi lãnh đạo chỉ đạo" in await response.text()
    response = await clerk.post(path + "/assign", data={**form, "instructed_by": "ld"})
    assert response.status == 200
    assert "Người dùng ld (văn thư Người dùng vt nhập)" in await response.text()
    async with b.store.read() as conn:
        held = await get_assignment(conn, envelope_id)
    assert (held.assigned_by, held.instructed_by) == ("vt", "ld")


async def test_reply_prefills_the_subject_with_number_and_date(units, make_client):
    """ "Trả lời" on a received document opens compose with "V/v trả lời công văn số … ngày …"."""
    b = units[B]
    envelope_id, _ = await _received(units, make_client)
    clerk = await _client(make_client, b, "vt")
    page = await (await clerk.get(f"/documents/{envelope_id}")).text()
    href = page.split('href="/compose?')[1].split('"')[0].replace("&amp;", "&")
    compose = await (await clerk.get("/compose?" + href)).text()
    assert "V/v trả lời công văn số 2340/VP-TTTH ngày 24/11/2025" in compose


async def test_overdue_list_and_inbox_mark_follow_the_clock(units, make_client):
    """Due today: in the clerk's due-soon list; the day after: in the overdue list and
    marked "Quá hạn" in the inbox."""
    b = units[B]
    envelope_id, _ = await _received(units, make_client)
    await office.assign(b, envelope_id, lead="cv1", actor="ld", version=0, deadline=office.today(b))
    clerk = await _client(make_client, b, "vt")
    work = await (await clerk.get("/work")).text()
    assert 'id="work-due-soon"' in work, work
    soon = work.split('id="work-due-soon"')[1]
    assert envelope_id in soon and envelope_id not in work.split('id="work-due-soon"')[0]
    assert "Quá hạn" not in await (await clerk.get("/")).text()
    b.clock.now += DAY
    await login(clerk, "vt")  # the day's session has ended
    work = await (await clerk.get("/work")).text()
    late = work.split('id="work-overdue-list"')[1].split('id="work-due-soon"')[0]
    assert envelope_id in late
    assert "Quá hạn" in await (await clerk.get("/")).text()


async def test_refusals_say_what_was_wrong_and_change_nothing(units, make_client):
    """A deadline past, a stale form (another leader assigned meanwhile) and a specialist
    completing someone else's document: each a 409 in Vietnamese, the assignment as it was;
    a specialist cannot assign at all."""
    b = units[B]
    envelope_id, _ = await _received(units, make_client)
    path = f"/documents/{envelope_id}"
    leader = await _client(make_client, b, "ld")
    token = await page_csrf(leader, path)
    yesterday = "2000-01-01"
    form = {"csrf": token, "version": "0", "lead": "cv1", "deadline": yesterday}
    response = await leader.post(path + "/assign", data=form)
    assert response.status == 409
    assert "Hạn xử lý đã qua" in await response.text()
    await office.assign(b, envelope_id, lead="cv2", actor="ld", version=0)
    response = await leader.post(path + "/assign", data={**form, "deadline": ""})
    assert response.status == 409
    assert "vừa được người khác phân công" in await response.text()
    other = await _client(make_client, b, "cv1")
    token = await page_csrf(other, path)
    response = await other.post(
        path + "/work", data={"csrf": token, "op": "complete", "result": "Xong"}
    )
    assert response.status == 409
    assert "không giao cho bạn" in await response.text()
    response = await other.post(path + "/assign", data={**form, "csrf": token, "version": "1"})
    assert response.status == 403
    async with b.store.read() as conn:
        held = await get_assignment(conn, envelope_id)
    assert (held.version, held.lead, held.completed_at) == (1, "cv2", None)
