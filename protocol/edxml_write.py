"""Writing edXML packages and status messages, the attachments streamed as base64."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from lienthong.protocol.doctypes import MAX_EDXML_DIGITS, describe_type, document_types
from lienthong.protocol.document import (
    Business,
    DocumentBody,
    DocumentMetadata,
    Organisation,
    StaffInfo,
    body_from_wire,
    body_to_wire,
)
from lienthong.protocol.edxml import (
    BUSINESS_TYPES,
    EDXML_NS,
    LIENTHONG_NS,
    MAX_EDXML_ATTACHMENTS,
    MAX_TRACE,
    XLINK_NS,
    EdxmlDocument,
    EdxmlStatus,
    ExportAttachment,
    ResponseFor,
    TraceEntry,
    check_attachment_name,
    check_document_id,
    check_timestamp,
    document_id,
    xml_char_problem,
)
from lienthong.protocol.errors import InvalidField, LimitExceeded
from lienthong.protocol.text import is_decimal
from lienthong.protocol.units import check_external_code

WHAT = "edXML export"
# Bytes read from an attachment at a time: a multiple of 57, so that every chunk encodes to
# whole 76-character base64 lines (RFC 2045), about 1 MiB.
READ_CHUNK = 57 * 18396
# Priority 4 (hỏa tốc hẹn giờ) read from a package that gives no time: kept here.
PRIORITY_EXTENSION = "edxml.priority"
# DocumentType/TypeDetail, which lienthong's metadata has no field for.
TYPE_DETAIL_EXTENSION = "edxml.type_detail"
# The routing of an imported package, kept in the document's extension map so that an
# export writes the same DocumentId, From, To, business, trace and attachment fields again
# (docs/INTEGRATION.md, "Importing"): edxml_read.routing_extensions writes them, routing_of
# reads them back.
DOCUMENT_ID_EXTENSION = "edxml.document_id"
FROM_EXTENSION = "edxml.from"
TO_EXTENSION = "edxml.to"  # one JSON object per receiver: OrganId ("id") and what To says
TRACE_EXTENSION = "edxml.trace"  # "OrganId,yyyy/MM/dd HH:mm:ss" per TraceHeader
BUSINESS_TYPE_EXTENSION = "edxml.business_type"
REPLACES_EXTENSION = "edxml.replaces"
RESPONSE_FOR_EXTENSION = "edxml.response_for"  # a JSON object
ATTACHMENTS_EXTENSION = "edxml.attachments"  # one JSON object per attachment: content_id, ...
# Elements of a package lienthong does not model (edXML's receiver add/remove lists, a later
# version's fields) travel as `edxml.extra.01`, ... : "where\n<xml>", written back there.
EXTRA_PREFIX = "edxml.extra."
# Attributes of the elements lienthong models, which it has no field for: one item per
# attribute, "where name=value" (where: the element's path, as for EXTRA_PREFIX).
ATTRIBUTES_EXTENSION = "edxml.attributes"
# They share the extension map (MAX_EXTENSIONS, 32) with the routing (8) and the
# document's own fields: 16 leaves room for both.
MAX_EXTRA_ELEMENTS = 16
ROUTING_KEYS = frozenset(
    {
        DOCUMENT_ID_EXTENSION,
        FROM_EXTENSION,
        TO_EXTENSION,
        TRACE_EXTENSION,
        BUSINESS_TYPE_EXTENSION,
        REPLACES_EXTENSION,
        RESPONSE_FOR_EXTENSION,
        ATTACHMENTS_EXTENSION,
    }
)
_UNKNOWN_TYPE_PREFIX = "edxml_"  # a type code an import made of an unknown Type number
_NEW = Business()  # a new document's business: no reason, no paper, no staff


class _Out:
    """The envelope as text, every element prefixed `edXML:`; each value checked for XML."""

    def __init__(
        self,
        extras: dict[str, list[str]] | None = None,
        attributes: dict[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        self.parts: list[str] = []
        # Elements kept from an imported package, by the path of their parent (EXTRA_PREFIX).
        self.extras = extras or {}
        # Attributes kept from an imported package, by their element's path.
        self.attributes = attributes or {}
        self.path = ["edXMLEnvelope"]
        self.counts: list[dict[str, int]] = [{}]

    def _count(self, name: str) -> int:
        counts = self.counts[-1]
        index = counts.get(name, 0)
        counts[name] = index + 1
        return index

    def _kept_attributes(self, path: str) -> str:
        return "".join(
            f' {k}="{escape(v, f"{path}@{k}")}"' for k, v in self.attributes.pop(path, ())
        )

    def start(self, name: str, attrs: str = "") -> None:
        index = self._count(name)
        self.path.append(name + (f"[{index}]" if index else ""))
        self.counts.append({})
        attrs += self._kept_attributes("/".join(self.path))
        self.parts.append(f"<edXML:{name}{attrs}>")

    def kept(self) -> None:
        """The elements kept for the element now open, written last in it."""
        self.parts.extend(self.extras.pop("/".join(self.path), ()))

    def end(self, name: str) -> None:
        self.kept()
        self.path.pop()
        self.counts.pop()
        self.parts.append(f"</edXML:{name}>")

    def leaf(self, name: str, value: str | int | None, field: str, prefix: str = "edXML") -> None:
        if value is None:
            return
        index = self._count(name)
        attrs = ""
        if prefix == "edXML":
            attrs = self._kept_attributes(
                "/".join([*self.path, name + (f"[{index}]" if index else "")])
            )
        text = escape(str(value), field)
        self.parts.append(f"<{prefix}:{name}{attrs}>{text}</{prefix}:{name}>")


def escape(text: str, field: str) -> str:
    """Text as element content: &, <, > escaped, and CR as &#13; (a parser turns a bare CR
    into LF, which would change the text)."""
    problem = xml_char_problem(text)
    if problem:
        raise InvalidField(WHAT, field, problem)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", "&#13;")
        .replace('"', "&quot;")
    )


def edxml_type(doc_type: str) -> int | None:
    """The DocumentType/Type number of a type code: the list's `edxml_type`, or the number
    an import kept as `edxml_<n>`; None when edXML has none for it."""
    known = document_types().get(doc_type)
    if known is not None:
        return known.edxml_type
    rest = doc_type.removeprefix(_UNKNOWN_TYPE_PREFIX)
    if rest != doc_type and is_decimal(rest, MAX_EDXML_DIGITS):
        return int(rest)
    return None


def _organ(out: _Out, tag: str, org: Organisation, organ_id: str) -> None:
    out.start(tag)
    out.leaf("OrganId", organ_id, f"{tag}/OrganId")
    out.leaf("OrganizationInCharge", org.parent, f"{tag}/OrganizationInCharge")
    out.leaf("OrganName", org.name, f"{tag}/OrganName")
    out.leaf("OrganAdd", org.address, f"{tag}/OrganAdd")
    out.leaf("Email", org.email, f"{tag}/Email")
    out.leaf("Telephone", org.phone, f"{tag}/Telephone")
    out.leaf("Fax", org.fax, f"{tag}/Fax")
    out.leaf("Website", org.website, f"{tag}/Website")
    out.end(tag)


def _staff(out: _Out, staff: StaffInfo) -> None:
    out.start("StaffInfo")
    out.leaf("Department", staff.department, "StaffInfo/Department")
    out.leaf("Staff", staff.name, "StaffInfo/Staff")
    out.leaf("Mobile", staff.mobile, "StaffInfo/Mobile")
    out.leaf("Email", staff.email, "StaffInfo/Email")
    out.end("StaffInfo")


def _date(iso: str | None) -> str | None:
    return None if iso is None else iso.replace("-", "/")


def _extras(m: DocumentMetadata) -> dict[str, list[str]]:
    """The elements an import kept (EXTRA_PREFIX), by the path of their parent, in order."""
    extras: dict[str, list[str]] = {}
    for key, value in m.extensions:
        if key.startswith(EXTRA_PREFIX) and isinstance(value, str):
            where, _, xml = value.partition("\n")
            extras.setdefault(where, []).append(xml)
    return extras


def _attributes(m: DocumentMetadata) -> dict[str, list[tuple[str, str]]]:
    """The attributes an import kept (ATTRIBUTES_EXTENSION), by their element's path."""
    found: dict[str, list[tuple[str, str]]] = {}
    for item in dict(m.extensions).get(ATTRIBUTES_EXTENSION, ()):
        where, _, attribute = item.partition(" ")
        name, _, value = attribute.partition("=")
        found.setdefault(where, []).append((name, value))
    return found


