"""Backup of a running store with its blobs and files, encrypted or not, and verified restore."""

import os
import stat
import tarfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from lienthong.storage import backup as bk
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import Store
from lienthong.storage.documents import DocumentRecord, get_envelope_raw, record_incoming
from lienthong.storage.errors import BackupError


def _staging_dirs(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.name.startswith(".restored")]


async def _data_dir(tmp_path: Path, make_doc: Callable[..., DocumentRecord]) -> tuple[Path, str]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "node.toml").write_text('code = "000.00.05.H53"\n')
    key = data / "keys" / "identity.key"
    key.parent.mkdir()
    key.write_bytes(b"secret key bytes")
    key.chmod(0o600)
    blobs = BlobStore(data / bk.BLOBS_DIR)
    writer = blobs.writer()
    writer.write(b"attachment ciphertext")
    blob_id = writer.commit().id
    partial = blobs.partial("aa" * 16)
    partial.write(b"unfinished")
    partial.suspend()
    return data, blob_id


async def test_backup_then_restore_gives_the_same_rows_and_blobs(
    tmp_path: Path, make_doc: Callable[..., DocumentRecord]
) -> None:
    """A backup taken while the store is open restores to the same rows, blobs and files."""
    data, blob_id = await _data_dir(tmp_path, make_doc)
    async with await Store.open(data / bk.STORE_FILE) as store:
        async with store.write() as tx:
            for n in range(20):
                await record_incoming(tx, make_doc(n), f"envelope {n}".encode(), at=n)
        info = await bk.backup(data, tmp_path / "out" / "backup.tar")
        async with store.write() as tx:  # written after the snapshot: not in the backup
            await record_incoming(tx, make_doc(99), b"late", at=99)
    assert info.path == (tmp_path / "out" / "backup.tar").resolve()
    with tarfile.open(info.path) as tar:
        names = tar.getnames()
    assert names[0] == bk.STORE_FILE and names[-1] == bk.MANIFEST
    assert "blobs/partial/" + "aa" * 16 not in names
    assert not any(n.endswith("-wal") for n in names)

    target = tmp_path / "restored"
    restored = await bk.restore(target, info.path)
    assert restored.members == info.members == len(names) - 1
    assert (target / "node.toml").read_text() == 'code = "000.00.05.H53"\n'
    assert (target / "keys" / "identity.key").stat().st_mode & 0o777 == 0o600
    with BlobStore(target / bk.BLOBS_DIR).open(blob_id) as file:
        assert file.read() == b"attachment ciphertext"
    async with await Store.open(target / bk.STORE_FILE) as store, store.read() as conn:
        count = (await conn.fetchone("SELECT count(*) FROM documents"))[0]
        assert await get_envelope_raw(conn, make_doc(7).id) == b"envelope 7"
    assert count == 20


async def test_restore_refuses_a_non_empty_directory(
    tmp_path: Path, make_doc: Callable[..., DocumentRecord]
) -> None:
    """Restore never overwrites: a directory with anything in it is refused."""
    data, _ = await _data_dir(tmp_path, make_doc)
    await (await Store.open(data / bk.STORE_FILE)).close()
    archive = (await bk.backup(data, tmp_path / "b.tar")).path
    with pytest.raises(BackupError, match="not empty"):
        await bk.restore(data, archive)
    empty = tmp_path / "empty"
    empty.mkdir()
    await bk.restore(empty, archive)
    assert (empty / bk.STORE_FILE).is_file()


async def test_tampered_archive_is_refused(
    tmp_path: Path, make_doc: Callable[..., DocumentRecord]
) -> None:
    """A member whose bytes changed fails its SHA-256 and nothing is restored."""
    data, _ = await _data_dir(tmp_path, make_doc)
    await (await Store.open(data / bk.STORE_FILE)).close()
    archive = (await bk.backup(data, tmp_path / "b.tar")).path
    raw = bytearray(archive.read_bytes())
    at = raw.find(b'code = "000.00.05.H53"')
    raw[at] = ord("C")
    archive.write_bytes(bytes(raw))
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match=r"node\.toml"):
        await bk.restore(target, archive)
    assert not target.exists()
    assert _staging_dirs(tmp_path) == []


async def test_unlisted_or_unsafe_members_are_refused(tmp_path: Path) -> None:
    """An archive without a manifest, or with a member outside it, is refused."""
    evil = tmp_path / "evil.tar"
    payload = tmp_path / "payload"
    payload.write_bytes(b"x")
    with tarfile.open(evil, "w") as tar:
        tar.add(payload, arcname="../escape")
    with pytest.raises(BackupError, match="MANIFEST"):
        await bk.restore(tmp_path / "t", evil)
    assert not (tmp_path / "escape").exists()


