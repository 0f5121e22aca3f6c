"""`lienthong user add|unlock|reset-password|disable|enable|department`: accounts of the clerk's
web page."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from lienthong.crypto.errors import LienthongError
from lienthong.node.cli.output import add_command, emit
from lienthong.node.config import load_config
from lienthong.storage.db import Store
from lienthong.storage.store_pg import PgStore, open_store
from lienthong.storage.users import (
    MIN_PASSWORD_CHARS,
    ROLES,
    add_department,
    add_user,
    get_user,
    list_departments,
    set_department,
    set_disabled,
    set_password,
    unlock_user,
)

# A password file holds one line; anything larger is not a password file.
MAX_PASSWORD_FILE = 4096
STDIN = "-"  # --password-file - reads the password from standard input


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("user", help="accounts of the clerk's web page").add_subparsers(
        dest="user_command", metavar="COMMAND"
    )

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        # No abbreviations: `--password SECRET` must not pass for `--password-file`.
        p = add_command(group, name, func, help, allow_abbrev=False)
        p.add_argument("--username", required=True, help="login name, e.g. vt.nguyen")
        return p

    def password_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--password-file",
            help="read the password from this file, or from standard input with '-' "
            "(else prompt twice)",
        )

    p = command("add", add, "create an account")
    p.add_argument("--role", required=True, choices=ROLES, help="what the account may do")
    p.add_argument("--display-name", default="", help="full name shown on the page")
    password_option(p)
    command("unlock", unlock, "end a lockout after wrong passwords")
    p = command(
        "reset-password",
        reset_password,
        "give an account a new password: unlocks it and ends its sessions",
    )
    password_option(p)
    command("disable", disable, "stop an account from signing in and end its sessions")
    command("enable", enable, "let a disabled account sign in again")
    p = command("department", department, "put an account in a department (phòng ban)")
    p.add_argument("--department", help="its name, e.g. 'Phòng Tổng hợp'; omitted: in none")
    p.add_argument("--create", action="store_true", help="add the department if it is new")


def read_password(path: str | Path | None) -> str:
    """The password from a one-line file, standard input ('-'), or typed twice at a prompt."""
    if path is not None and str(path) == STDIN:
        data = sys.stdin.buffer.read(MAX_PASSWORD_FILE + 1)
        source = "standard input"
    elif path is not None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise LienthongError(f"cannot read the password file {path}: {exc.strerror}") from None
        source = str(path)
    if path is not None:
        if len(data) > MAX_PASSWORD_FILE:
            raise LienthongError(
                f"{source}: a password file holds one line ({MAX_PASSWORD_FILE} bytes max)"
            )
        try:
            password = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise LienthongError(f"{source}: the password is not UTF-8 text") from None
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise LienthongError("the two passwords differ")
    if len(password) < MIN_PASSWORD_CHARS:
        raise LienthongError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    return password


async def _open(args: argparse.Namespace) -> Store | PgStore:
    config = load_config(args.data_dir)
    # A centre on PostgreSQL keeps its console's accounts in its database (store_pg.py).
    database = config.get("centre", "database") if config.role == "centre" else ""
    return await open_store(
        config.store_path, database=database, synchronous=config.get("store", "synchronous")
    )


async def add(args: argparse.Namespace) -> None:
    load_config(args.data_dir)
    password = read_password(args.password_file)
    async with await _open(args) as store:
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


async def unlock(args: argparse.Namespace) -> None:
    async with await _open(args) as store:
        async with store.read() as conn:
            before = await get_user(conn, args.username)
        async with store.write() as tx:
            await unlock_user(tx, args.username, actor="cli", at=store.now())
    was_locked = before is not None and before.locked(store.now())
    emit(
        args,
        {"username": args.username, "was_locked": was_locked},
        f"Account {args.username} unlocked"
        + ("" if was_locked else " (it was not locked; its count of wrong passwords is cleared)"),
    )


async def reset_password(args: argparse.Namespace) -> None:
    load_config(args.data_dir)
    password = read_password(args.password_file)
    async with await _open(args) as store:
        ended = await set_password(store, args.username, password, actor="cli")
    emit(
        args,
        {"username": args.username, "sessions_ended": ended},
        f"Password of {args.username} reset; {ended} session(s) ended",
    )


async def _set_disabled(args: argparse.Namespace, disabled: bool) -> None:
    async with await _open(args) as store, store.write() as tx:
        ended = await set_disabled(tx, args.username, disabled, actor="cli", at=store.now())
    word = "disabled" if disabled else "enabled"
    emit(
        args,
        {"username": args.username, "disabled": disabled, "sessions_ended": ended},
        f"Account {args.username} {word}" + (f"; {ended} session(s) ended" if disabled else ""),
    )


async def department(args: argparse.Namespace) -> None:
    name = args.department.strip() if args.department else None
    async with await _open(args) as store, store.write() as tx:
        if name is not None and args.create and name not in await list_departments(tx):
            await add_department(tx, name, actor="cli", at=store.now())
        await set_department(tx, args.username, name, actor="cli", at=store.now())
    emit(
        args,
        {"username": args.username, "department": name},
        f"Account {args.username} is in " + (name or "no department"),
    )


async def disable(args: argparse.Namespace) -> None:
    await _set_disabled(args, True)


async def enable(args: argparse.Namespace) -> None:
    await _set_disabled(args, False)