def envelope_text(
    metadata: DocumentMetadata,
    business: Business,
    attachments: tuple[ExportAttachment, ...],
    *,
    sender_id: str,
    receivers: tuple[Organisation, ...],
    doc_id: str,
    business_type: int,
    replaces: tuple[str, ...],
    response_for: ResponseFor | None,
    trace: tuple[TraceEntry, ...],
    content_ids: tuple[str, ...],
) -> str:
    """The root's start, the edXML envelope and the lienthong extension, as text."""
    m = metadata
    out = _Out(_extras(m), _attributes(m))
    out.parts.append(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<edXML xmlns="{EDXML_NS}">'
        f'<edXML:edXMLEnvelope xmlns:edXML="{EDXML_NS}" xmlns:xlink="{XLINK_NS}">'
    )
    out.start("edXMLHeader")
    out.start("MessageHeader")
    _organ(out, "From", m.issuer, sender_id)
    for i, r in enumerate(receivers):
        if r.code is None:
            raise InvalidField(WHAT, f"To[{i}]/OrganId", "every receiver needs an OrganId")
        _organ(out, "To", r, check_external_code(r.code, WHAT, f"To[{i}]/OrganId"))
    out.start("Code")
    number = m.number if m.year is None else f"{m.number}/{m.year}"
    out.leaf("CodeNumber", number, "Code/CodeNumber")
    out.leaf("CodeNotation", m.notation, "Code/CodeNotation")
    out.end("Code")
    out.start("PromulgationInfo")
    out.leaf("Place", m.place, "PromulgationInfo/Place")
    out.leaf("PromulgationDate", _date(m.issued_on), "PromulgationInfo/PromulgationDate")
    out.end("PromulgationInfo")
    out.start("DocumentType")
    out.leaf("Type", edxml_type(m.doc_type), "DocumentType/Type")
    name = m.type_name if m.type_name is not None else describe_type(m.doc_type)
    out.leaf("TypeName", name, "DocumentType/TypeName")
    detail = dict(m.extensions).get(TYPE_DETAIL_EXTENSION)
    out.leaf("TypeDetail", detail if isinstance(detail, str) else None, "DocumentType/TypeDetail")
    out.end("DocumentType")
    out.leaf("Subject", m.subject, "Subject")
    out.leaf("Content", m.content, "Content")
    assert m.signer is not None  # checked by body_from_wire before
    out.start("SignerInfo")
    out.leaf("Competence", m.signer.competence, "SignerInfo/Competence")
    out.leaf("Position", m.signer.position, "SignerInfo/Position")
    out.leaf("FullName", m.signer.name, "SignerInfo/FullName")
    out.end("SignerInfo")
    out.leaf("DueDate", _date(m.due_on), "DueDate")
    if m.distribution:
        out.start("ToPlaces")
        for place in m.distribution:
            out.leaf("Place", place, "ToPlaces/Place")
        out.end("ToPlaces")
    out.start("OtherInfo")
    priority = int(m.urgency)
    if priority == 3 and dict(m.extensions).get(PRIORITY_EXTENSION) == 4:
        priority = 4
    out.leaf("Priority", priority, "OtherInfo/Priority")
    out.leaf("SphereOfPromulgation", m.sphere, "OtherInfo/SphereOfPromulgation")
    out.leaf("TyperNotation", m.drafter, "OtherInfo/TyperNotation")
    out.leaf("PromulgationAmount", m.copies, "OtherInfo/PromulgationAmount")
    out.leaf("PageAmount", m.pages, "OtherInfo/PageAmount")
    if m.appendixes:
        out.start("Appendixes")
        for appendix in m.appendixes:
            out.leaf("Appendix", appendix, "OtherInfo/Appendixes/Appendix")
        out.end("Appendixes")
    out.end("OtherInfo")
    if response_for is not None:
        out.start("ResponseFor")
        out.leaf("OrganId", response_for.organ_id, "ResponseFor/OrganId")
        out.leaf("Code", response_for.code, "ResponseFor/Code")
        out.leaf("PromulgationDate", response_for.promulgation_date, "ResponseFor/PromulgationDate")
        out.leaf("DocumentId", response_for.document_id, "ResponseFor/DocumentId")
        out.end("ResponseFor")
    out.leaf("SteeringType", m.steering_type, "SteeringType")
    out.leaf("DocumentId", doc_id, "DocumentId")
    out.end("MessageHeader")
    out.start("TraceHeaderList")
    for entry in trace:
        out.start("TraceHeader")
        out.leaf("OrganId", entry.organ_id, "TraceHeader/OrganId")
        out.leaf("Timestamp", entry.timestamp, "TraceHeader/Timestamp")
        out.end("TraceHeader")
    out.start("Bussiness")
    out.leaf("BussinessDocType", business_type, "Bussiness/BussinessDocType")
    out.leaf("BussinessDocReason", business.reason, "Bussiness/BussinessDocReason")
    out.leaf("Paper", int(business.paper), "Bussiness/Paper")
    if business.staff is not None:
        _staff(out, business.staff)
    if replaces:
        out.start("ReplacementInfoList")
        for replaced in replaces:
            out.start("ReplacementInfo")
            out.leaf("DocumentId", replaced, "ReplacementInfo/DocumentId")
            out.end("ReplacementInfo")
        out.end("ReplacementInfoList")
    out.end("Bussiness")
    out.end("TraceHeaderList")
    out.end("edXMLHeader")
    out.parts.append("<edXML:DigitalSignature></edXML:DigitalSignature>")
    out.start("edXMLBody")
    out.start("edXMLManifest")
    for i, a in enumerate(attachments):
        cid = content_ids[i]
        out.start("Reference", f' xlink:href="cid:{escape(cid, "Reference/ContentId")}"')
        out.leaf("ContentId", cid, "Reference/ContentId")
        out.leaf("ContentType", a.media_type, "Reference/ContentType")
        out.leaf("Description", a.description, "Reference/Description")
        out.leaf("AttachmentName", a.name, "Reference/AttachmentName")
        out.end("Reference")
    out.end("edXMLManifest")
    out.end("edXMLBody")
    out.kept()
    if out.extras:
        where = next(iter(out.extras))
        raise InvalidField(
            WHAT, f"ext.{EXTRA_PREFIX}*", f"an element kept for {where[:80]} has no place here"
        )
    if out.attributes:
        where = next(iter(out.attributes))
        raise InvalidField(
            WHAT, f"ext.{ATTRIBUTES_EXTENSION}", f"attributes kept for {where[:80]} have no place"
        )
    out.parts.append("</edXML:edXMLEnvelope>")
    _extension(out, m)
    return "".join(out.parts)


