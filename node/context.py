"""What every handler and worker of a running node shares: config, keys, store, directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from lienthong.crypto.keys import NodeKeys
from lienthong.node.config import Config
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import Store

if TYPE_CHECKING:
    from lienthong.bootstrap.directory import DirectoryState


@dataclass
class NodeContext:
    config: Config
    keys: NodeKeys
    store: Store
    blobs: BlobStore
    directory: DirectoryState
    clock: Callable[[], int]  # unix milliseconds; injected so tests can travel in time
    extras: dict[str, object] = field(default_factory=dict)


CONTEXT = web.AppKey("context", NodeContext)
