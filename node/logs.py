"""Structured logs: one line per event, as text or as one JSON object, on standard error.

The environment chooses the form (LIENTHONG_LOG_FORMAT=text|json) and the
level (LIENTHONG_LOG_LEVEL=DEBUG|INFO|WARNING|ERROR); docs/OPERATIONS.md.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from lienthong.crypto.errors import LienthongError

FORMAT_ENV = "LIENTHONG_LOG_FORMAT"
LEVEL_ENV = "LIENTHONG_LOG_LEVEL"
FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The attributes every LogRecord has; anything else was passed as `extra=` and is printed.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class LogConfigError(LienthongError):
    """LIENTHONG_LOG_FORMAT or LIENTHONG_LOG_LEVEL holds a value not allowed."""


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """`2026-11-25T10:00:00Z INFO lienthong.delivery message key=value`."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage().replace("\n", "\\n")
        parts = [_time(record), record.levelname, record.name, message]
        parts += [f"{k}={_text(v)}" for k, v in _extra(record).items()]
        line = " ".join(parts)
        if record.exc_info:
            line += " exception=" + json.dumps(self.formatException(record.exc_info))
        return line


def _text(value: Any) -> str:
    text = str(value)
    return (
        json.dumps(text, ensure_ascii=False)
        if not text or any(c in text for c in ' "=\n')
        else text
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extra(record).items():
            data.setdefault(key, value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup_logging(
    json: bool = False, level: str | int = "INFO", stream: TextIO | None = None
) -> None:
    """Send every log record of the process to `stream` (stderr), one line per event."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def setup_from_environment(environ: dict[str, str] | None = None) -> None:
    """setup_logging from LIENTHONG_LOG_FORMAT and LIENTHONG_LOG_LEVEL (text, INFO by default)."""
    env = os.environ if environ is None else environ
    form = env.get(FORMAT_ENV, "text").strip().lower() or "text"
    level = env.get(LEVEL_ENV, "INFO").strip().upper() or "INFO"
    if form not in FORMATS:
        raise LogConfigError(f"{FORMAT_ENV}={form!r}; allowed: {', '.join(FORMATS)}")
    if level not in LEVELS:
        raise LogConfigError(f"{LEVEL_ENV}={level!r}; allowed: {', '.join(LEVELS)}")
    setup_logging(json=form == "json", level=level)
