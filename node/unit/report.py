"""Unit reports, the sending half: each unit tells the centre its own figures (sent,
received, delivery times, failures, open documents) and the envelope versions it reads,
over mutual TLS.

The centre sees only what passes its relay, so the pilot report rests on what the
units state, signed with their keys (protocol/report.py, docs/PROTOCOL.md "Unit
report"). A unit reports soon after it starts and then every REPORT_INTERVAL_SECONDS;
the centre states the versions it reads in the next directory, so an upgraded unit
gets version-2 envelopes within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import aiohttp

from lienthong.bootstrap.directory import centre_url_of
from lienthong.crypto.errors import LienthongError
from lienthong.node import __version__
from lienthong.node.context import NodeContext
from lienthong.node.pinning import pinning_of
from lienthong.protocol.envelope import ENVELOPE_VERSIONS
from lienthong.protocol.peer import CONTENT_TYPE
from lienthong.protocol.report import (
    MS_PER_DAY,
    Report,
    ReportRefused,
    sign_report,
)
from lienthong.storage.reports import unit_figures

log = logging.getLogger("lienthong.report")

# Every ten minutes: the console is never more than that behind, and 26 units make a few
# small requests an hour each.
REPORT_INTERVAL_SECONDS = 600
# Soon after start, so a restarted unit shows its version and figures at once, and an
# upgraded one is known to read version 2; a little later than the first directory
# refresh (which brings the form-2 directory that lets it say so) and the relay pull.
FIRST_REPORT_SECONDS = 15
# Each report restates the last 31 days: a receipt or a failure that comes late still
# reaches the day its document was sent.
REPORT_WINDOW_DAYS = 31
REPORT_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)
# A refusal is a short JSON message; more than this is not read.
MAX_ANSWER_BYTES = 64 * 1024
REPORT_PATH = "/v1/report"


class ReportError(LienthongError):
    """A report could not be made or sent; the message says why."""


def _own_serial(ctx: NodeContext) -> int:
    directory = ctx.directory.current
    cert = directory.current(ctx.config.code) if directory else None
    if cert is None or cert.sign_key != ctx.keys.sign_public:
        raise ReportError(
            f"unit {ctx.config.code} has no certificate for its current key in the directory"
        )
    return cert.serial


def reads(ctx: NodeContext) -> tuple[int, ...]:
    """The envelope versions this report declares: all this node reads, once it holds a
    form-2 directory (its centre signs form 2, so it reads the field); before that only
    version 1, which a version-1 centre takes (it refuses an unknown field)."""
    directory = ctx.directory.current
    return ENVELOPE_VERSIONS if directory is not None and directory.form == 2 else (1,)


async def build_report(ctx: NodeContext) -> bytes:
    """This unit's signed report of its last REPORT_WINDOW_DAYS days, as of now."""
    now = ctx.clock()
    async with ctx.store.read() as conn:
        days, unprocessed = await unit_figures(
            conn, now - (REPORT_WINDOW_DAYS - 1) * MS_PER_DAY, now
        )
    report = Report(
        sender=ctx.config.code,
        serial=_own_serial(ctx),
        at=now,
        node_version=__version__,
        unprocessed=unprocessed,
        days=tuple(days),
        protocols=reads(ctx),
    )
    return sign_report(ctx.keys, report)


async def send_report(ctx: NodeContext, session: aiohttp.ClientSession) -> None:
    """Make a report and post it to the centre; ReportRefused or a network error if not taken."""
    base = centre_url_of(ctx.config.federation, ctx.directory)
    if not base:
        raise ReportError("no centre URL (federation.centre_url) and no directory")
    raw = await build_report(ctx)
    async with session.post(
        base.rstrip("/") + REPORT_PATH,
        data=raw,
        headers={"Content-Type": CONTENT_TYPE},
        timeout=REPORT_TIMEOUT,
        ssl=pinning_of(ctx).for_url(base),
    ) as response:
        if response.status in (200, 204):
            return
        body = bytearray()
        while len(body) < MAX_ANSWER_BYTES and (chunk := await response.content.readany()):
            body += chunk
    try:
        answer = json.loads(body)
        name, message = str(answer["error"]), str(answer["message"])
    except (ValueError, KeyError, TypeError):
        name, message = "HTTP", bytes(body[:200]).decode("utf-8", "replace")
    raise ReportRefused(f"{name}: {message}", response.status, name)


async def report_loop(
    ctx: NodeContext,
    session: aiohttp.ClientSession,
    stop: asyncio.Event,
    *,
    first: float = FIRST_REPORT_SECONDS,
    interval: float = REPORT_INTERVAL_SECONDS,
) -> None:
    """Report once soon after start, then every `interval` seconds, until `stop` is set."""
    delay = first
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return
        delay = interval
        try:
            await send_report(ctx, session)
        except (aiohttp.ClientError, OSError, TimeoutError, ReportError) as exc:
            log.info("report to the centre not sent (next in %ds): %s", interval, exc)
        except LienthongError as exc:  # a refusal, or this node's store failed
            log.warning("report to the centre failed (next in %ds): %s", interval, exc)
