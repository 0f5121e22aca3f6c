"""One centre worker holding 10,000 idle relay long-polls: its RSS, and the RSS per connection.

Target (issue 18): 10,000 idle pulls held by one worker with < 1 GB RSS.

The worker (a process of its own, `--server`) is the centre's relay pull handler
(node/centre/relay.py `pull`, with its Mailboxes and the peer middleware that identifies
each caller by its TLS client certificate against the directory) on an aiohttp TLS 1.3
listener requiring client certificates, with a real SQLite store (each pull's
`touch_unit` write and mailbox look run for real). Not the whole `lienthong run`: the
centre's other routes, its web console and periodic jobs are not started, so the figure
is what the held pulls cost, beside what the process costs idle (the baseline).

The units are light clients in CLIENT_PROCESSES other processes: each unit has its own
Ed25519 TLS leaf issued by the test CA, listed (its SHA-256) in a directory of N units
signed by the test root that the worker holds; each opens one raw TLS connection
(asyncio.open_connection with its client certificate) and writes
`GET /v1/relay/pull?wait=25` by hand, reads the answer when the wait ends and asks again
on the same connection. Once every unit is connected (each client process says so), the
worker's RSS (VmRSS from /proc) and the pulls waiting in its Mailboxes are sampled each
second over one pull cycle (PULL_WAIT + 5 s: a pull ends after 25 s and is asked again, so
a few are always between two pulls); the largest of each is kept. RLIMIT_NOFILE is raised
to its hard limit in every process.

The worker's TLS read buffers are what `lienthong run` sets (node/tls_buffers.py
`use_small_tls_buffers`, called by node/runtime.py Node.start): 16 KiB per connection.
`--asyncio-tls-buffer` leaves asyncio's own (asyncio.sslproto.SSLProtocol.max_size,
256 KiB in Python 3.11, allocated and zero-filled for every connection): the figure
before that setting.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.sslproto
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import report, result

NOW = int(time.time() * 1000)
DAY = 86_400_000
TARGET_MB = 1024
CONNECTIONS = 10_000
CLIENT_PROCESSES = 4  # the light clients' TLS state is split over processes (2 cores)
HANDSHAKES_AT_ONCE = 64  # per client process: the worker's accept backlog is not flooded
BACKLOG = 4096
PULL_WAIT = 25  # seconds, MAX_PULL_WAIT: the longest a pull may be held
READY_TIMEOUT = 600.0  # seconds for every pull to be waiting: the bench stops by itself


def code_of(i: int) -> str:
    return f"000.{i // 100 % 100:02d}.{i % 100:02d}.H{1 + i // 10_000:02d}"


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text("utf-8").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


# -- setup (parent) --------------------------------------------------------------------------


def prepare(tmp: Path, n: int) -> None:
    """The test CA, the worker's leaf, a leaf per unit, and the directory listing them."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from lienthong.crypto import x509 as tls
    from lienthong.crypto.keys import NodeKeys
    from lienthong.protocol.certificate import issue_certificate
    from lienthong.protocol.directory import issue_directory

    start = datetime.now(UTC) - timedelta(days=1)
    end = start + timedelta(days=30)
    ca_key = tls.generate_tls_key()
    ca = tls.issue_ca(ca_key, "Bench CA", not_before=start, not_after=end)
    (tmp / "ca.crt").write_bytes(tls.cert_to_pem(ca))
    root, member = NodeKeys.generate(), NodeKeys.generate()
    (tmp / "root.pub").write_bytes(root.sign_public)
    certs = []
    for i in range(n + 1):  # 0 is the worker
        key = tls.generate_tls_key()
        code = "000.00.00.H99" if i == 0 else code_of(i)
        leaf = tls.issue_leaf(
            ca_key, ca, key.public_key(), unit_code=code, unit_name=f"Unit {code}",
            serial=i + 1, hosts=["127.0.0.1"], not_before=start, not_after=end,
        )  # fmt: skip
        (tmp / f"{i}.crt").write_bytes(tls.cert_to_pem(leaf))
        (tmp / f"{i}.key").write_bytes(tls.key_to_pem(key))
        if i:
            der = leaf.public_bytes(Encoding.DER)
            certs.append(
                issue_certificate(
                    root,
                    serial=i,
                    code=code,
                    name=f"Đơn vị {code}",
                    sign_key=member.sign_public,
                    enc_key=member.enc_public,
                    tls_sha256=hashlib.sha256(der).digest(),
                    endpoints=[],
                    reachable=False,
                    not_before=NOW - DAY,
                    not_after=NOW + 30 * DAY,
                )
            )
    raw = issue_directory(
        root, version=1, issued_at=NOW, expires_at=NOW + 7 * DAY, centre_name="Trung tâm",
        centre_url="https://127.0.0.1:7000", certificates=certs,
        relays=["https://127.0.0.1:7000/v1/relay"],
    )  # fmt: skip
    (tmp / "directory").write_bytes(raw)


