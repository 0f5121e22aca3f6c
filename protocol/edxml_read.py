"""Reading edXML packages and status messages with a hardened, streaming XML parser.

The parser is the standard library's expat, fed in chunks, with the guards defusedxml puts
on it: a document type declaration (<!DOCTYPE>, where entities and external references are
declared) is refused as soon as it starts, so no entity can expand and nothing is fetched.
The envelope becomes a small tree, bounded by MAX_EDXML_BYTES and MAX_DEPTH; an attachment's
base64 is decoded into a file as it arrives, so a package of any size stays in bounded memory.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from xml.parsers import expat

from lienthong.protocol.codes import StatusCode
from lienthong.protocol.doctypes import MAX_EDXML_DIGITS, type_by_edxml
from lienthong.protocol.document import (
    MAX_APPENDIXES,
    MAX_COUNT,
    MAX_EXTENSIONS,
    MAX_STEERING_TYPE,
    DocumentMetadata,
    Organisation,
    StaffInfo,
    body_from_wire,
    parse_competence,
)
from lienthong.protocol.edxml import (
    BUSINESS_TYPES,
    CODE_NUMBER,
    EDXML_NS,
    LIENTHONG_NS,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENT_FIELD,
    MAX_DEPTH,
    MAX_EDXML_ATTACHMENTS,
    MAX_EDXML_BYTES,
    MAX_EDXML_STATUS_BYTES,
    MAX_TRACE,
    EdxmlAttachment,
    EdxmlDocument,
    EdxmlStatus,
    ResponseFor,
    TraceEntry,
    check_attachment_name,
    check_date,
    check_document_id,
    check_timestamp,
)
from lienthong.protocol.edxml_write import (
    ATTACHMENTS_EXTENSION,
    ATTRIBUTES_EXTENSION,
    BUSINESS_TYPE_EXTENSION,
    DOCUMENT_ID_EXTENSION,
    EXTRA_PREFIX,
    FROM_EXTENSION,
    MAX_EXTRA_ELEMENTS,
    PRIORITY_EXTENSION,
    REPLACES_EXTENSION,
    RESPONSE_FOR_EXTENSION,
    ROUTING_KEYS,
    TO_EXTENSION,
    TRACE_EXTENSION,
    TYPE_DETAIL_EXTENSION,
    escape,
)
from lienthong.protocol.errors import DecodeError, InvalidField, LimitExceeded
from lienthong.protocol.limits import MAX_LIST_ITEMS, MAX_SHORT_TEXT, MAX_SUBJECT
from lienthong.protocol.text import is_decimal
from lienthong.protocol.units import check_external_code, has_wire_shape

WHAT = "edXML package"
READ_CHUNK = 1024 * 1024  # bytes fed to the parser at a time
# Bytes the parser may hold with no event: it keeps a tag with its attributes whole until
# the tag ends. No honest tag is near 8 MiB; text is handed over in pieces (1 MiB).
MAX_TOKEN_BYTES = 8 * 1024 * 1024
_B64_SPACE = b" \t\r\n"  # line breaks and indentation inside base64 text
_SEP = " "  # expat's separator between namespace URI and local name


class EdxmlError(DecodeError):
    """The bytes are not an edXML package lienthong can read: not XML, a DTD or entity,
    the wrong namespace, over a limit."""


@dataclass(slots=True)
class Node:
    """An element of the envelope: local name, attributes, children and text."""

    name: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    path: str = ""
    # The path with the position of each element among its namesakes, "To[1]" for the second
    # To: where an export puts an element kept from the package (edxml_write, EXTRA_PREFIX).
    ipath: str = ""


class _View:
    """Exhaustive access to one node's children, as protocol.wire.Fields is for maps: each
    child read at most the times allowed, and any child not read is refused by done()."""

    def __init__(self, node: Node, what: str = WHAT, keep: list[Node] | None = None) -> None:
        self.node = node
        self.what = what
        self.keep = keep  # where done() puts elements it does not read; None: refuse them
        self.used: set[str] = set()
        if node.children and "".join(node.text).strip():
            raise InvalidField(what, node.path, "holds text beside its elements")

    def all(self, name: str, max_items: int = MAX_LIST_ITEMS) -> list[Node]:
        self.used.add(name)
        found = [c for c in self.node.children if c.name == name]
        if len(found) > max_items:
            raise LimitExceeded(f"{self.what}: {len(found)} {name} elements, limit {max_items}")
        return found

    def one(self, name: str, optional: bool = False) -> Node | None:
        found = self.all(name)
        if len(found) > 1:
            raise InvalidField(self.what, f"{self.node.path}/{name}", "appears more than once")
        if not found:
            if optional:
                return None
            raise InvalidField(self.what, f"{self.node.path}/{name}", "missing")
        return found[0]

    def view(self, name: str, optional: bool = False) -> _View | None:
        node = self.one(name, optional)
        return None if node is None else _View(node, self.what, self.keep)

    def text(self, name: str, optional: bool = False) -> str | None:
        node = self.one(name, optional)
        return None if node is None else _leaf(node, self.what)

    def token(self, name: str, optional: bool = False) -> str | None:
        """A value of a fixed form (an id, a date, a number): the spaces and line breaks a
        pretty-printer puts around it are not part of it."""
        text = self.text(name, optional)
        return None if text is None else text.strip()

    def texts(self, name: str, max_items: int = MAX_LIST_ITEMS) -> tuple[str, ...]:
        return tuple(_leaf(n, self.what) for n in self.all(name, max_items))

    def int(self, name: str, lo: int, hi: int, optional: bool = False) -> int | None:
        text = self.text(name, optional)
        if text is None:
            return None
        if not is_decimal(text.strip(), 19) or not lo <= int(text) <= hi:
            raise InvalidField(
                self.what, f"{self.node.path}/{name}", f"{text[:20]!r} is not a number {lo}..{hi}"
            )
        return int(text)

    def done(self) -> None:
        unknown = {c.name for c in self.node.children} - self.used
        if unknown and self.keep is not None:
            # An element of edXML lienthong does not model (a receiver add/remove list, a
            # later version's field): kept whole, written back by an export.
            self.keep.extend(c for c in self.node.children if c.name in unknown)
            return
        if unknown:
            raise InvalidField(
                self.what,
                f"{self.node.path}/{sorted(unknown)[0]}",
                "an element lienthong does not read (nothing is dropped silently)",
            )


def _leaf(node: Node, what: str) -> str:
    if node.children:
        raise InvalidField(what, node.path, "expected text, found elements")
    return "".join(node.text)


class Sink(Protocol):
    """Where an attachment's decoded bytes go instead of a file (the caller's: a blob being
    encrypted). close() once every byte is written, abort() when the package is refused."""

    def write(self, data: bytes, /) -> Any: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


# sink(index): a new Sink for the attachment at `index` of the package.
SinkFactory = Callable[[int], Sink]


class _FileSink:
    """An attachment decoded into a new file of the caller's folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "xb")  # noqa: SIM115 - closed by close() or abort()

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def close(self) -> None:
        self.file.close()

    def abort(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


class _Base64File:
    """Decodes base64 text as it comes into a sink (a file), hashing and counting the bytes."""

    def __init__(self, sink: Sink, what: str) -> None:
        self.file = sink
        self.what = what
        self.pending = b""
        self.ended = False
        self.size = 0
        self.hash = hashlib.sha256()

    def feed(self, text: str) -> None:
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            raise InvalidField(self.what, "ContentTransferEncoded", "not base64") from None
        raw = self.pending + raw.translate(None, _B64_SPACE)
        whole = len(raw) // 4 * 4
        self.pending = raw[whole:]
        if not whole:
            return
        if self.ended:
            raise InvalidField(self.what, "ContentTransferEncoded", "base64 goes on after '='")
        block = raw[:whole]
        if b"=" in block[:-4] or b"=" in block[-4:].rstrip(b"="):
            raise InvalidField(self.what, "ContentTransferEncoded", "'=' inside base64")
        self.ended = block.endswith(b"=")
        try:
            data = binascii.a2b_base64(block)
        except binascii.Error:
            raise InvalidField(self.what, "ContentTransferEncoded", "not base64") from None
        # a2b_base64 skips a character outside the alphabet: the output is then shorter
        # than the input's length says, which is the check (cheaper than validate=True).
        if len(data) != whole // 4 * 3 - block[-2:].count(b"="):
            raise InvalidField(self.what, "ContentTransferEncoded", "not base64")
        self.size += len(data)
        if self.size > MAX_ATTACHMENT_BYTES:
            raise LimitExceeded(f"{self.what}: over {MAX_ATTACHMENT_BYTES} bytes decoded")
        self.hash.update(data)
        self.file.write(data)

    def finish(self) -> None:
        if self.pending.strip():
            raise InvalidField(self.what, "ContentTransferEncoded", "base64 cut short")
        self.file.close()

    def abort(self) -> None:
        self.file.abort()


class _Reader:
    """The expat handlers: the envelope and the extension as trees, attachments streamed."""

    def __init__(
        self,
        folder: Path | None,
        max_envelope: int = MAX_EDXML_BYTES,
        sink: SinkFactory | None = None,
    ) -> None:
        self.folder = folder
        self.sink = sink
        self.max_envelope = max_envelope
        p = expat.ParserCreate(encoding=None, namespace_separator=_SEP)
        p.buffer_text = True
        p.buffer_size = 1024 * 1024  # base64 text reaches the decoder in pieces of 1 MiB
        p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        p.StartDoctypeDeclHandler = self._refuse_dtd
        p.EntityDeclHandler = self._refuse_entity
        p.UnparsedEntityDeclHandler = self._refuse_entity
        p.ExternalEntityRefHandler = self._refuse_entity
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._text
        self.parser = p
        self.depth = 0
        self.root_seen = False
        self.stack: list[Node] = []  # open nodes of a tree being built
        self.envelope: Node | None = None
        self.extension: Node | None = None
        self.attachments: list[EdxmlAttachment] = []
        self.in_encoded = False
        self.current: dict[str, str] | None = None  # the Attachment being read
        self.field_name: str | None = None
        self.field_text: list[str] = []
        self.decoder: _Base64File | None = None
        self.taken: set[str] = set()
        self.written: list[Path] = []
        self.fed = 0
        self.last_event = 0

    # Guards ------------------------------------------------------------------------------

    def _refuse_dtd(self, *_: Any) -> None:
        raise EdxmlError(
            f"{WHAT}: a document type declaration (<!DOCTYPE>) is refused: it could declare "
            "entities (billion laughs) or external references"
        )

    def _refuse_entity(self, *_: Any) -> None:
        raise EdxmlError(f"{WHAT}: entity declarations and external entities are refused")

    def _split(self, qname: str) -> tuple[str, str]:
        ns, sep, local = qname.rpartition(_SEP)
        return (ns, local) if sep else ("", qname)

    def _check_size(self) -> None:
        if self.parser.CurrentByteIndex > self.max_envelope:
            raise LimitExceeded(
                f"{WHAT}: the envelope is over {self.max_envelope} bytes (MAX_EDXML_BYTES)"
            )

    # Handlers ----------------------------------------------------------------------------

    def _start(self, qname: str, attrs: dict[str, str]) -> None:
        self.last_event = self.parser.CurrentByteIndex
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise LimitExceeded(f"{WHAT}: elements nested over {MAX_DEPTH} deep (MAX_DEPTH)")
        ns, local = self._split(qname)
        if self.depth == 1:
            if (ns, local) != (EDXML_NS, "edXML"):
                raise EdxmlError(
                    f"{WHAT}: the root is {local!r} in namespace {ns or '(none)'!r}, not edXML "
                    f"in {EDXML_NS}"
                )
            self.root_seen = True
            return
        if self.stack:
            self._tree_start(ns, local, attrs)
        elif self.depth == 2:
            self._top_start(ns, local, attrs)
        else:
            self._attachment_start(ns, local)

    def _top_start(self, ns: str, local: str, attrs: dict[str, str]) -> None:
        if (ns, local) == (EDXML_NS, "edXMLEnvelope"):
            if self.envelope is not None or self.attachments or self.in_encoded:
                raise EdxmlError(f"{WHAT}: edXMLEnvelope must come once, first")
            self.envelope = Node(local, attrs, path=local, ipath=local)
            self.stack.append(self.envelope)
        elif (ns, local) == (LIENTHONG_NS, "Lienthong"):
            if self.envelope is None or self.extension is not None or self.in_encoded:
                raise EdxmlError(f"{WHAT}: the lienthong extension comes once, after the envelope")
            self.extension = Node(local, attrs, path="lt:Lienthong")
            self.stack.append(self.extension)
        elif (ns, local) == (EDXML_NS, "AttachmentEncoded"):
            if self.envelope is None or self.in_encoded:
                raise EdxmlError(f"{WHAT}: AttachmentEncoded comes once, after the envelope")
            self.in_encoded = True
        else:
            raise EdxmlError(f"{WHAT}: unexpected element {local!r} in namespace {ns!r}")

    def _tree_start(self, ns: str, local: str, attrs: dict[str, str]) -> None:
        self._check_size()
        top = self.stack[-1]
        expected = LIENTHONG_NS if self.stack[0] is self.extension else EDXML_NS
        # XML-DSig inside DigitalSignature is in its own namespace; it is skipped (5.7).
        in_signature = any(n.name == "DigitalSignature" for n in self.stack)
        if ns != expected and not in_signature:
            raise EdxmlError(
                f"{WHAT}: {top.path}/{local} is in namespace {ns or '(none)'!r}, not {expected}"
            )
        node = Node(local, {self._split(k)[1]: v for k, v in attrs.items()})
        node.path = f"{top.path}/{local}"
        index = sum(1 for c in top.children if c.name == local)
        node.ipath = f"{top.ipath}/{local}" + (f"[{index}]" if index else "")
        top.children.append(node)
        self.stack.append(node)

    def _attachment_start(self, ns: str, local: str) -> None:
        if ns != EDXML_NS:
            raise EdxmlError(f"{WHAT}: AttachmentEncoded/{local} is in namespace {ns!r}")
        what = f"{WHAT}, attachment {len(self.attachments)}"
        if self.depth == 3:
            if local != "Attachment":
                raise InvalidField(what, f"AttachmentEncoded/{local}", "unexpected element")
            if len(self.attachments) >= MAX_EDXML_ATTACHMENTS:
                raise LimitExceeded(f"{WHAT}: over {MAX_EDXML_ATTACHMENTS} attachments")
            self.current = {}
            return
        fields = ("ContentType", "ContentId", "Description", "ContentTransferEncoded")
        if self.depth != 4 or local not in (*fields, "AttachmentName"):
            raise InvalidField(what, f"Attachment/{local}", "unexpected element")
        assert self.current is not None
        if local in self.current:
            raise InvalidField(what, f"Attachment/{local}", "appears more than once")
        self.field_name = local
        self.field_text = []
        if local == "ContentTransferEncoded":
            if self.sink is not None:
                self.decoder = _Base64File(self.sink(len(self.attachments)), what)
                return
            if self.folder is None:
                raise EdxmlError(f"{WHAT}: holds attachments; name a folder to decode them into")
            # A random name: an attachment's own name cannot be the partial file of another.
            path = self.folder / f".edxml-{secrets.token_hex(8)}.part"
            self.decoder = _Base64File(_FileSink(path), what)
            self.written.append(path)

    def _end(self, qname: str) -> None:
        self.last_event = self.parser.CurrentByteIndex
        self.depth -= 1
        if self.stack:
            self._check_size()
            self.stack.pop()
            return
        if self.field_name is not None:
            self._end_field()
        elif self.depth == 2 and self.current is not None:
            self._end_attachment()

    def _end_field(self) -> None:
        assert self.current is not None and self.field_name is not None
        if self.field_name == "ContentTransferEncoded":
            assert self.decoder is not None
            self.decoder.finish()
            self.current[self.field_name] = ""
        else:
            self.current[self.field_name] = "".join(self.field_text)
        self.field_name = None

    def _end_attachment(self) -> None:
        assert self.current is not None
        index = len(self.attachments)
        what = f"{WHAT}, attachment {index}"
        for name in ("ContentType", "ContentTransferEncoded", "AttachmentName"):
            if name not in self.current:
                raise InvalidField(what, f"Attachment/{name}", "missing")
        name = check_attachment_name(self.current["AttachmentName"], what)
        if name.casefold() in self.taken:
            raise InvalidField(what, "AttachmentName", f"{name[:80]!r} is named twice")
        self.taken.add(name.casefold())
        decoder = self.decoder
        assert decoder is not None
        if isinstance(decoder.file, _FileSink):
            assert self.folder is not None
            final = self.folder / name
            if final.exists():
                raise EdxmlError(f"{WHAT}: {final} exists already; decode into an empty folder")
            os.replace(decoder.file.path, final)
            self.written.append(final)
        else:
            final = Path(name)  # the bytes are in the caller's sink: the name only
        self.attachments.append(
            EdxmlAttachment(
                name=name,
                media_type=self.current["ContentType"],
                content_id=self.current.get("ContentId", ""),
                description=self.current.get("Description", ""),
                path=final,
                size=decoder.size,
                sha256=decoder.hash.digest(),
            )
        )
        self.current = None
        self.decoder = None

    def _text(self, data: str) -> None:
        self.last_event = self.parser.CurrentByteIndex
        if self.stack:
            self._check_size()
            self.stack[-1].text.append(data)
        elif self.field_name == "ContentTransferEncoded":
            assert self.decoder is not None
            self.decoder.feed(data)
        elif self.field_name is not None:
            self.field_text.append(data)
            if sum(map(len, self.field_text)) > MAX_ATTACHMENT_FIELD:
                raise LimitExceeded(
                    f"{WHAT}: Attachment/{self.field_name} over {MAX_ATTACHMENT_FIELD} characters"
                )
        elif data.strip():
            raise EdxmlError(f"{WHAT}: text outside the elements: {data.strip()[:40]!r}")

    # Feeding -----------------------------------------------------------------------------

    def check_held(self) -> None:
        """Refuse a token (a tag, a name, an attribute) the parser holds whole while it
        grows: expat buffers it until it ends, so its size must be bounded here."""
        if self.fed - self.last_event > MAX_TOKEN_BYTES:
            raise LimitExceeded(
                f"{WHAT}: over {MAX_TOKEN_BYTES} bytes without a complete tag or text "
                "(MAX_TOKEN_BYTES)"
            )

    def feed(self, data: bytes, final: bool = False) -> None:
        self.fed += len(data)
        try:
            self.parser.Parse(data, final)
        except expat.ExpatError as exc:
            raise EdxmlError(f"{WHAT}: not well-formed XML: {exc}") from None

    def cleanup(self) -> None:
        if self.decoder is not None:
            self.decoder.abort()
        for path in self.written:
            path.unlink(missing_ok=True)


def parse_tree(
    stream: BinaryIO, folder: Path | None, max_envelope: int, sink: SinkFactory | None = None
) -> _Reader:
    """Run the hardened parser over `stream`; on any error, remove what it wrote."""
    reader = _Reader(folder, max_envelope, sink)
    try:
        while chunk := stream.read(READ_CHUNK):
            reader.feed(chunk)
            reader.check_held()
        reader.feed(b"", final=True)
        if reader.envelope is None:
            raise EdxmlError(f"{WHAT}: no edXMLEnvelope")
    except BaseException:
        reader.cleanup()
        raise
    return reader


def from_edxml(
    stream: BinaryIO, folder: Path | None = None, *, sink: SinkFactory | None = None
) -> EdxmlDocument:
    """Read a package from `stream`, decoding its attachments into files of `folder` (an
    empty folder the caller owns; None: a package with attachments is refused), or, with
    `sink`, into the sink it makes for each (an attachment's `path` is then its name only).
    Every field is checked as the wire checks it (protocol/document.py); on error nothing
    stays in `folder`, and the sink being written is aborted (those closed before are the
    caller's to undo)."""
    reader = parse_tree(stream, folder, MAX_EDXML_BYTES, sink)
    try:
        return _document(reader)
    except BaseException:
        reader.cleanup()
        raise


def _organ(v: _View) -> tuple[str, dict[str, str | None]]:
    organ_id = v.token("OrganId")
    assert organ_id is not None
    check_external_code(organ_id, WHAT, f"{v.node.path}/OrganId")
    fields = {
        "parent": v.text("OrganizationInCharge", True),
        "name": v.text("OrganName", True),
        "address": v.text("OrganAdd", True),
        "email": v.text("Email", True),
        "phone": v.text("Telephone", True),
        "fax": v.text("Fax", True),
        "website": v.text("Website", True),
    }
    v.done()
    return organ_id, fields


def _organisation(organ_id: str, f: dict[str, str | None]) -> Organisation:
    return Organisation(
        name=f["name"] or "",
        code=organ_id,
        parent=f["parent"],
        address=f["address"],
        email=f["email"],
        phone=f["phone"],
        fax=f["fax"],
        website=f["website"],
    )


def _staff(v: _View) -> dict[str, str]:
    staff = {
        "department": v.text("Department", True) or "",
        "name": v.text("Staff") or "",
        "mobile": v.text("Mobile", True) or "",
        "email": v.text("Email", True) or "",
    }
    v.done()
    return staff


def _document(reader: _Reader) -> EdxmlDocument:
    assert reader.envelope is not None
    kept: list[Node] = []
    env = _View(reader.envelope, keep=kept)
    head = env.view("edXMLHeader")
    assert head is not None
    h = head.view("MessageHeader")
    assert h is not None
    from_view = h.view("From")
    assert from_view is not None
    sender_id, issuer = _organ(from_view)
    receivers = []
    for node in h.all("To"):
        organ_id, to = _organ(_View(node, keep=kept))
        receivers.append(_organisation(organ_id, to))
    code = h.view("Code")
    assert code is not None
    code_number = code.token("CodeNumber") or ""
    match = CODE_NUMBER.fullmatch(code_number)
    if not match:
        raise InvalidField(WHAT, "Code/CodeNumber", f"{code_number[:20]!r} is not 2340 or 49/2012")
    notation = code.text("CodeNotation")
    code.done()
    prom = h.view("PromulgationInfo")
    assert prom is not None
    place = prom.text("Place")
    issued_on = check_date(prom.token("PromulgationDate") or "", WHAT, "PromulgationDate")
    prom.done()
    dtype = h.view("DocumentType")
    assert dtype is not None
    type_number = dtype.token("Type", True)
    type_name = dtype.text("TypeName", True)
    type_detail = dtype.text("TypeDetail", True)
    dtype.done()
    subject = h.text("Subject")
    content = h.text("Content", True)
    signer = h.view("SignerInfo")
    assert signer is not None
    competence = signer.text("Competence") or ""
    position = signer.text("Position")
    full_name = signer.text("FullName")
    signer.done()
    due = h.token("DueDate", True)
    places = h.view("ToPlaces", True)
    distribution = () if places is None else places.texts("Place")
    if places is not None:
        places.done()
    other = h.view("OtherInfo", True)
    urgency, sphere, drafter, copies, pages, appendixes = 0, None, None, None, None, ()
    if other is not None:
        urgency = other.int("Priority", 0, 4, True) or 0
        sphere = other.text("SphereOfPromulgation", True)
        drafter = other.text("TyperNotation", True)
        copies = other.int("PromulgationAmount", 0, MAX_COUNT, True)
        pages = other.int("PageAmount", 0, MAX_COUNT, True)
        apps = other.view("Appendixes", True)
        if apps is not None:
            appendixes = apps.texts("Appendix", MAX_APPENDIXES)
            apps.done()
        other.done()
    response_for = None
    rf = h.view("ResponseFor", True)
    if rf is not None:
        rf_id = rf.token("DocumentId") or ""
        response_for = ResponseFor(
            document_id=check_document_id(rf_id, WHAT, "ResponseFor/DocumentId"),
            organ_id=rf.token("OrganId", True),
            code=rf.text("Code", True),
            promulgation_date=rf.token("PromulgationDate", True),
        )
        rf.done()
        if response_for.organ_id is not None:
            check_external_code(response_for.organ_id, WHAT, "ResponseFor/OrganId")
        if response_for.promulgation_date is not None:
            check_date(response_for.promulgation_date, WHAT, "ResponseFor/PromulgationDate")
    steering = h.int("SteeringType", 0, MAX_STEERING_TYPE, True)
    doc_id = check_document_id(h.token("DocumentId") or "", WHAT, "DocumentId")
    h.done()

    trace_list = head.view("TraceHeaderList")
    assert trace_list is not None
    trace = []
    for node in trace_list.all("TraceHeader", MAX_TRACE):
        t = _View(node, keep=kept)
        organ_id = check_external_code(t.token("OrganId"), WHAT, "TraceHeader/OrganId")
        stamp = check_timestamp(t.token("Timestamp") or "", WHAT, "TraceHeader/Timestamp")
        t.done()
        trace.append(TraceEntry(organ_id, stamp))
    biz = trace_list.view("Bussiness", True)
    business_type, reason, paper, staff, replaces = 0, None, False, None, ()
    if biz is not None:
        business_type = biz.int("BussinessDocType", 0, 3) or 0
        reason = biz.text("BussinessDocReason", True)
        paper = bool(biz.int("Paper", 0, 1, True))
        staff_view = biz.view("StaffInfo", True)
        staff = None if staff_view is None else _staff(staff_view)
        rl = biz.view("ReplacementInfoList", True)
        if rl is not None:
            ids = []
            for node in rl.all("ReplacementInfo"):
                r = _View(node, keep=kept)
                ids.append(check_document_id(r.token("DocumentId") or "", WHAT, "ReplacementInfo"))
                r.done()
            rl.done()
            replaces = tuple(ids)
        biz.done()
    assert business_type in BUSINESS_TYPES
    trace_list.done()
    head.done()
    env.all("DigitalSignature")  # XML-DSig is not verified here: the transport is trusted
    body = env.view("edXMLBody", True)
    manifest: list[tuple[str, str]] = []
    if body is not None:
        mf = body.view("edXMLManifest", True)
        if mf is not None:
            for node in mf.all("Reference", MAX_EDXML_ATTACHMENTS):
                ref = _View(node, keep=kept)
                manifest.append(
                    (ref.text("AttachmentName") or "", ref.text("ContentId", True) or "")
                )
                ref.text("ContentType", True)
                ref.text("Description", True)
                ref.done()
            mf.done()
        body.done()
    env.done()
    names = [(a.name, a.content_id) for a in reader.attachments]
    if manifest and [n for n, _ in manifest] != [n for n, _ in names]:
        raise InvalidField(
            WHAT, "edXMLManifest", "names other attachments than AttachmentEncoded holds"
        )

    exact = _extension(reader.extension)
    authority, acts_for = parse_competence(competence)
    number, year = match.group(1), match.group(2)
    if exact is not None:
        doc_type = exact["type"]
        type_name_value = exact["type_name"]
        issuer_code = exact["issuer_code"]
        authority, acts_for = exact["authority"], exact["acts_for"]
    else:
        doc_type = _type_code(type_number)
        type_name_value = type_name
        issuer_code = sender_id if has_wire_shape(sender_id) else None
    extensions = dict(exact["ext"]) if exact else {}
    extensions = {k: v for k, v in extensions.items() if not k.startswith(EXTRA_PREFIX)}
    extensions.pop(ATTRIBUTES_EXTENSION, None)
    extensions.update(_kept(kept))
    attributes = _attributes(reader.envelope, kept)
    if attributes:
        extensions[ATTRIBUTES_EXTENSION] = attributes
    if type_detail is not None:
        extensions[TYPE_DETAIL_EXTENSION] = type_detail
    scheduled_at = exact["scheduled_at"] if exact else None
    if urgency == 4 and scheduled_at is None:
        # Priority 4 is hỏa tốc hẹn giờ, whose time edXML does not say: read as hỏa tốc,
        # the 4 kept so that an export writes it again.
        urgency = 3
        extensions[PRIORITY_EXTENSION] = 4
    wire = {
        "v": 2,
        "metadata": {
            "number": number,
            "year": None if year is None else int(year),
            "notation": notation,
            "type": doc_type,
            "type_name": type_name_value,
            "issuer": {
                **{k: v for k, v in issuer.items() if k != "name"},
                "name": issuer["name"] or "",
                "code": issuer_code,
                "in_charge": exact["in_charge"] if exact else None,
            },
            "place": place,
            "issued_on": issued_on,
            "subject": subject,
            "content": content,
            "signer": {
                "authority": authority,
                "acts_for": acts_for,
                "position": position,
                "name": full_name,
            },
            "urgency": urgency,
            "scheduled_at": scheduled_at,
            "confidentiality": exact["confidentiality"] if exact else 0,
            "due_on": None if due is None else check_date(due, WHAT, "DueDate"),
            "addressees": list(exact["addressees"]) if exact else [],
            "distribution": list(distribution),
            "copies": copies,
            "pages": pages,
            "drafter": drafter,
            "steering_type": steering,
            "sphere": sphere,
            "appendixes": list(appendixes),
            "ext": extensions,
        },
        "business": {"reason": reason, "paper": paper, "staff": staff},
        "attachments": [],
    }
    checked = body_from_wire(wire)
    return EdxmlDocument(
        metadata=checked.metadata,
        business=checked.business,
        sender_id=sender_id,
        document_id=doc_id,
        receivers=tuple(receivers),
        business_type=business_type,
        replaces=replaces,
        response_for=response_for,
        trace=tuple(trace),
        attachments=tuple(reader.attachments),
    )


def _xml(node: Node) -> str:
    """An element kept from a package as XML text, every element prefixed edXML:."""
    attrs = "".join(f' {k}="{escape(v, node.path)}"' for k, v in sorted(node.attrs.items()))
    if node.children:
        inner = "".join(_xml(c) for c in node.children)
    else:
        inner = escape("".join(node.text), node.path)
    return f"<edXML:{node.name}{attrs}>{inner}</edXML:{node.name}>"


def _attributes(envelope: Node, kept: list[Node]) -> list[str]:
    """The attributes of the elements lienthong models, "where name=value" each (an element
    kept whole keeps its own; a Reference's xlink:href is written from its ContentId)."""
    skip = {id(n) for n in kept}
    found: list[str] = []
    stack = list(reversed(envelope.children))
    while stack:
        node = stack.pop()
        if id(node) in skip or node.name == "DigitalSignature":
            continue
        for name, value in sorted(node.attrs.items()):
            if node.name == "Reference" and name == "href":
                continue
            item = f"{node.ipath} {name}={value}"
            if len(item) > MAX_SHORT_TEXT or len(found) >= MAX_LIST_ITEMS:
                raise LimitExceeded(
                    f"{WHAT}: the attribute {name[:40]!r} of {node.path} cannot be kept: at "
                    f"most {MAX_LIST_ITEMS} attributes of {MAX_SHORT_TEXT} characters"
                )
            found.append(item)
        stack.extend(reversed(node.children))
    return found


def _kept(nodes: list[Node]) -> dict[str, str]:
    """Elements lienthong does not model, as extension fields `edxml.extra.NN`: where the
    element was ("edXMLEnvelope/edXMLHeader/MessageHeader"), a line break, its XML."""
    if len(nodes) > MAX_EXTRA_ELEMENTS:
        raise LimitExceeded(
            f"{WHAT}: {len(nodes)} elements lienthong does not model, limit {MAX_EXTRA_ELEMENTS}"
        )
    kept = {}
    for i, node in enumerate(nodes):
        parent = node.ipath.rpartition("/")[0]
        text = f"{parent}\n{_xml(node)}"
        if len(text) > MAX_SUBJECT:
            raise LimitExceeded(
                f"{WHAT}: {node.path} is an element lienthong does not model, kept in the "
                f"extension map, and over its {MAX_SUBJECT} characters"
            )
        kept[f"{EXTRA_PREFIX}{i + 1:02d}"] = text
    return kept


def _type_code(number: str | None) -> str:
    """The type code of a DocumentType/Type: the list's, else `edxml_<n>` (kept and shown
    by its TypeName, describe_type), else "edxml" when the package gives no number."""
    if number is None:
        return "edxml"
    known = type_by_edxml(number)
    if known is not None:
        return known.code
    if not is_decimal(number, MAX_EDXML_DIGITS):
        raise InvalidField(WHAT, "DocumentType/Type", f"{number[:20]!r} is not a type number")
    return f"edxml_{int(number)}"


def _extension(node: Node | None) -> dict[str, Any] | None:
    """The lienthong extension's fields, or None without one (a package of another system)."""
    if node is None:
        return None
    v = _View(node, f"{WHAT}, lienthong extension")
    ext: list[tuple[str, Any]] = []
    for item in v.all("Ext", MAX_EXTENSIONS):
        name, kind = item.attrs.get("name", ""), item.attrs.get("kind", "")
        if kind == "list":
            iv = _View(item, v.what)
            ext.append((name, list(iv.texts("Item"))))
            iv.done()
            continue
        text = _leaf(item, v.what)
        if kind == "str":
            ext.append((name, text))
        elif kind == "int" and _integer(text) is not None:
            ext.append((name, _integer(text)))
        elif kind == "bool" and text in ("0", "1"):
            ext.append((name, text == "1"))
        else:
            raise InvalidField(v.what, f"Ext[{name[:40]}]", f"kind {kind[:10]!r} or value refused")
    confidentiality = v.int("Confidentiality", 0, 3)
    fields = {
        "type": v.text("Type"),
        "type_name": v.text("TypeName", True),
        "issuer_code": v.text("IssuerCode", True),
        "in_charge": v.text("InCharge", True),
        "authority": v.text("Authority"),
        "acts_for": v.text("ActsFor"),
        "confidentiality": confidentiality,
        "scheduled_at": v.text("ScheduledAt", True),
        "addressees": v.texts("Addressee"),
        "ext": ext,
    }
    v.done()
    if len({name for name, _ in ext}) != len(ext):
        raise InvalidField(v.what, "Ext", "a name given twice")
    return fields


def _integer(text: str) -> int | None:
    digits = text.removeprefix("-")
    return int(text) if is_decimal(digits, 19) and text == str(int(text)) else None


def status_from_edxml(data: bytes) -> EdxmlStatus:
    """Read an edXML status message (status_to_edxml's form), checking every field."""
    what = "edXML status"
    if len(data) > MAX_EDXML_STATUS_BYTES:
        raise LimitExceeded(f"{what}: {len(data)} bytes, limit {MAX_EDXML_STATUS_BYTES}")
    reader = parse_tree(io.BytesIO(data), None, MAX_EDXML_STATUS_BYTES)
    assert reader.envelope is not None
    env = _View(reader.envelope, what)
    head = env.view("edXMLHeader")
    assert head is not None
    h = head.view("MessageHeader")
    assert h is not None
    fv = h.view("From")
    assert fv is not None
    organ_id, fields = _organ(fv)
    rf = h.view("ResponseFor")
    assert rf is not None
    doc_id = check_document_id(rf.token("DocumentId") or "", what, "ResponseFor/DocumentId")
    rf.done()
    code_text = h.token("StatusCode") or ""
    codes = {f"{int(c):02d}" for c in StatusCode}  # written with two digits: "03"
    if code_text not in codes:
        raise InvalidField(what, "StatusCode", f"{code_text[:10]!r} is not 01-06, 13, 15 or 16")
    description = h.text("Description", True)
    stamp = check_timestamp(h.token("Timestamp") or "", what, "Timestamp")
    staff_view = h.view("StaffInfo", True)
    staff = None
    if staff_view is not None:
        s = _staff(staff_view)
        if not s["name"]:
            raise InvalidField(what, "StaffInfo/Staff", "must not be empty")
        staff = StaffInfo(**s)
    h.done()
    head.done()
    env.all("DigitalSignature")
    env.done()
    if reader.extension is not None or reader.attachments:
        raise InvalidField(what, "(message)", "a status holds no extension or attachment")
    sender = _organisation(organ_id, fields)
    return EdxmlStatus(
        sender=sender,
        code=StatusCode(int(code_text)),
        timestamp=stamp,
        document_id=doc_id,
        description=description,
        staff=staff,
    )


def _compact(value: dict[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in value.items() if v not in (None, "")},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )


def routing_extensions(doc: EdxmlDocument) -> dict[str, Any]:
    """What the package says beside the document (its routing), as extension fields."""
    ext: dict[str, Any] = {
        DOCUMENT_ID_EXTENSION: doc.document_id,
        FROM_EXTENSION: doc.sender_id,
        TRACE_EXTENSION: [f"{t.organ_id},{t.timestamp}" for t in doc.trace],
    }
    if doc.receivers:
        ext[TO_EXTENSION] = [
            _compact(
                {
                    "id": r.code,
                    "name": r.name,
                    "parent": r.parent,
                    "address": r.address,
                    "email": r.email,
                    "phone": r.phone,
                    "fax": r.fax,
                    "website": r.website,
                }
            )
            for r in doc.receivers
        ]
    if doc.business_type:
        ext[BUSINESS_TYPE_EXTENSION] = doc.business_type
    if doc.replaces:
        ext[REPLACES_EXTENSION] = list(doc.replaces)
    if doc.response_for is not None:
        rf = doc.response_for
        ext[RESPONSE_FOR_EXTENSION] = _compact(
            {
                "id": rf.document_id,
                "organ": rf.organ_id,
                "code": rf.code,
                "date": rf.promulgation_date,
            }
        )
    if any(a.content_id or a.description for a in doc.attachments):
        ext[ATTACHMENTS_EXTENSION] = [
            _compact({"content_id": a.content_id, "description": a.description})
            for a in doc.attachments
        ]
    return ext


def with_routing(metadata: DocumentMetadata, doc: EdxmlDocument) -> DocumentMetadata:
    """`metadata` with the routing of `doc` in its extension map (what the package says now
    replaces any routing an earlier export wrote into the lienthong extension)."""
    ext = {k: v for k, v in metadata.extensions if k not in ROUTING_KEYS}
    ext.update(routing_extensions(doc))
    if len(ext) > MAX_EXTENSIONS:
        raise LimitExceeded(
            f"{WHAT}: {len(ext)} extension fields with the package's routing, "
            f"limit {MAX_EXTENSIONS}"
        )
    items = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(ext.items()))
    return replace(metadata, extensions=items)
