"""A real PostgreSQL server for the tests: Debian's binaries, initdb into a temporary
directory, one server per test session, a fresh database per test.

The server listens on a unix socket in its own directory and on 127.0.0.1 at a free
port, with trust authentication for its one superuser; durability is off (fsync,
synchronous_commit), since a test database is thrown away. initdb refuses to run as
root, so as root (CI) every server command runs as the unprivileged `postgres` user of
the Debian package, which owns the directory. Without the binaries the tests that need
the server are skipped, except in CI (CI set), where they fail.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.node.running import free_port

# Where Debian puts the server binaries when they are not on PATH.
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
# The unprivileged account that runs the server when the tests run as root.
SERVER_USER = "postgres"
SUPERUSER = "lienthong"
# A start or stop that takes longer than this is a broken installation, not a slow one.
START_TIMEOUT_SECONDS = 60
_databases = itertools.count(1)


def binary(name: str) -> Path | None:
    """The PostgreSQL program `name`: on PATH, else in Debian's newest version folder."""
    found = shutil.which(name)
    if found:
        return Path(found)
    versions = sorted(
        (p for p in DEBIAN_BINARIES.glob("*/bin") if (p / name).is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdecimal() else 0,
    )
    return versions[-1] / name if versions else None


class PgServer:
    """One PostgreSQL server in `root` (its data in root/data, its socket in root)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = free_port()
        self._as_root = os.geteuid() == 0

    def _run(self, *command: str | Path, check: bool = True) -> subprocess.CompletedProcess:
        argv = [str(c) for c in command]
        if self._as_root:
            argv = ["runuser", "-u", SERVER_USER, "--", *argv]
        return subprocess.run(
            argv, capture_output=True, text=True, check=check, timeout=START_TIMEOUT_SECONDS
        )

    def init(self) -> None:
        initdb = binary("initdb")
        if initdb is None:
            raise FileNotFoundError("initdb")
        if self._as_root:
            shutil.chown(self.root, SERVER_USER)
        self._run(
            initdb, "-D", self.data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "wal_level": "replica",
            "max_wal_senders": "4",
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self) -> None:
        done = self._run(
            binary("pg_ctl"), "-D", self.data, "-l", self.log, "-w", "start", check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr}\n{self.log.read_text()}")

    def stop(self, mode: str = "fast") -> None:
        self._run(binary("pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop", check=False)

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash: the next start recovers from the WAL)."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)

    def init_standby(self, primary: PgServer) -> None:
        """Make this server a streaming-replication standby of `primary` (pg_basebackup
        with its recovery settings written), listening on its own port and socket."""
        if self._as_root:
            shutil.chown(self.root, SERVER_USER)
        self._run(
            binary("pg_basebackup"), "-D", self.data, "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", SUPERUSER, "--write-recovery-conf", "--wal-method=stream",
            "--checkpoint=fast", "--no-sync",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(f"port = {self.port}\nunix_socket_directories = '{self.root}'\n")

    def promote(self) -> None:
        """Make a standby the primary (pg_ctl promote, waiting until it accepts writes)."""
        self._run(binary("pg_ctl"), "-D", self.data, "-w", "promote")

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement through psql (outside any event loop); its output."""
        done = subprocess.run(
            [
                str(binary("psql")),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                statement,
                self.dsn(database),
            ],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql {statement!r}: {done.stderr}")
        return done.stdout

    def new_database(self) -> str:
        """A fresh empty database (CREATE DATABASE … TEMPLATE template0); its DSN."""
        name = f"test_{os.getpid()}_{next(_databases)}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
        return self.dsn(name)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is needed in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole session, stopped at its end."""
    if binary("initdb") is None or binary("pg_ctl") is None:
        _unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="lienthong-pg-"))
    server = PgServer(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> str:
    """The DSN of a database of its own for one test."""
    return pg_server.new_database()
