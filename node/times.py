"""How people read a time: the clerk's page and the CLI show Unix-ms times the same way."""

from __future__ import annotations

import datetime as dt


def when(ms: int | None) -> str:
    """A Unix-ms time as the clerk reads it, in the node's local time."""
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")
