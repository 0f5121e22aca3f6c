"""How people read a time: the clerk's page and the CLI show Unix-ms times the same way."""

from __future__ import annotations

import datetime as dt


def when(ms: int | None) -> str:
    """A Unix-ms time as the clerk reads it, in the node's local time."""
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


def iso_time(ms: int | None) -> str | None:
    """A Unix-ms time for machines (the CLI's JSON): ISO 8601 in local time with its offset,
    to the second, e.g. 2026-12-03T21:05:09+07:00."""
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000).astimezone().isoformat(timespec="seconds")


def dmy(iso_date: str | None) -> str:
    """A YYYY-MM-DD date as Vietnamese clerks write it: 24/11/2025 (Nghị định 30/2020 writes
    dates with two digits for day and month). Text that is no such date is returned as is."""
    if not iso_date:
        return ""
    try:
        day = dt.date.fromisoformat(iso_date[:10])
    except ValueError:
        return iso_date
    return day.strftime("%d/%m/%Y")


def dmy_time(ms: int | None) -> str:
    """A Unix-ms time as the clerk reads it with its date: 24/11/2025 14:05 (local time)."""
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%d/%m/%Y %H:%M")


def parse_dmy(text: str) -> str | None:
    """A date typed as dd/mm/yyyy (or d/m/yyyy, or YYYY-MM-DD from a date input) as
    YYYY-MM-DD, or None when it is no real date."""
    text = text.strip()
    try:
        if "/" in text:
            day, month, year = text.split("/")
            parts = (day, month, year)
            if len(year) != 4 or not all(p.isascii() and p.isdigit() for p in parts):
                return None
            return dt.date(int(year), int(month), int(day)).isoformat()
        if len(text) != 10 or not text.isascii():
            return None
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        return None
