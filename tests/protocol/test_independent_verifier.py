"""A second verifier, written from docs/PROTOCOL.md alone, agrees with every vector.

It uses msgpack and PyNaCl directly (and `cryptography` to parse X.509) and imports
nothing from protocol/ or crypto/: if it reaches the expected result for each envelope
(versions 1 and 2: what it reads, what it prints, and what it writes for a version-1
reader), status, stream and CA certificate vector, the specification is enough to build
a compatible node.
"""

from __future__ import annotations

import ast
import base64
import datetime as dt
import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import msgpack
import nacl.bindings as sodium
import nacl.public
import nacl.signing
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

VECTORS = Path(__file__).parents[1] / "vectors"

# Section 11 of the spec.
ENVELOPE_LIMIT = 1_048_576
STATUS_LIMIT = 16_384
MAP_KEYS = 64
SHORT = 256
CHUNK = 65_536
ABYTES = 17
HEADER = 24
# Sections 2, 3.
# "Every pattern matches the whole string, ASCII only": re.ASCII, and fullmatch below.
ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", re.ASCII)
UNIT = re.compile(r"[0-9A-Za-z]{1,8}(\.[0-9A-Za-z]{1,8}){1,7}", re.ASCII)
HEX64 = re.compile(r"[0-9a-f]{64}", re.ASCII)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
STATUS_CODES = {1, 2, 3, 4, 5, 6, 13, 15, 16}
REQUIRED = {
    1: ("receipt",),
    2: ("reason",),
    3: ("number", "year"),
    4: ("assignee",),
    16: ("reason",),
}
AUTHORITIES = {"", "KT.", "TL.", "TM.", "TUQ."}
T48 = 2**48 - 1
# Sections 1.2, 4 and 5: envelope versions and the document of version 2.
ENVELOPE_VERSIONS = (1, 2)
MAX_TARGETS = 32
NUMBER = re.compile(r"[0-9]{1,9}", re.ASCII)
SCHEDULED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}", re.ASCII)
EXTENSION_NAME = re.compile(r"[a-z][a-z0-9_.\-]{0,63}", re.ASCII)
MAX_EXTENSIONS = 32
MAX_APPENDIXES = 64
MAX_STEERING_TYPE = 99
COUNT = 10**6


