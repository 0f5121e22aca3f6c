"""The office's work through the integration API: a DMS assigns a registered document on a
leader's instruction and reports its completion for the lead; A receives 04 and 06; a bad
request is refused naming its field with nothing written, and a retry with the same
Idempotency-Key gets the same answer without a second action."""

from __future__ import annotations

import nacl.pwhash.argon2id as argon2id

from lienthong.node.unit import documents as service
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.states import DocState
from lienthong.storage.statuses import statuses_of
from lienthong.storage.users import add_user
from tests.node.unit.api.conftest import A, B, sent_and_delivered
from tests.node.unit.api.test_api_writes import carry_statuses, post

# What a refused request must leave as it was (each API call is audited itself).
TABLES = ("assignments", "assignment_people", "status_events", "outbox")


async def _counts(ctx) -> dict[str, int]:
    async with ctx.store.read() as conn:
        return {t: (await conn.fetchone(f"SELECT count(*) FROM {t}"))[0] for t in TABLES}  # noqa: S608 - fixed names


async def _office(ctx) -> None:
    for name, role in (("ld", "leader"), ("cv1", "specialist")):
        await add_user(
            ctx.store, name, "mật khẩu dài", role=role, display_name=name.upper(), actor="t",
            opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN,
        )  # fmt: skip


async def test_a_dms_assigns_and_reports_completion(units, dms):
    """assignment (version 0, instructed by ld) then completion for cv1: 200 with the
    assignment each time; the same Idempotency-Key again answers the same, once; A holds
    04 and 06, and A's API shows the lead and the result as fields of its timeline and of
    the recipient."""
    b = units.ctx[B]
    await _office(b)
    doc_id = await sent_and_delivered(units)
    await service.process_document(b, doc_id, DocState.ACCEPTED, actor="vt")
    client = await dms(b, ("process",))
    body = {"lead": "cv1", "instructed_by": "ld", "version": 0, "note": "Tham mưu"}
    r = await post(client, f"/api/v1/documents/{doc_id}/assignment", body, "assign-1")
    assert r.status == 200, await r.text()
    made = await r.json()
    assert (made["version"], made["lead"], made["instructed_by"]) == (1, "cv1", "ld")
    again = await post(client, f"/api/v1/documents/{doc_id}/assignment", body, "assign-1")
    assert again.status == 200 and await again.json() == made
    body = {"lead": "cv1", "result": "Đã trả lời"}
    r = await post(client, f"/api/v1/documents/{doc_id}/completion", body, "done-1")
    assert r.status == 200, await r.text()
    assert (await r.json())["result"] == "Đã trả lời"
    await carry_statuses(units, B, A)
    async with units.ctx[A].store.read() as conn:
        codes = [e.code for e in await statuses_of(conn, doc_id) if e.direction == "in"]
    assert codes.count(StatusCode.ASSIGNED) == 1 and codes.count(StatusCode.COMPLETED) == 1
    reader = await dms(units.ctx[A], ("read",))
    seen = await (await reader.get(f"/api/v1/documents/{doc_id}")).json()
    work = {e["code"]: e for e in seen["timeline"] if e["code"] in (4, 6)}
    lead = {"name": "CV1", "department": None}  # cv1 has no department
    assert (work[4]["lead"], work[4]["result"]) == (lead, None)
    assert (work[6]["lead"], work[6]["result"]) == (lead, "Đã trả lời")
    (recipient,) = seen["recipients"]
    assert (recipient["lead"], recipient["result"]) == (lead, "Đã trả lời")


async def test_bad_requests_name_their_field_and_write_nothing(units, dms):
    """An unknown lead, a past deadline, no leader, a stale version, completion for
    someone who does not lead it: 422 or 409 naming what was wrong, nothing stored."""
    b = units.ctx[B]
    await _office(b)
    doc_id = await sent_and_delivered(units)
    await service.process_document(b, doc_id, DocState.ACCEPTED, actor="vt")
    client = await dms(b, ("process",))
    path = f"/api/v1/documents/{doc_id}/assignment"
    good = {"lead": "cv1", "instructed_by": "ld", "version": 0}
    before = await _counts(b)
    for n, (change, status, field) in enumerate(
        [
            ({"lead": "ghost"}, 422, "lead"),
            ({"deadline": "2000-01-01"}, 422, "deadline"),
            ({"deadline": "01/01/2030"}, 400, "deadline"),
            ({"instructed_by": "cv1"}, 422, "instructed_by"),
            ({"version": 4}, 409, None),
        ]
    ):
        r = await post(client, path, {**good, **change}, f"bad-{n}")
        problem = await r.json()
        assert r.status == status, problem
        if field is not None:
            assert [e["field"] for e in problem["errors"]] == [field]
    r = await post(
        client, path.replace("assignment", "completion"), {"lead": "cv1", "result": "x"}, "c"
    )
    assert r.status == 422  # nobody was assigned yet
    assert await _counts(b) == before
