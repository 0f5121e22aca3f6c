"""The clerk's job on the command line: send, inbox, outbox, show, export, process, recall, run."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import getpass
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from lienthong.crypto.errors import LienthongError
from lienthong.crypto.files import create_private, make_private_dir
from lienthong.node.cli.output import (
    add_command,
    add_list_options,
    emit,
    jsonable,
    list_answer,
)
from lienthong.node.cli.progress import ProgressBar
from lienthong.node.runtime import context, run
from lienthong.node.times import dmy_hm, iso_time, parse_dmy, parse_dmy_hm, when, written_date
from lienthong.node.unit import assignments as office
from lienthong.node.unit import copies, dead_letters, pdf_verify, signing
from lienthong.node.unit import documents as service
from lienthong.node.unit.attachments import decrypt_to, export_name
from lienthong.node.unit.views import (
    business_view,
    links_view,
    recipients_view,
    signature_check,
    timeline_view,
)
from lienthong.protocol.codes import Confidentiality, Urgency
from lienthong.protocol.doctypes import describe_type, document_types
from lienthong.protocol.document import (
    MAX_STEERING_TYPE,
    SIGNING_AUTHORITIES,
    DocumentMetadata,
    Signer,
    StaffInfo,
    parse_number_notation,
)
from lienthong.protocol.states import DocState
from lienthong.protocol.text import is_decimal
from lienthong.storage.db import Queryable
from lienthong.storage.documents import (
    DocumentRecord,
    count_documents,
    get_document,
    get_envelope_raw,
    list_documents,
)

PAGE = 500  # storage.documents.MAX_PAGE
MAX_CURSOR_ID = 100  # a document id in a cursor: far longer than any id the node makes
URGENCY = {
    "thuong": Urgency.NORMAL,
    "khan": Urgency.URGENT,
    "thuong-khan": Urgency.VERY_URGENT,
    "hoa-toc": Urgency.FLASH,
    "hoa-toc-hen-gio": Urgency.FLASH_SCHEDULED,
}
URGENCY_NAMES = {
    Urgency.NORMAL: "Thường",
    Urgency.URGENT: "Khẩn",
    Urgency.VERY_URGENT: "Thượng khẩn",
    Urgency.FLASH: "Hỏa tốc",
    Urgency.FLASH_SCHEDULED: "Hỏa tốc hẹn giờ",
}
CONFIDENTIALITY = {
    "thuong": Confidentiality.NORMAL,
    "mat": Confidentiality.SECRET,
    "toi-mat": Confidentiality.TOP_SECRET,
    "tuyet-mat": Confidentiality.ABSOLUTE_SECRET,
}


def register(sub: argparse._SubParsersAction) -> None:
    def command(name, func, help, json_out=True):
        return add_command(sub, name, func, help, json_out=json_out)

    command(
        "run", lambda a: run(a.data_dir), "run the node until SIGTERM or Ctrl-C", json_out=False
    )
    p = command("send", send, "queue an official document for other units")
    p.add_argument("--to", required=True, help="recipient unit codes, comma separated")
    p.add_argument(
        "--number",
        required=True,
        help="số và ký hiệu as written, e.g. 05/VP-TTTH (below 10 two digits) or 49/2025/QĐ-UBND",
    )
    p.add_argument("--year", type=int, help="year in the number of a legal document, e.g. 2025")
    p.add_argument("--subject", required=True, help="trích yếu")
    p.add_argument(
        "--type",
        default="cong_van",
        choices=sorted(c for c, t in document_types().items() if t.issued_here),
        help="document type, one this unit issues (default cong_van)",
    )
    p.add_argument("--signer", required=True, help="the signer's full name (họ tên người ký)")
    p.add_argument(
        "--position", required=True, help="the signer's own position, e.g. Phó Chánh Văn phòng"
    )
    p.add_argument(
        "--authority",
        default="",
        choices=sorted(SIGNING_AUTHORITIES),
        help="signing authority (thẩm quyền ký): KT., TL., TM. or TUQ.; none: the head signs",
    )
    p.add_argument(
        "--acts-for",
        default="",
        help="whom the authority acts for: the head's title (KT. Chánh Văn phòng) or, for "
        "TM., the collective body (default for TM.: [unit] in_charge of node.toml)",
    )
    p.add_argument(
        "--urgency",
        choices=list(URGENCY),
        help="độ khẩn by name (default thuong); or --priority",
    )
    p.add_argument(
        "--priority",
        type=int,
        choices=[int(u) for u in Urgency],
        help="độ khẩn as edXML Priority: 0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc, "
        "4 hỏa tốc hẹn giờ (with --scheduled-at)",
    )
    p.add_argument(
        "--scheduled-at",
        help="hỏa tốc hẹn giờ: the time it must arrive by, dd/mm/yyyy hh:mm (local time)",
    )
    p.add_argument("--confidentiality", default="thuong", choices=list(CONFIDENTIALITY))
    p.add_argument("--date", help="date of issue dd/mm/yyyy or YYYY-MM-DD (default today)")
    p.add_argument(
        "--place", help="địa danh, e.g. Tây Ninh (default: [unit] place of node.toml; required)"
    )
    p.add_argument("--due", help="reply due dd/mm/yyyy or YYYY-MM-DD")
    p.add_argument(
        "--steering-type",
        type=int,
        help=f"edXML SteeringType code, 0 to {MAX_STEERING_TYPE} (QCVN 102:2016 publishes no "
        "table of these codes)",
    )
    p.add_argument("--sphere", help="phạm vi ban hành")
    p.add_argument(
        "--appendix", action="append", default=[], help="title of an appendix (phụ lục; repeat)"
    )
    p.add_argument("--pages", type=int, help="số trang")
    p.add_argument("--copies", type=int, help="số bản")
    p.add_argument("--drafter", help="the drafter's initials (người soạn thảo), e.g. KTrang")
    p.add_argument("--staff", help="the handler's full name (người xử lý)")
    p.add_argument("--staff-department", default="", help="the handler's department")
    p.add_argument("--staff-phone", default="", help="the handler's telephone")
    p.add_argument("--staff-email", default="", help="the handler's e-mail")
    p.add_argument("--file", action="append", type=Path, default=[], help="attachment (repeat)")
    p.add_argument(
        "--sign-pdf",
        action="store_true",
        help="add the organisation's digital signature ([signing] in node.toml) to every PDF "
        "file before sending; the PIN from $LIENTHONG_SIGN_PIN (signing.pin_env) or asked",
    )
    p.add_argument("--reply-to", help="id of the document this one answers (as inbox shows it)")
    p.add_argument(
        "--copy-of",
        metavar="ID",
        help="this document is a copy (bản sao) of document ID here, received or sent: give "
        "--type ban_sao_y (carries ID's files), ban_trich_sao or ban_sao_luc; numbered in "
        "the copy register",
    )
    changes = p.add_mutually_exclusive_group()
    changes.add_argument(
        "--update", metavar="ID", help="this document updates (cập nhật) one this unit sent"
    )
    changes.add_argument(
        "--replace",
        metavar="ID",
        action="append",
        default=[],
        help="this document replaces (thay thế) one this unit sent (repeat for several)",
    )
    p.add_argument("--reason", help="why it updates or replaces them (required with those)")
    p.add_argument(
        "--paper", action="store_true", help="the paper original follows by post (bản giấy)"
    )
    add_list_options(command("inbox", inbox, "incoming documents (văn bản đến), newest first"))
    p = command("outbox", outbox, "outgoing documents (văn bản đi) with per-recipient state")
    add_list_options(p)
    p.add_argument(
        "--dead",
        action="store_true",
        help="only the dead letters: envelopes and statuses a unit kept refusing, not sent "
        "again until retried (lienthong retry)",
    )
    p = command("retry", retry, "send a document's dead letters again (after the fix)")
    p.add_argument("id", help="document id (as inbox, outbox and outbox --dead show it)")
    p.add_argument("--to", help="only the dead letters to this unit code")
    p = command("show", show, "one document: metadata, attachments, timeline, signature")
    p.add_argument("id", help="document id (as inbox and outbox show it)")
    p = command(
        "export", export, "write a document's attachments and metadata.json", json_out=False
    )
    p.add_argument("id")
    p.add_argument("--out", type=Path, required=True, help="directory to write into")
    p = command("process", process, "record what happened to an incoming document")
    p.add_argument("id")
    p.add_argument("--status", required=True, choices=list(service.ACTIONS))
    p.add_argument(
        "--note",
        help="reason (rejected), steering note (assigned), result (completed) or a note",
    )
    # 04/05/06 go through node/unit/assignments.py, as on the page (docs/CLERK.md 10).
    p.add_argument("--lead", help="assigned: the user who leads the work (xử lý chính)")
    p.add_argument("--leader", help="assigned: the leader who instructed the assignment")
    p.add_argument("--deadline", help="assigned: hạn xử lý, dd/mm/yyyy")
    p.add_argument(
        "--as", dest="as_user", metavar="USER", help="in-progress, completed: the lead's username"
    )
    p = command("recall", recall, "ask every recipient to recall an outgoing document (13)")
    p.add_argument("id")
    p.add_argument("--note", help="why")
    p = command("answer-recall", answer_recall, "agree (15) or refuse (16) a recall request")
    p.add_argument("id")
    p.add_argument("--agree", action="store_true")
    p.add_argument("--refuse", action="store_true")
    p.add_argument("--note", help="reason for refusing")


async def send(args: argparse.Namespace) -> None:
    business, targets = _business_args(args)
    async with context(args.data_dir) as ctx:
        metadata = _send_metadata(ctx, args)
        recipients = [c.strip() for c in args.to.split(",") if c.strip()]
        files = args.file
        if not args.sign_pdf:
            envelope_id = await _send(ctx, args, metadata, recipients, business, targets, files)
        else:  # signed copies live in a private directory until they are sealed into blobs
            key = signing.signing_key(ctx.config)  # refused before the PIN is asked for
            with tempfile.TemporaryDirectory(prefix="signed-", dir=ctx.config.data_dir) as out:
                files = await signing.sign_files(
                    ctx.config, files, _sign_pin(ctx.config), Path(out)
                )
                envelope_id = await _send(ctx, args, metadata, recipients, business, targets, files)
    what = f" ({business}s {', '.join(targets)})" if targets else ""
    data = {
        "envelope_id": envelope_id,
        "recipients": recipients,
        "business": business,
        "targets": targets,
    }
    text = f"Queued {args.number}{what} for {', '.join(recipients)}: envelope {envelope_id}"
    if args.sign_pdf:
        data["signed"] = [f.name for f in files if signing.is_pdf(f)]
        text += f"; signed by the organisation ({key.describe()}): {', '.join(data['signed'])}"
    emit(args, data, text)


def _sign_pin(config) -> str:
    """The PIN from the variable signing.pin_env names, else asked on the terminal; never
    stored or logged."""
    name = config.get("signing", "pin_env")
    pin = os.environ.get(name)
    if pin is not None:
        return pin
    if not sys.stdin.isatty():
        raise LienthongError(
            f"--sign-pdf needs the token's PIN: set the environment variable {name}, or run "
            "the command in a terminal to be asked"
        )
    return getpass.getpass("PIN of the signing key: ")


async def _send(ctx, args, metadata, recipients, business, targets, files) -> str:
    send = functools.partial(service.send_document, ctx)
    if args.copy_of:  # node/unit/copies.py: linked to its original, a sao y with its files
        send = functools.partial(copies.send_copy, ctx, args.copy_of)
    with ProgressBar(f"Encrypting {len(files)} attachment(s)") as bar:
        return await send(
            metadata,
            recipients,
            files=files,
            actor="cli",
            reply_to=args.reply_to,
            staff=_staff(args),
            business=business,
            targets=targets,
            reason=args.reason,
            paper=args.paper,
            progress=bar if files else None,
        )


def _business_args(args: argparse.Namespace) -> tuple[str, list[str]]:
    """(business, targets) from --update / --replace; --reason alone is a mistake."""
    if args.update:
        return "update", [args.update]
    if args.replace:
        return "replace", list(args.replace)
    if args.reason:
        raise LienthongError(
            "--reason says why a document updates or replaces another: "
            "give --update ID or --replace ID with it"
        )
    return "new", []


def _send_metadata(ctx, args: argparse.Namespace) -> DocumentMetadata:
    """The official document `send` describes: issuer and place from node.toml unless
    given, the signature block, the number as written (its year for a legal document)."""
    number, year, notation = parse_number_notation(args.number)
    if args.year is not None and year is not None and args.year != year:
        raise LienthongError(f"--year {args.year} differs from the year in --number {args.number}")
    year = year if year is not None else args.year
    legal = document_types()[args.type].legal
    if legal and year is None:
        raise LienthongError(
            f"{args.type} is a legal document: its number carries the year "
            f"(--year 2025, or --number like 49/2025/QĐ-UBND)"
        )
    place = ctx.config.place if args.place is None else args.place.strip()
    if not place:
        raise LienthongError(
            "--place is required (địa danh, e.g. --place 'Tây Ninh'): node.toml has no "
            "[unit] place to start from"
        )
    acts_for = args.acts_for.strip()
    if args.authority == "TM." and not acts_for:
        acts_for = ctx.config.issuer.in_charge or ""
    if bool(args.authority) != bool(acts_for):
        raise LienthongError(
            "--authority and --acts-for go together: KT., TL., TM. or TUQ. acts for someone "
            "(--acts-for 'Chánh Văn phòng'), and --acts-for needs an --authority"
        )
    urgency = _urgency(args)
    scheduled_at = None
    if urgency is Urgency.FLASH_SCHEDULED:
        scheduled_at = parse_dmy_hm(args.scheduled_at or "")
        if scheduled_at is None:
            raise LienthongError(
                "hỏa tốc hẹn giờ (--priority 4) needs --scheduled-at 'dd/mm/yyyy hh:mm'"
            )
    elif args.scheduled_at:
        raise LienthongError("--scheduled-at goes with hỏa tốc hẹn giờ only (--priority 4)")
    today = dt.date.fromtimestamp(ctx.clock() / 1000).isoformat()
    return DocumentMetadata(
        number=number,
        year=year,
        notation=notation,
        doc_type=args.type,
        issuer=ctx.config.issuer,
        place=place,
        issued_on=_date(args.date, "--date") or today,
        subject=args.subject,
        signer=Signer(args.signer.strip(), args.position.strip(), args.authority, acts_for),
        urgency=urgency,
        scheduled_at=scheduled_at,
        confidentiality=CONFIDENTIALITY[args.confidentiality],
        due_on=_date(args.due, "--due"),
        copies=args.copies,
        pages=args.pages,
        drafter=args.drafter,
        steering_type=args.steering_type,
        sphere=args.sphere,
        appendixes=tuple(a.strip() for a in args.appendix if a.strip()),
    )


def _urgency(args: argparse.Namespace) -> Urgency:
    """--urgency by name or --priority by number (edXML Priority 0-4); both must agree."""
    named = None if args.urgency is None else URGENCY[args.urgency]
    numbered = None if args.priority is None else Urgency(args.priority)
    if named is not None and numbered is not None and named is not numbered:
        raise LienthongError(f"--urgency {args.urgency} and --priority {args.priority} differ")
    return named or numbered or Urgency.NORMAL


def _date(text: str | None, flag: str) -> str | None:
    """A date typed dd/mm/yyyy (or YYYY-MM-DD) as YYYY-MM-DD."""
    if text is None:
        return None
    day = parse_dmy(text)
    if day is None:
        raise LienthongError(f"{flag} {text!r} is not a date dd/mm/yyyy")
    return day


def _staff(args: argparse.Namespace) -> StaffInfo | None:
    """Who handled the document (edXML StaffInfo), from --staff and its companions."""
    if not args.staff:
        if args.staff_department or args.staff_phone or args.staff_email:
            raise LienthongError("--staff-department/-phone/-email need --staff NAME")
        return None
    return StaffInfo(args.staff, args.staff_department, args.staff_phone, args.staff_email)


def official_lines(m: DocumentMetadata) -> list[str]:
    """The document's head as on paper (issuer, number, place and date, urgency) and the
    other fields of version 2, one line each, for `show`."""
    lines = [
        *([m.issuer.parent.upper()] if m.issuer.parent else []),
        m.issuer.name.upper(),
        f"Số: {m.number_notation}",
        f"{m.place}, {written_date(m.issued_on)}" if m.place else written_date(m.issued_on),
        f"Loại văn bản: {describe_type(m.doc_type, m.type_name)}",
    ]
    if m.urgency:
        by = f" — đến trước {dmy_hm(m.scheduled_at)}" if m.scheduled_at else ""
        lines.append(f"Độ khẩn: {URGENCY_NAMES[m.urgency]}{by}")
    if m.steering_type is not None:
        lines.append(f"Loại chỉ đạo (SteeringType): {m.steering_type}")
    if m.sphere:
        lines.append(f"Phạm vi ban hành: {m.sphere}")
    lines += [f"Phụ lục {i}: {a}" for i, a in enumerate(m.appendixes, start=1)]
    if m.pages:
        lines.append(f"Số trang: {m.pages}")
    if m.copies:
        lines.append(f"Số bản: {m.copies}")
    if m.drafter:
        lines.append(f"Người soạn thảo: {m.drafter}")
    lines += [f"Thông tin bổ sung: {k} = {_extension(v)}" for k, v in m.extensions]
    return lines


def signature_lines(m: DocumentMetadata) -> list[str]:
    """The signature block as on paper, indented: "KT. CHÁNH VĂN PHÒNG" / "PHÓ CHÁNH VĂN
    PHÒNG" / "Trương Văn Hùng"."""
    if m.signer is None:
        return ["Người ký: -"]
    return ["Người ký:", *(f"    {line}" for line in m.signer.block)]


