"""Blob files: content addressed by the SHA-256 of their bytes, written whole or not at all.

A blob `id` (64 lowercase hex) lives at `root/id[:2]/id[2:]`. Writers stream into a
temp file under `root/tmp/` (same file system, so the rename is atomic), hash while
writing, fsync, check the hash and size, then os.replace into place. Resumable
uploads keep their bytes under `root/partial/<upload id>` until committed. No name
from input ever becomes a path: ids are validated before any file is touched.
Methods do blocking file I/O; async callers use `write_stream` or asyncio.to_thread.
"""

import asyncio
import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lienthong.crypto.files import sync_directory
from lienthong.protocol.ids import BLOB_ID
from lienthong.protocol.text import pattern
from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import BlobError, BlobHashMismatch, BlobTooLarge, NotFound
from lienthong.storage.filelock import open_renamable, try_lock, unlock

# Upload ids name a file: a ULID or 32 to 64 lowercase hex characters, nothing else.
UPLOAD_ID = pattern(
    "upload id", "[0-7][0-9A-HJKMNP-TV-Z]{25}|[0-9a-f]{32,64}", "0123456789abcdef" * 2
)
# Subdirectories of the root for temp files and resumable uploads (never 2 hex chars).
TMP_DIR = "tmp"
PARTIAL_DIR = "partial"
# Read size when hashing an existing partial upload: memory stays flat for any size.
READ_CHUNK = 1024 * 1024
# Bytes of a received stream gathered while the writing thread is busy, then handed to it
# at once (write_chunks): fewer thread switches than one per network chunk (16-256 KiB),
# and at most two batches held (one being written, the next gathered): memory stays flat.
WRITE_BATCH = 1024 * 1024


@dataclass(frozen=True)
class BlobInfo:
    id: str
    size: int
    new: bool = True  # False when the same bytes were stored already (this copy dropped)


def check_blob_id(blob_id: str) -> str:
    if not BLOB_ID.matches(blob_id):
        raise BlobError(f"blob id must be 64 lowercase hex characters, not {blob_id!r:.80}")
    return blob_id


def check_upload_id(upload_id: str) -> str:
    if not UPLOAD_ID.matches(upload_id):
        raise BlobError(
            f"upload id must be a ULID or 32-64 lowercase hex characters, not {upload_id!r:.80}"
        )
    return upload_id


def fsync_dir(path: Path) -> None:
    """Make renames in the folder durable where the platform can (crypto/files.py)."""
    sync_directory(path)


def _still_named(file: BinaryIO, path: Path) -> bool:
    """Whether the open `file` is still the file named `path` (not renamed or removed)."""
    opened = os.fstat(file.fileno())
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    return (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)


