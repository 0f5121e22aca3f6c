"""Chaos: 5 units and the centre (the relay) as real processes exchange documents with
attachments while a seeded driver kills -9 and restarts nodes and cuts, refuses and stalls
connections through a proxy in front of every node; then nothing is lost or doubled.

LIENTHONG_CHAOS_SEED replays a run (the same documents and the same sequence of faults;
how they interleave with the nodes' own timing differs). LIENTHONG_CHAOS_DOCS sets its
size: 200 by default (CI), 2000 for the long run by hand:

    LIENTHONG_CHAOS_DOCS=2000 .venv/bin/pytest -s tests/system/test_chaos.py
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import secrets
import socket
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from lienthong.node.runtime import open_context
from lienthong.node.unit import documents as service
from lienthong.node.unit.attachments import decrypt_to
from lienthong.protocol.document import DocumentMetadata, Organisation, Signer
from lienthong.storage.documents import get_document
from tests.system.bulk import accept_all
from tests.system.harness import Federation, lienthong_json, set_config, wait_until
from tests.system.proxy import ProxyNetwork

pytestmark = pytest.mark.system

SEED = int(os.environ.get("LIENTHONG_CHAOS_SEED") or secrets.randbelow(2**32))
DOCS = int(os.environ.get("LIENTHONG_CHAOS_DOCS") or 200)
SEND_RATE = 4.0  # documents per second while the faults go on: 200 take 50 s
UNITS = {
    "000.00.02.H53": "Văn phòng UBND tỉnh",
    "000.00.03.H53": "Sở Nội vụ",
    "000.00.04.H53": "Sở Tài chính",
    "000.00.05.H53": "Sở Thông tin và Truyền thông",
    "000.00.06.H53": "UBND huyện Tân Biên",  # behind NAT: everything through the relay
}
BEHIND_NAT = "000.00.06.H53"
ACCEPT_EVERY = 25  # a clerk registers what has arrived at one unit every this many sends
MAX_DOWN = 2  # nodes down at once (of six)
# Bounds of the whole run: it fails with a summary of what is missing, never hangs.
SETUP_SECONDS = 240
SETTLE_SECONDS = 300  # after the last fault, for every 01 and 03 to come home
DEADLINE = SETUP_SECONDS + DOCS / SEND_RATE * 2 + SETTLE_SECONDS
POLL = 2.0  # seconds between looks at the stores while waiting


def replay() -> str:
    return f"replay: LIENTHONG_CHAOS_SEED={SEED} LIENTHONG_CHAOS_DOCS={DOCS}"


# -- the plan: which unit sends what to whom (all from the seed) ------------------------------


@dataclass(frozen=True)
class Planned:
    n: int
    sender: str
    recipients: tuple[str, ...]
    sizes: tuple[int, ...]  # attachment sizes; the bytes come from the seed too


def plan(seed: int, docs: int) -> list[Planned]:
    rng = random.Random(seed)
    codes = sorted(UNITS)
    out = []
    for n in range(docs):
        sender = rng.choice(codes)
        others = [c for c in codes if c != sender]
        recipients = tuple(rng.sample(others, rng.choices([1, 2, 3], [6, 3, 1])[0]))
        kind = rng.random()
        if kind < 0.3:
            sizes: tuple[int, ...] = ()
        elif kind < 0.93:
            sizes = tuple(rng.randint(1, 32 * 1024) for _ in range(rng.randint(1, 2)))
        else:
            sizes = (rng.randint(150 * 1024, 400 * 1024),)  # a few hundred KB
        out.append(Planned(n, sender, recipients, sizes))
    return out


@dataclass(frozen=True)
class Sent:
    sender: str
    recipients: tuple[str, ...]
    attachments: tuple[tuple[str, int, str], ...]  # name, size, SHA-256 hex of the plaintext


class Clerks(threading.Thread):
    """Send the plan at SEND_RATE from the units' data directories, as their clerks would,
    whether their node runs or not; now and then register what has arrived at one unit."""

    def __init__(self, fed: Federation, docs: list[Planned], work: Path) -> None:
        super().__init__(name="clerks", daemon=True)
        self.fed, self.docs, self.work = fed, docs, work
        self.sent: dict[str, Sent] = {}
        self.error: BaseException | None = None
        self.rng = random.Random(SEED + 1)

    def run(self) -> None:
        try:
            asyncio.run(self._work())
        except BaseException as exc:  # handed to the test's thread
            self.error = exc

    async def _work(self) -> None:
        contexts = {code: await open_context(self.fed.nodes[code].data_dir) for code in UNITS}
        try:
            started = time.monotonic()
            today = dt.date.today().isoformat()
            for doc in self.docs:
                await asyncio.sleep(max(0.0, started + doc.n / SEND_RATE - time.monotonic()))
                await self._send(contexts[doc.sender], doc, today)
                if doc.n % ACCEPT_EVERY == ACCEPT_EVERY - 1:
                    await accept_all(self.fed.nodes[self.rng.choice(sorted(UNITS))].data_dir)
        finally:
            for ctx in contexts.values():
                await ctx.store.close()

    async def _send(self, ctx, doc: Planned, today: str) -> None:
        content = random.Random(SEED * 1_000_003 + doc.n)
        paths, attachments = [], []
        for k, size in enumerate(doc.sizes):
            data = content.randbytes(size)
            path = self.work / f"tep-{doc.n}-{k}.bin"
            path.write_bytes(data)
            paths.append(path)
            attachments.append((path.name, size, hashlib.sha256(data).hexdigest()))
        metadata = DocumentMetadata(
            signer=Signer("Trương Văn Hùng", "Chánh Văn phòng"),
            number=f"{doc.n + 1:02d}",
            notation="TTTH-CHAOS",
            doc_type="cong_van",
            issuer=Organisation(name=ctx.config.name, code=ctx.config.code),
            place="Tây Ninh",
            issued_on=today,
            subject=f"V/v thử nghiệm liên thông trong sự cố, văn bản {doc.n}",
        )
        envelope_id = await service.send_document(
            ctx, metadata, list(doc.recipients), files=paths, actor="chaos"
        )
        self.sent[envelope_id] = Sent(doc.sender, doc.recipients, tuple(attachments))
        for path in paths:
            path.unlink()


# -- the driver: kill -9, restart, cut, refuse, stall ------------------------------------------


@dataclass
class Tally:
    kills: Counter = field(default_factory=Counter)
    crashes: list[str] = field(default_factory=list)  # nodes that died without being killed
    cuts: int = 0
    cut_connections: int = 0
    refusals: int = 0
    stalls: int = 0


class Driver(threading.Thread):
    """Until stopped, a fault every 0.2-2 s, chosen by the seed; at most MAX_DOWN nodes down."""

    ACTIONS = ("kill", "kill centre", "cut", "refuse", "stall")
    WEIGHTS = (3, 1, 3, 2, 2)

    def __init__(self, fed: Federation, net: ProxyNetwork) -> None:
        super().__init__(name="driver", daemon=True)
        self.fed, self.net = fed, net
        self.rng = random.Random(SEED + 2)
        self.stop = threading.Event()
        self.down: dict[str, float] = {}  # node -> when to start it again (monotonic)
        self.tally = Tally()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self._step()
                self.stop.wait(self.rng.uniform(0.2, 2.0))
        except BaseException as exc:
            self.error = exc

    def _step(self) -> None:
        for name, at in sorted(self.down.items()):
            if at <= time.monotonic():
                self.fed.nodes[name].start()
                del self.down[name]
        self.check_crashes()
        action = self.rng.choices(self.ACTIONS, self.WEIGHTS)[0]
        unit, proxy = self.rng.choice(sorted(UNITS)), self.rng.choice(sorted(self.net.proxies))
        seconds = self.rng.uniform(0.5, 6.0)
        name = {"kill": unit, "kill centre": "centre"}.get(action, proxy)
        if action.startswith("kill"):
            if name not in self.down and len(self.down) < MAX_DOWN:
                self.fed.nodes[name].kill()
                self.down[name] = time.monotonic() + seconds
                self.tally.kills[name] += 1
        elif action == "cut":
            self.tally.cuts += 1
            fraction = self.rng.choice([1.0, 0.5])
            self.tally.cut_connections += self.net.proxies[name].cut(fraction)
        elif action == "refuse":
            self.tally.refusals += 1
            self.net.proxies[name].refuse(seconds)
        else:
            self.tally.stalls += 1
            self.net.proxies[name].stall(seconds)

    def check_crashes(self) -> None:
        """A node that exited without being killed is a crash: noted, then started again."""
        for name, node in self.fed.nodes.items():
            if name not in self.down and node.process is not None:
                code = node.process.poll()
                if code is not None:
                    self.tally.crashes.append(f"{name} exited {code}; see {node.log}")
                    node.start()

    def heal(self) -> None:
        self.stop.set()
        self.join(120)
        for name in sorted(self.down):
            self.fed.nodes[name].start()
        self.down.clear()
        self.net.heal()


# -- reading the stores (read only) -----------------------------------------------------------


def query(data_dir: Path, sql: str, args: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(data_dir / "store.sqlite3", timeout=30)
    try:
        conn.execute("PRAGMA query_only = ON")
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def incoming(data_dir: Path) -> set[str]:
    return {r[0] for r in query(data_dir, "SELECT id FROM documents WHERE direction = 'in'")}


def statuses_home(data_dir: Path, code: int) -> dict[tuple[str, str], int | None]:
    """(envelope id, recipient) -> incoming number, for the statuses `code` a sender holds."""
    rows = query(
        data_dir,
        "SELECT envelope_id, from_code, incoming_number FROM status_events"
        " WHERE direction = 'in' AND code = ?",
        (code,),
    )
    return {(r[0], r[1]): r[2] for r in rows}


def missing(fed: Federation, sent: dict[str, Sent], code: int | None) -> list[str]:
    """What has not happened yet: arrivals (code None) or statuses `code` back at senders."""
    out = []
    for unit in sorted(UNITS):
        data_dir = fed.nodes[unit].data_dir
        if code is None:
            have = incoming(data_dir)
            out += [
                f"{e} {s.sender}->{unit} not arrived"
                for e, s in sent.items()
                if unit in s.recipients and e not in have
            ]
        else:
            home = statuses_home(data_dir, code)
            out += [
                f"{e} {unit}->{r}: no {code:02d} at the sender"
                for e, s in sent.items()
                if s.sender == unit
                for r in s.recipients
                if (e, r) not in home
            ]
    return out


def settle(fed: Federation, sent: dict[str, Sent], code: int | None, deadline: float) -> None:
    left: list[str] = []
    while time.monotonic() < deadline:
        try:
            left = missing(fed, sent, code)
        except sqlite3.OperationalError as exc:  # a store busy for 30 s: look again
            left = [str(exc)]
        if not left:
            return
        time.sleep(POLL)
    what = "arrivals" if code is None else f"statuses {code:02d}"
    raise AssertionError(
        f"deadline passed waiting for {what}: {len(left)} missing, e.g.\n"
        + "\n".join(left[:20])
        + "\n"
        + outbox_rows(fed, left[:5])
    )


def outbox_rows(fed: Federation, lines: list[str]) -> str:
    """The senders' view of what is missing: delivery state and last error."""
    out = []
    for line in lines:
        envelope_id = line.split()[0]
        for unit in UNITS:
            out += [
                f"{unit} outbox {r}"
                for r in query(
                    fed.nodes[unit].data_dir,
                    "SELECT envelope_id, recipient, state, attempts, last_error FROM outbox"
                    " WHERE envelope_id = ?",
                    (envelope_id,),
                )
            ]
    return "\n".join(out)


