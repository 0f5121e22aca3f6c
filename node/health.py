"""What a monitor asks without a login: GET /healthz (200 while the node can do its work,
503 naming what fails), from a cached probe, and the certificate-expiry figures /metrics
and doctor share."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from lienthong.crypto import x509 as tls
from lienthong.node.context import CONTEXT, NodeContext, ServiceKey

HEALTHZ_ROUTE = "healthz"
MS_PER_DAY = 86_400_000
# Certificates last a year: 30 days leave time to renew (automatic) or re-enrol.
CERT_WARN_DAYS = 30
# A day of large attachments at a busy office fits in 1 GiB; below 100 MiB writes fail soon.
MIN_FREE_BYTES = 1024**3
CRITICAL_FREE_BYTES = 100 * 1024**2
OK, WARN, FAIL = "ok", "warn", "fail"
# Anyone may ask /healthz (a load balancer every few seconds, or a stranger in a loop on a
# peer port): every answer comes from one probe of the node, no older than this, so the
# database sees at most one health query per worker in this time however often it is asked.
HEALTH_CACHE_SECONDS = 2.0
# A store that has not answered the probe's query within this is down for the health check
# (a database that hangs, a failover under way); load balancers time out their own check
# after a few seconds.
STORE_PROBE_SECONDS = 3.0
_RANK = {OK: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One part of the node's health: its status, what was seen, and a figure to graph."""

    status: str
    detail: str
    value: float | None = None


def _tls_not_after(path: Path, cache: dict[tuple[Path, float], int]) -> int | None:
    """The end of the node's TLS certificate in Unix ms, read again only when the file
    changes (a rotation replaces it)."""
    try:
        key = (path, path.stat().st_mtime)
    except OSError:
        return None
    if key not in cache:
        cert = tls.cert_from_pem(path.read_bytes())
        cache.clear()
        cache[key] = int(cert.not_valid_after_utc.timestamp() * 1000)
    return cache[key]


_TLS_CACHE: dict[tuple[Path, float], int] = {}


def certificate_ends(ctx: NodeContext) -> dict[str, int]:
    """When this node's certificates end (Unix ms): `node` (its certificate in the directory
    in force) and `tls` (the X.509 certificate it serves). A missing one is left out."""
    ends: dict[str, int] = {}
    directory = ctx.directory.current
    cert = directory.current(ctx.config.code) if directory is not None else None
    if cert is not None:
        ends["node"] = cert.not_after
    try:
        tls_end = _tls_not_after(ctx.config.tls_cert_path, _TLS_CACHE)
    except ValueError:  # an unreadable certificate file is reported as missing
        tls_end = None
    if tls_end is not None:
        ends["tls"] = tls_end
    return ends


def _certificates(ctx: NodeContext, now: int) -> Finding:
    ends = certificate_ends(ctx)
    if "tls" not in ends:
        return Finding(FAIL, "no TLS certificate: the node is not enrolled")
    first = min(ends.values())
    days = (first - now) / MS_PER_DAY
    which = ", ".join(f"{k} {int((v - now) // MS_PER_DAY)} days" for k, v in sorted(ends.items()))
    if days < 0:
        return Finding(FAIL, f"a certificate has ended ({which})", days)
    return Finding(WARN if days < CERT_WARN_DAYS else OK, f"certificates left: {which}", days)


def _directory(ctx: NodeContext, now: int) -> Finding:
    directory = ctx.directory.current
    if directory is None:
        return Finding(FAIL, "no directory yet: the node cannot address anyone")
    hours = (directory.expires_at - now) / 3_600_000
    if hours < 0:
        return Finding(FAIL, f"directory v{directory.version} expired {-hours:.0f} hours ago")
    warn = ctx.config.get("federation", "directory_warn_hours")
    status = WARN if hours < warn else OK
    return Finding(status, f"directory v{directory.version} expires in {hours:.0f} hours", hours)


def _centre(ctx: NodeContext, now: int) -> Finding:
    """The centre being down is a warning: units keep working and deliver directly."""
    error = getattr(ctx.directory, "centre_error", None)  # a centre does not ask itself
    ok_at = getattr(ctx.directory, "centre_ok_at", None)
    if error:
        return Finding(WARN, f"centre unreachable: {error}")
    if ok_at is None:
        return Finding(OK, "centre not asked yet in this run")
    return Finding(OK, "centre answered", (now - ok_at) / 1000)