class Refused(Exception):
    """The verifier's single outcome for a refused input: the error name of section 12."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"{name}: {why}")
        self.name = name


def decode(data: bytes, limit: int) -> Any:
    """Section 1: size first, exactly one value, no ext, no duplicate keys."""
    if len(data) > limit:
        raise Refused("LimitExceeded", f"{len(data)} > {limit}")
    if not data:
        raise Refused("DecodeError", "empty")

    def pairs(items):
        out = dict(items)
        if len(out) != len(items):
            raise ValueError("duplicate map key")
        return out

    def no_ext(code, data):
        raise ValueError("ext type")

    unpacker = msgpack.Unpacker(
        raw=False,
        strict_map_key=True,
        object_pairs_hook=pairs,
        ext_hook=no_ext,
        max_buffer_size=len(data),
    )
    unpacker.feed(data)
    try:
        value = unpacker.unpack()
    except Exception as exc:
        raise Refused("DecodeError", repr(exc)) from None
    if unpacker.tell() != len(data):
        raise Refused("DecodeError", "trailing bytes")
    return value


class Map:
    """Strict reading of one map: typed fields, then no unknown key."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise Refused("InvalidField", f"{where}: not a map")
        if len(value) > MAP_KEYS:
            raise Refused("LimitExceeded", f"{where}: {len(value)} keys")
        self.value, self.where, self.seen = value, where, set()

    def bad(self, key: str, why: str) -> Refused:
        return Refused("InvalidField", f"{self.where}.{key}: {why}")

    def get(self, key: str, optional: bool = False) -> Any:
        self.seen.add(key)
        value = self.value.get(key)
        if value is None and not optional:
            raise self.bad(key, "missing")
        return value

    def text(self, key, lo=0, hi=SHORT, optional=False, pattern=None, choices=None):
        v = self.get(key, optional)
        if v is None:
            return None
        if not isinstance(v, str) or not lo <= len(v) <= hi:
            raise self.bad(key, "text")
        if pattern is not None and not pattern.fullmatch(v):
            raise self.bad(key, "shape")
        if choices is not None and v not in choices:
            raise self.bad(key, "choice")
        return v

    def code(self, key, optional=False):
        return self.text(key, 1, 32, optional, UNIT)

    def ulid(self, key, optional=False):
        return self.text(key, 26, 26, optional, ULID)

    def date(self, key, optional=False):
        v = self.text(key, 10, 10, optional, DATE)
        if v is not None:
            try:
                dt.date.fromisoformat(v)
            except ValueError:
                raise self.bad(key, "not a date") from None
        return v

    def integer(self, key, lo=0, hi=T48, optional=False):
        v = self.get(key, optional)
        if v is None:
            return None
        if type(v) is not int or not lo <= v <= hi:
            raise self.bad(key, "integer")
        return v

    def binary(self, key, size=None, hi=None, optional=False):
        v = self.get(key, optional)
        if v is None:
            return None
        if not isinstance(v, bytes) or (size is not None and len(v) != size):
            raise self.bad(key, "binary")
        if hi is not None and len(v) > hi:
            raise self.bad(key, "binary too long")
        return v

    def array(self, key, most):
        v = self.get(key)
        if not isinstance(v, list):
            raise self.bad(key, "not an array")
        if len(v) > most:
            raise Refused("LimitExceeded", f"{self.where}.{key}: {len(v)} items")
        return v

    def texts(self, key, most=256, hi=SHORT):
        items = self.array(key, most)
        if any(not isinstance(i, str) or len(i) > hi for i in items):
            raise self.bad(key, "items")
        return items

    def done(self) -> None:
        if set(self.value) - self.seen:
            raise self.bad(str(sorted(map(str, set(self.value) - self.seen))), "unknown field")


def unwrap(raw: bytes, limit: int) -> tuple[bytes, bytes, str]:
    """Section 2 / 4.2 steps 1-2."""
    w = Map(decode(raw, limit), "wrapper")
    signed = w.binary("signed", hi=limit)
    sig = w.binary("sig", size=64)
    signer = w.text("signer", 1, 48)
    w.done()
    return signed, sig, signer


def split_hint(hint: str) -> tuple[str, int]:
    """Section 2: split at the last ':', ASCII digits after, a wire-shaped code before."""
    code, sep, serial = hint.rpartition(":")
    if not sep or not re.fullmatch(r"[0-9]{1,15}", serial, re.ASCII) or len(code) > 32:
        raise Refused("InvalidField", f"signer hint {hint!r}")
    if not UNIT.fullmatch(code):
        raise Refused("InvalidField", f"signer hint code {code!r}")
    return code, int(serial)


def check_signature(key: bytes, domain: str, signed: bytes, sig: bytes) -> None:
    """Section 2.1: Ed25519 over ASCII(domain) || 0x00 || signed."""
    try:
        nacl.signing.VerifyKey(key).verify(domain.encode() + b"\x00" + signed, sig)
    except Exception:
        raise Refused("BadSignature", domain) from None


def signed_message(
    raw: bytes, limit: int, domain: str, kind: str, keys: dict, versions: tuple[int, ...] = (1,)
) -> tuple[Map, str, int]:
    """Steps 1-7 shared by envelopes and statuses; returns the top map and the hint."""
    signed, sig, hint = unwrap(raw, limit)
    code, serial = split_hint(hint)
    if f"{code}:{serial}" not in keys:
        raise Refused("UnknownSigner", hint)
    check_signature(bytes.fromhex(keys[f"{code}:{serial}"]), domain, signed, sig)
    top = Map(decode(signed, limit), kind)
    for key in ("v", "kind"):
        if key not in top.value:
            raise top.bad(key, "missing")
        top.seen.add(key)
    if type(top.value["v"]) is not int or top.value["v"] not in versions:
        raise Refused("UnknownVersion", repr(top.value["v"]))
    if top.value["kind"] != kind:
        raise Refused("UnknownKind", repr(top.value["kind"]))
    return top, code, serial


