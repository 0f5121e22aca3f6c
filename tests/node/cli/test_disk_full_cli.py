"""`send` and `process` on a full disk (a filled tmpfs): one line naming the disk, exit 1,
no traceback; once space is freed the same commands work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lienthong.bootstrap.directory import DirectoryState
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import NodeKeys
from lienthong.crypto.keystore import load_keys
from lienthong.node.runtime import open_context
from lienthong.node.unit import documents as service
from lienthong.storage.db import unix_ms
from lienthong.storage.documents import get_envelope_raw
from tests.full_disk import small_disk
from tests.node.cli.test_cli import run
from tests.node.helpers import Clock, make_context, make_directory
from tests.node.unit.test_documents import letter

A, B = "000.00.02.H53", "000.00.03.H53"


async def enrolled_by_hand(data_dir, tmp_path) -> str:
    """`init` a unit A in `data_dir`, give it a CA and a directory as enrolment would (A and
    B, under a root key made here), and have B's letter arrive there; its id."""
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
    ctx = await open_context(data_dir)
    try:
        state = await DirectoryState.load(ctx.store, root.sign_public, unix_ms)
        assert await state.accept(directory.raw, source="test")
        ctx.directory = state
        sender = await make_context(tmp_path, B, keys_b, directory, Clock(unix_ms()))
        try:
            envelope_id = await service.send_document(sender, letter(), [A], actor="vt")
            async with sender.store.read() as conn:
                raw = await get_envelope_raw(conn, envelope_id)
        finally:
            await sender.store.close()
        await service.receive_envelope(ctx, raw, via="direct")
    finally:
        await ctx.store.close()
    return envelope_id


@pytest.mark.small_disk
async def test_send_and_process_on_a_full_disk_print_one_line_naming_it(tmp_path):
    """On a full disk, while the node runs, `send` (with an attachment) and `process` each
    print one line that names the data directory's disk and says to free space, exit 1 and
    show no traceback; so does `inbox` with no node running; after freeing space `send`
    and `process` succeed."""
    attachment = tmp_path / "bao-cao.pdf"
    attachment.write_bytes(b"%PDF-1.4 bao cao\n" * 20_000)
    with small_disk(tmp_path / "disk") as disk:
        data_dir = disk.path / "node"
        incoming = await enrolled_by_hand(data_dir, tmp_path)
        send = ("send", "--data-dir", str(data_dir), "--to", B, "--number", "12/SNV-VP")
        send += ("--subject", "Báo cáo tháng", "--file", str(attachment))
        process = ("process", "--data-dir", str(data_dir), incoming, "--status", "accepted")
        running = await open_context(data_dir)  # as `lienthong run` holds the store open
        try:
            disk.fill()
            for command in (send, process):
                assert_one_line_naming_the_disk(run(*command), data_dir)
        finally:
            await running.store.close()
        # With no node running the store cannot even be opened (its WAL index cannot be
        # made): the same one line for a command that only reads.
        disk.fill()  # what the running node's store held open is free again
        assert_one_line_naming_the_disk(run("inbox", "--data-dir", str(data_dir)), data_dir)
        disk.free()
        for command in (send, process):
            result = run(*command)
            assert result.returncode == 0, result.stderr


def assert_one_line_naming_the_disk(result, data_dir) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("lienthong: error: the disk holding ")
    assert str(data_dir) in lines[0] and "is full" in lines[0] and "df -h" in lines[0]
