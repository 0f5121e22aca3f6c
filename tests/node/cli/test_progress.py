"""Progress of long CLI work: callbacks from backup, restore and attachments, and the bar."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lienthong.node.cli.progress import BAR_WIDTH, ProgressBar, human_size, render_bar
from lienthong.node.datadir import create_node
from lienthong.node.unit.attachments import decrypt_to, encrypt_file, encrypt_files
from lienthong.storage import backup as bk
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import Store

MIB = 1024 * 1024


class Recorder:
    """A progress callback that keeps every (done, total) it receives."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def assert_monotone_to(calls: list[tuple[int, int]], total: int) -> None:
    assert calls, "the callback was never called"
    assert {t for _, t in calls} == {total}
    dones = [d for d, _ in calls]
    assert dones == sorted(dones)
    assert all(0 <= d < total for d in dones[:-1])  # the total only once the work is done
    assert calls[-1] == (total, total)


def write_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


async def node_dir(tmp_path: Path) -> Path:
    """A unit's data directory with a store and a 2 MiB blob."""
    data = tmp_path / "node"
    create_node(data, {"unit": {"code": "000.00.05.H53", "name": "Sở Nội vụ"}})
    async with await Store.open(data / bk.STORE_FILE):
        pass
    encrypt_file(BlobStore(data / bk.BLOBS_DIR), write_file(tmp_path / "big.bin", 2 * MIB))
    return data


async def test_backup_and_restore_report_monotone_progress_ending_at_total(tmp_path: Path):
    """backup() and restore() call back with growing byte counts that end at the bytes copied."""
    data = await node_dir(tmp_path)
    saved = Recorder()
    info = await bk.backup(data, tmp_path / "b.tar", progress=saved)
    assert_monotone_to(saved.calls, info.size)
    assert len(saved.calls) > 10  # reported while copying, not only at the end
    restored = Recorder()
    back = await bk.restore(tmp_path / "restored", tmp_path / "b.tar", progress=restored)
    assert_monotone_to(restored.calls, back.size)
    assert back.size == info.size


async def test_failed_restore_never_reports_completion(tmp_path: Path):
    """A tampered archive is refused, and its progress never claims done == total."""
    data = await node_dir(tmp_path)
    archive = tmp_path / "b.tar"
    await bk.backup(data, archive)
    raw = bytearray(archive.read_bytes())
    raw[2048] ^= 0xFF  # inside the first member's bytes (the store snapshot)
    archive.write_bytes(bytes(raw))
    seen = Recorder()
    with pytest.raises(bk.BackupError):
        await bk.restore(tmp_path / "restored", archive, progress=seen)
    assert all(d < t for d, t in seen.calls)


def test_attachment_encryption_and_decryption_report_progress(tmp_path: Path):
    """encrypt_file, encrypt_files and decrypt_to report plaintext bytes up to the total."""
    blobs = BlobStore(tmp_path / "blobs")
    big = write_file(tmp_path / "big.bin", 3 * MIB + 1)
    one = Recorder()
    attachment = encrypt_file(blobs, big, progress=one)
    assert_monotone_to(one.calls, 3 * MIB + 1)
    files = [big, write_file(tmp_path / "empty.txt", 0), write_file(tmp_path / "small", 10)]
    many = Recorder()
    attachments = encrypt_files(blobs, files, progress=many)
    assert [a.size for a in attachments] == [3 * MIB + 1, 0, 10]
    assert_monotone_to(many.calls, 3 * MIB + 11)
    out = Recorder()
    decrypt_to(blobs, attachment, tmp_path / "out.bin", progress=out)
    assert (tmp_path / "out.bin").read_bytes() == big.read_bytes()
    assert_monotone_to(out.calls, 3 * MIB + 1)


def test_empty_work_still_reports_its_end(tmp_path: Path):
    """An empty attachment and an empty list each end with one (0, 0) call."""
    blobs = BlobStore(tmp_path / "blobs")
    seen = Recorder()
    encrypt_file(blobs, write_file(tmp_path / "empty", 0), progress=seen)
    assert seen.calls == [(0, 0)]
    none = Recorder()
    assert encrypt_files(blobs, [], progress=none) == ()
    assert none.calls == [(0, 0)]


