"""Sign-in, sessions and CSRF for the clerk's web page.

Passwords are checked by storage.users (argon2id, lockout after MAX_FAILED_LOGINS).
On top of it each wrong password here makes the answer wait longer (growing delay).
The session cookie is HttpOnly and SameSite=Strict, and Secure over HTTPS (TLS ended by
aiohttp, or by a reverse proxy: web.behind_tls_proxy, node/web/edge.py); every POST
carries the session's CSRF token, compared in constant time. The login form, before
any session exists, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDictProxy

from lienthong.node.web import i18n
from lienthong.node.web.base import (
    LANG,
    SESSION,
    USER,
    context_of,
    render,
    see_other,
    settings_of,
    tr,
)
from lienthong.node.web.edge import is_https
from lienthong.protocol.text import pattern
from lienthong.storage.users import (
    LOCKOUT_MS,
    MAX_FAILED_LOGINS,
    MAX_USERNAME_CHARS,
    LoginOutcome,
    create_session,
    delete_session,
    get_session,
    get_user,
    purge_sessions,
    try_password,
)

log = logging.getLogger("lienthong.web")

SESSION_COOKIE = "lt_session"
LOGIN_CSRF_COOKIE = "lt_login_csrf"
LANG_COOKIE = "lt_lang"
# A session lasts a working day; after it the clerk signs in again.
SESSION_TTL_MS = 10 * 60 * 60 * 1000
# Wait before answering a wrong password: doubles with each failure in a row for
# that name, capped so a clerk who mistypes is not kept waiting long.
LOGIN_DELAY_BASE_S = 0.5
LOGIN_DELAY_CAP_S = 8.0
# Passwords from the form: argon2 over a megabyte would be a denial of service.
MAX_PASSWORD_CHARS = 1024
# Names remembered for the growing delay; beyond it the oldest are forgotten.
MAX_TRACKED_NAMES = 10_000
# Routes open without a session; everything else redirects to the login page.
PUBLIC_ROUTES = frozenset({"login", "login_post", "static"})
# Routes that read a streamed multipart body and check the CSRF token themselves.
SELF_CHECKED_ROUTES = frozenset({"compose_post", "login_post"})
LOGIN_TOKEN = pattern(  # secrets.token_urlsafe(32)
    "login form token", "[A-Za-z0-9_-]{43}", "kP3x9_Vb2-QrT7mN1cZ8wE5yH0aL4sD6fG2jK9uI1oA"
)


def login_delay(failures: int) -> float:
    """Seconds to wait after the `failures`-th wrong password in a row."""
    if failures <= 0:
        return 0.0
    return min(LOGIN_DELAY_CAP_S, LOGIN_DELAY_BASE_S * 2 ** (failures - 1))


def _lang(request: web.Request) -> str:
    asked = request.query.get("lang")
    if asked in i18n.LANGUAGES:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    return cookie if cookie in i18n.LANGUAGES else i18n.DEFAULT


def _route_name(request: web.Request) -> str | None:
    route = request.match_info.route
    return getattr(route, "name", None) or (
        "static" if request.path.startswith("/static/") else None
    )


@web.middleware
async def session_middleware(request: web.Request, handler):
    """Language, user and session on the request; no session: to the login page."""
    request[LANG] = _lang(request)
    ctx = context_of(request)
    request[USER] = request[SESSION] = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with ctx.store.read() as conn:
            session = await get_session(conn, token, now=ctx.clock())
            user = await get_user(conn, session.username) if session else None
        if session is not None and user is not None and not user.disabled:
            request[SESSION], request[USER] = session, user
    name = _route_name(request)
    if name not in PUBLIC_ROUTES and request[USER] is None:
        if request.method in ("GET", "HEAD"):
            raise see_other(f"/login?next={request.rel_url.path}")
        raise web.HTTPForbidden(text=tr(request, "error.csrf"))
    if request.method == "POST" and name not in SELF_CHECKED_ROUTES:
        if request.content_type != "application/x-www-form-urlencoded":
            raise web.HTTPForbidden(text=tr(request, "error.csrf"))
        form = await read_form(request)
        check_csrf(request, str(form.get("csrf", "")))
    response = await handler(request)
    if "lang" in request.query and request.query["lang"] in i18n.LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            request[LANG],
            httponly=True,
            samesite="Strict",
            secure=is_https(request),
            path="/",
        )
    return response


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison of a token from a request: as bytes, since
    hmac.compare_digest raises TypeError on a str with any non-ASCII character."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


async def read_form(request: web.Request) -> MultiDictProxy:
    """The urlencoded form (parsed once; handlers get it again from request.post()), or a 400
    page when its bytes are not text in the charset it names (aiohttp raised, a 500)."""
    try:
        return await request.post()
    except (UnicodeDecodeError, LookupError) as exc:
        log.info("%s: the form cannot be read as %s: %s", request.path, request.charset, exc)
        # Plain text, as the other refusals of this middleware: pages render further in.
        raise web.HTTPBadRequest(text=tr(request, "error.form_encoding")) from None


def check_csrf(request: web.Request, token: str) -> None:
    """403 unless `token` is this session's CSRF token."""
    session = request.get(SESSION)
    if session is None or not token or not same_token(token, session.csrf):
        raise web.HTTPForbidden(text=tr(request, "error.csrf"))


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never another host (open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return "/" if parts.scheme or parts.netloc else value


async def login_page(request: web.Request, *, error: str | None = None, status: int = 200):
    # Keep the token the browser already holds: a second login page rendered meanwhile
    # (another tab, the browser's favicon request redirected here) must not void the first.
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not LOGIN_TOKEN.matches(token):
        token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "next": _safe_next(request.query.get("next")), "error": error},
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
        path="/login",
    )
    return response


