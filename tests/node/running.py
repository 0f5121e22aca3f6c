"""What tests of running nodes share: a free port on 127.0.0.1, and waiting for the nodes'
background work within a bound that is a safety net, never a timing assertion."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
# Safety net for waits on background work on two busy cores; not a timing assertion.
BOUND = 60


# Ports handed to nodes come from below the kernel's range of ephemeral ports (Linux
# 32768-60999, Windows and macOS 49152-65535): a port bound to 0 comes from that range, and
# so does every outgoing connection's source port, which could take it between the pick and
# a node's bind minutes later (a node started late in a test then failed "address already
# in use"). Below it, only another listener can take it.
PORTS = range(20_000, 32_768)
_handed: set[int] = set()  # not handed twice in one test run, while others remain


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on and no test of this run was given."""
    if len(_handed) > len(PORTS) * 3 // 4:
        _handed.clear()
    for _ in range(10_000):
        port = random.choice(PORTS)
        if port in _handed:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port
    raise RuntimeError(f"no free port on 127.0.0.1 in {PORTS}")


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
