"""BlobStore: content addressing, hash and size checks, id validation, resume."""

import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lienthong.storage.blobs import BlobInfo, BlobStore
from lienthong.storage.errors import BlobError, BlobHashMismatch, BlobTooLarge, NotFound

DATA = os.urandom(3 * 1024 * 1024 + 17)
DATA_ID = hashlib.sha256(DATA).hexdigest()


def _chunks(data: bytes, size: int = 1024 * 1024) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _leftovers(blobs: BlobStore) -> list[Path]:
    return [p for p in blobs.root.rglob("*") if p.is_file()]


def test_round_trip(tmp_path: Path) -> None:
    """Bytes written come back byte-exact under the SHA-256 of their content."""
    blobs = BlobStore(tmp_path / "blobs")
    writer = blobs.writer()
    for chunk in _chunks(DATA):
        writer.write(chunk)
    info = writer.commit(expected_id=DATA_ID)
    assert info == BlobInfo(DATA_ID, len(DATA))
    assert blobs.path(DATA_ID) == tmp_path / "blobs" / DATA_ID[:2] / DATA_ID[2:]
    with blobs.open(DATA_ID) as file:
        assert file.read() == DATA
    assert _leftovers(blobs) == [blobs.path(DATA_ID)]
    assert blobs.delete(DATA_ID) and not blobs.exists(DATA_ID)
    assert not blobs.delete(DATA_ID)


def test_same_content_twice_is_one_file(tmp_path: Path) -> None:
    """Writing bytes already stored leaves one file and no temp file."""
    blobs = BlobStore(tmp_path)
    for _ in range(2):
        writer = blobs.writer()
        writer.write(b"same")
        writer.commit()
    assert len(_leftovers(blobs)) == 1


def test_hash_mismatch_leaves_no_file(tmp_path: Path) -> None:
    """Bytes that do not hash to the announced id are refused and leave nothing."""
    blobs = BlobStore(tmp_path)
    writer = blobs.writer()
    writer.write(b"not what was announced")
    with pytest.raises(BlobHashMismatch, match=DATA_ID):
        writer.commit(expected_id=DATA_ID)
    assert _leftovers(blobs) == []
    assert not blobs.exists(DATA_ID)


def test_size_limit_leaves_no_file(tmp_path: Path) -> None:
    """A blob over max_size is refused on the write that crosses it, or at commit."""
    blobs = BlobStore(tmp_path)
    writer = blobs.writer(max_size=10)
    writer.write(b"12345")
    with pytest.raises(BlobTooLarge, match="10 bytes"):
        writer.write(b"123456")
    assert _leftovers(blobs) == []
    writer = blobs.writer()
    writer.write(b"12345678901")
    with pytest.raises(BlobTooLarge):
        writer.commit(max_size=10)
    assert _leftovers(blobs) == []


@pytest.mark.parametrize(
    "bad",
    ["../../etc/passwd", DATA_ID.upper(), DATA_ID[:-1], DATA_ID + "0", "", "a/" + DATA_ID[2:]],
)
def test_bad_ids_are_refused(tmp_path: Path, bad: str) -> None:
    """Anything but 64 lowercase hex characters is refused before touching a file."""
    blobs = BlobStore(tmp_path)
    for call in (blobs.path, blobs.exists, blobs.open, blobs.delete):
        with pytest.raises(BlobError, match="64 lowercase hex"):
            call(bad)
    with pytest.raises(BlobError):
        blobs.writer().commit(expected_id=bad)


@pytest.mark.parametrize("bad", ["../x", "01J" + "a" * 23, "z" * 32, "0" * 31, ""])
def test_bad_upload_ids_are_refused(tmp_path: Path, bad: str) -> None:
    """Upload ids must be a ULID or 32-64 lowercase hex."""
    with pytest.raises(BlobError, match="upload id"):
        BlobStore(tmp_path).partial(bad)


def test_open_missing_blob(tmp_path: Path) -> None:
    """Opening a valid id that is not stored raises NotFound."""
    with pytest.raises(NotFound):
        BlobStore(tmp_path).open(DATA_ID)


