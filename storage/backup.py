"""Backup and restore of a node's data directory as one verified tar file.

The archive holds a consistent snapshot of the store (SQLite's online backup API,
taken while the node runs), every blob file, and the other regular files of the
data directory (node.toml, key files). Its last member, MANIFEST.json, lists each
member's name, size, mode and SHA-256; restore checks all of them before anything
appears in the target directory.

A centre whose store is a PostgreSQL database (`[centre] database`) is backed up the same
way, with the database as the member centre.pgdump in place of store.sqlite3: pg_dump's
custom format, one consistent snapshot taken while the workers run. Restore replays it
with pg_restore in one transaction into an empty database named by the caller (nothing
is left in it if any part fails) and keeps the dump out of the restored directory. The
PostgreSQL programs are Debian's (on PATH, else the newest /usr/lib/postgresql/N/bin).

The archive holds the keys and the documents in clear, so the file is created readable by
its owner only (0600), and restore creates every file 0600 and every folder 0700, whatever
modes the archive records. With a passphrase the whole tar is sealed as it is written
(crypto/sealed_stream.py: argon2id, then the secretstream cipher, in bounded memory);
restore recognises a sealed backup by its first bytes and needs the passphrase.
"""

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from lienthong.crypto import sealed_stream
from lienthong.crypto.errors import CryptoError, WrongPassphraseError
from lienthong.crypto.files import create_private, make_private_dir
from lienthong.protocol.text import is_decimal
from lienthong.storage.blobs import PARTIAL_DIR, TMP_DIR, fsync_dir
from lienthong.storage.errors import BackupError, StoreError
from lienthong.storage.store_pg import is_postgresql, probe, safe_url

STORE_FILE = "store.sqlite3"
PG_DUMP_FILE = "centre.pgdump"  # a PostgreSQL centre's database, pg_dump --format=custom
# Where Debian puts PostgreSQL's programs when they are not on PATH (postgresql-client-N).
DEBIAN_POSTGRESQL = Path("/usr/lib/postgresql")
VERSION_DIGITS = 4  # a major version folder's name there: 15, 16, …
BLOBS_DIR = "blobs"
MANIFEST = "MANIFEST.json"
FORMAT = "lienthong-backup"
FORMAT_VERSION = 1
# Not copied: SQLite's side files (the snapshot replaces them) and unfinished blob uploads.
SKIPPED_FILES = frozenset({STORE_FILE, *(STORE_FILE + s for s in ("-wal", "-shm", "-journal"))})
SKIPPED_DIRS = frozenset(f"{BLOBS_DIR}/{name}" for name in (TMP_DIR, PARTIAL_DIR))
# An archive is untrusted input on restore: cap the manifest before parsing it
# (about 200 bytes a member: room for hundreds of thousands of blobs).
MAX_MANIFEST_BYTES = 128 * 1024 * 1024
MAX_MEMBERS = 1_000_000
COPY_CHUNK = 1024 * 1024
# What a failing pg_dump or pg_restore said is quoted up to this many characters (its last
# lines name the cause; a restore into a wrong database can print one line per object).
MAX_PG_ERROR_CHARS = 2000

# progress(done, total): bytes copied so far and in all, called from the worker thread;
# `done` never decreases, and reaches `total` in one last call once the work succeeded.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    members: int  # files in the archive, manifest not counted
    size: int  # bytes of those files


