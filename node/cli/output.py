"""How commands print (human text by default, JSON with --json), the exit codes, and the type
of a count argument."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from lienthong.node.datadir import default_data_dir
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


DATA_DIR_ENV = "LIENTHONG_DATA_DIR"


def add_data_dir(parser: argparse.ArgumentParser, what: str = "the node's data directory") -> None:
    """--data-dir DIR; else $LIENTHONG_DATA_DIR; else the platform's system location."""
    env = os.environ.get(DATA_DIR_ENV)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(env) if env else default_data_dir(),
        help=f"{what} (default: ${DATA_DIR_ENV}, else {default_data_dir()})",
    )


def add_command(
    parent: argparse._SubParsersAction,
    name: str,
    func: Any,
    help: str,
    *,
    json_out: bool = True,
    what: str = "the node's data directory",
    allow_abbrev: bool = True,
) -> argparse.ArgumentParser:
    """One sub-command: its help, --data-dir, --json (unless json_out is off) and its function.

    allow_abbrev=False where an abbreviation could pass for another option (`--password`
    for `--password-file`)."""
    p = parent.add_parser(name, help=help, description=help, allow_abbrev=allow_abbrev)
    add_data_dir(p, what)
    if json_out:
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=func)
    return p


def add_list_options(parser: argparse.ArgumentParser, default: int = 50) -> None:
    """--limit N (1-1000, default 50), --all, --cursor: one way to page every list."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--limit", type=page_size, default=default, help=f"at most N items (1-{MAX_LIST_PAGE})"
    )
    group.add_argument("--all", action="store_true", help="every item, however many")
    parser.add_argument(
        "--cursor", help="continue a list where the `next` of an earlier --json answer points"
    )


MAX_LIST_PAGE = 1000  # items one call prints; --all pages through the rest


def page_size(text: str) -> int:
    value = count(text)
    if not 1 <= value <= MAX_LIST_PAGE:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a page holds 1 to {MAX_LIST_PAGE} items (use --all for every item)"
        )
    return value


def list_answer(items: list[Any], total: int, next_cursor: str | None) -> dict[str, Any]:
    """The one JSON shape of every list the CLI prints (docs/CLI.md)."""
    return {"items": items, "total": total, "next": next_cursor}
