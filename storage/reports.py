"""Unit reports in SQL: a unit's own figures from its store, and at the centre the newest
report of each unit, its figures per day and the console's view of the units."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from lienthong.protocol.report import (
    DAY_UTC_OFFSET_MS,
    DELIVERY_BUCKETS,
    MS_PER_DAY,
    DayFigures,
    Report,
    bucket_of,
    day_from_number,
)
from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import StoreError

# Incoming documents still to be dealt with: everything but completed, rejected, recalled
# (protocol.states.DocState).
OPEN_STATES = ("arrived", "accepted", "assigned", "in_progress")
# Deliveries that will not arrive unless an operator sends them again (protocol.delivery).
FAILED_STATES = ("failed", "expired", "dead")
# Days the console reads at once: a year of pilot, with room.
MAX_RANGE_DAYS = 400
# Statement fragment that turns a Unix-ms column into its report-day number (UTC+07:00).
_DAY = f"(({{column}} + {DAY_UTC_OFFSET_MS}) / {MS_PER_DAY})"


@dataclass(frozen=True)
class ReportRecord:
    """The newest report the centre holds from one unit."""

    code: str
    serial: int
    at: int
    received_at: int
    node_version: str
    unprocessed: int
    raw: bytes


@dataclass(frozen=True)
class UnitOverview:
    """One row of the centre console's units table."""

    code: str
    name: str
    state: str  # deployment state, 'Đã triển khai' or 'Thử nghiệm'
    status: str  # 'pending', 'active' or 'revoked'
    last_seen: int | None
    serial: int | None
    awaiting_approval: bool  # an enrolment or a renewal waits for the operator
    node_version: str | None  # from the unit's newest report
    reported_at: int | None
    relay_queue: int  # envelopes and statuses waiting in its relay mailbox


@dataclass(frozen=True)
class UnitDay:
    code: str
    figures: DayFigures


# -- at a unit: its own figures -------------------------------------------------------------


def _day_expr(column: str) -> str:
    return _DAY.format(column=column)


async def unit_figures(conn: Queryable, since: int, until: int) -> tuple[list[DayFigures], int]:
    """This unit's figures for every report day from the one holding `since` to the one
    holding `until` (zeros included), and how many incoming documents are still open.

    Documents count on the day they were sent or arrived; a delivery time (sending to
    the recipient's first 01) and a failed delivery count on the day its document was sent.
    """
    if until < since:
        raise StoreError("the end of a report window comes before its start")
    first, last = (
        (since + DAY_UTC_OFFSET_MS) // MS_PER_DAY,
        (until + DAY_UTC_OFFSET_MS) // MS_PER_DAY,
    )
    if last - first >= MAX_RANGE_DAYS:
        raise StoreError(f"a report window is at most {MAX_RANGE_DAYS} days")
    start = first * MS_PER_DAY - DAY_UTC_OFFSET_MS
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for direction, name in (("out", "sent"), ("in", "received")):
        rows = await conn.fetchall(
            f"SELECT {_day_expr('created_at')}, count(*) FROM documents"  # noqa: S608 - constants
            f" WHERE direction = '{direction}' AND created_at >= ? AND created_at <= ?"
            " GROUP BY 1",
            (start, until),
        )
        for day, count in rows:
            counts[day][name] = count
    marks = ", ".join("?" * len(FAILED_STATES))
    rows = await conn.fetchall(
        f"SELECT {_day_expr('d.created_at')}, count(*) FROM documents d"  # noqa: S608
        " JOIN outbox o ON o.envelope_id = d.id"
        f" WHERE d.direction = 'out' AND d.created_at >= ? AND d.created_at <= ?"
        f" AND o.state IN ({marks}) GROUP BY 1",
        (start, until, *FAILED_STATES),
    )
    for day, count in rows:
        counts[day]["failures"] = count
    histograms: dict[int, list[int]] = defaultdict(lambda: [0] * DELIVERY_BUCKETS)
    rows = await conn.fetchall(
        "SELECT d.created_at, min(s.at) FROM documents d"
        " JOIN outbox o ON o.envelope_id = d.id"
        " JOIN status_events s ON s.envelope_id = d.id AND s.from_code = o.recipient"
        "  AND s.code = 1 AND s.direction = 'in'"
        " WHERE d.direction = 'out' AND d.created_at >= ? AND d.created_at <= ?"
        " GROUP BY o.envelope_id, o.recipient",
        (start, until),
    )
    for sent_at, arrived_at in rows:
        day = (sent_at + DAY_UTC_OFFSET_MS) // MS_PER_DAY
        histograms[day][bucket_of(arrived_at - sent_at)] += 1
    days = [
        DayFigures(
            day_from_number(n),
            counts[n].get("sent", 0),
            counts[n].get("received", 0),
            counts[n].get("failures", 0),
            tuple(histograms[n]) if n in histograms else (0,) * DELIVERY_BUCKETS,
        )
        for n in range(first, last + 1)
    ]
    marks = ", ".join("?" * len(OPEN_STATES))
    row = await conn.fetchone(
        f"SELECT count(*) FROM documents WHERE direction = 'in' AND state IN ({marks})",  # noqa: S608
        OPEN_STATES,
    )
    return days, int(row[0]) if row else 0


