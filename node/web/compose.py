"""Soạn văn bản đi: the compose form, the streamed upload (capped), the confirmation, and
node.unit.documents.send_document once the clerk confirms.

Uploaded files wait in DATA_DIR/web-drafts/<draft id>/ under their own names until the
clerk confirms or cancels; a refused upload leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from lienthong.crypto.errors import LienthongError
from lienthong.node.unit import documents as service
from lienthong.node.web.auth import same_token
from lienthong.node.web.base import (
    SESSION,
    USER,
    context_of,
    is_digits,
    parse_date,
    render,
    requires,
    see_other,
    settings_of,
    today,
    tr,
)
from lienthong.protocol.codes import Confidentiality, Urgency
from lienthong.protocol.doctypes import document_types
from lienthong.protocol.document import (
    SIGNING_AUTHORITIES,
    DocumentBody,
    DocumentMetadata,
    Organisation,
    Signer,
    body_to_wire,
    metadata_from_wire,
    padded_name,
    parse_number_notation,
)
from lienthong.protocol.errors import ProtocolError
from lienthong.protocol.limits import (
    MAX_ATTACHMENTS,
    MAX_CONTENT,
    MAX_LIST_ITEMS,
    MAX_RECIPIENTS,
    MAX_SHORT_TEXT,
    MAX_SUBJECT,
)

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


def _form_context(request: web.Request, values: dict[str, Any], errors: dict[str, str]):
    ctx = context_of(request)
    return {
        "values": values,
        "errors": errors,
        "units": _units(ctx),
        "types": sorted(document_types().values(), key=lambda t: t.name),
        "authorities": sorted(SIGNING_AUTHORITIES),
        "urgencies": list(Urgency),
        "confidentialities": list(Confidentiality),
        "max_upload_bytes": settings_of(request).max_upload_bytes,
        "max_upload_mb": settings_of(request).max_upload_bytes // (1024 * 1024),
        "allow_confidential": ctx.config.get("security", "allow_confidential"),
    }


@requires("send")
async def compose_get(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    q = request.query
    values: dict[str, Any] = {
        "issued_on": today(ctx),
        "doc_type": "cong_van",
        "urgency": "0",
        "confidentiality": "0",
        "to": [q["to"]] if q.get("to") else [],
        "reply_to": q.get("reply_to", "")[:32],
        "subject": q.get("subject", "")[:MAX_SUBJECT],
    }
    return render(request, "compose.html", _form_context(request, values, {}))


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


class _FormCheck:
    """One pass over the compose form: each section reads its fields, records what is wrong
    (by field, in the clerk's language) and returns what it parsed."""

    def __init__(self, request: web.Request, fields: dict[str, list[str]]) -> None:
        self.request = request
        self.values: dict[str, Any] = {k: _one(fields, k) for k in fields if k != "to"}
        self.values["to"] = [c for c in fields.get("to", []) if c]
        self.errors: dict[str, str] = {}

    def refuse(self, field: str, key: str, **kw: Any) -> None:
        self.errors[field] = tr(self.request, key, **kw)

    def recipients(self, known: set[str]) -> list[str]:
        chosen = self.values["to"]
        recipients = list(dict.fromkeys(sorted(known) if ALL_UNITS in chosen else chosen))
        if not recipients:
            self.refuse("to", "compose.err.to")
        elif unknown := [c for c in recipients if c not in known]:
            self.refuse("to", "compose.err.to_unknown", codes=", ".join(unknown[:5]))
        return recipients

    def number(self) -> tuple[int | None, int | None, str]:
        try:
            return parse_number_notation(self.values.get("number", ""))
        except ProtocolError:
            self.refuse("number", "compose.err.number")
            return None, None, ""

    def doc_type(self) -> str:
        doc_type = self.values.get("doc_type", "")
        if doc_type not in document_types():
            self.refuse("doc_type", "compose.err.doc_type")
        return doc_type

    def dates(self) -> tuple[str | None, str | None]:
        issued_on = parse_date(self.values.get("issued_on", ""))
        if issued_on is None:
            self.refuse("issued_on", "compose.err.date")
        due_on = None
        if self.values.get("due_on"):
            due_on = parse_date(self.values["due_on"])
            if due_on is None:
                self.refuse("due_on", "compose.err.date")
            elif issued_on and due_on < issued_on:
                self.refuse("due_on", "compose.err.due_before")
        return issued_on, due_on

    def subject(self) -> str:
        subject = self.values.get("subject", "")
        if not subject:
            self.refuse("subject", "compose.err.subject")
        elif len(subject) > MAX_SUBJECT:
            self.refuse("subject", "compose.err.too_long", max=MAX_SUBJECT)
        return subject

    def signer(self) -> Signer | None:
        name, position = self.values.get("signer", ""), self.values.get("position", "")
        authority = self.values.get("authority", "")
        if authority not in SIGNING_AUTHORITIES:
            self.refuse("authority", "compose.err.authority")
        if name:
            return Signer(name, position, authority)
        if position or authority:
            self.refuse("signer", "compose.err.signer")
        return None

    def level(self, name: str, enum: type[IntEnum]) -> Any:
        raw = self.values.get(name, "0") or "0"
        if not is_digits(raw) or int(raw) not in {int(v) for v in enum}:
            self.refuse(name, "compose.err.choice")
            return None
        return enum(int(raw))

    def count(self, name: str) -> int | None:
        raw = self.values.get(name, "")
        if raw and not (is_digits(raw) and 0 < int(raw) <= 1_000_000):
            self.refuse(name, "compose.err.count")
            return None
        return int(raw) if raw else None

    def lines(self, name: str) -> tuple[str, ...]:
        items = _lines(self.values.get(name, ""))
        if len(items) > MAX_LIST_ITEMS or any(len(i) > MAX_SHORT_TEXT for i in items):
            self.refuse(name, "compose.err.list", items=MAX_LIST_ITEMS, chars=MAX_SHORT_TEXT)
        return items


def parse_compose(request: web.Request, fields: dict[str, list[str]]):
    """Check the form; returns (metadata or None, recipients, reply_to, values, errors)."""
    ctx = context_of(request)
    form = _FormCheck(request, fields)
    recipients = form.recipients({u["code"] for u in _units(ctx)})
    number, year, notation = form.number()
    doc_type = form.doc_type()
    issued_on, due_on = form.dates()
    subject = form.subject()
    signer = form.signer()
    urgency = form.level("urgency", Urgency)
    confidentiality = form.level("confidentiality", Confidentiality)
    copies, pages = form.count("copies"), form.count("pages")
    addressees, distribution = form.lines("addressees"), form.lines("distribution")
    values, errors = form.values, form.errors
    reply_to = values.get("reply_to") or None
    if errors:
        return None, recipients, reply_to, values, errors
    metadata = DocumentMetadata(
        number=number,
        year=year,
        notation=notation,
        doc_type=doc_type,
        issuer=Organisation(name=ctx.config.name, code=ctx.config.code),
        place=values.get("place", ""),
        issued_on=issued_on or "",
        subject=subject,
        content=values.get("content") or None,
        signer=signer,
        urgency=urgency,
        confidentiality=confidentiality,
        due_on=due_on,
        addressees=addressees,
        distribution=distribution,
        copies=copies,
        pages=pages,
        drafter=values.get("drafter") or None,
    )
    try:  # the protocol's own field checks: what a recipient will check too
        metadata_from_wire(body_to_wire(DocumentBody(metadata))["metadata"])
    except ProtocolError as exc:
        form.refuse(getattr(exc, "field", "form"), "compose.err.protocol", detail=str(exc))
        return None, recipients, reply_to, values, errors
    return metadata, recipients, reply_to, values, errors


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
    metadata, recipients, reply_to, values, errors = parse_compose(request, fields)
    if metadata is None:
        shutil.rmtree(directory, ignore_errors=True)
        if files:
            errors.setdefault("files", tr(request, "compose.files_again"))
        return render(request, "compose.html", _form_context(request, values, errors), status=400)
    settings.drafts[draft_id] = Draft(
        id=draft_id,
        owner=request[USER].username,
        directory=directory,
        metadata=metadata,
        recipients=recipients,
        files=files,
        reply_to=reply_to,
        created_at=ctx.clock(),
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


def _confirm_context(request: web.Request, draft: Draft, error: str | None = None):
    ctx = context_of(request)
    names = {u["code"]: u["name"] for u in _units(ctx)}
    return {
        "draft": draft,
        "m": draft.metadata,
        "recipients": [{"code": c, "name": names.get(c, "")} for c in draft.recipients],
        "files": [{"name": f.name, "size": f.stat().st_size} for f in draft.files],
        "error": error,
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
    try:
        envelope_id = await service.send_document(
            ctx,
            draft.metadata,
            draft.recipients,
            files=draft.files,
            actor=request[USER].username,
            reply_to=draft.reply_to,
        )
    except LienthongError as exc:
        context = _confirm_context(request, draft, error=str(exc))
        return render(request, "confirm.html", context, status=409)
    shutil.rmtree(draft.directory, ignore_errors=True)
    settings.drafts.pop(draft.id, None)
    raise see_other(f"/documents/{envelope_id}?done=sent")
