"""Unit reports: a unit's own figures per day (documents sent and received, delivery times,
failures) and its open incoming documents, signed for the centre's pilot report; and the
envelope versions the unit reads, which the centre states in the directory.

The centre cannot see documents that travel directly between units, so each unit
states its own figures. Layout: docs/PROTOCOL.md, "Unit report". Pure: bytes in,
values out; node/unit/report.py sends them and node/centre/reports.py receives them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lienthong.crypto import signing
from lienthong.crypto.keys import NodeKeys
from lienthong.protocol.directory import read_versions
from lienthong.protocol.errors import InvalidField, ProtocolError
from lienthong.protocol.wire import (
    Fields,
    check_header,
    sign_unit_message,
    verify_unit_message,
)

WHAT = "report"
KIND = "report"
# A report is 7 fields and at most MAX_REPORT_DAYS days of ~90 bytes each (about 6 KiB);
# 16 KiB, the size of a status, leaves room without letting a report grow unbounded.
MAX_REPORT_BYTES = 16 * 1024
# Days in one report: a unit restates its last 31 (node/unit/report.py); twice that is the most
# a receiver accepts, so a unit reporting a longer window is still understood.
MAX_REPORT_DAYS = 62
# Any count of one day. A province sends thousands of documents a day; the bound keeps every
# integer small and every sum of a year of reports exact.
MAX_DAY_COUNT = 10**9
# Open incoming documents of a unit: the same bound.
MAX_UNPROCESSED = 10**9
# The unit's software version as it prints it, e.g. "0.1.0".
MAX_NODE_VERSION = 32
# Delivery-time histogram. Bucket i counts deliveries that took at least the bound before it
# (0 for the first) and less than DELIVERY_BUCKET_BOUNDS_MS[i]; the last bucket counts the
# rest (a day or more). Direct delivery on a LAN takes under a second, the relay seconds,
# a unit that is off for the night hours. Every report carries exactly DELIVERY_BUCKETS counts.
DELIVERY_BUCKET_BOUNDS_MS = (
    1_000,
    5_000,
    15_000,
    60_000,
    300_000,
    900_000,
    3_600_000,
    14_400_000,
    86_400_000,
)
DELIVERY_BUCKETS = len(DELIVERY_BUCKET_BOUNDS_MS) + 1
# A report's days are calendar dates in Vietnam's time (ICT, UTC+07:00, no daylight saving):
# the clerk's working day, the same for every unit of the federation.
DAY_UTC_OFFSET_MS = 7 * 3_600_000
MS_PER_DAY = 86_400_000

KeyLookup = Callable[[str, int], bytes]


@dataclass(frozen=True, slots=True)
class DayFigures:
    """What one unit did on one day (documents by the day they were sent or received)."""

    day: str  # YYYY-MM-DD, in UTC+07:00
    sent: int = 0  # outgoing documents sent that day
    received: int = 0  # incoming documents that arrived that day
    failures: int = 0  # deliveries of that day's documents that failed or expired at the relay
    delivery: tuple[int, ...] = (0,) * DELIVERY_BUCKETS  # histogram, one count per recipient


@dataclass(frozen=True, slots=True)
class Report:
    sender: str  # the reporting unit
    serial: int  # its certificate serial (the key that signs)
    at: int  # when the report was made, Unix ms (the unit's clock)
    node_version: str
    unprocessed: int  # incoming documents not yet completed, rejected or recalled
    days: tuple[DayFigures, ...] = ()
    # The envelope versions the unit reads (docs/PROTOCOL.md 15): sorted, with 1. Written only
    # when it reads more than version 1: a version-1 centre refuses the field.
    protocols: tuple[int, ...] = (1,)


_VERIFIED = object()


@dataclass(frozen=True, slots=True)
class VerifiedReport:
    """A report whose signature has been checked; only verify_report makes one."""

    report: Report
    raw: bytes
    _token: object

    def __post_init__(self) -> None:
        if self._token is not _VERIFIED:
            raise TypeError("a VerifiedReport is made by protocol.report.verify_report only")


def day_of(ms: int) -> str:
    """The report day (YYYY-MM-DD in UTC+07:00) of a Unix-ms time."""
    return day_from_number((ms + DAY_UTC_OFFSET_MS) // MS_PER_DAY)


def day_from_number(number: int) -> str:
    """The date `number` days after 1970-01-01 (how SQL groups times into report days)."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=number)).isoformat()


def day_start_ms(day: str) -> int:
    """Unix ms of the first moment of a report day."""
    number = (dt.date.fromisoformat(day) - dt.date(1970, 1, 1)).days
    return number * MS_PER_DAY - DAY_UTC_OFFSET_MS