# -- at the centre: reports as received ------------------------------------------------------


def _delivery_text(counts: tuple[int, ...]) -> str:
    return " ".join(str(c) for c in counts)


def _delivery(text: str) -> tuple[int, ...]:
    counts = tuple(int(c) for c in text.split())
    return counts if len(counts) == DELIVERY_BUCKETS else (0,) * DELIVERY_BUCKETS


async def latest_report(conn: Queryable, code: str) -> ReportRecord | None:
    row = await conn.fetchone(
        "SELECT code, serial, at, received_at, node_version, unprocessed, raw"
        " FROM unit_reports WHERE code = ?",
        (code,),
    )
    return None if row is None else ReportRecord(*row[:6], bytes(row[6]))


async def latest_reports(conn: Queryable) -> dict[str, ReportRecord]:
    """The newest report of every unit that has reported, by unit code."""
    rows = await conn.fetchall(
        "SELECT code, serial, at, received_at, node_version, unprocessed, raw FROM unit_reports"
    )
    return {r[0]: ReportRecord(*r[:6], bytes(r[6])) for r in rows}


async def save_report(tx: Tx, report: Report, raw: bytes, *, received_at: int) -> None:
    """Keep `report` as the unit's newest and its days as the figures of those days.

    The caller has verified it and checked that it is newer than the one held.
    """
    await tx.execute(
        "INSERT INTO unit_reports (code, serial, at, received_at, node_version, unprocessed, raw)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET serial = excluded.serial,"
        " at = excluded.at, received_at = excluded.received_at,"
        " node_version = excluded.node_version, unprocessed = excluded.unprocessed,"
        " raw = excluded.raw",
        (
            report.sender,
            report.serial,
            report.at,
            received_at,
            report.node_version,
            report.unprocessed,
            raw,
        ),
    )
    await tx.executemany(
        "INSERT INTO unit_report_days (code, day, sent, received, failures, delivery)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (code, day) DO UPDATE SET"
        " sent = excluded.sent, received = excluded.received, failures = excluded.failures,"
        " delivery = excluded.delivery",
        [
            (report.sender, d.day, d.sent, d.received, d.failures, _delivery_text(d.delivery))
            for d in report.days
        ],
    )


async def report_days(conn: Queryable, first: str, last: str) -> list[UnitDay]:
    """Every unit's figures for the days `first` to `last` (YYYY-MM-DD, both included)."""
    rows = await conn.fetchall(
        "SELECT code, day, sent, received, failures, delivery FROM unit_report_days"
        " WHERE day >= ? AND day <= ? ORDER BY day, code",
        (first, last),
    )
    return [UnitDay(r[0], DayFigures(r[1], r[2], r[3], r[4], _delivery(r[5]))) for r in rows]


async def units_overview(conn: Queryable) -> list[UnitOverview]:
    """The centre's units with what the console shows beside them, by code."""
    rows = await conn.fetchall(
        "SELECT u.code, u.name, u.state, u.status, u.last_seen,"
        " (SELECT max(c.serial) FROM centre_certificates c"
        "  WHERE c.code = u.code AND c.revoked_at IS NULL),"
        " EXISTS (SELECT 1 FROM centre_tokens t WHERE t.code = u.code AND t.used_at IS NOT NULL"
        "  AND t.serial IS NULL AND t.cancelled_at IS NULL)"
        " OR EXISTS (SELECT 1 FROM centre_renewals w WHERE w.code = u.code"
        "  AND w.serial IS NULL AND w.closed_at IS NULL),"
        " r.node_version, r.received_at,"
        " (SELECT count(*) FROM relay_mailbox m WHERE m.recipient = u.code"
        "  AND m.kind IN ('envelope', 'status'))"
        " FROM centre_units u LEFT JOIN unit_reports r ON r.code = u.code ORDER BY u.code"
    )
    return [
        UnitOverview(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], int(r[9]))
        for r in rows
    ]
