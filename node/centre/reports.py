"""Unit reports, the receiving half: the centre checks each unit's signed figures and keeps
the newest (protocol/report.py, docs/PROTOCOL.md "Unit report"), with the envelope versions
the unit declares: a change signs the next directory (node/centre/rules.py)."""

from __future__ import annotations

from lienthong.crypto.errors import LienthongError
from lienthong.node.centre.rules import centre_of
from lienthong.node.context import NodeContext
from lienthong.protocol.directory import Directory
from lienthong.protocol.errors import (
    BadSignature,
    ClockSkew,
    Expired,
    ProtocolError,
    Revoked,
    SignerMismatch,
    UnknownSigner,
)
from lienthong.protocol.report import MAX_REPORT_BYTES, ReportRefused, StaleReport, verify_report
from lienthong.storage import audit
from lienthong.storage.centre import get_unit, touch_unit
from lienthong.storage.reports import latest_report, save_report

# Which refusal answers with which HTTP status (docs/PROTOCOL.md, "POST /v1/report").
_FORBIDDEN = (BadSignature, UnknownSigner, Revoked, Expired, SignerMismatch)


def _refusal(exc: LienthongError) -> ReportRefused:
    if isinstance(exc, ReportRefused):
        return exc
    status = 403 if isinstance(exc, _FORBIDDEN) else 422 if isinstance(exc, ClockSkew) else 400
    return ReportRefused(str(exc), status, type(exc).__name__)


async def receive_report(ctx: NodeContext, raw: bytes, *, peer: str) -> int:
    """Check a report from the verified TLS peer and keep it; returns the days stored.

    Refusals raise ReportRefused (audited as `report.refused`) and store nothing.
    """
    try:
        return await _receive(ctx, raw, peer)
    except (ReportRefused, ProtocolError, ClockSkew) as exc:
        refusal = _refusal(exc)
        async with ctx.store.write() as tx:
            await audit.append(
                tx,
                at=ctx.clock(),
                actor=peer,
                action="report.refused",
                subject=peer,
                details={"error": refusal.name, "reason": str(refusal)[:500]},
            )
        raise refusal from None


async def _receive(ctx: NodeContext, raw: bytes, peer: str) -> int:
    if len(raw) > MAX_REPORT_BYTES:
        raise ReportRefused(
            f"the report is over the limit of {MAX_REPORT_BYTES} bytes", 413, "RequestTooLarge"
        )
    report = verify_report(raw, ctx.directory.key_lookup).report
    if report.sender != peer:
        raise SignerMismatch(
            f"report of {report.sender} sent by {peer}: a unit reports its own figures"
        )
    now = ctx.clock()
    skew = ctx.config.get("security", "clock_skew_seconds") * 1000
    if report.at > now + skew:
        raise ClockSkew(
            f"report made at {report.at}, more than {skew // 1000} s after the centre's time "
            f"{now}: check the unit's clock"
        )
    signed: Directory | None = None
    async with ctx.store.write() as tx:
        held = await latest_report(tx, peer)
        if held is not None and held.raw == raw:
            return len(report.days)  # the same report again
        if held is not None and report.at <= held.at:
            raise StaleReport(
                f"the centre holds a report of {peer} made at {held.at}; this one was made "
                f"at {report.at}"
            )
        await save_report(tx, report, raw, received_at=now)
        await touch_unit(tx, peer, now)
        unit = await get_unit(tx, peer)
        if unit is not None and unit.protocols != report.protocols:
            signed = await centre_of(ctx).declare_protocols(tx, unit, report.protocols)
    if signed is not None:
        centre_of(ctx).publish(signed)
    return len(report.days)
