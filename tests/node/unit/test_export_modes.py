"""What `lienthong export` writes, a decrypted attachment, is readable by its owner only."""

import os
import stat

from lienthong.node.unit.attachments import decrypt_to, encrypt_file
from lienthong.storage.blobs import BlobStore


def test_a_decrypted_attachment_is_created_0600(tmp_path):
    """decrypt_to (export's writer) creates its file 0600 under umask 0, even over a stale
    0644 partial file of an interrupted export."""
    blobs = BlobStore(tmp_path / "blobs")
    source = tmp_path / "cong-van.pdf"
    source.write_bytes(b"%PDF-1.4 " * 10_000)
    attachment = encrypt_file(blobs, source)
    out = tmp_path / "export" / "cong-van.pdf"
    out.parent.mkdir()
    stale = out.with_name(f".{out.name}.partial")
    stale.write_bytes(b"left by an interrupted export")
    stale.chmod(0o644)
    old = os.umask(0)
    try:
        decrypt_to(blobs, attachment, out)
    finally:
        os.umask(old)
    assert out.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not stale.exists()
