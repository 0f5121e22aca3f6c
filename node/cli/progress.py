"""Progress bars for long CLI work (backup, restore, attachments), on stderr and only on a terminal.

A bar is a callable `bar(done, total)` in bytes, the shape of every `progress`
callback in storage/ and node/unit/attachments.py. It writes nothing unless its stream
is a terminal, so --json output, pipes, cron jobs and systemd logs stay clean.
Callbacks may come from a worker thread (asyncio.to_thread): one operation calls
its callback from one thread at a time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TextIO

Progress = Callable[[int, int], None]

BAR_WIDTH = 30  # characters of the bar itself: with label and figures a line stays under 80
FILLED, EMPTY = "#", "-"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_size(n: int) -> str:
    """Bytes as a short figure: 512 B, 1.5 MiB, 2.0 GiB."""
    size = float(n)
    for unit in _UNITS:
        if size < 1024 or unit == _UNITS[-1]:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def render_bar(label: str, done: int, total: int, width: int = BAR_WIDTH) -> str:
    """One line of a bar, without line control: `label [#####-----]  50% 1.0 MiB/2.0 MiB`."""
    done = max(0, min(done, total))
    fraction = done / total if total > 0 else 1.0
    filled = int(fraction * width)
    bar = FILLED * filled + EMPTY * (width - filled)
    return f"{label} [{bar}] {int(fraction * 100):3d}% {human_size(done)}/{human_size(total)}"


def is_terminal(stream: TextIO) -> bool:
    """Whether `stream` is an interactive terminal that understands a carriage return."""
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ProgressBar:
    """`with ProgressBar("Backup") as bar: work(progress=bar)`: redraws one stderr line.

    Redraws only when the shown percentage changes (a 4 GiB backup read in 16 KiB
    pieces calls back 262,144 times; the terminal sees about 100 lines). `close()`
    ends the line, so what is printed next (a result, an error) starts on its own.
    """

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = is_terminal(self.stream)
        self._shown: tuple[int, int] | None = None  # (percent, total) last drawn

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        done = max(0, min(done, total))
        percent = done * 100 // total if total > 0 else 100
        if self._shown == (percent, total):
            return
        self._shown = (percent, total)
        self.stream.write("\r" + render_bar(self.label, done, total))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._shown is not None:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
