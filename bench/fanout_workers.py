"""One document to 5,000 units via the relay of a centre on PostgreSQL, every 01 back: one
centre worker against three in the same run, and three with one killed (SIGKILL) midway.

Targets (issue 18): the ratio of the time with three workers to the time with one is
recorded; with a worker killed midway every 01 still reaches the sender, none twice.

- PostgreSQL is Debian's, started here (tests/pg.py) with fsync on and synchronous_commit
  off, as bench/relay_pg.py runs it.
- The centre is made by `lienthong centre init --database URL`; its data directory is
  copied for each worker with `blobs/` shared (as tests/system/test_centre_workers.py does);
  each worker is a `lienthong run` process on its own port. Its peer listener's caps are
  raised for the run ([limits]: 5,000 connections from one address, the sender's 5,000
  deposits in a minute, peer and relay limits alike): the shipped defaults are a
  province's.
- The sending unit is a `lienthong run` process, unreachable (it collects its 01s from the
  relay), whose relay URL (the directory's) is a small TCP round-robin balancer started in
  this process: each connection goes to the next live worker in turn, to the one after if
  it refuses. The document is queued by this process in the sender's store, as the CLI
  does; the node's delivery engine deposits it at the relay for each recipient. An
  envelope names at most MAX_RECIPIENTS (1,024) units (protocol/limits.py), so the one
  document goes as ceil(N / PER_ENVELOPE) envelopes, PER_ENVELOPE recipients each.
- The recipients are light clients, CLIENT_PROCESSES processes of N / CLIENT_PROCESSES
  units. Each unit has its own identity and encryption keys and its own TLS leaf,
  certified by the centre's own issuer (node/centre/issuer.py certify: the X.509 leaf and
  the node certificate) in one transaction, then one directory is signed listing them
  all (enrolling 5,000 units one by one re-signs the directory each time). Each unit is
  given one worker URL in turn (unit i: worker i mod k), goes to the next worker when its
  worker refuses or drops the connection, and long-polls it over mutual TLS with its own
  leaf (GET /v1/relay/pull?wait=25). For each envelope pulled it verifies the sender's
  signature against the signed directory, opens the body with its own key, signs a 01
  (receipt: SHA-256 of the envelope bytes), deposits it at the relay for the sender
  (POST /v1/relay/deposit) and then acknowledges the envelope (POST /v1/relay/ack). An
  envelope offered again (its worker died before the ack) gets the same 01 again.
- A figure runs from the first envelope queued to the last recipient's 01 stored at the
  sender (its delivery rows all `arrived`, read from its store). Then the sender's store
  is counted: one 01 per recipient and envelope, no more.

Run: python bench/fanout_workers.py [--quick] [--units N]. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import report, result

UNITS = 5_000
QUICK_UNITS = 300
PER_ENVELOPE = 1_000  # recipients per envelope: under the protocol's MAX_RECIPIENTS (1,024)
CLIENT_PROCESSES = 4  # the light clients' TLS and verification work over processes (2 cores)
WORKERS = 3
SENDER = "000.00.01.H53"
PULL_WAIT = 25  # seconds, the relay's MAX_PULL_WAIT
# Per client process, while connecting: each first pull is two writes under the centre's
# one write lock on PostgreSQL; 4 x 64 at once made some wait past its 10 s lock timeout.
FIRST_PULLS_AT_ONCE = 16
RETRY_SECONDS = 1.0  # a light unit's pause before trying the next worker
RUN_TIMEOUT = 900.0  # seconds for every 01 of one configuration before the bench gives up
READY_TIMEOUT = 600.0  # seconds for the light clients' first pulls
DRAIN_TIMEOUT = 120.0  # seconds for the relay's mailboxes to empty after the last 01
# Before each send: the long-polls of the previous configuration's light clients, cut when
# their processes stopped, end at the workers first (PULL_WAIT, and a margin). Until then a
# worker may wake such a pull: it takes the item for a client that is gone and hides it
# for REOFFER_SECONDS, which would add 30 s to a figure for a reason outside the fan-out.
SETTLE_SECONDS = PULL_WAIT + 5
BALANCER_BACKLOG = 4096
# The workers' peer listener, raised from a province's defaults for this run.
WORKER_LIMITS = {
    "max_connections": 16_000,  # under the open-file limit (20,000 here)
    "max_connections_per_address": 16_000,  # every light client comes from 127.0.0.1
    "max_handshakes": 4_096,
    "max_handshakes_per_address": 4_096,
    "peer_per_minute": 100_000,  # the sender deposits once per recipient
    "peer_burst": 10_000,
    # Counted per worker process: at the default 600 the sender's deposits were answered
    # 429 and backed off, and three workers allowed three times one worker's rate.
    "relay_per_minute": 100_000,
    "relay_burst": 10_000,
}


def unit_code(i: int) -> str:
    return f"002.{i // 100:02d}.{i % 100:02d}.H53"


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text("ascii").split()[:3])


# -- the balancer ----------------------------------------------------------------------------


class Balancer:
    """TCP round robin on 127.0.0.1 over the live workers; bytes passed through as they are
    (mutual TLS ends at the worker)."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = list(backends)
        self.turn = 0
        self.served: Counter[int] = Counter()
        self.server: asyncio.Server | None = None

    async def start(self, port: int) -> None:
        self.server = await asyncio.start_server(
            self._link, "127.0.0.1", port, backlog=BALANCER_BACKLOG
        )

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first, self.turn = self.turn, self.turn + 1
        backends = list(self.backends)
        for i in range(len(backends)):
            port = backends[(first + i) % len(backends)]
            try:
                back_reader, back_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            self.served[port] += 1
            await asyncio.gather(_pump(reader, back_writer), _pump(back_reader, writer))
            return
        writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)


