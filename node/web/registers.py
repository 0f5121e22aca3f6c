"""Sổ văn bản: the registers by kind, register and year (paged screen, print view, CSV and
xlsx exports), and the hand entry of a paper document received or sent while the network
was down, with the warning before a document is numbered twice."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.times import dmy, parse_dmy
from lienthong.node.web.base import (
    USER,
    context_of,
    is_digits,
    not_found,
    render,
    requires,
    see_other,
    today,
    tr,
)
from lienthong.protocol.codes import Confidentiality
from lienthong.protocol.doctypes import document_types
from lienthong.protocol.document import number_rule
from lienthong.protocol.limits import MAX_SHORT_TEXT, MAX_SUBJECT
from lienthong.storage.errors import StoreError
from lienthong.storage.registers import (
    CURSOR,
    LEGAL_ONE,
    LEGAL_PREFIX,
    REGISTER_NAME,
    IncomingEntry,
    OutgoingEntry,
    RegisterRules,
    arrived_unregistered,
    lines,
    possible_duplicates,
    register_incoming,
    register_outgoing,
    registers_in_use,
)
from lienthong.storage.registers import (
    register_page as page_of,
)

KINDS = ("incoming", "outgoing")
# Registers exist from this year; a year outside the range is a typing mistake.
FIRST_YEAR, LAST_YEAR = 2000, 2100
# Columns of each register as the forms of Nghị định 30/2020/NĐ-CP, Phụ lục IV print them
# (mẫu sổ đăng ký văn bản đến / đi): the cell's name and the catalogue key of its heading.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "incoming": (
        ("number", "reg.in.number"),
        ("arrived_on", "reg.in.arrived_on"),
        ("issuer_name", "reg.in.issuer"),
        ("number_notation", "reg.in.number_notation"),
        ("doc_date", "reg.in.doc_date"),
        ("type_subject", "reg.type_subject"),
        ("passed_to", "reg.in.passed_to"),
        ("receipt_signature", "reg.in.receipt_signature"),
        ("notes", "reg.notes"),
    ),
    "outgoing": (
        ("number_notation", "reg.out.number_notation"),
        ("issued_on", "reg.out.issued_on"),
        ("type_subject", "reg.type_subject"),
        ("signer", "reg.out.signer"),
        ("recipients", "reg.out.recipients"),
        ("archive_holder", "reg.out.archive_holder"),
        ("copies", "reg.out.copies"),
        ("sent_on", "reg.out.sent_on"),
        ("receipt_signature", "reg.out.receipt_signature"),
        ("notes", "reg.notes"),
    ),
}
# The exports split "tên loại và trích yếu" in two, so that a spreadsheet can sort and
# filter by type.
EXPORT_COLUMNS = {
    kind: tuple(
        part
        for column in columns
        for part in (
            (("doc_type", "reg.type"), ("subject", "reg.subject"))
            if column[0] == "type_subject"
            else (column,)
        )
    )
    for kind, columns in COLUMNS.items()
}
_DATES = frozenset({"arrived_on", "doc_date", "issued_on", "sent_on"})
# Characters that make a spreadsheet read a cell as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Widths of the xlsx columns (characters), in the order of COLUMNS: the subject and the
# recipients are the long ones.
_XLSX_WIDTHS = {
    "incoming": (8, 11, 28, 18, 11, 14, 50, 20, 12, 28),
    "outgoing": (18, 11, 14, 50, 20, 32, 18, 8, 11, 12, 28),
}


def _type_name(code: str) -> str:
    t = document_types().get(code)
    return t.name if t else code


def series_title(request: web.Request, rules: RegisterRules, name: str) -> str:
    """A register's name as the clerk reads it: "Văn bản mật", "Văn bản quy phạm pháp luật:
    Quyết định", a type's name for a type numbered apart, else the name itself."""
    if name == rules.general:
        return tr(request, "reg.series.general")
    if name in (rules.secret, rules.incoming_secret):
        return tr(request, "reg.series.secret")
    if name == rules.copies:
        return tr(request, "reg.series.copies")
    if name == LEGAL_ONE:
        return tr(request, "reg.series.legal")
    if name.startswith(LEGAL_PREFIX) and name[len(LEGAL_PREFIX) :] in document_types():
        return tr(request, "reg.series.legal_type", type=_type_name(name[len(LEGAL_PREFIX) :]))
    if name in document_types():
        return _type_name(name)
    return name