def _extension(out: _Out, m: DocumentMetadata) -> None:
    """What edXML cannot say, exactly (docs/INTEGRATION.md, "The lienthong extension")."""
    assert m.signer is not None
    out.parts.append(f'<lt:Lienthong xmlns:lt="{LIENTHONG_NS}">')

    def leaf(name: str, value: str | int | None) -> None:
        out.leaf(name, value, f"lt:{name}", prefix="lt")

    leaf("Type", m.doc_type)
    leaf("TypeName", m.type_name)
    leaf("IssuerCode", m.issuer.code)
    leaf("InCharge", m.issuer.in_charge)
    leaf("Authority", m.signer.authority)
    leaf("ActsFor", m.signer.acts_for)
    leaf("Confidentiality", int(m.confidentiality))
    leaf("ScheduledAt", m.scheduled_at)
    for addressee in m.addressees:
        leaf("Addressee", addressee)
    for key, value in m.extensions:
        field = f"lt:Ext[{key}]"
        if isinstance(value, bool):
            kind, text = "bool", str(int(value))
        elif isinstance(value, int):
            kind, text = "int", str(value)
        elif isinstance(value, str):
            kind, text = "str", value
        else:
            items = "".join(f"<lt:Item>{escape(v, field)}</lt:Item>" for v in value)
            out.parts.append(f'<lt:Ext name="{escape(key, field)}" kind="list">{items}</lt:Ext>')
            continue
        out.parts.append(
            f'<lt:Ext name="{escape(key, field)}" kind="{kind}">{escape(text, field)}</lt:Ext>'
        )
    out.parts.append("</lt:Lienthong>")