async def _pump(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            target.write(data)
            await target.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError):
            target.close()


# -- setup -----------------------------------------------------------------------------------


def worker_dirs(root: Path, first: Path, count: int) -> list[tuple[Path, int]]:
    """The centre's data directory copied for each worker (blobs/ shared), each with its own
    ports and the raised limits; (data dir, peer port) each."""
    from lienthong.node import config as cfg
    from lienthong.node.datadir import config_saver
    from tests.system.harness import free_port

    shared = root / "blobs"
    shared.mkdir()
    out = []
    for n in range(1, count + 1):
        data_dir = root / f"worker-{n}"
        if n > 1:
            shutil.copytree(first, data_dir, symlinks=True)
        if not (data_dir / "blobs").is_symlink():
            shutil.rmtree(data_dir / "blobs", ignore_errors=True)
            (data_dir / "blobs").symlink_to(shared)
        port = free_port()
        config = cfg.load_config(data_dir)
        values = {section: dict(keys) for section, keys in config.values.items()}
        values.setdefault("node", {})["listen"] = f"127.0.0.1:{port}"
        values["node"]["web"] = f"127.0.0.1:{free_port()}"
        values.setdefault("limits", {}).update(WORKER_LIMITS)
        config_saver(config)(values)
        out.append((data_dir, port))
    return out


async def certify_units(centre, tmp: Path, n: int) -> list[dict]:
    """N units registered and certified by the centre's issuer in one transaction, their
    keys and TLS leaves written under tmp/units; one directory signed listing them."""
    from lienthong.bootstrap.answer import raw_public
    from lienthong.crypto import x509 as tls
    from lienthong.crypto.keys import NodeKeys
    from lienthong.node.centre.rules import DEPLOYMENT_STATES
    from lienthong.storage import centre as db

    folder = tmp / "units"
    folder.mkdir()
    units = []
    async with centre.store.write() as tx:
        now = centre.clock()
        for i in range(n):
            code = unit_code(i)
            sign_seed, enc_seed = os.urandom(32), os.urandom(32)
            keys = NodeKeys.from_seeds(sign_seed, enc_seed)
            tls_key = tls.generate_tls_key(centre.issuer.tls_algorithm)
            await db.put_unit(tx, code, f"Đơn vị {code}", DEPLOYMENT_STATES[0], "pending", now)
            unit = await db.get_unit(tx, code)
            cert = await centre.issuer.certify(
                tx, unit, keys.sign_public, keys.enc_public, raw_public(tls_key.public_key()),
                endpoints=(), reachable=False, via="enrolment",
            )  # fmt: skip
            await db.mark_enrolled(tx, code, now, approved=False)
            (folder / f"{i}.crt").write_bytes(cert.tls_pem)
            (folder / f"{i}.key").write_bytes(tls.key_to_pem(tls_key))
            seeds = {"sign": sign_seed.hex(), "enc": enc_seed.hex()}
            units.append({"code": code, "serial": cert.serial, **seeds})
        directory = await centre.issuer.sign_directory(tx)
    centre.publish(directory)
    return units