def _extension(value) -> str:
    return "; ".join(value) if isinstance(value, tuple) else str(value)


async def inbox(args: argparse.Namespace) -> None:
    async with context(args.data_dir) as ctx, ctx.store.read() as conn:
        docs, total, cursor = await _documents(conn, "in", args)
    rows = [_summary(d) for d in docs]
    lines = [
        f"{when(d.created_at)}  {'! ' if d.urgency else ''}{r['number']:<20} {r['state']:<12} "
        f"{r['sender']}  {r['subject'][:60]}  [{r['id']}]"
        for d, r in zip(docs, rows, strict=True)
    ]
    text = "\n".join(lines) or "No incoming documents."
    emit(args, list_answer(rows, total, cursor), text + _more(len(rows), total, cursor))


def _more(shown: int, total: int, cursor: str | None) -> str:
    """The line under a cut list: how many are left and how to see them."""
    return (
        f"\n({shown} of {total}; --cursor {cursor} for more, --all for every one)" if cursor else ""
    )


async def _documents(conn, direction: str, args: argparse.Namespace):
    """Newest first, a page at a time (keyset pagination): (documents, total, next cursor)."""
    limit = sys.maxsize if args.all else args.limit
    before = _parse_cursor(args.cursor)
    docs: list = []
    while len(docs) < limit:
        page = await list_documents(
            conn, direction=direction, limit=min(PAGE, limit - len(docs)), before=before
        )
        docs += page
        if len(page) < min(PAGE, limit - len(docs) + len(page)):
            break
        before = (page[-1].created_at, page[-1].id)
    total = await count_documents(conn, direction=direction)
    more = (
        docs
        and len(docs) == limit
        and await list_documents(
            conn, direction=direction, limit=1, before=(docs[-1].created_at, docs[-1].id)
        )
    )
    cursor = f"{docs[-1].created_at}.{docs[-1].id}" if more else None
    return docs, total, cursor


