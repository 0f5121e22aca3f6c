"""`lienthong doctor`: checks of an installed node, each with a finding and the fixing command.

Every check catches its own errors and reports them as a failure: doctor is
run on broken installs, so it must never stop on one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import shutil
import sqlite3
import ssl
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives.serialization import Encoding

from lienthong.bootstrap.directory import DIRECTORY_PATH, iso
from lienthong.crypto import x509 as tls
from lienthong.crypto.errors import CryptoError
from lienthong.crypto.files import exposure
from lienthong.crypto.keys import fingerprint, fingerprint_matches
from lienthong.crypto.keystore import is_sealed
from lienthong.node import config as cfg
from lienthong.node import platform
from lienthong.node.centre.issuer import ca_key_path
from lienthong.node.datadir import node_keys, passphrase_of
from lienthong.protocol.certificate import verify_certificate
from lienthong.protocol.directory import verify_directory
from lienthong.storage.db import check_schema, migrations, unix_ms
from lienthong.storage.errors import MigrationError, StoreError
from lienthong.storage.store_pg import SCHEMA_VERSION as PG_SCHEMA_VERSION
from lienthong.storage.store_pg import probe, safe_url

OK, WARN, FAIL = "ok", "warn", "fail"
MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000
CERT_WARN_DAYS = 30  # time enough to rotate keys or re-enrol before peers refuse us
MIN_FREE_BYTES = 1024**3  # a day of large attachments on a busy office fits in 1 GiB
# The centre answers GET /v1/directory in well under a second; doctor must not hang on a
# black-holed address.
CENTRE_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
PORT_PROBE_SECONDS = 2.0  # a TLS handshake on the loopback or LAN takes milliseconds
WEB_PROBE_TIMEOUT = aiohttp.ClientTimeout(total=5)  # a loopback /healthz answers in ms
# Directory bytes read back from the local cache (protocol.limits allows a few MiB).
MAX_CACHED_DIRECTORY = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Check:
    """One finding: what was checked, ok/warn/fail, what was found, and how to fix it."""

    name: str
    status: str
    finding: str
    fix: str = ""
    # (label, value, unit) for monitoring: `doctor --nagios` prints them as perfdata.
    perf: tuple[tuple[str, float, str], ...] = ()


class _Inspection:
    """What the checks share: the data directory, its config, and the clock."""

    def __init__(self, data_dir: Path, clock: Callable[[], int]) -> None:
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.config: cfg.Config | None = None

    def cmd(self, command: str) -> str:
        return f"lienthong {command} --data-dir {self.data_dir}"

    @property
    def enrol(self) -> str:
        return self.cmd("enrol") + " --centre URL --fingerprint FP --token TOKEN"

    def root_public(self) -> bytes:
        """The root key tls/ca.pem stands for: its own key, or the root key that endorses
        its ECDSA key (crypto/x509.py ca_root_key); CertificateError if neither holds."""
        return tls.ca_root_key(tls.cert_from_pem(self.config.ca_path.read_bytes()))


async def run_checks(data_dir: Path, *, clock: Callable[[], int] = unix_ms) -> list[Check]:
    """Every check of the node at data_dir, in the order an operator fixes them."""
    ins = _Inspection(data_dir, clock)
    results = await _guard("config", _check_config, ins)
    if ins.config is not None:
        for name, check in _CHECKS:
            results.extend(await _guard(name, check, ins))
    results.extend(await _guard("disk space", _check_disk, ins))
    return results


async def _guard(name: str, check: Callable, ins: _Inspection) -> list[Check]:
    try:
        result = check(ins)
        if isinstance(result, Awaitable):
            result = await result
    except Exception as exc:  # a broken install must be reported, never crash doctor
        result = Check(
            name, FAIL, f"could not be checked: {type(exc).__name__}: {exc}", "see the finding"
        )
    return result if isinstance(result, list) else [result]


def _check_config(ins: _Inspection) -> Check:
    try:
        ins.config = cfg.load_config(ins.data_dir)
    except cfg.ConfigError as exc:
        missing = not (ins.data_dir / cfg.CONFIG_FILE).is_file()
        fix = (
            ins.cmd("init") + " --code CODE --name NAME"
            if missing
            else f"edit {ins.data_dir / cfg.CONFIG_FILE} (every key: node.toml.example)"
        )
        return Check("config", FAIL, str(exc), fix)
    c = ins.config
    return Check("config", OK, f"node.toml loads: {c.role} {c.code} ({c.name})")


def _key_file(name: str, path: Path) -> Check | None:
    """Existence, mode and readability of a secret file; None when all are fine."""
    if not path.is_file():
        return Check(name, FAIL, f"{path} does not exist", "")
    exposed = exposure(path)  # mode bits on POSIX, the access list on Windows
    if exposed is not None:
        return Check(name, FAIL, f"{path}: {exposed.finding}, other users may read it", exposed.fix)
    if not os.access(path, os.R_OK):
        fix = (
            f"run doctor as the service's account, which owns {path} (docs/WINDOWS.md)"
            if platform.WINDOWS
            else f"chown lienthong: {path} (run doctor as the service user)"
        )
        return Check(name, FAIL, f"{path} is not readable by this user", fix)
    return None


def _check_identity_key(ins: _Inspection) -> Check:
    path = ins.config.path("keys", "identity")
    problem = _key_file("identity key", path)
    if problem is not None:
        fix = problem.fix or ins.cmd("init") + " (in a new data directory) or restore a backup"
        return Check(problem.name, problem.status, problem.finding, fix)
    env = ins.config.get("keys", "passphrase_env")
    if is_sealed(path):
        if not env or not os.environ.get(env):
            return Check(
                "identity key",
                FAIL,
                f"{path} is sealed and the passphrase is not in the environment"
                + (f" (variable {env} is not set)" if env else " (keys.passphrase_env is empty)"),
                "set keys.passphrase_env in node.toml and that variable in the service's "
                "EnvironmentFile (docs/OPERATIONS.md)",
            )
        node_keys(ins.config)  # proves the passphrase opens the file
        return Check("identity key", OK, f"{path}: mode 0600, sealed; ${env} opens it")
    node_keys(ins.config)
    return Check("identity key", OK, f"{path}: mode 0600, not sealed")


def _check_root_key(ins: _Inspection) -> list[Check]:
    """The centre's root key (keys/root.key): mode and readability; units have none."""
    if ins.config.role != "centre":
        return []
    path = ins.config.root_key_path
    problem = _key_file("root key", path)
    if problem is not None:
        return [Check(problem.name, FAIL, problem.finding, problem.fix or "restore a backup")]
    sealed = "sealed" if is_sealed(path) else "not sealed"
    checks = [Check("root key", OK, f"{path}: mode 0600, {sealed}")]
    ca_path = ins.config.ca_path
    if ca_path.is_file() and _ca_algorithm(ins) == tls.ECDSA_P256:  # its CA key is its own
        key_path = ca_key_path(ins.config)
        problem = _key_file("CA key", key_path)
        if problem is not None:
            fix = problem.fix or "restore keys/ca.key from the centre's backup"
            return [*checks, Check(problem.name, FAIL, problem.finding, fix)]
        sealed = "sealed" if tls.is_sealed_key(key_path.read_bytes()) else "not sealed"
        checks.append(Check("CA key", OK, f"{key_path}: ECDSA P-256, mode 0600, {sealed}"))
    return checks


