"""The edXML package (QCVN 102:2016) as lienthong reads and writes it: model and limits.

protocol/edxml_write.py writes packages and status messages, protocol/edxml_read.py reads
them with a hardened, streaming parser. docs/INTEGRATION.md, section "edXML", is the map of
every element.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from lienthong.protocol.codes import StatusCode
from lienthong.protocol.document import (
    _HIDDEN_CATEGORIES,
    Business,
    DocumentMetadata,
    Organisation,
    StaffInfo,
    padded_name,
    parse_number_notation,
)
from lienthong.protocol.errors import InvalidField
from lienthong.protocol.limits import MAX_ATTACHMENTS, MAX_SHORT_TEXT
from lienthong.protocol.text import pattern
from lienthong.protocol.units import check_external_code

EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
# Fields lienthong has and edXML lacks travel in one element of this namespace, after the
# envelope: a validator of the national axis checks the envelope and never sees it.
LIENTHONG_NS = "urn:lienthong:edxml:1"
XLINK_NS = "http://www.w3.org/1999/xlink"

# The envelope part (everything before the attachments) is text: its largest field is the
# content summary (64 Ki characters, up to 4 bytes each in UTF-8) beside a few hundred short
# fields; 4 MiB holds any honest header and bounds the tree kept in memory.
MAX_EDXML_BYTES = 4 * 1024 * 1024
# The deepest element lienthong writes is edXML/edXMLEnvelope/MessageHeader/OtherInfo/
# Appendixes/Appendix (6); a DigitalSignature (XML-DSig) goes to about 8. 16 leaves room
# and stops a "<a><a><a>..." package from exhausting the stack or the tree.
MAX_DEPTH = 16
# One attachment, decoded. The package carries it inline as base64 (4/3 of its size); the
# national axis passes files of some hundred megabytes. 4 GiB bounds the disk one package
# can fill; lienthong's own protocol carries larger files as blobs, not inline.
MAX_ATTACHMENT_BYTES = 4 * 1024**3
MAX_EDXML_ATTACHMENTS = MAX_ATTACHMENTS
# A text field of an attachment (ContentType, ContentId, Description, AttachmentName):
# these are outside the envelope, so the envelope limit does not cover them.
MAX_ATTACHMENT_FIELD = 4 * MAX_SHORT_TEXT
# A status message is a short header; 64 KiB holds the longest description (4,000
# characters) many times over.
MAX_EDXML_STATUS_BYTES = 64 * 1024
# Trace headers: one per system the package passed through; receivers added or replaced
# documents are bounded by the list limit of protocol.limits through MAX_EDXML_BYTES.
MAX_TRACE = 64

EDXML_DATE = pattern("edXML date", "[0-9]{4}/[0-9]{2}/[0-9]{2}", "2025/11/24")
EDXML_TIME = pattern(
    "edXML timestamp",
    "[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}",
    "2025/11/24 14:30:00",
)
# CodeNumber: "2340", or "49/2012" for a legal document (the year part of its number).
CODE_NUMBER = pattern("edXML CodeNumber", "([0-9]{1,9})(?:/([0-9]{4}))?", "49/2012")
# BussinessDocType: 0 new, 1 revoke (thu hồi), 2 update (cập nhật), 3 replace (thay thế).
BUSINESS_TYPES = (0, 1, 2, 3)
# The status codes edXML carries (docs/PROTOCOL.md 7), written with two digits.
EDXML_STATUS_CODES = frozenset(StatusCode)


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One edXML TraceHeader: a system the package passed through, and when."""

    organ_id: str
    timestamp: str  # yyyy/MM/dd HH:mm:ss


@dataclass(frozen=True, slots=True)
class ResponseFor:
    """edXML ResponseFor: the document this one answers."""

    document_id: str
    organ_id: str | None = None
    code: str | None = None  # its number and notation, "2340/VP-TTTH"
    promulgation_date: str | None = None  # yyyy/MM/dd


@dataclass(frozen=True, slots=True)
class ExportAttachment:
    """A file to write into a package: its bytes, or a path read in chunks."""

    name: str
    media_type: str
    source: bytes | Path
    description: str = ""