def _names(ctx) -> Callable[[str], str]:
    """Nơi nhận as a reader reads it: a unit code the directory knows becomes its name
    (lines written before the register kept names held codes)."""
    directory = ctx.directory.current
    known = {u.code: u.name for u in directory.units()} if directory is not None else {}

    def readable(text: str) -> str:
        return "; ".join(known.get(part.strip(), part.strip()) for part in text.split(";"))

    return readable


def _notes(request: web.Request, entry: Any) -> list[str]:
    """The notes column: the clerk's note, the links to other documents, the recall, and
    whether the line was entered by hand."""
    notes = [entry.notes] if entry.notes else []
    notes += (entry.link_notes or "").split("\n") if entry.link_notes else []
    if entry.recalled_on:
        date = dmy(entry.recalled_on)
        if entry.recall_reason:
            notes.append(tr(request, "reg.recalled_reason", date=date, reason=entry.recall_reason))
        else:
            notes.append(tr(request, "reg.recalled", date=date))
    if entry.manual:
        notes.append(tr(request, "reg.manual_yes"))
    return notes


def _cells(request: web.Request, kind: str, entry: Any, readable: Callable[[str], str]):
    """One line as the register shows it: every column as text, dates dd/mm/yyyy."""
    cells: dict[str, Any] = {}
    for name, _ in COLUMNS[kind]:
        value = getattr(entry, name, None)
        cells[name] = dmy(value) if name in _DATES else value
    cells["doc_type"] = _type_name(entry.doc_type)
    cells["subject"] = entry.subject
    cells["type_subject"] = f"{cells['doc_type']}: {entry.subject}"
    if kind == "outgoing":
        cells["number_notation"] = entry.number_notation
        cells["recipients"] = readable(entry.recipients)
        cells["receipt_signature"] = None
    cells["notes"] = "\n".join(_notes(request, entry))
    return {
        "cells": cells,
        "number": entry.number,
        "document_id": entry.document_id,
        "recalled": entry.recalled_on is not None,
        "manual": entry.manual,
    }


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


def _register(request: web.Request, rules: RegisterRules) -> str:
    name = request.query.get("register") or rules.general
    if not REGISTER_NAME.matches(name):
        raise not_found(request)
    return name


