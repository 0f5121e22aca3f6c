"""Resumable uploads of the integration API: a DMS creates an upload, sends its file in pieces
at offsets, asks how far it got after a broken connection, and names the upload when it sends
the document; abandoned uploads expire and are swept (docs/INTEGRATION.md)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from aiohttp import web

from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.periodic import run_every
from lienthong.node.times import iso_time
from lienthong.node.unit.api.access import BODY, allow, json_object
from lienthong.node.unit.api.problems import ApiProblem, invalid, not_found
from lienthong.node.unit.api.reads import json_response
from lienthong.node.unit.attachments import MAX_FILE_NAME_BYTES  # it becomes a file's name
from lienthong.protocol.ids import ULID_PATTERN, new_ulid
from lienthong.protocol.limits import MAX_ATTACHMENTS
from lienthong.protocol.text import is_decimal, pattern
from lienthong.storage import audit
from lienthong.storage.api_keys import SEND

log = logging.getLogger("lienthong.api.uploads")

# Under the data directory (the same disk as the blobs): one folder per upload, holding
# info.json and file/<name>; the file's size is the offset reached, so a piece cut off by a
# broken connection keeps what arrived, and nothing else has to agree with the disk.
RESUMABLE_FOLDER = "api-resumable"
OFFSET_HEADER = "Upload-Offset"
LENGTH_HEADER = "Upload-Length"
# As tus (tus.io, protocol 1.0.0) names a piece's body.
PIECE_TYPE = "application/offset+octet-stream"
UPLOAD_ID = ULID_PATTERN  # an upload id is a ULID, like a document's
SHA256_HEX = pattern("SHA-256 in hex", "[0-9a-f]{64}", "0" * 64)
# One file of a document: a scanned dossier or a meeting's recording is well under it; the
# protocol allows more (MAX_ATTACHMENT_SIZE), but a unit node's disk is small.
MAX_UPLOAD_LENGTH = 4 * 1024**3
# What one API key may hold in unfinished or unsent uploads: a DMS sends a few documents
# at a time; past these it sends or deletes what it has, or waits for them to expire.
MAX_OPEN_UPLOADS_PER_KEY = 64
MAX_OPEN_UPLOAD_BYTES_PER_KEY = 16 * 1024**3
# An upload not written to, asked about or sent within this long is abandoned: a day covers
# a night's outage of either side, as the Idempotency-Key's answers do.
UPLOAD_EXPIRY_SECONDS = 24 * 3600
# The sweep runs this often: an abandoned upload goes within UPLOAD_EXPIRY_SECONDS plus this.
UPLOAD_SWEEP_SECONDS = 15 * 60
# Read from the socket and written to disk at a time.
PIECE_CHUNK = 256 * 1024
# Uploads being written or sent now: a second piece, a send or the sweep waits its turn.
BUSY = web.AppKey("api_uploads_busy", set)


@dataclass
class Upload:
    """What info.json keeps of one upload; `offset` is read from the file itself."""

    id: str
    key: str  # the API key's name: only that key sees the upload
    name: str
    length: int
    sha256: str | None  # as declared at creation; checked when the last byte arrives
    created_at: int
    touched_at: int
    complete: bool = False

    def folder(self, ctx: NodeContext) -> Path:
        return _root(ctx) / self.id

    def file(self, ctx: NodeContext) -> Path:
        return self.folder(ctx) / "file" / self.name

    def offset(self, ctx: NodeContext) -> int:
        try:
            return self.file(ctx).stat().st_size
        except FileNotFoundError:
            return 0

    def answer(self, ctx: NodeContext) -> dict:
        return {
            "id": self.id,
            "href": f"/api/v1/uploads/{self.id}",
            "name": self.name,
            "length": self.length,
            "offset": self.offset(ctx),
            "complete": self.complete,
            "sha256": self.sha256,
            "expires_at": iso_time(self.touched_at + UPLOAD_EXPIRY_SECONDS * 1000),
        }


def file_name(field: str, name: str | None) -> str:
    """A file's name as it will travel: a plain name, no folder, no control character."""
    if not name or not name.strip():
        raise invalid(field, "names its file")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME_BYTES:
        raise invalid(field, f"a file name has at most {MAX_FILE_NAME_BYTES} bytes")
    if "/" in name or "\\" in name or name in (".", "..") or not name.isprintable():
        raise invalid(field, f"{name!r} is not a plain file name")
    return name


