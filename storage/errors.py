"""The errors of storage/: everything the store refuses, each with a message saying why."""

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