def _cursor(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is not None and not CURSOR.matches(value):
        raise not_found(request)
    return value


def _configured(rules: RegisterRules, kind: str) -> list[str]:
    """The registers a page offers before any line is written in them."""
    if kind == "incoming":
        return [rules.general] + ([rules.incoming_secret] if rules.incoming_secret else [])
    named = [rules.general, rules.secret, rules.copies, *rules.own_series]
    return [n for n in named if n]


@requires("view")
async def register_page(request: web.Request) -> web.StreamResponse:
    """One page of a register (PAGE_LINES lines, keyset paged); with print=1 the whole
    register as the print view."""
    ctx = context_of(request)
    rules = ctx.config.register_rules
    kind, year, register = _kind(request), _year(request, ctx), _register(request, rules)
    if request.query.get("print") == "1":
        return await _print_view(request, kind, year, register)
    after, before = _cursor(request, "after"), _cursor(request, "before")
    async with ctx.store.read() as conn:
        page = await page_of(conn, kind, register, year, after=after, before=before)
        in_use = await registers_in_use(conn, kind, year)
    readable = _names(ctx)
    names = list(dict.fromkeys([*_configured(rules, kind), *in_use, register]))
    query = {"kind": kind, "year": year, "register": register}
    return render(
        request,
        "registers.html",
        {
            "kind": kind,
            "year": year,
            "register": register,
            "series": [(n, series_title(request, rules, n), in_use.get(n, 0)) for n in names],
            "title": series_title(request, rules, register),
            "columns": COLUMNS[kind],
            "rows": [_cells(request, kind, e, readable) for e in page.lines],
            "previous_query": None if page.previous is None else query | {"before": page.previous},
            "next_query": None if page.next is None else query | {"after": page.next},
            "print_query": query | {"print": 1},
            "highlight": request.query.get("highlight", ""),
        },
    )


async def _print_view(request: web.Request, kind: str, year: int, register: str):
    """The whole register on a clean page, headed as the decree's form (Phụ lục IV)."""
    ctx = context_of(request)
    readable = _names(ctx)
    rows: list[dict[str, Any]] = []
    days: list[str] = []
    async with ctx.store.read() as conn:
        async for batch in lines(conn, kind, register, year):
            rows += [_cells(request, kind, e, readable) for e in batch]
            days += [e.arrived_on if kind == "incoming" else e.issued_on for e in batch]
    numbers = [r["cells"]["number" if kind == "incoming" else "number_notation"] for r in rows]
    unit = ctx.config.values["unit"]
    return render(
        request,
        "register_print.html",
        {
            "kind": kind,
            "year": year,
            "register": register,
            "title": series_title(request, ctx.config.register_rules, register),
            "parent": unit.get("parent", ""),
            "organisation": ctx.config.name,
            "columns": COLUMNS[kind],
            "rows": rows,
            "first_day": dmy(min(days)) if days else "",
            "last_day": dmy(max(days)) if days else "",
            "first_number": numbers[0] if numbers else "",
            "last_number": numbers[-1] if numbers else "",
        },
    )


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _headings(request: web.Request, kind: str) -> list[str]:
    return [tr(request, key) for _, key in EXPORT_COLUMNS[kind]]


async def _export_rows(request: web.Request, kind: str, year: int, register: str):
    """The register's lines as rows of text cells, EXPORT_BATCH lines at a time."""
    ctx = context_of(request)
    readable = _names(ctx)
    async with ctx.store.read() as conn:
        async for batch in lines(conn, kind, register, year):
            yield [
                [
                    _cells(request, kind, e, readable)["cells"][name]
                    for name, _ in EXPORT_COLUMNS[kind]
                ]
                for e in batch
            ]


def _file_name(kind: str, register: str, year: int, suffix: str) -> str:
    return f"so-van-ban-{'den' if kind == 'incoming' else 'di'}-{register}-{year}.{suffix}"


@requires("view")
async def register_csv(request: web.Request) -> web.StreamResponse:
    """The whole register as CSV (UTF-8 with a byte-order mark), streamed batch by batch."""
    ctx = context_of(request)
    kind, year = _kind(request), _year(request, ctx)
    register = _register(request, ctx.config.register_rules)
    name = _file_name(kind, register, year, "csv")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        }
    )
    await response.prepare(request)

    def encoded(rows: list[list[Any]]) -> bytes:
        out = io.StringIO()
        csv.writer(out).writerows([[_csv_cell(c) for c in row] for row in rows])
        return out.getvalue().encode("utf-8")

    # A byte-order mark so that spreadsheet programs read the diacritics as UTF-8.
    await response.write("\ufeff".encode() + encoded([_headings(request, kind)]))
    async for rows in _export_rows(request, kind, year, register):
        await response.write(encoded(rows))
    await response.write_eof()
    return response


@requires("view")
async def register_xlsx(request: web.Request) -> web.StreamResponse:
    """The whole register as an Excel workbook (.xlsx), one sheet headed like the print view.

    XlsxWriter's constant_memory mode writes each row to a temporary file as it comes, so a
    year of mail is never held at once; the rows are written in a worker thread, batch by
    batch, and the finished file is streamed to the browser, then removed."""
    ctx = context_of(request)
    rules = ctx.config.register_rules
    kind, year, register = _kind(request), _year(request, ctx), _register(request, rules)
    handle, path = tempfile.mkstemp(prefix="lienthong-register-", suffix=".xlsx")
    os.close(handle)
    try:
        title = tr(request, "reg.title_" + kind, year=year)
        title += " — " + series_title(request, rules, register)
        sheet = await asyncio.to_thread(_Sheet, path, kind, title, _headings(request, kind))
        async for rows in _export_rows(request, kind, year, register):
            await asyncio.to_thread(sheet.write, rows)
        await asyncio.to_thread(sheet.book.close)
        name = _file_name(kind, register, year, "xlsx")
        response = web.StreamResponse(
            headers={
                "Content-Type": XLSX_TYPE,
                "Content-Disposition": f'attachment; filename="{name}"',
            }
        )
        await response.prepare(request)
        async for chunk in _chunks(path):
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        os.unlink(path)


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Bytes read per chunk of the finished workbook as it is sent.
_SEND_CHUNK = 256 * 1024


async def _chunks(path: str) -> AsyncIterator[bytes]:
    with open(path, "rb") as file:  # noqa: ASYNC230 - each read runs in a thread below
        while chunk := await asyncio.to_thread(file.read, _SEND_CHUNK):
            yield chunk


