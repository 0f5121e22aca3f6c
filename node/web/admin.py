"""Node health (directory, peers, queues, errors, disk) and account management (admin)."""

from __future__ import annotations

import asyncio
import logging
import shutil

from aiohttp import web

from lienthong.bootstrap.directory import centre_url_of, refresh_once
from lienthong.crypto.errors import LienthongError
from lienthong.node.unit.delivery import DELIVERY
from lienthong.node.web.auth import MAX_PASSWORD_CHARS
from lienthong.node.web.base import USER, context_of, render, requires, tr
from lienthong.storage.directory import latest_directory
from lienthong.storage.errors import Conflict, NotFound
from lienthong.storage.outbox import queue_depths
from lienthong.storage.users import (
    MAX_USERNAME_CHARS,
    MIN_PASSWORD_CHARS,
    ROLES,
    add_user,
    list_users,
    set_disabled,
    set_password,
    set_role,
    unlock_user,
)

log = logging.getLogger("lienthong.web")

# The health page asks the centre live, but a clerk should not wait on a dead link:
# after this long the centre counts as unreachable for this view.
CENTRE_PROBE_SECONDS = 3.0

# Below this much free space the page warns: blobs of a busy week can take gigabytes.
LOW_DISK_BYTES = 2 * 1024**3


class Refusal(Exception):
    """A form the accounts page refuses, with the words the administrator reads."""


def _disk(path) -> dict[str, int | bool]:
    usage = shutil.disk_usage(path)
    store = path / "store.sqlite3"
    size = store.stat().st_size if store.exists() else 0
    return {
        "total": usage.total,
        "free": usage.free,
        "used_pct": round(100 * (usage.total - usage.free) / usage.total) if usage.total else 0,
        "store": size,
        "low": usage.free < LOW_DISK_BYTES,
    }


async def _probe_centre(ctx, engine) -> None:
    """Ask the centre for the directory now (a 304 when nothing changed), as the refresh does."""
    session = getattr(engine, "session", None)
    url = centre_url_of(ctx.config.federation, ctx.directory)
    if session is None or not url:
        return
    try:
        await asyncio.wait_for(refresh_once(ctx.directory, session, url), CENTRE_PROBE_SECONDS)
    except TimeoutError:
        ctx.directory.centre_error = f"{url}: no answer within {CENTRE_PROBE_SECONDS:g} s"


@requires("view")
async def health(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    engine = ctx.services.get(DELIVERY)
    await _probe_centre(ctx, engine)
    directory = ctx.directory.current
    now = ctx.clock()
    async with ctx.store.read() as conn:
        depths = await queue_depths(conn)
        # Nothing records the last successful fetch from the centre itself: the cached
        # directory's fetched_at is when this node last took a new directory, from the
        # centre or from a peer (bootstrap/directory.py).
        cached = await latest_directory(conn)
    ok_at = getattr(ctx.directory, "centre_ok_at", None)  # None: no refresh in this process
    peers = getattr(engine, "peers", {}) or {}
    names = {c.code: c.name for c in directory.units()} if directory else {}
    errors = [
        {"code": code, "name": names.get(code, ""), "failures": p.failures, "error": p.last_error}
        for code, p in sorted(peers.items())
        if p.last_error
    ]
    return render(
        request,
        "health.html",
        {
            "directory": directory,
            "expired": directory is not None and now > directory.expires_at,
            "issued_at": directory.issued_at if directory else None,
            "expires_at": directory.expires_at if directory else None,
            "units": len(names),
            "fetched_at": cached.fetched_at if cached else None,
            "queues": [
                {"code": code, "name": names.get(code, ""), "depth": depth}
                for code, depth in sorted(depths.items())
            ],
            "running": engine is not None,
            "centre_ok_at": ok_at,
            "centre_error": getattr(ctx.directory, "centre_error", None),
            "seen": [
                {"code": code, "name": names.get(code, ""), "at": at, "path": path}
                for code, (at, path) in sorted((getattr(engine, "seen", None) or {}).items())
            ],
            "errors": errors,
            "disk": await asyncio.to_thread(_disk, ctx.config.data_dir),
            "code": ctx.config.code,
            "name": ctx.config.name,
        },
    )


@requires("users")
async def users_get(request: web.Request) -> web.StreamResponse:
    return await _users_page(request)


async def _users_page(request: web.Request, *, message=None, error=None, status=200):
    ctx = context_of(request)
    async with ctx.store.read() as conn:
        users = await list_users(conn)
    now = ctx.clock()
    return render(
        request,
        "users.html",
        {
            "users": [{"user": u, "locked": u.locked(now)} for u in users],
            "me": request[USER].username,
            "roles": ROLES,
            "message": message,
            "error": error,
            "min_password": MIN_PASSWORD_CHARS,
        },
        status=status,
    )


def _new_password(request: web.Request, form) -> str:
    """The password typed twice in the form, checked as the add form checks it."""
    password = str(form.get("password", ""))
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise Refusal(tr(request, "users.err.password", min=MIN_PASSWORD_CHARS))
    if password != str(form.get("password2", "")):
        raise Refusal(tr(request, "users.err.mismatch"))
    return password


@requires("users")
async def users_post(request: web.Request) -> web.StreamResponse:
    """Add an account, change its role, unlock it, reset its password, disable or enable
    it (storage.users, each audited with the administrator as actor)."""
    ctx = context_of(request)
    form = await request.post()
    username = str(form.get("username", "")).strip()
    role = str(form.get("role", ""))
    op = str(form.get("op", "add"))
    actor = request[USER].username
    refusal = None
    try:
        if not 1 <= len(username) <= MAX_USERNAME_CHARS or not username.isprintable():
            raise Refusal(tr(request, "users.err.name", max=MAX_USERNAME_CHARS))
        if op in ("add", "role") and role not in ROLES:
            raise Refusal(tr(request, "users.err.role"))
        role_name = tr(request, f"role.{role}")
        if op == "role":
            async with ctx.store.write() as tx:
                await set_role(tx, username, role, actor=actor, at=ctx.clock())
            message = tr(request, "users.role_changed", name=username, role=role_name)
        elif op == "unlock":
            async with ctx.store.write() as tx:
                await unlock_user(tx, username, actor=actor, at=ctx.clock())
            message = tr(request, "users.unlocked", name=username)
        elif op == "reset":
            password = _new_password(request, form)
            await set_password(ctx.store, username, password, actor=actor)
            message = tr(request, "users.password_reset", name=username)
        elif op in ("disable", "enable"):
            if op == "disable" and username == actor:
                raise Refusal(tr(request, "users.err.self"))
            async with ctx.store.write() as tx:
                await set_disabled(tx, username, op == "disable", actor=actor, at=ctx.clock())
            message = tr(request, f"users.{op}_done", name=username)
        elif op == "add":
            password = _new_password(request, form)
            display = str(form.get("display_name", "")).strip()[:MAX_USERNAME_CHARS] or username
            await add_user(
                ctx.store, username, password, role=role, display_name=display, actor=actor
            )
            message = tr(request, "users.added", name=username, role=role_name)
        else:
            raise Refusal(tr(request, "error.bad_action"))
    except NotFound:
        refusal = tr(request, "users.err.unknown", name=username)
    except Conflict:
        refusal = tr(request, "users.err.exists", name=username)
    except Refusal as exc:
        refusal = str(exc)
    except LienthongError as exc:  # the store's own words are English: they go to the log
        log.warning("users %s %s: %s", op, username, exc)
        refusal = tr(request, "users.err.not_done", name=username)
    if refusal is not None:
        return await _users_page(request, error=refusal, status=400)
    return await _users_page(request, message=message)