async def enrol_sender(centre, root: Path) -> Path:
    """The sending unit, made and enrolled with the code the CLI runs (fanout.py's way)."""
    from lienthong.bootstrap.enrolment import import_certificate, write_request
    from lienthong.node import config as cfg
    from lienthong.node.datadir import create_node, federation_saver, node_keys
    from tests.system.harness import free_port

    data_dir = root / "sender"
    create_node(
        data_dir,
        {
            "unit": {"code": SENDER, "name": "Văn phòng UBND tỉnh"},
            "node": {
                "listen": f"127.0.0.1:{free_port()}",
                "web": f"127.0.0.1:{free_port()}",
                "reachable": False,
            },
        },
    )
    config = cfg.load_config(data_dir)
    keys = node_keys(config)
    token = (await centre.add_unit(SENDER, "Văn phòng UBND tỉnh", actor="bench")).token
    request = write_request(config.node_settings, keys, token, root / "sender.request")
    issued = await centre.enrol(request, origin="bench")
    answer = root / "sender.answer"
    answer.write_bytes(issued.bundle)
    await import_certificate(
        config.node_settings,
        keys,
        answer,
        fingerprint=centre.fingerprint,
        save_federation=federation_saver(config),
    )
    return data_dir


# -- the light clients -----------------------------------------------------------------------


