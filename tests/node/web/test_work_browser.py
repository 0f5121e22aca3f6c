"""Headless Chromium over two units' real pages: B's leader assigns a registered document
with a deadline and a steering note, the specialist finds it in "Việc của tôi" and
completes it, and A's clerk sees on A's own pages 04 naming the lead and their department,
then 06 with the lead and the result, each a field of its own. Needs Debian's chromium
(see test_web_browser.py)."""

import nacl.pwhash.argon2id as argon2id

from lienthong.node.unit import assignments as office
from lienthong.node.unit import documents as service
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.states import DocState
from lienthong.storage.statuses import statuses_of
from lienthong.storage.users import add_department, add_user, set_department
from tests.node.tls_federation import letter
from tests.node.web import test_web_browser as chromium
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import PASSWORD, A, B, deliver, return_statuses

units, make_client, browser = support.units, support.make_client, chromium.browser
shots = chromium.shots


async def test_leader_assigns_and_specialist_completes_in_chromium(
    units, make_client, browser, shots
):
    """The leader's form (lead, deadline, note) in a real browser, then the specialist's
    Việc của tôi and completion; the sender's document page shows 04 with the lead's name
    and department (and its outbox the lead), then 06 with the lead and the result."""
    a, b = units[A], units[B]
    await add_user(
        b.store, "cv1", PASSWORD, role="specialist", display_name="Nguyễn Thị Chuyên",
        actor="test", opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN,
    )  # fmt: skip
    async with b.store.write() as tx:
        await add_department(tx, "Phòng Tổng hợp", actor="qt", at=b.clock())
        await set_department(tx, "cv1", "Phòng Tổng hợp", actor="qt", at=b.clock())
    envelope_id = await service.send_document(a, letter(), [B], actor="vt")
    await deliver(a, b, envelope_id)
    await service.process_document(b, envelope_id, DocState.ACCEPTED, actor="vt")
    client_b = await make_client(b)
    base = str(client_b.make_url("")).rstrip("/")
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    leader = await context.new_page()
    await chromium.sign_in(leader, base, "ld")
    await leader.goto(f"{base}/documents/{envelope_id}")
    await leader.select_option("#assign-lead", "cv1")
    await leader.fill("#assign-deadline", office.today(b))
    await leader.fill("#assign-note", "Đề nghị tham mưu trả lời")
    await leader.click("#assign-submit")
    await leader.wait_for_url("**/documents/*?done=assigned")
    assert await leader.text_content("#work-lead") == "Nguyễn Thị Chuyên (Phòng Tổng hợp)"
    await leader.screenshot(path=shots / "20-phan-cong.png", full_page=True)
    await return_statuses(b, a)  # the 04 reaches A
    base_a = str((await make_client(a)).make_url("")).rstrip("/")
    sender_context = await browser.new_context(viewport={"width": 1280, "height": 900})
    sender = await sender_context.new_page()
    await chromium.sign_in(sender, base_a, "vt")
    await sender.goto(f"{base_a}/documents/{envelope_id}")
    assigned = sender.locator("li.status-04")
    assert await assigned.locator(".lead-name").text_content() == "Nguyễn Thị Chuyên"
    assert await assigned.locator(".lead-department").text_content() == "Phòng Tổng hợp"
    assert "Đề nghị tham mưu trả lời" in await assigned.text_content()
    await sender.goto(f"{base_a}/outbox")
    shown = sender.locator(f"tr:has(a[href='/documents/{envelope_id}']) .lead-name")
    assert await shown.first.text_content() == "Nguyễn Thị Chuyên"
    await context.clear_cookies()
    specialist = await context.new_page()
    await chromium.sign_in(specialist, base, "cv1")
    await specialist.click("#nav-work")
    await specialist.wait_for_url(f"{base}/work")
    await specialist.screenshot(path=shots / "21-viec-cua-toi.png", full_page=True)
    await specialist.click(f"#work-mine a[href='/documents/{envelope_id}']")
    await specialist.wait_for_url(f"**/documents/{envelope_id}")
    await specialist.fill("#work-result-note", "Đã báo cáo UBND tỉnh")
    await specialist.click("#work-complete")
    await specialist.wait_for_url("**/documents/*?done=completed")
    assert "Đã báo cáo UBND tỉnh" in await specialist.text_content("#work-result")
    await return_statuses(b, a)
    async with a.store.read() as conn:
        seen = {e.code: e.note for e in await statuses_of(conn, envelope_id)}
    assert "Xử lý chính: Nguyễn Thị Chuyên (Phòng Tổng hợp)" in seen[StatusCode.ASSIGNED]
    assert seen[StatusCode.COMPLETED] == "Đã báo cáo UBND tỉnh"
    await sender.goto(f"{base_a}/documents/{envelope_id}")
    completed = sender.locator("li.status-06")
    assert await completed.locator(".lead-name").text_content() == "Nguyễn Thị Chuyên"
    assert await completed.locator(".lead-department").text_content() == "Phòng Tổng hợp"
    assert await completed.locator(".result").text_content() == "Đã báo cáo UBND tỉnh"
    assert await sender.locator("li.status-04 .lead-name").text_content() == "Nguyễn Thị Chuyên"
    await sender.screenshot(path=shots / "22-ben-gui-thay-06.png", full_page=True)
    await sender_context.close()
