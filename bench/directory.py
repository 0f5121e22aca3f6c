"""A 10,000-unit directory: sign, size on the wire, fetch over loopback, verify and cache.

Target (issue "Federation trust"): verify + cache < 1 s on this machine. The
baseline beside it is the bare cost of what verification cannot avoid: one
Ed25519 verification over the directory bytes and msgpack decoding of them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import msgpack
from aiohttp import web

from bench._common import peak_rss_mb, report, result
from lienthong.crypto import signing
from lienthong.crypto.keys import NodeKeys
from lienthong.protocol.certificate import issue_certificate
from lienthong.protocol.directory import issue_directory, verify_directory
from lienthong.protocol.wire import unwrap
from lienthong.storage.db import Store
from lienthong.storage.directory import save_directory

NOW = 1_764_000_000_000
DAY = 86_400_000
TARGET_SECONDS = 1.0


def build(units: int) -> tuple[NodeKeys, bytes, float]:
    root = NodeKeys.generate()
    member = NodeKeys.generate()
    certs = [
        issue_certificate(
            root,
            serial=i,
            code=f"{i // 10000:03d}.{i // 100 % 100:02d}.{i % 100:02d}.H53",
            name=f"Đơn vị số {i}",
            sign_key=member.sign_public,
            enc_key=member.enc_public,
            tls_sha256=hashlib.sha256(str(i).encode()).digest(),
            endpoints=[f"https://10.0.{i // 250}.{i % 250}:7443"],
            reachable=True,
            not_before=NOW - DAY,
            not_after=NOW + 365 * DAY,
        )
        for i in range(1, units + 1)
    ]
    start = time.perf_counter()
    raw = issue_directory(
        root,
        version=1,
        issued_at=NOW,
        expires_at=NOW + 7 * DAY,
        centre_name="Trung tâm",
        centre_url="https://127.0.0.1:7000",
        certificates=certs,
        relays=["https://127.0.0.1:7000/v1/relay"],
    )
    return root, raw, time.perf_counter() - start


async def fetch_seconds(raw: bytes) -> float:
    app = web.Application()
    app.router.add_get("/v1/directory", lambda r: web.Response(body=raw))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            start = time.perf_counter()
            async with session.get(f"http://127.0.0.1:{port}/v1/directory") as response:
                body = await response.read()
            elapsed = time.perf_counter() - start
        assert body == raw
        return elapsed
    finally:
        await runner.cleanup()


async def verify_and_cache(root: NodeKeys, raw: bytes, store: Store) -> float:
    start = time.perf_counter()
    directory = verify_directory(raw, root.sign_public, now=NOW)
    async with store.write() as tx:
        await save_directory(
            tx, directory.version, raw, directory.issued_at, directory.expires_at, NOW
        )
    return time.perf_counter() - start


def floor_seconds(root: NodeKeys, raw: bytes) -> float:
    wrapper = unwrap(raw, what="directory", max_bytes=len(raw))
    start = time.perf_counter()
    signing.verify(root.sign_public, signing.DIRECTORY, wrapper.signed, wrapper.sig)
    msgpack.unpackb(wrapper.signed, raw=False)
    return time.perf_counter() - start


async def main_async(units: int) -> list[dict]:
    root, raw, sign_s = build(units)
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "store.sqlite3")
        try:
            best = min([await verify_and_cache(root, raw, store) for _ in range(3)])
        finally:
            await store.close()
    floor = min(floor_seconds(root, raw) for _ in range(3))
    fetch = min([await fetch_seconds(raw) for _ in range(3)])
    return [
        result(
            "verify_and_cache_s",
            best,
            "s",
            baseline_name="verify_signature_and_unpack_s",
            baseline=floor,
            target=f"< {TARGET_SECONDS} s",
            met=best < TARGET_SECONDS,
        ),
        result("sign_s", sign_s, "s", target="(informative)", met=True),
        result("size_bytes", len(raw), "bytes", target="(informative)", met=True),
        result("fetch_loopback_s", fetch, "s", target="(informative)", met=True),
        result("peak_rss_mb", peak_rss_mb(), "MB", target="(informative)", met=True),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 units instead of 10,000")
    args = parser.parse_args()
    units = 1_000 if args.quick else 10_000
    results = asyncio.run(main_async(units))
    for r in results:
        r["name"] = f"{r['name']}_{units}_units"
    report("directory", results)


if __name__ == "__main__":
    main()
