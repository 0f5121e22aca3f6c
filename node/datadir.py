"""What a node keeps in its data directory and every command needs: opening its keys,
creating a new node, reading a passphrase file, saving node.toml atomically."""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lienthong.bootstrap.settings import SaveFederation
from lienthong.crypto.errors import LienthongError
from lienthong.crypto.files import make_private_dir
from lienthong.crypto.keys import NodeKeys
from lienthong.crypto.keystore import is_sealed, load_keys, save_keys
from lienthong.node import config as cfg

MAX_PASSPHRASE_FILE = 4096  # a passphrase is a line of text


def read_passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    data = Path(path).read_bytes()
    if len(data) > MAX_PASSPHRASE_FILE:
        raise LienthongError(
            f"{path}: a passphrase file holds one line ({MAX_PASSPHRASE_FILE} bytes max)"
        )
    return data.rstrip(b"\r\n")


def node_keys(config: cfg.Config) -> NodeKeys:
    """Open the identity key, with the passphrase from the configured environment variable."""
    path = config.path("keys", "identity")
    passphrase = passphrase_of(config)
    if is_sealed(path) and not passphrase:
        raise LienthongError(
            f"{path} is sealed with a passphrase: set keys.passphrase_file (a file holding it) "
            "or keys.passphrase_env (a variable holding it) in node.toml"
        )
    return load_keys(path, passphrase or None)


def create_node(
    data_dir: Path,
    values: dict[str, dict],
    *,
    passphrase: bytes | None = None,
) -> NodeKeys:
    """A new unit's data directory: keys (owner-only) and node.toml (written last). The
    unit code is checked by cfg.validate against the configured unit.code_pattern."""
    config_path = data_dir / cfg.CONFIG_FILE
    if config_path.exists():
        raise LienthongError(f"{config_path} exists already: this data directory holds a node")
    checked = cfg.validate({k: dict(v) for k, v in values.items()}, str(config_path))
    make_private_dir(data_dir, parents=True)
    os.chmod(data_dir, 0o700)  # one there already too (mode bits: nothing on Windows)
    keys = NodeKeys.generate()
    key_path = data_dir / checked["keys"]["identity"]
    make_private_dir(key_path.parent)
    save_keys(key_path, keys, passphrase)
    config_path.write_text(cfg.render(checked), encoding="utf-8")
    return keys


def config_saver(config: cfg.Config) -> Callable[[dict[str, dict[str, Any]]], None]:
    """A writer of the node's node.toml: validate, render and atomically replace it."""
    path = config.data_dir / cfg.CONFIG_FILE

    def save(values: dict[str, dict[str, Any]]) -> None:
        checked = cfg.validate(copy.deepcopy(values), str(path))
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(cfg.render(checked), encoding="utf-8")
        os.replace(tmp, path)

    return save


def federation_saver(config: cfg.Config) -> SaveFederation:
    """A save_federation for bootstrap/: the centre's URL and its pinned root-key fingerprint
    into node.toml, every other value as `config` holds it."""
    save = config_saver(config)

    def save_federation(centre_url: str, fingerprint: str) -> None:
        values = copy.deepcopy(config.values)
        values["federation"]["centre_url"] = centre_url
        values["federation"]["centre_fingerprint"] = fingerprint
        save(values)

    return save_federation


def passphrase_of(config: cfg.Config) -> bytes | None:
    """The key passphrase: from the environment variable node.toml names, else from the file
    it names (a systemd credential: `$CREDENTIALS_DIRECTORY/...`); None if neither is set."""
    env = config.get("keys", "passphrase_env")
    value = os.environ.get(env, "") if env else ""
    if value:
        return value.encode()
    file = config.get("keys", "passphrase_file")
    if not file:
        return None
    path = Path(os.path.expandvars(file))
    if "$" in str(path):
        raise LienthongError(f"keys.passphrase_file = {file!r}: a variable in it is not set")
    try:
        return read_passphrase(path if path.is_absolute() else config.data_dir / path)
    except OSError as exc:
        raise LienthongError(f"keys.passphrase_file: cannot read {path}: {exc}") from None


ROOT_PASSPHRASE_ENV = "LIENTHONG_ROOT_PASSPHRASE"  # noqa: S105 - a variable name
# The systemd credential holding it (LoadCredential=root-passphrase:/etc/lienthong/...).
ROOT_PASSPHRASE_CREDENTIAL = "root-passphrase"  # noqa: S105 - a file name


def root_passphrase() -> bytes | None:
    """The centre's root key passphrase: $LIENTHONG_ROOT_PASSPHRASE, else the systemd
    credential `root-passphrase`; None if neither is there."""
    value = os.environ.get(ROOT_PASSPHRASE_ENV)
    if value:
        return value.encode()
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    path = Path(credentials) / ROOT_PASSPHRASE_CREDENTIAL if credentials else None
    return read_passphrase(path) if path is not None and path.is_file() else None


# Where each platform keeps a service's data: a node lives there when neither --data-dir
# nor $LIENTHONG_DATA_DIR names another place (docs/OPERATIONS.md, docs/WINDOWS.md).
SYSTEM_DATA_DIRS = {
    "Linux": "/var/lib/lienthong",
    "Windows": r"C:\ProgramData\lienthong",
    "macOS": "/Library/Application Support/lienthong",
}


def default_data_dir() -> Path:
    """This platform's system location for a node's data (SYSTEM_DATA_DIRS; on Windows
    under %PROGRAMDATA%, wherever that is)."""
    if os.name == "nt":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "lienthong"
    if sys.platform == "darwin":
        return Path(SYSTEM_DATA_DIRS["macOS"])
    return Path(SYSTEM_DATA_DIRS["Linux"])