def _parse_cursor(text: str | None) -> tuple[int, str] | None:
    """A `next` cursor (`<unix ms>.<document id>`) back to the position it names."""
    if text is None:
        return None
    at, _, doc_id = text.partition(".")
    well_formed = doc_id.isascii() and doc_id.isprintable() and " " not in doc_id
    if not (is_decimal(at, 16) and well_formed and 0 < len(doc_id) <= MAX_CURSOR_ID):
        raise LienthongError(f"--cursor {text!r} is not a cursor this command printed")
    return int(at), doc_id


def _summary(doc) -> dict[str, Any]:
    """One document of a list, as JSON: English values, ISO 8601 times with their offset."""
    body = service.stored_body(doc)
    return {
        "id": doc.id,
        "number": body.metadata.number_notation,
        "subject": doc.subject,
        "sender": doc.sender_code,
        "state": doc.state,
        "recall": doc.recall,
        "urgency": Urgency(doc.urgency).name.lower(),
        "received_at": iso_time(doc.created_at),
        "attachments": len(body.attachments),
    }


async def outbox(args: argparse.Namespace) -> None:
    if args.dead:
        return await _dead_letters(args)
    async with context(args.data_dir) as ctx, ctx.store.read() as conn:
        docs, total, cursor = await _documents(conn, "out", args)
        rows = []
        for doc in docs:
            summary = _summary(doc)
            summary["recipients"] = [_recipient(r) for r in await recipients_view(conn, doc.id)]
            rows.append(summary)
    lines = []
    for doc, r in zip(docs, rows, strict=True):
        lines.append(f"{when(doc.created_at)}  {r['number']:<20} {r['subject'][:50]}  [{r['id']}]")
        for rec in r["recipients"]:
            number = f" số đến {rec['incoming_number']}" if rec["incoming_number"] else ""
            answer = f" {translate('vi', rec['answer'])}" if rec["answer"] else ""
            lines.append(
                f"    {rec['recipient']:<16} {rec['state']:<12}{number}{answer}"
                f"  {rec['updated_at']}  {rec['last_error'] or ''}"
            )
    text = "\n".join(lines) or "No outgoing documents."
    emit(args, list_answer(rows, total, cursor), text + _more(len(rows), total, cursor))


