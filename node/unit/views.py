"""What the CLI and the clerk's web page both show of a document: times, per-recipient
delivery, the signature check, the timeline's words, links to updates and replacements."""

from __future__ import annotations

from typing import Any

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import NodeContext
from lienthong.node.times import dmy, when
from lienthong.node.unit import external
from lienthong.node.unit.assignments import lead_words
from lienthong.node.unit.documents import stored_body
from lienthong.protocol.certificate import verify_certificate
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.envelope import verify_envelope
from lienthong.protocol.errors import Expired, Revoked, UnknownSigner
from lienthong.protocol.states import APPLIED, DocState, answer_of
from lienthong.protocol.status import stored_status
from lienthong.storage import links, outbox
from lienthong.storage.directory import archived_certificate
from lienthong.storage.documents import DocumentRecord, get_document
from lienthong.storage.statuses import StatusEvent, statuses_of

# The words of a link, by kind: seen from the newer document, and from the one it names.
_LINK_LABELS = {
    links.UPDATES: ("link.updates", "link.updated_by"),
    links.REPLACES: ("link.replaces", "link.replaced_by"),
    links.REPLIES_TO: ("link.replies_to", "link.replied_by"),
    links.COPY_OF: ("link.copy_of", "link.copied_by"),
}


# The statuses that speak of the office's work on a document: they name its lead.
WORK_CODES = frozenset({StatusCode.ASSIGNED, StatusCode.IN_PROGRESS, StatusCode.COMPLETED})


def work_of(e: StatusEvent) -> dict[str, Any]:
    """What a 04, 05 or 06 says of the work, as fields (docs/PROTOCOL.md 7.2): `lead`, the
    handling staff {"name", "department"} (its `staff`; a 04 whose `staff` is not the
    person its `assignee` names, as nodes before wrote the assigning leader there, gives
    the assignee's words as the name), and `result`, a 06's note. Both None otherwise.
    `said`: the note without the words that name the lead again (what a page shows)."""
    if e.code not in WORK_CODES:
        return {"lead": None, "result": None, "said": e.note}
    try:
        s = stored_status(e.raw)
    except LienthongError:
        return {"lead": None, "result": None, "said": e.note}
    lead = None
    if s.staff is not None and (s.assignee is None or s.assignee.startswith(s.staff.name)):
        lead = {"name": s.staff.name, "department": s.staff.position or None}
    elif s.assignee is not None:
        lead = {"name": s.assignee, "department": None}
    said = s.note
    if said is not None and s.assignee is not None:
        opening = lead_words(s.assignee)
        said = said[len(opening) :] if said.startswith(opening) else said
    result = s.note if e.code == StatusCode.COMPLETED else None
    return {"lead": lead, "result": result, "said": None if result else said}


def status_label(code: int, answers: str | None = None) -> str:
    """The catalogue key (node/web/i18n.py) of a status: "status.15.update" for a 15 that
    agrees to an update, "status.16.recall" for a 16 that refuses a recall, "status.03"
    for the others (`answers` as protocol.states.answer_of gives it)."""
    if answers is not None and code in (StatusCode.RECALL_AGREED, StatusCode.RECALL_REFUSED):
        return f"status.{int(code):02d}.{answers}"
    return f"status.{int(code):02d}"


def _label_vi(code: int, answers: str | None) -> str:
    try:
        return StatusCode(code).label_vi_answering(answers)
    except ValueError:
        return f"{int(code):02d}"


async def timeline_view(conn, doc: DocumentRecord) -> list[dict[str, Any]]:
    """A document's statuses, oldest first, each with the words it is shown with: a 15 or
    16 is read by what it answers (a recall, or this update or replacement)."""
    business = await links.business_of(conn, doc.id)
    return [_event(e, answer_of(e.code, business)) for e in await statuses_of(conn, doc.id)]


