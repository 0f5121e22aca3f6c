"""The sender's reading of a recipient's 04, 05 and 06 as fields (node/unit/views.py
work_of, docs/PROTOCOL.md 7.2): the lead and their department from `staff`, a 06's result
from its note, a 04's note without the words naming the lead again; a 04 written the older
way (the assigning leader in `staff`) gives the assignee's words as the lead, never the
leader. Pure: signed statuses read back from their bytes, no store, no event loop."""

from __future__ import annotations

from lienthong.node.unit.assignments import lead_words
from lienthong.node.unit.views import work_of
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.status import Staff, make_status, stored_status, verify_status
from lienthong.storage.statuses import StatusEvent
from tests.protocol.fixtures import NOW, A, B, counter_random, keys

LEAD = Staff("Nguyễn Thị Chuyên", "Phòng Tổng hợp")
LEADER = Staff("Trần Văn Lãnh", "Ban Giám đốc")
ENVELOPE = new_ulid(NOW, counter_random("envelope"))


def _event(code: StatusCode, **fields) -> StatusEvent:
    raw = make_status(
        keys(B), sender=B, serial=1, to=A, envelope=ENVELOPE, code=code, at=NOW,
        random=counter_random(f"work-{int(code)}"), **fields,
    )  # fmt: skip
    s = stored_status(raw)
    return StatusEvent(s.id, ENVELOPE, B, A, int(code), NOW, raw, "in", None, s.note)


def test_stored_status_reads_what_verify_status_reads():
    """The fields of stored bytes, with no key looked up, are those verification gives."""
    event = _event(StatusCode.COMPLETED, staff=LEAD, note="Xong")
    assert (
        stored_status(event.raw)
        == verify_status(event.raw, lambda c, s: keys(c).sign_public).status
    )


def test_04_05_06_give_the_lead_department_and_result_as_fields():
    """04: lead with department, the note after the lead's words; 05: the lead; 06: the
    lead and the result; 03: none of them."""
    named = "Nguyễn Thị Chuyên (Phòng Tổng hợp)"
    assigned = _event(
        StatusCode.ASSIGNED,
        assignee=named,
        staff=LEAD,
        note=lead_words(named) + "Lãnh đạo giao: Trần Văn Lãnh. Hạn xử lý: 30/05/2014",
    )
    lead = {"name": "Nguyễn Thị Chuyên", "department": "Phòng Tổng hợp"}
    assert work_of(assigned) == {
        "lead": lead,
        "result": None,
        "said": "Lãnh đạo giao: Trần Văn Lãnh. Hạn xử lý: 30/05/2014",
    }
    assert work_of(_event(StatusCode.IN_PROGRESS, staff=LEAD))["lead"] == lead
    completed = work_of(_event(StatusCode.COMPLETED, staff=LEAD, note="Đã báo cáo"))
    assert (completed["lead"], completed["result"]) == (lead, "Đã báo cáo")
    registered = work_of(_event(StatusCode.ACCEPTED, number=5, year=2014, staff=LEAD))
    assert registered["lead"] is None and registered["result"] is None


def test_an_older_04_naming_the_leader_in_staff_gives_the_assignee_as_lead():
    """staff is the leader, not the person the assignee names: the lead is the assignee's
    words with no department, and a bare 04 (assignee only) reads the same way."""
    older = _event(
        StatusCode.ASSIGNED,
        assignee="Nguyễn Thị Chuyên (Phòng Tổng hợp)",
        staff=LEADER,
        note="Xử lý chính: Nguyễn Thị Chuyên (Phòng Tổng hợp)",
    )
    assert work_of(older)["lead"] == {
        "name": "Nguyễn Thị Chuyên (Phòng Tổng hợp)",
        "department": None,
    }
    bare = _event(StatusCode.ASSIGNED, assignee="Phòng Kế hoạch")
    assert work_of(bare)["lead"] == {"name": "Phòng Kế hoạch", "department": None}