def _ca_algorithm(ins: _Inspection) -> str:
    """The algorithm of the federation's TLS keys: that of tls/ca.pem's key."""
    return tls.algorithm_of(tls.cert_from_pem(ins.config.ca_path.read_bytes()).public_key())


def _check_tls_key(ins: _Inspection) -> Check:
    path = ins.config.tls_key_path
    problem = _key_file("TLS key", path)
    if problem is not None:
        if not problem.fix:  # missing: enrolment writes it
            return Check(problem.name, FAIL, problem.finding + ": not enrolled", ins.enrol)
        return problem
    data = path.read_bytes()
    if not tls.is_sealed_key(data):
        tls.key_from_pem(data)
        return Check("TLS key", OK, f"{path}: mode 0600, not sealed")
    passphrase = passphrase_of(ins.config)
    if passphrase is None:
        return Check(
            "TLS key",
            FAIL,
            f"{path} is sealed and the passphrase is not in the environment",
            "set keys.passphrase_env in node.toml and that variable in the service's "
            "EnvironmentFile (docs/OPERATIONS.md)",
        )
    tls.key_from_pem(data, passphrase)  # proves the passphrase opens the file
    return Check("TLS key", OK, f"{path}: mode 0600, sealed; the passphrase opens it")


def _validity(name: str, what: str, not_after_ms: int, now: int, fix: str) -> Check:
    left = not_after_ms - now
    if left < 0:
        return Check(name, FAIL, f"{what} expired at {iso(not_after_ms)}", fix)
    days = left // MS_PER_DAY
    status = WARN if days < CERT_WARN_DAYS else OK
    return Check(
        name,
        status,
        f"{what} valid for {days} more days (until {iso(not_after_ms)})",
        fix if status == WARN else "",
        perf=((_label(name) + "_days", days, ""),),
    )


