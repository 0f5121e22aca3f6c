"""The `lienthong` command: parsing and dispatch; each command lives in node/cli/commands/."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lienthong.crypto.errors import LienthongError
from lienthong.node import __version__, platform
from lienthong.node.cli.commands import (
    apikeys,
    bundle,
    centre,
    demo,
    doctor,
    documents,
    edxml,
    enrol,
    examples,
    local,
    trust,
    users,
)
from lienthong.node.cli.output import EXIT_ERROR, EXIT_OK, EXIT_USAGE, add_command
from lienthong.storage.errors import disk_full


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lienthong",
        description="Exchange official documents between the units of a province.",
    )
    parser.add_argument("--version", action="version", version=f"lienthong {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, func: Callable[..., Any], help: str, parent=sub, json_out=False):
        return add_command(parent, name, func, help, json_out=json_out)

    p = command("init", local.init, "create a node: keys and DATA_DIR/node.toml")
    p.add_argument("--code", required=True, help="organisation code, e.g. 000.00.05.H53")
    p.add_argument("--name", required=True, help="the unit's name, e.g. 'Sở Nội vụ'")
    p.add_argument("--listen", default="127.0.0.1:7443", help="HOST:PORT of the peer API")
    p.add_argument("--web", default="127.0.0.1:8080", help="HOST:PORT of the clerks' web page")
    p.add_argument(
        "--unreachable",
        action="store_true",
        help="the node cannot accept inbound connections (pulls from the relay)",
    )
    p.add_argument("--passphrase-file", type=Path, help="seal the key file with this passphrase")

    keys = sub.add_parser("keys", help="the node's keys").add_subparsers(dest="keys_command")
    command("show", local.keys_show, "show public keys and fingerprint", keys, json_out=True)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(dest="audit_command")
    command(
        "verify", local.audit_verify, "verify the hash chain of the audit log", audit, json_out=True
    )

    p = command(
        "backup", local.backup, "online backup of store, blobs, config and keys", json_out=True
    )
    p.add_argument("--out", type=Path, required=True, help="the backup file to write")
    p.add_argument(
        "--passphrase-file",
        type=Path,
        help=f"encrypt the backup with this passphrase (or set {local.BACKUP_PASSPHRASE_ENV})",
    )
    p = command(
        "restore", local.restore, "restore a backup into an empty data directory", json_out=True
    )
    p.add_argument("--from", dest="source", type=Path, required=True, help="the backup file")
    p.add_argument(
        "--passphrase-file",
        type=Path,
        help=f"passphrase of an encrypted backup (or {local.BACKUP_PASSPHRASE_ENV}, else asked)",
    )
    p.add_argument(
        "--database",
        help="a PostgreSQL centre's backup: the URL of the empty database to restore it into",
    )
    documents.register(sub)
    demo.register(sub)
    centre.register(sub)
    enrol.register(sub)
    users.register(sub)
    apikeys.register(sub)
    trust.register(sub)
    doctor.register(sub)
    bundle.register(sub)
    examples.register(sub)
    edxml.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    platform.use_utf8_console()  # a Vietnamese Windows console is cp1258 otherwise
    platform.use_selector_loop_on_windows()
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        result = func(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except LienthongError as exc:
        print(f"lienthong: error: {disk_full(exc, _data_dir(args)) or exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lienthong inbox | head`: the reader has gone, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a full disk is one line naming it, never a traceback
        full = disk_full(exc, _data_dir(args))
        if full is None:
            raise
        print(f"lienthong: error: {full}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK if result is None else int(result)


def _data_dir(args: argparse.Namespace) -> Path | None:
    """The data directory the command worked in, to name its disk when it is full."""
    return getattr(args, "data_dir", None)


if __name__ == "__main__":
    sys.exit(main())
