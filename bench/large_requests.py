"""Parallel large inbox requests from one unit: how much memory the receiving node takes.

The centre, A and B are `lienthong run` processes (tests/system/harness.py); the
benchmark posts PARALLEL inbox requests of about 63 MiB each at once to B with A's
certificate, as a hostile enrolled unit would (docs/SECURITY.md, "large requests"). Each
body holds 63 items of 1,000,000 bytes that are no envelope, so B refuses each item and
answers 200, or refuses the request (429 TooManyLargeRequests). Figures: B's peak RSS
(VmHWM, reset through /proc/PID/clear_refs just before), B's RSS once every answer is in
and a few seconds have passed ("kept"), and the answers by status. Baseline: B's RSS
before the requests. Target: peak and kept RSS of B under 600 MB and 300 MB: with
MAX_LARGE_BODIES_PER_PEER = 2 the node decodes two such bodies at a time, as they arrive.

    python bench/large_requests.py [--quick] [--parallel N]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lienthong.node.config import load_config
from lienthong.node.runtime import client_ssl_context
from lienthong.protocol.wire import pack
from tests.system.harness import Federation

A, B = "000.00.02.H53", "000.00.03.H53"
ITEM = b"\x00" * 1_000_000  # under MAX_ITEM_BYTES; no envelope, so refused alone
ITEMS = 63  # 63 MB: under MAX_INBOX_BYTES (64 MiB), like the probe's requests
SETTLE_SECONDS = 5.0  # after the last answer, before "kept" is read
SAMPLE_SECONDS = 0.05


def status_kb(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text("utf-8").splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise KeyError(name)


def reset_peak(pid: int) -> None:
    """Reset the process's VmHWM to its current RSS (proc(5), clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5", encoding="ascii")


def mb(kb: int) -> float:
    return round(kb / 1024, 1)


async def flood(base: str, context, parallel: int) -> tuple[collections.Counter, float]:
    body = pack({"envelopes": [ITEM] * ITEMS, "statuses": []})
    timeout = aiohttp.ClientTimeout(total=600)
    connector = aiohttp.TCPConnector(ssl=context, limit=0)
    answers: collections.Counter = collections.Counter()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> None:
            async with session.post(
                f"{base}/v1/inbox",
                data=body,
                headers={"Content-Type": "application/x-lienthong"},
            ) as response:
                await response.read()
                answers[response.status] += 1

        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(parallel)))
    return answers, time.monotonic() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="4 requests instead of 16")
    parser.add_argument("--parallel", type=int, default=None)
    args = parser.parse_args()
    parallel = args.parallel or (4 if args.quick else 16)
    with tempfile.TemporaryDirectory(prefix="lienthong-bench-") as tmp:
        fed = Federation(Path(tmp))
        try:
            fed.add_unit(A, "VP UBND tỉnh")
            b = fed.add_unit(B, "Sở Thông tin và Truyền thông")
            fed.start()
            base = f"https://127.0.0.1:{b.port}"
            context = client_ssl_context(load_config(fed.nodes[A].data_dir))
            pid = b.process.pid
            await asyncio.sleep(2.0)  # its first directory refresh and relay pull
            idle = status_kb(pid, "VmRSS")
            reset_peak(pid)
            peak = 0
            done = asyncio.Event()

            async def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, status_kb(pid, "VmRSS"))
                    await asyncio.sleep(SAMPLE_SECONDS)

            sampler = asyncio.create_task(sample())
            answers, took = await flood(base, context, parallel)
            done.set()
            await sampler
            hwm = max(peak, status_kb(pid, "VmHWM"))
            await asyncio.sleep(SETTLE_SECONDS)
            kept = status_kb(pid, "VmRSS")
        finally:
            fed.close()
    results = [
        {
            "name": "peak_rss_b_mb",
            "value": mb(hwm),
            "unit": "MB",
            "baseline_name": "idle_rss_b_mb",
            "baseline": mb(idle),
            "ratio": round(hwm / idle, 2),
            "target": "< 600",
            "met": mb(hwm) < 600,
        },
        {
            "name": "kept_rss_b_mb",
            "value": mb(kept),
            "unit": "MB",
            "baseline_name": "idle_rss_b_mb",
            "baseline": mb(idle),
            "ratio": round(kept / idle, 2),
            "target": "< 300",
            "met": mb(kept) < 300,
        },
        {
            "name": "answers",
            "value": {str(k): v for k, v in sorted(answers.items())},
            "unit": "requests by HTTP status",
            "baseline_name": None,
            "baseline": None,
            "ratio": None,
            "target": f"{parallel} answered, none 5xx",
            "met": sum(answers.values()) == parallel and all(k < 500 for k in answers),
        },
        {
            "name": "seconds",
            "value": round(took, 1),
            "unit": "s",
            "baseline_name": None,
            "baseline": None,
            "ratio": None,
            "target": None,
            "met": None,
        },
    ]
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    print(
        json.dumps(
            {
                "bench": "large_requests",
                "machine": machine,
                "date": datetime.now(UTC).date().isoformat(),
                "parallel": parallel,
                "request_mb": round(len(ITEM) * ITEMS / 2**20, 1),
                "results": results,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
