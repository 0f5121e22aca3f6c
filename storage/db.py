"""The Store: one SQLite file in WAL mode, its migrations, one writer and a pool of readers.

Writes: one writer connection, serialised by an asyncio.Lock; every write runs in
`async with store.write() as tx:` which starts `BEGIN IMMEDIATE` (so writers in other
processes on the same file wait for each other too), commits on success and rolls
back on any exception.

The writer's statements run on the event loop's own thread. A handoff to a worker
thread costs about 70 µs on the reference machine, more than a whole single-row
SQLite transaction in WAL mode with synchronous=NORMAL (about 40 µs), where a commit
appends to the WAL without an fsync. So only what can wait runs in a thread: taking
the write lock while another process holds it (busy timeout), commits that fsync
(synchronous=FULL or EXTRA) and WAL checkpoints. Reads go through aiosqlite
connections, each on its own thread, so a long search never stalls the loop.
"""

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from lienthong.protocol.text import pattern
from lienthong.storage.errors import MigrationError, StoreError

# How long a writer waits for the write lock held by another process (or a reader
# for a WAL recovery) before giving up: long enough for any of our short write
# transactions, short enough that a stuck process is reported instead of hanging.
BUSY_TIMEOUT_MS = 10_000
# Reader connections: the clerk's page and the delivery worker read concurrently.
DEFAULT_READERS = 2
# The writer does not checkpoint at commit (that would fsync on the loop); a
# PASSIVE checkpoint runs in a thread every this many commits instead (a send
# writes about 9 pages since migration 0020, bench/store.py: the WAL stays near 9 MiB).
CHECKPOINT_EVERY_COMMITS = 250
SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
# Page cache of each connection (the writer and every reader), in KiB. SQLite's default
# (2,000 KiB) fills slowly as a store grows and its pages are read, which shows as memory
# still rising after minutes under load; at 1 MiB the caches fill early and stay there
# (3 MiB a node with the default two readers), and a miss costs one read of a page that
# is in the operating system's cache anyway.
CACHE_SIZE_KIB = 1024
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_NAME = pattern("migration file name", r"([0-9]{4})_([a-z0-9_]+)\.sql", "0001_initial.sql")

log = logging.getLogger("lienthong.store")


def unix_ms() -> int:
    """The wall clock in Unix milliseconds: the store's default clock."""
    return time.time_ns() // 1_000_000


class Queryable(Protocol):
    """What read helpers need: a write transaction (Tx) and a Reader both provide it."""

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None: ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]: ...


class Tx:
    """An open write transaction; valid only inside its `async with store.write()` block."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = conn

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("this write transaction has already ended")
        return self._conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._live().execute(sql, params)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> sqlite3.Cursor:
        return self._live().executemany(sql, rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self._live().execute(sql, params).fetchone()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._live().execute(sql, params).fetchall()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator["Tx"]:
        """A part of the transaction that can fail alone (SQLite SAVEPOINT): an exception
        undoes this part's writes and goes on; what came before in the transaction stays."""
        conn = self._live()
        conn.execute("SAVEPOINT part")
        try:
            yield self
        except BaseException:
            conn.execute("ROLLBACK TO part")
            conn.execute("RELEASE part")
            raise
        conn.execute("RELEASE part")


class _Writing:
    """One `async with store.write()` block. A class rather than a generator-based context
    manager: every send runs one, and the generator's machinery cost about a tenth of a
    send (bench/store.py)."""

    __slots__ = ("_store", "_tx")

    def __init__(self, store: "Store") -> None:
        self._store = store
        self._tx: Tx | None = None

    async def __aenter__(self) -> Tx:
        store = self._store
        task = asyncio.current_task()
        if task is not None and task is store._writing_task:
            raise StoreError("write transactions do not nest: pass the open tx down instead")
        await store._lock.acquire()
        try:
            if store._closed:
                raise StoreError(f"the store {store.path} is closed")
            await store._begin()
        except BaseException:
            store._lock.release()
            raise
        store._writing_task = task
        self._tx = Tx(store._writer)
        return self._tx

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        store = self._store
        if self._tx is not None:
            self._tx._conn = None
        try:
            if exc_type is None:
                try:
                    await store._commit()
                except BaseException:
                    store._rollback()
                    raise
            else:
                store._rollback()
        finally:
            store._writing_task = None
            store._lock.release()


