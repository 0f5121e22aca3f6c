"""Soạn văn bản đi: the compose form (the official document as Nghị định 30/2020 writes it:
number, issuer, place and date, signature block, urgency, business of an update or a
replacement), the streamed upload (capped), the confirmation, and
node.unit.documents.send_document once the clerk confirms.

Uploaded files wait in DATA_DIR/web-drafts/<draft id>/ under their own names until the
clerk confirms or cancels; a refused upload leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import shutil
import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from lienthong.crypto import pdf_sign
from lienthong.crypto.errors import LienthongError
from lienthong.node.config import EMAIL
from lienthong.node.times import dmy, dmy_hm, parse_dmy, parse_dmy_hm
from lienthong.node.unit import copies, external, signing
from lienthong.node.unit import documents as service
from lienthong.node.unit.copies import COPY_TYPES, WHOLE_COPY, send_copy
from lienthong.node.unit.views import recipients_view
from lienthong.node.web.auth import same_token
from lienthong.node.web.base import (
    SESSION,
    USER,
    context_of,
    is_digits,
    not_found,
    render,
    requires,
    see_other,
    settings_of,
    today,
    tr,
)
from lienthong.node.web.official import official_view
from lienthong.protocol import doctypes
from lienthong.protocol.codes import Confidentiality, Urgency
from lienthong.protocol.doctypes import DocumentType, document_types
from lienthong.protocol.document import (
    MAX_APPENDIXES,
    MAX_COUNT,
    MAX_STEERING_TYPE,
    NUMBER,
    SIGNING_AUTHORITIES,
    Business,
    DocumentBody,
    DocumentMetadata,
    Signer,
    StaffInfo,
    body_to_wire,
    metadata_from_wire,
    number_rule,
    padded_name,
    parse_number_notation,
    register_key,
)
from lienthong.protocol.envelope import MAX_TARGETS
from lienthong.protocol.errors import ProtocolError
from lienthong.protocol.ids import ULID_PATTERN
from lienthong.protocol.limits import (
    MAX_ATTACHMENTS,
    MAX_CONTENT,
    MAX_LIST_ITEMS,
    MAX_REASON,
    MAX_RECIPIENTS,
    MAX_SHORT_TEXT,
    MAX_SUBJECT,
)
from lienthong.storage.documents import DocumentRecord, get_document, list_documents
from lienthong.storage.errors import Conflict, disk_full

log = logging.getLogger("lienthong.web")

# All attachments of one document sent from the page, together. A scanned document of a
# few hundred pages is tens of MB; anything larger goes through `lienthong send --file`.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
# One text field of the form: the longest is the content summary (protocol MAX_CONTENT).
MAX_FIELD_BYTES = MAX_CONTENT + 1024
# Parts of one form: the fields, the chosen recipients and the files.
MAX_FORM_PARTS = 64 + MAX_RECIPIENTS + MAX_ATTACHMENTS
# A draft not confirmed within this time is thrown away with its files.
DRAFT_TTL_MS = 2 * 60 * 60 * 1000
DRAFTS_DIR = "web-drafts"
ALL_UNITS = "__all__"
READ_CHUNK = 256 * 1024
MAX_TOKEN_BYTES = 256  # a CSRF token is 43 characters
# An uploaded file keeps its name in the draft directory: file systems take 255 bytes per
# name (ext4, XFS), and 256 Vietnamese characters are up to 768 bytes of UTF-8.
MAX_FILE_NAME_BYTES = 255
# edXML SteeringType codes with their names, for a select. QCVN 102:2016 publishes no table
# of these codes and none was found in public sources (docs/CLERK.md): while this is empty
# the page offers the code as a number from 0 to MAX_STEERING_TYPE, with a help text.
STEERING_TYPES: dict[int, str] = {}
BUSINESSES = ("new", "update", "replace")  # protocol.envelope.BUSINESS_TYPES, in form order
# Outgoing documents looked at for one number typed under "also replaces": those whose
# notation matches, newest first; more than a unit issues under one notation in years.
MAX_NUMBER_SCAN = 5_000
# The handler's e-mail (edXML StaffInfo/Email): something@domain, no spaces.
# The fields of a signature block and of the handler, in the form and on the wire.
SIGNER_FIELDS = {"authority", "acts_for", "position", "signer"}
# The label of each field of the form: the list of errors above the form names each field.
FIELD_LABELS = {
    "to": "compose.recipients",
    "doc_type": "field.doc_type",
    "number": "compose.number",
    "year": "compose.year",
    "notation": "compose.notation",
    "place": "field.place",
    "issued_on": "field.issued_on",
    "subject": "field.subject",
    "urgency": "field.urgency",
    "scheduled_at": "compose.scheduled_at",
    "confidentiality": "field.confidentiality",
    "due_on": "field.due_on",
    "steering_type": "compose.steering_type",
    "sphere": "compose.sphere",
    "addressees": "field.addressees",
    "distribution": "field.distribution",
    "appendixes": "compose.appendixes",
    "pages": "field.pages",
    "copies": "field.copies",
    "drafter": "field.drafter",
    "content": "field.content",
    "authority": "field.authority",
    "acts_for": "compose.acts_for",
    "position": "compose.position",
    "signer": "field.signer_name",
    "staff_name": "compose.staff_name",
    "staff_department": "compose.staff_department",
    "staff_mobile": "compose.staff_mobile",
    "staff_email": "compose.staff_email",
    "reason": "compose.reason",
    "target": "compose.target",
    "more_targets": "compose.more_targets",
    "files": "doc.attachments",
}
# Where a refusal of the protocol's own check (InvalidField.field) is shown on the form.
WIRE_TO_FORM = {
    "signer.acts_for": "acts_for",
    "signer.authority": "authority",
    "signer.position": "position",
    "signer.name": "signer",
    "type": "doc_type",
    "ext": "form",
}


class UploadTooLarge(LienthongError):
    """The files of one compose form are over MAX_UPLOAD_BYTES."""


class FormRefused(LienthongError):
    """The compose form is malformed (not the clerk's typing: a broken or forged request)."""


@dataclass
class Draft:
    id: str
    owner: str
    directory: Path
    metadata: DocumentMetadata
    recipients: list[str]
    files: list[Path]
    reply_to: str | None
    created_at: int
    business: str = "new"
    targets: tuple[str, ...] = ()  # document ids here of what an update/replacement changes
    reason: str | None = None
    paper: bool = False
    staff: StaffInfo | None = None
    copy_of: str | None = None  # the document id here of what a copy (bản sao) copies


def drafts_root(ctx) -> Path:
    return ctx.config.data_dir / DRAFTS_DIR


def clean_drafts(app_drafts: dict[str, Draft], root: Path, now: int, *, everything=False) -> None:
    """Remove expired drafts (or all, at start-up) and any directory left without a draft.

    A directory no draft owns yet may be another clerk's upload in progress (its draft is
    recorded once the whole form is read): it goes only once it is older than a draft's
    lifetime, or with everything at start-up and shutdown.
    """
    for key, draft in list(app_drafts.items()):
        if everything or now - draft.created_at > DRAFT_TTL_MS:
            shutil.rmtree(draft.directory, ignore_errors=True)
            app_drafts.pop(key, None)
    if root.is_dir():
        owned = {d.directory.name for d in app_drafts.values()}
        for path in root.iterdir():
            if path.name in owned:
                continue
            try:
                age = now - path.stat().st_mtime_ns // 1_000_000
            except FileNotFoundError:  # its own request removed it meanwhile
                continue
            if everything or age > DRAFT_TTL_MS:
                shutil.rmtree(path, ignore_errors=True)


def safe_file_name(name: str) -> str | None:
    """The base name of an uploaded file, or None when nothing usable is left."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(c for c in name if c.isprintable()).strip()
    if name in ("", ".", "..") or name.startswith("."):
        name = name.lstrip(".")
    if not name:
        return None
    name = name[:MAX_SHORT_TEXT]
    if len(name.encode()) > MAX_FILE_NAME_BYTES:  # keep the extension, shorten the stem
        stem, dot, extension = name.rpartition(".")
        suffix = dot + extension if stem and len(extension) <= 10 else ""
        stem = name[: len(name) - len(suffix)]
        while len((stem + suffix).encode()) > MAX_FILE_NAME_BYTES:
            stem = stem[:-1]
        name = stem + suffix
    return name


def _units(ctx) -> list[dict[str, str]]:
    directory = ctx.directory.current
    if directory is None:
        return []
    me = ctx.config.code
    return [
        {"code": c.code, "name": c.name}
        for c in directory.units()
        if c.code != me and not directory.is_centre(c.code)
    ]


def _outside(ctx) -> list[dict[str, str]]:
    """Organisations outside the directory its form 2 lists: sent to through their gateway
    (node/unit/external.py, docs/GATEWAY.md)."""
    return [{"code": e.code, "name": e.name} for e in external.organisations(ctx.directory.current)]


def issued_types() -> list[DocumentType]:
    """The types this unit issues itself (the compose page offers no other), by name."""
    return sorted(doctypes.issued_types(), key=lambda t: t.name)


def is_legal(doc_type: str) -> bool:
    """Whether `doc_type` is a kind of văn bản quy phạm pháp luật: its number carries the year."""
    known = document_types().get(doc_type)
    return known is not None and known.legal


def _form_context(request: web.Request, values: dict[str, Any], errors: dict[str, str]):
    ctx = context_of(request)
    issuer = ctx.config.issuer
    return {
        "values": values,
        "errors": errors,
        "error_list": [
            (tr(request, FIELD_LABELS[f]) if f in FIELD_LABELS else "", message)
            for f, message in errors.items()
        ],
        "units": _units(ctx),
        "outside": _outside(ctx),
        "types": issued_types(),
        "legal": {t.code for t in issued_types() if is_legal(t.code)},
        "authorities": sorted(SIGNING_AUTHORITIES),
        "urgencies": list(Urgency),
        "scheduled": int(Urgency.FLASH_SCHEDULED),
        "confidentialities": list(Confidentiality),
        "steering_types": STEERING_TYPES,
        "max_steering_type": MAX_STEERING_TYPE,
        "issuer": issuer,
        "business": values.get("business") or "new",
        "originals": values.get("originals", []),
        "preview": _preview(values),
        "max_upload_bytes": settings_of(request).max_upload_bytes,
        "max_upload_mb": settings_of(request).max_upload_bytes // (1024 * 1024),
        "allow_confidential": ctx.config.get("security", "allow_confidential"),
    }


def _preview(values: dict[str, Any]) -> dict[str, Any]:
    """The number and the signature block as the form stands (the page's script redraws
    them as the clerk types; this is what a page without script shows)."""
    number, notation, year = (values.get(k, "") for k in ("number", "notation", "year"))
    text = "/".join(p for p in (number, year, notation) if p) if notation else number
    authority, acts_for = values.get("authority", ""), values.get("acts_for", "")
    position, name = values.get("position", ""), values.get("signer", "")
    if authority in SIGNING_AUTHORITIES and (position or name or acts_for):
        lines = Signer(name, position, authority, acts_for).block
    else:
        lines = ()
    return {"number": text, "signature": [line for line in lines if line.strip()]}


@requires("send")
async def compose_get(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    q = request.query
    user = request[USER]
    values: dict[str, Any] = {
        "issued_on": dmy(today(ctx)),
        "place": ctx.config.place,
        "doc_type": "cong_van",
        "urgency": "0",
        "confidentiality": "0",
        "to": [q["to"]] if q.get("to") else [],
        "reply_to": q.get("reply_to", "")[:32],
        "subject": q.get("subject", "")[:MAX_SUBJECT],
        "staff_name": user.display_name or user.username,
        "business": "new",
    }
    for business in ("update", "replace"):
        if business in q:
            original = await _original(request, q[business])
            values.update(await _values_of(ctx, original, business))
    if "copy_of" in q:
        values.update(await _copy_values(request, q["copy_of"], q.get("type", "")))
    return render(request, "compose.html", _form_context(request, values, {}))


async def _copy_values(request: web.Request, doc_id: str, doc_type: str) -> dict[str, Any]:
    """The form of a copy (bản sao) of a document here, received or sent: its type among
    the copy forms (sao y when none is chosen), the copy register's next number, and the
    original's subject and issuer; a sao y carries the original's files when sent."""
    ctx = context_of(request)
    if not ULID_PATTERN.matches(doc_id):
        raise not_found(request)
    async with ctx.store.read() as conn:
        doc = await get_document(conn, doc_id)
        if doc is None:
            raise not_found(request)
        m = service.stored_body(doc).metadata
        doc_type = doc_type if doc_type in COPY_TYPES else WHOLE_COPY
        number = await copies.next_number(ctx, conn, doc_type, int(today(ctx)[:4]))
    issuer = m.issuer.name if m.issuer else ""
    return {
        "copy_of": doc.id,
        "copy_original": {"id": doc.id, "number": m.number_notation, "issuer": issuer},
        "doc_type": doc_type,
        "number": number,
        "subject": m.subject,
        "content": tr(
            request,
            "compose.copy_content",
            number=m.number_notation,
            date=dmy(m.issued_on),
            issuer=issuer,
        ),
    }


async def _original(request: web.Request, doc_id: str) -> DocumentRecord:
    """The outgoing document an update or replacement starts from, or the not-found page:
    only this unit's own documents are updated or replaced."""
    ctx = context_of(request)
    if not ULID_PATTERN.matches(doc_id):
        raise not_found(request)
    async with ctx.store.read() as conn:
        doc = await get_document(conn, doc_id)
    if doc is None or doc.direction != "out":
        raise not_found(request)
    return doc


async def _values_of(ctx, doc: DocumentRecord, business: str) -> dict[str, Any]:
    """The form filled from an outgoing document, for its update (same number) or its
    replacement (a new document: its own number, typed by the clerk)."""
    body = service.stored_body(doc)
    m, b = body.metadata, body.business
    async with ctx.store.read() as conn:
        recipients = [r["recipient"] for r in await recipients_view(conn, doc.id)]
    signer = m.signer
    values: dict[str, Any] = {
        "business": business,
        "target": [doc.id],
        "originals": [{"id": doc.id, "number": m.number_notation, "subject": m.subject}],
        "to": recipients,
        "doc_type": m.doc_type,
        "number": (m.number or "") if business == "update" else "",
        "year": str(m.year) if m.year and business == "update" else "",
        "notation": m.notation,
        "place": m.place,
        "subject": m.subject,
        "content": m.content or "",
        "authority": signer.authority if signer else "",
        "acts_for": signer.acts_for if signer else "",
        "position": signer.position if signer else "",
        "signer": signer.name if signer else "",
        "urgency": str(int(m.urgency)),
        "scheduled_at": dmy_hm(m.scheduled_at),
        "confidentiality": str(int(m.confidentiality)),
        "due_on": dmy(m.due_on),
        "addressees": "\n".join(m.addressees),
        "distribution": "\n".join(m.distribution),
        "copies": "" if m.copies is None else str(m.copies),
        "pages": "" if m.pages is None else str(m.pages),
        "drafter": m.drafter or "",
        "steering_type": "" if m.steering_type is None else str(m.steering_type),
        "sphere": m.sphere or "",
        "appendixes": "\n".join(m.appendixes),
        "paper": "1" if b.paper else "",
    }
    if b.staff is not None:
        values.update(
            staff_name=b.staff.name,
            staff_department=b.staff.department,
            staff_mobile=b.staff.mobile,
            staff_email=b.staff.email,
        )
    return values


async def _read_form(request: web.Request, directory: Path, cap: int):
    """Stream the multipart form: text fields into a dict, files into `directory`.

    The CSRF token comes in the X-CSRF-Token header (the page's script) or as the
    first field (the form without script); nothing is written before it is checked.
    """
    session = request[SESSION]
    token = request.headers.get("X-CSRF-Token", "")
    checked = bool(token) and same_token(token, session.csrf)
    fields: dict[str, list[str]] = {}
    files: list[Path] = []
    total = 0
    reader = await request.multipart()
    parts = 0
    while (part := await reader.next()) is not None:
        parts += 1
        if parts > MAX_FORM_PARTS or not isinstance(part, BodyPartReader):
            raise FormRefused(f"the form has more than {MAX_FORM_PARTS} parts")
        if not checked:
            value = (await _read_small(part, MAX_TOKEN_BYTES)).decode("utf-8", "replace")
            if part.name != "csrf" or not value or not same_token(value, session.csrf):
                raise web.HTTPForbidden(text=tr(request, "error.csrf"))
            checked = True
            continue
        if part.filename is None:
            data = await _read_small(part, MAX_FIELD_BYTES)
            fields.setdefault(part.name or "", []).append(data.decode("utf-8", "replace"))
            continue
        name = safe_file_name(part.filename)
        if name is None:
            await part.release()
            continue
        if padded_name(name) is not None:  # sealing would refuse it: say so now, in Vietnamese
            raise FormRefused(tr(request, "compose.padded_file_name", name=name[:80]))
        if len(files) >= MAX_ATTACHMENTS:
            raise FormRefused(f"at most {MAX_ATTACHMENTS} files per document")
        path = directory / name
        if path in files:
            raise FormRefused(tr(request, "compose.duplicate_file", name=name))
        size = 0
        with path.open("wb") as sink:
            while chunk := await part.read_chunk(READ_CHUNK):
                size += len(chunk)
                total += len(chunk)
                if total > cap:
                    raise UploadTooLarge(str(cap))
                await asyncio.to_thread(sink.write, chunk)
        if size == 0:
            path.unlink()
            continue
        files.append(path)
    if not checked:
        raise web.HTTPForbidden(text=tr(request, "error.csrf"))
    return fields, files


async def _read_small(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(READ_CHUNK):
        data += chunk
        if len(data) > limit:
            raise FormRefused(f"field {part.name!r} is over {limit} bytes")
    return bytes(data)


def _one(fields: dict[str, list[str]], name: str) -> str:
    return (fields.get(name) or [""])[0].strip()


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _hidden_or_space(text: str) -> bool:
    return any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


class _FormCheck:
    """One pass over the compose form: each section reads its fields, records what is wrong
    (by field, in the clerk's language, naming the field) and returns what it parsed."""

    def __init__(self, request: web.Request, fields: dict[str, list[str]]) -> None:
        self.request = request
        lists = ("to", "target")
        self.values: dict[str, Any] = {k: _one(fields, k) for k in fields if k not in lists}
        self.values["to"] = [c for c in fields.get("to", []) if c]
        self.values["target"] = [t.strip() for t in fields.get("target", []) if t.strip()]
        self.errors: dict[str, str] = {}

    def refuse(self, field: str, key: str, **kw: Any) -> None:
        self.errors.setdefault(field, tr(self.request, key, **kw))

    def text(self, name: str, limit: int = MAX_SHORT_TEXT) -> str:
        value = self.values.get(name, "")
        if len(value) > limit:
            self.refuse(name, "compose.err.too_long", max=limit)
        return value

    def recipients(self, known: set[str], outside: frozenset[str] = frozenset()) -> list[str]:
        """The units chosen (every unit of the directory for "all") and the organisations
        outside it chosen one by one."""
        chosen = self.values["to"]
        if ALL_UNITS in chosen:
            chosen = sorted(known) + [c for c in chosen if c in outside]
        recipients = list(dict.fromkeys(chosen))
        if not recipients:
            self.refuse("to", "compose.err.to")
        elif unknown := [c for c in recipients if c not in known and c not in outside]:
            self.refuse("to", "compose.err.to_unknown", codes=", ".join(unknown[:5]))
        return recipients

    def doc_type(self) -> str:
        doc_type = self.values.get("doc_type", "")
        if doc_type not in {t.code for t in issued_types()}:
            self.refuse("doc_type", "compose.err.doc_type")
        return doc_type

    def number(self, legal: bool) -> tuple[str | None, int | None, str]:
        """Số, năm and ký hiệu. The number is kept as typed ("05"); the whole "Số, ký hiệu"
        typed into the number box ("05/VP-TTTH") is taken too, when no notation is given."""
        raw, notation = self.values.get("number", ""), self.values.get("notation", "")
        year_text = self.values.get("year", "")
        year: int | None = None
        if "/" in raw and not notation:
            try:
                raw, year, notation = parse_number_notation(raw)
            except ProtocolError:
                self.refuse("number", "compose.err.number_form")
                return None, None, ""
        if not raw:
            self.refuse("number", "compose.err.number_missing")
        elif not NUMBER.matches(raw) or int(raw) == 0:
            self.refuse("number", "compose.err.number_digits")
        elif number_rule(raw) and int(raw) < 10:
            self.refuse("number", "compose.err.number_two_digits", number=f"{int(raw):02d}")
        elif number_rule(raw):
            self.refuse("number", "compose.err.number_zero", number=str(int(raw)), typed=raw)
        if not notation:
            self.refuse("notation", "compose.err.notation")
        elif len(notation) > 64 or _hidden_or_space(notation) or "/" in notation:
            self.refuse("notation", "compose.err.notation_form")
        if year_text:
            if not (is_digits(year_text, 4) and 1900 <= int(year_text) <= 9999):
                self.refuse("year", "compose.err.year_form")
            elif year is not None and year != int(year_text):
                self.refuse("year", "compose.err.year_differs", typed=year_text, number=year)
            else:
                year = int(year_text)
        if legal and year is None and "year" not in self.errors:
            self.refuse("year", "compose.err.year_legal")
        return raw or None, year, notation

    def dates(self) -> tuple[str | None, str | None]:
        issued_on = parse_dmy(self.values.get("issued_on", ""))
        if issued_on is None:
            self.refuse("issued_on", "compose.err.issued_on")
        due_on = None
        if self.values.get("due_on"):
            due_on = parse_dmy(self.values["due_on"])
            if due_on is None:
                self.refuse("due_on", "compose.err.due_on")
            elif issued_on and due_on < issued_on:
                self.refuse("due_on", "compose.err.due_before")
        return issued_on, due_on

    def place(self) -> str:
        place = self.text("place")
        if not place:
            self.refuse("place", "compose.err.place")
        return place

    def subject(self) -> str:
        subject = self.values.get("subject", "")
        if not subject:
            self.refuse("subject", "compose.err.subject")
        elif len(subject) > MAX_SUBJECT:
            self.refuse("subject", "compose.err.too_long", max=MAX_SUBJECT)
        return subject

    def signer(self, in_charge: str | None) -> Signer | None:
        """The signature block: authority, whom it acts for (TM.: the body in charge by
        default), the signer's position and full name; all required but the authority."""
        authority = self.values.get("authority", "")
        acts_for, position, name = (self.text(k) for k in ("acts_for", "position", "signer"))
        if authority not in SIGNING_AUTHORITIES:
            self.refuse("authority", "compose.err.authority")
            authority = ""
        if authority == "TM." and not acts_for and in_charge:
            acts_for = self.values["acts_for"] = in_charge
        if authority and not acts_for:
            self.refuse("acts_for", "compose.err.acts_for", authority=authority)
        elif acts_for and not authority:
            self.refuse("acts_for", "compose.err.acts_for_alone")
        if not position:
            self.refuse("position", "compose.err.position")
        if not name:
            self.refuse("signer", "compose.err.signer_name")
        if not (name and position):
            return None
        return Signer(name, position, authority, acts_for)

    def level(self, name: str, enum: type[IntEnum]) -> Any:
        raw = self.values.get(name, "0") or "0"
        if not is_digits(raw) or int(raw) not in {int(v) for v in enum}:
            self.refuse(name, "compose.err.choice")
            return None
        return enum(int(raw))

    def scheduled(self, urgency: Urgency | None) -> str | None:
        """Hỏa tốc hẹn giờ names the time it must arrive by; other urgencies none (a time
        typed before the clerk chose another urgency is dropped)."""
        if urgency is not Urgency.FLASH_SCHEDULED:
            return None
        at = parse_dmy_hm(self.values.get("scheduled_at", ""))
        if at is None:
            self.refuse("scheduled_at", "compose.err.scheduled_at")
        return at

    def count(self, name: str) -> int | None:
        raw = self.values.get(name, "")
        if raw and not (is_digits(raw) and 0 < int(raw) <= MAX_COUNT):
            self.refuse(name, "compose.err.count")
            return None
        return int(raw) if raw else None

    def steering_type(self) -> int | None:
        raw = self.values.get("steering_type", "")
        if raw and not (is_digits(raw) and int(raw) <= MAX_STEERING_TYPE):
            self.refuse("steering_type", "compose.err.steering_type", max=MAX_STEERING_TYPE)
            return None
        return int(raw) if raw else None

    def lines(self, name: str, max_items: int = MAX_LIST_ITEMS) -> tuple[str, ...]:
        items = _lines(self.values.get(name, ""))
        if len(items) > max_items or any(len(i) > MAX_SHORT_TEXT for i in items):
            self.refuse(name, "compose.err.list", items=max_items, chars=MAX_SHORT_TEXT)
        return items

    def staff(self) -> StaffInfo | None:
        """Who handled the document (edXML StaffInfo): a name, with department, phone and
        e-mail if given; none at all when the four are empty."""
        name, department, mobile, email = (
            self.text(f"staff_{k}") for k in ("name", "department", "mobile", "email")
        )
        if email and not EMAIL.matches(email):
            self.refuse("staff_email", "compose.err.staff_email")
        if not name and (department or mobile or email):
            self.refuse("staff_name", "compose.err.staff_name")
        return StaffInfo(name, department, mobile, email) if name else None

    def business(self) -> tuple[str, str | None]:
        business = self.values.get("business") or "new"
        if business not in BUSINESSES:
            self.refuse("form", "compose.err.business")
            return "new", None
        reason = self.values.get("reason", "")
        if business == "new":
            return business, None
        if not reason:
            self.refuse("reason", "compose.err.reason")
        elif len(reason) > MAX_REASON:
            self.refuse("reason", "compose.err.too_long", max=MAX_REASON)
        return business, reason or None

    async def targets(self, ctx, business: str) -> tuple[str, ...]:
        """What an update (one document) or a replacement (one or more) changes: the
        document it was opened from, and for a replacement the numbers typed under "also
        replaces"; each is one of this unit's outgoing documents."""
        ids = list(dict.fromkeys(self.values["target"]))
        if business == "new":
            return ()
        async with ctx.store.read() as conn:
            for doc_id in ids:
                doc = await get_document(conn, doc_id) if ULID_PATTERN.matches(doc_id) else None
                if doc is None or doc.direction != "out":
                    self.refuse("target", "compose.err.target_missing")
                    return ()
            extra = self.lines("more_targets", MAX_TARGETS) if business == "replace" else ()
            for line in extra:
                found = await _outgoing_by_number(conn, line)
                if found is None:
                    self.refuse("more_targets", "compose.err.target_unknown", number=line[:80])
                elif found.id not in ids:
                    ids.append(found.id)
        if not ids:
            self.refuse("target", "compose.err.target_missing")
        elif business == "update" and len(ids) != 1:
            self.refuse("target", "compose.err.target_one")
        elif len(ids) > MAX_TARGETS:
            self.refuse("more_targets", "compose.err.list", items=MAX_TARGETS, chars=80)
        return tuple(ids)


async def _outgoing_by_number(conn, text: str) -> DocumentRecord | None:
    """This unit's outgoing document numbered `text` ("12/VP-TTTH", "49/2025/QĐ-UBND"),
    compared as a register does ("12" = "012", the notation's letter case aside), or None."""
    try:
        number, year, notation = parse_number_notation(text)
    except ProtocolError:
        return None
    wanted = register_key(number, year, notation)
    before = None
    seen = 0
    while seen < MAX_NUMBER_SCAN:
        page = await list_documents(
            conn, direction="out", search=notation, limit=500, before=before
        )
        for doc in page:
            number_here = None if doc.number is None else str(doc.number)
            if register_key(number_here, doc.number_year, doc.notation) == wanted:
                return doc
        if len(page) < 500:
            return None
        seen += len(page)
        before = (page[-1].created_at, page[-1].id)
    return None


@dataclass
class Composed:
    """A compose form that passed every check: what a draft holds."""

    metadata: DocumentMetadata
    recipients: list[str]
    reply_to: str | None
    business: str
    targets: tuple[str, ...]
    reason: str | None
    paper: bool
    staff: StaffInfo | None
    copy_of: str | None = None


async def parse_compose(
    request: web.Request, fields: dict[str, list[str]]
) -> tuple[Composed | None, dict[str, Any], dict[str, str]]:
    """Check the form; returns (what to send or None, the values, errors by field)."""
    ctx = context_of(request)
    form = _FormCheck(request, fields)
    issuer = ctx.config.issuer
    recipients = form.recipients(
        {u["code"] for u in _units(ctx)}, frozenset(o["code"] for o in _outside(ctx))
    )
    doc_type = form.doc_type()
    copy_of = form.values.get("copy_of") or None
    if copy_of is not None and not ULID_PATTERN.matches(copy_of):
        form.refuse("form", "compose.err.copy_of")
    elif copy_of is not None and doc_type not in COPY_TYPES:
        form.refuse("doc_type", "compose.err.copy_type")
    number, year, notation = form.number(is_legal(doc_type))
    place = form.place()
    issued_on, due_on = form.dates()
    subject = form.subject()
    signer = form.signer(issuer.in_charge)
    urgency = form.level("urgency", Urgency)
    scheduled_at = form.scheduled(urgency)
    confidentiality = form.level("confidentiality", Confidentiality)
    copies, pages = form.count("copies"), form.count("pages")
    steering_type = form.steering_type()
    addressees, distribution = form.lines("addressees"), form.lines("distribution")
    appendixes = form.lines("appendixes", MAX_APPENDIXES)
    sphere, drafter = form.text("sphere"), form.text("drafter")
    staff = form.staff()
    business, reason = form.business()
    targets = await form.targets(ctx, business)
    values, errors = form.values, form.errors
    values["originals"] = await _originals(ctx, values["target"])
    if len(values.get("content", "")) > MAX_CONTENT:
        form.refuse("content", "compose.err.too_long", max=MAX_CONTENT)
    if errors:
        return None, values, errors
    metadata = DocumentMetadata(
        number=number,
        year=year,
        notation=notation,
        doc_type=doc_type,
        issuer=issuer,
        place=place,
        issued_on=issued_on or "",
        subject=subject,
        content=values.get("content") or None,
        signer=signer,
        urgency=urgency,
        scheduled_at=scheduled_at,
        confidentiality=confidentiality,
        due_on=due_on,
        addressees=addressees,
        distribution=distribution,
        copies=copies,
        pages=pages,
        drafter=drafter or None,
        steering_type=steering_type,
        sphere=sphere or None,
        appendixes=appendixes,
    )
    try:  # the protocol's own field checks: what a recipient will check too
        metadata_from_wire(body_to_wire(DocumentBody(metadata))["metadata"])
    except ProtocolError as exc:
        wire_field = getattr(exc, "field", "form")
        target = WIRE_TO_FORM.get(wire_field, wire_field if wire_field in values else "form")
        form.refuse(target, "compose.err.protocol", detail=str(exc))
        return None, values, errors
    composed = Composed(
        metadata=metadata,
        recipients=recipients,
        reply_to=values.get("reply_to") or None,
        business=business,
        targets=targets,
        reason=reason,
        paper=values.get("paper") == "1",
        staff=staff,
        copy_of=copy_of,
    )
    return composed, values, errors


async def _originals(ctx, ids: list[str]) -> list[dict[str, str]]:
    """The documents an update or replacement was opened from, as the form names them."""
    shown = []
    async with ctx.store.read() as conn:
        for doc_id in ids[:MAX_TARGETS]:
            doc = await get_document(conn, doc_id) if ULID_PATTERN.matches(doc_id) else None
            if doc is not None and doc.direction == "out":
                m = service.stored_body(doc).metadata
                shown.append({"id": doc.id, "number": m.number_notation, "subject": m.subject})
    return shown


@requires("send")
async def compose_post(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    settings = settings_of(request)
    root = drafts_root(ctx)
    clean_drafts(settings.drafts, root, ctx.clock())
    cap = settings.max_upload_bytes
    declared = request.content_length
    if declared is not None and declared > cap + MAX_FORM_PARTS * MAX_SHORT_TEXT + 2 * MAX_CONTENT:
        return _too_large(request, cap)
    if request.content_type != "multipart/form-data":
        raise web.HTTPForbidden(text=tr(request, "error.csrf"))
    draft_id = secrets.token_urlsafe(16)
    directory = root / draft_id
    directory.mkdir(parents=True, exist_ok=False)
    try:
        fields, files = await _read_form(request, directory, cap)
    except UploadTooLarge:
        shutil.rmtree(directory, ignore_errors=True)
        return _too_large(request, cap)
    except (FormRefused, ValueError, HttpProcessingError) as exc:
        # ValueError, HttpProcessingError: aiohttp's multipart reader on a broken body (no
        # boundary, a part's headers unreadable); they were answered with 500.
        shutil.rmtree(directory, ignore_errors=True)
        message = str(exc) if isinstance(exc, FormRefused) else f"the form cannot be read: {exc}"
        context = _form_context(request, {"to": []}, {"form": message})
        return render(request, "compose.html", context, status=400)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    composed, values, errors = await parse_compose(request, fields)
    if composed is None:
        shutil.rmtree(directory, ignore_errors=True)
        if files:
            errors.setdefault("files", tr(request, "compose.files_again"))
        return render(request, "compose.html", _form_context(request, values, errors), status=400)
    settings.drafts[draft_id] = Draft(
        id=draft_id,
        owner=request[USER].username,
        directory=directory,
        metadata=composed.metadata,
        recipients=composed.recipients,
        files=files,
        reply_to=composed.reply_to,
        created_at=ctx.clock(),
        business=composed.business,
        targets=composed.targets,
        reason=composed.reason,
        paper=composed.paper,
        staff=composed.staff,
        copy_of=composed.copy_of,
    )
    raise see_other(f"/compose/confirm/{draft_id}")


def _too_large(request: web.Request, cap: int) -> web.Response:
    message = tr(request, "compose.too_large", mb=cap // (1024 * 1024), bytes=cap)
    context = _form_context(request, {"to": []}, {"files": message})
    response = render(request, "compose.html", context, status=413)
    response.force_close()  # the rest of the body is not read
    return response


def _draft(request: web.Request) -> Draft:
    draft = settings_of(request).drafts.get(request.match_info["draft"])
    if draft is None or draft.owner != request[USER].username:
        raise web.HTTPNotFound(text=tr(request, "compose.no_draft"))
    return draft


def _not_sent(request: web.Request, draft: Draft, exc: LienthongError) -> tuple[str, str]:
    """Why a confirmed draft was not sent, in the clerk's words, and the English detail for
    the technician (also logged)."""
    full = disk_full(exc, context_of(request).config.data_dir)
    if full is not None:
        return tr(request, "error.disk_full", path=full.path or ""), ""
    if isinstance(exc, Conflict):  # the register holds this number already this year
        number = draft.metadata.number_notation
        return tr(request, "compose.err.number_taken", number=number), str(exc)
    if isinstance(exc, service.ConfidentialRefused):
        return tr(request, "compose.err.secret"), str(exc)
    log.warning("compose %s not sent: %s", draft.id, exc)
    return tr(request, "compose.err.not_sent"), str(exc)


# Signing at issue ("Ký số và phát hành"): the signed copies of a draft's PDFs wait in this
# folder of the draft's directory (an uploaded name never begins with a dot) until sent.
SIGNED_DIR = ".signed"
# What the clerk reads when signing fails, by error (the English detail goes to the log).
SIGN_ERRORS: dict[type[LienthongError], str] = {
    signing.SigningNotConfigured: "sign.err.not_configured",
    pdf_sign.TokenAbsent: "sign.err.absent",
    pdf_sign.WrongPin: "sign.err.wrong_pin",
    pdf_sign.PinLocked: "sign.err.locked",
    pdf_sign.SigningKeyNotFound: "sign.err.no_key",
    pdf_sign.SigningCertificateExpired: "sign.err.expired",
    pdf_sign.PdfUnreadable: "sign.err.pdf",
    pdf_sign.TimestampUnavailable: "sign.err.timestamp",
    pdf_sign.SigningError: "sign.err.other",
}


def _signing_view(request: web.Request, draft: Draft) -> dict[str, Any] | None:
    """The signing part of the confirmation: shown when [signing] names a key and the draft
    has a PDF."""
    key = context_of(request).config.signing_key
    pdfs = [f.name for f in draft.files if signing.is_pdf(f)]
    if key is None or not pdfs:
        return None
    if isinstance(key, pdf_sign.Pkcs12Key):
        device = tr(request, "sign.device.file", name=key.path.name)
    else:
        device = tr(request, "sign.device.token", label=key.token_label)
    return {"key": device, "files": ", ".join(pdfs), "max_pin": pdf_sign.MAX_PIN_CHARS}


async def _signed_files(request: web.Request, draft: Draft, pin: str) -> list[Path]:
    """The draft's files with every PDF signed by the organisation (a fresh copy each time)."""
    ctx = context_of(request)
    out = draft.directory / SIGNED_DIR
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    files = await signing.sign_files(ctx.config, draft.files, pin, out)
    signed = sum(1 for f in files if f.parent == out)
    log.info("compose %s: %d PDF(s) signed by %s", draft.id, signed, request[USER].username)
    return files


def _not_signed(request: web.Request, draft: Draft, exc: LienthongError) -> str:
    log.warning("compose %s not signed: %s", draft.id, exc)
    for kind, key in SIGN_ERRORS.items():
        if isinstance(exc, kind):
            return tr(request, key)
    return tr(request, "sign.err.other")


def _confirm_context(request: web.Request, draft: Draft, error: str | None = None):
    ctx = context_of(request)
    names = {u["code"]: u["name"] for u in _units(ctx) + _outside(ctx)}
    business = Business(reason=draft.reason, paper=draft.paper, staff=draft.staff)
    return {
        "draft": draft,
        "m": draft.metadata,
        "o": official_view(draft.metadata, business),
        "recipients": [{"code": c, "name": names.get(c, "")} for c in draft.recipients],
        "files": [{"name": f.name, "size": f.stat().st_size} for f in draft.files],
        "error": error,
        "detail": "",
        "signing": _signing_view(request, draft),
    }


@requires("send")
async def confirm_get(request: web.Request) -> web.StreamResponse:
    draft = _draft(request)
    return render(request, "confirm.html", _confirm_context(request, draft))


@requires("send")
async def confirm_post(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    draft = _draft(request)
    form = await request.post()
    settings = settings_of(request)
    if form.get("cancel"):
        shutil.rmtree(draft.directory, ignore_errors=True)
        settings.drafts.pop(draft.id, None)
        raise see_other("/compose")
    files = draft.files
    try:
        if form.get("sign"):  # "Ký số và phát hành": the PIN is used here once, never kept
            files = await _signed_files(request, draft, str(form.get("pin", "")))
        # A copy goes through node/unit/copies.py: its link, and a sao y's original files.
        send = functools.partial(service.send_document, ctx)
        if draft.copy_of is not None:
            send = functools.partial(send_copy, ctx, draft.copy_of)
        envelope_id = await send(
            draft.metadata,
            draft.recipients,
            files=files,
            actor=request[USER].username,
            business=draft.business,
            reply_to=draft.reply_to,
            targets=draft.targets,
            reason=draft.reason,
            paper=draft.paper,
            staff=draft.staff,
        )
    except (pdf_sign.SigningError, signing.SigningNotConfigured) as exc:
        shutil.rmtree(draft.directory / SIGNED_DIR, ignore_errors=True)
        context = _confirm_context(request, draft, error=_not_signed(request, draft, exc))
        return render(request, "confirm.html", context | {"detail": str(exc)}, status=409)
    except LienthongError as exc:
        shutil.rmtree(draft.directory / SIGNED_DIR, ignore_errors=True)
        error, detail = _not_sent(request, draft, exc)
        context = _confirm_context(request, draft, error=error) | {"detail": detail}
        return render(request, "confirm.html", context, status=409)
    shutil.rmtree(draft.directory, ignore_errors=True)
    settings.drafts.pop(draft.id, None)
    raise see_other(f"/documents/{envelope_id}?done=sent")