@dataclass(frozen=True, slots=True)
class EdxmlAttachment:
    """An attachment read from a package, decoded into `path` (a file the caller owns)."""

    name: str
    media_type: str
    content_id: str
    description: str
    path: Path
    size: int
    sha256: bytes


@dataclass(frozen=True, slots=True)
class EdxmlDocument:
    """What an edXML package says: the document, its business and its routing."""

    metadata: DocumentMetadata
    business: Business
    sender_id: str  # From/OrganId
    document_id: str  # {OrganId},{yyyy/MM/dd},{number}/{notation}
    receivers: tuple[Organisation, ...] = ()  # To; `code` holds the OrganId
    business_type: int = 0
    replaces: tuple[str, ...] = ()  # ReplacementInfoList: DocumentIds
    response_for: ResponseFor | None = None
    trace: tuple[TraceEntry, ...] = ()
    attachments: tuple[EdxmlAttachment, ...] = ()


@dataclass(frozen=True, slots=True)
class EdxmlStatus:
    """An edXML status message: who says what about which document."""

    sender: Organisation  # From; `code` holds the OrganId
    code: StatusCode
    timestamp: str  # yyyy/MM/dd HH:mm:ss
    document_id: str  # the DocumentId of the document it answers
    description: str | None = None
    staff: StaffInfo | None = None


def document_id(organ_id: str, issued_on: str, number_notation: str) -> str:
    """The edXML DocumentId: `000.00.02.H53,2025/11/24,2340/VP-TTTH`."""
    return f"{organ_id},{issued_on.replace('-', '/')},{number_notation}"


def check_document_id(text: str, what: str, field: str) -> str:
    """Return `text` if it is `{OrganId},{yyyy/MM/dd},{number}/{notation}`, else raise."""
    parts = text.split(",", 2)
    if len(parts) != 3:
        raise InvalidField(what, field, f"{text[:80]!r} is not OrganId,yyyy/MM/dd,number/notation")
    check_external_code(parts[0], what, field)
    check_date(parts[1], what, field)
    try:
        parse_number_notation(parts[2])
    except InvalidField as exc:
        raise InvalidField(what, field, exc.reason) from None
    return text


def check_date(text: str, what: str, field: str) -> str:
    """`yyyy/MM/dd` as a calendar date, returned as ISO `yyyy-MM-dd`."""
    try:
        if not EDXML_DATE.matches(text):
            raise ValueError
        return dt.date.fromisoformat(text.replace("/", "-")).isoformat()
    except ValueError:
        raise InvalidField(what, field, f"{text[:40]!r} is not a date yyyy/MM/dd") from None


def check_timestamp(text: str, what: str, field: str) -> str:
    """`yyyy/MM/dd HH:mm:ss` as a real time."""
    try:
        if not EDXML_TIME.matches(text):
            raise ValueError
        dt.datetime.strptime(text, "%Y/%m/%d %H:%M:%S")
    except ValueError:
        raise InvalidField(
            what, field, f"{text[:40]!r} is not a timestamp yyyy/MM/dd HH:mm:ss"
        ) from None
    return text


def check_attachment_name(name: str, what: str) -> str:
    """The rules of the attachment manifest (protocol/document.py): a plain file name, no
    path part, no control or direction-changing character, no spaces hiding the extension."""
    if not name or len(name) > MAX_SHORT_TEXT:
        raise InvalidField(what, "AttachmentName", f"1 to {MAX_SHORT_TEXT} characters")
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise InvalidField(what, "AttachmentName", f"{name[:80]!r} is not a plain file name")
    hidden = next((c for c in name if unicodedata.category(c) in _HIDDEN_CATEGORIES), None)
    if hidden is not None:
        raise InvalidField(
            what,
            "AttachmentName",
            f"{name[:80]!r} holds the invisible character U+{ord(hidden):04X}; a file name "
            "must show what it is (no control or direction-changing characters)",
        )
    padding = padded_name(name)
    if padding is not None:
        raise InvalidField(what, "AttachmentName", f"{name[:80]!r}: {padding}")
    return name


def xml_char_problem(text: str) -> str | None:
    """Why `text` cannot be written in XML 1.0 (a control character, U+FFFE), or None."""
    for ch in text:
        o = ord(ch)
        if (o < 0x20 and ch not in "\t\n\r") or 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            return f"holds U+{o:04X}, which XML 1.0 cannot carry"
    return None
