"""`lienthong trust add-ca|list|remove`: the CA certificates this office trusts for the
digital signatures inside documents' PDFs (docs/SIGNATURES.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lienthong.node.cli.output import add_data_dir, emit
from lienthong.node.config import load_config
from lienthong.storage import trust
from lienthong.storage.db import Store

# A CA certificate is a few KiB; a bigger file is not one (read whole before parsing).
MAX_CA_FILE_BYTES = 64 * 1024


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser(
        "trust", help="CA certificates trusted for documents' digital signatures"
    ).add_subparsers(dest="trust_command", metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = group.add_parser(name, help=help, description=help, allow_abbrev=False)
        add_data_dir(p)
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.set_defaults(func=func)
        return p

    p = command("add-ca", add_ca, "trust a CA certificate (PEM or DER file)")
    p.add_argument("file", type=Path, help="the CA certificate, PEM or DER")
    command("list", list_, "the trusted CA certificates: fingerprint and subject")
    p = command("remove", remove, "stop trusting a CA certificate")
    p.add_argument("fingerprint", help="its SHA-256 fingerprint, as `trust list` shows it")


async def _open(args: argparse.Namespace) -> Store:
    config = load_config(args.data_dir)
    return await Store.open(config.store_path, synchronous=config.get("store", "synchronous"))


def _read(path: Path) -> bytes:
    # pyHanko (crypto/pdf_signatures.py) loads when a CA is added, not with every command.
    from lienthong.crypto.pdf_signatures import TrustAnchorError

    try:
        with path.open("rb") as f:
            data = f.read(MAX_CA_FILE_BYTES + 1)
    except OSError as exc:
        raise TrustAnchorError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_CA_FILE_BYTES:
        raise TrustAnchorError(f"{path} is over {MAX_CA_FILE_BYTES} bytes: not a certificate")
    return data


def _row(a) -> dict:
    return {"fingerprint": a.fingerprint, "subject": a.subject, "added_at": a.added_at}


async def add_ca(args: argparse.Namespace) -> None:
    from lienthong.crypto.pdf_signatures import TrustAnchorError, load_anchor

    try:
        anchor = load_anchor(_read(args.file))
    except TrustAnchorError as exc:
        raise TrustAnchorError(f"{args.file}: {exc}") from None
    async with await _open(args) as store, store.write() as tx:
        stored = await trust.add_anchor(
            tx, anchor.fingerprint, anchor.subject, anchor.der, actor="cli", at=store.now()
        )
    emit(
        args,
        _row(stored),
        f"Trusted: {stored.subject}\nSHA-256 fingerprint: {stored.fingerprint}\n"
        "Documents that arrived before keep the check they had (docs/SIGNATURES.md).",
    )


async def list_(args: argparse.Namespace) -> None:
    async with await _open(args) as store, store.read() as conn:
        anchors = await trust.anchors(conn)
    text = "\n".join(f"{a.fingerprint}\t{a.subject}" for a in anchors)
    emit(args, [_row(a) for a in anchors], text or "No trusted CA certificates")


async def remove(args: argparse.Namespace) -> None:
    async with await _open(args) as store, store.write() as tx:
        removed = await trust.remove_anchor(tx, args.fingerprint, actor="cli", at=store.now())
    emit(args, _row(removed), f"No longer trusted: {removed.subject}")