def test_a_missing_file_is_refused_before_any_is_encrypted(tmp_path: Path):
    """encrypt_files checks every file first: nothing is encrypted or reported."""
    blobs = BlobStore(tmp_path / "blobs")
    seen = Recorder()
    with pytest.raises(Exception, match="cannot read attachment"):
        encrypt_files(blobs, [write_file(tmp_path / "a", 100), tmp_path / "gone"], progress=seen)
    assert seen.calls == []


def test_bar_writes_nothing_when_not_a_terminal():
    """On a pipe or file the bar is silent, even when closed."""
    stream = io.StringIO()
    with ProgressBar("Backup", stream) as bar:
        for done in range(0, 101, 10):
            bar(done, 100)
    assert not bar.enabled
    assert stream.getvalue() == ""


def test_bar_writes_nothing_on_a_dumb_terminal(monkeypatch):
    """TERM=dumb cannot return the carriage: no bar."""
    monkeypatch.setenv("TERM", "dumb")
    stream = FakeTerminal()
    with ProgressBar("Backup", stream) as bar:
        bar(50, 100)
    assert stream.getvalue() == ""


def test_bar_renders_into_a_terminal(monkeypatch):
    """On a terminal: one redrawn line per percentage, exact bar, a newline at the end."""
    monkeypatch.setenv("TERM", "xterm")
    stream = FakeTerminal()
    with ProgressBar("Backup", stream) as bar:
        bar(0, 200)
        bar(1, 200)  # still 0 %: not redrawn
        bar(100, 200)
        bar(200, 200)
    half = "#" * (BAR_WIDTH // 2) + "-" * (BAR_WIDTH - BAR_WIDTH // 2)
    assert stream.getvalue() == (
        f"\rBackup [{'-' * BAR_WIDTH}]   0% 0 B/200 B"
        f"\rBackup [{half}]  50% 100 B/200 B"
        f"\rBackup [{'#' * BAR_WIDTH}] 100% 200 B/200 B"
        "\n"
    )


def test_render_bar_clamps_and_handles_nothing_to_do():
    """Counts beyond the total are drawn full; a total of 0 is complete."""
    assert render_bar("X", 500, 100, width=4) == "X [####] 100% 100 B/100 B"
    assert render_bar("X", 0, 0, width=4) == "X [####] 100% 0 B/0 B"
    assert render_bar("X", 1, 4, width=4) == "X [#---]  25% 1 B/4 B"


def test_human_size():
    """Sizes read as B, KiB, MiB, GiB with one decimal."""
    assert human_size(512) == "512 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(3 * MIB) == "3.0 MiB"
    assert human_size(5 * 1024**3) == "5.0 GiB"


def cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lienthong.node.cli", *args], **kw)


async def test_cli_backup_keeps_scripts_clean(tmp_path: Path):
    """`lienthong backup --json` with stderr on a pipe: JSON on stdout, nothing on stderr."""
    data = await node_dir(tmp_path)
    process = cli(
        "backup",
        "--data-dir",
        str(data),
        "--out",
        str(tmp_path / "b.tar"),
        "--json",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert err == ""
    assert json.loads(out)["members"] >= 3


async def test_cli_backup_draws_a_bar_on_a_terminal(tmp_path: Path):
    """`lienthong backup` with stderr on a pseudo-terminal draws the bar up to 100 %."""
    data = await node_dir(tmp_path)
    primary, secondary = os.openpty()
    process = cli(
        "backup",
        "--data-dir",
        str(data),
        "--out",
        str(tmp_path / "b.tar"),
        stdout=subprocess.PIPE,
        stderr=secondary,
        env={**os.environ, "TERM": "xterm"},
    )
    os.close(secondary)
    drawn = b""
    try:
        while True:
            try:
                piece = os.read(primary, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not piece:
                break
            drawn += piece
    finally:
        os.close(primary)
    out = process.stdout.read().decode()
    process.stdout.close()
    assert process.wait(timeout=120) == 0
    assert "Backup written to" in out
    text = drawn.decode()
    assert "\rBackup [" in text and "100%" in text
    assert "Backup [" not in out  # the bar never reaches stdout
