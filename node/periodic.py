"""Background work done every so often until the node stops (the sweeps of the relay and of
uploads), a failed round logged and tried again at the next."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from lienthong.crypto.errors import LienthongError


async def run_every(
    seconds: float,
    work: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    *,
    what: str,
    log: logging.Logger,
) -> None:
    """Await `work()` now and then every `seconds` until `stop` is set; a round that fails
    on the node's own errors or the file system is logged as `what` and not fatal."""
    while not stop.is_set():
        try:
            await work()
        except (LienthongError, OSError) as exc:
            log.warning("%s failed; next try in %ds: %s", what, seconds, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
