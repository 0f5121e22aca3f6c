"""The centre's console: the units table and its actions (add a unit and print its
enrolment sheet, a new token, approval, revocation). Statistics and the pilot report
are in node/web/console/stats.py.

Only an admin of the centre's node reaches it (capability "centre"). Every action is
a call of node.centre.rules.Centre, the same as the `lienthong centre` commands.
"""

from __future__ import annotations

import logging
import shlex
from typing import Any

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.crypto.keys import fingerprint
from lienthong.node.centre.errors import NothingToApprove, UnitExists, UnitRevoked, UnknownUnit
from lienthong.node.centre.rules import DEPLOYMENT_STATES, SHEET_DATA_DIRS, NewToken, centre_of
from lienthong.node.web.base import (
    USER,
    context_of,
    not_found,
    render,
    requires,
    see_other,
    tr,
)
from lienthong.node.web.console.routes import ACTIONS
from lienthong.protocol.errors import InvalidField
from lienthong.protocol.limits import MAX_SHORT_TEXT
from lienthong.storage.reports import UnitOverview, units_overview

log = logging.getLogger("lienthong.web")

# The deployment states of the province's unit list, as stored, and their catalogue keys.
STATE_KEYS = {DEPLOYMENT_STATES[0]: "centre.deployed", DEPLOYMENT_STATES[1]: "centre.trial"}


def _actor(request: web.Request) -> str:
    """Who acts, for the centre's audit log (the CLI writes operator:<os user>)."""
    return f"web:{request[USER].username}"


def state_label(request: web.Request, state: str) -> str:
    """A deployment state ('Đã triển khai', 'Thử nghiệm') in the page's language."""
    return tr(request, STATE_KEYS[state]) if state in STATE_KEYS else state


# -- units -----------------------------------------------------------------------------------


def _unit_row(request: web.Request, unit: UnitOverview, own: str) -> dict[str, Any]:
    return {
        "unit": unit,
        "state": state_label(request, unit.state),
        "status": tr(request, f"centre.status.{unit.status}"),
        "own": unit.code == own,
    }


async def _console(
    request: web.Request,
    *,
    message: str | None = None,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    ctx = context_of(request)
    centre = centre_of(ctx)
    async with ctx.store.read() as conn:
        units = await units_overview(conn)
    done = request.query.get("done")
    if message is None and done in ACTIONS:
        message = tr(request, f"centre.done.{done}", code=request.query.get("code", "")[:32])
    return render(
        request,
        "centre.html",
        {
            "units": [_unit_row(request, u, ctx.config.code) for u in units],
            "states": [(s, state_label(request, s)) for s in DEPLOYMENT_STATES],
            "values": values or {},
            "message": message,
            "error": error,
            "centre_url": centre.url,
            "fingerprint": centre.fingerprint,
            "pattern": ctx.config.get("unit", "code_pattern"),
        },
        status=status,
    )


@requires("centre")
async def console(request: web.Request) -> web.StreamResponse:
    return await _console(request)


# The centre's refusals a console user can meet, and the words that explain them.
REFUSAL_KEYS: tuple[tuple[type[LienthongError], str], ...] = (
    (InvalidField, "centre.err.code"),
    (UnitExists, "centre.err.exists"),
    (NothingToApprove, "centre.err.nothing_to_approve"),
    (UnitRevoked, "centre.err.revoked"),
    (UnknownUnit, "centre.err.unknown"),
)


def _explain(request: web.Request, exc: LienthongError, code: str) -> str:
    """The refusal in the page's language; the centre's English message goes to the log."""
    log.warning("centre console, unit %s: %s", code, exc)
    for kind, key in REFUSAL_KEYS:
        if isinstance(exc, kind):
            return tr(request, key, code=code)
    return tr(request, "centre.err.failed", code=code)


def _sheet(request: web.Request, new: NewToken) -> web.Response:
    """The one page that shows a token: printable, never stored, never shown again."""
    ctx = context_of(request)
    enrol = (
        f"lienthong enrol --centre {new.centre_url}"
        f" --fingerprint {new.fingerprint} --token {new.token}"
    )
    return render(
        request,
        "centre_sheet.html",
        {
            "new": new,
            "state": state_label(request, new.state),
            "expires_at": new.expires_at,
            "init": f"lienthong init --code {new.code} --name {shlex.quote(new.name)}",
            "enrol": enrol,
            "offline": (
                f"lienthong enrol --token {new.token}"
                " --request-out yeu-cau.bin"
                # the TLS key is made before the unit can see the centre's CA
                + ("" if new.tls_key == "ed25519" else f" --tls-key {new.tls_key}")
            ),
            "centre_name": ctx.config.name,
            "data_dirs": SHEET_DATA_DIRS,
        },
    )


@requires("centre")
async def add_unit(request: web.Request) -> web.StreamResponse:
    """Register a unit (node.centre.rules.Centre.add_unit, as `centre add-unit`); show its sheet."""
    form = await request.post()
    values = {k: str(form.get(k, "")).strip() for k in ("code", "name", "state")}
    refusal = None
    if not 1 <= len(values["name"]) <= MAX_SHORT_TEXT:
        refusal = tr(request, "centre.err.name", max=MAX_SHORT_TEXT)
    elif values["state"] not in DEPLOYMENT_STATES:
        refusal = tr(request, "centre.err.state")
    if refusal is not None:
        return await _console(request, error=refusal, values=values, status=400)
    try:
        new = await centre_of(context_of(request)).add_unit(
            values["code"], values["name"], state=values["state"], actor=_actor(request)
        )
    except LienthongError as exc:
        status = getattr(exc, "status", 400)
        error = _explain(request, exc, values["code"][:32])
        return await _console(request, error=error, values=values, status=status)
    return _sheet(request, new)


async def _unit(request: web.Request) -> UnitOverview:
    ctx = context_of(request)
    code = request.match_info["code"]
    async with ctx.store.read() as conn:
        units = await units_overview(conn)
    for unit in units:
        if unit.code == code:
            return unit
    raise not_found(request)


@requires("centre")
async def confirm(request: web.Request) -> web.StreamResponse:
    """Ask before revoking a unit, replacing its token or approving its enrolment."""
    unit = await _unit(request)
    action = request.match_info["action"]
    centre = centre_of(context_of(request))
    key = None
    if action == "approve":
        waiting = [u for u in await centre.units() if u.code == unit.code]
        key = fingerprint(waiting[0].waiting_key) if waiting and waiting[0].waiting_key else None
    return render(
        request,
        "centre_confirm.html",
        {"unit": unit, "action": action, "key": key, "state": state_label(request, unit.state)},
    )


@requires("centre")
async def act(request: web.Request) -> web.StreamResponse:
    """Revoke, new token or approve, through node.centre.rules.Centre as the CLI does."""
    unit = await _unit(request)
    action = request.match_info["action"]
    ctx = context_of(request)
    centre = centre_of(ctx)
    if action == "revoke" and unit.code == ctx.config.code:
        error = tr(request, "centre.err.own", code=unit.code)
        return await _console(request, error=error, status=400)
    try:
        if action == "revoke":
            await centre.revoke(unit.code, actor=_actor(request))
        elif action == "approve":
            await centre.approve(unit.code, actor=_actor(request))
        else:
            new = await centre.add_unit(
                unit.code, unit.name, state=unit.state, new_token=True, actor=_actor(request)
            )
            return _sheet(request, new)
    except LienthongError as exc:
        return await _console(
            request, error=_explain(request, exc, unit.code), status=getattr(exc, "status", 400)
        )
    raise see_other(f"/centre?done={action}&code={unit.code}")