class _Counter:
    """Bytes done out of a total known in advance, reported to an optional callback."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self._progress = total, 0, progress

    def add(self, n: int) -> None:
        # Below the total until finish(): a file may grow between the count and the copy,
        # and the work is not done before the last check (fsync, hash, quick_check) passes.
        self.done = min(self.done + n, max(self.total - 1, 0))
        if self._progress is not None and n:
            self._progress(self.done, self.total)

    def finish(self) -> None:
        self.done = self.total
        if self._progress is not None:
            self._progress(self.total, self.total)


class _HashingReader:
    """Reads a file for tarfile while hashing exactly the bytes read."""

    def __init__(self, file: BinaryIO, counter: _Counter) -> None:
        self._file = file
        self._counter = counter
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._file.read(n)
        self.hash.update(data)
        self._counter.add(len(data))
        return data


def _files_to_copy(data_dir: Path) -> list[tuple[str, Path]]:
    """Regular files of the data directory (symlinks not followed), sorted, minus skips."""
    found = []
    for dirpath, dirnames, filenames in os.walk(data_dir):
        rel_dir = Path(dirpath).relative_to(data_dir).as_posix()
        dirnames[:] = sorted(
            d for d in dirnames if (f"{rel_dir}/{d}" if rel_dir != "." else d) not in SKIPPED_DIRS
        )
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            path = Path(dirpath) / name
            if rel in SKIPPED_FILES or not stat.S_ISREG(path.lstat().st_mode):
                continue
            found.append((rel, path))
    return found


def _add(
    tar: tarfile.TarFile,
    name: str,
    path: Path,
    manifest: list[dict[str, object]],
    counter: _Counter,
) -> int:
    st = path.stat()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = st.st_size, stat.S_IMODE(st.st_mode), int(st.st_mtime)
    with path.open("rb") as file:
        reader = _HashingReader(file, counter)
        tar.addfile(info, reader)  # type: ignore[arg-type]
    manifest.append(
        {"name": name, "size": info.size, "mode": info.mode, "sha256": reader.hash.hexdigest()}
    )
    return info.size


def _write_tar(tar: tarfile.TarFile, files: list[tuple[str, Path]], counter: _Counter) -> int:
    """Every file, then MANIFEST.json; returns the bytes of the files."""
    manifest: list[dict[str, object]] = []
    total = 0
    for name, path in files:
        total += _add(tar, name, path, manifest, counter)
    body = json.dumps(
        {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "created_at": int(time.time() * 1000),
            "members": manifest,
        },
        indent=1,
    ).encode()
    info = tarfile.TarInfo(MANIFEST)
    info.size, info.mode = len(body), 0o600
    with tempfile.SpooledTemporaryFile() as buffer:
        buffer.write(body)
        buffer.seek(0)
        tar.addfile(info, buffer)
    return total


def pg_program(name: str) -> Path:
    """The PostgreSQL program `name` (pg_dump, pg_restore): on PATH, else in Debian's newest
    version folder; BackupError saying which package provides it if there is none."""
    found = shutil.which(name)
    if found:
        return Path(found)
    versions = sorted(
        (p for p in DEBIAN_POSTGRESQL.glob("*/bin") if (p / name).is_file()),
        key=lambda p: int(p.parent.name) if is_decimal(p.parent.name, VERSION_DIGITS) else 0,
    )
    if not versions:
        raise BackupError(
            f"{name} is not installed (neither on PATH nor in {DEBIAN_POSTGRESQL}/*/bin): "
            "install postgresql-client (Debian: apt-get install postgresql-client) of the "
            "server's major version or newer"
        )
    return versions[-1] / name


def _run_pg(name: str, url: str, *args: str | Path) -> None:
    """Run pg_dump or pg_restore on the database at `url`. The password goes through the
    environment (PGPASSWORD), never the command line, where `ps` would show it."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
    argv = [str(pg_program(name)), *map(str, args), "--dbname", safe_url(url)]
    done = subprocess.run(
        argv,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=False,
    )
    if done.returncode != 0:
        said = " ".join(done.stderr.split())[-MAX_PG_ERROR_CHARS:]
        raise BackupError(f"{name} of the database {safe_url(url)} failed: {said}")