def _disk(ctx: NodeContext) -> Finding:
    free = shutil.disk_usage(ctx.config.data_dir).free
    detail = f"{free / 1024**3:.1f} GiB free"
    if free < CRITICAL_FREE_BYTES:
        return Finding(FAIL, detail, free)
    return Finding(WARN if free < MIN_FREE_BYTES else OK, detail, free)


async def _read_store(ctx: NodeContext) -> None:
    async with ctx.store.read() as conn:  # one indexed row: the same on SQLite and PostgreSQL
        await conn.fetchone("SELECT max(version) FROM schema_version")


async def _store(ctx: NodeContext) -> Finding:
    try:
        await asyncio.wait_for(_read_store(ctx), STORE_PROBE_SECONDS)
    except TimeoutError:
        return Finding(FAIL, f"store unreadable: no answer within {STORE_PROBE_SECONDS:g} s")
    except Exception as exc:  # any failure to read is the finding itself
        return Finding(FAIL, f"store unreadable: {type(exc).__name__}: {exc}")
    return Finding(OK, "store readable")


async def health(ctx: NodeContext) -> dict:
    """The node's health as /healthz answers it: an overall status and each finding."""
    now = ctx.clock()
    findings = {
        "store": await _store(ctx),
        "directory": _directory(ctx, now),
        "centre": _centre(ctx, now),
        "disk": _disk(ctx),
        "certificates": _certificates(ctx, now),
    }
    status = max((f.status for f in findings.values()), key=_RANK.__getitem__)
    return {
        "status": status,
        "database": findings["store"].status,  # SQLite file or PostgreSQL: the store
        "code": ctx.config.code,
        "checks": {
            name: {"status": f.status, "detail": f.detail, "value": f.value}
            for name, f in findings.items()
        },
    }


class HealthCache:
    """The node's last health report, probed again once it is HEALTH_CACHE_SECONDS old; a
    request that finds it stale while a probe runs waits for that probe (one at a time)."""

    def __init__(self, ctx: NodeContext, clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx = ctx
        self.clock = clock  # seconds, only ever compared (tests hold it still)
        self._report: dict | None = None
        self._at = 0.0  # clock() at the probe that made _report
        self._lock = asyncio.Lock()
        self.probes = 0  # probes run (the tests count them)

    def _fresh(self) -> bool:
        return self._report is not None and self.clock() - self._at < HEALTH_CACHE_SECONDS

    def forget(self) -> None:
        """Probe again at the next request (something the report reads has just changed)."""
        self._report = None

    async def report(self) -> dict:
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    self._report = await health(self.ctx)
                    self._at = self.clock()
                    self.probes += 1
        assert self._report is not None
        return self._report


HEALTH = ServiceKey("health", HealthCache)


def health_of(ctx: NodeContext) -> HealthCache:
    """The node's one HealthCache (shared by its web page and its peer port)."""
    return ctx.services.get_or_make(HEALTH, lambda: HealthCache(ctx))


def _status(report: dict) -> int:
    return 503 if report["status"] == FAIL else 200


async def healthz_handler(request: web.Request) -> web.Response:
    """200 with the findings while nothing fails (warnings included), else 503."""
    report = await health_of(request.app[CONTEXT]).report()
    return web.json_response(report, status=_status(report))


async def public_healthz_handler(request: web.Request) -> web.Response:
    """The same answer for a load balancer on the peer port, which anyone can reach: each
    part's status and the names of those failing, without the details (error texts that
    could name the database's host, free disk space)."""
    report = await health_of(request.app[CONTEXT]).report()
    checks = {name: check["status"] for name, check in report["checks"].items()}
    body = {
        "status": report["status"],
        "database": report["database"],
        "code": report["code"],
        "failing": sorted(name for name, status in checks.items() if status == FAIL),
        "checks": checks,
    }
    return web.json_response(body, status=_status(report))


def add_healthz_route(app: web.Application) -> None:
    """Mount GET /healthz (no login; see node/metrics.py `public_routes`)."""
    app.router.add_get("/healthz", healthz_handler, name=HEALTHZ_ROUTE)


def add_peer_healthz_route(app: web.Application) -> None:
    """Mount GET /healthz on the peer port (no client certificate needed), for a load
    balancer in front of centre workers."""
    app.router.add_get("/healthz", public_healthz_handler, name=HEALTHZ_ROUTE)