class Reader:
    """A read-only connection lent by the store's pool; each query runs in its thread."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(await self._conn.execute_fetchall(sql, params))


def _is_busy(error: sqlite3.Error) -> bool:
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


async def _in_thread_to_completion(
    fn: Callable[[], Any], undo: Callable[[], None] | None = None
) -> Any:
    """Run `fn` in a thread and wait for it to finish even if cancelled meanwhile.

    The writer connection must be idle again before the write lock is released, so
    a cancellation is re-raised only once the thread is done with it (after `undo`
    if `fn` had succeeded).
    """
    task = asyncio.ensure_future(asyncio.to_thread(fn))
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if task.exception() is None and undo is not None:
            undo()
        raise asyncio.CancelledError
    return task.result()


def migrations(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, str, str]]:
    """The migrations shipped with this program: (version, name, sql), numbered 1..N."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"migration file name {path.name!r} is not NNNN_name.sql")
        found.append((int(match[1]), match[2], path.read_text(encoding="utf-8")))
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise MigrationError(
                f"migration {version:04d}_{name} found where {expected:04d} was due"
            )
    return found


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (trigger bodies keep their semicolons)."""
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            code = "\n".join(
                line for line in buffer.splitlines() if not line.strip().startswith("--")
            )
            if code.strip(" \n;"):
                yield code
            buffer = ""


def newer_schema_error(path: Path, version: int, latest: int) -> MigrationError:
    """The one message for a store written by a newer lienthong (every command shows it)."""
    return MigrationError(
        f"the data directory {path.parent} was written by a newer lienthong: its store "
        f"{path.name} has schema version {version}, newer than the schema versions this "
        f"lienthong supports (1 to {latest}). Install a lienthong that supports schema "
        f"version {version} (the version that wrote it, or newer), or restore a backup made "
        "by this version into a new data directory: "
        "lienthong restore --data-dir NEW_DIR --from BACKUP_FILE"
    )


def schema_version(path: Path) -> int:
    """The schema version of the store file at `path`, read without changing or migrating
    it (0: no store there yet)."""
    path = Path(path)
    if not path.is_file():
        return 0
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if found is None:
            return 0
        return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    finally:
        conn.close()


def check_schema(path: Path) -> int:
    """schema_version(path), refused with newer_schema_error if this program is too old."""
    version = schema_version(path)
    latest = len(migrations())
    if version > latest:
        raise newer_schema_error(Path(path), version, latest)
    return version


def copy_path(path: Path, version: int) -> Path:
    """Where the store as it was at `version` is kept when it is migrated:
    store.sqlite3 at schema version 2 becomes store.schema-2.sqlite3."""
    return path.with_name(f"{path.stem}.schema-{version}{path.suffix}")


def _copy_before_migration(path: Path, version: int) -> Path:
    """Copy the store (SQLite's backup API) before its first migration: the way back if
    the new lienthong must be uninstalled. The caller holds the write lock, so the copy
    is the store exactly at `version`."""
    target = copy_path(path, version)
    partial = target.with_name(target.name + ".partial")
    try:
        partial.unlink(missing_ok=True)
        source = sqlite3.connect(path)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        with partial.open("rb+") as file:
            os.fsync(file.fileno())
        os.replace(partial, target)
    except (OSError, sqlite3.Error) as e:
        partial.unlink(missing_ok=True)
        raise MigrationError(
            f"the store {path} has schema version {version} and must be migrated, but a copy "
            f"of it could not be kept first in {target}: {e}; make room in {path.parent} "
            "(disk space, write access) and start again; nothing was changed"
        ) from e
    return target


def _migrate(conn: sqlite3.Connection, path: Path, available: list[tuple[int, str, str]]) -> int:
    """Apply pending migrations, each in its own BEGIN IMMEDIATE transaction.

    A store that already has a schema is first copied (copy_path), and the migration
    is logged: an upgrade changes the data directory in a way the older lienthong
    cannot read (docs/OPERATIONS.md, upgrades).
    """
    latest = len(available)
    start: int | None = None
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
            version = current.fetchone()[0]
            if version > latest:
                raise newer_schema_error(path, version, latest)
            if version == latest:
                conn.execute("COMMIT")
                if start is not None and 0 < start < latest:
                    log.info(
                        "store %s is now at schema version %d",
                        path,
                        latest,
                        extra={"schema_from": start, "schema_to": latest},
                    )
                return version
            if start is None:
                start = version
                if version > 0:
                    copy = _copy_before_migration(path, version)
                    log.warning(
                        "store %s has schema version %d: migrating it to %d; the store as "
                        "it was is kept in %s",
                        path,
                        version,
                        latest,
                        copy,
                        extra={"schema_from": version, "schema_to": latest, "copy": str(copy)},
                    )
            number, name, sql = available[version]
            try:
                for statement in _statements(sql):
                    conn.execute(statement)
            except sqlite3.Error as e:
                raise MigrationError(f"migration {number:04d}_{name} failed: {e}") from e
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (number, name, unix_ms()),
            )
            conn.execute("COMMIT")
            if start > 0:
                log.info("store %s: applied migration %04d_%s", path, number, name)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


class Store:
    """The node's SQLite store. Open with `await Store.open(path)`; close with `close()`."""

    def __init__(
        self,
        path: Path,
        writer: sqlite3.Connection,
        readers: list[aiosqlite.Connection],
        synchronous: str,
        clock: Callable[[], int],
        schema_version: int,
    ) -> None:
        self.path = path
        self.clock = clock
        self.schema_version = schema_version
        self._writer = writer
        self._readers = readers
        self._idle_readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers:
            self._idle_readers.put_nowait(reader)
        self._commit_in_thread = synchronous in ("FULL", "EXTRA")
        self._lock = asyncio.Lock()
        self._writing_task: asyncio.Task[Any] | None = None
        self._commits = 0
        self._checkpoint: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        synchronous: str = "NORMAL",
        clock: Callable[[], int] = unix_ms,
        readers: int = DEFAULT_READERS,
    ) -> "Store":
        """Open (creating if needed) the store at `path` and bring its schema up to date."""
        synchronous = synchronous.upper()
        if synchronous not in SYNCHRONOUS_LEVELS:
            raise StoreError(
                f"synchronous must be one of {SYNCHRONOUS_LEVELS}, not {synchronous!r}"
            )
        if readers < 1:
            raise StoreError("a store needs at least one reader connection")
        path = Path(path)
        available = migrations()
        writer = await asyncio.to_thread(_open_writer, path, synchronous)
        try:
            version = await asyncio.to_thread(_migrate, writer, path, available)
            writer.execute("PRAGMA busy_timeout = 0")
        except BaseException:
            writer.close()
            raise
        pool: list[aiosqlite.Connection] = []
        try:
            for _ in range(readers):
                pool.append(await _open_reader(path))
        except BaseException:
            for reader in pool:
                await reader.close()
            writer.close()
            raise
        return cls(path, writer, pool, synchronous, clock, version)

    def now(self) -> int:
        return self.clock()

    async def __aenter__(self) -> "Store":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def write(self) -> "_Writing":
        """A write transaction: BEGIN IMMEDIATE, commit on success, roll back on exception."""
        return _Writing(self)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Reader]:
        """Borrow a reader connection for the block; it sees only committed data."""
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        conn = await self._idle_readers.get()
        try:
            yield Reader(conn)
        finally:
            self._idle_readers.put_nowait(conn)

    async def _begin(self) -> None:
        try:
            # busy_timeout is 0 here: a held lock fails at once instead of blocking the loop.
            self._writer.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as e:
            if not _is_busy(e):
                raise
        await _in_thread_to_completion(self._begin_waiting, undo=self._rollback)

    def _rollback(self) -> None:
        if self._writer.in_transaction:
            self._writer.execute("ROLLBACK")

    def _begin_waiting(self) -> None:
        self._writer.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        try:
            self._writer.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if _is_busy(e):
                raise StoreError(
                    f"the store {self.path} stayed locked by another writer for more "
                    f"than {BUSY_TIMEOUT_MS} ms"
                ) from e
            raise
        finally:
            self._writer.execute("PRAGMA busy_timeout = 0")

    async def _commit(self) -> None:
        if self._commit_in_thread:
            await _in_thread_to_completion(self._commit_now)
        else:
            self._commit_now()
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY_COMMITS == 0 and self._checkpoint is None:
            self._checkpoint = asyncio.create_task(self._run_checkpoint())

    def _commit_now(self) -> None:
        self._writer.execute("COMMIT")

    async def _run_checkpoint(self) -> None:
        try:
            await asyncio.to_thread(_checkpoint, self.path)
        except sqlite3.Error:
            pass  # a PASSIVE checkpoint that could not run is retried at the next threshold
        finally:
            self._checkpoint = None

    async def close(self) -> None:
        """Wait for the running write and checkpoint, then close every connection.

        SQLite checkpoints the WAL into the database file when its last connection
        closes, so the writer is closed in a thread.
        """
        if self._closed:
            return
        async with self._lock:
            self._closed = True
            if self._checkpoint is not None:
                await asyncio.wait([self._checkpoint])
            for reader in self._readers:
                await reader.close()
            await asyncio.to_thread(self._writer.close)


def _pragmas(conn: sqlite3.Connection, synchronous: str) -> None:
    conn.execute(f"PRAGMA cache_size = -{CACHE_SIZE_KIB}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA synchronous = {synchronous}")


def _open_writer(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.row_factory = sqlite3.Row
        _pragmas(conn, synchronous)
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            raise StoreError(f"the store {path} could not be put in WAL mode (it is {mode!r})")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        return conn
    except BaseException:
        conn.close()
        raise


async def _open_reader(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.row_factory = sqlite3.Row
    await conn.execute(f"PRAGMA cache_size = -{CACHE_SIZE_KIB}")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA query_only = ON")
    return conn


def _checkpoint(path: Path) -> None:
    """Copy committed WAL pages into the database file without waiting for readers."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.close()