def _root(ctx: NodeContext) -> Path:
    return ctx.config.data_dir / RESUMABLE_FOLDER


def _read_info(folder: Path) -> Upload | None:
    try:
        return Upload(**json.loads((folder / "info.json").read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        return None  # half made (a crash at creation): the sweep takes the folder


def _write_info(ctx: NodeContext, upload: Upload) -> None:
    """Replace info.json whole (written beside, then renamed)."""
    folder = upload.folder(ctx)
    tmp = folder / "info.json.tmp"
    tmp.write_text(json.dumps(asdict(upload)), "utf-8")
    os.replace(tmp, folder / "info.json")


def _all(ctx: NodeContext) -> list[tuple[Path, Upload | None]]:
    root = _root(ctx)
    if not root.is_dir():
        return []
    return [(folder, _read_info(folder)) for folder in root.iterdir() if folder.is_dir()]


async def _find(request: web.Request, upload_id: str) -> Upload:
    """The caller's upload `upload_id`; 404 if there is none (or it is another key's)."""
    ctx: NodeContext = request.app[CONTEXT]
    key = allow(request, SEND).name
    if not UPLOAD_ID.matches(upload_id):
        raise not_found(f"no upload {upload_id!r} here")
    upload = await asyncio.to_thread(_read_info, _root(ctx) / upload_id)
    if upload is None or upload.key != key:
        raise not_found(f"no upload {upload_id} for this API key (sent, deleted or expired?)")
    return upload


@contextlib.asynccontextmanager
async def _holding(request: web.Request, ids: Sequence[str]) -> AsyncIterator[None]:
    """These uploads are being written or sent by this request: 409 if another holds one."""
    busy: set = request.app[BUSY]
    taken = [i for i in ids if i in busy]
    if taken:
        raise ApiProblem(
            409,
            "conflict",
            f"upload {taken[0]} is being written or sent by another request: retry later",
            [("upload", "in use")],
            {"Retry-After": "1"},
        )
    busy.update(ids)
    try:
        yield
    finally:
        busy.difference_update(ids)


# -- the routes -----------------------------------------------------------------------------


async def create(request: web.Request) -> web.Response:
    """POST /uploads: a new upload of one file (its name, its length, optionally its
    SHA-256); 201 with its id. Refused past the key's open uploads or bytes."""
    ctx: NodeContext = request.app[CONTEXT]
    key = allow(request, SEND).name
    value = json_object(
        request[BODY], {"name": str, "length": int, "sha256": str}, ("name", "length")
    )
    name = file_name("name", value["name"])
    length = value["length"]
    if length is None or not 0 <= length <= MAX_UPLOAD_LENGTH:
        raise ApiProblem(
            413 if length and length > 0 else 400,
            "too-large" if length and length > 0 else "invalid-request",
            f"length: the file's bytes, 0 to MAX_UPLOAD_LENGTH = {MAX_UPLOAD_LENGTH}",
            [("length", f"0 to {MAX_UPLOAD_LENGTH}")],
        )
    sha256 = value.get("sha256")
    if sha256 is not None and not SHA256_HEX.matches(sha256):
        raise invalid("sha256", "the file's SHA-256: 64 lowercase hexadecimal digits")
    held = [u for _, u in await asyncio.to_thread(_all, ctx) if u is not None and u.key == key]
    if len(held) >= MAX_OPEN_UPLOADS_PER_KEY:
        raise ApiProblem(
            409,
            "conflict",
            f"the API key {key!r} has {len(held)} uploads not yet sent: the limit is "
            f"MAX_OPEN_UPLOADS_PER_KEY = {MAX_OPEN_UPLOADS_PER_KEY}; send or delete them, or "
            f"wait until they expire ({UPLOAD_EXPIRY_SECONDS} s after the last request)",
        )
    if sum(u.length for u in held) + length > MAX_OPEN_UPLOAD_BYTES_PER_KEY:
        raise ApiProblem(
            413,
            "too-large",
            f"the API key {key!r} holds {sum(u.length for u in held)} bytes in uploads not "
            f"yet sent; {length} more is over MAX_OPEN_UPLOAD_BYTES_PER_KEY = "
            f"{MAX_OPEN_UPLOAD_BYTES_PER_KEY}: send or delete them first",
            [("length", "over what the key may hold")],
        )
    now = ctx.clock()
    upload = Upload(new_ulid(now), key, name, length, sha256, now, now)

    def make() -> None:
        upload.file(ctx).parent.mkdir(parents=True)
        upload.file(ctx).touch()
        _write_info(ctx, upload)

    await asyncio.to_thread(make)
    if length == 0:
        await _finish(request, upload)
    response = json_response(upload.answer(ctx), status=201)
    response.headers["Location"] = f"/api/v1/uploads/{upload.id}"
    return response


def _offset_header(request: web.Request) -> int:
    text = request.headers.get(OFFSET_HEADER)
    if text is None:
        raise invalid(OFFSET_HEADER, "required: the offset this piece starts at")
    if not is_decimal(text, len(str(MAX_UPLOAD_LENGTH))):
        raise invalid(OFFSET_HEADER, "a whole number of bytes")
    return int(text)


async def append(request: web.Request) -> web.Response:
    """PATCH /uploads/{id}: a piece at Upload-Offset (which must be the offset reached); what
    arrives is kept even if the connection breaks. 200 with the new offset."""
    ctx: NodeContext = request.app[CONTEXT]
    upload = await _find(request, request.match_info["id"])
    if request.content_type != PIECE_TYPE:
        raise ApiProblem(
            415,
            "unsupported-media-type",
            f"a piece is sent as {PIECE_TYPE}, not {request.content_type!r}",
            [("Content-Type", f"must be {PIECE_TYPE}")],
        )
    start = _offset_header(request)
    async with _holding(request, [upload.id]):
        reached = await asyncio.to_thread(upload.offset, ctx)
        if upload.complete or start != reached:
            raise ApiProblem(
                409,
                "conflict",
                f"{OFFSET_HEADER}: the upload has {reached} of {upload.length} bytes; a piece "
                f"starts there, not at {start}",
                [(OFFSET_HEADER, f"must be {reached}")],
                {OFFSET_HEADER: str(reached)},
            )
        await _write_piece(request, upload, start)
        if await asyncio.to_thread(upload.offset, ctx) == upload.length:
            await _finish(request, upload)
    return _status(ctx, upload)


async def _write_piece(request: web.Request, upload: Upload, start: int) -> None:
    """Append the body to the file; past the declared length, 413 and the piece is undone."""
    ctx: NodeContext = request.app[CONTEXT]
    room = upload.length - start
    written = 0
    # Unbuffered: what write() returned is in the file, so its size is the offset reached.
    with upload.file(ctx).open("ab", buffering=0) as out:
        try:
            while chunk := await request.content.read(PIECE_CHUNK):
                if written + len(chunk) > room:
                    await asyncio.to_thread(out.truncate, start)
                    raise ApiProblem(
                        413,
                        "too-large",
                        f"the piece goes past the upload's length {upload.length} (it starts "
                        f"at {start}); nothing of it is kept",
                        [("body", f"at most {room} bytes here")],
                    )
                await asyncio.to_thread(_write_all, out, chunk)
                written += len(chunk)
        finally:
            # A broken connection keeps what arrived: its offset is where the DMS resumes.
            upload.touched_at = ctx.clock()
            await asyncio.to_thread(_write_info, ctx, upload)


async def _finish(request: web.Request, upload: Upload) -> None:
    """The last byte arrived: the declared SHA-256 is checked (a mismatch discards the
    upload), and the upload is complete."""
    ctx: NodeContext = request.app[CONTEXT]
    got = await asyncio.to_thread(_sha256, upload.file(ctx))
    if upload.sha256 is not None and got != upload.sha256:
        await asyncio.to_thread(shutil.rmtree, upload.folder(ctx), True)
        raise ApiProblem(
            400,
            "invalid-request",
            f"sha256: the file's SHA-256 is {got}, not {upload.sha256} as declared; the upload "
            "is discarded: create a new one",
            [("sha256", "does not match the bytes received")],
        )
    upload.sha256, upload.complete = got, True
    await asyncio.to_thread(_write_info, ctx, upload)


def _write_all(out, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[out.write(view) :]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _status(ctx: NodeContext, upload: Upload) -> web.Response:
    answer = upload.answer(ctx)
    response = json_response(answer)
    response.headers[OFFSET_HEADER] = str(answer["offset"])
    response.headers[LENGTH_HEADER] = str(upload.length)
    response.headers["Cache-Control"] = "no-store"
    return response


async def status(request: web.Request) -> web.Response:
    """GET or HEAD /uploads/{id}: the offset reached (also as Upload-Offset), whether it is
    complete; asking keeps an upload from expiring."""
    ctx: NodeContext = request.app[CONTEXT]
    upload = await _find(request, request.match_info["id"])
    if upload.id not in request.app[BUSY]:
        upload.touched_at = ctx.clock()
        await asyncio.to_thread(_write_info, ctx, upload)
    return _status(ctx, upload)


async def delete(request: web.Request) -> web.Response:
    """DELETE /uploads/{id}: the upload and its bytes are gone; 204."""
    ctx: NodeContext = request.app[CONTEXT]
    upload = await _find(request, request.match_info["id"])
    async with _holding(request, [upload.id]):
        await asyncio.to_thread(shutil.rmtree, upload.folder(ctx), True)
    return web.Response(status=204)


# -- sending ----------------------------------------------------------------------------------


async def files_of(request: web.Request, value: dict, before: int) -> list[Upload]:
    """The uploads a send names (`uploads`, after `before` files of its own): each the
    caller's and complete, else 400 naming it."""
    ids = value.get("uploads") or []
    if before + len(ids) > MAX_ATTACHMENTS:
        raise invalid("uploads", f"at most {MAX_ATTACHMENTS} files per document, in all")
    if len(set(ids)) != len(ids):
        raise invalid("uploads", "names an upload twice")
    ctx: NodeContext = request.app[CONTEXT]
    found = []
    for i, upload_id in enumerate(ids):
        field = f"uploads[{i}]"
        if not isinstance(upload_id, str):
            raise invalid(field, "an upload id (a string)")
        try:
            upload = await _find(request, upload_id)
        except ApiProblem as problem:
            raise invalid(field, problem.detail) from None
        if not upload.complete:
            done = await asyncio.to_thread(upload.offset, ctx)
            raise invalid(field, f"upload {upload_id} has {done} of {upload.length} bytes")
        found.append(upload)
    return found


@contextlib.asynccontextmanager
async def sending(request: web.Request, chosen: Sequence[Upload]) -> AsyncIterator[list[Path]]:
    """Hold the uploads while the document is sent with their files; once it is stored, the
    uploads are gone (its blobs hold the bytes now). A refused send leaves them as they were."""
    ctx: NodeContext = request.app[CONTEXT]
    async with _holding(request, [u.id for u in chosen]):
        yield [u.file(ctx) for u in chosen]
        for upload in chosen:
            await asyncio.to_thread(shutil.rmtree, upload.folder(ctx), True)


# -- the sweep --------------------------------------------------------------------------------


async def sweep_uploads(ctx: NodeContext, busy: set) -> int:
    """Remove the uploads untouched for UPLOAD_EXPIRY_SECONDS (and folders a crash left
    half made), each audited; returns how many."""
    cutoff = ctx.clock() - UPLOAD_EXPIRY_SECONDS * 1000
    removed = 0
    for folder, upload in await asyncio.to_thread(_all, ctx):
        if folder.name in busy:
            continue
        if upload is not None and upload.touched_at >= cutoff:
            continue
        made = (await asyncio.to_thread(folder.stat)).st_mtime
        if upload is None and made > time.time() - UPLOAD_EXPIRY_SECONDS:
            continue  # being made now, or just made
        await asyncio.to_thread(shutil.rmtree, folder, True)
        removed += 1
        async with ctx.store.write() as tx:
            await audit.append(
                tx,
                at=ctx.clock(),
                actor=f"api:{upload.key}" if upload else "uploads",
                action="api.upload_expired",
                subject=folder.name,
                details={} if upload is None else {"name": upload.name, "length": upload.length},
            )
    if removed:
        log.info("api uploads: %d abandoned removed", removed)
    return removed


async def sweep_context(app: web.Application) -> AsyncIterator[None]:
    """app.cleanup_ctx: the sweep runs every UPLOAD_SWEEP_SECONDS while the API serves."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_every(
            UPLOAD_SWEEP_SECONDS,
            lambda: sweep_uploads(app[CONTEXT], app[BUSY]),
            stop,
            what="API upload sweep",
            log=log,
        )
    )
    yield
    stop.set()
    await task


# (method, path under /api/v1, handler); {id} is an upload id (UPLOAD_ID).
ROUTES = (
    ("POST", "/uploads", create),
    ("PATCH", "/uploads/{id}", append),
    ("GET", "/uploads/{id}", status),
    ("HEAD", "/uploads/{id}", status),
    ("DELETE", "/uploads/{id}", delete),
)