class BlobWriter:
    """Bytes on their way to becoming a blob; `commit` or `abort` (or `suspend` a resumable
    upload) ends it. Thread-safe, so an abort may race a write running in a thread."""

    def __init__(
        self, store: "BlobStore", path: Path, *, max_size: int | None, resumable: bool
    ) -> None:
        self._store = store
        self._path = path
        self._max_size = max_size
        self.resumable = resumable
        self._lock = threading.Lock()
        self._hash = hashlib.sha256()
        self.size = 0
        # Renamable while open (storage/filelock.py): commit moves it, abort removes it, and
        # only then closes it, on Windows too.
        self._file: BinaryIO | None = open_renamable(path, "ab")
        self._locked = False
        if resumable:
            # One writer per upload: a second request resuming it at once is refused.
            if not try_lock(self._file):
                self._file.close()
                self._file = None
                raise BlobError(f"upload {path.name} is being written by another request")
            self._locked = True
            if not _still_named(self._file, path):
                # The request that held the upload committed or gave it up (renamed or removed
                # the file) between our open and our lock: the file is no upload any more.
                self._close()
                raise BlobError(
                    f"upload {path.name} was finished or given up by another request meanwhile"
                )
            with path.open("rb") as existing:
                while chunk := existing.read(READ_CHUNK):
                    self._hash.update(chunk)
                    self.size += len(chunk)

    @property
    def path(self) -> Path:
        """The file the bytes go to until `commit` moves it (an open handle still reads it)."""
        return self._path

    def digest(self) -> str:
        """The blob id of the bytes written so far (what `commit` will place them as)."""
        with self._lock:
            return self._hash.copy().hexdigest()

    def write(self, chunk: bytes) -> None:
        with self._lock:
            file = self._open_file()
            if self._max_size is not None and self.size + len(chunk) > self._max_size:
                self._discard()
                raise BlobTooLarge(f"blob is over its limit of {self._max_size} bytes")
            file.write(chunk)
            self._hash.update(chunk)
            self.size += len(chunk)

    def write_many(self, chunks: list[bytes]) -> None:
        """Write several chunks in order under one lock (one thread hand-off for them all)."""
        with self._lock:
            file = self._open_file()
            incoming = sum(len(chunk) for chunk in chunks)
            if self._max_size is not None and self.size + incoming > self._max_size:
                self._discard()
                raise BlobTooLarge(f"blob is over its limit of {self._max_size} bytes")
            for chunk in chunks:
                file.write(chunk)
                self._hash.update(chunk)
            self.size += incoming

    def commit(self, expected_id: str | None = None, max_size: int | None = None) -> BlobInfo:
        """Check hash and size, then move the bytes into place; the temp file is gone
        whatever happens."""
        if expected_id is not None:
            check_blob_id(expected_id)
        with self._lock:
            file = self._open_file()
            try:
                file.flush()
                os.fsync(file.fileno())
            except BaseException:
                self._discard()
                raise
            blob_id = self._hash.hexdigest()
            if expected_id is not None and blob_id != expected_id:
                self._discard()
                raise BlobHashMismatch(
                    f"received bytes hash to {blob_id}, not the announced {expected_id}"
                )
            if max_size is not None and self.size > max_size:
                self._discard()
                raise BlobTooLarge(f"blob is {self.size} bytes, over its limit of {max_size}")
            try:
                new = self._store._place(self._path, blob_id)
            except BaseException:
                self._discard()
                raise
            # Closed (and a resumable upload's lock released) only once its name is gone.
            self._close()
            return BlobInfo(blob_id, self.size, new)

    def abort(self) -> None:
        """Throw the bytes away (a resumable upload too)."""
        with self._lock:
            self._discard()

    def suspend(self) -> None:
        """Keep a resumable upload's bytes for a later `partial(upload_id)`."""
        with self._lock:
            if not self.resumable:
                self._discard()
                return
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._close()

    def _open_file(self) -> BinaryIO:
        if self._file is None:
            raise BlobError("this blob writer is already closed")
        return self._file

    def _discard(self) -> None:
        # The name goes first, the file (and a resumable upload's lock) after: no other
        # request can take the upload up in between.
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        self._close()

    def _close(self) -> None:
        """Close the file, releasing a resumable upload's lock first (on Windows closing
        alone releases it only some time later)."""
        if self._file is None:
            return
        try:
            if self._locked:
                self._locked = False
                unlock(self._file)
        finally:
            self._file.close()
            self._file = None

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self._file is not None:
            self.suspend() if self.resumable else self.abort()