async def clients(tmp: Path, first: int, last: int, ports: list[int]) -> None:
    """Units first..last pull, open, answer 01 and acknowledge until stdin closes."""
    import aiohttp

    from lienthong.crypto import x509 as tls
    from lienthong.crypto.keys import NodeKeys
    from lienthong.protocol.codes import StatusCode
    from lienthong.protocol.directory import verify_directory
    from lienthong.protocol.envelope import open_envelope, verify_envelope
    from lienthong.protocol.ids import new_ulid
    from lienthong.protocol.peer import CONTENT_TYPE
    from lienthong.protocol.relay import (
        decode_deposit_answer,
        decode_pull_answer,
        encode_ack,
        encode_deposit,
    )
    from lienthong.protocol.status import Status, sign_status

    raise_nofile()
    units = json.loads((tmp / "units.json").read_text("utf-8"))
    directory = verify_directory(
        (tmp / "directory").read_bytes(), (tmp / "root.pub").read_bytes(), now=now_ms()
    )
    ca = tmp / "ca.crt"
    stats: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    times: dict[str, int] = {}  # wall clock of the first and last envelope opened here
    stop = asyncio.Event()
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=PULL_WAIT + 60, connect=10),
    )
    network = (aiohttp.ClientError, OSError, TimeoutError)

    class Unit:
        def __init__(self, i: int) -> None:
            entry = units[i]
            self.i = i
            self.code = entry["code"]
            self.serial = entry["serial"]
            seeds = bytes.fromhex(entry["sign"]), bytes.fromhex(entry["enc"])
            self.keys = NodeKeys.from_seeds(*seeds)
            folder = tmp / "units"
            self.ssl = tls.client_context(folder / f"{i}.crt", folder / f"{i}.key", ca)
            self.worker = i % len(ports)
            self.answered: dict[str, bytes] = {}  # envelope id -> the 01 sent for it

        def url(self, path: str) -> str:
            return f"https://127.0.0.1:{ports[self.worker % len(ports)]}/v1/relay/{path}"

        async def post(self, path: str, body: bytes) -> bytes:
            headers = {"Content-Type": CONTENT_TYPE}
            async with session.post(self.url(path), data=body, headers=headers, ssl=self.ssl) as r:
                data = await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{path}: HTTP {r.status}: {data[:200]!r}")
                return data

        async def pull(self, wait: int) -> None:
            url = self.url(f"pull?wait={wait}")
            async with session.get(url, ssl=self.ssl) as r:
                data = await r.read()
                if r.status != 200:
                    raise RuntimeError(f"pull: HTTP {r.status}: {data[:200]!r}")
            done: list[str] = []
            answers: dict[str, list[bytes]] = {}
            for item in decode_pull_answer(data):
                done.append(item.id)
                if item.kind != "envelope":
                    stats[f"pulled_{item.kind}"] += 1
                    continue
                verified = verify_envelope(item.raw, directory.signing_key)
                header = verified.header
                status = self.answered.get(header.id)
                if status is None:
                    open_envelope(verified, self.code, self.keys)
                    at = now_ms()
                    status = sign_status(
                        self.keys,
                        Status(
                            id=new_ulid(at), envelope=header.id, sender=self.code,
                            serial=self.serial, to=header.sender, code=StatusCode.ARRIVED,
                            at=at, receipt=verified.sha256,
                        ),
                    )  # fmt: skip
                    self.answered[header.id] = status
                    stats["opened"] += 1
                    times["first_opened_ms"] = min(times.get("first_opened_ms", at), at)
                    times["last_opened_ms"] = max(times.get("last_opened_ms", at), at)
                else:
                    stats["offered_again"] += 1
                answers.setdefault(header.sender, []).append(status)
            for to, statuses in answers.items():
                answer = decode_deposit_answer(
                    await self.post("deposit", encode_deposit(to, [], statuses)),
                    items=len(statuses),
                )
                if not all(answer.accepted):
                    raise RuntimeError(f"01 refused by the relay: {answer.errors}")
                stats["deposited"] += len(statuses)
            if done:
                await self.post("ack", encode_ack(done))

        async def run(self) -> None:
            while not stop.is_set():
                try:
                    await self.pull(PULL_WAIT)
                except network as exc:
                    errors[type(exc).__name__] += 1
                    self.worker += 1  # the next worker in turn
                    stats["switched"] += 1
                    await asyncio.sleep(RETRY_SECONDS)
                except Exception as exc:
                    errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                    await asyncio.sleep(RETRY_SECONDS)

    mine = [Unit(i) for i in range(first, last + 1)]
    gate = asyncio.Semaphore(FIRST_PULLS_AT_ONCE)

    async def first_pull(unit: Unit) -> None:
        async with gate:
            while True:
                try:
                    return await unit.pull(0)
                except network as exc:
                    errors[f"first: {type(exc).__name__}"] += 1
                    await asyncio.sleep(RETRY_SECONDS)
                except Exception as exc:
                    errors[f"first: {type(exc).__name__}: {str(exc)[:120]}"] += 1
                    await asyncio.sleep(RETRY_SECONDS)

    await asyncio.gather(*(first_pull(u) for u in mine))
    tasks = [asyncio.create_task(u.run()) for u in mine]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await session.close()
    print(json.dumps({"stats": stats, "errors": errors, "times": times}), flush=True)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def start_clients(tmp: Path, n: int, ports: list[int]) -> list[subprocess.Popen]:
    share = -(-n // CLIENT_PROCESSES)
    out = []
    for first in range(0, n, share):
        last = min(n, first + share) - 1
        argv = [sys.executable, __file__, "--clients", str(tmp), str(first), str(last)]
        out.append(
            subprocess.Popen(
                [*argv, ",".join(map(str, ports))],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
        )
    return out


async def wait_clients_ready(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), READY_TIMEOUT)
        if not line.startswith("ready"):
            raise RuntimeError(f"a light-client process did not start: {line!r}")


def stop_clients(procs: list[subprocess.Popen]) -> dict:
    """Close their stdin; their summed counters."""
    total: dict[str, Counter] = {"stats": Counter(), "errors": Counter()}
    first, last = [], []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=60)  # closes its stdin: the process stops
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        for line in out.splitlines():
            if line.startswith("{"):
                got = json.loads(line)
                total["stats"].update(got["stats"])
                total["errors"].update(got["errors"])
                first += [got["times"]["first_opened_ms"]] if got["times"] else []
                last += [got["times"]["last_opened_ms"]] if got["times"] else []
    summed = {k: dict(v) for k, v in total.items()}
    summed["opened_ms"] = [min(first, default=0), max(last, default=0)]
    return summed


# -- the run ---------------------------------------------------------------------------------


def metadata(ctx, n: int):
    from lienthong.protocol.document import DocumentMetadata, Organisation, Signer

    return DocumentMetadata(
        signer=Signer("Trương Văn Hùng", "Chánh Văn phòng"),
        number=f"{n:02d}",
        notation="UBND-VP",
        doc_type="cong_van",
        issuer=Organisation(name=ctx.config.name, code=ctx.config.code),
        place="Tây Ninh",
        issued_on="2026-12-04",
        subject=f"V/v triển khai văn bản số {n} đến các đơn vị toàn quốc",
    )


