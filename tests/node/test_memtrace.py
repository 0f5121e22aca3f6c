"""Memory snapshots of a running node: LIENTHONG_TRACEMALLOC starts tracing, SIGUSR2 writes
a tracemalloc snapshot to the data directory's logs/ (node/memtrace.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from lienthong.node import memtrace
from lienthong.node.centre.setup import create_centre
from lienthong.node.config import ConfigError
from tests.node.running import BOUND, eventually, free_port

needs_sigusr2 = pytest.mark.skipif(
    memtrace.snapshot_signal() is None, reason="no SIGUSR2 on this platform"
)
not_traced_already = pytest.mark.skipif(
    tracemalloc.is_tracing(), reason="the test process is traced already (PYTHONTRACEMALLOC)"
)
READY_LINE = "running; peer API"


def snapshots(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{memtrace.SNAPSHOT_PREFIX}*{memtrace.SNAPSHOT_SUFFIX}"))


@pytest.mark.parametrize("text", ["abc", "0", "-3", "2.5", str(memtrace.MAX_FRAMES + 1)])
def test_a_bad_frame_count_is_refused_naming_the_variable(text):
    """A value that is not a number of frames from 1 to MAX_FRAMES stops the start with a
    message naming the variable, the value and what is allowed; nothing is traced."""
    with pytest.raises(ConfigError) as refused:
        memtrace.start_from_environment({memtrace.ENV: text})
    assert memtrace.ENV in str(refused.value) and repr(text) in str(refused.value)
    assert f"1 to {memtrace.MAX_FRAMES}" in str(refused.value)


@not_traced_already
def test_unset_or_empty_traces_nothing():
    """Without the variable (or empty) tracemalloc is not started."""
    assert not tracemalloc.is_tracing()
    assert memtrace.start_from_environment({}) is False
    assert memtrace.start_from_environment({memtrace.ENV: " "}) is False
    assert not tracemalloc.is_tracing()


@needs_sigusr2
@not_traced_already
async def test_not_tracing_installs_no_handler(tmp_path):
    """A node without LIENTHONG_TRACEMALLOC keeps SIGUSR2's default action."""
    assert not tracemalloc.is_tracing()
    before = signal.getsignal(signal.SIGUSR2)
    remove = memtrace.install(tmp_path)
    assert signal.getsignal(signal.SIGUSR2) == before == signal.SIG_DFL
    remove()


@needs_sigusr2
@not_traced_already
async def test_sigusr2_writes_a_snapshot_of_this_process(tmp_path):
    """With tracing on, SIGUSR2 to the running process writes a snapshot that
    tracemalloc loads, holding this test's own allocation, and its .json of totals."""
    tracemalloc.start(5)
    remove = memtrace.install(tmp_path)
    try:
        kept = [bytearray(1000) for _ in range(2000)]  # ~2 MB allocated by this very line
        os.kill(os.getpid(), signal.SIGUSR2)
        [path] = await eventually(lambda: snapshots(tmp_path / "logs"), "the snapshot file")
    finally:
        remove()
        tracemalloc.stop()
    snapshot = tracemalloc.Snapshot.load(str(path))
    here = snapshot.filter_traces([tracemalloc.Filter(True, __file__)])
    assert sum(stat.size for stat in here.statistics("filename")) >= 2000 * 1000
    facts = json.loads(path.with_suffix(".json").read_text("utf-8"))
    assert facts["traced"] >= 2000 * 1000 and facts["peak"] >= facts["traced"]
    if facts["malloc"] is not None:  # glibc
        assert facts["malloc"]["uordblks"] > 0
    assert not list((tmp_path / "logs").glob("*.part"))
    del kept
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL  # removed again


