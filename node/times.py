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
