"""What differs between Windows and POSIX for the running node: stop signals, the event loop,
port probes and listening sockets, the open-file limit and the console's encoding.

Every other module asks here instead of testing the platform itself, and none but this one
imports a POSIX-only module (resource): tests/test_portability.py checks both.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
from collections.abc import Callable

WINDOWS = sys.platform == "win32"

try:
    import resource  # POSIX only
except ImportError:
    resource = None  # type: ignore[assignment]

# Without add_signal_handler (Windows), a console event sets Python's signal flag but does not
# wake select(): a tick this often lets the handler run within half a second of Ctrl-C.
STOP_POLL_SECONDS = 0.5
# Windows' select() watches at most 512 sockets (CPython's FD_SETSIZE there): the figure
# the peer listener's caps are fitted to on that platform, where no rlimit applies.
WINDOWS_SELECT_LIMIT = 512


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that stop a node cleanly: SIGTERM and SIGINT (Ctrl-C); on Windows SIGINT
    and SIGBREAK (Ctrl-Break), the console events a service wrapper sends to stop it."""
    if WINDOWS:
        return (signal.SIGINT, signal.SIGBREAK)  # type: ignore[attr-defined]
    return (signal.SIGTERM, signal.SIGINT)


def on_stop_signal(callback: Callable[[], object]) -> Callable[[], None]:
    """Call `callback` in the running loop when a stop signal arrives; returns the function
    that puts the previous handlers back.

    loop.add_signal_handler where the loop has it (POSIX); elsewhere (Windows' loops raise
    NotImplementedError) signal.signal with a handler that hands over to the loop by
    call_soon_threadsafe, and a tick so that select() returns to let it run.
    """
    loop = asyncio.get_running_loop()
    added: list[signal.Signals] = []
    previous: dict[signal.Signals, object] = {}
    tick: list[asyncio.TimerHandle] = []

    def wake() -> None:
        tick[:] = [loop.call_later(STOP_POLL_SECONDS, wake)]

    for sig in stop_signals():
        try:
            loop.add_signal_handler(sig, callback)
            added.append(sig)
        except NotImplementedError:
            previous[sig] = signal.signal(sig, lambda *_: loop.call_soon_threadsafe(callback))
            if not tick:
                wake()

    def restore() -> None:
        for sig in added:
            loop.remove_signal_handler(sig)
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        for handle in tick:
            handle.cancel()
        tick.clear()

    return restore


def use_selector_loop_on_windows() -> None:
    """On Windows, run asyncio on the selector loop: the peer listener watches its socket with
    loop.add_reader, which the default Proactor loop does not have. Elsewhere nothing."""
    if WINDOWS:
        asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())  # type: ignore[attr-defined]


def use_utf8_console() -> None:
    """Write UTF-8 to stdout and stderr whatever the console's code page (cp1258 on a
    Vietnamese Windows cannot print every letter of a document's subject); an unwritable
    character becomes a replacement, never an exception."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream.encoding or "").lower() not in ("utf-8", "utf8"):
            with contextlib.suppress(ValueError, OSError):
                reconfigure(encoding="utf-8", errors="replace")


def bind_options(sock: socket.socket) -> None:
    """Set on a listening socket before bind, as each platform needs: SO_REUSEADDR on POSIX
    (a stopped node's connections in TIME_WAIT do not hold the port), SO_EXCLUSIVEADDRUSE on
    Windows (where SO_REUSEADDR would let a second process bind a port already listened on)."""
    if WINDOWS:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
    else:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)


def port_is_free(host: str, port: int) -> OSError | None:
    """None when a listener could bind host:port now, else the error binding it gave.

    The probe binds as the node would (bind_options): on POSIX a port left in TIME_WAIT by a
    stopped node reads as free; on Windows a port another program listens on reads as taken,
    even on the wildcard address.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        bind_options(sock)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def raise_open_files_limit(wanted: int) -> int:
    """Raise the soft open-file limit towards `wanted` (never above the hard limit, never
    down); the soft limit in force after. On Windows, with no such limit, the number of
    sockets select() can watch."""
    if resource is None:
        return min(wanted, WINDOWS_SELECT_LIMIT)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft if soft != resource.RLIM_INFINITY else wanted


def new_process_group() -> dict[str, object]:
    """subprocess.Popen arguments that start a child in its own group, so that a Ctrl-C at the
    console reaches only this process, and `ask_to_stop` reaches only the child."""
    if WINDOWS:
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
    return {"start_new_session": True}


def ask_to_stop(process: subprocess.Popen) -> None:
    """Ask a child started with `new_process_group` to stop cleanly: SIGTERM on POSIX;
    Ctrl-Break on Windows, where SIGTERM would be TerminateProcess, a kill."""
    if WINDOWS:
        process.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
    else:
        process.send_signal(signal.SIGTERM)