# -- the worker ------------------------------------------------------------------------------


async def serve(tmp: Path, asyncio_tls_buffer: bool) -> None:
    from aiohttp import web

    from lienthong.bootstrap.directory import DirectoryState
    from lienthong.crypto import x509 as tls
    from lienthong.crypto.keys import NodeKeys
    from lienthong.node.centre.relay import add_relay_routes, mailboxes_of
    from lienthong.node.context import CONTEXT, NodeContext
    from lienthong.node.peers import peer_middleware
    from lienthong.node.tls_buffers import use_small_tls_buffers
    from lienthong.protocol.directory import verify_directory
    from lienthong.storage.blobs import BlobStore
    from lienthong.storage.db import Store, unix_ms

    raise_nofile()
    if not asyncio_tls_buffer:
        use_small_tls_buffers()  # as Node.start does
    root_public = (tmp / "root.pub").read_bytes()
    directory = verify_directory((tmp / "directory").read_bytes(), root_public, now=NOW)
    store = await Store.open(tmp / "centre.sqlite3")
    ctx = NodeContext(
        config=None,  # the pull path reads no configuration
        keys=NodeKeys.generate(),
        store=store,
        blobs=BlobStore(tmp / "blobs"),
        directory=DirectoryState(store, root_public, unix_ms, current=directory),
        clock=unix_ms,
    )
    codes = [c.code for c in directory.certificates]
    app = web.Application(middlewares=[peer_middleware])
    app[CONTEXT] = ctx
    add_relay_routes(app)
    server_ssl = tls.server_context(tmp / "0.crt", tmp / "0.key", tmp / "ca.crt")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl, backlog=BACKLOG)
    await site.start()

    async def state(request: web.Request) -> web.Response:
        boxes = mailboxes_of(ctx)
        return web.json_response(
            {
                "waiting": sum(boxes.waiting(c) for c in codes),
                "tls_read_buffer_bytes": asyncio.sslproto.SSLProtocol.max_size,
            }
        )

    side = web.Application()
    side.router.add_get("/state", state)
    side_runner = web.AppRunner(side, access_log=None)
    await side_runner.setup()
    side_site = web.TCPSite(side_runner, "127.0.0.1", 0)
    await side_site.start()
    port = site._server.sockets[0].getsockname()[1]
    side_port = side_site._server.sockets[0].getsockname()[1]
    print(f"ready {port} {side_port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed
    await runner.cleanup()
    await side_runner.cleanup()
    await store.close()


# -- the light clients -----------------------------------------------------------------------


async def hold(tmp: Path, port: int, first: int, last: int) -> None:
    """Units first..last each hold one pull open, asking again when it ends, until stdin closes."""
    from lienthong.crypto import x509 as tls

    raise_nofile()
    gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    request = (
        f"GET /v1/relay/pull?wait={PULL_WAIT} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    ).encode()
    errors: list[str] = []

    opened: list[int] = []

    async def unit(i: int, done: asyncio.Future) -> None:
        context = tls.client_context(tmp / f"{i}.crt", tmp / f"{i}.key", tmp / "ca.crt")
        try:
            async with gate:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
                )
            writer.write(request)
            opened.append(i)
        finally:
            done.set_result(None)
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            if " 200 " not in lines[0] + " ":
                errors.append(lines[0])
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            writer.write(request)

    loop = asyncio.get_running_loop()
    units = range(first, last + 1)
    started = [loop.create_future() for _ in units]
    tasks = [asyncio.create_task(unit(i, f)) for i, f in zip(units, started, strict=True)]
    await asyncio.gather(*started)
    print(f"connected {len(opened)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    failed = sum(1 for t in tasks if not t.cancelled() and t.exception() is not None)
    print(json.dumps({"errors": errors[:5], "failed": failed}), flush=True)


# -- the run ---------------------------------------------------------------------------------


def worker_state(side_port: int) -> dict:
    """The pulls waiting in the worker's Mailboxes and the TLS read buffer it uses."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{side_port}/state", timeout=30) as answer:
        return json.load(answer)


def waiting(side_port: int) -> int:
    return worker_state(side_port)["waiting"]


def run(n: int, asyncio_tls_buffer: bool) -> tuple[list[dict], list[str]]:
    nofile = raise_nofile()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        start = time.perf_counter()
        prepare(tmp, n)
        prepare_s = time.perf_counter() - start
        me = [sys.executable, __file__]
        server = subprocess.Popen(
            [*me, "--server", name, *(["--asyncio-tls-buffer"] if asyncio_tls_buffer else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        clients: list[subprocess.Popen] = []
        try:
            _, port, side_port = server.stdout.readline().split()
            idle_mb = rss_mb(server.pid)
            tls_buffer_kb = worker_state(int(side_port))["tls_read_buffer_bytes"] / 1024
            share = -(-n // CLIENT_PROCESSES)
            for first in range(1, n + 1, share):
                last = min(n, first + share - 1)
                args = [*me, "--clients", name, port, str(first), str(last)]
                clients.append(
                    subprocess.Popen(
                        args,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                        encoding="utf-8",
                    )
                )
            start = time.perf_counter()
            lines: list[str] = []
            readers = [
                threading.Thread(target=lambda c=c: lines.append(c.stdout.readline()))
                for c in clients
            ]
            for thread in readers:
                thread.start()
            deadline = time.monotonic() + READY_TIMEOUT
            half_mb = None
            while len(lines) < len(clients) and time.monotonic() < deadline:
                held = waiting(int(side_port))
                if half_mb is None and held >= n // 2:
                    half_mb, half_count = rss_mb(server.pid), held
                time.sleep(1)  # sampling the worker while the units connect
            connect_s = time.perf_counter() - start
            opened = sum(int(line.split()[1]) for line in lines if line.startswith("connected"))
            # Every pull ends after PULL_WAIT and is asked again: over one such cycle, the
            # most pulls seen waiting at once, and the worker's RSS with every unit connected.
            held, full_mb = 0, 0.0
            settle = time.monotonic() + PULL_WAIT + 5
            while time.monotonic() < settle:
                held = max(held, waiting(int(side_port)))
                full_mb = max(full_mb, rss_mb(server.pid))
                time.sleep(1)  # sampling, not a timed assertion
            peak_mb = rss_mb(server.pid, "VmHWM")
            client_mb = [rss_mb(c.pid) for c in clients]
        finally:
            outcome = []
            for client in clients:
                client.stdin.close()
            for client in clients:
                outcome.append(client.stdout.read())
                client.wait(timeout=120)
            server.stdin.close()
            server.wait(timeout=120)
    slope_kb = (full_mb - idle_mb) * 1024 / max(opened, 1)
    # Between half and all of the pulls: what one more pull costs once the worker is warm.
    marginal_kb = (full_mb - half_mb) * 1024 / max(opened - half_count, 1)
    results = [
        result(f"worker_rss_{n}_units_mb", full_mb, "MB", baseline_name="worker_rss_idle_mb",
               baseline=idle_mb, target=f"< {TARGET_MB} MB with {n} pulls",
               met=opened == n and full_mb < TARGET_MB),
        result("worker_rss_per_pull_kb", slope_kb, "KB", target="(recorded)", met=True),
        result("worker_rss_per_pull_second_half_kb", marginal_kb, "KB", target="(recorded)",
               met=True),
        result(f"worker_rss_{half_count}_pulls_mb", half_mb, "MB", target="(recorded)",
               met=True),
        result("worker_peak_rss_mb", peak_mb, "MB", target="(recorded)", met=True),
        result("connections_open", opened, "connections", target=f"{n}", met=opened == n),
        result("pulls_waiting_most_at_once", held, "pulls", target="(recorded)", met=True),
        result("connect_all_s", connect_s, "s", target="(recorded)", met=True),
        result("prepare_s", prepare_s, "s", target="(recorded)", met=True),
        result("client_processes_rss_mb", sum(client_mb), "MB", target="(recorded)", met=True),
        result("rlimit_nofile", nofile, "fds", target="(recorded)", met=True),
        result("worker_tls_read_buffer_kb", tls_buffer_kb, "KiB", target="(recorded)", met=True),
    ]  # fmt: skip
    return results, [o.strip() for o in outcome]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 pulls, not 10,000")
    parser.add_argument("--connections", type=int, default=None)
    parser.add_argument("--server", metavar="DIR")
    parser.add_argument(
        "--asyncio-tls-buffer", action="store_true", help="asyncio's 256 KiB (the figure before)"
    )
    parser.add_argument("--clients", nargs=4, metavar=("DIR", "PORT", "FIRST", "LAST"))
    args = parser.parse_args()
    if args.server:
        asyncio.run(serve(Path(args.server), args.asyncio_tls_buffer))
        return
    if args.clients:
        tmp, port, first, last = args.clients
        asyncio.run(hold(Path(tmp), int(port), int(first), int(last)))
        return
    n = args.connections or (1_000 if args.quick else CONNECTIONS)
    results, clients = run(n, args.asyncio_tls_buffer)
    if args.asyncio_tls_buffer:
        for r in results:
            r["name"] = f"{r['name']}_asyncio_tls_buffer"
    print(json.dumps({"clients": clients}), file=sys.stderr)
    report("longpolls", results)


if __name__ == "__main__":
    main()
