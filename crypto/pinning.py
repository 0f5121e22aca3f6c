"""Pinned TLS for outbound connections: beyond the centre's CA, the server's leaf certificate
must be one the signed directory lists for that destination (its `tls_sha256`)."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterable
from pathlib import Path

from lienthong.crypto.x509 import client_context, load_identity

# A destination lists its current leaf and, during a rotation's overlap, the previous one;
# a URL served by several centre workers pins each worker's pair.
MAX_PINS = 16


class PinMismatch(ssl.SSLCertVerificationError):
    """The server's certificate was issued by the centre's CA but is not the one the
    directory lists for this destination: another node is standing in for it."""


def _check(sslobj: ssl.SSLObject | ssl.SSLSocket, pins: frozenset[bytes]) -> None:
    der = sslobj.getpeercert(binary_form=True)
    digest = hashlib.sha256(der).digest() if der else b""
    if digest not in pins:
        raise PinMismatch(
            f"server certificate sha256 {digest.hex() or '(none)'} is not pinned for "
            f"{sslobj.server_hostname}: expected one of {sorted(p.hex() for p in pins)}"
        )


class _PinnedObject(ssl.SSLObject):
    """What asyncio's TLS transport drives: the pin is checked when the handshake ends,
    before one byte of the request is written."""

    def do_handshake(self) -> None:
        super().do_handshake()
        _check(self, self.context.pins)  # type: ignore[attr-defined]


class _PinnedSocket(ssl.SSLSocket):
    """The same check for blocking sockets (the CLI and tests)."""

    def do_handshake(self, block: bool = False) -> None:  # type: ignore[override]
        super().do_handshake(block)
        _check(self, self.context.pins)  # type: ignore[attr-defined]


class PinnedContext(ssl.SSLContext):
    """A client context with the pins of one destination; make one per destination (a
    connection pool keys on the context, so pooled connections never cross destinations)."""

    sslobject_class = _PinnedObject
    sslsocket_class = _PinnedSocket
    pins: frozenset[bytes]


def pinned_client_context(
    cert_path: Path,
    key_path: Path,
    ca_path: Path,
    pins: Iterable[bytes],
    passphrase: bytes | None = None,
) -> PinnedContext:
    """TLS 1.3 client context like crypto.x509.client_context that also requires the
    server's leaf to hash (SHA-256 of its DER) to one of `pins`; `passphrase` opens a
    sealed TLS key."""
    chosen = frozenset(pins)
    if not chosen or len(chosen) > MAX_PINS or any(len(p) != 32 for p in chosen):
        raise ValueError(f"between 1 and {MAX_PINS} SHA-256 pins are needed, got {len(chosen)}")
    base = client_context(cert_path, key_path, ca_path, passphrase)
    context = PinnedContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = base.minimum_version
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    load_identity(context, cert_path, key_path, ca_path, passphrase)
    context.pins = chosen
    return context
