"""`lienthong api-key add|list|revoke`: keys of the integration API (/api/v1) for the
office's own document system; a key's token is printed once, the store keeps its hash."""

from __future__ import annotations

import argparse

from lienthong.node.cli.output import add_command, emit
from lienthong.node.config import load_config
from lienthong.storage.api_keys import SCOPES, add_key, list_keys, parse_scopes, revoke_key
from lienthong.storage.db import Store


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("api-key", help="keys of the integration API (/api/v1)").add_subparsers(
        dest="api_key_command", metavar="COMMAND"
    )

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        return add_command(group, name, func, help, allow_abbrev=False)

    p = command("add", add, "make a key; its token is printed once")
    p.add_argument("--name", required=True, help="the key's name, e.g. dms-vanthu")
    p.add_argument(
        "--scope",
        required=True,
        help=f"what it may do: one or more of {', '.join(SCOPES)}, separated by commas",
    )
    command("list", list_, "the keys, their scopes, and whether revoked")
    p = command("revoke", revoke, "stop a key from working (its name is never reused)")
    p.add_argument("name", help="the key's name")


async def _open(args: argparse.Namespace) -> Store:
    config = load_config(args.data_dir)
    return await Store.open(config.store_path, synchronous=config.get("store", "synchronous"))


async def add(args: argparse.Namespace) -> None:
    scopes = parse_scopes(args.scope)
    async with await _open(args) as store, store.write() as tx:
        key, token = await add_key(tx, args.name, scopes, actor="cli", at=store.now())
    emit(
        args,
        {"name": key.name, "scopes": list(key.scopes), "token": token},
        f"API key {key.name} ({', '.join(key.scopes)}) made. Its token, shown only now:\n{token}",
    )


async def list_(args: argparse.Namespace) -> None:
    async with await _open(args) as store, store.read() as conn:
        keys = await list_keys(conn)
    rows = [
        {
            "name": k.name,
            "scopes": list(k.scopes),
            "created_at": k.created_at,
            "revoked_at": k.revoked_at,
        }
        for k in keys
    ]
    text = "\n".join(
        f"{k.name}\t{','.join(k.scopes)}" + ("\trevoked" if k.revoked_at else "") for k in keys
    )
    emit(args, rows, text or "No API keys")


async def revoke(args: argparse.Namespace) -> None:
    async with await _open(args) as store, store.write() as tx:
        done = await revoke_key(tx, args.name, actor="cli", at=store.now())
    emit(
        args,
        {"name": args.name, "revoked": True, "was_revoked": not done},
        f"API key {args.name} revoked" + ("" if done else " (it was revoked already)"),
    )
