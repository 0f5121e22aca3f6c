"""The centre's store on PostgreSQL (asyncpg): the Store interface (write, read) over a
connection pool, its schema, and LISTEN/NOTIFY between the workers sharing the database.

The storage modules (relay, uploads, audit, centre, directory, reports) are written once,
in the SQL both engines read: parameters are `?` (turned into `$1, $2, …` here, once per
statement text), and the two SQLite functions they use that PostgreSQL lacks, the scalar
`max(a, b)` and `instr(text, part)`, are defined by the schema below.

Writes are serialised as SQLite serialises them: each write transaction first takes the
transaction-level advisory lock WRITE_LOCK, so read-then-write steps (the audit chain's
next entry, a pull hiding what it answers) hold across every worker on the database,
exactly as they do in one SQLite file. Reads take no lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import string
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lienthong.protocol.text import is_decimal
from lienthong.storage.db import Store, unix_ms
from lienthong.storage.errors import MigrationError, StoreError

if TYPE_CHECKING:  # asyncpg loads when a PostgreSQL store is opened: a unit never does
    import asyncpg

log = logging.getLogger("lienthong.store")

# The key of the advisory lock every write transaction takes (any fixed 64-bit number;
# this one spells "lienthon" in ASCII), and of the one that orders schema creation.
WRITE_LOCK = 0x6C69656E74686F6E
SCHEMA_LOCK = WRITE_LOCK + 1
# Connections per worker: a pull or deposit holds one only for its transaction (a
# long-poll waits without one), so a few serve thousands of waiting units.
DEFAULT_POOL_SIZE = 8
# How long a statement may wait for the write lock or a row lock before the request
# fails with a clear error instead of hanging (as SQLite's busy timeout).
LOCK_TIMEOUT_MS = 10_000
# Reconnecting the LISTEN connection after the database went away: the first try soon
# (a restart takes seconds), then doubling, never more than this apart (a failover).
RECONNECT_FIRST_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 10.0
# How long doctor waits for the database to answer before it reports it unreachable.
PROBE_TIMEOUT_SECONDS = 5.0
# The channel on which a deposit names the mailbox it filled (payload: the unit code).
RELAY_CHANNEL = "lienthong_relay"

# The centre's tables, as the SQLite migrations left them (0001 to 0012), in PostgreSQL
# types: INTEGER becomes BIGINT (Unix milliseconds), BLOB becomes BYTEA. Version 2 adds
# what the console's sign-in reads (UPGRADES below).
SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE schema_version (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);
CREATE FUNCTION max(a BIGINT, b BIGINT) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE AS 'SELECT GREATEST(a, b)';
CREATE FUNCTION instr(haystack TEXT, needle TEXT) RETURNS INTEGER
    LANGUAGE sql IMMUTABLE AS 'SELECT strpos(haystack, needle)';
CREATE TABLE relay_mailbox (
    recipient    TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('envelope', 'status', 'notice')),
    sender       TEXT NOT NULL,
    raw          BYTEA NOT NULL,
    blobs        TEXT NOT NULL DEFAULT '',
    deposited_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    visible_at   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (recipient, item_id)
);
CREATE INDEX relay_mailbox_expiry ON relay_mailbox (expires_at);
CREATE INDEX relay_mailbox_queue ON relay_mailbox (recipient, deposited_at, item_id);
CREATE TABLE blob_uploads (
    blob_id    TEXT NOT NULL,
    uploader   TEXT NOT NULL,
    length     BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    touched_at BIGINT NOT NULL,
    PRIMARY KEY (blob_id, uploader)
);
CREATE INDEX blob_uploads_by_uploader ON blob_uploads (uploader);
CREATE INDEX blob_uploads_by_age ON blob_uploads (touched_at);
CREATE TABLE blobs (
    id         TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TABLE directory_cache (
    version    BIGINT PRIMARY KEY,
    raw        BYTEA NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    fetched_at BIGINT NOT NULL,
    form2      BYTEA
);
CREATE TABLE certificate_archive (
    serial  BIGINT PRIMARY KEY,
    code    TEXT NOT NULL,
    raw     BYTEA NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE TABLE centre_units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    state       TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
    created_at  BIGINT NOT NULL,
    approved_at BIGINT,
    enrolled_at BIGINT,
    revoked_at  BIGINT,
    last_seen   BIGINT,
    protocols   TEXT NOT NULL DEFAULT '1'
);
CREATE TABLE centre_tokens (
    token_id     TEXT PRIMARY KEY,
    code         TEXT NOT NULL REFERENCES centre_units (code),
    secret       BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT,
    sign_key     BYTEA,
    enc_key      BYTEA,
    tls_key      BYTEA,
    request      BYTEA,
    serial       BIGINT,
    cancelled_at BIGINT
);
CREATE INDEX centre_tokens_by_unit ON centre_tokens (code);
CREATE TABLE centre_certificates (
    serial     BIGINT PRIMARY KEY,
    code       TEXT NOT NULL REFERENCES centre_units (code),
    raw        BYTEA NOT NULL,
    tls_pem    BYTEA NOT NULL,
    sign_key   BYTEA NOT NULL,
    enc_key    BYTEA NOT NULL,
    tls_key    BYTEA NOT NULL,
    issued_at  BIGINT NOT NULL,
    not_after  BIGINT NOT NULL,
    via        TEXT NOT NULL CHECK (via IN ('centre', 'enrolment', 'rotation')),
    replaces   BIGINT,
    revoked_at BIGINT
);
CREATE INDEX centre_certificates_by_unit ON centre_certificates (code, serial);
CREATE INDEX centre_certificates_by_expiry ON centre_certificates (not_after);
CREATE TABLE centre_counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
CREATE TABLE centre_renewals (
    id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    code         TEXT NOT NULL REFERENCES centre_units (code),
    old_serial   BIGINT NOT NULL REFERENCES centre_certificates (serial),
    sign_key     BYTEA NOT NULL,
    enc_key      BYTEA NOT NULL,
    tls_key      BYTEA NOT NULL,
    request      BYTEA NOT NULL,
    requested_at BIGINT NOT NULL,
    origin       TEXT NOT NULL,
    serial       BIGINT,
    closed_at    BIGINT
);
CREATE INDEX centre_renewals_by_unit ON centre_renewals (code);
CREATE TABLE unit_reports (
    code         TEXT PRIMARY KEY,
    serial       BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    node_version TEXT NOT NULL,
    unprocessed  BIGINT NOT NULL CHECK (unprocessed >= 0),
    raw          BYTEA NOT NULL
);
CREATE TABLE unit_report_days (
    code     TEXT NOT NULL,
    day      TEXT NOT NULL,
    sent     BIGINT NOT NULL CHECK (sent >= 0),
    received BIGINT NOT NULL CHECK (received >= 0),
    failures BIGINT NOT NULL CHECK (failures >= 0),
    delivery TEXT NOT NULL,
    PRIMARY KEY (code, day)
);
CREATE INDEX unit_report_days_by_day ON unit_report_days (day, code);
"""
# Each later version's statements, applied in order to a database of an older version.
UPGRADES: dict[int, tuple[str, str]] = {
    # The console's accounts and sessions (node/web/console/, storage/users.py), as the
    # SQLite migrations 0001, 0006 and 0018 left them: the operator signs in to the
    # console of any worker with the same account, and a session opened on one worker
    # is known to the others.
    2: (
        "console sign-in",
        """
CREATE TABLE departments (
    name       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('clerk', 'leader', 'specialist', 'admin')),
    display_name  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    disabled      BIGINT NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    department    TEXT REFERENCES departments (name)
);
CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
""",
    ),
}


