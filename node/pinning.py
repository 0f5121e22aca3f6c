"""Which TLS certificate each outbound connection must meet: per destination, the leaves the
signed directory lists (docs/PROTOCOL.md "Pinned destinations"), as cached client contexts."""

from __future__ import annotations

import ssl
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import urlsplit

from lienthong.bootstrap.directory import DirectoryState
from lienthong.crypto.errors import LienthongError
from lienthong.crypto.pinning import pinned_client_context
from lienthong.crypto.x509 import client_context
from lienthong.node.config import Config
from lienthong.node.context import NodeContext, ServiceKey
from lienthong.node.datadir import passphrase_of

# Contexts kept: one per destination with its pins; a context costs a certificate load, and
# a province has a few hundred destinations at most.
MAX_CACHED_CONTEXTS = 1024


class PinnedDestinationUnknown(LienthongError):
    """The directory lists no certificate for a destination: it cannot be reached safely."""


class Pinning:
    """TLS client contexts of one node: `for_unit(code)` for a unit's peer API,
    `for_url(url)` for the centre or a relay, `unpinned()` only before the directory is known
    (enrolment and the first directory fetch, whose answers are root-signed)."""

    def __init__(self, config: Config, directory: DirectoryState, clock: Callable[[], int]):
        self.config = config
        self.directory = directory
        self.clock = clock
        self._contexts: OrderedDict[frozenset[bytes], ssl.SSLContext] = OrderedDict()
        self._plain: ssl.SSLContext | None = None

    def unpinned(self) -> ssl.SSLContext:
        if self._plain is None:
            c = self.config
            self._plain = client_context(
                c.tls_cert_path, c.tls_key_path, c.ca_path, passphrase_of(c)
            )
        return self._plain

    def pins_of_unit(self, code: str) -> frozenset[bytes]:
        current = self.directory.current
        if current is None:
            return frozenset()
        return current.tls_pins(code, self.clock())

    def for_unit(self, code: str) -> ssl.SSLContext:
        """The context for a connection to `code`'s server; PinnedDestinationUnknown if the
        directory lists no valid certificate for it (nothing is sent then)."""
        pins = self.pins_of_unit(code)
        if not pins:
            raise PinnedDestinationUnknown(f"no valid certificate of {code} in the directory")
        return self._context(pins)

    def for_url(self, url: str) -> ssl.SSLContext:
        """The context for the centre or a relay at `url`: pinned to the units whose
        certificates list that base URL; unpinned only while no directory is held."""
        current = self.directory.current
        if current is None:
            return self.unpinned()
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        codes = current.codes_serving(base) or current.codes_serving(url.split("/v1/", 1)[0])
        pins = frozenset().union(*(self.pins_of_unit(c) for c in codes)) if codes else frozenset()
        if not pins:
            raise PinnedDestinationUnknown(f"no certificate in the directory serves {base}")
        return self._context(pins)

    def forget(self) -> None:
        """Drop every context made so far: the node's TLS certificate changed (a renewal),
        and the next contexts load the new files."""
        self._contexts.clear()
        self._plain = None

    def _context(self, pins: frozenset[bytes]) -> ssl.SSLContext:
        context = self._contexts.get(pins)
        if context is None:
            c = self.config
            context = pinned_client_context(
                c.tls_cert_path, c.tls_key_path, c.ca_path, pins, passphrase_of(c)
            )
            self._contexts[pins] = context
            while len(self._contexts) > MAX_CACHED_CONTEXTS:
                self._contexts.popitem(last=False)
        else:
            self._contexts.move_to_end(pins)
        return context


PINNING = ServiceKey("pinning", Pinning)


def pinning_of(ctx: NodeContext) -> Pinning:
    """The node's pinned TLS contexts, made on first use."""
    return ctx.services.get_or_make(PINNING, lambda: Pinning(ctx.config, ctx.directory, ctx.clock))
