"""GET /api/v1/events: the event feed for a document system that cannot take calls; a
long-poll answering JSON, or Server-Sent Events; served by the integration API's app with
its keys (scope read; docs/INTEGRATION.md "Events")."""

from __future__ import annotations

import json

from aiohttp import web

from lienthong.node.context import CONTEXT
from lienthong.node.unit.api.access import allow
from lienthong.node.unit.api.problems import invalid
from lienthong.node.unit.events import EventSignal, event_json, signal_of
from lienthong.protocol.text import is_decimal
from lienthong.storage.api_keys import READ
from lienthong.storage.events import MAX_EVENTS_PER_READ

# The longest a long-poll is held open: below the idle timeouts of the proxies and
# firewalls between a document system and the node; a larger `wait` is cut to it.
MAX_WAIT_SECONDS = 60
# An event id is a SQLite integer: at most 19 digits.
MAX_ID_DIGITS = 19
# An SSE stream sends a comment this often without events, so a proxy keeps it open.
SSE_HEARTBEAT_SECONDS = 15.0


def _number(request: web.Request, name: str, default: int, most: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not is_decimal(text, MAX_ID_DIGITS) or int(text) > most:
        raise invalid(name, f"must be a whole number from 0 to {most}, not {text[:40]!r}")
    return int(text)


async def events_feed(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/events?after=ID&wait=SECONDS&limit=N (scope read): the events after ID,
    at once if there are any, else the first within `wait` (cut to MAX_WAIT_SECONDS);
    {events, next}. With Accept: text/event-stream, a stream of them from ID (or
    Last-Event-ID) on."""
    allow(request, READ)
    after = _number(request, "after", 0, 2**63 - 1)
    wait = min(_number(request, "wait", 0, 2**31), MAX_WAIT_SECONDS)
    limit = _number(request, "limit", MAX_EVENTS_PER_READ, MAX_EVENTS_PER_READ)
    if limit < 1:
        raise invalid("limit", f"must be from 1 to {MAX_EVENTS_PER_READ}")
    signal = signal_of(request.app[CONTEXT])
    if "text/event-stream" in request.headers.get("Accept", ""):
        last = request.headers.get("Last-Event-ID")
        if last is not None:
            if not is_decimal(last, MAX_ID_DIGITS):
                raise invalid("Last-Event-ID", "must be an event id (a whole number)")
            after = max(after, int(last))
        return await _stream(request, signal, after)
    found = await signal.next_events(after, wait, limit=limit)
    return web.json_response(
        {"events": [event_json(e) for e in found], "next": found[-1].id if found else after},
        dumps=lambda v: json.dumps(v, ensure_ascii=False),
    )


async def _stream(request: web.Request, signal: EventSignal, after: int) -> web.StreamResponse:
    """Server-Sent Events: every event after `after`, then each as it comes, until the
    caller goes; a comment every SSE_HEARTBEAT_SECONDS while there is none."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    try:
        while True:
            found = await signal.next_events(after, SSE_HEARTBEAT_SECONDS)
            if not found:
                await response.write(b": keep-alive\n\n")
                continue
            for event in found:
                data = json.dumps(event_json(event), ensure_ascii=False)
                await response.write(
                    f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n".encode()
                )
                after = event.id
    except ConnectionResetError:  # the caller went
        pass
    return response
