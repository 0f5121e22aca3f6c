"""A running node's memory: glibc's mmap threshold and heap trimming, tracemalloc snapshots.

`lienthong run` first fixes glibc's mmap threshold (`fix_mmap_threshold`): by default
glibc raises it to the size of every mapped block freed, up to 32 MiB, so that after the
first large buffer blocks of that size are carved from the heaps, where freeing them leaves
holes between long-lived small blocks and the heaps' high-water mark creeps up under steady
load. The threshold is fixed at MMAP_THRESHOLD_BYTES (2 MiB), which stops its rise; and
every TRIM_EVERY_SECONDS the node hands the heaps' free pages back to the system
(`release_free_memory`, glibc's `malloc_trim`), so the holes that blocks below it leave
cost no memory for long (bench/RESULTS.md, "load"). The threshold is not lower because a
block at or above it costs an mmap, the kernel's zeroing of every page on first touch and
an munmap each time: at 128 KiB every 256 KiB TLS read and 1 MiB chunk of a blob paid it,
about a third of the centre's CPU on the relay path (bench/RESULTS.md, "attachments").
An operator's own GLIBC_TUNABLES or MALLOC_MMAP_THRESHOLD_ is left to rule.

With LIENTHONG_TRACEMALLOC=<frames> in its environment, `lienthong run` starts tracemalloc
(keeping that many frames of each allocation's traceback) before it opens anything, and
each SIGUSR2 writes `tracemalloc.take_snapshot()` to `<data dir>/logs/` as
`tracemalloc-<unix ms>.pickle` (docs/OPERATIONS.md, "Memory snapshots"). Two snapshots
taken minutes apart are compared with `snapshot.compare_to(older, "traceback")`. Without
the variable nothing is traced and no handler is installed; on a platform without SIGUSR2
(Windows) tracing still starts and no handler is installed.

The snapshot is taken and written in a worker thread: the copy of the traces holds the
GIL (a few hundred ms for a unit's ~40 MB of traced blocks), the pickling and writing
interleave with the event loop. A file appears under its final name only once complete.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import signal
import time
import tracemalloc
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lienthong.node.config import ConfigError
from lienthong.protocol.text import is_decimal

log = logging.getLogger("lienthong.memtrace")

ENV = "LIENTHONG_TRACEMALLOC"
# Frames kept per traced allocation: each frame costs memory in every trace, and beyond
# this depth tracebacks reach only asyncio's and aiohttp's dispatch, never a cause.
MAX_FRAMES = 64
SNAPSHOT_DIR = "logs"
SNAPSHOT_PREFIX = "tracemalloc-"
SNAPSHOT_SUFFIX = ".pickle"


# glibc's mallopt() parameter numbers (malloc.h).
M_MMAP_THRESHOLD = -3
# Blocks at least this large get their own mapping, returned to the system when freed; the
# threshold does not rise. Above a blob's 1 MiB chunks and 256 KiB TLS reads, which come
# from the heaps (release_free_memory returns the holes they leave).
MMAP_THRESHOLD_BYTES = 2 * 1024 * 1024
# How often a running node returns the heaps' free pages to the system: a trim of a unit's
# heaps takes about a millisecond, in a thread.
TRIM_EVERY_SECONDS = 30.0
_OPERATOR_SETTINGS = ("glibc.malloc.mmap_threshold", "MALLOC_MMAP_THRESHOLD_")


def fix_mmap_threshold(environ: Mapping[str, str] | None = None) -> bool:
    """Fix glibc's mmap threshold at MMAP_THRESHOLD_BYTES (which stops its rise); True when
    set, False without glibc or where the operator's environment sets it already."""
    env = os.environ if environ is None else environ
    chosen = env.get("GLIBC_TUNABLES", "") + "," + ",".join(env)
    if any(name in chosen for name in _OPERATOR_SETTINGS):
        return False
    mallopt = _glibc("mallopt", ctypes.c_int, ctypes.c_int, ctypes.c_int)
    return mallopt is not None and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1


def _glibc(name: str, restype: Any, *argtypes: Any) -> Any:
    """The C library's function `name`, typed; None where the C library has none (not glibc,
    a glibc older than the function, Windows)."""
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError, TypeError):
        return None
    function.restype = restype
    function.argtypes = argtypes
    return function


def trim_now() -> bool:
    """Return every whole free page inside glibc's heaps to the system (malloc_trim(0));
    True if some memory was released, False if none was or without glibc."""
    trim = _glibc("malloc_trim", ctypes.c_int, ctypes.c_size_t)
    return trim is not None and trim(0) == 1


