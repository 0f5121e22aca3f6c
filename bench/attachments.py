"""A 1 GiB attachment A -> B directly and A -> C via the relay: MB/s and peak RSS per process.

A runs in this process (as the clerk's page would send, with `lienthong run`'s malloc
settings, node/memtrace.py); B, C and the centre are
`lienthong run` processes; C is configured unreachable, so A deposits at the
relay and C pulls the blob from the centre. A figure runs from the call to
`send_document` (which encrypts the file into A's blob store) to the recipient's
signed 01 stored at A. Peak RSS: VmHWM of each process, reset (/proc/PID/clear_refs)
just before each transfer, read right after it; CPU: user + system seconds of each
process over the same span (all threads). MB = 2**20 bytes.
Baseline, same run: a bare aiohttp streaming PUT of the same file over the same
mutual TLS (A's certificate to B's) into a server process that writes it to disk
and fsyncs; and, recorded beside it, a raw copy of the file (read + write + fsync), and
a bare GET of it over the same TLS sent by aiohttp's FileResponse and by the peer API's
BlobResponse (the relay's blob download, before and after its 1 MiB reads); and a bare
relay: a server process that writes a PUT body to disk with its SHA-256 while it streams
the file to a second connection as it lands (RELAY_SERVER), with its CPU seconds.
Each path runs both ways, twice each, in the order before, early, early, before: encrypting,
then uploading (early uploads off: the way before), and uploading while encrypting
(node/unit/early_upload.py; via the relay, the recipient streams the blob from the centre as
it lands, node/arrivals.py). Each way's figure is its faster try (both are reported).
Targets: >= 100 MB/s direct and >= 80 MB/s via the relay, every process < 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp

from bench._bare import bare_server
from bench._common import report, result
from bench.fanout import provision
from lienthong.node import memtrace
from lienthong.node.runtime import Node
from lienthong.node.unit import early_upload
from lienthong.node.unit.documents import send_document
from lienthong.protocol.document import DocumentMetadata, Organisation, Signer
from lienthong.storage.outbox import delivery_state
from tests.system.harness import Federation

A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"
MB = 1024 * 1024
CHUNK = MB
TARGET_MB_S = 100.0  # direct
TARGET_RELAY_MB_S = 80.0
TARGET_RSS_MB = 150.0
TRANSFER_TIMEOUT = 600.0  # seconds for one transfer before the benchmark gives up
DIRECTORY_TIMEOUT = 60.0  # seconds for the sender to learn every recipient
EARLY_MIN_BYTES = early_upload.EARLY_MIN_BYTES
OFF = 1 << 62  # no blob is this large: early uploads off
PUT_SERVER = """
import os, sys, time
from pathlib import Path
from aiohttp import web
from lienthong.crypto.x509 import server_context
ctx = server_context(*[Path(p) for p in sys.argv[3:6]])
out = Path(sys.argv[2])
async def put(request):
    cpu = time.process_time()
    with out.open('wb') as f:
        async for chunk in request.content.iter_chunked(256 * 1024):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    return web.Response(status=201, text=str(time.process_time() - cpu))
app = web.Application(client_max_size=2**40)
app.router.add_put('/blob', put)
print('running', flush=True)
web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), ssl_context=ctx, print=None,
            access_log=None)
"""

# The blob GET's two ways of sending a file under TLS, served by one bare process: aiohttp's
# FileResponse (asyncio's sendfile fallback, 16 KiB per thread hand-off) and the peer API's
# BlobResponse (1 MiB per hand-off). Same file, same TLS, same run.
GET_SERVER = """
import sys
from pathlib import Path
from aiohttp import web
from lienthong.crypto.x509 import server_context
from lienthong.node.unit.peer_api import BlobResponse
from lienthong.storage.blobs import READ_CHUNK
ctx = server_context(*[Path(p) for p in sys.argv[3:6]])
path = Path(sys.argv[2])
async def file_response(request):
    return web.FileResponse(path)
async def blob_response(request):
    return BlobResponse(path, chunk_size=READ_CHUNK)
app = web.Application()
app.router.add_get('/file_response', file_response)
app.router.add_get('/blob_response', blob_response)
print('running', flush=True)
web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), ssl_context=ctx, print=None,
            access_log=None)