def _label(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower())


def _check_tls_cert(ins: _Inspection) -> Check:
    path, ca_path = ins.config.tls_cert_path, ins.config.ca_path
    for p in (path, ca_path):
        if not p.is_file():
            return Check("TLS certificate", FAIL, f"{p} does not exist: not enrolled", ins.enrol)
    cert = tls.cert_from_pem(path.read_bytes())
    tls.verify_issued_by(cert, tls.cert_from_pem(ca_path.read_bytes()))
    not_after = int(cert.not_valid_after_utc.timestamp() * 1000)
    return _validity("TLS certificate", f"{path}", not_after, ins.clock(), ins.cmd("keys rotate"))


def _check_node_cert(ins: _Inspection) -> Check:
    name = "node certificate"
    if ins.config.role == "centre":
        return Check(name, OK, "the centre signs certificates and holds none of its own")
    path = ins.config.certificate_path
    if not path.is_file():
        return Check(name, FAIL, f"{path} does not exist: not enrolled", ins.enrol)
    cert = verify_certificate(path.read_bytes(), ins.root_public())
    if cert.code != ins.config.code:
        return Check(
            name, FAIL, f"{path} is for {cert.code}, node.toml says {ins.config.code}", ins.enrol
        )
    what = f"certificate {cert.serial} of {cert.code}"
    return _validity(name, what, cert.not_after, ins.clock(), ins.cmd("keys rotate"))


def _check_ca_pin(ins: _Inspection) -> Check:
    name = "centre CA"
    if not ins.config.ca_path.is_file():
        return Check(name, FAIL, f"{ins.config.ca_path} does not exist: not enrolled", ins.enrol)
    root = ins.root_public()
    pinned = ins.config.get("federation", "centre_fingerprint")
    if ins.config.role == "centre":
        return Check(name, OK, f"this is the centre; root fingerprint {fingerprint(root)}")
    if not pinned:
        return Check(name, FAIL, "federation.centre_fingerprint is empty: not enrolled", ins.enrol)
    if not fingerprint_matches(root, pinned):
        return Check(
            name,
            FAIL,
            f"tls/ca.pem has key {fingerprint(root)}, but node.toml pins {pinned}",
            "check the fingerprint on the enrolment sheet with the centre, then re-enrol",
        )
    how = "endorsed by the root key" if _ca_algorithm(ins) == tls.ECDSA_P256 else "the root key"
    return Check(
        name,
        OK,
        f"tls/ca.pem ({_ca_algorithm(ins)}, {how}) matches the pinned fingerprint {pinned}",
    )


def _database(ins: _Inspection) -> str:
    """The centre's PostgreSQL URL (centre.database), or "" for the SQLite store."""
    return ins.config.get("centre", "database") if ins.config.role == "centre" else ""


async def _check_database(url: str) -> Check:
    """A centre on PostgreSQL: the database answers, with a schema this lienthong knows."""
    name, where = "store", f"PostgreSQL {safe_url(url)}"
    fix = "start PostgreSQL, check centre.database and the password in ~/.pgpass or PGPASSWORD"
    try:
        version, _ = await probe(url)
    except StoreError as exc:
        return Check(name, FAIL, str(exc), fix)
    if version == 0:
        return Check(name, WARN, f"{where}: no schema yet: the first start creates it")
    if version > PG_SCHEMA_VERSION:
        return Check(
            name, FAIL, f"{where}: schema version {version}, newer than this lienthong's",
            "upgrade lienthong",
        )  # fmt: skip
    return Check(name, OK, f"{where}: schema version {version} (the current one)")