async def _dead_letters(args: argparse.Namespace) -> None:
    """outbox --dead: every dead letter, newest first, in the list shape (docs/CLI.md)."""
    async with context(args.data_dir) as ctx:
        letters = await dead_letters.every(ctx)
    limit = len(letters) if args.all else args.limit
    items = [{k: v for k, v in d.items() if k != "since"} for d in letters[:limit]]
    lines = [
        f"{d['since']}  {d['kind']:<8} {d['document_id']} → {d['destination']:<16}"
        f"{' ' + d['code'] if d['code'] else ''}  {d['refused_with']} ×{d['refusals']}"
        f"  {d['last_error'] or ''}"
        for d in letters[:limit]
    ]
    text = "\n".join(lines) or "No dead letters."
    emit(args, list_answer(items, len(letters), None), text)


async def retry(args: argparse.Namespace) -> None:
    async with context(args.data_dir) as ctx:
        count = await dead_letters.retry(ctx, args.id, actor="cli", destination=args.to)
    emit(args, {"id": args.id, "retried": count}, f"{count} dead letter(s) of {args.id} due again")


def _lead(lead: dict[str, Any]) -> str:
    """Who leads the work at a recipient, as the page writes it: "Name (Department)"."""
    return lead["name"] + (f" ({lead['department']})" if lead["department"] else "")


