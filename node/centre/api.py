"""The centre's HTTP API on its peer listener: the CA, enrolment, key rotation and renewal,
the directory.

`GET /v1/ca` and `POST /v1/enrol` need no client certificate (a unit that
enrols has none yet: the centre's TLS server asks for one without requiring
it), nor does `POST /v1/renew` (a unit whose certificate has ended has no
usable one: the old key's signature in the request authorises it); `POST
/v1/rotate` and `POST /v1/report` need mutual TLS with the certificate the
directory lists for the unit. docs/FEDERATION.md describes each answer, and
docs/PROTOCOL.md the unit report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from aiohttp import web

from lienthong.node.centre.reports import ReportRefused, receive_report
from lienthong.node.centre.rules import CentreError, Issued, Pending, centre_of
from lienthong.node.context import CONTEXT
from lienthong.node.peers import PEER_ERROR, error_response, require_peer
from lienthong.protocol.limits import MAX_REGISTRATION_BYTES
from lienthong.protocol.peer import CONTENT_TYPE, directory_etag, held_etags
from lienthong.protocol.report import MAX_REPORT_BYTES
from lienthong.protocol.text import is_decimal
from lienthong.storage.centre import directory_times
from lienthong.storage.directory import latest_directory

# A registration request is at most MAX_REGISTRATION_BYTES (docs/PROTOCOL.md 9): one byte
# more is enough to know a body is too large, so no more than that is ever read.
MAX_REQUEST_BODY = MAX_REGISTRATION_BYTES
# The `form` a client asks the directory in: forms are few (1 and 2 today); a longer value
# is no form, and gets form 1.
MAX_FORM_DIGITS = 2


def add_centre_routes(app: web.Application) -> None:
    app.router.add_get("/v1/ca", get_ca)
    app.router.add_post("/v1/enrol", post_enrol)
    app.router.add_post("/v1/rotate", post_rotate)
    app.router.add_post("/v1/renew", post_renew)
    app.router.add_get("/v1/directory", get_directory)
    app.router.add_post("/v1/report", post_report)


def _origin(request: web.Request) -> str:
    return request.remote or "-"


async def _read_body(request: web.Request, limit: int = MAX_REQUEST_BODY) -> bytes:
    """At most `limit` + 1 bytes of the body; the Centre refuses anything longer."""
    data = bytearray()
    while len(data) <= limit:
        chunk = await request.content.read(limit + 1 - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _answer(outcome) -> web.Response:
    if isinstance(outcome, Issued):
        return web.Response(body=outcome.bundle, content_type=CONTENT_TYPE)
    return web.json_response({"status": "pending", "message": outcome.message}, status=202)


def _refusal(exc: CentreError) -> web.Response:
    return error_response(exc.status, type(exc).__name__, str(exc))


async def _registration(
    request: web.Request, step: Callable[[bytes], Awaitable[Issued | Pending]]
) -> web.Response:
    """Read a registration request, give it to `step` (enrol, rotate or renew) and answer
    with the outcome: 200 with the certificates, 202 pending, or the refusal by name."""
    raw = await _read_body(request)
    try:
        return _answer(await step(raw))
    except CentreError as exc:
        return _refusal(exc)


async def get_ca(request: web.Request) -> web.Response:
    """The CA certificate (PEM); a unit checks its key against the pinned root fingerprint."""
    centre = centre_of(request.app[CONTEXT])
    return web.Response(body=centre.ca_pem, content_type="text/plain", charset="ascii")


async def post_enrol(request: web.Request) -> web.Response:
    """A registration request authorised by a token: 200 with the certificates, or 202."""
    centre = centre_of(request.app[CONTEXT])
    return await _registration(request, partial(centre.enrol, origin=_origin(request)))


async def post_rotate(request: web.Request) -> web.Response:
    """A registration request signed by the unit's current key, over mutual TLS: 200, or
    202 when the centre requires approval."""
    centre = centre_of(request.app[CONTEXT])
    try:
        peer = require_peer(request)
    except web.HTTPForbidden:
        reason = request.get(PEER_ERROR, "no verified client certificate")
        refusal = CentreError(f"key rotation needs the unit's current TLS certificate: {reason}")
        await centre.record_refusal("rotation.refused", refusal, _origin(request))
        return error_response(403, "UnknownPeer", reason)
    return await _registration(request, partial(centre.rotate, peer=peer, origin=_origin(request)))


async def post_renew(request: web.Request) -> web.Response:
    """A rotation request authorised by the unit's latest key alone, no client certificate
    needed: 200 with the certificates, or 202 while the operator's approval is awaited."""
    centre = centre_of(request.app[CONTEXT])
    return await _registration(request, partial(centre.renew, origin=_origin(request)))


def asked_form(request: web.Request) -> int:
    """The directory form a client asks for with `?form=N`: 2 for any N of 1-2 digits that is
    2 or more (a later form is served as the best this centre signs), else 1, as a client
    that names none (version 1) expects (docs/PROTOCOL.md 18)."""
    value = request.query.get("form", "")
    return 2 if is_decimal(value, MAX_FORM_DIGITS) and int(value) >= 2 else 1


async def get_directory(request: web.Request) -> web.Response:
    """The newest signed directory in the form asked for (`?form=2`; form 1 without it),
    with `ETag: "v<version>"` or `"v<version>.2"`; 304 if the client holds that one."""
    ctx = request.app[CONTEXT]
    asked = asked_form(request)
    async with ctx.store.read() as conn:
        times = await directory_times(conn)
    if times is None:
        return error_response(503, "NoDirectory", "the centre has not signed a directory yet")
    version, _, _, has_form2 = times
    etag = directory_etag(version, 2 if asked == 2 and has_form2 else 1)
    held = held_etags(request.headers.get("If-None-Match", ""))
    if etag in held or "*" in held:  # the centre also answers `*` (docs/PROTOCOL.md §18)
        return web.Response(status=304, headers={"ETag": etag})
    async with ctx.store.read() as conn:
        latest = await latest_directory(conn)
    assert latest is not None
    form, raw = (2, latest.form2) if asked == 2 and latest.form2 is not None else (1, latest.raw)
    return web.Response(
        body=raw,
        content_type=CONTENT_TYPE,
        headers={"ETag": directory_etag(latest.version, form), "Cache-Control": "no-cache"},
    )


async def post_report(request: web.Request) -> web.Response:
    """A unit's signed report of its own figures (docs/PROTOCOL.md): 204 when kept."""
    peer = require_peer(request)
    raw = await _read_body(request, MAX_REPORT_BYTES)
    try:
        await receive_report(request.app[CONTEXT], raw, peer=peer)
    except ReportRefused as exc:
        return error_response(exc.status, exc.name, str(exc))
    return web.Response(status=204)
