"""How commands print (human text by default, JSON with --json), the exit codes, and the type
of a count argument."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from lienthong.protocol.text import is_decimal

EXIT_OK = 0
EXIT_ERROR = 1  # the command ran and found a problem (bad input, broken chain, ...)
EXIT_USAGE = 2  # argparse's own code for a malformed command line
MAX_COUNT_DIGITS = 9  # a count typed on the command line (--limit, --units): below 10^9


def count(text: str) -> int:
    """The argparse type of a count: ASCII digits only (int() would take " 5", "1_0", "٥")."""
    if not is_decimal(text, MAX_COUNT_DIGITS):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of at most {MAX_COUNT_DIGITS} digits 0-9"
        )
    return int(text)


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print `data` as JSON with --json, else the human text."""
    if getattr(args, "json", False):
        print(json.dumps(jsonable(data), ensure_ascii=False, indent=2))
    else:
        print(text)


def jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value