def _recipient(row: dict[str, Any]) -> dict[str, Any]:
    """One recipient's delivery as JSON: the time as ISO 8601, not as the page shows it."""
    kept = {k: v for k, v in row.items() if k not in ("updated", "updated_at")}
    return kept | {"updated_at": iso_time(row["updated_at"])}


async def _document(conn: Queryable, args: argparse.Namespace) -> DocumentRecord:
    """The document `args.id` names, or an error naming it and the data directory."""
    doc = await get_document(conn, args.id)
    if doc is None:
        raise LienthongError(f"no document {args.id} in {args.data_dir}")
    return doc


async def show(args: argparse.Namespace) -> None:
    async with context(args.data_dir) as ctx:
        async with ctx.store.read() as conn:
            doc = await _document(conn, args)
            body = service.stored_body(doc)
            events = await timeline_view(conn, doc)
            recipients = await recipients_view(conn, args.id) if doc.direction == "out" else []
            raw = await get_envelope_raw(conn, args.id)
            linked = await links_view(conn, doc)
            business = await business_view(conn, doc)
            checks = await pdf_verify.file_checks(conn, doc.id, body)  # docs/SIGNATURES.md
        signature = await signature_check(ctx, raw)  # may read the certificate archive
    timeline = [
        {
            "at": e["at"],
            "from": e["from"],
            "to": e["to"],
            "code": f"{e['code']:02d}",
            "label": e["label_vi"],  # a 15 or 16 by what it answers: "Đồng ý cập nhật"
            "answers": e["answers"],
            "incoming_number": e["incoming_number"],
            "note": e["note"],
            # 04, 05, 06: who leads the work there {name, department}; 06: the result.
            "lead": e["lead"],
            "result": e["result"],
            "direction": e["direction"],
            # An organisation outside the directory, via the gateway `from` (GATEWAY.md).
            "external": e["external"],
        }
        for e in events
    ]
    links = [_link(item) for item in linked]
    data = {
        "id": doc.id,
        # The id its envelope carries (the sender's); another only if `id` was taken here.
        "envelope_id": doc.wire_id,
        "direction": doc.direction,
        "state": doc.state,
        "recall": doc.recall,
        "metadata": jsonable(body.metadata),
        "number": body.metadata.number_notation,
        # The signature block as on paper, one line each (metadata.signer has its parts).
        "signature_block": list(body.metadata.signer.block) if body.metadata.signer else [],
        "attachments": [
            {
                "name": a.name,
                "media_type": a.media_type,
                "size": a.size,
                "sha256": a.sha256.hex(),
                # The digital signatures inside a PDF (chữ ký số), not the node's: null
                # for a file that is not a PDF.
                "signature_check": None
                if check is None
                else {k: check[k] for k in ("status", "reason_code", "reason")},
                "signatures": [] if check is None else check["signatures"],
            }
            for a, check in zip(body.attachments, checks, strict=True)
        ],
        # The envelope's signature: the sending node's, not a chữ ký số.
        "signature": signature,
        "business": business["business"],
        "reason": business["reason"],
        "paper": business["paper"],  # the paper original follows by post
        "staff": business["staff"],
        "links": links,
        "recipients": recipients,
        "timeline": timeline,
    }
    m = body.metadata
    lines = [
        *official_lines(m),
        f"Trích yếu: {m.subject}",
        f"Nơi ban hành: {m.issuer.name} ({doc.sender_code})",
        *([f"Mã văn bản của nơi gửi: {doc.wire_id}"] if doc.wire_id not in (None, doc.id) else []),
        *signature_lines(m),
        f"Trạng thái: {doc.state}" + (f" (thu hồi: {doc.recall})" if doc.recall != "none" else ""),
        *([translate("vi", business["label"])] if business["business"] != "new" else []),
        *([f"Lý do: {business['reason']}"] if business["reason"] else []),
        *([translate("vi", "doc.paper_follows")] if business["paper"] else []),
        *[f"{item['text']}" for item in links],
        f"Chữ ký của node gửi: {signature['text']}",
    ]
    for a in data["attachments"]:
        lines.append(f"Tệp đính kèm: {a['name']} ({a['size']} bytes)")
        if a["signature_check"] is not None:
            lines.append(f"  Chữ ký số: {a['signature_check']['reason']}")
        lines += [
            f"    {s['signer_name']}, {s['organisation']}, {s['signing_time']}: {s['reason']}"
            for s in a["signatures"]
        ]
    lines += [
        f"  {r['recipient']}: {r['state']}"
        + (f" — {translate('vi', r['answer'])}" if r["answer"] else "")
        for r in recipients
    ]
    lines += [
        f"  {t['at']} {t['from']} → {t['to']}: {t['code']} {t['label']}"
        + (f" số {t['incoming_number']}" if t["incoming_number"] else "")
        + (f" — Xử lý chính: {_lead(t['lead'])}" if t["lead"] and t["code"] != "04" else "")
        + (f" — Kết quả: {t['result']}" if t["result"] else "")
        + (f" — {t['note']}" if t["note"] and not t["result"] else "")
        for t in timeline
    ]
    emit(args, data, "\n".join(lines))