def test_resume_after_a_broken_upload(tmp_path: Path) -> None:
    """A suspended upload resumes where it stopped and commits to the right id."""
    blobs = BlobStore(tmp_path)
    upload = "01JABCDEFGHJKMNPQRSTVWXYZ0"
    first, rest = DATA[:1_500_000], DATA[1_500_000:]
    with pytest.raises(ConnectionError), blobs.partial(upload) as writer:
        writer.write(first)
        raise ConnectionError("client went away")
    assert blobs.partial_size(upload) == len(first)
    writer = blobs.partial(upload)
    assert writer.size == len(first)
    writer.write(rest)
    assert writer.commit(expected_id=DATA_ID) == BlobInfo(DATA_ID, len(DATA))
    assert blobs.partial_size(upload) == 0
    with blobs.open(DATA_ID) as file:
        assert file.read() == DATA


def test_resume_with_corrupt_prefix_is_refused(tmp_path: Path) -> None:
    """A resumed upload whose stored prefix was altered fails the hash and is removed."""
    blobs = BlobStore(tmp_path)
    upload = "ab" * 16
    writer = blobs.partial(upload)
    writer.write(DATA[:1000])
    writer.suspend()
    path = tmp_path / "partial" / upload
    stored = path.read_bytes()
    path.write_bytes(bytes([stored[0] ^ 0xFF]) + stored[1:])  # always a different first byte
    writer = blobs.partial(upload)
    writer.write(DATA[1000:])
    with pytest.raises(BlobHashMismatch):
        writer.commit(expected_id=DATA_ID)
    assert _leftovers(blobs) == []


def test_one_writer_per_upload(tmp_path: Path) -> None:
    """A second writer on an upload being written is refused."""
    blobs = BlobStore(tmp_path)
    writer = blobs.partial("cd" * 16)
    with pytest.raises(BlobError, match="another request"):
        blobs.partial("cd" * 16)
    writer.abort()
    assert blobs.partial_size("cd" * 16) == 0


@pytest.mark.parametrize("end", ["commit", "abort"])
def test_an_upload_ended_between_open_and_lock_is_not_taken_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, end: str
) -> None:
    """A second request that opened the upload just before the first committed (or gave up)
    and so gets its lock only after is refused: the file it holds is no upload any more."""
    blobs = BlobStore(tmp_path)
    first = blobs.partial(DATA_ID)
    first.write(DATA)
    real_flock = fcntl.flock

    def first_ends_then_lock(fd: int, operation: int) -> None:
        monkeypatch.setattr(fcntl, "flock", real_flock)
        if end == "commit":
            first.commit(expected_id=DATA_ID)
        else:
            first.abort()
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", first_ends_then_lock)
    with pytest.raises(BlobError, match="finished or given up by another request"):
        blobs.partial(DATA_ID)
    assert blobs.exists(DATA_ID) is (end == "commit")
    assert blobs.partial_size(DATA_ID) == 0


