"""What the HTTP fuzz tests share: how many examples, a server on 127.0.0.1 the test controls,
a raw HTTP/1.1 exchange for requests the aiohttp client refuses to send, the checks every
answer must pass, and a snapshot of everything a node has stored."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, settings
from multidict import CIMultiDict
from yarl import URL

from lienthong.node.context import NodeContext

# Examples per property: moderate by default so a file runs in about a minute on a shared
# machine; LIENTHONG_FUZZ_EXAMPLES=5000 for a long run by hand.
EXAMPLES = int(os.environ.get("LIENTHONG_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one server per test, its state checked per example
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
# Safety net, not a timing assertion: an answer that takes this long is a hang.
REQUEST_TIMEOUT = 60
TIMEOUT = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
# Loggers that report an exception no handler caught (aiohttp answers those with 500).
SERVER_LOGGERS = ("aiohttp.server", "aiohttp.web", "asyncio")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.body[:300]!r}"


def check_answer(answer: Answer, *, method: str = "POST") -> None:
    """No 5xx; a refusal (4xx) says what was wrong: JSON {error, message} or a text."""
    assert answer.status < 500, f"server error: {answer}"
    if answer.status < 400 or method == "HEAD" or answer.status == 416:
        return  # HEAD has no body; 416 names the blob's size in Content-Range
    assert answer.body.strip(), f"a refusal with an empty body: {answer}"
    if answer.headers.get("Content-Type", "").startswith("application/json"):
        refusal = json.loads(answer.body)
        assert isinstance(refusal.get("error"), str) and refusal["error"], answer
        assert isinstance(refusal.get("message"), str) and refusal["message"], answer


async def exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request through aiohttp's client (URLs are sent as given, not re-quoted)."""
    async with session.request(
        method, URL(url, encoded=True), data=data, headers=headers, timeout=TIMEOUT
    ) as response:
        return Answer(response.status, response.headers, await response.read())


class ServerErrors(logging.Handler):
    """Collects what the servers log at ERROR: an unhandled exception in a handler."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and not _raised_in_a_handler(exc):
            return  # aiohttp's own parser refusing a request with its 4xx (logged at ERROR)
        self.records.append(record)

    def check(self) -> None:
        """Fail with the first error logged since the last check."""
        records, self.records = self.records, []
        if records:
            first = records[0]
            detail = self.format(first) if first.exc_info else first.getMessage()
            raise AssertionError(f"the server logged an error: {detail}")


def _raised_in_a_handler(exc: BaseException) -> bool:
    """Whether the exception came out of a request handler: aiohttp answers those with 500."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "_handle_request":
            return True
        tb = tb.tb_next
    return False


@contextlib.contextmanager
def server_errors() -> Iterator[ServerErrors]:
    handler = ServerErrors()
    handler.setFormatter(logging.Formatter("%(message)s"))
    loggers = [logging.getLogger(name) for name in SERVER_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@dataclass
class Served:
    url: str
    runner: web.AppRunner

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def settle(self) -> None:
        """Return once every connection to this server is closed and its handler done."""

        async def poll() -> None:
            while self.runner.server is not None and self.runner.server.connections:  # noqa: ASYNC110 - aiohttp's own state
                await asyncio.sleep(0.005)

        await asyncio.wait_for(poll(), REQUEST_TIMEOUT)


async def serve(app: web.Application, context: ssl.SSLContext | None) -> Served:
    """Serve `app` on a free port of 127.0.0.1 (over TLS with `context`)."""
    listener = socket.create_server(("127.0.0.1", 0))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, listener, ssl_context=context).start()
    scheme = "https" if context is not None else "http"
    return Served(f"{scheme}://127.0.0.1:{listener.getsockname()[1]}", runner)


async def raw_exchange(
    served: Served, context: ssl.SSLContext | None, request: bytes, *, answer: bool = True
) -> Answer | None:
    """Write `request` as is on a new connection. With `answer`, read until the server closes
    (the request asks it to) and parse the answer; without, hang up at once."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port, ssl=context)
    try:
        writer.write(request)
        await writer.drain()
        if not answer:
            return None
        data = await asyncio.wait_for(reader.read(), REQUEST_TIMEOUT)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    return parse_answer(data)


def parse_answer(data: bytes) -> Answer:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/"), f"no HTTP answer: {data[:200]!r}"
    status = int(lines[0].split()[1])
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.add(name.strip(), value.strip())
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = _unchunk(body)
    return Answer(status, headers, body)


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


async def snapshot(ctx: NodeContext, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every table's rows (count and digest; the audit log and `skip` aside) and every file
    under the blob directory, temporary and partial uploads included."""
    state: dict[str, Any] = {}
    async with ctx.store.read() as conn:
        tables = await conn.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        for (name,) in tables:
            if name in skip or name == "audit_log":
                continue
            rows = await conn.fetchall(f'SELECT * FROM "{name}"')  # noqa: S608 - names from SQLite
            digest = hashlib.sha256(repr(sorted(repr(tuple(r)) for r in rows)).encode()).hexdigest()
            state[name] = (len(rows), digest[:16])
    state["files"] = files_under(ctx.blobs.root)
    return state


def files_under(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """What differs between two snapshots, by table (or 'files')."""
    return {
        k: (before.get(k), after.get(k))
        for k in before.keys() | after.keys()
        if before.get(k) != after.get(k)
    }
