"""edXML through the integration API: POST /edxml takes a package in as an incoming
document (node/unit/edxml_import.py), GET /documents/{id}/edxml writes one out."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.unit.api.access import allow, begin, request_hash
from lienthong.node.unit.api.problems import ApiProblem, invalid, not_found
from lienthong.node.unit.documents import DocumentError
from lienthong.node.unit.edxml_import import export_edxml, import_edxml
from lienthong.protocol.errors import DecodeError, InvalidField, LimitExceeded
from lienthong.storage.api_keys import PROCESS, READ
from lienthong.storage.blobs import TMP_DIR
from lienthong.storage.documents import get_document

# Media types a package is posted as (RFC 7303).
XML_TYPES = frozenset({"application/xml", "text/xml"})
# A package posted to the API, as sent: the national axis passes attachments of some
# hundred megabytes, inline as base64 (a third larger); 1 GiB holds 700 MB of files. It is
# streamed to disk, never held; a larger package is imported with `lienthong edxml import`.
MAX_EDXML_PACKAGE_BYTES = 1024**3
READ_CHUNK = 1024 * 1024  # bytes of the body read, hashed and written at a time


def _spool(ctx: NodeContext) -> Path:
    """A private folder (mkdtemp: 0700) of the blob store's temporary files: the same disk
    the attachments go to."""
    return Path(tempfile.mkdtemp(prefix="api-edxml-", dir=ctx.blobs.root / TMP_DIR))


async def _receive(request: web.Request, path: Path) -> bytes:
    """Stream the body into `path`, bounded; the request's hash for its Idempotency-Key."""
    digest = request_hash(request)
    total = 0
    with path.open("xb") as out:
        while chunk := await request.content.read(READ_CHUNK):
            total += len(chunk)
            if total > MAX_EDXML_PACKAGE_BYTES:
                raise ApiProblem(
                    413,
                    "too-large",
                    f"an edXML package posted here has at most {MAX_EDXML_PACKAGE_BYTES} bytes "
                    "(import a larger one with `lienthong edxml import`)",
                    [("body", "over the limit")],
                )
            digest.update(chunk)
            await asyncio.to_thread(out.write, chunk)
    if total == 0:
        raise invalid("body", "empty: the edXML package is the body")
    return digest.digest()


def _refused(exc: Exception) -> ApiProblem:
    """A package the reader or the import refused: 400 naming the field, or 413 a limit."""
    if isinstance(exc, LimitExceeded):
        return ApiProblem(413, "too-large", str(exc), [("body", str(exc))])
    if isinstance(exc, InvalidField):
        return ApiProblem(400, "invalid-request", str(exc), [(exc.field, exc.reason)])
    return invalid("body", str(exc))


async def import_package(request: web.Request) -> web.Response:
    """Take the posted edXML package in as an incoming document: 201 with its id, or 200
    with the document a former import of the same package made (nothing stored again)."""
    allow(request, PROCESS)
    if request.content_type not in XML_TYPES:
        raise ApiProblem(
            415,
            "unsupported-media-type",
            f"an edXML package is sent as application/xml, not {request.content_type!r}",
            [("Content-Type", "must be application/xml")],
        )
    ctx: NodeContext = request.app[CONTEXT]
    folder = await asyncio.to_thread(_spool, ctx)
    try:
        path = folder / "package.xml"
        digest = await _receive(request, path)
        replay = await begin(request, digest)
        if replay is not None:
            return replay
        try:
            result = await import_edxml(ctx, path)
        except (DecodeError, DocumentError) as exc:
            raise _refused(exc) from None
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
    href = f"/api/v1/documents/{quote(result.id)}"
    response = web.json_response(
        {
            "id": result.id,
            "created": result.created,
            "document_id": result.document_id,
            "sender": result.sender,
            "number": result.number_notation,
            "attachments": result.attachments,
            "href": href,
        },
        status=201 if result.created else 200,
    )
    response.headers["Location"] = href
    return response


async def export_package(request: web.Request) -> web.StreamResponse:
    """The stored document as an edXML package (application/xml), its attachments inline."""
    allow(request, READ)
    if request.query:
        name = next(iter(request.query))
        raise invalid(name, "unknown query parameter (this route takes none)")
    ctx: NodeContext = request.app[CONTEXT]
    doc_id = request.match_info["id"]
    async with ctx.store.read() as conn:
        if await get_document(conn, doc_id) is None:
            raise not_found(f"no document {doc_id} here")
    folder = await asyncio.to_thread(_spool, ctx)
    try:
        path = folder / "package.xml"
        try:
            await export_edxml(ctx, doc_id, path)
        except (DecodeError, DocumentError) as exc:
            raise ApiProblem(
                409, "conflict", f"the document cannot be written as edXML: {exc}"
            ) from None
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/xml",
                "Content-Disposition": f'attachment; filename="{doc_id}.xml"',
            }
        )
        response.content_length = path.stat().st_size
        await response.prepare(request)
        with path.open("rb") as source:
            while chunk := await asyncio.to_thread(source.read, READ_CHUNK):
                await response.write(chunk)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


ROUTES = (
    ("POST", "/edxml", import_package),
    ("GET", "/documents/{id}/edxml", export_package),
)