"""


# A bare relay: what the centre's cut-through does, with nothing of ours. PUT /blob writes the
# body to disk with its SHA-256 in a thread (as BlobStore does) while GET /blob streams the
# file to a second client as it lands, 1 MiB at a time; the PUT answers the process's CPU
# seconds over the transfer. Same TLS, same run, glibc's malloc as it comes.
RELAY_SERVER = """
import asyncio, hashlib, os, sys, time
from pathlib import Path
from aiohttp import web
from lienthong.crypto.x509 import server_context
ctx = server_context(*[Path(p) for p in sys.argv[3:6]])
out = Path(sys.argv[2])
landed = {'size': 0, 'length': None}
changed = asyncio.Event()
def cpu():
    t = os.times()
    return t.user + t.system
async def put(request):
    landed['length'] = int(request.headers['Upload-Length'])
    start, digest = cpu(), hashlib.sha256()
    with out.open('wb') as f:
        def write(chunks):
            for chunk in chunks:
                f.write(chunk)
                digest.update(chunk)
            f.flush()
        async for chunk in request.content.iter_chunked(256 * 1024):
            await asyncio.to_thread(write, [chunk])
            landed['size'] += len(chunk)
            changed.set()
        os.fsync(f.fileno())
    return web.Response(status=201, text=str(cpu() - start))
async def get(request):
    while landed['length'] is None:
        await asyncio.sleep(0.01)
    response = web.StreamResponse()
    await response.prepare(request)
    sent, length = 0, landed['length']
    with out.open('rb') as f:
        while sent < length:
            ready = landed['size'] - sent
            if ready >= min(1 << 20, length - sent):
                chunk = await asyncio.to_thread(f.read, min(1 << 20, ready))
                await response.write(chunk)
                sent += len(chunk)
                continue
            changed.clear()
            await changed.wait()
    await response.write_eof()
    return response
app = web.Application(client_max_size=2**40)
app.router.add_put('/blob', put)
app.router.add_get('/blob', get)
print('running', flush=True)
web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), ssl_context=ctx, print=None,
            access_log=None)
"""


def make_file(path: Path, size: int) -> None:
    """Random bytes written 1 MiB at a time: the file is never whole in memory."""
    with path.open("wb") as f:
        for _ in range(size // CHUNK):
            f.write(os.urandom(CHUNK))
        f.write(os.urandom(size % CHUNK))


def raw_copy_mb_s(source: Path, target: Path) -> float:
    start = time.perf_counter()
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(CHUNK):
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    elapsed = time.perf_counter() - start
    target.unlink()
    return source.stat().st_size / MB / elapsed


async def _file_chunks(path: Path):
    with path.open("rb") as f:
        while chunk := await asyncio.to_thread(f.read, CHUNK):
            yield chunk


async def bare_put_mb_s(
    fed: Federation, source: Path, size: int, tmp: Path
) -> tuple[float, float, float]:
    """A bare aiohttp streaming PUT of `source` over A's and B's mutual TLS, to disk: MB/s,
    and the CPU seconds of the client (this process) and of the server."""
    out = tmp / "bare_put.bin"
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60, connect=5)
    server = (fed.nodes[A].data_dir, fed.nodes[B].data_dir, PUT_SERVER, str(out))
    try:
        async with bare_server(*server, timeout=timeout) as (session, base):
            start, cpu = time.perf_counter(), time.process_time()
            async with session.put(f"{base}/blob", data=_file_chunks(source)) as r:
                server_cpu = float(await r.text())
                assert r.status == 201, r.status
            elapsed, client_cpu = time.perf_counter() - start, time.process_time() - cpu
        return size / MB / elapsed, client_cpu, server_cpu
    finally:
        out.unlink(missing_ok=True)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process (all its threads) has used so far: less bent by
    other load on the machine than wall time, so a change in work shows through the noise."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bare_get_mb_s(fed: Federation, source: Path, size: int) -> dict[str, float]:
    """GET of `source` from a bare server over A's and B's mutual TLS, each way of sending."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60, connect=5)
    server = (fed.nodes[A].data_dir, fed.nodes[B].data_dir, GET_SERVER, str(source))
    rates = {}
    async with bare_server(*server, timeout=timeout) as (session, base):
        for way in ("file_response", "blob_response"):
            start = time.perf_counter()
            got = 0
            async with session.get(f"{base}/{way}") as r:
                assert r.status == 200, r.status
                async for chunk in r.content.iter_chunked(256 * 1024):
                    got += len(chunk)
            assert got == size, (way, got)
            rates[way] = size / MB / (time.perf_counter() - start)
    return rates


