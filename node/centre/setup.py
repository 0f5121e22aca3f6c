"""`lienthong centre init`: the centre's keys, CA, TLS certificate, config and first directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lienthong.crypto import x509 as tls
from lienthong.crypto.files import create_private, make_private_dir
from lienthong.crypto.keys import NodeKeys
from lienthong.crypto.keystore import save_keys
from lienthong.node import config as cfg
from lienthong.node.centre.errors import CentreError
from lienthong.node.centre.issuer import MS_PER_DAY, ca_private_key, utc_datetime
from lienthong.node.centre.rules import Centre
from lienthong.storage.db import Store, unix_ms

DEFAULT_CENTRE_CODE = "000.00.00.H53"  # the provincial IT centre of Tây Ninh (H53)
DEFAULT_CENTRE_LISTEN = "127.0.0.1:7000"
# The CA lives as long as the root key it shares: replacing it means every unit pins a
# new fingerprint, so it is made to outlast any deployment (docs/FEDERATION.md).
CA_VALIDITY_DAYS = 20 * 365


@dataclass(frozen=True)
class CentreCreated:
    data_dir: Path
    code: str
    name: str
    url: str
    fingerprint: str
    serial: int  # of the centre's own node certificate


def _write_private(path: Path, data: bytes) -> None:
    """A new file created private (crypto/files.py; never replacing one)."""
    with create_private(path) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


async def create_centre(
    data_dir: Path,
    *,
    name: str,
    code: str = DEFAULT_CENTRE_CODE,
    listen: str = DEFAULT_CENTRE_LISTEN,
    public_url: str = "",
    web: str | None = None,
    require_approval: bool = False,
    passphrase: bytes | None = None,
    clock: Callable[[], int] = unix_ms,
) -> CentreCreated:
    """Create a centre in an empty data directory.

    1. Check the settings as node.toml will hold them.
    2. Root key (keys/root.key, sealed with the passphrase if given) and identity key.
    3. The X.509 CA certificate (tls/ca.pem), whose key is the root key.
    4. The centre's TLS key (keys/tls.key), certified with its identity under serial 1,
       and the first signed directory, both in the store.
    5. node.toml last: its presence marks a complete centre.
    """
    data_dir = Path(data_dir)
    config_path = data_dir / cfg.CONFIG_FILE
    values = {
        "unit": {"code": code, "name": name},
        "node": {"role": "centre", "listen": listen, "public_url": public_url}
        | ({"web": web} if web else {}),
        "centre": {"require_approval": require_approval},
    }
    checked = cfg.validate(values, str(config_path))
    config = cfg.Config(data_dir=data_dir, values=checked)
    for existing in (config_path, config.root_key_path, config.store_path):
        if existing.exists():
            raise CentreError(f"{existing} exists already: {data_dir} holds a node or centre")
    make_private_dir(data_dir, parents=True)
    os.chmod(data_dir, 0o700)  # one there already too (mode bits: nothing on Windows)
    make_private_dir(config.root_key_path.parent)
    config.ca_path.parent.mkdir(mode=0o755, exist_ok=True)

    root = NodeKeys.generate()
    save_keys(config.root_key_path, root, passphrase)
    identity = NodeKeys.generate()
    save_keys(config.path("keys", "identity"), identity)

    now = clock()
    skew = checked["security"]["clock_skew_seconds"] * 1000
    ca = tls.issue_ca(
        ca_private_key(root),
        f"{name} (lienthong CA)",
        not_before=utc_datetime(now - skew),
        not_after=utc_datetime(now + CA_VALIDITY_DAYS * MS_PER_DAY),
    )
    config.ca_path.write_bytes(tls.cert_to_pem(ca))
    tls_key = tls.generate_tls_key()
    _write_private(config.tls_key_path, tls.key_to_pem(tls_key))
    tls_public = tls_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    async with await Store.open(config.store_path, clock=clock) as store:
        centre = Centre(config, store, root, clock=clock)
        own = await centre.issue_own(identity, tls_public)
    config.tls_cert_path.write_bytes(own.tls_pem)
    config_path.write_text(cfg.render(checked), encoding="utf-8")
    return CentreCreated(data_dir, code, name, centre.url, centre.fingerprint, own.serial)
