"""One document from one unit to 26 units directly and to 500 units via the relay: time until
every recipient's 01 is back at the sender.

The sender runs in this process (as the clerk's page would send); the centre is a
`lienthong run` process. Province: 26 recipients, each a `lienthong run` process,
reachable, delivered to directly. Relay: 500 recipients configured unreachable,
each with its own data directory, keys, TLS identity and SQLite store, run as
lighter units, 250 to a worker process (`--worker`): per unit the node's own
relay pull loop (long-poll over mutual TLS to the centre process) and delivery
engine (which sends the 01 back to the sender directly), as `lienthong run`
runs them, without the peer API server, web page, discovery and directory
refresh a full node adds (500 processes do not fit 2 cores). All units are
created and enrolled in this process with the code the CLI runs (init, the
centre's add-unit and enrolment, the unit's request and certificate import),
the centre stopped meanwhile, so a federation of 500 is ready in about a minute.
Baseline, same run, same path: the time for one document to one of those recipients.
Target: < 30 s for 500; the province's time is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp

from bench._common import report, result
from lienthong.bootstrap.directory import DirectoryState
from lienthong.bootstrap.enrolment import import_certificate, write_request
from lienthong.node import config as cfg
from lienthong.node.centre.rules import open_centre
from lienthong.node.context import NodeContext
from lienthong.node.datadir import create_node, federation_saver, node_keys
from lienthong.node.runtime import Node, client_ssl_context, root_public_key
from lienthong.node.unit.delivery import DeliveryEngine
from lienthong.node.unit.documents import send_document
from lienthong.node.unit.relay_client import pull_loop, pull_once, relay_url
from lienthong.protocol.document import DocumentMetadata, Organisation, Signer
from lienthong.storage import outbox
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import Store, unix_ms
from tests.system.harness import Federation, NodeProcess, free_port

SENDER = "000.00.01.H53"
TARGET_RELAY_S = 30.0
UNITS_PER_WORKER = 250
WAIT_TIMEOUT = 300.0  # seconds for all 01s before the benchmark gives up
DIRECTORY_TIMEOUT = 60.0  # seconds for the sender to learn every recipient
WORKER_READY_TIMEOUT = 300.0
SETTLE_SECONDS = 3.0  # lets every light unit's long-poll reach the centre before the send


def province_code(i: int) -> str:
    return f"000.00.{10 + i:02d}.H53"


def relay_code(i: int) -> str:
    return f"001.{i // 100:02d}.{i % 100:02d}.H53"


async def provision(fed: Federation, units: list[tuple[str, bool]]) -> None:
    """Create and enrol (code, reachable) units in this process, centre stopped;
    each is added to `fed.nodes` (not started)."""
    async with open_centre(fed.centre_dir) as centre:
        for code, reachable in units:
            data_dir = fed.root / code
            port = free_port()  # an unreachable unit listens nowhere; its configuration names one
            create_node(
                data_dir,
                {
                    "unit": {"code": code, "name": f"Đơn vị {code}"},
                    "node": {
                        "listen": f"127.0.0.1:{port}",
                        "web": f"127.0.0.1:{free_port()}",
                        "reachable": reachable,
                    },
                },
            )
            config = cfg.load_config(data_dir)
            keys = node_keys(config)
            token = (await centre.add_unit(code, f"Đơn vị {code}", actor="bench")).token
            request = write_request(config.node_settings, keys, token, fed.root / f"{code}.request")
            issued = await centre.enrol(request, origin="bench")
            answer = fed.root / f"{code}.answer"
            answer.write_bytes(issued.bundle)
            await import_certificate(
                config.node_settings,
                keys,
                answer,
                fingerprint=centre.fingerprint,
                save_federation=federation_saver(config),
            )
            fed.nodes[code] = NodeProcess(code, data_dir, port, fed.root / f"{code}.log")


def metadata(ctx, n: int) -> DocumentMetadata:
    return DocumentMetadata(
        signer=Signer("Trương Văn Hùng", "Chánh Văn phòng"),
        number=f"{n:02d}",
        notation="UBND-VP",
        doc_type="cong_van",
        issuer=Organisation(name=ctx.config.name, code=ctx.config.code),
        place="Tây Ninh",
        issued_on="2026-11-25",
        subject=f"V/v triển khai văn bản số {n} đến các đơn vị",
    )


async def time_to_receipts(ctx, n: int, recipients: list[str]) -> float:
    """Seconds from the send (sealing included) to the last recipient's 01 stored here."""
    start = time.perf_counter()
    envelope_id = await send_document(ctx, metadata(ctx, n), recipients, actor="bench")
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        async with ctx.store.read() as conn:
            rows = await outbox.rows_for(conn, envelope_id)
        if all(r.state in ("arrived", "accepted") for r in rows):
            return time.perf_counter() - start
        if time.monotonic() > deadline:
            waiting = sum(r.state not in ("arrived", "accepted") for r in rows)
            raise TimeoutError(f"{waiting} of {len(rows)} recipients without a 01")
        await asyncio.sleep(0.02)


