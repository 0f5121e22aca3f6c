"""Unit reports end to end: a unit's figures signed and posted over mutual TLS, the centre's
checks (signer = TLS peer, freshness, clock, size) and what it keeps; the sending loop."""

from __future__ import annotations

import asyncio
import json
import ssl

import aiohttp
import pytest
from aiohttp import web

from lienthong.crypto import x509 as tls
from lienthong.node import __version__
from lienthong.node.centre.api import add_centre_routes
from lienthong.node.centre.reports import receive_report
from lienthong.node.context import CONTEXT
from lienthong.node.peers import peer_middleware
from lienthong.node.unit.report import (
    REPORT_PATH,
    REPORT_WINDOW_DAYS,
    build_report,
    report_loop,
    send_report,
)
from lienthong.protocol.errors import SignerMismatch
from lienthong.protocol.report import (
    MAX_REPORT_BYTES,
    Report,
    ReportRefused,
    StaleReport,
    day_of,
    sign_report,
    verify_report,
)
from lienthong.protocol.wire import unwrap, wrap
from lienthong.storage import audit
from lienthong.storage.centre import get_unit, put_unit
from lienthong.storage.reports import latest_report, report_days
from tests.node.tls_federation import CENTRE, A, B, Federation, federation, send
from tests.node.web.test_web_support import deliver

CONTENT_TYPE = "application/x-lienthong"


@pytest.fixture
async def fed(tmp_path):
    """A centre and three units over mutual TLS; the centre also serves its centre API."""
    async with federation(tmp_path) as built:
        app = web.Application(middlewares=[peer_middleware])
        app[CONTEXT] = built.centre
        add_centre_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        context = tls.server_context(*built.pem[CENTRE], built.ca_path)
        context.verify_mode = ssl.CERT_OPTIONAL
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        url = f"https://127.0.0.1:{runner.addresses[0][1]}"
        built.certify_endpoint(CENTRE, url)  # the centre's certificate lists this server too
        for unit in built.units.values():  # the units report to this server
            unit.ctx.config.values["federation"]["centre_url"] = url
        built.report_url = url  # type: ignore[attr-defined]
        try:
            yield built
        finally:
            await runner.cleanup()


async def _audited(fed: Federation, action: str) -> list[audit.AuditEntry]:
    async with fed.centre.store.read() as conn:
        return [e for e in await audit.entries(conn, limit=1000) if e.action == action]


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, dict]:
    async with session.post(
        url + REPORT_PATH, data=body, headers={"Content-Type": CONTENT_TYPE}
    ) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else {}


async def test_a_unit_reports_its_figures_over_mutual_tls(fed):
    """A sends to B; both report: the centre keeps A's sent and delivery time, B's received
    and open document, the node version, and marks each unit seen."""
    a, b = fed.units[A], fed.units[B]
    async with fed.centre.store.write() as tx:
        await put_unit(tx, A, "Unit A", "Đã triển khai", "active", 1)
    envelope_id, _ = await send(a, [B])
    await deliver(a.ctx, b.ctx, envelope_id)
    await send_report(a.ctx, a.session)
    await send_report(b.ctx, b.session)
    today = day_of(fed.clock())
    async with fed.centre.store.read() as conn:
        held_a = await latest_report(conn, A)
        held_b = await latest_report(conn, B)
        days = {(d.code, d.figures.day): d.figures for d in await report_days(conn, today, today)}
        unit_a = await get_unit(conn, A)
    assert held_a is not None and held_b is not None
    assert held_a.node_version == __version__ and held_a.received_at == fed.clock()
    assert (held_a.unprocessed, held_b.unprocessed) == (0, 1)
    assert days[(A, today)].sent == 1 and sum(days[(A, today)].delivery) == 1
    assert days[(B, today)].received == 1 and days[(B, today)].sent == 0
    assert unit_a is not None and unit_a.last_seen == fed.clock()
    report = verify_report(held_a.raw, fed.centre.directory.key_lookup).report
    assert len(report.days) == REPORT_WINDOW_DAYS and report.days[-1].day == today


async def test_a_unit_cannot_report_for_another(fed):
    """B posting A's report: 403 SignerMismatch, audited, nothing stored."""
    raw = await build_report(fed.units[A].ctx)
    status, answer = await _post(fed.units[B].session, fed.report_url, raw)
    assert (status, answer["error"]) == (403, "SignerMismatch")
    assert "reports its own figures" in answer["message"]
    async with fed.centre.store.read() as conn:
        assert await latest_report(conn, A) is None
    (entry,) = await _audited(fed, "report.refused")
    assert entry.actor == B and entry.details["error"] == "SignerMismatch"


