"""Cold start of `lienthong run` to serving, for a unit with 100,000 documents.

The centre and one unit of node/data/tay_ninh.json are created and enrolled by
node/cli/demo.py's machinery (the centre keeps running). The unit is started as a
`lienthong run` process and timed from the spawn to its "running; peer API" line, once with
an empty store and once after a bulk generator has filled the store with DOCUMENTS incoming
documents (`record_incoming`, 2,000 per transaction: documents, envelopes, search index,
audit chain, events, as a received document writes them; the envelope bytes are a few
sealed templates reused, since nothing at start reads them). Each start is the best of
ROUNDS, after one start not counted, with bytecode cached as an installed wheel has it (pip
compiles it at install; the processes here write theirs under a temporary
PYTHONPYCACHEPREFIX even where PYTHONDONTWRITEBYTECODE is set, as on a developer's machine,
where every start would otherwise compile the changed sources). The unit's RSS once it
serves is read from /proc. Baseline, same run: a bare
aiohttp app started the same way (a new Python process that imports aiohttp, serves one
route on 127.0.0.1 and prints a line), its start time and RSS. Target: < 1 s with
100,000 documents.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import report, result
from bench._fleet import READY_LINE, proc_sample
from lienthong.crypto.keys import NodeKeys
from lienthong.node.cli.demo import Demo
from lienthong.node.unit.documents import _record
from lienthong.protocol.codes import Urgency
from lienthong.protocol.document import DocumentBody, DocumentMetadata, Organisation, Signer
from lienthong.protocol.envelope import seal_envelope, verify_envelope
from lienthong.protocol.ids import new_ulid
from lienthong.storage.db import Store
from lienthong.storage.documents import record_incoming
from tests.system.harness import free_port

DOCUMENTS = 100_000
QUICK_DOCUMENTS = 10_000
ROUNDS = 3
BATCH = 2_000
TEMPLATES = 16
TARGET_S = 1.0
START_TIMEOUT_S = 60.0
POLL_S = 0.005  # how often the log is read for the ready line: the figures' resolution
SENDER = "000.00.42.H53"
NOW = 1_764_000_000_000
BARE = """
import sys
from aiohttp import web

async def ok(request):
    return web.Response(text="ok")