def _attachment_chunks(a: ExportAttachment) -> Iterator[bytes]:
    if isinstance(a.source, bytes):
        for start in range(0, len(a.source), READ_CHUNK):
            yield a.source[start : start + READ_CHUNK]
        return
    with a.source.open("rb") as file:
        while chunk := file.read(READ_CHUNK):
            yield chunk


def iter_edxml(
    metadata: DocumentMetadata,
    business: Business = _NEW,
    attachments: Iterable[ExportAttachment] = (),
    *,
    sender_id: str | None = None,
    receivers: Iterable[Organisation] = (),
    doc_id: str | None = None,
    business_type: int = 0,
    replaces: Iterable[str] = (),
    response_for: ResponseFor | None = None,
    trace: Iterable[TraceEntry] = (),
    content_ids: Sequence[str] | None = None,
) -> Iterator[bytes]:
    """The package, in pieces of about 1 MiB: the envelope, then each attachment encoded as
    it is read. Every field is checked first (the rules of protocol/document.py), so bad
    input fails before a byte is yielded."""
    attachments = tuple(attachments)
    # ContentId: the package's own when it was imported (routing_of), else 1, 2, 3...
    if content_ids is None or len(content_ids) != len(attachments):
        content_ids = [str(i + 1) for i in range(len(attachments))]
    content_ids = tuple(c or str(i + 1) for i, c in enumerate(content_ids))
    receivers, replaces, trace = tuple(receivers), tuple(replaces), tuple(trace)
    # The rules of version 2, as a reader checks them: a field it would refuse fails here.
    checked = body_from_wire(body_to_wire(DocumentBody(metadata, (), business)))
    if checked.metadata != metadata or checked.business != business:
        raise InvalidField(WHAT, "metadata", "does not survive version 2 unchanged")
    if metadata.number is None:
        raise InvalidField(WHAT, "Code/CodeNumber", "edXML needs the document's number")
    organ = sender_id if sender_id is not None else metadata.issuer.code
    if organ is None:
        raise InvalidField(WHAT, "From/OrganId", "the sender's OrganId is needed")
    check_external_code(organ, WHAT, "From/OrganId")
    if doc_id is None:
        doc_id = document_id(organ, metadata.issued_on, metadata.number_notation)
    check_document_id(doc_id, WHAT, "DocumentId")
    if business_type not in BUSINESS_TYPES:
        raise InvalidField(WHAT, "BussinessDocType", f"{business_type} is not 0, 1, 2 or 3")
    for i, replaced in enumerate(replaces):
        check_document_id(replaced, WHAT, f"ReplacementInfo[{i}]/DocumentId")
    if response_for is not None:
        check_document_id(response_for.document_id, WHAT, "ResponseFor/DocumentId")
    if len(trace) > MAX_TRACE:
        raise LimitExceeded(f"{WHAT}: {len(trace)} trace headers, limit {MAX_TRACE}")
    for i, entry in enumerate(trace):
        check_external_code(entry.organ_id, WHAT, f"TraceHeader[{i}]/OrganId")
        check_timestamp(entry.timestamp, WHAT, f"TraceHeader[{i}]/Timestamp")
    if len(attachments) > MAX_EDXML_ATTACHMENTS:
        raise LimitExceeded(
            f"{WHAT}: {len(attachments)} attachments, limit {MAX_EDXML_ATTACHMENTS}"
        )
    seen: set[str] = set()
    for i, a in enumerate(attachments):
        check_attachment_name(a.name, f"{WHAT}, attachment {i}")
        if a.name.casefold() in seen:
            raise InvalidField(f"{WHAT}, attachment {i}", "AttachmentName", "named twice")
        seen.add(a.name.casefold())
    yield envelope_text(
        metadata,
        business,
        attachments,
        sender_id=organ,
        receivers=receivers,
        doc_id=doc_id,
        business_type=business_type,
        replaces=replaces,
        response_for=response_for,
        trace=trace,
        content_ids=content_ids,
    ).encode("utf-8")
    if attachments:
        yield b"<AttachmentEncoded>"
        for i, a in enumerate(attachments):
            yield (
                f"<Attachment><ContentType>{escape(a.media_type, 'ContentType')}</ContentType>"
                f"<ContentId>{escape(content_ids[i], 'ContentId')}</ContentId>"
                f"<Description>{escape(a.description, 'Description')}</Description>"
                "<ContentTransferEncoded>\n"
            ).encode()
            for chunk in _attachment_chunks(a):
                yield base64.encodebytes(chunk)
            yield (
                "</ContentTransferEncoded>"
                f"<AttachmentName>{escape(a.name, 'AttachmentName')}</AttachmentName>"
                "</Attachment>"
            ).encode()
        yield b"</AttachmentEncoded>"
    yield b"</edXML>\n"