def _event(e: StatusEvent, answers: str | None) -> dict[str, Any]:
    # A gateway's status about an organisation outside the directory names it in its note.
    outside = external.note_organisation(e.note)
    return {
        "at": when(e.at),
        "at_ms": e.at,
        "from": e.from_code,
        "to": e.to_code,
        "code": e.code,
        "known": e.code in {int(c) for c in StatusCode},
        "answers": answers,  # "recall" | "update" | "replace" | None
        "label": status_label(e.code, answers),  # a key of node/web/i18n.py
        "label_vi": _label_vi(e.code, answers),
        "incoming_number": e.incoming_number,
        "note": e.note if outside is None else outside[1],
        "direction": e.direction,
        "external": None if outside is None else outside[0],  # via the gateway `from`
    } | work_of(e)


async def recipients_view(conn, envelope_id: str) -> list[dict[str, Any]]:
    """Per recipient of an outgoing document: delivery state, incoming number, last change,
    and its answer (15/16) to this update or replacement, or to a recall of the document
    (`answer`: a catalogue key such as "status.15.update"; None before any)."""
    events = await statuses_of(conn, envelope_id)
    numbers = {
        s.from_code: s.incoming_number
        for s in events
        if s.code == StatusCode.ACCEPTED and s.direction == "in"
    }
    business = await links.business_of(conn, envelope_id)
    answered: dict[str, str] = {}  # the newest answer of each recipient (events: oldest first)
    work: dict[str, dict[str, Any]] = {}  # its newest 04, 05 or 06, as work_of reads it
    # Newest by time, then by code: statuses of one millisecond are in id order, which is
    # random within it, and the work only moves forward (no 04 after a 06).
    work_key: dict[str, tuple[int, int]] = {}
    for s in events:
        answers = answer_of(s.code, business)
        if s.direction == "in" and answers is not None:
            answered[s.from_code] = status_label(s.code, answers)
        if s.direction == "in" and s.code in WORK_CODES:
            key = (s.at, s.code)
            if key >= work_key.get(s.from_code, key):
                work_key[s.from_code] = key
                work[s.from_code] = work_of(s)
    return [
        {
            "recipient": row.recipient,
            "state": row.state,
            "incoming_number": numbers.get(row.recipient),
            "answer": answered.get(row.recipient),
            "attempts": row.attempts,
            "last_error": row.last_error,
            "refused_with": row.refused_with,  # a dead letter: the refusal that stopped it
            # Who leads the work there (04, 05, 06) and, once completed, the result.
            "lead": work.get(row.recipient, {}).get("lead"),
            "result": work.get(row.recipient, {}).get("result"),
            "updated": when(row.updated_at),
            "updated_at": row.updated_at,
        }
        for row in await outbox.rows_for(conn, envelope_id)
    ]


async def signature_check(ctx: NodeContext, raw: bytes | None) -> dict[str, Any]:
    """Verify the stored envelope bytes again: against the directory in force, or, for a
    certificate the directory no longer lists, against the node's certificate archive.

    `verified` with sender code, unit name and certificate serial, or the reason it fails.
    """
    if raw is None:
        return {"verified": False, "error": "no envelope stored", "text": "NOT verified"}
    asked: list[tuple[str, int]] = []

    def lookup(code: str, serial: int) -> bytes:
        asked.append((code, serial))
        return ctx.directory.key_lookup(code, serial)

    try:
        try:
            header = verify_envelope(raw, lookup).header
        except UnknownSigner:
            if not asked:
                raise
            header = await _verify_archived(ctx, raw, *asked[-1])
    except LienthongError as exc:
        return {"verified": False, "error": str(exc), "text": f"NOT verified: {exc}"}
    directory = ctx.directory.current
    name = ""
    if directory is not None:
        cert = directory.current(header.sender)
        name = cert.name if cert else ""
    return {
        "verified": True,
        "sender": header.sender,
        "name": name,
        "serial": header.serial,
        "text": f"verified: sent by {name} ({header.sender}), certificate {header.serial}",
    }