@needs_sigusr2
async def test_lienthong_run_writes_a_snapshot_on_sigusr2(tmp_path):
    """`lienthong run` of a real centre with LIENTHONG_TRACEMALLOC=3 answers SIGUSR2 with a
    loadable snapshot in <data dir>/logs/, logs where it went, and keeps running."""
    data_dir = tmp_path / "centre"
    await create_centre(
        data_dir,
        name="Trung tâm CNTT",
        listen=f"127.0.0.1:{free_port()}",
        web=f"127.0.0.1:{free_port()}",
    )
    log_path = tmp_path / "node.log"
    env = {**os.environ, memtrace.ENV: "3"}
    with log_path.open("w", encoding="utf-8") as log:
        node = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "lienthong.node.cli", "run", "--data-dir", str(data_dir)),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
    try:

        def said(text: str) -> bool:
            assert node.returncode is None, log_path.read_text("utf-8")
            return text in log_path.read_text("utf-8")

        await eventually(lambda: said(READY_LINE), "the node to serve")
        node.send_signal(signal.SIGUSR2)
        [path] = await eventually(lambda: snapshots(data_dir / "logs"), "the snapshot file")
        await eventually(lambda: said(f"snapshot written to {path}"), "the log line")
        assert node.returncode is None
    finally:
        node.terminate()
        await asyncio.wait_for(node.wait(), BOUND)
    assert node.returncode == 0, log_path.read_text("utf-8")
    snapshot = tracemalloc.Snapshot.load(str(path))
    assert snapshot.traceback_limit == 3 and snapshot.traces


# -- glibc's mmap threshold ---------------------------------------------------------------------

GROWTH_PROBE = """
import sys
from lienthong.node import memtrace

if sys.argv[1] == "fixed":
    assert memtrace.fix_mmap_threshold({})
size = memtrace.MMAP_THRESHOLD_BYTES
freed = bytearray(4 * size)  # mapped (above the threshold), then freed: glibc's rises
del freed
before = memtrace.malloc_totals()["hblkhd"]
kept = bytearray(size)
print((memtrace.malloc_totals()["hblkhd"] - before) >= size)
"""
# Blocks below the threshold, then one more that stays (the heap's top), then the first ones
# freed: their pages stay in the heap (RSS) until a trim returns them.
TRIM_PROBE = """
import sys
from lienthong.node import memtrace

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

assert memtrace.fix_mmap_threshold({})
blocks = [bytearray(b"x" * (512 << 10)) for _ in range(200)]  # 100 MiB from the heap
pin = bytearray(b"p" * (512 << 10))  # after them: the heap cannot shrink past it
del blocks
held = rss_kib()
trimmed = memtrace.trim_now()
print(trimmed, held - rss_kib())
"""
glibc = pytest.mark.skipif(memtrace.malloc_totals() is None, reason="not glibc")


def probe(script: str, *args: str) -> str:
    """The output of `script` run in a fresh Python, glibc's own malloc settings unset."""
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES" and "MALLOC_" not in k}
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return out.stdout.strip()


def mapped_after_a_large_free(mode: str) -> bool:
    """In a fresh Python: is a block of the threshold's size its own mapping after one four
    times larger was freed?"""
    return probe(GROWTH_PROBE, mode) == "True"


@glibc
def test_a_fixed_threshold_keeps_large_blocks_out_of_the_heap():
    """The cause of the load benchmark's slow growth, and its fix: glibc by default carves
    a large block from the heap once a larger mapped one was freed (its threshold rose);
    with `fix_mmap_threshold` the block is its own mapping again, returned when freed."""
    assert mapped_after_a_large_free("default") is False
    assert mapped_after_a_large_free("fixed") is True


@glibc
def test_a_trim_returns_the_holes_freed_blocks_leave_in_the_heap():
    """Blocks below the threshold come from the heap; freed between live small blocks they
    stay in the process's memory until `trim_now` (malloc_trim) hands their pages back."""
    trimmed, released_kib = probe(TRIM_PROBE).split()
    assert trimmed == "True"
    assert int(released_kib) >= 80 * 1024  # of the 100 MiB freed


async def test_release_free_memory_stops_when_asked():
    """The node's trimming loop trims on its period and returns as soon as `stop` is set."""
    stop = asyncio.Event()
    loop = asyncio.create_task(memtrace.release_free_memory(stop, every=0.01))
    await asyncio.sleep(0.05)  # a few periods: trims ran (in a thread) and the loop goes on
    assert not loop.done()
    stop.set()
    await asyncio.wait_for(loop, BOUND)


def test_the_operators_own_setting_is_left_alone():
    """GLIBC_TUNABLES naming the threshold, or MALLOC_MMAP_THRESHOLD_, wins over the node's."""
    tunables = {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=262144"}
    assert memtrace.fix_mmap_threshold(tunables) is False
    assert memtrace.fix_mmap_threshold({"MALLOC_MMAP_THRESHOLD_": "65536"}) is False
