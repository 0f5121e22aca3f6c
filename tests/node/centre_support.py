"""Helpers of the centre tests: a clock, a unit's side of enrolment, a directory stand-in."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import NodeKeys
from lienthong.crypto.keystore import load_keys
from lienthong.node.context import NodeContext
from lienthong.protocol.certificate import make_registration
from lienthong.protocol.directory import Directory
from lienthong.protocol.wire import unpack
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import unix_ms

CENTRE_NAME = "Trung tâm Tin học tỉnh Tây Ninh"
CENTRE_CODE = "000.00.00.H53"
UNIT_A = ("000.00.05.H53", "Sở Nội vụ")
UNIT_B = ("000.00.04.H53", "Văn phòng UBND tỉnh")


class FakeClock:
    """Unix milliseconds that move only when a test says so; starts at the real time so
    that X.509 certificates issued "now" also pass OpenSSL's own validity check."""

    def __init__(self) -> None:
        self.now = unix_ms()

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


def split_token(token: str) -> tuple[str, bytes]:
    """The token id and the 20 secret bytes of a printed "<id>.<base32 secret>" token."""
    token_id, text = token.split(".")
    return token_id, base64.b32decode(text + "=" * (-len(text) % 8))


@dataclass
class UnitSide:
    """What `lienthong enrol` holds at a unit: its keys and its TLS key."""

    code: str
    name: str
    keys: NodeKeys = field(default_factory=NodeKeys.generate)
    tls_key: tls.TlsPrivateKey = field(default_factory=tls.generate_tls_key)
    endpoints: tuple[str, ...] = ("https://127.0.0.1:7443",)

    @property
    def tls_public(self) -> bytes:
        """As a request carries it: 32 bytes (Ed25519) or the 65-byte P-256 point."""
        return tls.public_key_bytes(self.tls_key.public_key())

    def request(self, token: str, *, code: str | None = None, created: int = 1) -> bytes:
        token_id, secret = split_token(token)
        return make_registration(
            self.keys,
            code=code or self.code,
            name=self.name,
            tls_key=self.tls_public,
            endpoints=list(self.endpoints),
            reachable=True,
            created=created,
            token_id=token_id,
            token_secret=secret,
        )

    def rotation(self, old: UnitSide, serial: int, *, created: int = 2) -> bytes:
        """A request for this side's keys, signed over by `old`'s key (certificate `serial`)."""
        return make_registration(
            self.keys,
            code=self.code,
            name=self.name,
            tls_key=self.tls_public,
            endpoints=list(self.endpoints),
            reachable=True,
            created=created,
            old_keys=old.keys,
            old_serial=serial,
        )

    def write_tls(self, directory: Path, bundle: bytes) -> tuple[Path, Path]:
        """Store the TLS certificate of an enrolment answer; return (cert, key) paths."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = directory / "cert.pem", directory / "tls.key"
        cert_path.write_bytes(open_bundle(bundle)["tls_certificate"])
        key_path.write_bytes(tls.key_to_pem(self.tls_key))
        key_path.chmod(0o600)
        return cert_path, key_path


def open_bundle(bundle: bytes) -> dict[str, bytes]:
    value = unpack(bundle, what="enrolment answer", max_bytes=64 * 1024 * 1024)
    assert set(value) == {"certificate", "tls_certificate", "ca_certificate", "directory"}
    return value


@dataclass
class DirectoryStub:
    """What the peer middleware reads of a node's directory state."""

    current: Directory | None = None
    version: int = 0


async def centre_context(
    data_dir: Path, clock: FakeClock, *, blobs: Path, database: str = "", **options: object
) -> NodeContext:
    """A centre made by `centre init` in `data_dir` (with `database`, `centre init
    --database`: its data in that PostgreSQL database), opened as a node context holding
    its first directory, as the running centre would (the caller closes ctx.store)."""
    from lienthong.node.centre.rules import centre_of, install_directory
    from lienthong.node.centre.setup import create_centre
    from lienthong.node.config import load_config
    from lienthong.protocol.directory import verify_directory
    from lienthong.storage.store_pg import open_store

    if database:
        options["database"] = database
    await create_centre(data_dir, name=CENTRE_NAME, clock=clock, **options)  # type: ignore[arg-type]
    config = load_config(data_dir)
    store = await open_store(
        config.store_path, database=config.get("centre", "database"), clock=clock
    )
    ctx = NodeContext(
        config=config,
        keys=load_keys(config.path("keys", "identity")),
        store=store,  # type: ignore[arg-type]
        blobs=BlobStore(blobs),
        directory=DirectoryStub(),  # type: ignore[arg-type]
        clock=clock,
    )
    centre = centre_of(ctx)
    latest = await centre.latest_directory()
    assert latest is not None
    install_directory(ctx, verify_directory(latest[1], centre.root.sign_public, now=clock()))
    return ctx
