"""Shared pieces of the vector generators: fixed keys, hex/JSON helpers, altered copies."""

from __future__ import annotations

import hashlib
from typing import Any

from lienthong.crypto import signing
from lienthong.protocol import wire
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.limits import MAX_DIRECTORY_BYTES
from tests.protocol.fixtures import NOW, counter_random, keys

MINUTE = 60_000
DAY = 86_400_000
OUTSIDER = "000.00.09.H53"  # a unit of the federation that no vector addresses
ROOT = keys("root")
ENV_ID = new_ulid(NOW, counter_random("envelope-id"))  # the id of envelope letter-2340


def hx(data: bytes) -> str:
    return bytes(data).hex()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def jsonable(value: Any) -> Any:
    """The JSON form of a decoded msgpack value: binary becomes lowercase hex."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def key_table(*entries: tuple[str, int, str]) -> dict[str, str]:
    """Signer hint "<code>:<serial>" -> Ed25519 public key hex, as a directory would answer."""
    return {f"{code}:{serial}": hx(keys(owner).sign_public) for code, serial, owner in entries}


def split(raw: bytes) -> wire.SignedWrapper:
    return wire.unwrap(raw, what="vector", max_bytes=MAX_DIRECTORY_BYTES)


def inner(raw: bytes) -> dict:
    """The signed map inside a wrapper, decoded (for making altered copies)."""
    return wire.unpack(split(raw).signed, what="vector", max_bytes=MAX_DIRECTORY_BYTES)


def resign(signed_map: Any, domain: str, signer: str, owner: str) -> bytes:
    """Pack `signed_map`, sign it with keys(owner) in `domain`, wrap it under hint `signer`."""
    signed = wire.pack(signed_map)
    return wire.wrap(signed, signing.sign(keys(owner).signing, domain, signed), signer)


def flip_signed_byte(raw: bytes) -> bytes:
    """The same wrapper with one bit of the signed bytes changed, the signature kept."""
    w = split(raw)
    signed = bytearray(w.signed)
    signed[-3] ^= 0x01
    return wire.wrap(bytes(signed), w.sig, w.signer)


def rehint(raw: bytes, signer: str) -> bytes:
    """The same signed bytes and signature under another signer hint."""
    w = split(raw)
    return wire.wrap(w.signed, w.sig, signer)


def vector(name: str, description: str, raw: bytes | None, expected: dict, **extra: Any) -> dict:
    """One vector: name, description, the bytes as hex, its inputs, and the expected result."""
    out: dict[str, Any] = {"name": name, "description": description}
    out["bytes"] = None if raw is None else hx(raw)
    out.update(extra)
    out["expected"] = expected
    return out


def oversized(limit: int) -> dict:
    """An input one byte over `limit`, described (length and fill byte) rather than stored."""
    return {"length": limit + 1, "fill": "80"}


def err(name: str) -> dict:
    return {"error": name}


def file_document(name: str, note: str, vectors: list[dict], **extra: Any) -> dict:
    return {
        "file": name,
        "spec": "docs/PROTOCOL.md",
        "generator": "tests/vectors/generate.py",
        "note": note,
        **extra,
        "vectors": vectors,
    }