def translate(lang: str, key: str, **values: Any) -> str:
    """A word of the clerk's page (node/web/i18n.py, the one catalogue), imported only by
    the commands that print one: the others do not load the web page's package."""
    from lienthong.node.web.i18n import translate as words

    return words(lang, key, **values)


def _link(item: dict) -> dict:
    """A link of links_view as `show` prints it: the view's fields and its Vietnamese line
    ("Đã được cập nhật bởi 15/VP-TTTH ngày 24/11/2025 [ID] (chờ vào sổ)")."""
    if item["known"]:
        other = f"{item['number']} ngày {item['issued_on']} [{item['id']}]"
    else:
        other = translate("vi", "link.unknown", wire_id=item["wire_id"])
    effect = f" ({translate('vi', 'link.' + item['effect'])})" if item["effect"] else ""
    return item | {"text": f"{translate('vi', item['label'])} {other}{effect}"}


async def export(args: argparse.Namespace) -> None:
    async with context(args.data_dir) as ctx:
        async with ctx.store.read() as conn:
            doc = await _document(conn, args)
        body = service.stored_body(doc)
        make_private_dir(args.out, parents=True)  # decrypted letters: the owner's eyes only
        # A name too long for the file system is shortened, a repeated one numbered; the
        # name each file was written under is in metadata.json.
        taken = {"metadata.json"}
        files = [export_name(a.name, taken) for a in body.attachments]
        for a, file_name in zip(body.attachments, files, strict=True):
            out = args.out / file_name
            with ProgressBar(f"Decrypting {a.name[:40]}") as bar:
                await asyncio.to_thread(decrypt_to, ctx.blobs, a, out, progress=bar)
    meta = {
        "id": doc.id,
        "envelope_id": doc.wire_id,
        "sender": doc.sender_code,
        "number": body.metadata.number_notation,
        "metadata": jsonable(body.metadata),
        "attachments": [
            {
                "name": a.name,
                "file": file_name,
                "media_type": a.media_type,
                "size": a.size,
                "sha256": a.sha256.hex(),
            }
            for a, file_name in zip(body.attachments, files, strict=True)
        ],
    }
    with create_private(args.out / "metadata.json", replace=True) as file:
        file.write(json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8"))
    print(f"Exported {len(body.attachments)} attachment(s) and metadata.json to {args.out}")


async def _work(ctx, args: argparse.Namespace, state: DocState) -> None:
    """04, 05 or 06 through the office's rules (node/unit/assignments.py): an assignment
    names its lead and the leader who gave it; the lead starts and completes it."""
    if state is DocState.ASSIGNED:
        if not args.lead or not args.leader:
            raise LienthongError(
                "--status assigned names the lead (--lead USER) and the leader who "
                "instructed it (--leader USER)"
            )
        current = await office.get(ctx, args.id)
        await office.assign(
            ctx,
            args.id,
            lead=args.lead,
            deadline=_date(args.deadline, "--deadline"),
            note=args.note,
            actor="cli",
            version=0 if current is None else current.version,
            instructed_by=args.leader,
            by_api=True,  # the command line, like the API, acts on a named leader's word
        )
        return
    if not args.as_user:
        raise LienthongError(f"--status {args.status} names the lead who acts (--as USER)")
    if state is DocState.IN_PROGRESS:
        await office.start(ctx, args.id, actor=args.as_user)
    else:
        await office.complete(ctx, args.id, actor=args.as_user, result=args.note or "", via="cli")


async def process(args: argparse.Namespace) -> None:
    state = service.ACTIONS[args.status]
    async with context(args.data_dir) as ctx:
        if state in (DocState.ASSIGNED, DocState.IN_PROGRESS, DocState.COMPLETED):
            await _work(ctx, args, state)
            text = f"Document {args.id}: {args.status}"
            emit(args, {"id": args.id, "state": state.value, "incoming_number": None}, text)
            return
        number = await service.process_document(
            ctx,
            args.id,
            state,
            actor="cli",
            note=args.note if state is not DocState.REJECTED else None,
            reason=args.note if state is DocState.REJECTED else None,
        )
    text = f"Document {args.id}: {args.status}"
    if number is not None:
        text += f", incoming number (số đến) {number}"
    emit(args, {"id": args.id, "state": state.value, "incoming_number": number}, text)


async def recall(args: argparse.Namespace) -> None:
    async with context(args.data_dir) as ctx:
        recipients = await service.recall(ctx, args.id, actor="cli", reason=args.note)
    emit(
        args,
        {"id": args.id, "recipients": recipients},
        f"Recall requested from {', '.join(recipients)}",
    )


async def answer_recall(args: argparse.Namespace) -> None:
    if args.agree == args.refuse:
        raise LienthongError("say --agree or --refuse")
    async with context(args.data_dir) as ctx:
        await service.answer_recall(ctx, args.id, agree=args.agree, actor="cli", reason=args.note)
    emit(
        args,
        {"id": args.id, "agreed": args.agree},
        f"Recall of {args.id} {'agreed' if args.agree else 'refused'}",
    )
