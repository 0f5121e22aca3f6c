"""Signing at issue for a unit: the PDFs of an outgoing document signed with the organisation's
key of [signing] (crypto/pdf_sign.py), in a worker thread, before the document is stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path

from lienthong.crypto import pdf_sign
from lienthong.crypto.errors import LienthongError
from lienthong.crypto.pdf_sign import (
    MAX_SIGN_PDF_BYTES,
    PdfUnreadable,
    SigningKey,
    open_signer,
    sign_pdf,
)
from lienthong.node.config import Config

log = logging.getLogger("lienthong.signing")

PDF_SUFFIX = ".pdf"  # every attachment named *.pdf (any case) is signed
TSA_TIMEOUT_SECONDS = 30  # a TSA answers in well under a second; past this it is down


class SigningNotConfigured(LienthongError):
    """[signing] names no key, or the document has no PDF to sign."""


def is_pdf(path: Path) -> bool:
    return path.suffix.casefold() == PDF_SUFFIX


def signing_key(config: Config) -> SigningKey:
    """The configured key, or SigningNotConfigured saying what to write in node.toml."""
    key = config.signing_key
    if key is None:
        raise SigningNotConfigured(
            "no signing key is configured: set signing.pkcs12, or signing.pkcs11_module with "
            "token_label and key_label, in node.toml (docs/SIGNATURES.md)"
        )
    return key


def stamp_font(config: Config) -> str | None:
    """The stamp's TrueType font: [signing] stamp_font (which must exist), else the first of
    crypto.pdf_sign.STAMP_FONTS found; None (logged) when there is none."""
    if config.get("signing", "stamp_font"):
        path = config.path("signing", "stamp_font")
        if not path.is_file():
            raise SigningNotConfigured(f"signing.stamp_font: no font file at {path}")
        return str(path)
    found = pdf_sign.default_stamp_font()
    if found is None:
        log.warning(
            "no TrueType font with Vietnamese letters found (%s); the signature's stamp "
            "drops the diacritics: set [signing] stamp_font",
            ", ".join(pdf_sign.STAMP_FONTS),
        )
    return found


def _timestamper(url: str):
    if not url:
        return None
    # pyHanko's client over requests: the signing runs in a worker thread, off the loop.
    from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper

    return HTTPTimeStamper(url, timeout=TSA_TIMEOUT_SECONDS)


def _sign_all(
    config: Config, files: Sequence[Path], pin: str, out_dir: Path, when: dt.datetime
) -> list[Path]:
    key = signing_key(config)
    pdfs = [f for f in files if is_pdf(f)]
    if not pdfs:
        raise SigningNotConfigured(
            "signing was asked for, but the document has no PDF file (*.pdf) to sign"
        )
    timestamper = _timestamper(config.get("signing", "tsa_url"))
    font = stamp_font(config)
    signed: dict[Path, Path] = {}
    with open_signer(key, pin, when) as signer:
        for path in pdfs:
            try:
                size = path.stat().st_size
                if size > MAX_SIGN_PDF_BYTES:
                    raise PdfUnreadable(
                        f"{path.name}: {size} bytes; at most {MAX_SIGN_PDF_BYTES} are signed"
                    )
                data = path.read_bytes()
            except OSError as exc:
                raise PdfUnreadable(f"{path.name} cannot be read: {exc}") from None
            try:
                result = sign_pdf(
                    data,
                    signer,
                    organisation=config.name,
                    when=when,
                    timestamper=timestamper,
                    font=font,
                )
            except LienthongError as exc:
                raise type(exc)(f"{path.name}: {exc}") from None
            target = out_dir / path.name
            target.write_bytes(result)
            signed[path] = target
    return [signed.get(f, f) for f in files]


async def sign_files(config: Config, files: Sequence[Path], pin: str, out_dir: Path) -> list[Path]:
    """`files` with each PDF replaced by its signed copy in `out_dir` (same name); other files
    as they are. The first failure is raised; the caller then throws `out_dir` away.

    The time is the machine's real clock, not the node's injected one: pyHanko writes the
    system time into the signature, and the certificate must be valid then."""
    when = dt.datetime.now(dt.UTC)
    return await asyncio.to_thread(_sign_all, config, files, pin, out_dir, when)
