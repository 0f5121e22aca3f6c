"""How many documents per second a DMS sends through the integration API, beside the node's own
send path in the same run.

A unit node's store, keys and directory (real SQLite, synchronous=NORMAL, WAL) and its web
app (node.web.create_web_app, with /api/v1) served by a real aiohttp server on 127.0.0.1.
documents_per_s: sequential POST /api/v1/documents with an API key (send scope) and a new
Idempotency-Key each, the metadata as JSON, one recipient: each call authenticated,
audited, its answer kept, the document sealed, signed, numbered and queued. With a file:
the same with one 64 KB file as multipart/form-data (streamed to disk, then encrypted).
Baseline, same run, same node: node.unit.documents.send_document called directly with the
same documents (and the same file), as the clerk's page and the CLI send. Rounds alternate
(baseline, API) three times; the best of each is kept. Target: ratio >= 0.5.
documents_per_s_vs_http_floor: the same API figure against what it would be if the API
added nothing but one HTTP round trip to the node's own send (1 / (1/send + 1/bare POST),
the bare POST an aiohttp handler answering 201 at once, same client, same run): what the
API's own work (key, Idempotency-Key, audit, JSON) costs.

Run: python bench/api.py [--quick]. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web

from bench._common import report, result
from lienthong.crypto.keys import NodeKeys
from lienthong.node.unit import documents as service
from lienthong.node.web import create_web_app
from lienthong.protocol.document import _metadata_v2
from lienthong.storage.api_keys import SEND, add_key
from tests.node.helpers import Clock, make_context, make_directory
from tests.node.tls_federation import A, B, letter

ROUNDS = 3
FILE_BYTES = 64 * 1024
TARGET_RATIO = 0.5


class Numbers:
    """A new document number for every send (each takes its own register line)."""

    def __init__(self) -> None:
        self.next = 10

    def metadata(self):
        self.next += 1
        return dataclasses.replace(letter(), number=str(self.next))


async def direct(ctx, numbers: Numbers, count: int, files: list[Path]) -> float:
    began = time.perf_counter()
    for _ in range(count):
        await service.send_document(ctx, numbers.metadata(), [B], files=files, actor="bench")
    return count / (time.perf_counter() - began)


async def through_api(
    session: aiohttp.ClientSession, url: str, numbers: Numbers, count: int, file: bytes | None
) -> float:
    began = time.perf_counter()
    for _ in range(count):
        document = {"metadata": _metadata_v2(numbers.metadata()), "recipients": [B]}
        headers = {"Idempotency-Key": f"bench-{numbers.next}"}
        if file is None:
            headers["Content-Type"] = "application/json"
            data: bytes | aiohttp.FormData = json.dumps(document).encode()
        else:
            data = aiohttp.FormData(quote_fields=False)
            data.add_field("document", json.dumps(document), content_type="application/json")
            data.add_field("file", file, filename="phu-luc.pdf")
        async with session.post(url, data=data, headers=headers) as r:
            if r.status != 201:
                raise SystemExit(f"the API refused a send: {r.status} {await r.text()}")
            await r.read()
    return count / (time.perf_counter() - began)


async def bare(session: aiohttp.ClientSession, url: str, count: int) -> float:
    body = b"x" * 2000  # about a document's metadata as JSON
    began = time.perf_counter()
    for _ in range(count):
        headers = {"Content-Type": "application/json"}
        async with session.post(url, data=body, headers=headers) as r:
            await r.read()
    return count / (time.perf_counter() - began)


async def floor_site() -> tuple[web.AppRunner, str]:
    async def created(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"id": "x"}, status=201)

    app = web.Application()
    app.router.add_post("/p", created)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/p"


async def main(count: int) -> None:
    keys = {A: NodeKeys.generate(), B: NodeKeys.generate()}
    clock = Clock()
    directory = make_directory(NodeKeys.generate(), keys)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = await make_context(Path(tmp), A, keys[A], directory, clock)
        async with ctx.store.write() as tx:
            _key, token = await add_key(tx, "bench", (SEND,), actor="bench", at=clock())
        runner = web.AppRunner(create_web_app(ctx), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/api/v1/documents"
        content = bytes(range(256)) * (FILE_BYTES // 256)
        attachment = Path(tmp) / "phu-luc.pdf"
        attachment.write_bytes(content)
        numbers = Numbers()
        floor_runner, floor_url = await floor_site()
        best: dict[str, float] = {}
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            await direct(ctx, numbers, 5, [])  # warm up both paths
            await through_api(session, url, numbers, 5, None)
            for _ in range(ROUNDS):
                for name, run in (
                    ("direct", lambda: direct(ctx, numbers, count, [])),
                    ("api", lambda: through_api(session, url, numbers, count, None)),
                    ("direct_file", lambda: direct(ctx, numbers, count, [attachment])),
                    ("api_file", lambda: through_api(session, url, numbers, count, content)),
                    ("bare", lambda: bare(session, floor_url, count)),
                ):
                    best[name] = max(best.get(name, 0.0), await run())
        await runner.cleanup()
        await floor_runner.cleanup()
        await ctx.store.close()
    results = []
    for name, label in (("", "documents_per_s"), ("_file", "documents_with_64kb_file_per_s")):
        api, own = best["api" + name], best["direct" + name]
        results.append(
            result(
                label,
                api,
                "1/s",
                baseline_name="send_document_per_s",
                baseline=own,
                target=f"ratio >= {TARGET_RATIO}",
                met=api / own >= TARGET_RATIO,
            )
        )
    floor = 1 / (1 / best["direct"] + 1 / best["bare"])
    results.append(
        result(
            "documents_per_s_vs_http_floor",
            best["api"],
            "1/s",
            baseline_name="send_document_plus_bare_post_per_s",
            baseline=floor,
            target=f"ratio >= {TARGET_RATIO}",
            met=best["api"] / floor >= TARGET_RATIO,
        )
    )
    report("api", results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 documents a round, not 500")
    args = parser.parse_args()
    asyncio.run(main(100 if args.quick else 500))