def hexed(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: hexed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hexed(v) for v in value]
    return value


def stream_size(size: int) -> int:
    return HEADER + size + (size // CHUNK + 1) * ABYTES


def verify_envelope(raw: bytes, keys: dict) -> tuple[int, dict, dict]:
    """Section 4.2; returns the version, the header and the body maps."""
    top, code, serial = signed_message(
        raw, ENVELOPE_LIMIT, "lienthong/v1/envelope", "envelope", keys, ENVELOPE_VERSIONS
    )
    version = top.value["v"]
    h = Map(top.get("header"), "header")
    header = {
        "id": h.ulid("id"),
        "business": h.text("business", choices={"new", "update", "replace"}),
        "sender": h.code("sender"),
        "serial": h.integer("serial", hi=2**53),
        "recipients": h.array("recipients", 1024),
        "created": h.integer("created"),
        "reply_to": h.ulid("reply_to", optional=True),
    }
    if version == 1:
        header["target"] = h.ulid("target", optional=True)
        targets = [] if header["target"] is None else [header["target"]]
    else:
        targets = header["targets"] = h.array("targets", MAX_TARGETS)
        if any(not isinstance(t, str) or not ULID.fullmatch(t) for t in targets):
            raise Refused("InvalidField", "targets[i]")
        if len(set(targets)) != len(targets):
            raise Refused("InvalidField", "target twice")
    header["blobs"] = []
    recipients = header["recipients"]
    if not recipients or any(not isinstance(r, str) or not UNIT.fullmatch(r) for r in recipients):
        raise Refused("InvalidField", "recipients")
    if len(set(recipients)) != len(recipients):
        raise Refused("InvalidField", "recipient twice")
    wanted = {"new": (0, 0), "update": (1, 1), "replace": (1, MAX_TARGETS)}[header["business"]]
    if not wanted[0] <= len(targets) <= wanted[1]:
        raise Refused("InvalidField", "business/targets")
    for item in h.array("blobs", 256):
        b = Map(item, "blob")
        header["blobs"].append(
            {"id": b.text("id", 64, 64, pattern=HEX64), "size": b.integer("size", hi=2**63)}
        )
        b.done()
    h.done()
    body = Map(top.get("body"), "body")
    sealed = body.array("keys", 1024)
    body.binary("nonce", size=24)
    body.binary("ciphertext", hi=ENVELOPE_LIMIT)
    body.done()
    top.done()
    if len(sealed) != len(recipients) or any(
        not isinstance(k, bytes) or len(k) != 80 for k in sealed
    ):
        raise Refused("InvalidField", "keys")
    if (header["sender"], header["serial"]) != (code, serial):
        raise Refused("SignerMismatch", f"{code}:{serial}")
    return version, header, top.value["body"]


def open_body(version: int, header: dict, body: dict, unit: dict) -> tuple[bytes, dict]:
    """Section 4.3; returns the content key and the decoded body map."""
    if unit["code"] not in header["recipients"]:
        raise Refused("NotARecipient", unit["code"])
    sealed = body["keys"][header["recipients"].index(unit["code"])]
    box = nacl.public.SealedBox(nacl.public.PrivateKey(bytes.fromhex(unit["x25519_private"])))
    try:
        content_key = box.decrypt(sealed)
        aad = b"lienthong/v1/body\x00" + header["id"].encode("ascii")
        plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            body["ciphertext"], aad, body["nonce"], content_key
        )
    except Exception:
        raise Refused("DecodeError", "does not decrypt") from None
    document = decode(plain, ENVELOPE_LIMIT)
    check_document(document, version)
    if version == 2 and header["business"] != "new" and not document["business"].get("reason"):
        raise Refused("InvalidField", "business.reason")
    manifest = [{"id": a["blob"], "size": stream_size(a["size"])} for a in document["attachments"]]
    if manifest != header["blobs"]:
        raise Refused("InvalidField", "header.blobs")
    return content_key, document