async def _verify_archived(ctx: NodeContext, raw: bytes, code: str, serial: int):
    """A letter signed under a certificate that has ended since: it verifies if that
    certificate (root-signed, kept when a directory listed it, never revoked) was valid
    when the letter was made."""
    async with ctx.store.read() as conn:
        kept = await archived_certificate(conn, serial)
    if kept is None:
        raise UnknownSigner(f"no certificate {serial} of unit {code} known to this node")
    cert_raw, revoked = kept
    cert = verify_certificate(cert_raw, ctx.directory.root_public)
    if cert.code != code:
        raise UnknownSigner(f"certificate {serial} belongs to {cert.code}, not {code}")
    if revoked:
        raise Revoked(f"certificate {serial} of unit {code} is revoked")
    header = verify_envelope(raw, lambda _code, _serial: cert.sign_key).header
    if not cert.valid_at(header.created):
        raise Expired(f"envelope {header.id} was made outside the validity of certificate {serial}")
    return header


async def links_view(conn, doc: DocumentRecord) -> list[dict[str, Any]]:
    """The documents linked to `doc`, both ways, oldest link first: what it updates,
    replaces or answers ("Cập nhật cho …", "Thay thế …") and what updates, replaces or
    answers it ("Đã được cập nhật bởi …", "Đã bị thay thế bởi …").

    Each: `label` (a catalogue key of node/web/i18n.py), `forward` (True: `doc` names the
    other), `kind`, `known` (False: a target this node never received, shown by its
    `wire_id`), the other document's `id`, `number`, `subject`, `issued_on` (dd/mm/yyyy)
    and `state`, and for an update or replacement received here `effect`: "applied" (its
    clerk registered it), "pending" (not registered yet) or "refused" (returned); None
    otherwise.
    """
    shown = []
    for link in await links.links_of(conn, doc.id):
        forward = link.document_id == doc.id
        other_id = link.target_id if forward else link.document_id
        other = await get_document(conn, other_id) if other_id else None
        newer = doc if forward else other
        item: dict[str, Any] = {
            "kind": link.kind,
            "forward": forward,
            "label": _LINK_LABELS[link.kind][0 if forward else 1],
            "known": other is not None,
            "wire_id": link.target_wire_id if forward else (other.wire_id if other else None),
            "id": other.id if other else None,
            "number": None,
            "subject": None,
            "issued_on": None,
            "state": other.state if other else None,
            "effect": _effect(link.kind, newer),
        }
        if other is not None:
            m = stored_body(other).metadata
            item |= {
                "number": m.number_notation,
                "subject": m.subject,
                "issued_on": dmy(m.issued_on),
            }
        shown.append(item)
    return shown


def _effect(kind: str, newer: DocumentRecord | None) -> str | None:
    """Whether an update or replacement received here took effect: its clerk registers it
    (applied) or returns it (refused); until then it is pending."""
    if kind == links.REPLIES_TO or newer is None or newer.direction != "in":
        return None
    if newer.state in APPLIED:
        return "applied"
    return "refused" if newer.state == DocState.REJECTED else "pending"


async def business_view(conn, doc: DocumentRecord) -> dict[str, Any]:
    """What the document's envelope says of its business (edXML Bussiness), for its page:

    `business` "new", "update" or "replace" and its catalogue key `label`; the sender's
    `reason`; `paper` (True: the paper original follows by post) with `paper_label`
    "doc.paper_follows" ("Bản giấy sẽ gửi sau"), else None; the sender's `staff` (name,
    department, mobile, email) or None; `superseded` (a registered replacement names it);
    `latest_update`: the newest update of it that took effect here (or, at its sender, was
    sent), as links_view gives it, or None.
    """
    body = stored_body(doc)
    b = body.business
    business = await links.business_of(conn, doc.id)
    updates = [
        item
        for item in await links_view(conn, doc)
        if item["kind"] == links.UPDATES
        and not item["forward"]
        and item["known"]
        and item["effect"] in ("applied", None)
    ]
    staff = b.staff
    return {
        "business": business,
        "label": f"business.{business}",
        "reason": b.reason,
        "paper": b.paper,
        "paper_label": "doc.paper_follows" if b.paper else None,
        "staff": None
        if staff is None
        else {
            "name": staff.name,
            "department": staff.department,
            "mobile": staff.mobile,
            "email": staff.email,
        },
        "superseded": doc.state == DocState.SUPERSEDED,
        "latest_update": updates[-1] if updates else None,
    }
