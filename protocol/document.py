"""The official document carried inside an envelope: metadata and attachment manifest.

The fields follow Nghị định 30/2020/NĐ-CP and are a superset of the edXML
header of QCVN 102:2016 (docs/PROTOCOL.md maps each field to its edXML name).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal

import msgspec

from lienthong.protocol.codes import Confidentiality, Urgency
from lienthong.protocol.errors import InvalidField, LimitExceeded, ProtocolError
from lienthong.protocol.ids import BLOB_ID
from lienthong.protocol.limits import (
    MAX_ATTACHMENT_SIZE,
    MAX_ATTACHMENTS,
    MAX_CONTENT,
    MAX_LIST_ITEMS,
    MAX_REASON,
    MAX_SHORT_TEXT,
    MAX_SUBJECT,
    MAX_URL,
)
from lienthong.protocol.text import pattern
from lienthong.protocol.typed import binary, decoder, exact, integer, items, text
from lienthong.protocol.units import has_wire_shape
from lienthong.protocol.wire import Fields, is_date, unpack

SIGNING_AUTHORITIES = frozenset({"", "KT.", "TL.", "TM.", "TUQ."})
MAX_TYPE_CODE = 16
# Version 1 carried the number as an integer; version 2 writes at most nine digits.
MAX_V1_NUMBER = 10**9 - 1
MAX_MEDIA_TYPE = 127  # RFC 6838: type and subtype names are at most 127 characters each
# Unicode control (Cc) and format (Cf) characters: NUL, line breaks, and the
# direction overrides that make "report\u202efdp.exe" display as "reportexe.pdf".
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf"})
# Spaces in a row a file name may hold: "hop-dong.pdf" followed by 120 spaces and ".exe"
# shows as a PDF in any column too narrow for the whole name. Three cover every honest
# typing slip; a space right before the extension, or a name ending in a space or a dot
# (which Windows drops, changing the extension), is refused whatever the count.
MAX_NAME_SPACE_RUN = 3
# Version 2 fields (docs/PROTOCOL.md 5.1). edXML SteeringType is a small code; 0-99 leaves
# room for any list a ministry keeps. Appendixes are titles of annexed parts: a decision
# with more than 64 annexes does not exist. Copies and pages: a print run, not a library.
MAX_STEERING_TYPE = 99
MAX_APPENDIXES = 64
MAX_COUNT = 1_000_000
# Extension fields (5.4): fields a later version adds travel here, signed with the rest.
# 32 fields of at most MAX_SUBJECT characters keep the body far below MAX_ENVELOPE_BYTES.
MAX_EXTENSIONS = 32
EXTENSION_KEY = pattern("extension field name", r"[a-z][a-z0-9_.\-]{0,63}", "sphere.detail")
# "05", "2340": the number as the clerk wrote it, ASCII digits, leading zeros kept.
NUMBER = pattern("document number", "[0-9]{1,9}", "05")
# "2340/VP-TTTH" or "49/2012/QĐ-UBND": ASCII digits, then a notation of any letters (QĐ)
# without ASCII spaces or controls; other spaces and hidden characters are checked after.
NUMBER_NOTATION = pattern(
    "number and notation",
    r"([0-9]{1,9})(?:/([0-9]{4}))?/([^\x00-\x20\x7f]{1,64})",
    "49/2012/QĐ-UBND",
)
# Hỏa tốc hẹn giờ: the local time by which the document must reach its recipients.
SCHEDULED_TIME = pattern(
    "scheduled time", "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}", "2025-11-24T14:30"
)
ExtensionValue = str | int | bool | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Organisation:
    """The issuing organisation as edXML From names it: UBND TỈNH TÂY NINH (parent or the
    organisation in charge) / VĂN PHÒNG (name), its code, address and contacts."""

    name: str
    code: str | None = None
    parent: str | None = None  # cơ quan chủ quản, printed first (edXML OrganizationInCharge)
    in_charge: str | None = None  # the collective body a TM. signature acts for (no edXML)
    address: str | None = None
    email: str | None = None
    phone: str | None = None
    fax: str | None = None
    website: str | None = None


@dataclass(frozen=True, slots=True)
class Signer:
    """The signature block (Nghị định 30/2020, Phụ lục I): authority and the head or body it
    acts for ("KT. CHÁNH VĂN PHÒNG", "TM. ỦY BAN NHÂN DÂN"), the signer's own position
    ("PHÓ CHÁNH VĂN PHÒNG") and full name."""

    name: str
    position: str
    authority: str = ""  # "", "KT.", "TL.", "TM.", "TUQ."
    acts_for: str = ""  # the head's title or the collective body; empty without authority

    @property
    def competence(self) -> str:
        """edXML SignerInfo/Competence: "KT. BỘ TRƯỞNG", or the position when signing as head."""
        if self.authority:
            return f"{self.authority} {self.acts_for.upper()}"
        return self.position.upper()

    @property
    def block(self) -> tuple[str, ...]:
        """The lines printed above and below the signature, as on paper."""
        if self.authority:
            return (self.competence, self.position.upper(), self.name)
        return (self.position.upper(), self.name)


def parse_competence(competence: str) -> tuple[str, str]:
    """Split an edXML Competence ("KT. BỘ TRƯỞNG", "TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH") into
    (authority, acts for); a competence without an authority prefix is the signer's own
    title (acts for nothing)."""
    text = " ".join(competence.split())
    for authority in sorted(SIGNING_AUTHORITIES - {""}, key=len, reverse=True):
        if text.upper().startswith(authority.upper()):
            return authority, text[len(authority) :].strip()
    return "", ""


@dataclass(frozen=True, slots=True)
class StaffInfo:
    """Who handled the document at the sender (edXML Bussiness/StaffInfo)."""

    name: str
    department: str = ""
    mobile: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class Business:
    """What the envelope's business type needs beside the targets (edXML Bussiness): the
    reason of an update or replacement, the staff, and whether a paper original follows."""

    reason: str | None = None
    paper: bool = False  # edXML Paper = 1: the paper original follows by post
    staff: StaffInfo | None = None


@dataclass(frozen=True, slots=True)
class DocumentMetadata:
    """What is written on the official document itself (edXML: Code, PromulgationInfo, ...)."""

    number: str | None  # số as written, leading zero kept: "05", restarting each year
    notation: str  # ký hiệu, e.g. "VP-TTTH" or "QĐ-UBND"
    doc_type: str  # code of the type list (protocol/data/document_types.json), e.g. "cong_van"
    issuer: Organisation
    place: str  # địa danh: "Tây Ninh"
    issued_on: str  # YYYY-MM-DD
    subject: str  # trích yếu ("V/v ..." for a công văn)
    year: int | None = None  # only legal documents carry it: 49/2012/QĐ-UBND
    content: str | None = None
    signer: Signer | None = None  # required to send; documents of version 1 may lack it
    urgency: Urgency = Urgency.NORMAL
    confidentiality: Confidentiality = Confidentiality.NORMAL
    due_on: str | None = None  # date a reply is due
    addressees: tuple[str, ...] = ()  # Kính gửi
    distribution: tuple[str, ...] = ()  # Nơi nhận, including "Lưu: VT"
    copies: int | None = None  # số lượng bản (edXML PromulgationAmount)
    pages: int | None = None  # edXML PageAmount
    drafter: str | None = None  # drafter's initials, e.g. "KTrang" (edXML TyperNotation)
    type_name: str | None = None  # the type's name as the sender wrote it (edXML TypeName)
    scheduled_at: str | None = None  # hỏa tốc hẹn giờ: YYYY-MM-DDTHH:MM, local time
    steering_type: int | None = None  # edXML SteeringType, a code
    sphere: str | None = None  # edXML SphereOfPromulgation
    appendixes: tuple[str, ...] = ()
    extensions: tuple[tuple[str, ExtensionValue], ...] = ()  # sorted by name

    @property
    def number_notation(self) -> str:
        """The printed "Số": `2340/VP-TTTH`, or `49/2012/QĐ-UBND` for a legal document."""
        number = self.number or ""
        if self.year is not None:
            return f"{number}/{self.year}/{self.notation}"
        return f"{number}/{self.notation}"

    @property
    def register_key(self) -> str:
        """The key a register compares documents by (register_key())."""
        return register_key(self.number, self.year, self.notation)


def register_key(number: str | None, year: int | None, notation: str) -> str:
    """How a register compares numbers: "05/VP-TTTH", "5/VP-TTTH" and "05/vp-ttth" name the
    same document; "49/2025/QĐ-UBND" and "49/QĐ-UBND" do not (the year is part of it)."""
    digits = str(int(number)) if NUMBER.matches(number) else (number or "")
    folded = unicodedata.normalize("NFC", notation).casefold()
    return f"{digits}/{year or ''}/{folded}"


def number_rule(number: str) -> str | None:
    """Why a number this unit issues breaks Nghị định 30/2020 (Phụ lục I: numbers below 10
    are written with two digits, "05"; no other leading zero), or None."""
    if not NUMBER.matches(number) or int(number) == 0:
        return f"{number!r} is not a document number (digits, from 01)"
    if int(number) < 10 and len(number) != 2:
        return f"numbers below 10 are written with two digits: {int(number):02d}, not {number}"
    if int(number) >= 10 and number.startswith("0"):
        return f"only numbers below 10 take a leading zero: {int(number)}, not {number}"
    return None


def _hidden_or_space(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in _HIDDEN_CATEGORIES


def parse_number_notation(text: str) -> tuple[str, int | None, str]:
    """Split `2340/VP-TTTH` or `49/2012/QĐ-UBND` into (number as written, year or None,
    notation)."""
    match = NUMBER_NOTATION.fullmatch(text.strip())
    if not match or any(_hidden_or_space(ch) for ch in match.group(3)):
        raise InvalidField(
            "document", "number", f"{text!r} is not a number and notation like 2340/VP-TTTH"
        )
    year = int(match.group(2)) if match.group(2) else None
    return match.group(1), year, match.group(3)


def check_to_send(m: DocumentMetadata) -> None:
    """The rules a sending unit keeps that a reader does not enforce on others' documents:
    the signer and the place are required (Nghị định 30/2020, Phụ lục I), numbers are
    written as the decree says."""
    if m.signer is None:
        raise InvalidField("document", "signer", "the signer (người ký) is required to send")
    if not m.place.strip():
        raise InvalidField("document", "place", "the place (địa danh) is required to send")
    names = [name for name, _ in m.extensions]
    if names != sorted(set(names)):
        raise InvalidField("document", "ext", "extension names are sorted and each is named once")
    # Every rule of version 2, whichever version the recipients will get.
    metadata_from_wire(_metadata_v2(m))
    if m.number is not None:
        problem = number_rule(m.number)
        if problem:
            raise InvalidField("document", "number", problem)


@dataclass(frozen=True, slots=True)
class Attachment:
    """One entry of the attachment manifest: the blob holds its secretstream ciphertext."""

    name: str
    media_type: str
    size: int  # plaintext bytes
    sha256: bytes  # of the plaintext: checked by the recipient after decryption
    blob: str  # SHA-256 hex of the ciphertext blob: checked by anyone who stores it
    key: bytes  # 32-byte secretstream key


@dataclass(frozen=True, slots=True)
class DocumentBody:
    """The plaintext sealed inside an envelope: the metadata and the attachment manifest."""

    metadata: DocumentMetadata
    attachments: tuple[Attachment, ...] = field(default=())
    business: Business = field(default=Business())


def body_to_wire(body: DocumentBody, version: int = 2) -> dict[str, Any]:
    """The plaintext map of `body` in protocol `version` (1 drops what version 1 cannot say:
    docs/PROTOCOL.md 5.5)."""
    attachments = [
        {
            "name": a.name,
            "media_type": a.media_type,
            "size": a.size,
            "sha256": a.sha256,
            "blob": a.blob,
            "key": a.key,
        }
        for a in body.attachments
    ]
    if version == 1:
        return {"metadata": _metadata_v1(body.metadata), "attachments": attachments}
    b = body.business
    return {
        "v": 2,
        "metadata": _metadata_v2(body.metadata),
        "business": {
            "reason": b.reason,
            "paper": b.paper,
            "staff": None if b.staff is None else _staff_map(b.staff),
        },
        "attachments": attachments,
    }


def _staff_map(s: StaffInfo) -> dict[str, str]:
    return {"name": s.name, "department": s.department, "mobile": s.mobile, "email": s.email}


def _metadata_v2(m: DocumentMetadata) -> dict[str, Any]:
    i = m.issuer
    return {
        "number": m.number,
        "year": m.year,
        "notation": m.notation,
        "type": m.doc_type,
        "type_name": m.type_name,
        "issuer": {
            "name": i.name,
            "code": i.code,
            "parent": i.parent,
            "in_charge": i.in_charge,
            "address": i.address,
            "email": i.email,
            "phone": i.phone,
            "fax": i.fax,
            "website": i.website,
        },
        "place": m.place,
        "issued_on": m.issued_on,
        "subject": m.subject,
        "content": m.content,
        "signer": None
        if m.signer is None
        else {
            "authority": m.signer.authority,
            "acts_for": m.signer.acts_for,
            "position": m.signer.position,
            "name": m.signer.name,
        },
        "urgency": int(m.urgency),
        "scheduled_at": m.scheduled_at,
        "confidentiality": int(m.confidentiality),
        "due_on": m.due_on,
        "addressees": list(m.addressees),
        "distribution": list(m.distribution),
        "copies": m.copies,
        "pages": m.pages,
        "drafter": m.drafter,
        "steering_type": m.steering_type,
        "sphere": m.sphere,
        "appendixes": list(m.appendixes),
        "ext": {k: list(v) if isinstance(v, tuple) else v for k, v in m.extensions},
    }


# Version 1's metadata map, in its order (the bytes of a version-1 body depend on it).
_V1_FIELDS = (
    "number", "year", "notation", "type", "issuer", "place", "issued_on", "subject",
    "content", "signer", "urgency", "confidentiality", "due_on", "addressees",
    "distribution", "steering", "copies", "pages", "drafter",
)  # fmt: skip


def _metadata_v1(m: DocumentMetadata) -> dict[str, Any]:
    """Version 1 has an integer number, four urgencies and no version-2 fields: the
    version-2 map, with what version 1 says differently."""
    v1 = _metadata_v2(m) | {
        "number": None if m.number is None else int(m.number),
        "issuer": {"name": m.issuer.name, "code": m.issuer.code, "parent": m.issuer.parent},
        "signer": None
        if m.signer is None
        else {
            "name": m.signer.name,
            "position": m.signer.position,
            "authority": m.signer.authority,
        },
        "urgency": min(int(m.urgency), int(Urgency.FLASH)),
        "steering": _v1_steering(m),
    }
    return {name: v1[name] for name in _V1_FIELDS}


def _v1_steering(m: DocumentMetadata) -> str | None:
    """The steering note a version-1 document carried, kept as the extension "v1.steering"."""
    note = dict(m.extensions).get("v1.steering")
    return note if isinstance(note, str) and note else None


def body_from_bytes(data: bytes, version: int | None, *, max_bytes: int) -> DocumentBody:
    """The DocumentBody of the msgpack bytes `data` (decrypted or stored), checked as
    body_from_wire checks it: exact version-2 bytes through the C fast path, anything else
    (and every refusal, with its named error) field by field."""
    if version != 1 and type(data) is bytes and 0 < len(data) <= max_bytes:
        body = _fast_body(data)
        if body is not None:
            return body
    return body_from_wire(unpack(data, what="document body", max_bytes=max_bytes), version)


def body_from_wire(value: Any, version: int | None = None) -> DocumentBody:
    """Build a DocumentBody from the decoded plaintext map, checking every field. A map with
    `v: 2` is version 2, one without `v` version 1; `version`, when given (the envelope's),
    must agree."""
    what = "document body"
    top = Fields(value, what)
    found = top.int("v", lo=2, hi=2, optional=True) or 1
    if version is not None and found != version:
        raise InvalidField(what, "v", f"a body of version {found} in an envelope of {version}")
    if found == 1:
        metadata = _metadata_from_v1(top.raw("metadata"))
        business = Business()
    else:
        metadata = metadata_from_wire(top.raw("metadata"))
        business = _business(top.map("business"))
    raw_attachments = top.list("attachments", max_items=MAX_ATTACHMENTS)
    top.done()
    attachments = tuple(_attachment(item, i) for i, item in enumerate(raw_attachments))
    return DocumentBody(metadata=metadata, attachments=attachments, business=business)


def _business(f: Fields | None) -> Business:
    assert f is not None
    staff_map = f.map("staff", optional=True)
    business = Business(
        reason=f.str("reason", max_len=MAX_REASON, optional=True),
        paper=f.bool("paper"),
        staff=None if staff_map is None else _staff(staff_map),
    )
    f.done()
    return business


def _staff(f: Fields) -> StaffInfo:
    staff = StaffInfo(
        name=f.str("name", min_len=1),
        department=f.str("department"),
        mobile=f.str("mobile"),
        email=f.str("email"),
    )
    f.done()
    return staff


def metadata_from_wire(value: Any) -> DocumentMetadata:
    """Build version-2 DocumentMetadata from its decoded map, checking every field."""
    what = "document metadata"
    f = Fields(value, what)
    issuer = Fields(f.raw("issuer"), f"{what}, issuer", "issuer")
    org = Organisation(
        name=issuer.str("name", min_len=1),
        code=issuer.code("code", optional=True),
        parent=issuer.str("parent", optional=True),
        in_charge=issuer.str("in_charge", optional=True),
        address=issuer.str("address", optional=True),
        email=issuer.str("email", optional=True),
        phone=issuer.str("phone", optional=True),
        fax=issuer.str("fax", optional=True),
        website=issuer.str("website", max_len=MAX_URL, optional=True),
    )
    issuer.done()
    signer_map = f.map("signer")
    assert signer_map is not None
    signer = Signer(
        authority=signer_map.str("authority", choices=SIGNING_AUTHORITIES),
        acts_for=signer_map.str("acts_for"),
        position=signer_map.str("position", min_len=1),
        name=signer_map.str("name", min_len=1),
    )
    signer_map.done()
    if bool(signer.authority) != bool(signer.acts_for.strip()):
        raise InvalidField(
            what,
            "signer.acts_for",
            "names the head or body the authority acts for (KT. CHÁNH VĂN PHÒNG), and only "
            "with an authority",
        )
    number = f.str("number", max_len=9, optional=True)
    if number is not None and not NUMBER.matches(number):
        raise InvalidField(what, "number", f"{number!r} is not a number of ASCII digits")
    urgency = Urgency(f.int("urgency", hi=max(Urgency)))
    scheduled_at = f.str("scheduled_at", max_len=16, optional=True)
    if (urgency is Urgency.FLASH_SCHEDULED) != (scheduled_at is not None):
        raise InvalidField(
            what, "scheduled_at", "hỏa tốc hẹn giờ (urgency 4) names its time, and only it does"
        )
    if scheduled_at is not None:
        _check_scheduled(scheduled_at, what)
    meta = DocumentMetadata(
        number=number,
        year=f.int("year", lo=1900, hi=9999, optional=True),
        notation=_notation(f.str("notation", max_len=64), what),
        doc_type=f.str("type", max_len=MAX_TYPE_CODE, min_len=1),
        type_name=f.str("type_name", optional=True),
        issuer=org,
        place=f.str("place", min_len=1),
        issued_on=f.date("issued_on"),
        subject=f.str("subject", max_len=MAX_SUBJECT, min_len=1),
        content=f.str("content", max_len=MAX_CONTENT, optional=True),
        signer=signer,
        urgency=urgency,
        scheduled_at=scheduled_at,
        confidentiality=Confidentiality(f.int("confidentiality", hi=max(Confidentiality))),
        due_on=f.date("due_on", optional=True),
        addressees=f.strs("addressees"),
        distribution=f.strs("distribution"),
        copies=f.int("copies", hi=MAX_COUNT, optional=True),
        pages=f.int("pages", hi=MAX_COUNT, optional=True),
        drafter=f.str("drafter", optional=True),
        steering_type=f.int("steering_type", hi=MAX_STEERING_TYPE, optional=True),
        sphere=f.str("sphere", optional=True),
        appendixes=f.strs("appendixes", max_items=MAX_APPENDIXES),
        extensions=_extensions(f.raw("ext"), what),
    )
    f.done()
    return meta


def _notation(notation: str, what: str) -> str:
    if not _plain_notation(notation):
        raise InvalidField(what, "notation", f"{notation[:40]!r} holds a space or hidden character")
    return notation


@lru_cache(maxsize=4096)  # a unit's documents repeat a few notations; the check is per character
def _plain_notation(notation: str) -> bool:
    return not any(_hidden_or_space(ch) for ch in notation)


def _check_scheduled(text: str, what: str) -> None:
    try:
        if not SCHEDULED_TIME.matches(text):
            raise ValueError
        dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField(
            what, "scheduled_at", f"{text!r} is not a time YYYY-MM-DDTHH:MM"
        ) from None


def _extensions(value: Any, what: str) -> tuple[tuple[str, ExtensionValue], ...]:
    """The signed extension map: names a later version adds, kept and shown, never refused
    for being unknown; only their shape is checked here."""
    f = Fields(value, what, "ext")
    if len(f.raw_keys()) > MAX_EXTENSIONS:
        raise LimitExceeded(f"{what}: {len(f.raw_keys())} extension fields, limit {MAX_EXTENSIONS}")
    # Every name is checked before any is sorted: a msgpack bin key beside str keys would
    # make sorted() raise TypeError instead of the field's InvalidField.
    for key in f.raw_keys():
        if not EXTENSION_KEY.matches(key):
            raise InvalidField(what, "ext", f"{str(key)[:40]!r} is not an extension field name")
    items: list[tuple[str, ExtensionValue]] = []
    for key in sorted(f.raw_keys()):
        raw = f.raw(key)
        if isinstance(raw, bool) or (isinstance(raw, int) and -(2**63) <= raw < 2**63):
            items.append((key, raw))
        elif isinstance(raw, str):
            items.append((key, f.str(key, max_len=MAX_SUBJECT)))
        elif isinstance(raw, list):
            items.append((key, f.strs(key)))
        else:
            raise InvalidField(
                what, f"ext.{key}", "an extension value is a string, integer, boolean or strings"
            )
    f.done()
    return tuple(items)


def _metadata_from_v1(value: Any) -> DocumentMetadata:
    """Read version-1 metadata into the version-2 model: the number is written with two
    digits below 10 (the decree's form, which version 1 dropped), a steering note is kept as
    the extension field "v1.steering"."""
    what = "document metadata"
    f = Fields(value, what)
    issuer = Fields(f.raw("issuer"), f"{what}, issuer", "issuer")
    org = Organisation(
        name=issuer.str("name", min_len=1),
        code=issuer.code("code", optional=True),
        parent=issuer.str("parent", optional=True),
    )
    issuer.done()
    signer_map = f.map("signer", optional=True)
    signer = None
    if signer_map is not None:
        signer = Signer(
            name=signer_map.str("name", min_len=1),
            position=signer_map.str("position"),
            authority=signer_map.str("authority", choices=SIGNING_AUTHORITIES),
        )
        signer_map.done()
    number = f.int("number", lo=0, hi=MAX_V1_NUMBER, optional=True)
    steering = f.str("steering", max_len=MAX_SUBJECT, optional=True)
    meta = DocumentMetadata(
        number=None if number is None else f"{number:02d}",
        year=f.int("year", lo=1900, hi=9999, optional=True),
        notation=f.str("notation", max_len=64),
        doc_type=f.str("type", max_len=MAX_TYPE_CODE, min_len=1),
        issuer=org,
        place=f.str("place"),
        issued_on=f.date("issued_on"),
        subject=f.str("subject", max_len=MAX_SUBJECT, min_len=1),
        content=f.str("content", max_len=MAX_CONTENT, optional=True),
        signer=signer,
        urgency=Urgency(f.int("urgency", hi=int(Urgency.FLASH))),
        confidentiality=Confidentiality(f.int("confidentiality", hi=max(Confidentiality))),
        due_on=f.date("due_on", optional=True),
        addressees=f.strs("addressees"),
        distribution=f.strs("distribution"),
        copies=f.int("copies", hi=MAX_COUNT, optional=True),
        pages=f.int("pages", hi=MAX_COUNT, optional=True),
        drafter=f.str("drafter", optional=True),
        extensions=(("v1.steering", steering),) if steering else (),
    )
    f.done()
    return meta


def padded_name(name: str) -> str | None:
    """Why a file name's spaces or dots hide what it is, or None: more than
    MAX_NAME_SPACE_RUN spaces in a row, a space right before the extension, a space
    first or last, a dot last. Spaces are every Unicode space separator (Zs), NBSP too."""
    run = longest = 0
    for ch in name:
        run = run + 1 if unicodedata.category(ch) == "Zs" else 0
        longest = max(longest, run)
    if longest > MAX_NAME_SPACE_RUN:
        return (
            f"{longest} spaces in a row (at most {MAX_NAME_SPACE_RUN}): spaces can push the "
            "real extension out of sight"
        )
    if name.endswith("."):
        return "it ends with a dot, which Windows drops (the extension would change)"
    if unicodedata.category(name[0]) == "Zs" or unicodedata.category(name[-1]) == "Zs":
        return "it starts or ends with a space"
    stem, dot, _ = name.rpartition(".")
    if dot and stem and unicodedata.category(stem[-1]) == "Zs":
        return "a space right before the extension hides where the name ends"
    return None


def _attachment(value: Any, index: int) -> Attachment:
    f = Fields(value, f"attachment {index}")
    name = _check_file_name(f.str("name", max_len=MAX_SHORT_TEXT, min_len=1), index)
    blob = f.str("blob", max_len=64)
    if not BLOB_ID.matches(blob):
        raise InvalidField(f"attachment {index}", "blob", "expected 64 lowercase hex digits")
    attachment = Attachment(
        name=name,
        media_type=f.str("media_type", max_len=MAX_MEDIA_TYPE, min_len=3),
        size=f.int("size", hi=MAX_ATTACHMENT_SIZE),
        sha256=f.bytes("sha256", length=32),
        blob=blob,
        key=f.bytes("key", length=32),
    )
    f.done()
    return attachment


def _check_file_name(name: str, index: int) -> str:
    """An attachment's name that shows what the file is, or InvalidField."""
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise InvalidField(f"attachment {index}", "name", f"{name!r} is not a plain file name")
    hidden = next((c for c in name if unicodedata.category(c) in _HIDDEN_CATEGORIES), None)
    if hidden is not None:
        raise InvalidField(
            f"attachment {index}",
            "name",
            f"{name!r} holds the invisible character U+{ord(hidden):04X}; a file name "
            "must show what it is (no control or direction-changing characters)",
        )
    padding = padded_name(name)
    if padding is not None:
        raise InvalidField(f"attachment {index}", "name", f"{name[:80]!r}…: {padding}")
    return name


# A version-2 body for the C fast path (protocol/typed.py), every map in the order
# body_to_wire writes it; _fast_body checks what a type cannot say, with the same helpers
# as the field-by-field reader above.
_Short = text(MAX_SHORT_TEXT)
_Named = text(MAX_SHORT_TEXT, 1)
_Strs = items(_Short, MAX_LIST_ITEMS)
_Count = integer(hi=MAX_COUNT)
_Key = binary(length=32)
_Url = text(MAX_URL)
_Number = text(9)
_Year = integer(1900, 9999)
_Notation = text(64)
_TypeCode = text(MAX_TYPE_CODE, 1)
_Subject = text(MAX_SUBJECT, 1)
_Content = text(MAX_CONTENT)
_Urgency = integer(hi=int(max(Urgency)))
_Scheduled = text(16)
_Confidentiality = integer(hi=int(max(Confidentiality)))
_Steering = integer(hi=MAX_STEERING_TYPE)
_Appendixes = items(_Short, MAX_APPENDIXES)
_Reason = text(MAX_REASON)
_MediaType = text(MAX_MEDIA_TYPE, 3)
_FileSize = integer(hi=MAX_ATTACHMENT_SIZE)
_BlobText = text(64)


class _IssuerWire(msgspec.Struct, forbid_unknown_fields=True):
    name: _Named
    code: str | None
    parent: _Short | None
    in_charge: _Short | None
    address: _Short | None
    email: _Short | None
    phone: _Short | None
    fax: _Short | None
    website: _Url | None


class _SignerWire(msgspec.Struct, forbid_unknown_fields=True):
    authority: Literal["", "KT.", "TL.", "TM.", "TUQ."]
    acts_for: _Short
    position: _Named
    name: _Named


class _MetadataWire(msgspec.Struct, forbid_unknown_fields=True):
    number: _Number | None
    year: _Year | None
    notation: _Notation
    doc_type: _TypeCode = msgspec.field(name="type")  # DocumentMetadata's name
    type_name: _Short | None
    issuer: _IssuerWire
    place: _Named
    issued_on: str
    subject: _Subject
    content: _Content | None
    signer: _SignerWire
    urgency: _Urgency
    scheduled_at: _Scheduled | None
    confidentiality: _Confidentiality
    due_on: str | None
    addressees: _Strs
    distribution: _Strs
    copies: _Count | None
    pages: _Count | None
    drafter: _Short | None
    steering_type: _Steering | None
    sphere: _Short | None
    appendixes: _Appendixes
    # A default only so that sealing can fill the struct from a DocumentMetadata, which has
    # no `ext`; a body without the field is not an exact encoding and is never taken.
    ext: dict[str, Any] = {}


class _StaffWire(msgspec.Struct, forbid_unknown_fields=True):
    name: _Named
    department: _Short
    mobile: _Short
    email: _Short


class _BusinessWire(msgspec.Struct, forbid_unknown_fields=True):
    reason: _Reason | None
    paper: bool
    staff: _StaffWire | None


class _AttachmentWire(msgspec.Struct, forbid_unknown_fields=True):
    name: _Named
    media_type: _MediaType
    size: _FileSize
    sha256: _Key
    blob: _BlobText
    key: _Key


_Attachments = items(_AttachmentWire, MAX_ATTACHMENTS)


class _BodyWire(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    v: Literal[2] = 2  # a default for sealing, as `ext`'s; kw_only keeps it first on the wire
    metadata: _MetadataWire
    business: _BusinessWire
    attachments: _Attachments


_BODY = decoder(_BodyWire)


def body_bytes_pass(data: bytes, max_bytes: int) -> bool:
    """Whether body_from_bytes(data, 2, ...) would accept `data`, answered by the C fast path
    without building the dataclasses; False means only "not sure" (ask body_from_bytes,
    which accepts the bytes or names what is wrong). For the sender's check at sealing."""
    return 0 < len(data) <= max_bytes and _fast_wire(data) is not None


def _fast_body(data: bytes) -> DocumentBody | None:
    """The body of exact version-2 bytes that pass every check of body_from_wire, or None."""
    checked = _fast_wire(data)
    return None if checked is None else _build(*checked)


_Extensions = tuple[tuple[str, ExtensionValue], ...]


def _fast_wire(data: bytes) -> tuple[_BodyWire, _Extensions] | None:
    """The struct of exact version-2 bytes that pass every check of body_from_wire, with its
    checked extensions, or None."""
    wire = exact(data, _BODY)
    if wire is None:
        return None
    extensions = _struct_passes(wire)
    return None if extensions is None else (wire, extensions)


_FLASH_SCHEDULED = int(Urgency.FLASH_SCHEDULED)  # compared without the enum's lookup


def _struct_passes(wire: _BodyWire) -> _Extensions | None:
    """The checked extensions of a body struct that passes the checks of body_from_wire no
    type can say, or None."""
    m, i, s = wire.metadata, wire.metadata.issuer, wire.metadata.signer
    if (
        (i.code is not None and not has_wire_shape(i.code))
        or bool(s.authority) != bool(s.acts_for.strip())
        or (m.number is not None and not NUMBER.matches(m.number))
        or (m.urgency == _FLASH_SCHEDULED) != (m.scheduled_at is not None)
        or not is_date(m.issued_on)
        or (m.due_on is not None and not is_date(m.due_on))
    ):
        return None
    try:
        if m.scheduled_at is not None:
            _check_scheduled(m.scheduled_at, "")
        _notation(m.notation, "")
        extensions = _extensions(m.ext, "") if m.ext else ()
        for index, a in enumerate(wire.attachments):
            _check_file_name(a.name, index)
            if not BLOB_ID.matches(a.blob):
                return None
    except ProtocolError:
        return None
    return extensions


_PLAIN_ENCODER = msgspec.msgpack.Encoder()


def body_plaintext(body: DocumentBody, max_bytes: int) -> bytes | None:
    """The version-2 plaintext of `body`, the very bytes pack(body_to_wire(body)) gives, when
    the C path can say the recipient's reader accepts them, else None (then pack and check
    them with body_from_bytes, which names what is wrong). For sealing: msgspec fills the
    body struct from the dataclasses' attributes, checking every type and limit, the checks
    no type can say run on it, and the struct is encoded: nothing is decoded again. A body
    with extension fields is left to the other way (DocumentMetadata keeps them as pairs)."""
    if body.metadata.extensions != ():  # the struct does not read them: only none at all
        return None
    try:
        wire = msgspec.convert(body, _BodyWire, from_attributes=True)
    except msgspec.ValidationError:
        return None
    if _struct_passes(wire) is None:
        return None
    data = _PLAIN_ENCODER.encode(wire)
    return data if len(data) <= max_bytes else None


def _build(wire: _BodyWire, extensions: _Extensions) -> DocumentBody | None:
    """The DocumentBody of a struct _fast_wire has checked, built by msgspec in C: every
    dataclass filled from the struct's attributes of the same names (the struct names the
    wire's "type" doc_type), lists made tuples, codes made Urgency and Confidentiality.
    None only if the dataclasses' own types refuse a value (then the strict reader runs)."""
    try:
        body = msgspec.convert(wire, DocumentBody, from_attributes=True)
    except msgspec.ValidationError:
        return None
    if extensions:  # the struct's `ext` is a map; DocumentMetadata keeps sorted pairs
        body = replace(body, metadata=replace(body.metadata, extensions=extensions))
    return body