class Run:
    """The federation of one bench run: PostgreSQL, workers, balancer, sender, light units."""

    def __init__(self, root: Path, n: int) -> None:
        self.root = root
        self.n = n
        self.workers: list = []  # NodeProcess per worker
        self.balancer: Balancer | None = None
        self.sender = None
        self.pg = None
        self.database = ""

    async def prepare(self) -> float:
        from lienthong.node.centre.rules import open_centre
        from tests.pg import PgServer
        from tests.system.harness import NodeProcess, free_port, lienthong_json

        start = time.perf_counter()
        # A directory of its own: as root the server runs as `postgres`, which must reach it.
        self.pg = PgServer(Path(tempfile.mkdtemp(prefix="bench-fanout-pg-")))
        self.pg.init()
        with (self.pg.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("fsync = on\nfull_page_writes = on\nsynchronous_commit = off\n")
        self.pg.start()
        url = self.pg.new_database()
        self.database = url.rsplit("/", 1)[1]
        lb_port = free_port()
        first = self.root / "worker-1"
        lienthong_json(
            "centre", "init", "--data-dir", str(first), "--name", "Trung tâm dữ liệu quốc gia",
            "--listen", f"127.0.0.1:{free_port()}", "--public-url", f"https://127.0.0.1:{lb_port}",
            "--database", url,
        )  # fmt: skip
        async with open_centre(first) as centre:
            units = await certify_units(centre, self.root, self.n)
            sender_dir = await enrol_sender(centre, self.root)
            _, raw = await centre.latest_directory()
            (self.root / "directory").write_bytes(raw)
            (self.root / "root.pub").write_bytes(centre.root.sign_public)
            (self.root / "ca.crt").write_bytes(centre.ca_pem)
        (self.root / "units.json").write_text(json.dumps(units), "utf-8")
        for n, (data_dir, port) in enumerate(worker_dirs(self.root, first, WORKERS), 1):
            log = self.root / f"worker-{n}.log"
            self.workers.append(NodeProcess(f"worker-{n}", data_dir, port, log))
        self.balancer = Balancer([self.workers[0].port])
        await self.balancer.start(lb_port)
        await asyncio.to_thread(self.workers[0].start)
        self.sender = NodeProcess("sender", sender_dir, 0, self.root / "sender.log")
        await asyncio.to_thread(self.sender.start)
        return time.perf_counter() - start

    async def use_workers(self, count: int) -> None:
        for worker in self.workers[:count]:
            if worker.process is None or worker.process.poll() is not None:
                await asyncio.to_thread(worker.start)
        self.balancer.backends = [w.port for w in self.workers[:count]]

    async def fan_out(self, ctx, number: int, count: int, kill: bool) -> dict:
        """One document to every light unit through `count` workers: seconds to the last 01
        at the sender, and the counts that say nothing was lost or doubled."""
        from lienthong.node.unit.documents import send_document
        from lienthong.storage import outbox
        from lienthong.storage.statuses import statuses_of

        await self.use_workers(count)
        procs = start_clients(self.root, self.n, [w.port for w in self.workers[:count]])
        try:
            await wait_clients_ready(procs)
            await asyncio.sleep(SETTLE_SECONDS)  # not an assertion: the long-polls settle
            codes = [unit_code(i) for i in range(self.n)]
            load = load_average()
            cpu_before = self.cpu_seconds()
            sent_ms = now_ms()
            start = time.perf_counter()
            sent = []
            for k, at in enumerate(range(0, self.n, PER_ENVELOPE)):
                chunk = codes[at : at + PER_ENVELOPE]
                # Each envelope is a send of its own: it takes a number of its own in the
                # sender's outgoing register.
                meta = metadata(ctx, number * 100 + k + 1)
                sent.append(await send_document(ctx, meta, chunk, actor="bench"))
            queued_s = time.perf_counter() - start
            killed = None
            deadline = time.monotonic() + RUN_TIMEOUT
            while True:
                arrived = 0
                async with ctx.store.read() as conn:
                    for envelope_id in sent:
                        rows = await outbox.rows_for(conn, envelope_id)
                        arrived += sum(r.state in ("arrived", "accepted") for r in rows)
                if kill and killed is None and arrived >= self.n // 2:
                    victim = self.workers[1]
                    victim.process.send_signal(signal.SIGKILL)
                    victim.process.wait(timeout=30)
                    killed = {"at_s": round(time.perf_counter() - start, 2), "arrived": arrived}
                    self.balancer.backends = [w.port for w in self.workers[:count] if w != victim]
                if arrived == self.n:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.n - arrived} of {self.n} without a 01")
                await asyncio.sleep(0.5)
            elapsed = time.perf_counter() - start
            cpu_after = self.cpu_seconds()
            cpu = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in cpu_after.items()}
            receipts = Counter()
            async with ctx.store.read() as conn:
                for envelope_id in sent:
                    for event in await statuses_of(conn, envelope_id):
                        if event.direction == "in" and event.code == 1:
                            receipts[(envelope_id, event.from_code)] += 1
            drain_start = time.monotonic()
            left = -1
            while time.monotonic() - drain_start < DRAIN_TIMEOUT:
                left = int(self.pg.sql("SELECT count(*) FROM relay_mailbox", self.database))
                if left == 0:
                    break
                await asyncio.sleep(1)
        finally:
            counters = stop_clients(procs)
        first, last = counters.pop("opened_ms")
        return {
            # From the send to the first and the last envelope opened by a light unit.
            "first_opened_s": (first - sent_ms) / 1000,
            "last_opened_s": (last - sent_ms) / 1000,
            "workers": count,
            "killed": killed,
            "seconds": elapsed,
            "queued_s": queued_s,
            "envelopes": len(sent),
            "receipts_stored": sum(receipts.values()),
            "recipients_with_a_receipt": len(receipts),
            "receipts_twice": sum(1 for v in receipts.values() if v > 1),
            "relay_items_left": left,
            "load_average_at_send": load,
            "cpu_s": cpu,
            "clients": counters,
        }

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far of each live worker, the sender and this process (the
        balancer), from /proc."""
        from bench._fleet import proc_sample

        out = {"bench_and_balancer": time.process_time()}
        for node in [*self.workers, self.sender]:
            if node.process is not None and (got := proc_sample(node.process.pid)):
                out[node.name] = got.cpu
        return out

    async def close(self) -> None:
        if self.sender is not None:
            await asyncio.to_thread(self.sender.stop)
        for worker in self.workers:
            await asyncio.to_thread(worker.stop)
        if self.balancer is not None:
            await self.balancer.close()
        if self.pg is not None:
            self.pg.stop("fast")
            shutil.rmtree(self.pg.root, ignore_errors=True)


async def main_async(n: int, keep: bool) -> tuple[list[dict], list[dict]]:
    from lienthong.node.runtime import context

    raise_nofile()
    tmp = Path(tempfile.mkdtemp(prefix="bench-fanout-workers-"))
    run = Run(tmp, n)
    runs = []
    try:
        prepare_s = await run.prepare()
        print(f"prepared {n} units in {prepare_s:.1f} s; load {load_average()}", file=sys.stderr)
        async with context(run.sender.data_dir) as ctx:
            for number, (count, kill) in enumerate(((1, False), (WORKERS, False), (WORKERS, True))):
                got = await run.fan_out(ctx, number + 1, count, kill)
                got["served_by_balancer"] = dict(run.balancer.served)
                runs.append(got)
                print(json.dumps(got, default=str), file=sys.stderr)
    finally:
        await run.close()
        if keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    one, three, killed = runs
    complete = [r["receipts_stored"] == n and r["recipients_with_a_receipt"] == n for r in runs]
    results = [
        result(
            f"fanout_{n}_units_3_workers_s", three["seconds"], "s",
            baseline_name=f"fanout_{n}_units_1_worker_s", baseline=one["seconds"],
            target="(ratio recorded)", met=complete[0] and complete[1],
        ),
        result(
            f"fanout_{n}_units_3_workers_one_killed_s", killed["seconds"], "s",
            baseline_name=f"fanout_{n}_units_3_workers_s", baseline=three["seconds"],
            target=f"all {n} 01s stored at the sender, none twice",
            met=complete[2] and killed["receipts_twice"] == 0,
        ),
        result(
            "receipts_stored_after_kill", killed["receipts_stored"], "01s",
            target=f"{n}", met=killed["receipts_stored"] == n,
        ),
        result(
            "relay_items_left_after_kill", killed["relay_items_left"], "items",
            target="0", met=killed["relay_items_left"] == 0,
        ),
        result("prepare_s", prepare_s, "s", target="(recorded)", met=True),
    ]  # fmt: skip
    return results, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_UNITS} units")
    parser.add_argument("--units", type=int, help=f"recipients (default {UNITS})")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--clients", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients:
        tmp, first, last, ports = args.clients
        ports = [int(p) for p in ports.split(",")]
        asyncio.run(clients(Path(tmp), int(first), int(last), ports))
        return
    n = args.units or (QUICK_UNITS if args.quick else UNITS)
    results, runs = asyncio.run(main_async(n, args.keep))
    print(json.dumps({"runs": runs, "load_average": load_average()}, default=str), file=sys.stderr)
    report("fanout_workers", results)


if __name__ == "__main__":
    main()
