"""Same-run baselines over mutual TLS: a bare aiohttp server in its own process, with the
certificates of two units of a test federation (the client is A, the server holds B's)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from lienthong.node.config import load_config
from lienthong.node.runtime import client_ssl_context
from tests.system.harness import free_port

ROOT = Path(__file__).resolve().parents[1]
BIND_TRIES = 50  # the server may need a moment to bind: up to 5 s


@contextlib.asynccontextmanager
async def bare_server(
    client_dir: Path,
    server_dir: Path,
    script: str,
    *args: str,
    timeout: aiohttp.ClientTimeout | None = None,
) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """Run `script` (argv: port, *args, cert, key, ca) and yield (session, base URL).

    The script prints one line once it serves; the session presents the client's
    certificate, exactly as a node's delivery engine does.
    """
    client, server_conf = load_config(client_dir), load_config(server_dir)
    port = free_port()
    tls = [str(server_conf.tls_cert_path), str(server_conf.tls_key_path), str(server_conf.ca_path)]
    server = subprocess.Popen(
        [sys.executable, "-c", script, str(port), *args, *tls],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        server.stdout.readline()
        connector = aiohttp.TCPConnector(ssl=client_ssl_context(client))
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            base = f"https://127.0.0.1:{port}"
            for _ in range(BIND_TRIES):
                try:
                    async with session.get(base + "/ready") as r:
                        await r.read()
                    break
                except aiohttp.ClientConnectorError:
                    await asyncio.sleep(0.1)
            yield session, base
    finally:
        server.terminate()
        server.wait()