def _check_store(ins: _Inspection) -> Check | Awaitable[Check]:
    """The store's schema: current, older (migrated at the next start), or newer (refused)."""
    if database := _database(ins):
        return _check_database(database)
    name, store = "store", ins.config.store_path
    if not store.is_file():
        return Check(name, WARN, f"no store at {store} yet: the first start creates it")
    try:
        version = check_schema(store)  # read-only: never migrates a running node's store
    except MigrationError as exc:
        return Check(name, FAIL, str(exc), "upgrade lienthong, or restore a backup")
    latest = len(migrations())
    if version < latest:
        return Check(
            name,
            WARN,
            f"schema version {version}; the next start migrates it to {latest} "
            "(keeping a copy of the store as it was)",
            "make a backup first: " + ins.cmd("backup") + " --out FILE",
        )
    return Check(name, OK, f"schema version {version} (the current one)")


async def _check_directory(ins: _Inspection) -> Check:
    name = "directory"
    store = ins.config.store_path
    refresh = "start the node with the centre reachable: " + ins.cmd("run")
    if database := _database(ins):
        _, row = await probe(database)  # unreachable: reported by the store check
    elif not store.is_file():
        return Check(name, FAIL, f"no store at {store}: no directory cached", ins.enrol)
    else:
        # Read-only: doctor must neither migrate nor lock the store of a running node.
        conn = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT raw, expires_at FROM directory_cache ORDER BY version DESC LIMIT 1"
            ).fetchone()
        finally:
            conn.close()
    if row is None:
        return Check(name, FAIL, "no directory cached yet", refresh)
    raw, expires_at = bytes(row[0][:MAX_CACHED_DIRECTORY]), row[1]
    now = ins.clock()
    directory = verify_directory(raw, ins.root_public(), now=min(now, expires_at))
    version = f"directory v{directory.version}"
    if now > directory.expires_at:
        return Check(name, FAIL, f"{version} expired at {iso(directory.expires_at)}", refresh)
    hours = (directory.expires_at - now) // MS_PER_HOUR
    status = WARN if hours < ins.config.get("federation", "directory_warn_hours") else OK
    finding = f"{version}, {len(directory.certificates)} units, expires in {hours} hours"
    perf = (("directory_hours_left", hours, ""),)
    return Check(name, status, finding, refresh if status == WARN else "", perf=perf)


async def _check_centre(ins: _Inspection) -> list[Check]:
    config = ins.config
    if config.role == "centre":
        return [Check("centre reachable", OK, "this is the centre")]
    url = config.get("federation", "centre_url")
    if not url:
        return [Check("centre reachable", FAIL, "federation.centre_url is empty", ins.enrol)]
    from lienthong.node.runtime import client_ssl_context

    context = client_ssl_context(config)
    try:
        async with (
            aiohttp.ClientSession(timeout=CENTRE_TIMEOUT) as session,
            session.get(url.rstrip("/") + DIRECTORY_PATH, ssl=context) as response,
        ):
            status, date = response.status, response.headers.get("Date")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return [
            Check(
                "centre reachable",
                FAIL,
                f"GET {url}{DIRECTORY_PATH}: {type(exc).__name__}: {exc}",
                "check the network and firewall to the centre (docs/OPERATIONS.md, Ports)",
            )
        ]
    finding = f"GET {url}{DIRECTORY_PATH}: HTTP {status}"
    if status >= 400:
        fix = "the centre refused this node: ask its operator ('lienthong centre units')"
        reach = Check("centre reachable", FAIL, finding, fix)
    else:
        reach = Check("centre reachable", OK, finding)
    return [reach, _skew(ins, date, config.get("security", "clock_skew_seconds"))]


def _skew(ins: _Inspection, date: str | None, limit: int) -> Check:
    if not date:
        return Check("clock skew", WARN, "the centre sent no Date header", "")
    theirs = parsedate_to_datetime(date).astimezone(UTC)
    skew = abs(ins.clock() / 1000 - theirs.timestamp())
    finding = f"{skew:.0f} s from the centre's clock (tolerated: {limit} s)"
    if skew > limit:
        return Check("clock skew", WARN, finding, "enable NTP: timedatectl set-ntp true")
    return Check("clock skew", OK, finding)