def check_document(value: Any, version: int) -> None:
    """Section 5: the body of the envelope's version."""
    top = Map(value, "document")
    found = top.get("v", optional=True)
    if found is None:
        found = 1
    elif type(found) is not int or found != 2:
        raise top.bad("v", "neither absent nor 2")
    if found != version:
        raise top.bad("v", f"a body of version {found} in an envelope of {version}")
    if version == 1:
        check_metadata_v1(top.get("metadata"))
    else:
        check_metadata(top.get("metadata"))
        check_business(top.get("business"))
    check_attachments(top)
    top.done()


def check_metadata(value: Any) -> None:
    """Section 5.1: the metadata of version 2."""
    m = Map(value, "metadata")
    issuer = Map(m.get("issuer"), "issuer")
    issuer.text("name", 1)
    issuer.code("code", optional=True)
    for key in ("parent", "in_charge", "address", "email", "phone", "fax"):
        issuer.text(key, optional=True)
    issuer.text("website", hi=512, optional=True)
    issuer.done()
    s = Map(m.get("signer"), "signer")
    authority = s.text("authority", choices=AUTHORITIES)
    acts_for = s.text("acts_for")
    s.text("position", 1)
    s.text("name", 1)
    s.done()
    if bool(authority) != bool(acts_for.strip()):
        raise s.bad("acts_for", "with an authority, and only then")
    number = m.text("number", hi=9, optional=True)
    if number is not None and not NUMBER.fullmatch(number):
        raise m.bad("number", "not ASCII digits")
    urgency = m.integer("urgency", hi=4)
    scheduled = m.text("scheduled_at", hi=16, optional=True)
    if (urgency == 4) != (scheduled is not None):
        raise m.bad("scheduled_at", "with urgency 4, and only then")
    if scheduled is not None:
        if not SCHEDULED.fullmatch(scheduled):
            raise m.bad("scheduled_at", "shape")
        try:
            dt.datetime.strptime(scheduled, "%Y-%m-%dT%H:%M")
        except ValueError:
            raise m.bad("scheduled_at", "not a time") from None
    m.integer("year", 1900, 9999, optional=True)
    notation = m.text("notation", hi=64)
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in notation):
        raise m.bad("notation", "a space or a hidden character")
    m.text("type", 1, 16)
    m.text("type_name", optional=True)
    m.text("place", 1)
    m.date("issued_on")
    m.text("subject", 1, 2000)
    m.text("content", hi=65_536, optional=True)
    m.integer("confidentiality", hi=3)
    m.date("due_on", optional=True)
    m.texts("addressees")
    m.texts("distribution")
    m.integer("copies", hi=COUNT, optional=True)
    m.integer("pages", hi=COUNT, optional=True)
    m.text("drafter", optional=True)
    m.integer("steering_type", hi=MAX_STEERING_TYPE, optional=True)
    m.text("sphere", optional=True)
    m.texts("appendixes", most=MAX_APPENDIXES)
    check_extensions(m.get("ext"))
    m.done()


def check_extensions(value: Any) -> None:
    """Section 5.4: at most 32 fields, lowercase names, simple values."""
    ext = Map(value, "ext")
    if len(ext.value) > MAX_EXTENSIONS:
        raise Refused("LimitExceeded", f"{len(ext.value)} extension fields")
    for name, item in ext.value.items():
        if not isinstance(name, str) or not EXTENSION_NAME.fullmatch(name):
            raise ext.bad(repr(name), "not an extension field name")
        if type(item) is bool or (type(item) is int and -(2**63) <= item < 2**63):
            continue
        if isinstance(item, str) and len(item) <= 2000:
            continue
        if isinstance(item, list):
            ext.texts(name)  # at most 256 texts of at most 256 characters
            continue
        raise ext.bad(name, "not a text, an integer, a boolean or texts")