class _Sheet:
    """The register's one sheet: the title in row 1, the headings in row 2, then the lines
    in order (constant_memory mode writes each finished row out), A4 landscape to print."""

    def __init__(self, path: str, kind: str, title: str, headings: list[str]) -> None:
        import xlsxwriter  # loaded at the first export, not with every web app

        self.book = xlsxwriter.Workbook(path, {"constant_memory": True})
        self.sheet = self.book.add_worksheet("So")
        self.sheet.set_landscape()
        self.sheet.set_paper(9)  # A4
        self.sheet.fit_to_pages(1, 0)
        self.sheet.repeat_rows(1)
        self.cell = self.book.add_format({"text_wrap": True, "valign": "top", "border": 1})
        head = self.book.add_format(
            {"bold": True, "text_wrap": True, "align": "center", "valign": "vcenter", "border": 1}
        )
        for i, width in enumerate(_XLSX_WIDTHS[kind]):
            self.sheet.set_column(i, i, width)
        self.sheet.write_string(0, 0, title, self.book.add_format({"bold": True, "font_size": 13}))
        for i, heading in enumerate(headings):
            self.sheet.write_string(1, i, heading, head)
        self.row = 2

    def write(self, rows: list[list[Any]]) -> None:
        """Numbers as numbers, every other cell as text (write_string: a subject starting
        with "=" stays text, never a formula)."""
        for row in rows:
            for c, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, int):
                    self.sheet.write_number(self.row, c, value, self.cell)
                else:
                    self.sheet.write_string(self.row, c, str(value), self.cell)
            self.row += 1


def _field(form, name: str, limit: int = MAX_SHORT_TEXT) -> str:
    return str(form.get(name, "")).strip()[:limit]


def _paper_context(
    request: web.Request,
    values: dict[str, str],
    errors: dict[str, str],
    duplicates: list[str] | None = None,
):
    ctx = context_of(request)
    day = dmy(today(ctx))
    return {
        "values": {"arrived_on": day, "issued_on": day, "sent_on": day} | values,
        "errors": errors,
        "types": sorted(document_types().values(), key=lambda t: t.name),
        "units": ctx.directory.current.units() if ctx.directory.current else [],
        "confidentialities": [int(c) for c in Confidentiality],
        "duplicates": duplicates or [],
    }


@requires("send")
async def paper_get(request: web.Request) -> web.StreamResponse:
    return render(request, "paper.html", _paper_context(request, {}, {}))


def _check_common(request, form, errors, dates, required) -> dict[str, str]:
    values = {k: _field(form, k, MAX_SUBJECT if k == "subject" else MAX_SHORT_TEXT) for k in form}
    for name in dates:
        if values.get(name) and parse_dmy(values[name]) is None:
            errors[name] = tr(request, "compose.err.date")
    for name in required:
        if not values.get(name):
            errors.setdefault(name, tr(request, "paper.err.required"))
    if values.get("doc_type") not in document_types():
        errors["doc_type"] = tr(request, "compose.err.doc_type")
    confidentiality = values.get("confidentiality") or "0"
    if not is_digits(confidentiality, 1) or int(confidentiality) not in set(Confidentiality):
        errors["confidentiality"] = tr(request, "reg.err.confidentiality")
    return values


def _confidentiality(values: dict[str, str]) -> int:
    """The checked confidentiality of a paper entry (0 until _check_common has passed it)."""
    text = values.get("confidentiality") or "0"
    return int(text) if is_digits(text, 1) and int(text) in set(Confidentiality) else 0


def _date(values: dict[str, str], name: str) -> str:
    return parse_dmy(values.get(name, "")) or ""