def to_edxml(metadata: DocumentMetadata, business: Business = _NEW, *args, **kwargs) -> bytes:
    """The whole package as bytes (iter_edxml's arguments): for small packages and tests."""
    return b"".join(iter_edxml(metadata, business, *args, **kwargs))


def iter_document(doc: EdxmlDocument) -> Iterator[bytes]:
    """A package read by from_edxml written again, its attachments read from their files."""
    return iter_edxml(
        doc.metadata,
        doc.business,
        [ExportAttachment(a.name, a.media_type, a.path, a.description) for a in doc.attachments],
        sender_id=doc.sender_id,
        receivers=doc.receivers,
        doc_id=doc.document_id,
        business_type=doc.business_type,
        replaces=doc.replaces,
        response_for=doc.response_for,
        trace=doc.trace,
        content_ids=[a.content_id for a in doc.attachments],
    )


def write_edxml(out: BinaryIO, *args, **kwargs) -> int:
    """Write the package to `out` as it is made (iter_edxml's arguments); the bytes written."""
    total = 0
    for piece in iter_edxml(*args, **kwargs):
        out.write(piece)
        total += len(piece)
    return total


def status_to_edxml(status: EdxmlStatus) -> bytes:
    """An edXML status message: From, ResponseFor/DocumentId, StatusCode (two digits),
    Description, Timestamp, StaffInfo."""
    what = "edXML status"
    organ = status.sender.code
    if organ is None:
        raise InvalidField(what, "From/OrganId", "the sender's OrganId is needed")
    check_external_code(organ, what, "From/OrganId")
    check_document_id(status.document_id, what, "ResponseFor/DocumentId")
    check_timestamp(status.timestamp, what, "Timestamp")
    out = _Out()
    out.parts.append(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<edXML xmlns="{EDXML_NS}">'
        f'<edXML:edXMLEnvelope xmlns:edXML="{EDXML_NS}"><edXML:edXMLHeader>'
    )
    out.start("MessageHeader")
    _organ(out, "From", status.sender, organ)
    out.start("ResponseFor")
    out.leaf("DocumentId", status.document_id, "ResponseFor/DocumentId")
    out.end("ResponseFor")
    out.leaf("StatusCode", f"{int(status.code):02d}", "StatusCode")
    out.leaf("Description", status.description, "Description")
    out.leaf("Timestamp", status.timestamp, "Timestamp")
    if status.staff is not None:
        _staff(out, status.staff)
    out.end("MessageHeader")
    out.parts.append(
        "</edXML:edXMLHeader><edXML:DigitalSignature></edXML:DigitalSignature>"
        "</edXML:edXMLEnvelope></edXML>\n"
    )
    return "".join(out.parts).encode("utf-8")