def check_business(value: Any) -> None:
    """Section 5.3."""
    b = Map(value, "business")
    b.text("reason", hi=4000, optional=True)
    if type(b.get("paper")) is not bool:
        raise b.bad("paper", "not a boolean")
    if b.get("staff", optional=True) is not None:
        s = Map(b.get("staff"), "staff")
        s.text("name", 1)
        for key in ("department", "mobile", "email"):
            s.text(key)
        s.done()
    b.done()


def check_metadata_v1(value: Any) -> None:
    """Section 5.5: the metadata of version 1."""
    m = Map(value, "metadata")
    issuer = Map(m.get("issuer"), "issuer")
    issuer.text("name", 1)
    issuer.code("code", optional=True)
    issuer.text("parent", optional=True)
    issuer.done()
    if m.get("signer", optional=True) is not None:
        s = Map(m.get("signer"), "signer")
        s.text("name", 1)
        s.text("position")
        s.text("authority", choices=AUTHORITIES)
        s.done()
    m.integer("number", hi=10**9 - 1, optional=True)
    m.integer("year", 1900, 9999, optional=True)
    m.text("notation", hi=64)
    m.text("type", 1, 16)
    m.text("place")
    m.date("issued_on")
    m.text("subject", 1, 2000)
    m.text("content", hi=65_536, optional=True)
    m.integer("urgency", hi=3)
    m.integer("confidentiality", hi=3)
    m.date("due_on", optional=True)
    m.texts("addressees")
    m.texts("distribution")
    m.text("steering", hi=2000, optional=True)
    m.integer("copies", hi=10**6, optional=True)
    m.integer("pages", hi=10**6, optional=True)
    m.text("drafter", optional=True)
    m.done()


def check_attachments(top: Map) -> None:
    """Section 5.2."""
    for item in top.array("attachments", 256):
        a = Map(item, "attachment")
        name = a.text("name", 1)
        if any(c in name for c in "/\\\x00") or name in {".", ".."}:
            raise a.bad("name", "not a plain file name")
        if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
            raise a.bad("name", "holds a control or format character")
        spaces = "".join("s" if unicodedata.category(c) == "Zs" else "x" for c in name)
        if "ssss" in spaces or spaces[0] == "s" or spaces[-1] == "s" or name.endswith("."):
            raise a.bad("name", "spaces or a final dot hide where the name ends")
        if "." in name[1:] and spaces[name.rindex(".") - 1] == "s":
            raise a.bad("name", "a space before the extension")
        a.text("media_type", 3, 127)
        a.integer("size", hi=64 * 1024**3)
        a.binary("sha256", size=32)
        a.text("blob", 64, 64, pattern=HEX64)
        a.binary("key", size=32)
        a.done()


def read_version_1(body: dict) -> dict:
    """Section 5.5: the version-2 map of what a version-2 reader holds of a version-1 body."""
    m = body["metadata"]
    signer = m.get("signer")
    number = m.get("number")
    steering = m.get("steering")
    issuer = m["issuer"]
    return {
        "v": 2,
        "metadata": {
            "number": None if number is None else f"{number:02d}",
            "year": m.get("year"),
            "notation": m["notation"],
            "type": m["type"],
            "type_name": None,
            "issuer": {
                "name": issuer["name"],
                "code": issuer.get("code"),
                "parent": issuer.get("parent"),
                **dict.fromkeys(("in_charge", "address", "email", "phone", "fax", "website")),
            },
            "place": m["place"],
            "issued_on": m["issued_on"],
            "subject": m["subject"],
            "content": m.get("content"),
            "signer": None
            if signer is None
            else {
                "authority": signer["authority"],
                "acts_for": "",
                "position": signer["position"],
                "name": signer["name"],
            },
            "urgency": m["urgency"],
            "scheduled_at": None,
            "confidentiality": m["confidentiality"],
            "due_on": m.get("due_on"),
            "addressees": m["addressees"],
            "distribution": m["distribution"],
            "copies": m.get("copies"),
            "pages": m.get("pages"),
            "drafter": m.get("drafter"),
            "steering_type": None,
            "sphere": None,
            "appendixes": [],
            "ext": {"v1.steering": steering} if steering else {},
        },
        "business": {"reason": None, "paper": False, "staff": None},
        "attachments": body["attachments"],
    }