@requires("send")
async def paper_post(request: web.Request) -> web.StreamResponse:
    """One paper document into its register with the register's next number; an incoming
    one that may already be in the register (the same number and notation, compared as the
    register does) is first shown back with the warning, until the clerk confirms it."""
    ctx = context_of(request)
    rules = ctx.config.register_rules
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
            ("arrived_on", "doc_date", "issuer_name", "number_notation", "subject"),
        )
        entry: Any = IncomingEntry(
            arrived_on=_date(values, "arrived_on"),
            issuer_name=values.get("issuer_name", ""),
            issuer_code=values.get("issuer_code") or None,
            number_notation=values.get("number_notation", ""),
            doc_date=_date(values, "doc_date"),
            doc_type=values.get("doc_type", ""),
            subject=values.get("subject", ""),
            passed_to=values.get("passed_to") or None,
            receipt_signature=actor,
            notes=values.get("notes") or None,
            manual=True,
            register=rules.incoming(_confidentiality(values)),
        )
    else:
        values = _check_common(
            request,
            form,
            errors,
            ("issued_on", "sent_on"),
            ("issued_on", "notation", "subject", "recipients"),
        )
        number = values.get("number", "")
        if number and (not is_digits(number, 9) or number_rule(number) is not None):
            errors["number"] = tr(request, "reg.err.number")
        copies = values.get("copies", "")
        if copies and not is_digits(copies, 7):
            errors["copies"] = tr(request, "compose.err.count")
        issued_on = _date(values, "issued_on")
        number_year = int(issued_on[:4]) if issued_on and values.get("legal") else None
        doc_type = values.get("doc_type", "")
        entry = OutgoingEntry(
            issued_on=issued_on,
            notation=values.get("notation", ""),
            doc_type=doc_type,
            subject=values.get("subject", ""),
            signer=values.get("signer", ""),
            recipients=values.get("recipients", ""),
            archive_holder=values.get("archive_holder") or None,
            copies=int(copies) if is_digits(copies, 7) else None,
            sent_on=_date(values, "sent_on") or None,
            notes=values.get("notes") or None,
            manual=True,
            number=number or None,
            number_year=number_year,
            register=rules.outgoing(doc_type, number_year, _confidentiality(values)),
        )
    if errors:
        context = _paper_context(request, values, errors) | {"kind": kind}
        return render(request, "paper.html", context, status=400)
    if kind == "incoming" and not values.get("confirm_duplicate"):
        warnings = await duplicate_warnings(request, entry)
        if warnings:
            context = _paper_context(request, values, {}, warnings) | {"kind": kind}
            return render(request, "paper.html", context)
    try:
        number = await record_paper(ctx, kind, entry, actor=actor)
    except (LienthongError, StoreError) as exc:
        context = _paper_context(request, values, {"form": str(exc)}) | {"kind": kind}
        return render(request, "paper.html", context, status=409)
    year = (entry.arrived_on if kind == "incoming" else entry.issued_on)[:4]
    raise see_other(
        f"/registers?kind={kind}&year={year}&register={entry.register}&highlight={number}"
    )


def duplicate_line(request: web.Request, e: IncomingEntry) -> str:
    """ "Có thể trùng với văn bản đến số 1 ngày 24/11/2025: 5/VP-TTTH, Văn phòng"."""
    return tr(
        request,
        "reg.dup.line",
        number=e.number,
        date=dmy(e.arrived_on),
        notation=e.number_notation,
        issuer=e.issuer_name,
    )


async def duplicate_warnings(request: web.Request, entry: IncomingEntry) -> list[str]:
    """ "Có thể trùng với văn bản đến số … ngày …": the incoming lines of this year and the
    last with the entry's register key (and issuer, when both name one), and the electronic
    documents with that key that arrived and are not registered yet."""
    ctx = context_of(request)
    year = int(entry.arrived_on[:4])
    async with ctx.store.read() as conn:
        registered = await possible_duplicates(
            conn, entry.number_notation, year=year, issuer_code=entry.issuer_code
        )
        waiting = await arrived_unregistered(
            conn, entry.number_notation, year=year, issuer_code=entry.issuer_code
        )
    warnings = [duplicate_line(request, e) for e in registered]
    warnings += [
        tr(
            request,
            "reg.dup.arrived",
            date=dmy(d.arrived_on),
            notation=d.number_notation,
            issuer=d.issuer_name,
        )
        for d in waiting
    ]
    return warnings


async def record_paper(ctx, kind: str, entry: Any, *, actor: str) -> int | str:
    """Write one hand entry in one transaction; the register numbers it (storage.registers).

    When the electronic copy of an incoming paper entry arrives later,
    node.unit.documents.process_document links it to this entry instead of numbering it again.
    """
    now = ctx.clock()
    async with ctx.store.write() as tx:
        if kind == "incoming":
            return await register_incoming(tx, entry, actor=actor, at=now)
        return await register_outgoing(tx, entry, actor=actor, at=now)