# -- the checks after the run ------------------------------------------------------------------


def check_unit(fed: Federation, unit: str, sent: dict[str, Sent]) -> None:
    """Arrived exactly once, registered 1..n without gap, 01 and 03 home, blobs intact."""
    data_dir = fed.nodes[unit].data_dir
    expected = {e for e, s in sent.items() if unit in s.recipients}
    assert incoming(data_dir) == expected, f"{unit}: incoming documents differ from those sent"
    arrive = "SELECT subject FROM audit_log WHERE action = 'document.arrive'"
    arrivals = Counter(r[0] for r in query(data_dir, arrive))
    assert set(arrivals) == expected, f"{unit}: arrivals in the audit log differ from those sent"
    doubled = [e for e, c in arrivals.items() if c != 1]
    assert not doubled, f"{unit}: stored more than once: {doubled[:10]}"
    register = query(data_dir, "SELECT year, number, document_id FROM incoming_register")
    by_year: dict[int, list[int]] = {}
    for year, number, _ in register:
        by_year.setdefault(year, []).append(number)
    for year, numbers in by_year.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), f"{unit}: register {year}"
    assert sorted(r[2] for r in register) == sorted(expected), f"{unit}: register entries"
    mine = {e: s for e, s in sent.items() if s.sender == unit}
    arrived, accepted = statuses_home(data_dir, 1), statuses_home(data_dir, 3)
    numbers = {}
    for other in UNITS:
        numbers.update(
            {
                (r[0], other): r[1]
                for r in query(
                    fed.nodes[other].data_dir,
                    "SELECT document_id, number FROM incoming_register",
                )
            }
        )
    for envelope_id, s in mine.items():
        for r in s.recipients:
            assert (envelope_id, r) in arrived, f"{unit}: no 01 from {r} for {envelope_id}"
            assert accepted.get((envelope_id, r)) == numbers[(envelope_id, r)], (
                f"{unit}: 03 from {r} for {envelope_id} does not carry its incoming number"
            )
    states = query(data_dir, "SELECT DISTINCT state FROM outbox")
    assert states in ([], [("accepted",)]), f"{unit}: outbox states {states}"
    check_blob_files(data_dir)


