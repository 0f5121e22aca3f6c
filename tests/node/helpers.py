"""A small federation in memory for tests of node services: real keys, stores and directory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from lienthong.crypto.keys import NodeKeys
from lienthong.node.config import Config, validate
from lienthong.node.context import NodeContext
from lienthong.protocol.certificate import issue_certificate
from lienthong.protocol.directory import Directory, issue_directory, verify_directory
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import Store

NOW = 1_764_000_000_000
DAY = 86_400_000


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


@dataclass
class StaticDirectory:
    """What node services need of bootstrap.directory.DirectoryState, over one Directory."""

    current: Directory | None
    version: int = field(init=False)

    def __post_init__(self) -> None:
        self.version = self.current.version if self.current else 0

    def key_lookup(self, code: str, serial: int) -> bytes:
        return self.current.signing_key(code, serial)


def make_directory(root: NodeKeys, units: dict[str, NodeKeys], now: int = NOW) -> Directory:
    certs = [
        issue_certificate(
            root,
            serial=i,
            code=code,
            name=f"Unit {code}",
            sign_key=k.sign_public,
            enc_key=k.enc_public,
            tls_sha256=hashlib.sha256(code.encode()).digest(),
            endpoints=[],
            reachable=True,
            not_before=now - DAY,
            not_after=now + 365 * DAY,
        )
        for i, (code, k) in enumerate(sorted(units.items()), start=1)
    ]
    raw = issue_directory(
        root,
        version=1,
        issued_at=now,
        expires_at=now + 7 * DAY,
        centre_name="Trung tâm",
        centre_url="https://127.0.0.1:1",
        certificates=certs,
    )
    return verify_directory(raw, root.sign_public, now=now)


async def make_context(
    tmp: Path, code: str, keys: NodeKeys, directory: Directory, clock: Clock, **security
) -> NodeContext:
    data_dir = tmp / code
    data_dir.mkdir(parents=True)
    values = validate({"unit": {"code": code, "name": f"Unit {code}"}, "security": security})
    config = Config(data_dir=data_dir, values=values)
    store = await Store.open(config.store_path, clock=clock)
    return NodeContext(
        config=config,
        keys=keys,
        store=store,
        blobs=BlobStore(config.blob_dir),
        directory=StaticDirectory(directory),
        clock=clock,
    )