def write_version_1(body: dict) -> dict:
    """Section 5.5: what a node writes of a version-2 body for a reader of version 1."""
    m = body["metadata"]
    signer = m["signer"]
    issuer = m["issuer"]
    return {
        "metadata": {
            "number": None if m["number"] is None else int(m["number"]),
            "year": m["year"],
            "notation": m["notation"],
            "type": m["type"],
            "issuer": {"name": issuer["name"], "code": issuer["code"], "parent": issuer["parent"]},
            "place": m["place"],
            "issued_on": m["issued_on"],
            "subject": m["subject"],
            "content": m["content"],
            "signer": {
                "name": signer["name"],
                "position": signer["position"],
                "authority": signer["authority"],
            },
            "urgency": min(m["urgency"], 3),
            "confidentiality": m["confidentiality"],
            "due_on": m["due_on"],
            "addressees": m["addressees"],
            "distribution": m["distribution"],
            "steering": m["ext"].get("v1.steering"),
            "copies": m["copies"],
            "pages": m["pages"],
            "drafter": m["drafter"],
        },
        "attachments": body["attachments"],
    }


def printed(body: dict) -> dict:
    """Section 5.6: the printed number, edXML Competence and the signature block."""
    m = body["metadata"]
    number = m["number"] or ""
    year = "" if m["year"] is None else f"{m['year']}/"
    signer = m["signer"]
    if signer is None:
        return {"number": f"{number}/{year}{m['notation']}", "competence": None,
                "signature_block": None}  # fmt: skip
    if signer["authority"]:
        competence = f"{signer['authority']} {signer['acts_for'].upper()}"
        block = [competence, signer["position"].upper(), signer["name"]]
    else:
        competence = signer["position"].upper()
        block = [competence, signer["name"]]
    return {
        "number": f"{number}/{year}{m['notation']}",
        "competence": competence,
        "signature_block": block,
    }


def verify_status(raw: bytes, keys: dict) -> dict:
    """Section 7.1."""
    top, code, serial = signed_message(raw, STATUS_LIMIT, "lienthong/v1/status", "status", keys)
    status_code = top.integer("code", hi=255)
    if status_code not in STATUS_CODES:
        raise Refused("InvalidField", f"code {status_code}")
    staff = None
    if top.get("staff", optional=True) is not None:
        s = Map(top.get("staff"), "staff")
        staff = {"name": s.text("name", 1), "position": s.text("position")}
        s.done()
    receipt = top.binary("receipt", size=32, optional=True)
    found = {
        "id": top.ulid("id"),
        "envelope": top.ulid("envelope"),
        "sender": top.code("sender"),
        "serial": top.integer("serial", hi=2**53),
        "to": top.code("to"),
        "code": status_code,
        "at": top.integer("at"),
        "receipt": None if receipt is None else receipt.hex(),
        "number": top.integer("number", 1, 10**9, optional=True),
        "year": top.integer("year", 1900, 9999, optional=True),
        "reason": top.text("reason", hi=4000, optional=True),
        "assignee": top.text("assignee", optional=True),
        "staff": staff,
        "note": top.text("note", hi=4000, optional=True),
    }
    top.done()
    for name in REQUIRED.get(status_code, ()):
        if found[name] is None:
            raise Refused("InvalidField", f"{name} required for {status_code:02d}")
    if (found["sender"], found["serial"]) != (code, serial):
        raise Refused("SignerMismatch", f"{code}:{serial}")
    return found