def check_blob_files(data_dir: Path) -> int:
    """Every blob file hashes to its name (its id); returns how many there are."""
    count = 0
    for path in (data_dir / "blobs").glob("[0-9a-f][0-9a-f]/*"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == path.parent.name + path.name, f"{path} does not match its hash"
        count += 1
    return count


async def check_attachments(fed: Federation, unit: str, sent: dict[str, Sent], out: Path) -> int:
    """Each received attachment is the one sent: manifest as sent, decrypts to its hash."""
    ctx = await open_context(fed.nodes[unit].data_dir)
    checked = 0
    try:
        for envelope_id, s in sent.items():
            if unit not in s.recipients:
                continue
            async with ctx.store.read() as conn:
                doc = await get_document(conn, envelope_id)
            body = service.stored_body(doc)
            got = tuple((a.name, a.size, a.sha256.hex()) for a in body.attachments)
            assert got == s.attachments, f"{unit}: attachments of {envelope_id} differ"
            for a in body.attachments:
                await asyncio.to_thread(decrypt_to, ctx.blobs, a, out / a.name)
                (out / a.name).unlink()
                checked += 1
    finally:
        await ctx.store.close()
    return checked


# -- the test ---------------------------------------------------------------------------------


@pytest.mark.timeout(int(DEADLINE + 300))
def test_chaos_nothing_lost_nothing_doubled(tmp_path):
    """Documents in random directions through kill -9s, cuts, refusals and stalls: each
    arrives once, registers number 1..n, its 01 and 03 come home, audit and blobs verify."""
    started = time.monotonic()
    deadline = started + DEADLINE
    figures = {"seed": SEED, "documents": DOCS, "result": "failed"}
    with ProxyNetwork(SEED) as net:
        fed = Federation(tmp_path, advertise=lambda name, port: net.add(name, port).url)
        driver = Driver(fed, net)
        try:
            with ThreadPoolExecutor(len(UNITS)) as pool:  # five technicians at once
                list(pool.map(lambda unit: enrol(fed, *unit), UNITS.items()))
                list(pool.map(lambda code: fed.nodes[code].start(), UNITS))
            # Units enrolled early learn the later ones from the centre when they start.
            wait_until(
                lambda: directory_versions(fed) == {centre_directory_version(fed)},
                timeout=SETUP_SECONDS,
                what="every unit holding the centre's latest directory",
            )
            figures["setup_seconds"] = round(time.monotonic() - started, 1)
            clerks = Clerks(fed, plan(SEED, DOCS), tmp_path)
            chaos_started = time.monotonic()
            clerks.start()
            driver.start()
            clerks.join(max(1.0, deadline - time.monotonic()))
            driver.heal()
            figures["chaos_seconds"] = round(time.monotonic() - chaos_started, 1)
            for thread in (clerks, driver):
                if thread.error is not None:
                    raise AssertionError(
                        f"{thread.name} failed: {thread.error!r}"
                    ) from thread.error
            assert not clerks.is_alive(), "the clerks did not finish sending before the deadline"
            sent = dict(clerks.sent)
            settling = time.monotonic()
            settle(fed, sent, None, deadline)
            settle(fed, sent, 1, deadline)
            for code in UNITS:
                asyncio.run(accept_all(fed.nodes[code].data_dir))
            settle(fed, sent, 3, deadline)
            figures["settle_seconds"] = round(time.monotonic() - settling, 1)
            driver.check_crashes()
            for name, node in fed.nodes.items():
                assert node.stop() == 0, f"{name} did not stop cleanly; see {node.log}"
            assert not driver.tally.crashes, f"nodes crashed: {driver.tally.crashes}"
            for code in UNITS:
                check_unit(fed, code, sent)
            figures["attachments_checked"] = sum(
                asyncio.run(check_attachments(fed, code, sent, tmp_path)) for code in UNITS
            )
            figures["relay_blobs_checked"] = check_blob_files(fed.centre_dir)
            for name, node in fed.nodes.items():
                verdict = lienthong_json("audit", "verify", "--data-dir", str(node.data_dir))
                assert verdict["ok"], f"{name}: audit chain broken: {verdict}"
            unused = [name for name, p in net.proxies.items() if not p.stats.connections]
            assert not unused, f"no traffic went through the proxies of {unused}"
            figures["aiohttp_writer_noise"] = check_logs(fed)
            figures["deliveries"] = sum(len(s.recipients) for s in sent.values())
            figures["result"] = "passed"
        except Exception as exc:
            raise AssertionError(f"chaos run failed ({replay()}): {exc}") from exc
        finally:
            tally = driver.tally
            figures.update(
                kills=sum(tally.kills.values()),
                relay_kills=tally.kills["centre"],
                crashes=len(tally.crashes),
                cuts=tally.cuts,
                cut_connections=tally.cut_connections,
                refusals=tally.refusals,
                stalls=tally.stalls,
                proxy=asdict(net.totals()),
                connections={name: p.stats.connections for name, p in net.proxies.items()},
                total_seconds=round(time.monotonic() - started, 1),
            )
            print(f"\nchaos figures: {json.dumps(figures)}\n{replay()}")
            (tmp_path / "chaos-figures.json").write_text(json.dumps(figures, indent=2))
            fed.close()


# aiohttp 3.14's client (client_reqrep.ClientRequest.write_bytes) lets the error of writing
# the last chunk of a chunked upload (a blob PUT) escape from its writer task when the
# connection was reset meanwhile; nobody awaits that task, so asyncio logs it. The request
# itself fails or has its answer as usual: noise, not a fault of the node.
AIOHTTP_WRITER_NOISE = ("Task exception was never retrieved", "ClientRequest.write_bytes()")


def check_logs(fed: Federation) -> int:
    """No node logged an error or an unexpected exception; returns the aiohttp noise lines."""
    errors, noise = [], 0
    for name, node in fed.nodes.items():
        for line in node.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if all(part in line for part in AIOHTTP_WRITER_NOISE):
                noise += 1
            elif "Traceback" in line or " ERROR " in line or " CRITICAL " in line:
                errors.append(f"{name}: {line[:300]}")
    assert not errors, "nodes logged errors:\n" + "\n".join(errors[:20])
    return noise


def enrol(fed: Federation, code: str, name: str) -> None:
    fed.add_unit(code, name, reachable=code != BEHIND_NAT)
    set_config(fed.nodes[code].data_dir, "node", "discovery", False)  # all through the proxies


def directory_versions(fed: Federation) -> set[int]:
    """The version of the directory each unit holds (the highest cached)."""
    return {
        query(fed.nodes[code].data_dir, "SELECT max(version) FROM directory_cache")[0][0]
        for code in UNITS
    }


def centre_directory_version(fed: Federation) -> int:
    """The version of the directory the centre signed last."""
    sql = "SELECT value FROM centre_counters WHERE name = 'directory_version'"
    return query(fed.centre_dir, sql)[0][0]


# -- the proxy itself --------------------------------------------------------------------------


def echo_server() -> tuple[socket.socket, list[bytes]]:
    """A threaded echo server on a free port; returns its socket and what it received."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(ConnectionResetError):  # cut() resets this side too
            while data := conn.recv(65536):
                received.append(data)
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return server, received


def test_proxy_forwards_cuts_refuses_and_stalls():
    """The proxy forwards bytes both ways; cut resets live connections, refuse resets new
    ones, a stall holds bytes until it ends, and heal ends every fault."""
    server, received = echo_server()
    with server, ProxyNetwork(1) as net:
        proxy = net.add("echo", server.getsockname()[1])
        address = ("127.0.0.1", proxy.port)
        with socket.create_connection(address, timeout=30) as conn:
            conn.sendall(b"2340/VP-TTTH")
            assert conn.recv(100) == b"2340/VP-TTTH"
            assert proxy.cut() == 1
            with pytest.raises(ConnectionResetError):  # not an orderly end (b"")
                conn.recv(100)
        proxy.refuse(600)
        # The reset may come while connecting or at the first read, as the kernel schedules.
        with (
            pytest.raises(ConnectionResetError),
            socket.create_connection(address, timeout=30) as conn,
        ):
            conn.recv(100)
        proxy.heal()
        proxy.stall(600)
        with socket.create_connection(address, timeout=30) as conn:
            conn.sendall(b"held")
            assert b"held" not in b"".join(received)
            proxy.heal()
            assert conn.recv(100) == b"held"
        assert proxy.stats.connections == 2 and proxy.stats.refused == 1
        assert proxy.stats.cut == 1 and proxy.stats.stalls == 1
