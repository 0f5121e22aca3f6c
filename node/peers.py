"""The peer API's edge: who is calling (mutual TLS checked against the directory) and gossip.

Verify at the edge: the TLS layer proves the client holds a key certified by
the centre's CA; this middleware then requires that the certificate is the
one the directory lists for that unit and that it is not revoked, and hands
handlers the unit code as a verified fact (`request[PEER]`). Every response
carries the directory version this node holds (the `Lienthong-Directory`
header) so peers learn of newer directories (gossip, docs/PROTOCOL.md).
"""

from __future__ import annotations

import hashlib
import json
import logging

from aiohttp import web
from cryptography import x509 as cx509

from lienthong.bootstrap.directory import DIRECTORY_HEADER
from lienthong.crypto.errors import CertificateError
from lienthong.crypto.x509 import unit_code_of
from lienthong.node.context import CONTEXT
from lienthong.storage import audit
from lienthong.storage.errors import disk_full

log = logging.getLogger(__name__)

PEER = web.RequestKey("peer", str)  # the verified unit code of the caller, if any
PEER_ERROR = web.RequestKey("peer_error", str)  # why the caller is not a known peer


def error_response(status: int, error: str, message: str) -> web.Response:
    """Every refusal of the peer API: JSON naming the error class and what was wrong."""
    return web.json_response({"error": error, "message": message}, status=status)


def peer_identity(request: web.Request) -> tuple[str | None, str | None]:
    """(unit code, None) for a client whose certificate the directory lists, else (None, why)."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        return None, "no client certificate"
    try:
        code = unit_code_of(cx509.load_der_x509_certificate(der))
    except (ValueError, CertificateError) as exc:
        return None, f"unreadable client certificate: {exc}"
    directory = request.app[CONTEXT].directory.current
    if directory is None:
        return None, "this node holds no directory yet"
    cert = directory.current(code)
    if cert is None:
        return None, f"unit {code} is not in directory v{directory.version} (unknown or revoked)"
    if hashlib.sha256(der).digest() != cert.tls_sha256:
        return (
            None,
            f"the TLS certificate of {code} is not the one directory v{directory.version} lists",
        )
    return code, None


@web.middleware
async def peer_middleware(request: web.Request, handler):
    code, why = peer_identity(request)
    if code is not None:
        request[PEER] = code
    else:
        request[PEER_ERROR] = why or "unknown"
    version = str(request.app[CONTEXT].directory.version)
    try:
        response = await handler(request)
    except ConnectionResetError:
        # The caller hung up before its body was complete (a dropped link, a killed peer):
        # an ordinary network event, not a server error, which aiohttp would log with a
        # traceback and answer with 500. A blob upload keeps what arrived (peer_api).
        log.info("%s %s: the caller hung up mid-request", request.method, request.path)
        raise _bad_request("IncompleteRequest", "the connection closed before the body") from None
    except web.RequestPayloadError as exc:
        # A body whose chunked framing or Content-Encoding does not decode.
        raise _bad_request("MalformedRequest", f"the request body cannot be read: {exc}") from None
    except web.HTTPException as exc:
        exc.headers[DIRECTORY_HEADER] = version
        if isinstance(exc, web.HTTPForbidden) and code is None:
            await _audit_unknown_peer(request, why or "unknown")
        raise
    except Exception as exc:
        full = disk_full(exc, request.app[CONTEXT].config.data_dir)
        if full is None:
            raise
        # This node's own disk, not the caller's fault: 507, and the caller sends the same
        # request again later (docs/PROTOCOL.md 16.4). Where the disk is stays in the log.
        log.error("%s %s from %s: %s", request.method, request.path, code or "?", full)
        response = error_response(
            507, "DiskFull", "the receiver's disk is full: nothing was stored; send again later"
        )
    response.headers[DIRECTORY_HEADER] = version
    return response


MAX_AUDITED_STRANGERS = 1000  # distinct refusals audited per run: the log stays bounded


async def _audit_unknown_peer(request: web.Request, why: str) -> None:
    """Audit a refused caller once per reason (a revoked unit retrying cannot flood the log)."""
    ctx = request.app[CONTEXT]
    audited = ctx.audited_strangers
    if why in audited or len(audited) >= MAX_AUDITED_STRANGERS:
        return
    audited.add(why)
    try:
        async with ctx.store.write() as tx:
            await audit.append(
                tx,
                at=ctx.clock(),
                actor=request.remote or "unknown",
                action="peer.refused",
                subject=request.path,
                details={"reason": why[:500]},
            )
    except Exception as exc:  # a full disk must not turn the 403 into a 500
        full = disk_full(exc, ctx.config.data_dir)
        if full is None:
            raise
        log.error("refused caller %s not audited: %s", request.remote, full)


def _bad_request(error: str, message: str) -> web.HTTPBadRequest:
    """A 400 refusal in the peer API's JSON form, raised where a handler could not answer."""
    return web.HTTPBadRequest(
        text=json.dumps({"error": error, "message": message}), content_type="application/json"
    )


def require_peer(request: web.Request) -> str:
    """The caller's verified unit code; otherwise the request ends with 403."""
    code = request.get(PEER)
    if code is None:
        raise web.HTTPForbidden(
            text=json.dumps({"error": "UnknownPeer", "message": request.get(PEER_ERROR, "")}),
            content_type="application/json",
        )
    return code
