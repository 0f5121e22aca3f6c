"""The official document carried inside an envelope: metadata and attachment manifest.

The fields follow Nghị định 30/2020/NĐ-CP and are a superset of the edXML
header of QCVN 102:2016 (docs/PROTOCOL.md maps each field to its edXML name).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from lienthong.protocol.codes import Confidentiality, Urgency
from lienthong.protocol.errors import InvalidField
from lienthong.protocol.ids import BLOB_ID
from lienthong.protocol.limits import (
    MAX_ATTACHMENT_SIZE,
    MAX_ATTACHMENTS,
    MAX_CONTENT,
    MAX_SHORT_TEXT,
    MAX_SUBJECT,
)
from lienthong.protocol.text import pattern
from lienthong.protocol.wire import Fields

SIGNING_AUTHORITIES = frozenset({"", "KT.", "TL.", "TM.", "TUQ."})
MAX_DOCUMENT_NUMBER = 10**9
MAX_TYPE_CODE = 16
MAX_MEDIA_TYPE = 127  # RFC 6838: type and subtype names are at most 127 characters each
# Unicode control (Cc) and format (Cf) characters: NUL, line breaks, and the
# direction overrides that make "report\u202efdp.exe" display as "reportexe.pdf".
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf"})
# Spaces in a row a file name may hold: "hop-dong.pdf" followed by 120 spaces and ".exe"
# shows as a PDF in any column too narrow for the whole name. Three cover every honest
# typing slip; a space right before the extension, or a name ending in a space or a dot
# (which Windows drops, changing the extension), is refused whatever the count.
MAX_NAME_SPACE_RUN = 3
# "2340/VP-TTTH" or "49/2012/QĐ-UBND": ASCII digits, then a notation of any letters (QĐ)
# without ASCII spaces or controls; other spaces and hidden characters are checked after.
NUMBER_NOTATION = pattern(
    "number and notation",
    r"([0-9]{1,9})(?:/([0-9]{4}))?/([^\x00-\x20\x7f]{1,64})",
    "49/2012/QĐ-UBND",
)


@dataclass(frozen=True, slots=True)
class Organisation:
    """The issuing organisation (UBND TỈNH TÂY NINH / VĂN PHÒNG: parent / name)."""

    name: str
    code: str | None = None
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Signer:
    """Who signed: name, position and signing authority prefix (KT., TL., TM., TUQ.)."""

    name: str
    position: str
    authority: str = ""


@dataclass(frozen=True, slots=True)
class DocumentMetadata:
    """What is written on the official document itself (edXML: Code, PromulgationInfo, ...)."""

    number: int | None  # số, restarting at 1 each year
    notation: str  # ký hiệu, e.g. "VP-TTTH" or "QĐ-UBND"
    doc_type: str  # code of the type list (protocol/data/document_types.json), e.g. "CV"
    issuer: Organisation
    place: str  # "Tây Ninh"
    issued_on: str  # YYYY-MM-DD
    subject: str  # trích yếu ("V/v ..." for a công văn)
    year: int | None = None  # only legal documents carry it: 49/2012/QĐ-UBND
    content: str | None = None
    signer: Signer | None = None
    urgency: Urgency = Urgency.NORMAL
    confidentiality: Confidentiality = Confidentiality.NORMAL
    due_on: str | None = None  # date a reply is due
    addressees: tuple[str, ...] = ()  # Kính gửi
    distribution: tuple[str, ...] = ()  # Nơi nhận, including "Lưu: VT"
    steering: str | None = None  # steering notes (edXML SteeringType / chỉ đạo)
    copies: int | None = None
    pages: int | None = None
    drafter: str | None = None  # drafter's initials, e.g. "KTrang"

    @property
    def number_notation(self) -> str:
        """The printed "Số": `2340/VP-TTTH`, or `49/2012/QĐ-UBND` for a legal document."""
        number = "" if self.number is None else str(self.number)
        if self.year is not None:
            return f"{number}/{self.year}/{self.notation}"
        return f"{number}/{self.notation}"


def _hidden_or_space(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in _HIDDEN_CATEGORIES


def parse_number_notation(text: str) -> tuple[int, int | None, str]:
    """Split `2340/VP-TTTH` or `49/2012/QĐ-UBND` into (number, year or None, notation)."""
    match = NUMBER_NOTATION.fullmatch(text.strip())
    if not match or any(_hidden_or_space(ch) for ch in match.group(3)):
        raise InvalidField(
            "document", "number", f"{text!r} is not a number and notation like 2340/VP-TTTH"
        )
    year = int(match.group(2)) if match.group(2) else None
    return int(match.group(1)), year, match.group(3)


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


def body_to_wire(body: DocumentBody) -> dict[str, Any]:
    m = body.metadata
    return {
        "metadata": {
            "number": m.number,
            "year": m.year,
            "notation": m.notation,
            "type": m.doc_type,
            "issuer": {"name": m.issuer.name, "code": m.issuer.code, "parent": m.issuer.parent},
            "place": m.place,
            "issued_on": m.issued_on,
            "subject": m.subject,
            "content": m.content,
            "signer": None
            if m.signer is None
            else {
                "name": m.signer.name,
                "position": m.signer.position,
                "authority": m.signer.authority,
            },
            "urgency": int(m.urgency),
            "confidentiality": int(m.confidentiality),
            "due_on": m.due_on,
            "addressees": list(m.addressees),
            "distribution": list(m.distribution),
            "steering": m.steering,
            "copies": m.copies,
            "pages": m.pages,
            "drafter": m.drafter,
        },
        "attachments": [
            {
                "name": a.name,
                "media_type": a.media_type,
                "size": a.size,
                "sha256": a.sha256,
                "blob": a.blob,
                "key": a.key,
            }
            for a in body.attachments
        ],
    }


def body_from_wire(value: Any) -> DocumentBody:
    """Build a DocumentBody from the decoded plaintext map, checking every field."""
    what = "document body"
    top = Fields(value, what)
    metadata = metadata_from_wire(top.raw("metadata"))
    raw_attachments = top.list("attachments", max_items=MAX_ATTACHMENTS)
    top.done()
    attachments = tuple(_attachment(item, i) for i, item in enumerate(raw_attachments))
    return DocumentBody(metadata=metadata, attachments=attachments)


def metadata_from_wire(value: Any) -> DocumentMetadata:
    """Build DocumentMetadata from its decoded map, checking every field."""
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
    meta = DocumentMetadata(
        number=f.int("number", lo=0, hi=MAX_DOCUMENT_NUMBER, optional=True),
        year=f.int("year", lo=1900, hi=9999, optional=True),
        notation=f.str("notation", max_len=64),
        doc_type=f.str("type", max_len=MAX_TYPE_CODE, min_len=1),
        issuer=org,
        place=f.str("place"),
        issued_on=f.date("issued_on"),
        subject=f.str("subject", max_len=MAX_SUBJECT, min_len=1),
        content=f.str("content", max_len=MAX_CONTENT, optional=True),
        signer=signer,
        urgency=Urgency(f.int("urgency", hi=max(Urgency))),
        confidentiality=Confidentiality(f.int("confidentiality", hi=max(Confidentiality))),
        due_on=f.date("due_on", optional=True),
        addressees=f.strs("addressees"),
        distribution=f.strs("distribution"),
        steering=f.str("steering", max_len=MAX_SUBJECT, optional=True),
        copies=f.int("copies", hi=1_000_000, optional=True),
        pages=f.int("pages", hi=1_000_000, optional=True),
        drafter=f.str("drafter", optional=True),
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
    name = f.str("name", max_len=MAX_SHORT_TEXT, min_len=1)
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
