"""Documents A -> B through real nodes: throughput with 01 receipts, and latency.

A runs in this process (as the clerk's page or the integration API would send),
B in its own `lienthong run` process; both stores are durable SQLite files and
every delivery is confirmed by B's signed 01 stored at A. Beside it, in the same
run: a bare aiohttp POST echo server in its own process over the same kind of
connection (mutual TLS with the same certificates), one 2 KB POST per request.
Targets: >= 1,000 documents/s and >= 40 % of the bare rate; single-document
latency p50 < 20 ms direct; latency via the relay recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench._bare import bare_server
from bench._common import report, result
from lienthong.node.runtime import Node
from lienthong.node.unit.documents import send_document
from lienthong.protocol.document import DocumentMetadata, Organisation, Signer
from lienthong.storage.outbox import delivery_state
from tests.system.harness import Federation

A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"
TARGET_RATE = 1000.0
TARGET_RATIO = 0.40
TARGET_P50_MS = 20.0
ECHO_SERVER = """
import ssl, sys
from aiohttp import web
from lienthong.crypto.x509 import server_context
ctx = server_context(*[__import__('pathlib').Path(p) for p in sys.argv[2:5]])
async def echo(request):
    return web.Response(body=await request.read())
app = web.Application()
app.router.add_post('/echo', echo)
print('running', flush=True)
web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), ssl_context=ctx, print=None,
            access_log=None)
"""


def metadata(ctx, n: int) -> DocumentMetadata:
    return DocumentMetadata(
        signer=Signer("Trương Văn Hùng", "Chánh Văn phòng"),
        number=f"{n:02d}",
        notation="VP-TTTH",
        doc_type="cong_van",
        issuer=Organisation(name=ctx.config.name, code=ctx.config.code),
        place="Tây Ninh",
        issued_on="2026-11-25",
        subject=f"V/v văn bản thử số {n} " + "x" * 300,
    )


async def wait_arrived(ctx, ids: list[str], recipient: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(ids)
    while pending:
        async with ctx.store.read() as conn:
            still = []
            for envelope_id in pending:
                state = await delivery_state(conn, envelope_id, recipient)
                if state.value not in ("arrived", "accepted"):
                    still.append(envelope_id)
        pending = still
        if pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} documents still not arrived")
            await asyncio.sleep(0.002 if len(pending) < 5 else 0.2)


async def echo_rate(fed: Federation, seconds: float) -> float:
    body = os.urandom(2048)
    server = (fed.nodes[A].data_dir, fed.nodes[B].data_dir, ECHO_SERVER)
    async with bare_server(*server) as (session, base):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            async with session.post(f"{base}/echo", data=body) as r:
                await r.read()
            count += 1
        return count / (time.perf_counter() - start)


async def run(documents: int, samples: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        fed = Federation(Path(tmp))
        try:
            for code, reachable in ((A, True), (B, True), (C, False)):
                fed.add_unit(code, f"Đơn vị {code}", reachable=reachable)
            fed.start(B, C)
            baseline = await echo_rate(fed, 5.0)
            # A runs once to learn B and C from the centre (it enrolled first).
            node = await Node.open(fed.nodes[A].data_dir)
            await node.start()
            while not all(node.ctx.directory.current.current(c) for c in (B, C)):
                await asyncio.sleep(0.1)
            await node.close()
            # Throughput: queue everything, then measure from the node's start to the
            # last 01 stored at A (sending cost is bench/store.py's and bench/codec.py's).
            node = await Node.open(fed.nodes[A].data_dir)
            ctx = node.ctx
            ids = [
                await send_document(ctx, metadata(ctx, n), [B], actor="bench")
                for n in range(1, documents + 1)
            ]
            start = time.perf_counter()
            await node.start()
            try:
                await wait_arrived(ctx, ids, B, timeout=600)
                rate = documents / (time.perf_counter() - start)
                latency = {}
                number = documents
                for code in (B, C):
                    times = []
                    for _ in range(samples):
                        number += 1
                        t0 = time.perf_counter()
                        envelope_id = await send_document(
                            ctx, metadata(ctx, number), [code], actor="bench"
                        )
                        await wait_arrived(ctx, [envelope_id], code, timeout=60)
                        times.append((time.perf_counter() - t0) * 1000)
                    times.sort()
                    latency[code] = (statistics.median(times), times[int(len(times) * 0.99) - 1])
            finally:
                await node.close()
        finally:
            fed.close()
    return [
        result(
            "documents_per_s",
            rate,
            "1/s",
            baseline_name="bare_aiohttp_mtls_post_per_s",
            baseline=baseline,
            target=f">= {TARGET_RATE:g} and ratio >= {TARGET_RATIO}",
            met=rate >= TARGET_RATE and rate / baseline >= TARGET_RATIO,
        ),
        result(
            "latency_direct_p50_ms",
            latency[B][0],
            "ms",
            target=f"< {TARGET_P50_MS:g}",
            met=latency[B][0] < TARGET_P50_MS,
        ),
        result("latency_direct_p99_ms", latency[B][1], "ms", target="(recorded)", met=True),
        result("latency_relay_p50_ms", latency[C][0], "ms", target="(recorded)", met=True),
        result("latency_relay_p99_ms", latency[C][1], "ms", target="(recorded)", met=True),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 documents, 20 samples")
    args = parser.parse_args()
    documents, samples = (2_000, 20) if args.quick else (10_000, 100)
    results = asyncio.run(run(documents, samples))
    report("delivery", results)


if __name__ == "__main__":
    main()