async def test_without_a_client_certificate_a_report_is_refused(fed):
    """No client certificate: 403 UnknownPeer before the body is looked at."""
    context = ssl.create_default_context(cafile=str(fed.ca_path))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as anonymous:
        status, answer = await _post(anonymous, fed.report_url, b"\x80")
    assert (status, answer["error"]) == (403, "UnknownPeer")


async def test_bad_bytes_are_refused_with_their_error_name(fed):
    """Garbage is 400 DecodeError; a body over the limit is 413 RequestTooLarge."""
    session = fed.units[A].session
    status, answer = await _post(session, fed.report_url, b"\x92\x01")
    assert status == 400 and answer["error"] in ("DecodeError", "InvalidField")
    status, answer = await _post(session, fed.report_url, b"\x80" * (MAX_REPORT_BYTES + 1))
    assert (status, answer["error"]) == (413, "RequestTooLarge")
    assert len(await _audited(fed, "report.refused")) == 2


async def test_send_report_raises_the_centres_refusal(fed):
    """A refusal reaches the unit as ReportRefused with the centre's status and error name."""
    a = fed.units[A]
    await send_report(a.ctx, a.session)
    fed.clock.now -= 60_000  # the unit's clock goes back: its next report is older
    with pytest.raises(ReportRefused, match="StaleReport") as refused:
        await send_report(a.ctx, a.session)
    assert refused.value.status == 409 and refused.value.name == "StaleReport"


def _signed(fed: Federation, code: str, at: int) -> bytes:
    serial = fed.serial(code)
    return sign_report(fed.units[code].ctx.keys, Report(code, serial, at, "0.1.0", 0, ()))


async def test_the_centre_keeps_only_newer_reports(fed):
    """Same bytes again: taken (idempotent). Older or same-time other bytes: StaleReport."""
    now = fed.clock()
    newer, older = _signed(fed, A, now), _signed(fed, A, now - 1)
    assert await receive_report(fed.centre, newer, peer=A) == 0
    assert await receive_report(fed.centre, newer, peer=A) == 0
    with pytest.raises(StaleReport, match="holds a report"):
        await receive_report(fed.centre, older, peer=A)
    other = sign_report(fed.units[A].ctx.keys, Report(A, fed.serial(A), now, "9.9.9", 1, ()))
    with pytest.raises(StaleReport):
        await receive_report(fed.centre, other, peer=A)
    async with fed.centre.store.read() as conn:
        held = await latest_report(conn, A)
    assert held is not None and held.raw == newer


async def test_a_report_from_the_future_is_refused(fed):
    """A report dated beyond the clock tolerance: ClockSkew (422), nothing stored."""
    skew = fed.centre.config.get("security", "clock_skew_seconds") * 1000
    raw = _signed(fed, A, fed.clock() + skew + 1)
    with pytest.raises(ReportRefused, match="check the unit's clock") as refused:
        await receive_report(fed.centre, raw, peer=A)
    assert (refused.value.status, refused.value.name) == (422, "ClockSkew")
    async with fed.centre.store.read() as conn:
        assert await latest_report(conn, A) is None


async def test_a_forged_report_is_refused(fed):
    """B's key signing under A's hint: 403 BadSignature."""
    raw = _signed(fed, B, fed.clock())
    wrapper = unwrap(raw, what="t", max_bytes=MAX_REPORT_BYTES)
    forged = wrap(wrapper.signed, wrapper.sig, f"{A}:{fed.serial(A)}")
    with pytest.raises(ReportRefused) as refused:
        await receive_report(fed.centre, forged, peer=A)
    assert (refused.value.status, refused.value.name) == (403, "BadSignature")
    with pytest.raises(ReportRefused) as refused:
        await receive_report(fed.centre, raw, peer=A)
    assert refused.value.name == SignerMismatch.__name__


class RecordingSession:
    """Stands in for the unit's TLS session: records each report posted, answers 204."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, bytes]] = []
        self.arrived = asyncio.Event()

    def post(self, url: str, *, data: bytes, **_: object):
        session = self

        class Answer:
            status = 204

            async def __aenter__(self):
                session.posted.append((url, data))
                session.arrived.set()
                return self

            async def __aexit__(self, *exc: object) -> None:
                return None

        return Answer()


async def test_the_loop_reports_soon_after_start_and_stops_when_asked(fed):
    """report_loop posts a first report after `first` seconds, then waits for `interval`."""
    a = fed.units[A]
    session = RecordingSession()
    stop = asyncio.Event()
    task = asyncio.create_task(report_loop(a.ctx, session, stop, first=0, interval=3600))
    await asyncio.wait_for(session.arrived.wait(), 30)
    stop.set()
    await asyncio.wait_for(task, 30)
    ((url, raw),) = session.posted
    assert url == fed.report_url + REPORT_PATH
    assert verify_report(raw, fed.centre.directory.key_lookup).report.sender == A
