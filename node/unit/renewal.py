"""Certificate renewal in a running unit: a rotation it asks for by itself when its
certificate nears its end (or has ended), installed without a restart.

A unit's node certificate and its X.509 twin last `centre.certificate_validity_days`
(a year). From RENEW_BEFORE_DAYS before the end the node asks the centre for a new
certificate over new keys, signed by its current key (bootstrap/renewal.py); a certificate
that has ended is renewed the same way once the centre's operator approves. On the answer
the node accepts its directory, writes the files, swaps the keys, and from then on signs
with the new key and presents the new TLS certificate on new connections, both ways.
docs/FEDERATION.md §7 gives the centre's rules, docs/OPERATIONS.md §7 what the operator
sees and does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Protocol

import aiohttp
from aiohttp import web

from lienthong.bootstrap.errors import CentreRefused, CentreUnreachable
from lienthong.bootstrap.renewal import (
    Held,
    Renewed,
    finish_renewal,
    in_progress,
    request_renewal,
)
from lienthong.crypto.errors import LienthongError
from lienthong.crypto.keys import fingerprint
from lienthong.crypto.x509 import reload_context
from lienthong.node.context import NodeContext, ServiceKey
from lienthong.node.datadir import passphrase_of
from lienthong.node.pinning import PINNING
from lienthong.protocol.certificate import NodeCertificate, verify_certificate
from lienthong.storage import audit

log = logging.getLogger("lienthong.renewal")

MS_PER_DAY = 86_400_000
# A year's certificate is renewed in its last 30 days: time for an operator to approve
# (when the centre requires it) and for the renewal to reach every unit well before the
# end, even across a long holiday (Tết) with the office closed.
RENEW_BEFORE_DAYS = 30
# A shorter certificate is renewed when a third of its life is left, so that a new one is
# never due at once (30 days of a 30-day certificate would renew it over and over).
RENEW_BEFORE_FRACTION = 3
# How often the node looks at its certificate: a local file read. (A refusal is not asked
# again until the node restarts: a revoked unit asks once per start.)
RENEWAL_CHECK_SECONDS = 3600
# How often it asks again while the operator has not approved, or the centre was not
# reached: an approval is picked up within minutes, at one small request per unit.
RENEWAL_RETRY_SECONDS = 300

# A 429 (the centre's rate limit) or a 5xx says nothing of the request: asked again later.
TOO_MANY_REQUESTS, SERVER_ERROR = 429, 500

NOT_DUE, PENDING, RENEWED, REFUSED, UNREACHABLE, FAILED = (
    "not due",
    "pending",
    "renewed",
    "refused",
    "unreachable",
    "failed",
)


class RunningNode(Protocol):
    """What renewal needs of node.runtime.Node: its context, its client session and the
    runner of its peer listener (whose TLS contexts it reloads)."""

    ctx: NodeContext
    session: aiohttp.ClientSession | None
    runner: web.AppRunner | None


def renewal_due(cert: NodeCertificate, now: int) -> bool:
    """Whether the certificate is in its renewal window (or has ended)."""
    lifetime = cert.not_after - cert.not_before
    window = min(RENEW_BEFORE_DAYS * MS_PER_DAY, lifetime // RENEW_BEFORE_FRACTION)
    return cert.not_after - now <= window


class Renewal:
    """The renewal task of one running unit; `check()` is one round, `wake()` starts the
    next round now (tests, after moving their clock)."""

    def __init__(self, node: RunningNode) -> None:
        self.node = node
        self.ctx = node.ctx
        self.last = NOT_DUE  # outcome of the last round, for logs and tests
        self.refused: str | None = None  # the centre's refusal: no more requests this run
        self._wake = asyncio.Event()
        self._told_pending = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """A round at start, then every RENEWAL_CHECK_SECONDS (RENEWAL_RETRY_SECONDS while
        an answer is awaited), until `stop` is set."""
        while not stop.is_set():
            self._wake.clear()
            try:
                self.last = await self.check()
            # A data directory that cannot be read, an answer that does not check out:
            # said, and tried again after RENEWAL_RETRY_SECONDS.
            except (LienthongError, OSError) as exc:
                log.error("certificate renewal failed: %s", exc)
                self.last = FAILED
            waiting = self.last in (PENDING, UNREACHABLE, FAILED)
            delay = RENEWAL_RETRY_SECONDS if waiting else RENEWAL_CHECK_SECONDS
            stopped = asyncio.create_task(stop.wait())
            woken = asyncio.create_task(self._wake.wait())
            try:
                await asyncio.wait({stopped, woken}, timeout=delay, return_when="FIRST_COMPLETED")
            finally:
                for task in (stopped, woken):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def check(self) -> str:
        """One round: nothing if the certificate is not due and no renewal is in progress;
        else ask the centre, and install the answer if there is one."""
        config = self.ctx.config
        settings = config.node_settings
        cert = verify_certificate(
            settings.certificate_path.read_bytes(), self.ctx.directory.root_public
        )
        if not in_progress(settings) and not renewal_due(cert, self.ctx.clock()):
            return NOT_DUE
        if self.refused is not None:
            return REFUSED
        try:
            outcome = await request_renewal(
                settings, passphrase=passphrase_of(config), clock=self.ctx.clock
            )
        except CentreRefused as exc:
            if exc.status == TOO_MANY_REQUESTS or exc.status >= SERVER_ERROR:
                log.warning("certificate %s not renewed yet: %s", cert.serial, exc)
                return UNREACHABLE  # the centre is busy or failing: not an answer to this
            self.refused = str(exc)
            log.error(
                "the centre refused to renew certificate %s (not asked again until the node "
                "restarts): %s",
                cert.serial,
                exc,
            )
            await self._audit("certificate.renewal_refused", cert.serial, {"reason": str(exc)})
            return REFUSED
        except CentreUnreachable as exc:
            log.warning("certificate %s not renewed yet: %s", cert.serial, exc)
            return UNREACHABLE
        if isinstance(outcome, Held):
            if not self._told_pending:
                key = fingerprint(outcome.sign_public)
                log.warning(
                    "certificate %s: renewal requested with key %s: %s",
                    cert.serial,
                    key,
                    outcome.message,
                )
                await self._audit("certificate.renewal_pending", cert.serial, {"key": key})
                self._told_pending = True
            return PENDING
        await self._install(outcome)
        return RENEWED

    async def _install(self, renewed: Renewed) -> None:
        ctx = self.ctx
        directory = renewed.answer.directory
        if directory.version > ctx.directory.version:
            await ctx.directory.accept(
                directory.raw, source=f"certificate renewal at {renewed.centre_url}"
            )
        finish_renewal(ctx.config.node_settings, renewed)
        ctx.keys = renewed.keys
        try:
            reload_tls(self.node)
        except LienthongError as exc:  # the files are in place: a restart presents them
            log.error(
                "renewed, but the new TLS certificate is not in use: restart the node: %s", exc
            )
        self._told_pending = False
        cert = renewed.answer.certificate
        log.info(
            "certificate %s renewed as %s, valid until %s",
            renewed.old_serial,
            cert.serial,
            cert.not_after,
        )
        await self._audit(
            "certificate.renewed",
            renewed.old_serial,
            {"serial": cert.serial, "not_after": cert.not_after, "key": fingerprint(cert.sign_key)},
        )

    async def _audit(self, action: str, serial: int, details: dict[str, object]) -> None:
        async with self.ctx.store.write() as tx:
            await audit.append(
                tx,
                at=self.ctx.clock(),
                actor="node",
                action=action,
                subject=f"certificate {serial}",
                details=details,
            )


RENEWAL = ServiceKey("renewal", Renewal)


async def renewal_loop(node: RunningNode, stop: asyncio.Event) -> None:
    """The unit's renewal task (node.runtime starts it); reachable as ctx.services[RENEWAL]."""
    renewal = Renewal(node)
    node.ctx.services.put(RENEWAL, renewal)
    await renewal.run(stop)


