"""Structured logs: the text and JSON line formats and their choice by environment."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import UTC, datetime

import pytest

from lienthong.node.logs import (
    JsonFormatter,
    LogConfigError,
    TextFormatter,
    setup_from_environment,
    setup_logging,
)

AT = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC).timestamp()


def record(message: str = "deposited %s", *args, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("lienthong.delivery", logging.INFO, __file__, 1, message, args, None)
    rec.created = AT
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_text_line_has_time_level_logger_message_and_fields():
    """One line: UTC time with Z, level, logger name, message, then key=value extras."""
    line = TextFormatter().format(record("deposited %s", "env-1", peer="000.00.05.H53", tries=2))
    assert line == (
        "2026-11-25T10:00:00Z INFO lienthong.delivery deposited env-1 peer=000.00.05.H53 tries=2"
    )


def test_text_quotes_values_with_spaces_and_keeps_one_line():
    """A value with a space is quoted; a newline in the message cannot split the event."""
    line = TextFormatter().format(record("two\nlines", reason="connection refused"))
    assert "\n" not in line
    assert line.endswith('two\\nlines reason="connection refused"')


def test_json_line_has_the_fields_and_the_extras():
    """One JSON object per line with time, level, logger, message and the extra fields."""
    line = JsonFormatter().format(record("deposited %s", "env-1", peer="000.00.05.H53"))
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-11-25T10:00:00Z",
        "level": "INFO",
        "logger": "lienthong.delivery",
        "message": "deposited env-1",
        "peer": "000.00.05.H53",
    }


def test_json_line_carries_the_exception():
    """An exception logged with log.exception is in the object, as text, on the same line."""
    try:
        raise ValueError("bad envelope")
    except ValueError:
        rec = logging.LogRecord("lienthong.node", logging.ERROR, "", 1, "failed", (), None)
        rec.exc_info = sys.exc_info()
    data = json.loads(JsonFormatter().format(rec))
    assert "ValueError: bad envelope" in data["exception"]


def test_setup_logging_routes_records_to_the_stream(restore_root_logger):
    """After setup_logging(json=True), a lienthong logger writes JSON lines to the stream."""
    stream = io.StringIO()
    setup_logging(json=True, level="INFO", stream=stream)
    logging.getLogger("lienthong.test").info("hello %s", "world", extra={"unit": "A"})
    logging.getLogger("lienthong.test").debug("not shown")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["message"] == "hello world"
    assert json.loads(lines[0])["unit"] == "A"


def test_environment_chooses_format_and_refuses_bad_values(restore_root_logger):
    """LIENTHONG_LOG_FORMAT/LEVEL set the handler; a bad value names the variable and choices."""
    setup_from_environment({"LIENTHONG_LOG_FORMAT": "json", "LIENTHONG_LOG_LEVEL": "warning"})
    root = logging.getLogger()
    assert isinstance(root.handlers[0].formatter, JsonFormatter)
    assert root.level == logging.WARNING
    with pytest.raises(LogConfigError, match="LIENTHONG_LOG_FORMAT='xml'; allowed: text, json"):
        setup_from_environment({"LIENTHONG_LOG_FORMAT": "xml"})
    with pytest.raises(LogConfigError, match="LIENTHONG_LOG_LEVEL='LOUD'"):
        setup_from_environment({"LIENTHONG_LOG_LEVEL": "loud"})