def _backup(
    data_dir: Path,
    out: Path,
    passphrase: bytes | None,
    progress: Progress | None,
    database: str = "",
) -> BackupInfo:
    data_dir, out = data_dir.resolve(), out.resolve()
    if out.is_relative_to(data_dir):
        raise BackupError(f"the backup file {out} must be outside the data directory {data_dir}")
    source = data_dir / STORE_FILE
    if not database and not source.is_file():
        raise BackupError(f"no store to back up: {source} does not exist")
    if database and not is_postgresql(database):
        raise BackupError(f"not a PostgreSQL URL (postgresql://…): {safe_url(database)}")
    if passphrase is not None and not passphrase:
        raise BackupError("the backup passphrase is empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))  # mode 0700
    try:
        if database:  # one snapshot (a repeatable-read transaction) while the workers run
            snapshot = work / PG_DUMP_FILE
            _run_pg("pg_dump", database, "--format=custom", "--file", snapshot)
            store = (PG_DUMP_FILE, snapshot)
        else:
            snapshot = work / STORE_FILE
            src = sqlite3.connect(source)
            dst = sqlite3.connect(snapshot)
            try:
                src.backup(dst)  # one step: a consistent snapshot even while the node writes
            finally:
                dst.close()
                src.close()
            store = (STORE_FILE, snapshot)
        partial = work / "archive.tar"
        files = [store, *_files_to_copy(data_dir)]
        counter = _Counter(sum(path.stat().st_size for _, path in files), progress)
        with create_private(partial) as file:
            if passphrase is None:
                with tarfile.open(fileobj=file, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    total = _write_tar(tar, files, counter)
            else:
                sealer = sealed_stream.SealingWriter(file, passphrase)
                # Stream mode ("w|"): tarfile only writes, so each byte is sealed as it comes.
                with tarfile.open(
                    fileobj=sealer,  # type: ignore[arg-type]
                    mode="w|",
                    format=tarfile.PAX_FORMAT,
                ) as tar:
                    total = _write_tar(tar, files, counter)
                sealer.finish()
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, out)
        fsync_dir(out.parent)
        counter.finish()
        return BackupInfo(out, len(files), total)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _member_path(root: Path, name: str) -> Path:
    """The path for an archive member's name, refusing anything that could leave root."""
    pure = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise BackupError(f"archive member name {name!r:.100} is not a safe relative path")
    return root.joinpath(*pure.parts)


def _read_manifest(tar: tarfile.TarFile) -> dict[str, dict[str, object]]:
    try:
        member = tar.getmember(MANIFEST)
    except KeyError:
        raise BackupError(f"the archive has no {MANIFEST}: not a lienthong backup") from None
    if not member.isfile() or member.size > MAX_MANIFEST_BYTES:
        raise BackupError(f"{MANIFEST} is not a file of at most {MAX_MANIFEST_BYTES} bytes")
    file = tar.extractfile(member)
    assert file is not None
    try:
        manifest = json.loads(file.read())
    except ValueError as e:
        raise BackupError(f"{MANIFEST} is not valid JSON: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{MANIFEST} does not describe a {FORMAT} archive")
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(
            f"backup format version {manifest.get('version')!r} is not {FORMAT_VERSION}"
        )
    members = manifest.get("members")
    if not isinstance(members, list) or len(members) > MAX_MEMBERS:
        raise BackupError(f"{MANIFEST} must list at most {MAX_MEMBERS} members")
    entries: dict[str, dict[str, object]] = {}
    for entry in members:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise BackupError(f"{MANIFEST} has a member entry without a name")
        if not all(isinstance(entry.get(k), int) for k in ("size", "mode")) or not isinstance(
            entry.get("sha256"), str
        ):
            raise BackupError(f"{MANIFEST} entry {entry['name']!r} lacks size, mode or sha256")
        if entry["name"] in entries or entry["name"] == MANIFEST:
            raise BackupError(f"{MANIFEST} lists {entry['name']!r} twice")
        entries[entry["name"]] = entry
    if (STORE_FILE in entries) == (PG_DUMP_FILE in entries):
        raise BackupError(f"the archive must hold one store: {STORE_FILE} or {PG_DUMP_FILE}")
    return entries


def _extract(
    tar: tarfile.TarFile,
    staging: Path,
    entries: dict[str, dict[str, object]],
    counter: _Counter,
) -> int:
    seen: set[str] = set()
    total = 0
    for member in tar:
        if member.name == MANIFEST:
            continue
        entry = entries.get(member.name)
        if entry is None or member.name in seen or not member.isfile():
            raise BackupError(f"archive member {member.name!r:.100} is not listed in {MANIFEST}")
        seen.add(member.name)
        target = _member_path(staging, member.name)
        make_private_dir(target.parent, parents=True)  # keys/ and the rest: 0700
        source = tar.extractfile(member)
        assert source is not None
        digest = hashlib.sha256()
        size = 0
        # 0600 for every file: the archive's modes are not trusted (a key file must not
        # come back readable by others), and nothing in a data directory needs more.
        with create_private(target) as out:
            while chunk := source.read(COPY_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
                counter.add(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
            raise BackupError(f"archive member {member.name!r} does not match its SHA-256 or size")
        total += size
    missing = entries.keys() - seen
    if missing:
        raise BackupError(f"archive lacks members listed in {MANIFEST}: {sorted(missing)[:5]}")
    return total


def is_encrypted(src: Path) -> bool:
    """Whether the backup file `src` is sealed with a passphrase."""
    try:
        with Path(src).open("rb") as file:
            return sealed_stream.is_sealed(file.read(len(sealed_stream.MAGIC)))
    except OSError as e:
        raise BackupError(f"cannot read the backup {src}: {e.strerror}") from None


def _unseal(src: Path, passphrase: bytes, plain: Path) -> None:
    """Decrypt the sealed backup `src` into the new private file `plain`, checking all of it
    (every chunk authenticated, the final one present) before anything is extracted."""
    try:
        with src.open("rb") as file, create_private(plain) as out:
            reader = sealed_stream.UnsealingReader(file, passphrase, f"the backup {src}")
            while chunk := reader.read(COPY_CHUNK):
                out.write(chunk)
    except WrongPassphraseError as e:
        raise BackupError(str(e)) from None
    except CryptoError as e:
        raise BackupError(f"the encrypted backup {src} was altered or cut short: {e}") from None


def _restore(
    data_dir: Path,
    src: Path,
    passphrase: bytes | None,
    progress: Progress | None,
    database: str = "",
) -> BackupInfo:
    data_dir = data_dir.resolve()
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise BackupError(
            f"{data_dir} is not empty: restore only into an empty or new directory, "
            "so that nothing there is overwritten"
        )
    encrypted = is_encrypted(src)
    if encrypted and not passphrase:
        raise BackupError(f"{src} is an encrypted backup: its passphrase is needed to restore it")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=data_dir.parent, prefix=f".{data_dir.name}.restore-"))
    # The decrypted tar waits beside the staging folder (not in it: staging becomes data_dir).
    plain = staging.with_name(staging.name + ".tar")
    try:
        archive = src
        if encrypted:
            assert passphrase is not None
            _unseal(src, passphrase, plain)
            archive = plain
        try:
            with tarfile.open(archive, "r:") as tar:
                entries = _read_manifest(tar)
                # The manifest's sizes are untrusted, but only drawn: _extract checks each.
                expected = sum(int(e["size"]) for e in entries.values())  # type: ignore[call-overload]
                counter = _Counter(expected, progress)
                total = _extract(tar, staging, entries, counter)
        except (tarfile.TarError, EOFError) as e:
            raise BackupError(f"{src} is not a readable tar archive: {e}") from e
        plain.unlink(missing_ok=True)
        if PG_DUMP_FILE in entries:
            if not database:
                raise BackupError(
                    f"{src} is a backup of a centre on PostgreSQL: give the URL of an empty "
                    "database to restore it into (createdb; lienthong restore --database URL)"
                )
            # One transaction: a dump that does not replay leaves the database empty.
            dump = staging / PG_DUMP_FILE
            _run_pg("pg_restore", database, "--single-transaction", "--exit-on-error",
                    "--no-owner", "--no-privileges", dump)  # fmt: skip
            dump.unlink()  # the data now lives in the database, not in the directory
        else:
            if database:
                raise BackupError(
                    f"{src} holds a SQLite store ({STORE_FILE}), not a PostgreSQL centre: "
                    "restore it without a database"
                )
            conn = sqlite3.connect(staging / STORE_FILE)
            try:
                result = conn.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                conn.close()
            if result != "ok":
                raise BackupError(f"the restored store fails SQLite's quick_check: {result}")
        if data_dir.exists():
            for child in staging.iterdir():
                os.replace(child, data_dir / child.name)
            staging.rmdir()
        else:
            os.replace(staging, data_dir)
        fsync_dir(data_dir.parent)
        counter.finish()
        return BackupInfo(src, len(entries), total)
    finally:
        plain.unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)