class BlobStore:
    """The blob files under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / TMP_DIR
        self._partial = self.root / PARTIAL_DIR
        for directory in (self.root, self._tmp, self._partial):
            directory.mkdir(parents=True, exist_ok=True)

    def path(self, blob_id: str) -> Path:
        check_blob_id(blob_id)
        return self.root / blob_id[:2] / blob_id[2:]

    def exists(self, blob_id: str) -> bool:
        return self.path(blob_id).is_file()

    def open(self, blob_id: str) -> BinaryIO:
        try:
            # Renamable while read: deleting a blob someone is sending works on Windows too.
            return open_renamable(self.path(blob_id), "rb")
        except FileNotFoundError:
            raise NotFound(f"no blob {blob_id}") from None

    def delete(self, blob_id: str) -> bool:
        try:
            self.path(blob_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def writer(self, *, max_size: int | None = None) -> BlobWriter:
        """A writer into a fresh temp file; `max_size` is also enforced on every write."""
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="blob-")
        os.close(fd)
        return BlobWriter(self, Path(name), max_size=max_size, resumable=False)

    def partial(self, upload_id: str, *, max_size: int | None = None) -> BlobWriter:
        """A writer that appends to the named upload; its `size` is what is already there."""
        path = self._partial / check_upload_id(upload_id)
        return BlobWriter(self, path, max_size=max_size, resumable=True)

    def partial_size(self, upload_id: str) -> int:
        """Bytes already received for the named upload (0 if none)."""
        try:
            return (self._partial / check_upload_id(upload_id)).stat().st_size
        except FileNotFoundError:
            return 0

    def old_partials(self, before_ms: int) -> list[str]:
        """The ids of unfinished uploads last written before `before_ms` (Unix ms)."""
        found = []
        for file in self._partial.iterdir():
            try:
                written = file.stat().st_mtime_ns // 1_000_000
            except FileNotFoundError:  # finished or given up meanwhile
                continue
            if UPLOAD_ID.matches(file.name) and written < before_ms:
                found.append(file.name)
        return found

    def discard_partial(self, upload_id: str) -> bool:
        """Remove an unfinished upload unless a request is writing it now; True if removed."""
        path = self._partial / check_upload_id(upload_id)
        try:
            file = open_renamable(path, "rb")  # removed below while open: Windows too
        except FileNotFoundError:
            return False
        with file:
            if not try_lock(file):
                return False  # a writer holds it: it is not abandoned
            if not _still_named(file, path):
                return False
            path.unlink()
            return True

    async def write_stream(
        self,
        chunks: AsyncIterable[bytes],
        expected_id: str | None = None,
        max_size: int | None = None,
        *,
        upload_id: str | None = None,
    ) -> BlobInfo:
        """Write chunks as they come (in batches handed to a thread, write_chunks) and commit.

        With `upload_id` the bytes append to that resumable upload, and a broken
        stream keeps what arrived; otherwise any failure leaves no file.
        """
        if upload_id is None:
            writer = await asyncio.to_thread(self.writer, max_size=max_size)
        else:
            writer = await asyncio.to_thread(self.partial, upload_id, max_size=max_size)
        try:
            await write_chunks(writer, chunks)
            return await asyncio.to_thread(writer.commit, expected_id, max_size)
        except BaseException:
            await asyncio.to_thread(writer.__exit__, BaseException)
            raise

    def _place(self, source: Path, blob_id: str) -> bool:
        """Move `source` into place as `blob_id`; False if that blob was stored already."""
        target = self.path(blob_id)
        new_dir = not target.parent.exists()
        target.parent.mkdir(exist_ok=True)
        if target.exists():
            source.unlink()  # same bytes already stored: the hash says so
            return False
        os.replace(source, target)
        fsync_dir(target.parent)
        if new_dir:
            fsync_dir(self.root)
        return True


async def write_chunks(writer: BlobWriter, chunks: AsyncIterable[bytes]) -> None:
    """Write a stream into `writer` in a thread, overlapped with receiving: a chunk goes
    to the thread at once if it is idle, else chunks gather (up to WRITE_BATCH bytes)
    while it writes, and go over in one hand-off. What arrived is written even when the stream
    breaks (a resumable upload continues after it), and the batch in a thread is waited
    for, so `writer.size` counts every byte received when this returns or raises."""
    writing: asyncio.Future[None] | None = None
    batch: list[bytes] = []
    held = 0

    async def hand_off() -> None:
        nonlocal writing, batch, held
        if writing is not None:
            await asyncio.shield(writing)  # a cancel leaves the thread's batch whole
        writing = asyncio.ensure_future(asyncio.to_thread(writer.write_many, batch))
        batch, held = [], 0

    try:
        try:
            async for chunk in chunks:
                batch.append(chunk)
                held += len(chunk)
                if held >= WRITE_BATCH or writing is None or writing.done():
                    await hand_off()
        finally:
            if batch:
                await hand_off()
        if writing is not None:
            await asyncio.shield(writing)
    finally:
        if writing is not None:
            if not writing.done():
                await asyncio.wait({writing})  # the thread ends its batch before we return
            if not writing.cancelled():
                writing.exception()  # retrieved: a failure of it was raised above already


async def record_blob(tx: Tx, info: BlobInfo, *, at: int) -> bool:
    """Note a committed blob in the store's `blobs` table; False if it was already there."""
    cursor = await tx.execute(
        "INSERT INTO blobs (id, size, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (check_blob_id(info.id), info.size, at),
    )
    return cursor.rowcount == 1


async def blob_size(conn: Queryable, blob_id: str) -> int | None:
    """The size of a blob noted in the store, or None."""
    row = await conn.fetchone("SELECT size FROM blobs WHERE id = ?", (check_blob_id(blob_id),))
    return None if row is None else int(row[0])
