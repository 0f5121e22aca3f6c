"""The errors of storage/: everything the store refuses, each with a message saying why;
and the one test of a full disk (`disk_full`)."""

import errno
import sqlite3
from pathlib import Path

from lienthong.crypto.errors import LienthongError


class StoreError(LienthongError):
    """The store refused an operation or found its files in a state it cannot use."""


class NotFound(StoreError):
    """The row or file asked for does not exist."""


class Conflict(StoreError):
    """The write would contradict what the store already holds (a duplicate or a clash)."""


class MigrationError(StoreError):
    """The schema cannot be brought to this program's version (e.g. it is newer)."""


class RollbackRefused(StoreError):
    """A directory older than the cached one was offered: rollbacks are refused."""


class BlobError(StoreError):
    """A blob id, upload id or blob file is invalid."""


class BlobHashMismatch(BlobError):
    """The bytes received do not hash to the id they were announced with."""


class BlobTooLarge(BlobError):
    """A blob grew past the size its caller allowed."""


class BackupError(StoreError):
    """A backup could not be written, or an archive could not be verified or restored."""


class DiskFull(StoreError):
    """The disk (or the quota) holding the data directory is full: nothing was written.
    Transient: the same request succeeds once space is freed."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path  # the file or folder the write was for, when known


# What the operating system and SQLite say when a write finds no room: no space left on the
# device, the user's disk quota exceeded, SQLite's SQLITE_FULL ("database or disk is full",
# also when PRAGMA max_page_count is reached), and SQLITE_IOERR_SHMSIZE: the WAL index
# (store.sqlite3-shm), made when a store is opened, cannot grow ("may indicate that the
# underlying filesystem volume is out of space", sqlite.org/rescode.html).
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = sqlite3.SQLITE_FULL
SQLITE_IOERR_SHMSIZE = sqlite3.SQLITE_IOERR_SHMSIZE
# Causes followed from an exception to what raised it: wrappers nest two or three deep.
MAX_CAUSE_DEPTH = 8


def disk_full(exc: BaseException, where: Path | str | None = None) -> DiskFull | None:
    """The one test of "the disk is full": a DiskFull naming the disk when `exc`, or an
    exception it was raised from, is ENOSPC/EDQUOT or SQLite's SQLITE_FULL; else None.

    `where` is the path named when the error itself names none (SQLite never does, a
    buffered write often does not): the data directory, the store or the blob folder.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < MAX_CAUSE_DEPTH:
        seen.add(id(current))
        if isinstance(current, DiskFull):
            return current
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            path = current.filename or where
            return _disk_full(path, current.strerror or "no space left on device")
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", 0)
            if code & 0xFF == SQLITE_FULL or code == SQLITE_IOERR_SHMSIZE:
                return _disk_full(where, f"SQLite: {current}")
        current = current.__cause__ or current.__context__
    return None


def _disk_full(path: Path | str | None, why: str) -> DiskFull:
    disk = f"the disk holding {path}" if path else "the disk of the data directory"
    return DiskFull(
        f"{disk} is full ({why}): the write was undone. Free space there "
        f"(df -h {path or '.'}), then try again",
        str(path) if path else None,
    )
