"""Files that hold keys or plaintext: created readable by their owner only, in one place.

Every such file is created with its mode (never chmod-ed after the bytes are in it, which
would leave a moment where others could open it), and every such folder likewise. On
Windows the mode bits do not apply (os.open and mkdir accept and ignore them): a portable
version that sets an owner-only ACL replaces these two functions and nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

PRIVATE_FILE_MODE = 0o600  # owner reads and writes; nobody else anything
PRIVATE_DIR_MODE = 0o700  # owner lists, enters and creates; nobody else anything


def create_private(path: Path, *, replace: bool = False) -> BinaryIO:
    """A new file at `path`, open for writing, created with mode 0600.

    An existing file is refused (FileExistsError), or with replace=True removed first:
    opening an existing file keeps whatever mode it had, so it is never reused.
    """
    if replace:
        Path(path).unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    return os.fdopen(fd, "wb")


def make_private_dir(path: Path, *, parents: bool = False) -> None:
    """Create the folder `path` with mode 0700, and with parents=True each missing folder
    above it likewise (pathlib would give those the default mode); folders already there
    are left as they are."""
    path = Path(path)
    missing = [path]
    if parents:
        while not missing[-1].parent.exists() and missing[-1].parent != missing[-1]:
            missing.append(missing[-1].parent)
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
