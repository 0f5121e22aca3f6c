"""What every handler and worker of a running node shares: config, keys, store, directory,
and the services the runtime wires in (typed keys, never strings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from aiohttp import web

from lienthong.crypto.keys import NodeKeys
from lienthong.node.config import Config
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import Store

if TYPE_CHECKING:
    from lienthong.bootstrap.directory import DirectoryState

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class ServiceKey(Generic[T]):
    """The typed name of one service (like aiohttp's web.AppKey): declared beside the class
    it holds, so `services.get(DELIVERY)` is a DeliveryEngine, not an `object`."""

    name: str
    kind: type[T]

    def __repr__(self) -> str:
        return f"<ServiceKey {self.name}: {self.kind.__qualname__}>"


class Services:
    """The services of one running node, each under its ServiceKey."""

    def __init__(self) -> None:
        self._items: dict[ServiceKey[object], object] = {}

    def get(self, key: ServiceKey[T]) -> T | None:
        return cast("T | None", self._items.get(key))  # type: ignore[call-overload]

    def put(self, key: ServiceKey[T], value: T) -> None:
        if not isinstance(value, key.kind):
            raise TypeError(f"{key!r} holds {key.kind.__qualname__}, not {type(value).__name__}")
        self._items[key] = value  # type: ignore[index]

    def get_or_make(self, key: ServiceKey[T], make: Callable[[], T]) -> T:
        """The service under `key`, made by `make()` on first use."""
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value


def _nothing() -> None:
    return None


@dataclass
class NodeContext:
    config: Config
    keys: NodeKeys
    store: Store
    blobs: BlobStore
    directory: DirectoryState
    clock: Callable[[], int]  # unix milliseconds; injected so tests can travel in time
    services: Services = field(default_factory=Services)
    # Wakes the delivery engine after something was queued; a no-op until one runs.
    wake_delivery: Callable[[], None] = _nothing
    # Refusals of unknown callers already audited this run (node/peers.py bounds it).
    audited_strangers: set[str] = field(default_factory=set)


CONTEXT = web.AppKey("context", NodeContext)