def _json(text: str, field: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidField(WHAT, f"ext.{field}", "is not a JSON object of strings")
    return value


def routing_of(metadata: DocumentMetadata) -> dict[str, Any]:
    """The routing an import kept in `metadata`'s extension map (edxml_read.with_routing),
    as iter_edxml's keyword arguments; {} for a document that came in no package."""
    ext = dict(metadata.extensions)
    if DOCUMENT_ID_EXTENSION not in ext:
        return {}
    receivers = []
    for text in ext.get(TO_EXTENSION, ()):
        r = _json(text, TO_EXTENSION)
        receivers.append(
            Organisation(
                name=r.get("name", ""),
                code=r.get("id"),
                parent=r.get("parent"),
                address=r.get("address"),
                email=r.get("email"),
                phone=r.get("phone"),
                fax=r.get("fax"),
                website=r.get("website"),
            )
        )
    trace = []
    for text in ext.get(TRACE_EXTENSION, ()):
        organ, _, stamp = text.partition(",")
        trace.append(TraceEntry(organ, stamp))
    response_for = None
    if RESPONSE_FOR_EXTENSION in ext:
        rf = _json(ext[RESPONSE_FOR_EXTENSION], RESPONSE_FOR_EXTENSION)
        response_for = ResponseFor(
            document_id=rf.get("id", ""),
            organ_id=rf.get("organ"),
            code=rf.get("code"),
            promulgation_date=rf.get("date"),
        )
    kept = [_json(t, ATTACHMENTS_EXTENSION) for t in ext.get(ATTACHMENTS_EXTENSION, ())]
    return {
        "sender_id": ext.get(FROM_EXTENSION),
        "receivers": tuple(receivers),
        "doc_id": ext[DOCUMENT_ID_EXTENSION],
        "business_type": ext.get(BUSINESS_TYPE_EXTENSION, 0),
        "replaces": tuple(ext.get(REPLACES_EXTENSION, ())),
        "response_for": response_for,
        "trace": tuple(trace),
        "content_ids": tuple(a.get("content_id", "") for a in kept) or None,
    }


def kept_descriptions(metadata: DocumentMetadata) -> tuple[str, ...]:
    """The attachments' Description an import kept, in order (empty: none kept)."""
    kept = dict(metadata.extensions).get(ATTACHMENTS_EXTENSION, ())
    return tuple(_json(t, ATTACHMENTS_EXTENSION).get("description", "") for t in kept)