async def login_get(request: web.Request) -> web.StreamResponse:
    if request[USER] is not None:
        raise see_other("/")
    return await login_page(request)


async def login_post(request: web.Request) -> web.StreamResponse:
    if request.content_type != "application/x-www-form-urlencoded":
        raise web.HTTPForbidden(text=tr(request, "error.csrf"))
    form = await read_form(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = str(form.get("csrf", ""))
    if not cookie or not given or not same_token(given, cookie):
        raise web.HTTPForbidden(text=tr(request, "error.csrf"))
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    if not 1 <= len(username) <= MAX_USERNAME_CHARS or len(password) > MAX_PASSWORD_CHARS:
        return await login_page(request, error=tr(request, "login.failed"), status=401)
    ctx = context_of(request)
    settings = settings_of(request)
    attempt = await try_password(ctx.store, username, password)
    user = attempt.user
    if user is None:
        failures = settings.login_failures
        if username not in failures and len(failures) >= MAX_TRACKED_NAMES:
            failures.pop(next(iter(failures)))
        failures[username] = failures.get(username, 0) + 1
        await settings.sleep(login_delay(failures[username]))
        if attempt.outcome is LoginOutcome.LOCKED:
            message = tr(request, "login.locked", minutes=LOCKOUT_MS // 60_000)
        elif attempt.outcome is LoginOutcome.DISABLED:
            message = tr(request, "login.disabled")
        else:
            message = tr(request, "login.failed_count", max=MAX_FAILED_LOGINS)
        return await login_page(request, error=message, status=401)
    settings.login_failures.pop(username, None)
    now = ctx.clock()
    async with ctx.store.write() as tx:
        await purge_sessions(tx, now=now)
        session = await create_session(tx, user.username, at=now, ttl_ms=SESSION_TTL_MS)
    response = see_other(_safe_next(str(form.get("next", "/"))))
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
        path="/",
        max_age=SESSION_TTL_MS // 1000,
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE, "")
    async with context_of(request).store.write() as tx:
        await delete_session(tx, token)
    response = see_other("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
