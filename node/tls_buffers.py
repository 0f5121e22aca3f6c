"""The read buffer asyncio's TLS transport gives each connection: 16 KiB, set when a node starts.

asyncio's TLS transport (`asyncio.sslproto.SSLProtocol`, Python 3.11) allocates and
zero-fills a read buffer of `SSLProtocol.max_size` = 256 KiB for every connection, at
accept, and keeps it for the connection's whole life: a centre worker holding 10,000 idle
relay long-polls spent 3.0 GB on them, about 300 KB each (bench/RESULTS.md, "longpolls").
The buffer is only where bytes read from the socket land before they go to the TLS
object, and the largest plaintext asked of it at once: a TLS record holds at most 16 KiB
of plaintext (RFC 8446 5.1), so 16 KiB reads a large body as well, in more, smaller reads
(a record that does not fit arrives in two). With it the same 10,000 pulls took 651 MB.

aiohttp's server and `loop.connect_accepted_socket` (node/edge.py) make the transport
through the event loop, which builds an `SSLProtocol` itself and offers no hook for
another class or size. So the size is the class attribute, set once by `Node.start`
(node/runtime.py) before any listener accepts: it applies to every TLS connection of the
process, the peer listener's (the centre's relay long-polls, a unit's peers) and the
node's own outgoing ones alike, which read in 16 KiB steps too.
tests/node/test_tls_buffers.py checks it on a running centre, with a 64 MiB upload.
"""

from __future__ import annotations

import asyncio.sslproto
import contextlib
from collections.abc import Iterator

# One TLS record's largest plaintext (2^14 bytes, RFC 8446 5.1): a read of it fits at once.
TLS_READ_BUFFER_BYTES = 16 * 1024
# While one connection carries a blob (hundreds of MB), it reads through asyncio's own
# 256 KiB: each read costs an event-loop turn and a few Python calls, and at 16 KiB those
# calls were most of a receiving node's CPU per byte (bench/RESULTS.md, attachments).
BLOB_TLS_READ_BUFFER_BYTES = 256 * 1024


def use_small_tls_buffers() -> None:
    """Make every TLS connection of this process read through TLS_READ_BUFFER_BYTES."""
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER_BYTES


@contextlib.contextmanager
def large_reads(transport: asyncio.BaseTransport | None) -> Iterator[None]:
    """Within the block, the TLS connection under `transport` reads through
    BLOB_TLS_READ_BUFFER_BYTES; after it, through the process's size again, its buffer
    shrunk back (a kept-alive connection then costs what any other does). Nothing for a
    transport that is not asyncio's TLS."""
    ssl_protocol = getattr(transport, "_ssl_protocol", None)
    if ssl_protocol is None or not hasattr(ssl_protocol, "_ssl_buffer"):
        yield
        return
    ssl_protocol.max_size = BLOB_TLS_READ_BUFFER_BYTES  # this connection only
    try:
        yield
    finally:
        # Between event-loop callbacks no read holds the buffer: it can be replaced.
        del ssl_protocol.max_size
        small = type(ssl_protocol).max_size
        if len(ssl_protocol._ssl_buffer) > small:
            ssl_protocol._ssl_buffer = bytearray(small)
            ssl_protocol._ssl_buffer_view = memoryview(ssl_protocol._ssl_buffer)


def tls_read_buffer_bytes(transport: asyncio.BaseTransport) -> int | None:
    """The read buffer of the TLS connection under `transport` (None if it is no TLS
    transport of asyncio's): what /proc shows each held connection costs."""
    ssl_protocol = getattr(transport, "_ssl_protocol", None)
    buffer = getattr(ssl_protocol, "_ssl_buffer", None)
    return len(buffer) if buffer is not None else None
