"""Commands that work on a data directory alone: init, keys, audit, backup, restore."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from lienthong.crypto.errors import LienthongError
from lienthong.crypto.keys import fingerprint
from lienthong.crypto.keystore import is_sealed
from lienthong.node import config as cfg
from lienthong.node.cli.output import EXIT_ERROR, emit
from lienthong.node.cli.progress import ProgressBar
from lienthong.node.datadir import create_node, node_keys, read_passphrase
from lienthong.storage import audit
from lienthong.storage import backup as store_backup
from lienthong.storage.store_pg import open_store

# The backup passphrase when no --passphrase-file is given (e.g. from a service's env file).
BACKUP_PASSPHRASE_ENV = "LIENTHONG_BACKUP_PASSPHRASE"  # noqa: S105 - a variable name


def init(args: argparse.Namespace) -> None:
    values = {
        "unit": {"code": args.code, "name": args.name},
        "node": {"listen": args.listen, "web": args.web, "reachable": not args.unreachable},
    }
    if args.passphrase_file is not None:
        # The next commands find the passphrase where init found it.
        values["keys"] = {"passphrase_file": str(Path(args.passphrase_file).resolve())}
    keys = create_node(args.data_dir, values, passphrase=read_passphrase(args.passphrase_file))
    print(f"Node {args.code} ({args.name}) created in {args.data_dir}")
    print(f"Identity key fingerprint: {fingerprint(keys.sign_public)}")


def keys_show(args: argparse.Namespace) -> None:
    config = cfg.load_config(args.data_dir)
    keys = node_keys(config)
    data = {
        "code": config.code,
        "name": config.name,
        "sign_public": keys.sign_public.hex(),
        "enc_public": keys.enc_public.hex(),
        "fingerprint": fingerprint(keys.sign_public),
        "sealed": is_sealed(config.path("keys", "identity")),
    }
    emit(
        args,
        data,
        f"Unit:         {data['code']} ({data['name']})\n"
        f"Fingerprint:  {data['fingerprint']}\n"
        f"Signing key:  {data['sign_public']}\n"
        f"Encryption:   {data['enc_public']}\n"
        f"Key file:     {'sealed with a passphrase' if data['sealed'] else 'not sealed'}",
    )


async def audit_verify(args: argparse.Namespace) -> int:
    config = cfg.load_config(args.data_dir)
    database = config.get("centre", "database") if config.role == "centre" else ""
    async with (
        await open_store(config.store_path, database=database) as store,
        store.read() as conn,
    ):
        report = await audit.verify(conn)
    data = {
        "ok": report.ok,
        "entries": report.entries,
        "first_bad_seq": report.first_bad_seq,
        "reason": report.reason,
    }
    if report.ok:
        emit(args, data, f"Audit log intact: {report.entries} entries, chain verified.")
        return 0
    emit(args, data, f"Audit log BROKEN at entry {report.first_bad_seq}: {report.reason}")
    return EXIT_ERROR


def backup_passphrase(path) -> bytes | None:
    """The backup passphrase: from the file, else from BACKUP_PASSPHRASE_ENV, else None."""
    passphrase = read_passphrase(path)
    if passphrase is None:
        passphrase = os.environ.get(BACKUP_PASSPHRASE_ENV, "").encode() or None
    if passphrase is not None and not passphrase:
        raise LienthongError(f"{path}: the passphrase file is empty")
    return passphrase


async def backup(args: argparse.Namespace) -> None:
    config = cfg.load_config(args.data_dir)
    # A centre on PostgreSQL: its database is dumped with pg_dump into the same archive.
    database = config.get("centre", "database") if config.role == "centre" else ""
    passphrase = backup_passphrase(args.passphrase_file)
    with ProgressBar("Backup") as bar:
        info = await store_backup.backup(
            args.data_dir, args.out, passphrase=passphrase, progress=bar, database=database
        )
    note = (
        "encrypted with the passphrase"
        if passphrase
        else "NOT encrypted: it holds the keys and the documents in clear, keep it safe "
        f"(--passphrase-file or {BACKUP_PASSPHRASE_ENV} encrypts it)"
    )
    emit(args, info, f"Backup written to {args.out} (mode 0600), {note}")


async def restore(args: argparse.Namespace) -> None:
    passphrase = backup_passphrase(args.passphrase_file)
    if passphrase is None and store_backup.is_encrypted(args.source):
        if not sys.stdin.isatty():
            raise LienthongError(
                f"{args.source} is an encrypted backup: give its passphrase with "
                f"--passphrase-file or {BACKUP_PASSPHRASE_ENV}"
            )
        passphrase = getpass.getpass(f"Passphrase of {args.source}: ").encode() or None
    database = getattr(args, "database", None) or ""
    with ProgressBar("Restore") as bar:
        info = await store_backup.restore(
            args.data_dir, args.source, passphrase=passphrase, progress=bar, database=database
        )
    if database:  # the restored centre's node.toml names the database it was restored into
        config = cfg.load_config(args.data_dir)
        if config.get("centre", "database") != database:
            values = {k: dict(v) for k, v in config.values.items()}
            values["centre"]["database"] = database
            (config.data_dir / cfg.CONFIG_FILE).write_text(cfg.render(values), encoding="utf-8")
    emit(args, info, f"Restored {args.source} into {args.data_dir}")