async def bare_relay_mb_s(
    fed: Federation, source: Path, size: int, tmp: Path
) -> tuple[float, float]:
    """A bare relay (RELAY_SERVER) over A's and B's mutual TLS: `source` PUT to it while a
    second connection GETs it as it lands. MB/s from the PUT's start to the GET's last
    byte, and the relay process's CPU seconds."""
    out = tmp / "bare_relay.bin"
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60, connect=5)
    server = (fed.nodes[A].data_dir, fed.nodes[B].data_dir, RELAY_SERVER, str(out))

    async def download(session: aiohttp.ClientSession, base: str) -> int:
        got = 0
        async with session.get(f"{base}/blob") as r:
            assert r.status == 200, r.status
            async for chunk in r.content.iter_chunked(256 * 1024):
                got += len(chunk)
        return got

    try:
        async with bare_server(*server, timeout=timeout) as (session, base):
            start = time.perf_counter()
            downloading = asyncio.ensure_future(download(session, base))
            headers = {"Upload-Length": str(size)}
            async with session.put(f"{base}/blob", data=_file_chunks(source), headers=headers) as r:
                assert r.status == 201, r.status
                relay_cpu = float(await r.text())
            got = await downloading
            assert got == size, got
            return size / MB / (time.perf_counter() - start), relay_cpu
    finally:
        out.unlink(missing_ok=True)


def reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
        f.write("5")  # resets VmHWM to the current RSS


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def metadata(ctx, n: int) -> DocumentMetadata:
    return DocumentMetadata(
        signer=Signer("Trương Văn Hùng", "Chánh Văn phòng"),
        number=f"{n:02d}",
        notation="VP-TTTH",
        doc_type="cong_van",
        issuer=Organisation(name=ctx.config.name, code=ctx.config.code),
        place="Tây Ninh",
        issued_on="2026-11-25",
        subject=f"V/v gửi tệp đính kèm lớn số {n}",
    )


async def wait_arrived(ctx, envelope_id: str, recipient: str, timeout: float) -> dict[str, float]:
    """Wait for the 01; return when (perf_counter) each delivery state was first seen."""
    deadline = time.monotonic() + timeout
    seen: dict[str, float] = {}
    while True:
        async with ctx.store.read() as conn:
            state = await delivery_state(conn, envelope_id, recipient)
        seen.setdefault(state.value, time.perf_counter())
        if state.value in ("arrived", "accepted"):
            return seen
        if time.monotonic() > deadline:
            raise TimeoutError(f"no 01 from {recipient} after {timeout} s (state {state.value})")
        await asyncio.sleep(0.02)