async def test_backup_refuses_output_inside_data_dir(
    tmp_path: Path, make_doc: Callable[..., DocumentRecord]
) -> None:
    """The archive cannot be written into the directory it backs up."""
    data, _ = await _data_dir(tmp_path, make_doc)
    await (await Store.open(data / bk.STORE_FILE)).close()
    with pytest.raises(BackupError, match="outside"):
        await bk.backup(data, data / "b.tar")
    with pytest.raises(BackupError, match="no store"):
        os.remove(data / bk.STORE_FILE)
        await bk.backup(data, tmp_path / "b.tar")


PASSPHRASE = "cụm mật khẩu của bản sao lưu".encode()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_backup_and_restored_files_are_readable_by_their_owner_only(
    tmp_path: Path, make_doc: Callable[..., DocumentRecord]
) -> None:
    """The backup file is 0600; restore makes every folder 0700 (keys/ too) and every file
    0600, even where the source had 0755 and 0644."""
    data, _ = await _data_dir(tmp_path, make_doc)
    (data / "keys").chmod(0o755)
    (data / "node.toml").chmod(0o644)
    await (await Store.open(data / bk.STORE_FILE)).close()
    archive = (await bk.backup(data, tmp_path / "out" / "b.tar")).path
    assert _mode(archive) == 0o600
    target = tmp_path / "restored"
    await bk.restore(target, archive)
    folders = [target, *(p for p in target.rglob("*") if p.is_dir())]
    files = [p for p in target.rglob("*") if p.is_file()]
    assert target / "keys" in folders and target / "blobs" in folders
    assert {p.name: _mode(p) for p in folders} == {p.name: 0o700 for p in folders}
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


async def test_encrypted_backup_round_trip_in_bounded_memory(
    tmp_path: Path, make_doc: Callable[..., DocumentRecord]
) -> None:
    """With a passphrase the archive is sealed (no key or store bytes readable in it) and
    restores to the same rows and blobs; a 24 MiB blob passes through both ways while
    Python holds under 8 MiB at the peak."""
    data, blob_id = await _data_dir(tmp_path, make_doc)
    big = os.urandom(24 * 1024 * 1024)
    writer = BlobStore(data / bk.BLOBS_DIR).writer()
    writer.write(big)
    big_id = writer.commit().id
    async with await Store.open(data / bk.STORE_FILE) as store, store.write() as tx:
        await record_incoming(tx, make_doc(1), b"envelope 1", at=1)
    tracemalloc.start()
    try:
        info = await bk.backup(data, tmp_path / "b.tar.sealed", passphrase=PASSPHRASE)
        target = tmp_path / "restored"
        await bk.restore(target, info.path, passphrase=PASSPHRASE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
    raw = info.path.read_bytes()
    assert bk.is_encrypted(info.path) and _mode(info.path) == 0o600
    for clear in (b"secret key bytes", b"SQLite format 3", b"MANIFEST.json", big[:64]):
        assert clear not in raw
    assert (target / "keys" / "identity.key").read_bytes() == b"secret key bytes"
    blobs = BlobStore(target / bk.BLOBS_DIR)
    with blobs.open(blob_id) as file:
        assert file.read() == b"attachment ciphertext"
    with blobs.open(big_id) as file:
        assert file.read() == big
    async with await Store.open(target / bk.STORE_FILE) as store, store.read() as conn:
        assert await get_envelope_raw(conn, make_doc(1).id) == b"envelope 1"


async def test_encrypted_backup_refuses_a_missing_or_wrong_passphrase_and_alteration(
    tmp_path: Path, make_doc: Callable[..., DocumentRecord]
) -> None:
    """Restoring a sealed backup without its passphrase or with a wrong one is refused with
    a message saying so, as is an altered one; nothing is left behind."""
    data, _ = await _data_dir(tmp_path, make_doc)
    await (await Store.open(data / bk.STORE_FILE)).close()
    archive = (await bk.backup(data, tmp_path / "b.sealed", passphrase=PASSPHRASE)).path
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match="encrypted backup: its passphrase is needed"):
        await bk.restore(target, archive)
    with pytest.raises(BackupError, match="the passphrase does not open the backup"):
        await bk.restore(target, archive, passphrase=b"sai mat khau")
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 1
    archive.write_bytes(bytes(raw))
    with pytest.raises(BackupError, match="altered or cut short"):
        await bk.restore(target, archive, passphrase=PASSPHRASE)
    assert not target.exists()
    assert _staging_dirs(tmp_path) == []
