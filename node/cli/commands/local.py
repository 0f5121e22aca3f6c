"""Commands that work on a data directory alone: init, keys, audit, backup, restore."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from lienthong.crypto.errors import LienthongError
from lienthong.crypto.keys import NodeKeys, fingerprint
from lienthong.crypto.keystore import is_sealed, load_keys, save_keys
from lienthong.node import config as cfg
from lienthong.node.cli.output import EXIT_ERROR, emit
from lienthong.node.cli.progress import ProgressBar
from lienthong.protocol.units import validate_unit_code
from lienthong.storage import audit
from lienthong.storage import backup as store_backup
from lienthong.storage.db import Store

MAX_PASSPHRASE_FILE = 4096  # a passphrase is a line of text


def read_passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    data = Path(path).read_bytes()
    if len(data) > MAX_PASSPHRASE_FILE:
        raise LienthongError(
            f"{path}: a passphrase file holds one line ({MAX_PASSPHRASE_FILE} bytes max)"
        )
    return data.rstrip(b"\r\n")


def node_keys(config: cfg.Config) -> NodeKeys:
    """Open the identity key, with the passphrase from the configured environment variable."""
    path = config.path("keys", "identity")
    env = config.get("keys", "passphrase_env")
    passphrase = os.environ.get(env, "").encode() if env else None
    if is_sealed(path) and not passphrase:
        raise LienthongError(
            f"{path} is sealed with a passphrase: set keys.passphrase_env in node.toml and "
            "export that variable"
        )
    return load_keys(path, passphrase or None)


def create_node(
    data_dir: Path,
    values: dict[str, dict],
    *,
    passphrase: bytes | None = None,
) -> NodeKeys:
    """A new unit's data directory: keys (mode 0600) and node.toml (written last)."""
    validate_unit_code(values["unit"]["code"])
    config_path = data_dir / cfg.CONFIG_FILE
    if config_path.exists():
        raise LienthongError(f"{config_path} exists already: this data directory holds a node")
    checked = cfg.validate({k: dict(v) for k, v in values.items()}, str(config_path))
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    keys = NodeKeys.generate()
    key_path = data_dir / checked["keys"]["identity"]
    key_path.parent.mkdir(mode=0o700, exist_ok=True)
    save_keys(key_path, keys, passphrase)
    config_path.write_text(cfg.render(checked), encoding="utf-8")
    return keys


def init(args: argparse.Namespace) -> None:
    values = {
        "unit": {"code": args.code, "name": args.name},
        "node": {"listen": args.listen, "web": args.web, "reachable": not args.unreachable},
    }
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
    async with await Store.open(config.store_path) as store, store.read() as conn:
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


async def backup(args: argparse.Namespace) -> None:
    cfg.load_config(args.data_dir)
    with ProgressBar("Backup") as bar:
        info = await store_backup.backup(args.data_dir, args.out, progress=bar)
    emit(args, info, f"Backup written to {args.out}")


async def restore(args: argparse.Namespace) -> None:
    with ProgressBar("Restore") as bar:
        info = await store_backup.restore(args.data_dir, args.source, progress=bar)
    emit(args, info, f"Restored {args.source} into {args.data_dir}")