def decrypt_stream(key: bytes, blob: bytes) -> bytes:
    """Section 6: 24-byte header, 65,553-byte pieces, the last one FINAL."""
    final_tag = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
    message_tag = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
    if len(blob) < HEADER:
        raise Refused("TruncatedStreamError", "no header")
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, blob[:HEADER], key)
    rest, out, final = blob[HEADER:], [], False
    pieces = [rest[i : i + CHUNK + ABYTES] for i in range(0, len(rest), CHUNK + ABYTES)]
    for i, piece in enumerate(pieces):
        if final:
            raise Refused("DecryptionError", "data after the final chunk")
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, piece, None)
        except Exception:
            if len(piece) == CHUNK + ABYTES:
                raise Refused("DecryptionError", f"chunk {i}") from None
            raise Refused("TruncatedStreamError", "last piece does not open") from None
        if tag not in (message_tag, final_tag):
            raise Refused("DecryptionError", f"tag {tag}")
        out.append(plain)
        final = tag == final_tag
    if not final:
        raise Refused("TruncatedStreamError", "no final chunk")
    return b"".join(out)


def input_bytes(v: dict, siblings: list[dict]) -> bytes:
    """Section 13: hex, or length + fill, or derived from another vector."""
    if v.get("oversized"):
        return bytes.fromhex(v["oversized"]["fill"]) * v["oversized"]["length"]
    if v.get("derived"):
        d = v["derived"]
        data = bytearray(input_bytes(next(s for s in siblings if s["name"] == d["from"]), siblings))
        if "truncate_to" in d:
            data = data[: d["truncate_to"]]
        if "xor" in d:
            data[d["xor"]["offset"]] ^= d["xor"]["mask"]
        return bytes(data)
    return bytes.fromhex(v["bytes"])


# Section 16.1.2: the root key's endorsement of an ECDSA P-256 CA key.
ENDORSEMENT_OID = "2.25.211955724722693188133728334495968640640"


def fingerprint(key: bytes) -> str:
    """Section 3.4."""
    digest = hashlib.sha256(b"lienthong/v1/fingerprint\x00" + key).digest()[:20]
    text = base64.b32encode(digest).decode()
    return "-".join(text[i : i + 4] for i in range(0, 32, 4))


def ca_root(der: bytes) -> dict:
    """Section 16.1.2: the root key a CA certificate stands for, and the TLS algorithm."""
    cert = x509.load_der_x509_certificate(der)
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:
        raise Refused("CertificateError", "not self-signed") from None
    key = cert.public_key()
    found = [e for e in cert.extensions if e.oid.dotted_string == ENDORSEMENT_OID]
    if isinstance(key, ed25519.Ed25519PublicKey):
        if found:
            raise Refused("CertificateError", "an Ed25519 CA with an endorsement")
        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        return {"algorithm": "ed25519", "root_key": key.public_bytes(*raw)}
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise Refused("CertificateError", "neither Ed25519 nor P-256")
    if len(found) != 1 or found[0].critical:
        raise Refused("CertificateError", "no endorsement, or a critical one")
    value = found[0].value.value
    if len(value) != 102 or value[:4] != b"\x30\x64\x04\x20" or value[36:38] != b"\x04\x40":
        raise Refused("CertificateError", "not the endorsement's DER")
    root, sig = value[4:36], value[38:]
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        nacl.signing.VerifyKey(root).verify(b"lienthong/v1/tls-ca\x00" + spki, sig)
    except Exception:
        raise Refused("CertificateError", "the endorsement does not verify") from None
    return {"algorithm": "ecdsa-p256", "root_key": root}


def run_tls_ca(v: dict) -> dict:
    found = ca_root(bytes.fromhex(v["bytes"]))
    root = found["root_key"]
    return {**found, "root_key": root.hex(), "root_fingerprint": fingerprint(root)}


def result(run) -> dict:
    try:
        return {"ok": run()}
    except Refused as exc:
        return {"error": exc.name}