def bucket_of(ms: int) -> int:
    """The histogram bucket of a delivery that took `ms` (a negative time, clock skew: 0)."""
    for i, bound in enumerate(DELIVERY_BUCKET_BOUNDS_MS):
        if ms < bound:
            return i
    return DELIVERY_BUCKETS - 1


def quantile_ms(buckets: Sequence[int], q: float) -> float | None:
    """Estimate the q-quantile of a histogram, linear within its bucket (as Prometheus does).

    None when it is empty; math.inf when the quantile falls in the open last bucket.
    """
    if len(buckets) != DELIVERY_BUCKETS:
        raise ValueError(f"a histogram has {DELIVERY_BUCKETS} buckets, not {len(buckets)}")
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen, lower = 0, 0.0
    for i, count in enumerate(buckets):
        upper = DELIVERY_BUCKET_BOUNDS_MS[i] if i < len(DELIVERY_BUCKET_BOUNDS_MS) else math.inf
        if count and seen + count >= rank:
            if upper == math.inf:
                return math.inf
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = upper
    return math.inf


def report_fields(report: Report) -> dict[str, Any]:
    """A report's signed fields after `v` and `kind`, as the wire map holds them."""
    fields: dict[str, Any] = {
        "sender": report.sender,
        "serial": report.serial,
        "at": report.at,
        "node_version": report.node_version,
        "unprocessed": report.unprocessed,
        "days": [
            {
                "day": d.day,
                "sent": d.sent,
                "received": d.received,
                "failures": d.failures,
                "delivery": list(d.delivery),
            }
            for d in report.days
        ],
    }
    if report.protocols != (1,):
        fields["protocols"] = list(report.protocols)
    return fields


def sign_report(keys: NodeKeys, report: Report) -> bytes:
    """Check and sign a report; returns the wire bytes (signer hint `<unit code>:<serial>`)."""
    return sign_unit_message(
        keys.signing,
        {"v": 1, "kind": KIND, **report_fields(report)},
        what=WHAT,
        max_bytes=MAX_REPORT_BYTES,
        domain=signing.REPORT,
        decode=_decode,
    )


def verify_report(raw: bytes, lookup: KeyLookup) -> VerifiedReport:
    """Verify the signature over the exact signed bytes, then decode and check them."""
    report = verify_unit_message(
        raw,
        what=WHAT,
        max_bytes=MAX_REPORT_BYTES,
        domain=signing.REPORT,
        lookup=lookup,
        decode=_decode,
    )
    return VerifiedReport(report=report, raw=bytes(raw), _token=_VERIFIED)


def _day(value: Any, index: int) -> DayFigures:
    what = f"{WHAT}: days[{index}]"
    f = Fields(value, what)
    day = f.date("day")
    counts = [f.int(key, hi=MAX_DAY_COUNT) for key in ("sent", "received", "failures")]
    delivery = f.list("delivery", max_items=DELIVERY_BUCKETS)
    f.done()
    if len(delivery) != DELIVERY_BUCKETS:
        raise InvalidField(
            what, "delivery", f"expected {DELIVERY_BUCKETS} counts, got {len(delivery)}"
        )
    for i, count in enumerate(delivery):
        if type(count) is not int or not 0 <= count <= MAX_DAY_COUNT:
            raise InvalidField(what, f"delivery[{i}]", f"expected an integer 0..{MAX_DAY_COUNT}")
    return DayFigures(day, *counts, delivery=tuple(delivery))


def _decode(value: Any) -> Report:
    f = Fields(value, WHAT)
    check_header(f, WHAT, KIND)
    sender = f.code("sender")
    serial = f.int("serial", hi=2**53)
    at = f.int("at", hi=2**48 - 1)
    node_version = f.str("node_version", min_len=1, max_len=MAX_NODE_VERSION)
    unprocessed = f.int("unprocessed", hi=MAX_UNPROCESSED)
    items = f.list("days", max_items=MAX_REPORT_DAYS)
    listed = f.raw("protocols", optional=True)
    f.done()
    protocols = (1,) if listed is None else read_versions(listed, WHAT, "protocols")
    days = tuple(_day(item, i) for i, item in enumerate(items))
    for i in range(1, len(days)):
        if days[i].day <= days[i - 1].day:
            raise InvalidField(
                WHAT, f"days[{i}].day", f"{days[i].day} does not follow {days[i - 1].day}"
            )
    return Report(sender, serial, at, node_version, unprocessed, days, protocols)


class ReportRefused(ProtocolError):
    """The centre refused a report: `status` is the HTTP status it answers with."""

    status = 400

    def __init__(self, message: str, status: int | None = None, name: str | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.name = name or type(self).__name__


class StaleReport(ReportRefused):
    """The centre holds a newer report of this unit (or another one made at the same time)."""

    status = 409
