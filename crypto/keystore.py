"""Key files in the data directory: JSON, owner-only (crypto/files.py), optionally sealed with a
passphrase."""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.public
import nacl.pwhash.argon2id as argon2id
import nacl.secret
import nacl.signing
import nacl.utils

from lienthong.crypto.errors import InsecureKeyFileError, KeystoreError, WrongPassphraseError
from lienthong.crypto.files import create_private, exposure, sync_directory
from lienthong.crypto.keys import NodeKeys

FORMAT = "lienthong-keys"
VERSION = 1
KDF_ALG = "argon2id13"

# Defaults for sealing: libsodium's MODERATE limits (3 passes, 256 MiB), because a key file
# is opened once per start and must resist an offline guessing attack if it is copied.
DEFAULT_OPSLIMIT = argon2id.OPSLIMIT_MODERATE
DEFAULT_MEMLIMIT = argon2id.MEMLIMIT_MODERATE
# Bounds on the limits read back from a file: a corrupted or planted file must not make the
# node allocate more than 1 GiB (libsodium's SENSITIVE level) or spin for minutes.
MAX_OPSLIMIT = argon2id.OPSLIMIT_SENSITIVE
MAX_MEMLIMIT = argon2id.MEMLIMIT_SENSITIVE
MIN_OPSLIMIT = argon2id.OPSLIMIT_MIN
MIN_MEMLIMIT = argon2id.MEMLIMIT_MIN

# A key file is about 400 bytes; anything far larger is not one of ours.
MAX_KEY_FILE_BYTES = 64 * 1024

_SECRET_BYTES = 64  # Ed25519 seed (32) || X25519 private key (32)
_HALF = 32


def save_keys(
    path: Path,
    keys: NodeKeys,
    passphrase: bytes | None = None,
    *,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
    overwrite: bool = False,
) -> None:
    """Write keys to path (owner-only, atomically), sealed when a passphrase is given.

    Refuses to replace an existing file unless overwrite=True.
    """
    path = Path(path)
    if passphrase is not None and len(passphrase) == 0:
        raise KeystoreError("passphrase for key file is empty; pass None to store unsealed")
    secret = keys.signing.encode() + keys.encryption.encode()
    document: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if passphrase is None:
        document |= {"sealed": False, "kdf": None, "nonce": None, "data": _b64(secret)}
    else:
        kdf = new_kdf(opslimit=opslimit, memlimit=memlimit)
        key = derive_key(passphrase, kdf, f"key file {path}")
        nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
        ciphertext = nacl.secret.SecretBox(key).encrypt(secret, nonce).ciphertext
        document |= {"sealed": True, "kdf": kdf, "nonce": _b64(nonce), "data": _b64(ciphertext)}
    payload = (json.dumps(document, indent=2) + "\n").encode("utf-8")
    _write_atomically(path, payload, overwrite=overwrite)


def load_keys(path: Path, passphrase: bytes | None = None) -> NodeKeys:
    """Read keys from path; the passphrase is needed only for a sealed file."""
    path = Path(path)
    document = _read_document(path)
    data = _b64_field(f"key file {path}", document, "data")
    if not document["sealed"]:
        if document["kdf"] is not None or document["nonce"] is not None:
            raise KeystoreError(f"key file {path} is unsealed but has a kdf or nonce")
        secret = data
    else:
        if passphrase is None:
            raise KeystoreError(f"key file {path} is sealed with a passphrase; none was given")
        secret = _open_sealed(path, document, data, passphrase)
    if len(secret) != _SECRET_BYTES:
        raise KeystoreError(
            f"key file {path}: key data is {len(secret)} bytes, expected {_SECRET_BYTES}"
        )
    return NodeKeys(nacl.signing.SigningKey(secret[:_HALF]), nacl.public.PrivateKey(secret[_HALF:]))


def is_sealed(path: Path) -> bool:
    """Whether the key file at path needs a passphrase to open."""
    return bool(_read_document(Path(path))["sealed"])


def new_kdf(
    *, opslimit: int = DEFAULT_OPSLIMIT, memlimit: int = DEFAULT_MEMLIMIT
) -> dict[str, Any]:
    """Fresh argon2id parameters (a random salt) to seal something with a passphrase, as
    they are stored beside what they seal (a key file's "kdf", a backup's header)."""
    salt = nacl.utils.random(argon2id.SALTBYTES)
    return {"alg": KDF_ALG, "opslimit": opslimit, "memlimit": memlimit, "salt": _b64(salt)}


