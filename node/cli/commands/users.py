"""`lienthong user add`: accounts of the clerk's web page (clerk, leader, admin)."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from lienthong.crypto.errors import LienthongError
from lienthong.node.cli.output import emit
from lienthong.node.config import load_config
from lienthong.storage.db import Store
from lienthong.storage.users import MIN_PASSWORD_CHARS, ROLES, add_user

# A password file holds one line; anything larger is not a password file.
MAX_PASSWORD_FILE = 4096
# Shorter passwords fall to guessing even with the lockout (5 tries per 15 minutes).


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("user", help="accounts of the clerk's web page").add_subparsers(
        dest="user_command", metavar="COMMAND"
    )
    p = group.add_parser("add", help="create an account", description="create an account")
    p.add_argument("--data-dir", type=Path, required=True, help="the node's data directory")
    p.add_argument("--username", required=True, help="login name, e.g. vt.nguyen")
    p.add_argument("--role", required=True, choices=ROLES, help="what the account may do")
    p.add_argument("--display-name", default="", help="full name shown on the page")
    p.add_argument(
        "--password-file", type=Path, help="read the password from this file (else prompt)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=add)


def read_password(path: Path | None) -> str:
    """The password from a one-line file, or typed twice at a prompt."""
    if path is not None:
        data = Path(path).read_bytes()
        if len(data) > MAX_PASSWORD_FILE:
            raise LienthongError(
                f"{path}: a password file holds one line ({MAX_PASSWORD_FILE} bytes max)"
            )
        password = data.decode("utf-8").rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise LienthongError("the two passwords differ")
    if len(password) < MIN_PASSWORD_CHARS:
        raise LienthongError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    return password


async def add(args: argparse.Namespace) -> None:
    config = load_config(args.data_dir)
    password = read_password(args.password_file)
    synchronous = config.get("store", "synchronous")
    async with await Store.open(config.store_path, synchronous=synchronous) as store:
        user = await add_user(
            store,
            args.username,
            password,
            role=args.role,
            display_name=args.display_name or args.username,
            actor="cli",
        )
    emit(
        args,
        {"username": user.username, "role": user.role},
        f"Account {user.username} ({user.role}) created",
    )