def _check_disk(ins: _Inspection) -> Check:
    path = ins.data_dir if ins.data_dir.exists() else ins.data_dir.parent
    free = shutil.disk_usage(path).free
    finding = f"{free / 1024**3:.1f} GiB free in {path}"
    perf = (("disk_free", free, "B"),)
    if free < MIN_FREE_BYTES:
        fix = f"free space on the disk holding {path}"
        return Check("disk space", WARN, finding, fix, perf=perf)
    return Check("disk space", OK, finding, perf=perf)


def _check_web_exposure(ins: _Inspection) -> Check:
    """The clerk's page is plain HTTP: on the loopback, or behind a TLS reverse proxy."""
    name, config = "web page", ins.config
    hostport = config.get("node", "web")
    host = hostport.rsplit(":", 1)[0].strip("[]")
    proxy_fix = (
        'bind it to the loopback (node.web = "127.0.0.1:PORT") and serve it through a TLS '
        'reverse proxy (docs/OPERATIONS.md, "Reverse proxy (nginx)"); then set '
        "web.behind_tls_proxy = true and web.allowed_hosts to the proxy's name"
    )
    if _is_loopback(host) and not config.get("web", "behind_tls_proxy"):
        return Check(name, OK, f"node.web = {hostport}: reachable from this machine only")
    if not config.get("web", "behind_tls_proxy"):
        return Check(
            name,
            WARN,
            f"node.web = {hostport} serves the clerks' page in plain HTTP beyond this "
            "machine, with no TLS in front (web.behind_tls_proxy = false): passwords and "
            "session cookies cross the network readable",
            proxy_fix,
        )
    if not config.get("web", "allowed_hosts"):
        return Check(
            name,
            WARN,
            "web.behind_tls_proxy = true but web.allowed_hosts is empty: the page refuses "
            "(421) the name the proxy passes on in Host",
            'set web.allowed_hosts = ["NAME"], the name clerks type, in node.toml',
        )
    names = ", ".join(config.get("web", "allowed_hosts"))
    return Check(name, OK, f"node.web = {hostport} behind a TLS reverse proxy, as {names}")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve beyond this machine


async def _check_ports(ins: _Inspection) -> list[Check]:
    return [await _port(ins, key) for key in ("listen", "web")]


async def _port(ins: _Inspection, key: str) -> Check:
    name = f"port node.{key}"
    hostport = ins.config.get("node", key)
    host, port = hostport.rsplit(":", 1)
    host = host.strip("[]")
    error = platform.port_is_free(host, int(port))  # probed as the node binds on this platform
    if error is None:
        return Check(name, OK, f"{hostport} is free")
    holder = _holder(int(port))
    if holder and _is_running_node(holder[1], ins.data_dir):
        return Check(name, OK, f"{hostport} is held by this node, running: pid {holder[0]}")
    this = _is_this_node if key == "listen" else _is_this_web_page
    if await this(ins, host, int(port)):
        return Check(name, OK, f"{hostport} is held by this node, running")
    if holder and _is_running_node(holder[1]):
        what = f"another lienthong node (pid {holder[0]}: {' '.join(holder[1])})"
        return Check(
            name,
            FAIL,
            f"{hostport} is taken by {what}",
            f"give this node another node.{key} in node.toml, or stop the other node",
        )
    who = f"by pid {holder[0]} ({' '.join(holder[1])})" if holder else f"({error.strerror})"
    return Check(
        name,
        FAIL,
        f"{hostport} is taken {who}",
        f"stop that process, or change node.{key} in node.toml (see: {_who_listens(int(port))})",
    )


def _is_running_node(argv: list[str], data_dir: Path | None = None) -> bool:
    """Whether a command line is `lienthong run` or `lienthong demo` (or via node.cli); with
    `data_dir`, a `run` of that data directory only (another node on the port is a fault)."""
    program = any(Path(a).name == "lienthong" or a == "lienthong.node.cli" for a in argv[:3])
    if not (program and any(a in ("run", "demo") for a in argv)):
        return False
    if data_dir is None:
        return True
    given = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--data-dir"]
    given += [a.split("=", 1)[1] for a in argv if a.startswith("--data-dir=")]
    try:
        return "run" in argv and any(Path(g).resolve() == data_dir.resolve() for g in given)
    except OSError:
        return False


