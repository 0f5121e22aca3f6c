"""The centre's console, figures: the federation's statistics as server-drawn SVG charts
and the pilot report (per unit: sent, received, median delivery time, open documents)
with its CSV. The figures are what the units report about themselves (sent by
node/unit/report.py, kept by node/centre/reports.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import math
from collections import defaultdict
from typing import Any

from aiohttp import web

from lienthong.node.times import dmy, dmy_time
from lienthong.node.web.base import LANG, context_of, parse_date, render, requires, tr
from lienthong.node.web.console import charts
from lienthong.node.web.console.units import state_label
from lienthong.node.web.registers import _csv_cell as csv_cell
from lienthong.protocol.report import (
    DELIVERY_BUCKET_BOUNDS_MS,
    DELIVERY_BUCKETS,
    day_of,
    quantile_ms,
)
from lienthong.storage.reports import (
    UnitDay,
    UnitOverview,
    latest_reports,
    report_days,
    units_overview,
)

# Statistics and the pilot report cover the last DEFAULT_DAYS days unless asked otherwise,
# and at most MAX_DAYS (a chart of more columns is unreadable; a pilot runs for months).
DEFAULT_DAYS = 30
MAX_DAYS = 366


def _lang(request: web.Request) -> str:
    return request.get(LANG, "vi")


def _number(request: web.Request, value: float) -> str:
    text = f"{value:.0f}" if value == int(value) or value >= 10 else f"{value:.1f}"
    return text.replace(".", ",") if _lang(request) == "vi" else text


def _parts(ms: float) -> tuple[float, str]:
    """A time as (number, catalogue key of its unit): seconds, minutes or hours."""
    if ms < 60_000:
        return ms / 1000, "centre.seconds"
    if ms < 3_600_000:
        return ms / 60_000, "centre.minutes"
    return ms / 3_600_000, "centre.hours"


def duration(request: web.Request, ms: float | None) -> str:
    """A delivery time as people read it: seconds, minutes or hours; '—' for none."""
    if ms is None:
        return "—"
    if math.isinf(ms):
        return "> " + duration(request, DELIVERY_BUCKET_BOUNDS_MS[-1])
    value, key = _parts(ms)
    return tr(request, key, n=_number(request, value))


def bucket_labels(request: web.Request) -> list[str]:
    """The delivery-time buckets of protocol/report.py as axis labels: "1–5 giây"."""
    bounds = [_parts(b) for b in DELIVERY_BUCKET_BOUNDS_MS]
    labels = ["< " + duration(request, DELIVERY_BUCKET_BOUNDS_MS[0])]
    for (a, unit_a), (b, unit_b) in itertools.pairwise(bounds):
        if unit_a == unit_b:
            span = f"{_number(request, a)}–{_number(request, b)}"
            labels.append(tr(request, unit_b, n=span))
        else:
            labels.append(
                f"{tr(request, unit_a, n=_number(request, a))}–"
                f"{tr(request, unit_b, n=_number(request, b))}"
            )
    return [*labels, "≥ " + duration(request, DELIVERY_BUCKET_BOUNDS_MS[-1])]


def _range(request: web.Request) -> tuple[str, str, str | None]:
    """(first day, last day, error) from ?since=&until=, by default the last DEFAULT_DAYS."""
    today = day_of(context_of(request).clock())
    last = parse_date(request.query.get("until", "")) or today
    start = dt.date.fromisoformat(last) - dt.timedelta(days=DEFAULT_DAYS - 1)
    first = parse_date(request.query.get("since", "")) or start.isoformat()
    error = None
    for name in ("since", "until"):
        given = request.query.get(name, "")
        if given and parse_date(given) is None:
            error = tr(request, "list.bad_date", value=given[:20])
    span = (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days
    if span < 0 or span >= MAX_DAYS:
        error = tr(request, "centre.err.range", max=MAX_DAYS)
        first = start.isoformat()
    return first, last, error


def _days(first: str, last: str) -> list[str]:
    start = dt.date.fromisoformat(first)
    count = (dt.date.fromisoformat(last) - start).days + 1
    return [(start + dt.timedelta(days=n)).isoformat() for n in range(count)]


async def _figures(request: web.Request):
    ctx = context_of(request)
    first, last, error = _range(request)
    async with ctx.store.read() as conn:
        units = [u for u in await units_overview(conn) if u.code != ctx.config.code]
        days = await report_days(conn, first, last)
        reports = await latest_reports(conn)
    return first, last, error, units, days, reports


def _short_day(day: str) -> str:
    return f"{day[8:10]}/{day[5:7]}"  # dd/mm, as dates are written in Vietnam


def pilot_rows(
    units: list[UnitOverview], days: list[UnitDay], unprocessed: dict[str, int | None]
) -> list[dict[str, Any]]:
    """Per unit: sent, received, failures, delivery histogram and median, open documents."""
    totals: dict[str, dict[str, Any]] = {
        u.code: {"sent": 0, "received": 0, "failures": 0, "delivery": [0] * DELIVERY_BUCKETS}
        for u in units
    }
    for row in days:
        t = totals.get(row.code)
        if t is None:
            continue
        f = row.figures
        t["sent"] += f.sent
        t["received"] += f.received
        t["failures"] += f.failures
        t["delivery"] = [a + b for a, b in zip(t["delivery"], f.delivery, strict=True)]
    return [
        {
            "unit": u,
            **totals[u.code],
            "median": quantile_ms(totals[u.code]["delivery"], 0.5),
            "unprocessed": unprocessed.get(u.code),
        }
        for u in units
    ]


@requires("centre")
async def stats(request: web.Request) -> web.StreamResponse:
    """Documents per unit per day, the delivery-time distribution, failures per day."""
    first, last, error, units, days, _ = await _figures(request)
    columns = _days(first, last)
    sent: dict[tuple[str, str], int] = {}
    failures: dict[str, int] = defaultdict(int)
    histogram = [0] * DELIVERY_BUCKETS
    for row in days:
        sent[(row.code, _short_day(row.figures.day))] = row.figures.sent
        failures[row.figures.day] += row.figures.failures
        histogram = [a + b for a, b in zip(histogram, row.figures.delivery, strict=True)]
    labels = bucket_labels(request)
    heat = charts.heatmap(
        tr(request, "centre.chart.documents"),
        [(u.code, u.name) for u in units],
        [_short_day(d) for d in columns],
        sent,
        tooltip=tr(request, "centre.chart.cell"),
    )
    times = charts.bar_chart(
        tr(request, "centre.chart.times"),
        [(label, n, f"{label}: {n}") for label, n in zip(labels, histogram, strict=True)],
    )
    fails = charts.bar_chart(
        tr(request, "centre.chart.failures"),
        [(_short_day(d), failures[d], f"{dmy(d)}: {failures[d]}") for d in columns],
        css="bar bad",
    )
    return render(
        request,
        "centre_stats.html",
        {
            "first": first,
            "last": last,
            "error": error,
            "charts": [heat, times, fails],
            "median": duration(request, quantile_ms(histogram, 0.5)),
            "deliveries": sum(histogram),
            "sent": sum(r.figures.sent for r in days),
            "failed": sum(failures.values()),
        },
    )


async def _pilot(request: web.Request) -> tuple[str, str, str | None, list[dict[str, Any]]]:
    first, last, error, units, days, reports = await _figures(request)
    unprocessed = {code: r.unprocessed for code, r in reports.items()}
    rows = pilot_rows(units, days, unprocessed)
    for row in rows:
        report = reports.get(row["unit"].code)
        row["state"] = state_label(request, row["unit"].state)
        row["median_text"] = duration(request, row["median"])
        row["reported_at"] = report.received_at if report else None
    return first, last, error, rows


@requires("centre")
async def pilot(request: web.Request) -> web.StreamResponse:
    first, last, error, rows = await _pilot(request)
    total = {k: sum(r[k] for r in rows) for k in ("sent", "received", "failures")}
    total["unprocessed"] = sum(r["unprocessed"] or 0 for r in rows)
    return render(
        request,
        "centre_report.html",
        {"first": first, "last": last, "error": error, "rows": rows, "total": total},
    )


def _seconds(ms: float | None) -> str:
    if ms is None:
        return ""
    if math.isinf(ms):
        return f">{DELIVERY_BUCKET_BOUNDS_MS[-1] // 1000}"
    return f"{ms / 1000:.1f}"


@requires("centre")
async def pilot_csv(request: web.Request) -> web.StreamResponse:
    """The pilot report as CSV: UTF-8 with a byte-order mark, so Excel reads the diacritics."""
    first, last, _, rows = await _pilot(request)
    out = io.StringIO()
    writer = csv.writer(out)
    keys = ("code", "name", "state", "sent", "received", "median", "unprocessed", "failures")
    writer.writerow(
        [tr(request, f"centre.col.{k}") for k in keys] + [tr(request, "centre.col.reported")]
    )
    for r in rows:
        unit = r["unit"]
        writer.writerow(
            [
                csv_cell(unit.code),
                csv_cell(unit.name),
                csv_cell(r["state"]),
                r["sent"],
                r["received"],
                _seconds(r["median"]),
                "" if r["unprocessed"] is None else r["unprocessed"],
                r["failures"],
                dmy_time(r["reported_at"]),
            ]
        )
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="bao-cao-thi-diem-{first}-{last}.csv"',
        },
    )