def derive_key(passphrase: bytes, kdf: Any, where: str) -> bytes:
    """The 32-byte key argon2id derives from the passphrase under `kdf` (new_kdf's shape).

    `kdf` may come from a file: its algorithm, limits (MIN_/MAX_OPSLIMIT, MIN_/MAX_MEMLIMIT)
    and salt are checked first, and KeystoreError names `where` and the bad field.
    """
    if not isinstance(kdf, dict):
        raise KeystoreError(f"{where} is sealed but field 'kdf' is not an object")
    if kdf.get("alg") != KDF_ALG:
        raise KeystoreError(f"{where}: kdf.alg is {kdf.get('alg')!r}, expected {KDF_ALG!r}")
    opslimit = _int_in(where, kdf, "opslimit", MIN_OPSLIMIT, MAX_OPSLIMIT)
    memlimit = _int_in(where, kdf, "memlimit", MIN_MEMLIMIT, MAX_MEMLIMIT)
    salt = _b64_field(where, kdf, "salt", "kdf.salt")
    if len(salt) != argon2id.SALTBYTES:
        raise KeystoreError(
            f"{where}: kdf.salt is {len(salt)} bytes, expected {argon2id.SALTBYTES}"
        )
    return argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE, passphrase, salt, opslimit=opslimit, memlimit=memlimit
    )


def _open_sealed(path: Path, document: dict[str, Any], data: bytes, passphrase: bytes) -> bytes:
    where = f"key file {path}"
    nonce = _b64_field(where, document, "nonce")
    if len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
        raise KeystoreError(
            f"{where}: nonce is {len(nonce)} bytes, expected {nacl.secret.SecretBox.NONCE_SIZE}"
        )
    key = derive_key(passphrase, document["kdf"], where)
    try:
        return nacl.secret.SecretBox(key).decrypt(data, nonce)
    except nacl.exceptions.CryptoError:
        raise WrongPassphraseError(f"the passphrase does not open {where}") from None


def _read_document(path: Path) -> dict[str, Any]:
    """Check the file's type, mode and size, then parse and check the JSON envelope."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise KeystoreError(f"key file {path} does not exist") from None
    except OSError as exc:
        raise KeystoreError(f"cannot read key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeystoreError(f"key file {path} is not a regular file")
    try:
        exposed = exposure(path)  # mode bits on POSIX, the access list on Windows
    except OSError as exc:
        raise KeystoreError(f"cannot check who may read key file {path}: {exc.strerror}") from None
    if exposed is not None:
        raise InsecureKeyFileError(
            f"key file {path} is accessible by other users ({exposed.finding}); "
            f"fix it with: {exposed.fix}"
        )
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeystoreError(f"cannot read key file {path}: {exc.strerror}") from None
    if len(raw) > MAX_KEY_FILE_BYTES:
        raise KeystoreError(f"key file {path} is over the limit of {MAX_KEY_FILE_BYTES} bytes")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeystoreError(f"key file {path} is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(document, dict):
        raise KeystoreError(f"key file {path} does not hold a JSON object")
    if document.get("format") != FORMAT:
        raise KeystoreError(
            f"key file {path}: field 'format' is {document.get('format')!r}, expected {FORMAT!r}"
        )
    version = document.get("version")
    if type(version) is not int or version != VERSION:
        raise KeystoreError(f"key file {path}: unsupported version {version!r}, expected {VERSION}")
    for field in ("sealed", "kdf", "nonce", "data"):
        if field not in document:
            raise KeystoreError(f"key file {path}: field {field!r} is missing")
    if not isinstance(document["sealed"], bool):
        raise KeystoreError(f"key file {path}: field 'sealed' is not true or false")
    return document


def _b64_field(where: str, obj: dict[str, Any], field: str, label: str | None = None) -> bytes:
    value = obj.get(field)
    label = label or field
    if not isinstance(value, str):
        raise KeystoreError(f"{where}: field {label!r} is not a base64 string")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise KeystoreError(f"{where}: field {label!r} is not valid base64") from None


def _int_in(where: str, obj: dict[str, Any], field: str, low: int, high: int) -> int:
    value = obj.get(field)
    if type(value) is not int:
        raise KeystoreError(f"{where}: kdf.{field} is not an integer")
    if not low <= value <= high:
        raise KeystoreError(f"{where}: kdf.{field} {value} is outside {low}..{high}")
    return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _write_atomically(path: Path, payload: bytes, *, overwrite: bool) -> None:
    """Temp file created private beside path, fsync, then link (no clobber) or replace."""
    tmp = path.with_name(f".{path.name}.{nacl.utils.random(8).hex()}.tmp")
    try:
        file = create_private(tmp)
    except OSError as exc:
        raise KeystoreError(f"cannot create key file in {path.parent}: {exc.strerror}") from None
    try:
        try:
            with file:
                file.write(payload)
                file.flush()
                os.fsync(file.fileno())
            if overwrite:
                os.replace(tmp, path)
            else:
                # link() fails if path exists, so an existing key is never clobbered, even
                # by a concurrent writer.
                os.link(tmp, path)
        except FileExistsError:
            raise KeystoreError(
                f"key file {path} already exists; refusing to overwrite it"
            ) from None
        except OSError as exc:
            raise KeystoreError(f"cannot write key file {path}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
    sync_directory(path.parent)
