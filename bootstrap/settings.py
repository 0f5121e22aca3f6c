"""What bootstrap/ reads of a node's configuration, as plain typed values.

bootstrap/ sits below node/, where node.toml is read (node/config.py), so it
cannot take node's Config: node/ builds these from it (Config.node_settings,
Config.federation) and hands them down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Federation:
    """node.toml's [federation] section: where the centre is and how often to ask it."""

    centre_url: str  # "" until enrolment sets it; then the directory in force names one
    centre_fingerprint: str  # the centre's root key fingerprint, pinned; "" until enrolment
    directory_refresh_seconds: int
    directory_warn_hours: int


@dataclass(frozen=True)
class NodeSettings:
    """A node's identity, its files and its federation, for enrolment and key rotation."""

    data_dir: Path
    code: str  # organisation code (mã định danh)
    name: str
    reachable: bool  # other nodes can connect to peer_url (false behind NAT)
    peer_url: str  # the URL published in the directory when reachable
    store_path: Path
    store_synchronous: str  # SQLite synchronous setting for the store
    identity_key_path: Path
    tls_key_path: Path
    tls_cert_path: Path
    ca_path: Path
    certificate_path: Path  # the node certificate the centre issued (wire bytes)
    federation: Federation


# Records in node.toml the centre a node enrolled with: (centre URL, pinned fingerprint).
SaveFederation = Callable[[str, str], None]