async def _is_this_web_page(ins: _Inspection, host: str, port: int) -> bool:
    """Whether the page on host:port is this node's: its /healthz names this node's code."""
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/healthz"
    try:
        async with (
            aiohttp.ClientSession(timeout=WEB_PROBE_TIMEOUT) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError, OSError):
        return False
    return isinstance(answer, dict) and answer.get("code") == ins.config.code


def _who_listens(port: int) -> str:
    """The command that names the process listening on port, on this platform."""
    if platform.WINDOWS:
        return f'netstat -ano -p tcp | findstr ":{port} "'
    if sys.platform == "darwin":
        return f"lsof -nP -iTCP:{port} -sTCP:LISTEN"
    return f"ss -ltnp 'sport = :{port}'"


def _holder(port: int) -> tuple[str, list[str]] | None:
    """The pid and command line of the process listening on port, if this user can see it
    (from /proc: Linux only; elsewhere None, and the finding names `_who_listens`)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text("ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
                    return proc.name, [a for a in argv if a]
        except OSError:
            continue
    return None


async def _is_this_node(ins: _Inspection, host: str, port: int) -> bool:
    """Whether the TLS server on host:port presents this node's own certificate."""
    config = ins.config
    if not config.tls_cert_path.is_file():
        return False
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # we compare the certificate's bytes ourselves
    try:
        password = tls.sealed_key_password(
            config.tls_key_path.read_bytes(), passphrase_of(config), "TLS key"
        )
        context.load_cert_chain(config.tls_cert_path, config.tls_key_path, password=password)
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context), PORT_PROBE_SECONDS
        )
    except (OSError, TimeoutError, ssl.SSLError, CryptoError):  # CryptoError: sealed key
        return False
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    mine = tls.cert_from_pem(config.tls_cert_path.read_bytes()).public_bytes(Encoding.DER)
    return der == mine


_CHECKS: list[tuple[str, Callable]] = [
    ("identity key", _check_identity_key),
    ("root key", _check_root_key),
    ("TLS key", _check_tls_key),
    ("TLS certificate", _check_tls_cert),
    ("node certificate", _check_node_cert),
    ("centre CA", _check_ca_pin),
    ("store", _check_store),
    ("directory", _check_directory),
    ("centre reachable", _check_centre),
    ("ports", _check_ports),
    ("web page", _check_web_exposure),
]


def failed(checks: list[Check]) -> bool:
    return any(c.status == FAIL for c in checks)


def render(checks: list[Check]) -> str:
    """One line per check, and the fix indented below it."""
    lines = []
    for c in checks:
        lines.append(f"[{c.status.upper():4}] {c.name}: {c.finding}")
        if c.fix and c.status != OK:
            lines.append(f"       fix: {c.fix}")
    return "\n".join(lines)


# Nagios plugin exit codes (Nagios Plugin Development Guidelines, "Plugin Return Codes").
NAGIOS_OK, NAGIOS_WARNING, NAGIOS_CRITICAL, NAGIOS_UNKNOWN = 0, 1, 2, 3


def nagios(checks: list[Check]) -> tuple[int, str]:
    """The checks as a Nagios/Icinga/Zabbix plugin answers: the exit code and one line
    `LIENTHONG STATE - what is wrong | perfdata` (labels quoted, values with their unit)."""
    if not checks:
        return NAGIOS_UNKNOWN, "LIENTHONG UNKNOWN - nothing was checked"
    bad = [c for c in checks if c.status == FAIL]
    warn = [c for c in checks if c.status == WARN]
    code, state = (
        (NAGIOS_CRITICAL, "CRITICAL")
        if bad
        else (NAGIOS_WARNING, "WARNING")
        if warn
        else (NAGIOS_OK, "OK")
    )
    summary = "; ".join(f"{c.name}: {c.finding}" for c in (bad or warn)) or (
        f"{len(checks)} checks passed"
    )
    perf = " ".join(f"'{label}'={value:g}{unit}" for c in checks for label, value, unit in c.perf)
    line = f"LIENTHONG {state} - {summary.replace('|', '/')}"
    return code, f"{line} | {perf}" if perf else line