async def main():
    app = web.Application()
    app.router.add_get("/", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
    print("running; peer API", flush=True)
    await asyncio.Event().wait()

import asyncio
asyncio.run(main())
"""


def _wait_line(process: subprocess.Popen, log: Path, start: int, t0: float) -> float:
    """Seconds from `t0` until `log` (from byte `start`) holds the ready line."""
    deadline = t0 + START_TIMEOUT_S
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"stopped at start (exit {process.returncode}); see {log}")
        with log.open("rb") as f:
            f.seek(start)
            if READY_LINE in f.read():
                return time.perf_counter() - t0
        time.sleep(POLL_S)
    raise SystemExit(f"not serving after {START_TIMEOUT_S:.0f} s; see {log}")


def start_unit(demo: Demo, code: str) -> tuple[float, float]:
    """(seconds from spawn to serving, RSS in MB once serving) of one start, then stopped."""
    t0 = time.perf_counter()
    demo.start(code)
    process = demo.processes[code]
    log = demo.root / "logs" / f"{demo.dir_of(code).name}.log"
    seconds = _wait_line(process, log, demo.log_start[code], t0)
    usage = proc_sample(process.pid)
    rss = usage.rss if usage else 0.0
    process.terminate()
    process.wait(timeout=30)
    return seconds, rss


def start_bare(tmp: Path) -> tuple[float, float]:
    log = tmp / "bare.log"
    with log.open("w", encoding="utf-8") as out:
        t0 = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", BARE, str(free_port())], stdout=out, stderr=subprocess.STDOUT
        )
        try:
            seconds = _wait_line(process, log, 0, t0)
            usage = proc_sample(process.pid)
            return seconds, usage.rss if usage else 0.0
        finally:
            process.terminate()
            process.wait(timeout=30)


def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The fastest start, and the highest RSS seen."""
    return min(s for s, _ in runs), max(r for _, r in runs)


async def fill(store_path: Path, me: str, documents: int) -> float:
    """Store `documents` incoming documents to `me`; returns the seconds it took."""
    keys = NodeKeys.generate()
    mine = NodeKeys.generate()
    rng = random.Random(7)
    templates = []
    for n in range(TEMPLATES):
        body = DocumentBody(
            DocumentMetadata(
                signer=Signer("Trương Văn Hùng", "Chánh Văn phòng"),
                number=f"{n + 10}",
                notation="SNV-VP",
                doc_type="cong_van",
                issuer=Organisation(name="Sở Nội vụ", code=SENDER),
                place="Tây Ninh",
                issued_on="2026-11-20",
                subject=f"V/v triển khai Kế hoạch chuyển đổi số năm 2026 (đợt {n})",
                urgency=Urgency(rng.choices((0, 1, 2, 3), (90, 6, 3, 1))[0]),
            )
        )
        raw = seal_envelope(
            keys=keys,
            sender=SENDER,
            serial=1,
            recipients={me: mine.enc_public},
            body=body,
            created=NOW,
        )
        templates.append((verify_envelope(raw, lambda c, s: keys.sign_public), body, raw))
    store = await Store.open(store_path)
    start = time.perf_counter()
    try:
        for first in range(0, documents, BATCH):
            async with store.write() as tx:
                for n in range(first, min(first + BATCH, documents)):
                    envelope, body, raw = templates[n % TEMPLATES]
                    at = NOW - (documents - n) * 30_000  # one every 30 s, newest last
                    record = _record(envelope, body, "in")
                    record = dataclasses.replace(record, id=new_ulid(at))
                    await record_incoming(tx, record, raw, at=at)
    finally:
        await store.close()
    return time.perf_counter() - start


async def run(documents: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # inherited by every process started
        os.environ["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        demo = Demo(root / "province", 1)
        try:
            await demo.prepare()
            code = demo.units[0].code
            start_bare(root)  # not counted: writes the bytecode cache
            start_unit(demo, code)
            bare = best([start_bare(root) for _ in range(ROUNDS)])
            empty = best([start_unit(demo, code) for _ in range(ROUNDS)])
            filling = await fill(demo.dir_of(code) / "store.sqlite3", code, documents)
            full = best([start_unit(demo, code) for _ in range(ROUNDS)])
            bare_again = best([start_bare(root) for _ in range(ROUNDS)])
        finally:
            demo.stop_all()
    bare = (min(bare[0], bare_again[0]), max(bare[1], bare_again[1]))
    return [
        result(
            f"cold_start_s_{documents}_documents",
            full[0],
            "s",
            baseline_name="bare_aiohttp_start_s",
            baseline=bare[0],
            target=f"< {TARGET_S}",
            met=full[0] < TARGET_S,
        ),
        result(
            "cold_start_s_empty_store",
            empty[0],
            "s",
            baseline_name="bare_aiohttp_start_s",
            baseline=bare[0],
            target="recorded",
            met=True,
        ),
        result(
            f"rss_mb_serving_{documents}_documents",
            full[1],
            "MB",
            baseline_name="bare_aiohttp_rss_mb",
            baseline=bare[1],
            target="recorded",
            met=True,
        ),
        result(
            "rss_mb_serving_empty_store",
            empty[1],
            "MB",
            baseline_name="bare_aiohttp_rss_mb",
            baseline=bare[1],
            target="recorded",
            met=True,
        ),
        result(
            "bulk_fill_documents_per_s",
            documents / filling,
            "1/s",
            target="recorded",
            met=True,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DOCUMENTS:,} documents")
    args = parser.parse_args()
    report("coldstart", asyncio.run(run(QUICK_DOCUMENTS if args.quick else DOCUMENTS)))


if __name__ == "__main__":
    main()
