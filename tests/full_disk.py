"""A real full disk for tests: a small tmpfs mounted on a folder, filled to the last byte.

Mounting needs root. Tests that use it carry the mark `small_disk`; run by another user,
tests/conftest.py runs each of them again inside an unprivileged user and mount namespace
(`unshare --user --map-root-user --mount`), where the mount is allowed, and passes or
fails with it: no test is skipped. Nothing here fakes an error: the operating system
answers ENOSPC and SQLite answers SQLITE_FULL.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Big enough for a node's data directory (store, WAL, keys, a few blobs), small enough to
# fill in a moment.
DEFAULT_SIZE = 16 * 1024 * 1024
FILLER = "filler"


@dataclass
class SmallDisk:
    path: Path

    def fill(self) -> int:
        """Write a filler file until the disk refuses (ENOSPC); the bytes written."""
        written = 0
        block = b"\0" * 65536
        with (self.path / FILLER).open("ab", buffering=0) as file:
            while True:
                try:
                    written += file.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        # Smaller writes take the last partial block too.
        with (self.path / FILLER).open("ab", buffering=0) as file, contextlib.suppress(OSError):
            while file.write(b"\0" * 512):
                written += 512
        return written

    def free(self) -> None:
        """Remove the filler: the disk has room again."""
        (self.path / FILLER).unlink(missing_ok=True)

    def free_bytes(self) -> int:
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize


@contextlib.contextmanager
def small_disk(path: Path, size: int = DEFAULT_SIZE) -> Iterator[SmallDisk]:
    """A tmpfs of `size` bytes mounted at `path` (created), unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        check=True,
        capture_output=True,
    )
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False, capture_output=True)


async def move_node(ctx, disk: SmallDisk) -> None:
    """Move a running node's data directory (store, blobs, config) onto `disk`: its store is
    closed, copied with what it holds, and opened again there; `ctx` then points at it."""
    from lienthong.node.config import Config
    from lienthong.storage.blobs import BlobStore
    from lienthong.storage.db import Store

    clock = ctx.store.clock
    await ctx.store.close()  # checkpoints the WAL into the file
    target = disk.path / ctx.config.data_dir.name
    shutil.copytree(ctx.config.data_dir, target)
    ctx.config = Config(data_dir=target, values=ctx.config.values)
    ctx.store = await Store.open(ctx.config.store_path, clock=clock)
    ctx.blobs = BlobStore(ctx.config.blob_dir)