def vectors(name: str) -> list:
    data = json.loads((VECTORS / name).read_text(encoding="utf-8"))["vectors"]
    return [pytest.param(v, data, id=v["name"]) for v in data]


def run_envelope(v: dict, siblings: list[dict]) -> dict:
    raw = input_bytes(v, siblings)
    version, header, body = verify_envelope(raw, v["keys"])
    found = {"v": version, "header": header, "sha256": hashlib.sha256(raw).hexdigest()}
    if "open_as" in v:
        content_key, document = open_body(version, header, body, v["open_as"])
        found["content_key"] = content_key.hex()
        found["body"] = hexed(document)
        if version == 1:
            document = read_version_1(document)
            found["document"] = hexed(document)
        found["printed"] = printed(document)
    return found


def run_stream(v: dict, siblings: list[dict]) -> dict:
    blob = input_bytes(v, siblings)
    plain = decrypt_stream(bytes.fromhex(v["key"]), blob)
    return {
        "blob_id": hashlib.sha256(blob).hexdigest(),
        "size": len(plain),
        "sha256": hashlib.sha256(plain).hexdigest(),
        "chunks": -(-(len(blob) - HEADER) // (CHUNK + ABYTES)),
    }


@pytest.mark.parametrize(("v", "siblings"), vectors("envelopes.json"))
def test_envelope_vectors_agree(v, siblings):
    """The spec-only verifier reaches each envelope vector's expected fields or error."""
    assert result(lambda: run_envelope(v, siblings)) == v["expected"]


def test_version_1_written_from_its_source_agrees():
    """What this verifier writes for a version-1 reader (5.5) of each vector's `source` is
    the body of that vector."""
    data = json.loads((VECTORS / "envelopes.json").read_text(encoding="utf-8"))["vectors"]
    sources = [v for v in data if "source" in v]
    assert sources
    for v in sources:
        assert write_version_1(v["source"]) == v["expected"]["ok"]["body"], v["name"]


@pytest.mark.parametrize(("v", "siblings"), vectors("statuses.json"))
def test_status_vectors_agree(v, siblings):
    """The spec-only verifier reaches each status vector's expected fields or error."""
    assert result(lambda: verify_status(input_bytes(v, siblings), v["keys"])) == v["expected"]


@pytest.mark.parametrize(("v", "siblings"), vectors("streams.json"))
def test_stream_vectors_agree(v, siblings):
    """The spec-only stream reader reaches each blob vector's digest or error."""
    assert result(lambda: run_stream(v, siblings)) == v["expected"]


@pytest.mark.parametrize(("v", "siblings"), vectors("tls_ca.json"))
def test_tls_ca_vectors_agree(v, siblings):
    """The spec-only CA check reaches each CA vector's root key and algorithm, or refuses."""
    assert result(lambda: run_tls_ca(v)) == v["expected"]


def test_receipt_of_status_01_is_the_hash_of_the_envelope():
    """Status 01's receipt is SHA-256 of the letter-2340 envelope bytes, as section 7 says."""
    envelopes = json.loads((VECTORS / "envelopes.json").read_text(encoding="utf-8"))["vectors"]
    statuses = json.loads((VECTORS / "statuses.json").read_text(encoding="utf-8"))["vectors"]
    letter = next(v for v in envelopes if v["name"] == "letter-2340")
    arrived = next(v for v in statuses if v["name"] == "status-01")
    assert (
        arrived["expected"]["ok"]["receipt"]
        == hashlib.sha256(bytes.fromhex(letter["bytes"])).hexdigest()
    )
    assert arrived["expected"]["ok"]["envelope"] == letter["expected"]["ok"]["header"]["id"]


def test_this_verifier_imports_nothing_of_ours():
    """The proof holds only if no module of protocol/, crypto/ or the generator is imported."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {
        "__future__",
        "ast",
        "base64",
        "cryptography",
        "datetime",
        "hashlib",
        "json",
        "re",
        "pathlib",
        "typing",
        "unicodedata",
        "msgpack",
        "nacl",
        "pytest",
    }