def reload_tls(node: RunningNode) -> None:
    """Present the new TLS certificate from now on, both ways: load it into the contexts the
    node made at start (its peer listener's and its client session's) and forget the pinned
    client contexts (node/pinning.py), so the next ones load it. Connections opened under
    the old certificate are not reused: the pinned ones belonged to the forgotten contexts,
    and the session's own close after aiohttp's keep-alive (15 s).

    aiohttp offers no public handle on a site's or a connector's context; they are read
    here only, and tests/node/test_renewal.py fails if a version of aiohttp moves them.
    """
    config = node.ctx.config
    contexts: list[ssl.SSLContext] = []
    if node.runner is not None:
        contexts += [site._ssl_context for site in node.runner.sites if site._ssl_context]
    connector = node.session.connector if node.session is not None else None
    if isinstance(getattr(connector, "_ssl", None), ssl.SSLContext):
        contexts.append(connector._ssl)  # type: ignore[union-attr]
    if len(contexts) < 2:  # a listener and a client, unless aiohttp moved them
        log.error(
            "the node's TLS contexts were not all found: restart it to present its new "
            "TLS certificate on every connection"
        )
    passphrase = passphrase_of(config)
    for context in contexts:
        reload_context(
            context, config.tls_cert_path, config.tls_key_path, config.ca_path, passphrase
        )
    pinning = node.ctx.services.get(PINNING)
    if pinning is not None:
        pinning.forget()
