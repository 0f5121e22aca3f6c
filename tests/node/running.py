"""What tests of running nodes share: a free port on 127.0.0.1, and waiting for the nodes'
background work within a bound that is a safety net, never a timing assertion."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
# Safety net for waits on background work on two busy cores; not a timing assertion.
BOUND = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def eventually(
    check: Callable[[], T | Awaitable[T]], what: str, *, within: float = BOUND
) -> T:
    """The first truthy value of `check` (a function or a coroutine function), polled as the
    nodes' background work runs; fails naming `what` after `within` seconds."""

    async def poll() -> T:
        while True:
            value = check()
            if isinstance(value, Awaitable):
                value = await value
            if value:
                return value
            await asyncio.sleep(0.01)

    try:
        return await asyncio.wait_for(poll(), within)
    except TimeoutError:
        raise AssertionError(f"waited {within} s in vain for {what}") from None
