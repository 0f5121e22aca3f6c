"""How many events per second the webhook loop delivers to a local endpoint.

events_per_s: N events already in the store (document.arrived, ~300 bytes of data), one
webhook on 127.0.0.1 (an aiohttp server in this process answering 204); from the loop's
start until the endpoint has every event: each one signed (HMAC-SHA256), POSTed, and its
cursor moved in its own store transaction (synchronous=NORMAL, WAL). Baseline, same run,
same server and session: bare sequential aiohttp POSTs of the same bodies, nothing
signed or stored. Target: >= 500 events/s and ratio >= 0.5.

Run: python bench/events.py [--quick]. The last line of output is one JSON object.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web

from bench._common import report, result
from lienthong.crypto.keys import NodeKeys
from lienthong.node.config import Config, validate
from lienthong.node.context import NodeContext
from lienthong.node.unit.events import Endpoint, Webhooks, event_body
from lienthong.storage import events
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import Store, unix_ms

SECRET = "bench-secret-0123456789abcdef0123456789"  # noqa: S105 - a throwaway secret
PER_TRANSACTION = 100
DATA = {
    "from": "000.00.02.H53",
    "envelope": "01KBX0Q6P3M4S5T6V7W8X9Y0Z1",
    "type": "cong_van",
    "number": "2340",
    "notation": "VP-TTTH",
    "issued_on": "2026-12-04",
    "confidentiality": 0,
    "via": "direct",
    "subject": "V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)",
}


class Sink:
    def __init__(self) -> None:
        self.count = 0
        self.done = asyncio.Event()
        self.expected = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.count += 1
        if self.count >= self.expected:
            self.done.set()
        return web.Response(status=204)


async def main(count: int) -> None:
    sink = Sink()
    app = web.Application()
    app.router.add_post("/hook", sink.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        config = Config(data_dir, validate({"unit": {"code": "000.00.03.H53", "name": "B"}}))
        store = await Store.open(data_dir / "store.sqlite3")
        ctx = NodeContext(
            config, NodeKeys.generate(), store, BlobStore(data_dir / "blobs"), None, unix_ms
        )  # type: ignore[arg-type]
        for start in range(0, count, PER_TRANSACTION):
            async with store.write() as tx:
                for i in range(start, min(count, start + PER_TRANSACTION)):
                    await events.append_event(tx, events.DOCUMENT_ARRIVED, f"D{i:020d}", DATA)
        async with store.read() as conn:
            bodies = [event_body(e) for e in await events.events_after(conn, 0, limit=count)]
        async with aiohttp.ClientSession() as session:
            # Baseline: the same bodies, bare sequential POSTs.
            sink.expected = sink.count + len(bodies)
            began = time.perf_counter()
            for body in bodies:
                async with session.post(
                    url, data=body, headers={"Content-Type": "application/json"}
                ) as r:
                    await r.read()
            bare = len(bodies) / (time.perf_counter() - began)

            sink.count, sink.expected = 0, count
            sink.done.clear()
            hooks = Webhooks(ctx, session, [Endpoint("bench", url, SECRET)])
            stop = asyncio.Event()
            began = time.perf_counter()
            task = asyncio.create_task(hooks.run(stop))
            await asyncio.wait_for(sink.done.wait(), 600)
            rate = count / (time.perf_counter() - began)
            stop.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await store.close()
    await runner.cleanup()
    ratio = rate / bare
    report(
        "events",
        [
            result(
                "events_per_s",
                rate,
                "1/s",
                baseline_name="bare_aiohttp_post_per_s",
                baseline=bare,
                target=">= 500 and ratio >= 0.5",
                met=rate >= 500 and ratio >= 0.5,
            )
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 events instead of 10,000")
    args = parser.parse_args()
    asyncio.run(main(1_000 if args.quick else 10_000))