def is_postgresql(url: str) -> bool:
    """Whether a configured database is a PostgreSQL URL (else the SQLite file is used)."""
    return url.startswith(("postgresql://", "postgres://"))


async def open_store(
    path: Path,
    *,
    database: str = "",
    synchronous: str = "NORMAL",
    clock: Callable[[], int] = unix_ms,
) -> Store | PgStore:
    """The store a node is configured with: the SQLite file at `path`, or with `database`
    (a centre's `[centre] database`) the PostgreSQL database at that URL."""
    if not database:
        return await Store.open(path, synchronous=synchronous, clock=clock)
    if not is_postgresql(database):
        raise StoreError(
            f"centre.database must be empty (the SQLite file in the data directory) or a "
            f"PostgreSQL URL postgresql://USER@HOST:PORT/DATABASE, not {_safe(database)!r}"
        )
    return await PgStore.open(database, clock=clock)


@lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """`sql` with its `?` parameters numbered as PostgreSQL wants them ($1, $2, …); a `?`
    inside a quoted literal or identifier stays as it is."""
    out: list[str] = []
    quote: str | None = None
    n = 0
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(char)
    return "".join(out)


# The characters of a `:name` parameter (sqlite3 takes ASCII identifiers).
_NAME_START = frozenset(string.ascii_letters + "_")
_NAME_CHARS = _NAME_START | frozenset(string.digits)