def test_an_upload_keeps_its_lock_until_it_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a commit moves the upload into place, another request cannot take it up (it
    would append to what has become the stored blob)."""
    blobs = BlobStore(tmp_path)
    writer = blobs.partial(DATA_ID)
    writer.write(DATA)
    place, refused = BlobStore._place, []

    def place_after_a_try(self: BlobStore, source: Path, blob_id: str) -> None:
        try:
            blobs.partial(DATA_ID).suspend()
        except BlobError as exc:
            refused.append(str(exc))
        place(self, source, blob_id)

    monkeypatch.setattr(BlobStore, "_place", place_after_a_try)
    writer.commit(expected_id=DATA_ID)
    assert len(refused) == 1 and "being written by another request" in refused[0]
    with blobs.open(DATA_ID) as file:
        assert file.read() == DATA


async def _stream(data: bytes) -> AsyncIterator[bytes]:
    for chunk in _chunks(data, 256 * 1024):
        yield chunk


async def _broken(data: bytes) -> AsyncIterator[bytes]:
    yield data
    raise ConnectionResetError("peer reset")


async def test_write_stream(tmp_path: Path) -> None:
    """write_stream commits a verified blob, and leaves nothing on a mismatch."""
    blobs = BlobStore(tmp_path)
    assert await blobs.write_stream(_stream(DATA), DATA_ID) == BlobInfo(DATA_ID, len(DATA))
    with pytest.raises(BlobHashMismatch):
        await blobs.write_stream(_stream(b"other"), DATA_ID[::-1])
    assert _leftovers(blobs) == [blobs.path(DATA_ID)]


async def test_write_stream_resumes(tmp_path: Path) -> None:
    """A broken resumable stream keeps its bytes; the next stream completes the blob."""
    blobs = BlobStore(tmp_path)
    upload = "ef" * 16
    with pytest.raises(ConnectionResetError):
        await blobs.write_stream(_broken(DATA[:4096]), DATA_ID, upload_id=upload)
    assert blobs.partial_size(upload) == 4096
    info = await blobs.write_stream(_stream(DATA[4096:]), DATA_ID, upload_id=upload)
    assert info.id == DATA_ID and blobs.exists(DATA_ID)


async def test_blobs_are_noted_in_the_store(tmp_path: Path) -> None:
    """record_blob notes a blob once; blob_size reads it back."""
    from lienthong.storage.blobs import blob_size, record_blob
    from lienthong.storage.db import Store

    async with await Store.open(tmp_path / "s.sqlite3") as store:
        async with store.write() as tx:
            assert await record_blob(tx, BlobInfo(DATA_ID, len(DATA)), at=1)
            assert not await record_blob(tx, BlobInfo(DATA_ID, len(DATA)), at=2)
        async with store.read() as conn:
            assert await blob_size(conn, DATA_ID) == len(DATA)
            assert await blob_size(conn, "0" * 64) is None


async def _tiny(data: bytes, then: BaseException | None = None) -> AsyncIterator[bytes]:
    """16 KiB pieces (a TLS record's worth), so write_chunks gathers many per batch."""
    for chunk in _chunks(data, 16 * 1024):
        yield chunk
    if then is not None:
        raise then


async def test_write_chunks_keeps_order_and_every_byte_over_many_batches(tmp_path: Path) -> None:
    """Thousands of small pieces gathered into batches give the same bytes and hash."""
    from lienthong.storage.blobs import WRITE_BATCH, write_chunks

    assert len(DATA) > 2 * WRITE_BATCH  # several batches, and a last partial one
    blobs = BlobStore(tmp_path)
    writer = blobs.writer()
    await write_chunks(writer, _tiny(DATA))
    assert writer.size == len(DATA)
    assert writer.commit(DATA_ID) == BlobInfo(DATA_ID, len(DATA))
    assert blobs.path(DATA_ID).read_bytes() == DATA


async def test_write_chunks_writes_what_arrived_before_the_stream_broke(tmp_path: Path) -> None:
    """A stream broken after 3 MiB in small pieces: every piece received is on disk (none
    left in a batch), so the resumable upload continues from exactly there."""
    from lienthong.storage.blobs import write_chunks

    blobs = BlobStore(tmp_path)
    upload = "ab" * 16
    cut = 3 * 1024 * 1024 - 5 * 1024
    writer = blobs.partial(upload)
    with pytest.raises(ConnectionResetError):
        await write_chunks(writer, _tiny(DATA[:cut], ConnectionResetError("peer reset")))
    assert writer.size == cut
    writer.suspend()
    assert blobs.partial_size(upload) == cut
    info = await blobs.write_stream(_stream(DATA[cut:]), DATA_ID, upload_id=upload)
    assert info == BlobInfo(DATA_ID, len(DATA))


async def test_write_chunks_refuses_bytes_over_the_limit_and_keeps_nothing(tmp_path: Path) -> None:
    """More bytes than max_size, in small pieces: BlobTooLarge, the partial file gone."""
    from lienthong.storage.blobs import write_chunks

    blobs = BlobStore(tmp_path)
    writer = blobs.partial("cd" * 16, max_size=len(DATA) - 1)
    with pytest.raises(BlobTooLarge):
        await write_chunks(writer, _tiny(DATA))
    assert blobs.partial_size("cd" * 16) == 0
    assert _leftovers(blobs) == []