async def release_free_memory(stop: asyncio.Event, every: float = TRIM_EVERY_SECONDS) -> None:
    """Until `stop` is set, trim glibc's heaps every `every` seconds, in a thread (ctypes
    releases the GIL: the event loop goes on meanwhile). Nothing without glibc."""
    if _glibc("malloc_trim", ctypes.c_int, ctypes.c_size_t) is None:
        return
    while True:
        try:
            await asyncio.wait_for(stop.wait(), every)
            return
        except TimeoutError:
            pass
        await asyncio.to_thread(trim_now)


def frames_from(environ: Mapping[str, str]) -> int:
    """The frames LIENTHONG_TRACEMALLOC asks for; 0 when unset or empty (nothing traced)."""
    text = environ.get(ENV, "").strip()
    if not text:
        return 0
    if not is_decimal(text, 2) or not 1 <= int(text) <= MAX_FRAMES:
        raise ConfigError(f"{ENV}={text!r}; allowed: a number of frames from 1 to {MAX_FRAMES}")
    return int(text)


def start_from_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Start tracemalloc if LIENTHONG_TRACEMALLOC asks for it; True when tracing."""
    frames = frames_from(os.environ if environ is None else environ)
    if frames and not tracemalloc.is_tracing():
        tracemalloc.start(frames)
    return frames > 0


_MALLINFO2_FIELDS = (
    "arena",  # bytes taken from the system by brk, in every arena's heap
    "ordblks",
    "smblks",
    "hblks",
    "hblkhd",  # bytes in blocks mapped one by one (mmap)
    "usmblks",
    "fsmblks",
    "uordblks",  # bytes in use by malloc's callers (Python, SQLite, OpenSSL)
    "fordblks",  # bytes free inside the arenas: fragmentation, when it grows
    "keepcost",
)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2_FIELDS]


def malloc_totals() -> dict[str, int] | None:
    """glibc's mallinfo2() over all arenas (bytes), or None where the C library has none."""
    function = _glibc("mallinfo2", _Mallinfo2)  # glibc 2.33 and later
    if function is None:
        return None
    info = function()
    return {name: int(getattr(info, name)) for name in _MALLINFO2_FIELDS}


def write_snapshot(folder: Path) -> Path:
    """Take a snapshot of the traced memory and write it to `folder` (made if missing),
    with a `.json` beside it: Python's traced and peak bytes and malloc's totals then."""
    snapshot = tracemalloc.take_snapshot()
    traced, peak = tracemalloc.get_traced_memory()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{SNAPSHOT_PREFIX}{time.time_ns() // 1_000_000}{SNAPSHOT_SUFFIX}"
    facts = {"traced": traced, "peak": peak, "malloc": malloc_totals()}
    path.with_suffix(".json").write_text(json.dumps(facts), encoding="utf-8")
    partial = path.with_name(path.name + ".part")
    snapshot.dump(str(partial))
    os.replace(partial, path)  # last: the file appears complete, its .json already there
    return path


def snapshot_signal() -> signal.Signals | None:
    """SIGUSR2 where the platform has it (POSIX), else None."""
    return getattr(signal, "SIGUSR2", None)


def install(data_dir: Path) -> Callable[[], None]:
    """When tracing, dump a snapshot to `<data_dir>/logs/` on each SIGUSR2 (from the running
    loop); returns the function that removes the handler. Not tracing: nothing installed."""
    sig = snapshot_signal()
    if not tracemalloc.is_tracing() or sig is None:
        return lambda: None
    loop = asyncio.get_running_loop()
    folder = data_dir / SNAPSHOT_DIR
    pending: set[asyncio.Future[Path]] = set()

    def written(future: asyncio.Future[Path]) -> None:
        pending.discard(future)
        if future.cancelled():
            return
        if (exc := future.exception()) is not None:
            log.warning("tracemalloc snapshot not written: %s", exc)
            return
        traced, peak = tracemalloc.get_traced_memory()
        log.info(
            "tracemalloc snapshot written to %s (traced %.1f MB, peak %.1f MB)",
            future.result(),
            traced / 1e6,
            peak / 1e6,
        )

    def dump() -> None:
        future = loop.run_in_executor(None, write_snapshot, folder)
        pending.add(future)
        future.add_done_callback(written)

    try:
        loop.add_signal_handler(sig, dump)
    except NotImplementedError:  # a loop without signal handlers
        return lambda: None
    log.info(
        "tracemalloc on (%d frames): SIGUSR2 writes a snapshot to %s",
        tracemalloc.get_traceback_limit(),
        folder,
    )
    return lambda: loop.remove_signal_handler(sig)