async def backup(
    data_dir: Path,
    out: Path,
    *,
    passphrase: bytes | None = None,
    progress: Progress | None = None,
    database: str = "",
) -> BackupInfo:
    """Write a backup of `data_dir` to the tar file `out` (mode 0600, via a temp file and a
    rename), sealed with `passphrase` when one is given; `progress(done, total)` follows the
    bytes archived. With `database` (a PostgreSQL centre's URL) the store is that database,
    dumped by pg_dump."""
    return await asyncio.to_thread(
        _backup, Path(data_dir), Path(out), passphrase, progress, database
    )


async def restore(
    data_dir: Path,
    src: Path,
    *,
    passphrase: bytes | None = None,
    progress: Progress | None = None,
    database: str = "",
) -> BackupInfo:
    """Restore the backup `src` into `data_dir`, which must be empty or not exist; an
    encrypted backup needs its `passphrase`; `progress(done, total)` follows the bytes
    extracted and verified. A PostgreSQL centre's backup needs `database`, the URL of an
    empty database, into which pg_restore replays it."""
    if database:
        if not is_postgresql(database):
            raise BackupError(f"not a PostgreSQL URL (postgresql://…): {safe_url(database)}")
        try:
            version, _ = await probe(database)
        except StoreError as e:
            raise BackupError(str(e)) from None
        if version:
            raise BackupError(
                f"the database {safe_url(database)} holds a centre already (schema version "
                f"{version}): restore only into an empty database (createdb), so that "
                "nothing there is overwritten"
            )
    return await asyncio.to_thread(
        _restore, Path(data_dir), Path(src), passphrase, progress, database
    )