async def run(size: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "attachment.bin"
        make_file(source, size)
        fed = Federation(tmp)
        try:
            fed.nodes["centre"].stop()  # units are enrolled in this process, as fanout does
            await provision(fed, [(A, True), (B, True), (C, False)])
            fed.start("centre", B, C)
            copy_rate = raw_copy_mb_s(source, tmp / "copy.bin")
            put_rate, put_client_cpu, put_server_cpu = await bare_put_mb_s(fed, source, size, tmp)
            get_rates = await bare_get_mb_s(fed, source, size)
            relay_rate, relay_cpu = await bare_relay_mb_s(fed, source, size, tmp)
            pids = {
                "A": os.getpid(),
                "B": fed.nodes[B].process.pid,
                "C": fed.nodes[C].process.pid,
                "centre": fed.nodes["centre"].process.pid,
            }
            node = await Node.open(fed.nodes[A].data_dir)
            await node.start()
            try:
                ctx = node.ctx
                deadline = time.monotonic() + DIRECTORY_TIMEOUT
                while not all(ctx.directory.current.current(c) for c in (B, C)):
                    if time.monotonic() > deadline:
                        raise TimeoutError("the sender did not get the centre's directory")
                    await asyncio.sleep(0.1)
                figures: dict[tuple[str, bool], list] = {}
                # Each path both ways, twice, in the order before, early, early, before:
                # encrypt, then upload (early uploads off), and uploading while encrypting
                # (node/unit/early_upload.py); same run, same file. Later transfers of a run
                # have been slower than earlier ones of the same way, so neither way always
                # goes first.
                runs = [(code, early) for code in (B, C) for early in (False, True, True, False)]
                for n, (code, early) in enumerate(runs, start=1):
                    early_upload.EARLY_MIN_BYTES = EARLY_MIN_BYTES if early else OFF
                    for pid in pids.values():
                        reset_peak(pid)
                    cpu_before = {name: cpu_s(pid) for name, pid in pids.items()}
                    start = time.perf_counter()
                    envelope_id = await send_document(
                        ctx, metadata(ctx, n), [code], files=[source], actor="bench"
                    )
                    queued = time.perf_counter()
                    seen = await wait_arrived(ctx, envelope_id, code, TRANSFER_TIMEOUT)
                    end = seen.get("arrived") or seen["accepted"]
                    rss = {name: peak_mb(pid) for name, pid in pids.items()}
                    cpu = {name: cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
                    phases = {"encrypt_and_queue_s": queued - start, "to_01_s": end - queued}
                    if "relayed" in seen:
                        phases["to_relayed_s"] = seen["relayed"] - queued
                    speed = size / MB / (end - start)
                    figures.setdefault((code, early), []).append((speed, rss, phases, cpu))
            finally:
                await node.close()
        finally:
            fed.close()
    out = []
    for (code, early), tries in figures.items():
        # The faster of the two tries, with its CPU and phases; the higher peak RSS of both.
        speed, _, phases, cpu = max(tries, key=lambda t: t[0])
        rss = {name: max(t[1][name] for t in tries) for name in tries[0][1]}
        path = ("direct" if code == B else "relay") + ("" if early else "_encrypt_then_upload")
        target = TARGET_MB_S if code == B else TARGET_RELAY_MB_S
        for n, each in enumerate(tries, start=1):
            name = f"{path}_MB_per_s_try_{n}"
            out.append(result(name, each[0], "MB/s", target="(recorded)", met=True))
        out.append(
            result(
                f"{path}_MB_per_s",
                speed,
                "MB/s",
                baseline_name="bare_aiohttp_mtls_put_MB_per_s",
                baseline=put_rate,
                target=f">= {target:g}" if early else "(recorded: the way before)",
                met=speed >= target if early else True,
            )
        )
        for name, value in rss.items():
            if code == B and name == "C":
                continue  # C takes no part in the direct transfer
            out.append(
                result(
                    f"{path}_peak_rss_{name}_MB",
                    value,
                    "MB",
                    target=f"< {TARGET_RSS_MB:g}",
                    met=value < TARGET_RSS_MB,
                )
            )
        for name, value in cpu.items():
            if code == B and name == "C":
                continue
            out.append(result(f"{path}_cpu_{name}_s", value, "s", target="(recorded)", met=True))
        for name, value in phases.items():
            out.append(result(f"{path}_{name}", value, "s", target="(recorded)", met=True))
    for way, value in get_rates.items():
        name = f"bare_get_{way}_MB_per_s"
        out.append(result(name, value, "MB/s", target="(recorded, baseline)", met=True))
    out.append(
        result("raw_copy_MB_per_s", copy_rate, "MB/s", target="(recorded, baseline)", met=True)
    )
    out.append(
        result("bare_relay_MB_per_s", relay_rate, "MB/s", target="(recorded, baseline)", met=True)
    )
    out.append(result("bare_relay_cpu_s", relay_cpu, "s", target="(recorded)", met=True))
    for name, value in (("client", put_client_cpu), ("server", put_server_cpu)):
        out.append(result(f"bare_put_cpu_{name}_s", value, "s", target="(recorded)", met=True))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 256 MiB attachment")
    args = parser.parse_args()
    size = 256 * MB if args.quick else 1024 * MB
    memtrace.fix_mmap_threshold()  # A's malloc as in `lienthong run`, like B's, C's, the centre's
    results = asyncio.run(run(size))
    report("attachments", results)


if __name__ == "__main__":
    main()