def start_workers(data_dirs: list[Path]) -> list[subprocess.Popen]:
    workers = []
    for i in range(0, len(data_dirs), UNITS_PER_WORKER):
        chunk = data_dirs[i : i + UNITS_PER_WORKER]
        workers.append(
            subprocess.Popen(
                [sys.executable, __file__, "--worker", *map(str, chunk)],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
        )
    return workers


async def wait_ready(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        line = await asyncio.wait_for(
            asyncio.to_thread(worker.stdout.readline), WORKER_READY_TIMEOUT
        )
        if not line.startswith("ready"):
            raise RuntimeError(f"a worker did not start: {line!r}")


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


async def run(province: int, relayed: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        fed = Federation(Path(tmp))
        workers: list[subprocess.Popen] = []
        try:
            fed.nodes["centre"].stop()
            p_codes = [province_code(i) for i in range(province)]
            r_codes = [relay_code(i) for i in range(relayed)]
            units = [(SENDER, True)] + [(c, True) for c in p_codes] + [(c, False) for c in r_codes]
            setup = time.perf_counter()
            await provision(fed, units)
            setup = time.perf_counter() - setup
            fed.start("centre", *p_codes)
            node = await Node.open(fed.nodes[SENDER].data_dir)
            await node.start()
            try:
                ctx = node.ctx
                deadline = time.monotonic() + DIRECTORY_TIMEOUT
                while not all(ctx.directory.current.current(c) for c in p_codes + r_codes):
                    if time.monotonic() > deadline:
                        raise TimeoutError("the sender did not get the centre's directory")
                    await asyncio.sleep(0.1)
                one_direct_s = await time_to_receipts(ctx, 1, p_codes[:1])
                province_s = await time_to_receipts(ctx, 2, p_codes)
                for code in p_codes:  # the relay figure gets the machine to itself
                    fed.nodes[code].stop()
                workers = start_workers([fed.root / c for c in r_codes])
                await wait_ready(workers)
                await asyncio.sleep(SETTLE_SECONDS)
                one_relay_s = await time_to_receipts(ctx, 3, r_codes[:1])
                relay_s = await time_to_receipts(ctx, 4, r_codes)
            finally:
                await node.close()
        finally:
            stop_workers(workers)
            fed.close()
    return [
        result(
            f"province_{province}_units_direct_s",
            province_s,
            "s",
            baseline_name="one_recipient_direct_s",
            baseline=one_direct_s,
            target="(recorded)",
            met=True,
        ),
        result(
            f"relay_{relayed}_units_s",
            relay_s,
            "s",
            baseline_name="one_recipient_via_relay_s",
            baseline=one_relay_s,
            target=f"< {TARGET_RELAY_S:g}",
            met=relay_s < TARGET_RELAY_S,
        ),
        result(
            f"setup_{1 + province + relayed}_units_s", setup, "s", target="(recorded)", met=True
        ),
    ]


# -- worker: light units ---------------------------------------------------------------------


async def open_light(data_dir: Path) -> NodeContext:
    """A unit's context as node.runtime.open_context builds it, with one reader connection."""
    config = cfg.load_config(data_dir)
    store = await Store.open(
        config.store_path, synchronous=config.get("store", "synchronous"), readers=1
    )
    directory = await DirectoryState.load(store, root_public_key(config), unix_ms)
    return NodeContext(
        config=config,
        keys=node_keys(config),
        store=store,
        blobs=BlobStore(config.blob_dir),
        directory=directory,
        clock=unix_ms,
    )


async def worker(data_dirs: list[Path]) -> None:
    """Run light units until SIGTERM: pull loop and delivery engine each."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    units = []
    try:
        for data_dir in data_dirs:
            ctx = await open_light(data_dir)
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=client_ssl_context(ctx.config))
            )
            units.append((ctx, session, DeliveryEngine(ctx, session)))
        # One pull each first: every unit's TLS connection to the relay is up.
        gate = asyncio.Semaphore(32)

        async def first_pull(ctx, session) -> None:
            async with gate:
                await pull_once(ctx, session, relay_url(ctx), wait=0)

        await asyncio.gather(*(first_pull(ctx, session) for ctx, session, _ in units))
        tasks = []
        for ctx, session, engine in units:
            tasks.append(asyncio.create_task(engine.run(stop)))
            tasks.append(asyncio.create_task(pull_loop(ctx, session, stop)))
        print("ready", flush=True)
        await stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for ctx, session, _ in units:
            await session.close()
            await ctx.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 units direct, 60 via the relay")
    parser.add_argument("--worker", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker(args.worker))
        return
    province, relayed = (5, 60) if args.quick else (26, 500)
    results = asyncio.run(run(province, relayed))
    report("fanout", results)


if __name__ == "__main__":
    main()
