"""Events to an office's document system: the wake-up shared by the feed and the webhooks,
and the webhook loop (each endpoint its own task, cursor and backoff; every event POSTed
in order, at least once, signed with HMAC-SHA256; docs/INTEGRATION.md "Events")."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from lienthong.node.config import Config
from lienthong.node.context import NodeContext, ServiceKey
from lienthong.node.periodic import run_every
from lienthong.node.times import iso_time
from lienthong.storage import events
from lienthong.storage.db import Store

log = logging.getLogger("lienthong.events")

SIGNATURE_VERSION = "v1"
EVENT_ID_HEADER = "Lienthong-Event-Id"
TIMESTAMP_HEADER = "Lienthong-Timestamp"
SIGNATURE_HEADER = "Lienthong-Signature"
# Readers also look this often without a wake-up: events appended by another process (the
# CLI) on the same store reach the webhooks within this.
POLL_SECONDS = 2.0
# One webhook call: a document system answers at once and does its work afterwards.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=5)
PRUNE_EVERY_SECONDS = 3600.0  # retention (storage.events.EVENT_RETENTION_MS) runs hourly
# What is kept of an endpoint's last failure for the log and the health view.
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Endpoint:
    """One webhook of node.toml [events] webhooks: its name (its cursor's key), URL, secret."""

    name: str
    url: str
    secret: str


def endpoints_of(config: Config) -> list[Endpoint]:
    """The webhooks configured in [events] (checked by node.config)."""
    return [Endpoint(w["name"], w["url"], w["secret"]) for w in config.get("events", "webhooks")]


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The Lienthong-Signature header: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def event_json(event: events.Event) -> dict[str, Any]:
    """An event as a webhook body and a feed item: {id, kind, document_id, at, data}."""
    return {
        "id": event.id,
        "kind": event.kind,
        "document_id": event.document_id,
        "at": iso_time(event.created_at),
        "data": event.data,
    }


def event_body(event: events.Event) -> bytes:
    return json.dumps(event_json(event), ensure_ascii=False, separators=(",", ":")).encode()


class EventSignal:
    """Wakes readers of the event queue when an event is appended to the node's store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.latest = 0  # the newest event id appended in this process
        self._waiters: set[asyncio.Future[None]] = set()
        self._unwatch = events.watch(store, self._appended)

    def _appended(self, event_id: int) -> None:
        self.latest = max(self.latest, event_id)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    @property
    def waiting(self) -> int:
        """How many readers wait for the next event now."""
        return len(self._waiters)

    def close(self) -> None:
        self._unwatch()

    async def _wait(self, after: int, seconds: float) -> None:
        """Until an event above `after` was appended here, at most `seconds`."""
        if self.latest > after or seconds <= 0:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, seconds)
        finally:
            self._waiters.discard(waiter)

    async def read(self, after: int, limit: int = events.MAX_EVENTS_PER_READ) -> list[events.Event]:
        """The events after `after`; when one was appended but its transaction has not ended
        yet, once it has (passing through the store's write lock, held until commit)."""
        async with self.store.read() as conn:
            found = await events.events_after(conn, after, limit=limit)
        if not found and self.latest > after:
            async with self.store.write():
                pass
            async with self.store.read() as conn:
                found = await events.events_after(conn, after, limit=limit)
        return found

    async def next_events(
        self, after: int, wait: float, *, limit: int = events.MAX_EVENTS_PER_READ
    ) -> list[events.Event]:
        """The events after `after`, at once if there are any, else the first to come within
        `wait` seconds (looking again every POLL_SECONDS for other processes' events)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        seen = after
        while True:
            found = await self.read(after, limit)
            left = deadline - loop.time()
            if found or left <= 0:
                return found
            seen = max(seen, self.latest)  # an append rolled back: wait for the next one
            await self._wait(seen, min(left, POLL_SECONDS))


EVENT_SIGNAL = ServiceKey("event signal", EventSignal)


def signal_of(ctx: NodeContext) -> EventSignal:
    """The node's EventSignal, made on first use."""
    return ctx.services.get_or_make(EVENT_SIGNAL, lambda: EventSignal(ctx.store))


@dataclass
class EndpointState:
    """How one webhook is doing, for the log and the health view."""

    cursor: int = 0
    delivered: int = 0
    failures: int = 0  # in a row
    last_error: str | None = None


class Webhooks:
    """POSTs every event to every endpoint, in id order, each endpoint on its own."""

    def __init__(
        self,
        ctx: NodeContext,
        session: aiohttp.ClientSession | None = None,
        endpoints: list[Endpoint] | None = None,
        *,
        retry_base_ms: int | None = None,
        retry_cap_ms: int | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.ctx = ctx
        self.session = session
        self.endpoints = endpoints_of(ctx.config) if endpoints is None else endpoints
        self.base_ms = retry_base_ms or ctx.config.get("events", "retry_base_ms")
        self.cap_ms = retry_cap_ms or ctx.config.get("events", "retry_cap_ms")
        self.random = random
        self.signal = signal_of(ctx)
        self.state = {e.name: EndpointState() for e in self.endpoints}

    def backoff_ms(self, failures: int) -> int:
        """Delay after `failures` failed calls in a row: exponential from the base, capped,
        times a jitter in [0.5, 1.5)."""
        delay = min(self.cap_ms, self.base_ms * 2 ** min(failures - 1, 30))
        return int(delay * (0.5 + self.random()))

    async def run(self, stop: asyncio.Event) -> None:
        """One task per endpoint and the retention sweep, until `stop`. Without a session
        given, one of its own (the system's CA store: not the federation's TLS)."""
        if self.session is None:
            async with aiohttp.ClientSession() as self.session:
                await self._run(stop)
            return
        await self._run(stop)

    async def _run(self, stop: asyncio.Event) -> None:
        work = [self._endpoint(e, stop) for e in self.endpoints]
        work.append(
            run_every(PRUNE_EVERY_SECONDS, self.prune, stop, what="event retention", log=log)
        )
        tasks = [asyncio.create_task(w) for w in work]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def prune(self) -> int:
        async with self.ctx.store.write() as tx:
            return await events.prune_events(tx, now=self.ctx.clock())

    async def _endpoint(self, endpoint: Endpoint, stop: asyncio.Event) -> None:
        state = self.state[endpoint.name]
        async with self.ctx.store.read() as conn:
            state.cursor = await events.cursor_of(conn, endpoint.name)
        while not stop.is_set():
            for event in await self.signal.next_events(state.cursor, POLL_SECONDS):
                while not await self._post(endpoint, event, state):
                    if await _stopped(stop, self.backoff_ms(state.failures) / 1000):
                        return
                async with self.ctx.store.write() as tx:
                    await events.set_cursor(tx, endpoint.name, event.id, at=self.ctx.clock())
                state.cursor = event.id
                if stop.is_set():
                    return

    async def _post(self, endpoint: Endpoint, event: events.Event, state: EndpointState) -> bool:
        """One call; True when the endpoint answered 2xx (it has the event)."""
        assert self.session is not None
        body = event_body(event)
        timestamp = str(self.ctx.clock() // 1000)
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: str(event.id),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(endpoint.secret, timestamp, body),
        }
        try:
            async with self.session.post(
                endpoint.url,
                data=body,
                headers=headers,
                timeout=REQUEST_TIMEOUT,
                allow_redirects=False,
            ) as response:
                if 200 <= response.status < 300:
                    state.failures, state.last_error = 0, None
                    state.delivered += 1
                    return True
                error = f"HTTP {response.status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        state.failures += 1
        state.last_error = error
        log.warning(
            "webhook %s did not take event %d (%s); try %d failed",
            endpoint.name,
            event.id,
            error,
            state.failures,
            extra={"webhook": endpoint.name, "event": event.id},
        )
        return False


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop`; True if stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
