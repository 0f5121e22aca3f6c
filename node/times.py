"""How people read a time: the clerk's page and the CLI show Unix-ms times the same way."""

from __future__ import annotations

import datetime as dt

from lienthong.protocol.text import is_decimal


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
    day = _date(iso_date)
    return day.strftime("%d/%m/%Y") if day else iso_date or ""


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
            if len(year) != 4 or not all(is_decimal(p, 4) for p in (day, month, year)):
                return None
            return dt.date(int(year), int(month), int(day)).isoformat()
        if len(text) != 10 or not text.isascii():
            return None
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def written_date(iso_date: str | None) -> str:
    """A YYYY-MM-DD date as the document itself writes it after its place: "ngày 23 tháng 5
    năm 2014" (Nghị định 30/2020, Phụ lục I: days below 10 and the months 1 and 2 take a
    leading zero, "ngày 05 tháng 02 năm 2025"). Text that is no such date is returned as is."""
    day = _date(iso_date)
    if day is None:
        return iso_date or ""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def dmy_hm(local_time: str | None) -> str:
    """A local time YYYY-MM-DDTHH:MM (hỏa tốc hẹn giờ) as the clerk reads it: 24/11/2025 14:30.
    Text that is no such time is returned as is."""
    if not local_time:
        return ""
    try:
        return dt.datetime.fromisoformat(local_time).strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return local_time


def parse_dmy_hm(text: str) -> str | None:
    """A time typed as dd/mm/yyyy hh:mm (or sent by a datetime-local input, YYYY-MM-DDTHH:MM)
    as YYYY-MM-DDTHH:MM, or None when it is no real time."""
    date, _, clock = text.strip().replace("T", " ").partition(" ")
    day = parse_dmy(date)
    hour, _, minute = clock.strip().partition(":")
    if day is None or not (is_decimal(hour, 2) and len(minute) == 2 and is_decimal(minute, 2)):
        return None
    if int(hour) > 23 or int(minute) > 59:
        return None
    return f"{day}T{int(hour):02d}:{minute}"


def _date(iso_date: str | None) -> dt.date | None:
    """The calendar date a YYYY-MM-DD text (or the start of an ISO time) names, or None."""
    try:
        return dt.date.fromisoformat(iso_date[:10]) if iso_date else None
    except ValueError:
        return None
