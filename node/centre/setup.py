"""`lienthong centre init`: the centre's keys, CA, TLS certificate, config and first directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lienthong.crypto import x509 as tls
from lienthong.crypto.files import create_private, make_private_dir
from lienthong.crypto.keys import NodeKeys
from lienthong.crypto.keystore import save_keys
from lienthong.node import config as cfg
from lienthong.node.centre.errors import CentreError
from lienthong.node.centre.issuer import MS_PER_DAY, ca_key_path, ca_private_key, utc_datetime
from lienthong.node.centre.rules import Centre
from lienthong.storage.centre import list_units
from lienthong.storage.db import unix_ms
from lienthong.storage.store_pg import open_store

DEFAULT_CENTRE_CODE = "000.00.00.H53"  # the provincial IT centre of Tây Ninh (H53)
DEFAULT_CENTRE_LISTEN = "127.0.0.1:7000"
# The CA lives as long as the root key it shares or that endorses it: replacing it means
# every unit installs a new one (a new root key: a new fingerprint to pin), so it is made to
# outlast any deployment (docs/FEDERATION.md).
CA_VALIDITY_DAYS = 20 * 365


@dataclass(frozen=True)
class CentreCreated:
    data_dir: Path
    code: str
    name: str
    url: str
    fingerprint: str
    serial: int  # of the centre's own node certificate
    tls_key: str = tls.ED25519  # the algorithm of every TLS key of the federation


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
    tls_key: str = tls.ED25519,
    database: str = "",
    clock: Callable[[], int] = unix_ms,
) -> CentreCreated:
    """Create a centre in an empty data directory.

    1. Check the settings as node.toml will hold them.
    2. Root key (keys/root.key, sealed with the passphrase if given) and identity key.
    3. The X.509 CA certificate (tls/ca.pem). With `tls_key` ed25519 (the default) its key
       is the root key; with ecdsa-p256 it is a new P-256 key (keys/ca.key, sealed with the
       same passphrase) that the root key endorses in the certificate (docs/FEDERATION.md,
       "TLS key algorithm").
    4. The centre's TLS key (keys/tls.key, of the CA's algorithm), certified with its
       identity under serial 1,
       and the first signed directory, both in the store: the SQLite file of the data
       directory, or the empty PostgreSQL database at `database` (centre.database).
    5. node.toml last: its presence marks a complete centre.
    """
    data_dir = Path(data_dir)
    if tls_key not in tls.TLS_ALGORITHMS:
        raise CentreError(
            f"--tls-key {tls_key!r} is not one of {', '.join(tls.TLS_ALGORITHMS)}: ed25519 "
            "(the default), or ecdsa-p256 for office software on Windows (SChannel, .NET)"
        )
    config_path = data_dir / cfg.CONFIG_FILE
    values = {
        "unit": {"code": code, "name": name},
        "node": {"role": "centre", "listen": listen, "public_url": public_url}
        | ({"web": web} if web else {}),
        "centre": {"require_approval": require_approval}
        | ({"database": database} if database else {}),
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
    if tls_key == tls.ED25519:
        ca_key, endorsement = ca_private_key(root), None
    else:
        ca_key = tls.generate_tls_key(tls_key)
        endorsement = tls.endorse_ca_key(root.signing, ca_key.public_key())
        _write_private(ca_key_path(config), tls.key_to_pem(ca_key, passphrase))
    ca = tls.issue_ca(
        ca_key,
        f"{name} (lienthong CA)",
        not_before=utc_datetime(now - skew),
        not_after=utc_datetime(now + CA_VALIDITY_DAYS * MS_PER_DAY),
        endorsement=endorsement,
    )
    config.ca_path.write_bytes(tls.cert_to_pem(ca))
    own_tls_key = tls.generate_tls_key(tls_key)
    _write_private(config.tls_key_path, tls.key_to_pem(own_tls_key))
    tls_public = tls.public_key_bytes(own_tls_key.public_key())

    async with await open_store(config.store_path, database=database, clock=clock) as store:
        async with store.read() as conn:
            if database and await list_units(conn):
                raise CentreError(
                    f"the database {store.path} holds a centre already: give centre init an "
                    "empty database (createdb), or run this centre's workers with a copy of "
                    "the data directory of the centre it holds (docs/OPERATIONS.md)"
                )
        centre = Centre(config, store, root, clock=clock, ca_key=ca_key)
        own = await centre.issue_own(identity, tls_public)
    config.tls_cert_path.write_bytes(own.tls_pem)
    config_path.write_text(cfg.render(checked), encoding="utf-8")
    return CentreCreated(data_dir, code, name, centre.url, centre.fingerprint, own.serial, tls_key)
