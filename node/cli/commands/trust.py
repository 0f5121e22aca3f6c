"""`lienthong trust add-ca|list|remove`: the CA certificates this office trusts for the
digital signatures inside documents' PDFs (docs/SIGNATURES.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lienthong.node.cli.output import add_command, emit
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
        return add_command(group, name, func, help, allow_abbrev=False)

    p = command("add-ca", add_ca, "trust a CA certificate (PEM or DER file)")
    p.add_argument("file", type=Path, help="the CA certificate, PEM or DER")
    p = command("add-crl", add_crl, "configure a CA's certificate revocation list (PEM or DER)")
    p.add_argument("file", type=Path, help="the CRL, PEM or DER")
    command("list", list_, "the trusted CA certificates and configured CRLs")
    p = command("remove", remove, "stop trusting a CA certificate or remove a CRL")
    p.add_argument("fingerprint", help="its SHA-256 fingerprint, as `trust list` shows it")


async def _open(args: argparse.Namespace) -> Store:
    config = load_config(args.data_dir)
    return await Store.open(config.store_path, synchronous=config.get("store", "synchronous"))


def _read(path: Path, limit: int = MAX_CA_FILE_BYTES, error=None, what="a certificate") -> bytes:
    # pyHanko (crypto/pdf_signatures.py) loads when a CA is added, not with every command.
    from lienthong.crypto.pdf_signatures import TrustAnchorError

    error = error or TrustAnchorError
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise error(f"{path} is over {limit} bytes: not {what}")
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


def _crl_row(c) -> dict:
    from lienthong.crypto.pdf_signatures import load_crl

    crl = load_crl(c.der)
    return {
        "fingerprint": c.fingerprint,
        "crl_issuer": crl.issuer,
        "next_update": crl.next_update,
        "added_at": c.added_at,
    }


async def add_crl(args: argparse.Namespace) -> None:
    from lienthong.crypto.pdf_signatures import MAX_CRL_BYTES, CrlError, load_crl

    try:
        crl = load_crl(_read(args.file, MAX_CRL_BYTES, CrlError, "a CRL"))
    except CrlError as exc:
        raise CrlError(f"{args.file}: {exc}") from None
    config = load_config(args.data_dir)
    async with await _open(args) as store:
        stored = trust.add_crl(config.data_dir, crl.fingerprint, crl.der, at=store.now())
    emit(
        args,
        _crl_row(stored),
        f"CRL configured: {crl.issuer} (next update {crl.next_update})\n"
        f"SHA-256 fingerprint: {stored.fingerprint}",
    )


async def list_(args: argparse.Namespace) -> None:
    async with await _open(args) as store, store.read() as conn:
        anchors = await trust.anchors(conn)
    crls = [_crl_row(c) for c in trust.crls(load_config(args.data_dir).data_dir)]
    lines = [f"{a.fingerprint}\t{a.subject}" for a in anchors]
    lines += [f"{c['fingerprint']}\tCRL of {c['crl_issuer']}" for c in crls]
    emit(args, [_row(a) for a in anchors] + crls, "\n".join(lines) or "No trusted CA certificates")


async def remove(args: argparse.Namespace) -> None:
    removed_crl = trust.remove_crl(load_config(args.data_dir).data_dir, args.fingerprint)
    if removed_crl is not None:
        emit(args, {"fingerprint": removed_crl.fingerprint}, "CRL removed")
        return
    async with await _open(args) as store, store.write() as tx:
        removed = await trust.remove_anchor(tx, args.fingerprint, actor="cli", at=store.now())
    emit(args, _row(removed), f"No longer trusted: {removed.subject}")
