"""Sổ văn bản: the incoming and outgoing registers by year (screen, print, CSV), and the
hand entry of a paper document received or sent while the network was down."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.web.base import (
    USER,
    context_of,
    is_digits,
    not_found,
    parse_date,
    render,
    requires,
    see_other,
    today,
    tr,
)
from lienthong.protocol.doctypes import document_types
from lienthong.protocol.limits import MAX_SHORT_TEXT, MAX_SUBJECT
from lienthong.storage.registers import (
    IncomingEntry,
    OutgoingEntry,
    list_register,
    register_incoming,
    register_outgoing,
)

KINDS = ("incoming", "outgoing")
# Registers exist from this year; a year outside the range is a typing mistake.
FIRST_YEAR, LAST_YEAR = 2000, 2100
# Columns of each register (Nghị định 30/2020/NĐ-CP, Phụ lục IV): the
# entry field and the catalogue key of its heading, in the order of the paper book.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "incoming": (
        ("number", "reg.in.number"),
        ("arrived_on", "reg.in.arrived_on"),
        ("issuer_name", "reg.in.issuer"),
        ("number_notation", "reg.in.number_notation"),
        ("doc_date", "reg.in.doc_date"),
        ("doc_type", "reg.type"),
        ("subject", "reg.subject"),
        ("passed_to", "reg.in.passed_to"),
        ("receipt_signature", "reg.in.receipt_signature"),
        ("notes", "reg.notes"),
    ),
    "outgoing": (
        ("number_notation", "reg.out.number_notation"),
        ("issued_on", "reg.out.issued_on"),
        ("doc_type", "reg.type"),
        ("subject", "reg.subject"),
        ("signer", "reg.out.signer"),
        ("recipients", "reg.out.recipients"),
        ("archive_holder", "reg.out.archive_holder"),
        ("copies", "reg.out.copies"),
        ("sent_on", "reg.out.sent_on"),
        ("notes", "reg.notes"),
    ),
}
# Characters that make a spreadsheet read a cell as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _type_name(code: str) -> str:
    t = document_types().get(code)
    return t.name if t else code


def _cells(kind: str, entry: Any) -> dict[str, Any]:
    cells = {name: getattr(entry, name, None) for name, _ in COLUMNS[kind] if hasattr(entry, name)}
    cells["doc_type"] = _type_name(entry.doc_type)
    if kind == "outgoing":
        cells["number_notation"] = f"{entry.number}/{entry.notation}"
    cells["number"] = entry.number
    cells["manual"] = entry.manual
    cells["document_id"] = entry.document_id
    return cells


def _year(request: web.Request, ctx) -> int:
    raw = request.match_info.get("year") or request.query.get("year") or today(ctx)[:4]
    if not is_digits(raw) or not FIRST_YEAR <= int(raw) <= LAST_YEAR:
        raise not_found(request)
    return int(raw)


def _kind(request: web.Request) -> str:
    kind = request.match_info.get("kind") or request.query.get("kind") or "incoming"
    if kind not in KINDS:
        raise not_found(request)
    return kind


@requires("view")
async def register_page(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    kind, year = _kind(request), _year(request, ctx)
    async with ctx.store.read() as conn:
        entries = await list_register(conn, kind, year)
    return render(
        request,
        "registers.html",
        {
            "kind": kind,
            "year": year,
            "columns": COLUMNS[kind],
            "rows": [_cells(kind, e) for e in entries],
            "printing": request.query.get("print") == "1",
            "highlight": request.query.get("highlight", ""),
        },
    )


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


@requires("view")
async def register_csv(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    kind, year = _kind(request), _year(request, ctx)
    async with ctx.store.read() as conn:
        entries = await list_register(conn, kind, year)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([tr(request, key) for _, key in COLUMNS[kind]] + [tr(request, "reg.manual")])
    for entry in entries:
        cells = _cells(kind, entry)
        writer.writerow(
            [_csv_cell(cells.get(name)) for name, _ in COLUMNS[kind]]
            + [tr(request, "reg.manual_yes") if entry.manual else ""]
        )
    # A byte-order mark so that spreadsheet programs read the diacritics as UTF-8.
    body = "\ufeff" + out.getvalue()
    return web.Response(
        body=body.encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="so-van-ban-{kind}-{year}.csv"',
        },
    )


def _field(form, name: str, limit: int = MAX_SHORT_TEXT) -> str:
    return str(form.get(name, "")).strip()[:limit]


def _paper_context(request: web.Request, values: dict[str, str], errors: dict[str, str]):
    ctx = context_of(request)
    return {
        "values": {"arrived_on": today(ctx), "issued_on": today(ctx), "sent_on": today(ctx)}
        | values,
        "errors": errors,
        "types": sorted(document_types().values(), key=lambda t: t.name),
        "units": ctx.directory.current.units() if ctx.directory.current else [],
    }


@requires("send")
async def paper_get(request: web.Request) -> web.StreamResponse:
    return render(request, "paper.html", _paper_context(request, {}, {}))


def _check_common(request, form, errors, dates, required) -> dict[str, str]:
    values = {k: _field(form, k, MAX_SUBJECT if k == "subject" else MAX_SHORT_TEXT) for k in form}
    for name in dates:
        if parse_date(values.get(name, "")) is None:
            errors[name] = tr(request, "compose.err.date")
    for name in required:
        if not values.get(name):
            errors.setdefault(name, tr(request, "paper.err.required"))
    if values.get("doc_type") not in document_types():
        errors["doc_type"] = tr(request, "compose.err.doc_type")
    return values


@requires("send")
async def paper_post(request: web.Request) -> web.StreamResponse:
    """One paper document, into the register of its kind with the year's next number."""
    ctx = context_of(request)
    kind = _kind(request)
    form = await request.post()
    errors: dict[str, str] = {}
    actor = request[USER].username
    if kind == "incoming":
        values = _check_common(
            request,
            form,
            errors,
            ("arrived_on", "doc_date"),
            ("issuer_name", "number_notation", "subject"),
        )
        entry: Any = IncomingEntry(
            arrived_on=values.get("arrived_on", ""),
            issuer_name=values.get("issuer_name", ""),
            issuer_code=values.get("issuer_code") or None,
            number_notation=values.get("number_notation", ""),
            doc_date=values.get("doc_date", ""),
            doc_type=values.get("doc_type", ""),
            subject=values.get("subject", ""),
            passed_to=values.get("passed_to") or None,
            receipt_signature=actor,
            notes=values.get("notes") or None,
            manual=True,
        )
    else:
        values = _check_common(
            request, form, errors, ("issued_on", "sent_on"), ("notation", "subject", "recipients")
        )
        number = values.get("number", "")
        if number and not is_digits(number):
            errors["number"] = tr(request, "compose.err.count")
        copies = values.get("copies", "")
        if copies and not is_digits(copies):
            errors["copies"] = tr(request, "compose.err.count")
        entry = OutgoingEntry(
            issued_on=values.get("issued_on", ""),
            notation=values.get("notation", ""),
            doc_type=values.get("doc_type", ""),
            subject=values.get("subject", ""),
            signer=values.get("signer", ""),
            recipients=values.get("recipients", ""),
            archive_holder=values.get("archive_holder") or None,
            copies=int(copies) if is_digits(copies) else None,
            sent_on=values.get("sent_on") or None,
            notes=values.get("notes") or None,
            manual=True,
            number=int(number) if is_digits(number) else None,
        )
    if errors:
        context = _paper_context(request, values, errors) | {"kind": kind}
        return render(request, "paper.html", context, status=400)
    try:
        number = await record_paper(ctx, kind, entry, actor=actor)
    except LienthongError as exc:
        context = _paper_context(request, values, {"form": str(exc)}) | {"kind": kind}
        return render(request, "paper.html", context, status=409)
    year = (entry.arrived_on if kind == "incoming" else entry.issued_on)[:4]
    raise see_other(f"/registers?kind={kind}&year={year}&highlight={number}")


async def record_paper(ctx, kind: str, entry: Any, *, actor: str) -> int:
    """Write one hand entry in one transaction; the register numbers it (storage.registers).

    When the electronic copy of an incoming paper entry arrives later,
    node.unit.documents.process_document links it to this entry instead of numbering it again.
    """
    now = ctx.clock()
    async with ctx.store.write() as tx:
        if kind == "incoming":
            return await register_incoming(tx, entry, actor=actor, at=now)
        return await register_outgoing(tx, entry, actor=actor, at=now)
