"""Exclusive locks on open files, and files that stay renamable while open, on every platform:
fcntl.flock on POSIX; on Windows msvcrt.locking, and a share mode that lets an open file be
renamed or removed (which Windows otherwise refuses, and POSIX always allows); on a Python
with neither (tests/test_portability.py's lane), a table of the files this process holds,
which is what matters for a node: one process serves all its requests.

The one module that imports fcntl or msvcrt (tests/test_portability.py checks it).
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from pathlib import Path
from typing import BinaryIO

WINDOWS = sys.platform == "win32"

if WINDOWS:
    import msvcrt
else:
    try:
        import fcntl
    except ImportError:  # neither: the in-process table below
        fcntl = None  # type: ignore[assignment]

# Files locked by this process, by (device, inode), where there is no fcntl or msvcrt: the
# open file holding each, released (as flock's) when it is unlocked, closed or collected.
_held: dict[tuple[int, int], weakref.ref[BinaryIO]] = {}
_held_lock = threading.Lock()

# Windows locks byte ranges, not files: the lock is the one byte at this offset, where no
# file of ours reaches (4 EiB), so no read or append of the real bytes, through any
# handle, ever meets it (SQLite locks a byte beyond its data the same way).
WINDOWS_LOCK_OFFSET = 2**62
# CreateFileW's values (learn.microsoft.com, CreateFileW): read, write (fsync needs it; the
# C runtime's O_APPEND puts every write at the end), share all, open, open or create.
_GENERIC_READ = 0x80000000
_GENERIC_WRITE = 0x40000000
_FILE_SHARE_ALL = 0x1 | 0x2 | 0x4  # read, write, delete (delete covers renaming too)
_OPEN_EXISTING = 3
_OPEN_ALWAYS = 4
_FILE_ATTRIBUTE_NORMAL = 0x80


def try_lock(file: BinaryIO) -> bool:
    """Take an exclusive lock on the open `file` without waiting; False when another open
    file (of this process or another) holds it. It lasts until `unlock` or close."""
    if not WINDOWS:
        if fcntl is None:
            return _hold(file)
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    position = file.tell()
    try:
        file.seek(WINDOWS_LOCK_OFFSET)
        msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:  # ERROR_LOCK_VIOLATION: another handle holds it
        return False
    finally:
        file.seek(position)
    return True


def unlock(file: BinaryIO) -> None:
    """Release a lock `try_lock` took (closing the file does too: on Windows, not at once)."""
    if not WINDOWS:
        if fcntl is None:
            _release(file)
        else:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)
        return
    position = file.tell()
    try:
        file.seek(WINDOWS_LOCK_OFFSET)
        msvcrt.locking(file.fileno(), msvcrt.LK_UNLCK, 1)
    finally:
        file.seek(position)


def _key(file: BinaryIO) -> tuple[int, int]:
    st = os.fstat(file.fileno())
    return (st.st_dev, st.st_ino)


def _hold(file: BinaryIO) -> bool:
    key = _key(file)
    with _held_lock:
        holder = _held[key]() if key in _held else None
        if holder is not None and not holder.closed:
            return holder is file
        _held[key] = weakref.ref(file)
        return True


def _release(file: BinaryIO) -> None:
    key = _key(file)
    with _held_lock:
        if key in _held and _held[key]() is file:
            del _held[key]


def open_renamable(path: Path, mode: str) -> BinaryIO:
    """`path` opened in binary `mode` "rb" or "ab" (created if missing) so that it can be
    renamed or removed while open, as on POSIX: on Windows through CreateFileW with
    FILE_SHARE_DELETE, which Python's open() does not ask for."""
    if mode not in ("rb", "ab"):
        raise ValueError(f"open_renamable opens 'rb' or 'ab', not {mode!r}")
    if not WINDOWS:
        return open(path, mode)
    import _winapi

    append = mode == "ab"
    handle = _winapi.CreateFile(
        str(path),
        (_GENERIC_READ | _GENERIC_WRITE) if append else _GENERIC_READ,
        _FILE_SHARE_ALL,
        _winapi.NULL,
        _OPEN_ALWAYS if append else _OPEN_EXISTING,
        _FILE_ATTRIBUTE_NORMAL,
        _winapi.NULL,
    )
    try:
        fd = msvcrt.open_osfhandle(handle, os.O_APPEND if append else os.O_RDONLY)
    except OSError:
        _winapi.CloseHandle(handle)
        raise
    return os.fdopen(fd, mode)
