"""A unit's data directory as the command line meets it after enrolment, made by hand: `init`,
the federation's CA and a directory of two units, and a letter from the other one arrived."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lienthong.bootstrap.directory import DirectoryState
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import NodeKeys
from lienthong.crypto.keystore import load_keys
from lienthong.node.runtime import open_context
from lienthong.node.unit import documents as service
from lienthong.node.unit.attachments import encrypt_file
from lienthong.protocol.document import DocumentBody
from lienthong.protocol.envelope import seal_envelope
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import unix_ms
from tests.node.cli.test_cli import run
from tests.node.helpers import make_directory
from tests.node.unit.test_documents import letter

A, B = "000.00.02.H53", "000.00.03.H53"


async def unit_with_a_letter(
    data_dir: Path, tmp_path: Path, attachments: dict[str, bytes] | None = None
) -> str:
    """`init` unit A in `data_dir`, give it a CA and a directory as enrolment would (A and
    B, under a root key made here), and have a letter from B arrive there, with
    `attachments` (file name -> bytes); the letter's id at A."""
    result = run("init", "--data-dir", str(data_dir), "--code", A, "--name", "Sở Nội vụ")
    assert result.returncode == 0, result.stderr
    root = NodeKeys.generate()
    start = datetime.now(UTC) - timedelta(minutes=5)
    ca = tls.issue_ca(
        Ed25519PrivateKey.from_private_bytes(root.signing.encode()),
        "Trung tâm CA",
        not_before=start,
        not_after=start + timedelta(days=30),
    )
    (data_dir / "tls").mkdir()
    (data_dir / "tls" / "ca.pem").write_bytes(tls.cert_to_pem(ca))
    keys_b = NodeKeys.generate()
    units = {A: load_keys(data_dir / "keys" / "identity.key"), B: keys_b}
    directory = make_directory(root, units, now=unix_ms())
    blobs_b = BlobStore(tmp_path / "blobs-of-b")
    sources = tmp_path / "files-of-b"
    sources.mkdir(exist_ok=True)
    manifest = []
    for n, (name, data) in enumerate((attachments or {}).items()):
        path = sources / f"{n}.bin"  # the name travels in the manifest, not on B's disk
        path.write_bytes(data)
        manifest.append(encrypt_file(blobs_b, path, name=name))
    now = unix_ms()
    raw = seal_envelope(
        keys=keys_b,
        sender=B,
        serial=directory.current(B).serial,
        recipients={A: units[A].enc_public},
        body=DocumentBody(letter(), tuple(manifest)),
        created=now,
    )
    ctx = await open_context(data_dir)
    try:
        state = await DirectoryState.load(ctx.store, root.sign_public, unix_ms)
        assert await state.accept(directory.raw, source="test")
        ctx.directory = state
        for attachment in manifest:
            target = ctx.blobs.path(attachment.blob)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(blobs_b.path(attachment.blob), target)
        await service.receive_envelope(ctx, raw, via="direct")
        async with ctx.store.read() as conn:
            row = await conn.fetchone("SELECT id FROM documents WHERE direction = 'in'")
    finally:
        await ctx.store.close()
    return row[0]