@lru_cache(maxsize=256)
def named(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with its `:name` parameters (sqlite3's named style) numbered, and the names in
    the order of their numbers (a name used twice keeps one number); `::` casts and
    anything quoted stay as they are."""
    out: list[str] = []
    names: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(sql):
        char = sql[i]
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ":" and sql[i - 1 : i] != ":" and sql[i + 1 : i + 2] in _NAME_START:
            end = i + 1
            while end < len(sql) and sql[end] in _NAME_CHARS:
                end += 1
            name = sql[i + 1 : end]
            if name not in names:
                names.append(name)
            out.append(f"${names.index(name) + 1}")
            i = end
            continue
        out.append(char)
        i += 1
    return "".join(out), tuple(names)


def _bind(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> tuple[str, Sequence[Any]]:
    """The statement and its arguments as asyncpg takes them, from either sqlite3 style."""
    if isinstance(params, Mapping):
        text, names = named(sql)
        return text, [params[name] for name in names]
    return numbered(sql), params


@dataclass(frozen=True)
class Done:
    """What a statement changed, as sqlite3's cursor tells it (-1: not counted), and the
    rows of its RETURNING clause, if any (read as from a sqlite3 cursor)."""

    rowcount: int
    rows: tuple[Any, ...] = ()

    def fetchall(self) -> list[Any]:
        return list(self.rows)

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None


# A command tag's row count is a 64-bit integer: at most 20 digits.
ROWCOUNT_DIGITS = 20


def _rowcount(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if is_decimal(last, ROWCOUNT_DIGITS) else -1


class _Queries:
    """The read methods shared by a transaction and a reader."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn: asyncpg.Connection | None = conn

    def _live(self) -> asyncpg.Connection:
        if self._conn is None:
            raise StoreError("this transaction has already ended")
        return self._conn

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> asyncpg.Record | None:
        return await self._live().fetchrow(numbered(sql), *params)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[asyncpg.Record]:
        return await self._live().fetch(numbered(sql), *params)


class PgTx(_Queries):
    """An open write transaction; valid only inside its `async with store.write()` block."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        super().__init__(conn)
        self._after: list[Callable[[], object]] = []

    async def after_commit(self, step: Callable[[], object]) -> None:
        """Run `step` once this transaction has committed, before any other worker's write
        transaction can start: the write lock is held past the commit for it (a session
        lock taken beside the transaction's), then released. Not run on a rollback."""
        if not self._after:
            await self._live().execute("SELECT pg_advisory_lock($1)", WRITE_LOCK)
        self._after.append(step)

    async def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Done:
        text, args = _bind(sql, params)
        if " RETURNING " in sql:  # an UPDATE … RETURNING read back as sqlite3 does
            rows = await self._live().fetch(text, *args)
            return Done(len(rows), tuple(rows))
        return Done(_rowcount(await self._live().execute(text, *args)))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Done:
        if rows:
            await self._live().executemany(numbered(sql), rows)
        return Done(-1)

    async def notify(self, channel: str, payload: str) -> None:
        """Tell every listener on `channel` (every worker) once this transaction commits."""
        await self._live().execute("SELECT pg_notify($1, $2)", channel, payload)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[PgTx]:
        """A part of the transaction that can fail alone (SAVEPOINT), as Tx.savepoint."""
        async with self._live().transaction():
            yield self


class PgReader(_Queries):
    """A connection lent by the pool for reading; it sees only committed data."""


class PgStore:
    """The centre's PostgreSQL store. Open with `await PgStore.open(url)`; `close()` after."""

    def __init__(self, url: str, pool: asyncpg.Pool, clock: Callable[[], int]) -> None:
        self.url = url
        self.path = _safe(url)  # what messages name (the URL without its password)
        self.clock = clock
        self.schema_version = SCHEMA_VERSION
        self._pool = pool
        self._listener: asyncpg.Connection | None = None
        self._callbacks: dict[str, list[Callable[[str], None]]] = {}
        self._missed: list[Callable[[], None]] = []
        self._relisten: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(
        cls, url: str, *, clock: Callable[[], int] = unix_ms, size: int = DEFAULT_POOL_SIZE
    ) -> PgStore:
        """Connect to the database at `url` and create the centre's schema if it has none."""
        if not is_postgresql(url):
            raise StoreError(f"not a PostgreSQL URL (postgresql://…): {_safe(url)}")
        import asyncpg

        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=size,
                server_settings={"lock_timeout": str(LOCK_TIMEOUT_MS)},
            )
        except (OSError, asyncpg.PostgresError) as e:
            raise StoreError(f"cannot connect to the database {_safe(url)}: {e}") from e
        try:
            async with pool.acquire() as conn:
                await _create_schema(conn, _safe(url))
        except BaseException:
            await pool.close()
            raise
        return cls(url, pool, clock)

    def now(self) -> int:
        return self.clock()

    async def __aenter__(self) -> PgStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def write(self) -> AbstractAsyncContextManager[PgTx]:
        """A write transaction holding WRITE_LOCK: commit on success, roll back on exception."""
        return self._write("SELECT pg_advisory_xact_lock($1)")

    def write_shared(self) -> AbstractAsyncContextManager[PgTx]:
        """A write transaction holding WRITE_LOCK shared: many at once on every worker, none
        beside a `write()`. For writes that are atomic row by row (a relay deposit: its
        insert is decided by the item's key) and need only that no exclusive writer (blob
        removal, the audit chain, the directory) runs meanwhile. It must not append to the
        audit log: two such appends at once would take the same entry number."""
        return self._write("SELECT pg_advisory_xact_lock_shared($1)")

    @asynccontextmanager
    async def _write(self, lock: str) -> AsyncIterator[PgTx]:
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        async with self._pool.acquire() as conn:
            tx = PgTx(conn)
            try:
                async with conn.transaction():
                    await conn.execute(lock, WRITE_LOCK)
                    try:
                        yield tx
                    finally:
                        tx._conn = None
                for step in tx._after:  # committed; the session lock still held
                    step()
            finally:
                if tx._after and not conn.is_closed():  # a lost connection holds no lock
                    await conn.execute("SELECT pg_advisory_unlock($1)", WRITE_LOCK)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PgReader]:
        """Borrow a connection for reading committed data."""
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        async with self._pool.acquire() as conn:
            reader = PgReader(conn)
            try:
                yield reader
            finally:
                reader._conn = None

    async def listen(
        self,
        channel: str,
        callback: Callable[[str], None],
        *,
        missed: Callable[[], None] | None = None,
    ) -> None:
        """Call `callback(payload)` for every notification on `channel`, from any worker.

        If the listening connection is lost (the database restarted, a failover), it is
        opened again with backoff (reconnect_delay); notifications sent meanwhile are
        lost, so `missed()` is called once it listens again."""
        if missed is not None:
            self._missed.append(missed)
        if channel not in self._callbacks:
            self._callbacks[channel] = []
            if self._listener is not None:
                await self._listener.add_listener(channel, self._notified)
        self._callbacks[channel].append(callback)
        if self._listener is None:
            await self._connect_listener()

    @property
    def listening(self) -> bool:
        """Whether notifications from other workers reach this one now (health)."""
        return self._listener is not None and not self._listener.is_closed()

    async def _connect_listener(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        for channel in self._callbacks:
            await conn.add_listener(channel, self._notified)
        conn.add_termination_listener(self._lost)
        self._listener = conn

    def _lost(self, _conn: object) -> None:
        if not self._closed and self._relisten is None:
            log.warning("database %s: the LISTEN connection was lost; reconnecting", self.path)
            self._relisten = asyncio.get_running_loop().create_task(self._listen_again())

    async def _listen_again(self) -> None:
        attempt = 0
        try:
            while not self._closed:
                await asyncio.sleep(reconnect_delay(attempt))
                attempt += 1
                try:
                    await self._connect_listener()
                except Exception as e:
                    log.warning("database %s: LISTEN again failed (%s); retrying", self.path, e)
                    continue
                log.info("database %s: listening again after %d attempt(s)", self.path, attempt)
                for missed in self._missed:
                    missed()
                return
        finally:
            self._relisten = None

    def _notified(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        for callback in self._callbacks.get(channel, ()):
            callback(payload)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._relisten is not None:
            self._relisten.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relisten
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()
        await self._pool.close()


def reconnect_delay(attempt: int) -> float:
    """Seconds before reconnecting attempt `attempt` (0, 1, …): doubling from
    RECONNECT_FIRST_SECONDS up to RECONNECT_MAX_SECONDS."""
    return min(RECONNECT_MAX_SECONDS, RECONNECT_FIRST_SECONDS * 2**attempt)


async def _create_schema(conn: asyncpg.Connection, name: str) -> None:
    """Create the schema in an empty database (one worker at a time, under SCHEMA_LOCK);
    refuse a database written by a newer lienthong."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
        if exists:
            version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
            if version > SCHEMA_VERSION:
                raise MigrationError(
                    f"the database {name} was written by a newer lienthong (schema version "
                    f"{version}; this one knows 1 to {SCHEMA_VERSION}): install that version"
                )
        else:
            version = 1
            await conn.execute(SCHEMA)
            await _mark(conn, version, "centre")
            log.info("database %s: the centre's schema created", name)
        for later in range(version + 1, SCHEMA_VERSION + 1):
            what, statements = UPGRADES[later]
            await conn.execute(statements)
            await _mark(conn, later, what)
            log.info("database %s: schema version %d (%s)", name, later, what)


async def _mark(conn: asyncpg.Connection, version: int, what: str) -> None:
    await conn.execute(
        "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
        version,
        what,
        unix_ms(),
    )


async def probe(url: str) -> tuple[int, tuple[bytes, int] | None]:
    """A read-only look at a centre's database (for doctor, beside a running centre): its
    schema version (0: none yet) and the newest directory it holds (raw, expires_at), if
    any. StoreError naming the database if it cannot be reached."""
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=PROBE_TIMEOUT_SECONDS)
    except (OSError, asyncpg.PostgresError, TimeoutError) as e:
        raise StoreError(f"cannot connect to the database {_safe(url)}: {e}") from e
    try:
        if not await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL"):
            return 0, None
        version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
        row = await conn.fetchrow(
            "SELECT raw, expires_at FROM directory_cache ORDER BY version DESC LIMIT 1"
        )
        return int(version), None if row is None else (bytes(row[0]), int(row[1]))
    finally:
        await conn.close()


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return _safe(url)


def _safe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
