"""Elements and attributes of a package lienthong does not model (the axis's receiver
add/remove lists, a field of another version, an attribute of a known element) are kept in
the document's extension map and written back in their place: export(import(x)) holds
them, over a hand-written axis package and over generated elements; the routing kept by
with_routing gives the same package again."""

from __future__ import annotations

import dataclasses
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lienthong.protocol.document import MAX_EXTENSIONS, Organisation
from lienthong.protocol.edxml import ExportAttachment
from lienthong.protocol.edxml_read import from_edxml, with_routing
from lienthong.protocol.edxml_write import (
    ATTRIBUTES_EXTENSION,
    EXTRA_PREFIX,
    ROUTING_KEYS,
    iter_document,
    iter_edxml,
    kept_descriptions,
    routing_of,
    to_edxml,
)
from lienthong.protocol.errors import LimitExceeded
from tests.protocol.fixtures import A, B, C
from tests.protocol.test_document_v2 import BUSINESS, SETTINGS, metadata
from tests.protocol.test_edxml_roundtrip import (
    DATA,
    FILES,
    NS,
    TRACE,
    attachments_of,
    canonical,
    parse,
    xml_safe,
)

AXIS = (DATA / "axis_cong_van.xml").read_bytes()
# The add and remove lists of the axis's receivers, and a field of a To it does not model,
# each last in its element, as the axis writes them.
LISTS = (
    b'<edXML:ReceiverAddList type="bo sung">'
    b"<edXML:Receiver><edXML:OrganId>000.00.00.H55</edXML:OrganId>"
    b"<edXML:OrganName>UBND t\xe1\xbb\x89nh B\xc3\xacnh \xc4\x90\xe1\xbb\x8bnh</edXML:OrganName>"
    b"</edXML:Receiver></edXML:ReceiverAddList>"
    b"<edXML:ReceiverRemoveList><edXML:Receiver><edXML:OrganId>000.00.00.H51"
    b"</edXML:OrganId></edXML:Receiver></edXML:ReceiverRemoveList>"
)
LEVEL = b"<edXML:OrganLevel>2 &amp; 3</edXML:OrganLevel>"


def with_unknown(data: bytes) -> bytes:
    data = data.replace(b"</edXML:MessageHeader>", LISTS + b"</edXML:MessageHeader>", 1)
    # Attributes of elements lienthong models: kept in edxml.attributes.
    data = data.replace(b"<edXML:Subject>", b'<edXML:Subject lang="vi" a="&lt;1&gt;">', 1)
    data = data.replace(b"<edXML:TraceHeaderList>", b'<edXML:TraceHeaderList kind="axis">', 1)
    second_to = data.index(b"<edXML:OrganId>000.00.00.H51</edXML:OrganId>")
    end = data.index(b"</edXML:To>", second_to)
    return data[:end] + LEVEL + data[end:]


def test_the_axis_receiver_lists_survive_import_then_export(tmp_path):
    """The envelope of export(import(x)) is x's, element for element (the lists with their
    attribute, the second To's field in the second To); the attachments are x's."""
    original = with_unknown(AXIS)
    doc = from_edxml(io.BytesIO(original), tmp_path)
    kept = [v for k, v in doc.metadata.extensions if k.startswith(EXTRA_PREFIX)]
    assert [v.partition("\n")[0] for v in kept] == [
        "edXMLEnvelope/edXMLHeader/MessageHeader/To[1]",
        "edXMLEnvelope/edXMLHeader/MessageHeader",
        "edXMLEnvelope/edXMLHeader/MessageHeader",
    ]
    assert dict(doc.metadata.extensions)[ATTRIBUTES_EXTENSION] == (
        "edXMLEnvelope/edXMLHeader/MessageHeader/Subject a=<1>",
        "edXMLEnvelope/edXMLHeader/MessageHeader/Subject lang=vi",
        "edXMLEnvelope/edXMLHeader/TraceHeaderList kind=axis",
    )
    again = b"".join(iter_document(doc))
    before, after = parse(original), parse(again)
    envelope = f"{NS}edXMLEnvelope"
    assert canonical(after.find(envelope)) == canonical(before.find(envelope))
    assert attachments_of(after) == attachments_of(before)
    # Read again, the package is the same document: nothing doubled by the extension.
    with tempfile.TemporaryDirectory() as folder:
        assert from_edxml(io.BytesIO(again), Path(folder)).metadata == doc.metadata


def test_the_routing_kept_writes_the_same_package(tmp_path):
    """with_routing then routing_of (what the store keeps and an export reads) writes the
    envelope of the package imported, unknown elements included."""
    original = with_unknown(AXIS)
    doc = from_edxml(io.BytesIO(original), tmp_path)
    stored = with_routing(doc.metadata, doc)
    routing = routing_of(stored)
    assert routing["doc_id"] == doc.document_id and routing["trace"] == doc.trace
    written = b"".join(iter_edxml(stored, doc.business, (), **routing))
    envelope = f"{NS}edXMLEnvelope"
    before = canonical(parse(original).find(envelope))
    after = canonical(parse(written).find(envelope))
    # Without attachments the manifest is empty; everything else is the package's.
    assert [c for c in after[3] if c[0] != f"{NS}edXMLBody"] == [
        c for c in before[3] if c[0] != f"{NS}edXMLBody"
    ]


NAMES = st.sampled_from(["ReceiverAddList", "OrganLevel", "Note", "X-Field", "Ext_1"])
TEXTS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40).filter(
    lambda t: t == t.strip() or not t.strip()
)
ELEMENTS = st.lists(st.tuples(NAMES, TEXTS), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(ELEMENTS)
def test_any_unknown_elements_survive(elements):
    """Generated elements (names, any text with markup characters) added to MessageHeader
    come back from export(import(x)) with the same text, in the same order."""
    xml = "".join(
        f"<edXML:{name}>"
        + text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        + f"</edXML:{name}>"
        for name, text in elements
    )
    original = AXIS.replace(b"</edXML:MessageHeader>", xml.encode() + b"</edXML:MessageHeader>")
    with tempfile.TemporaryDirectory() as folder:
        doc = from_edxml(io.BytesIO(original), Path(folder))
        again = b"".join(iter_document(doc))
    header = parse(again).find(f"{NS}edXMLEnvelope/{NS}edXMLHeader/{NS}MessageHeader")
    tail = [(c.tag.removeprefix(NS), c.text or "") for c in header][-len(elements) :]
    assert tail == [(name, text.replace("\r", "\n")) for name, text in elements]


@SETTINGS
@given(
    m=metadata(),
    business=BUSINESS,
    files=FILES,
    trace=TRACE,
    business_type=st.sampled_from([0, 1, 2, 3]),
    receivers=st.lists(st.sampled_from([B, C, "000.00.00.G22"]), max_size=3),
    to_name=st.text(max_size=20),
)
def test_any_package_kept_in_the_extension_map_is_written_again(
    m, business, files, trace, business_type, receivers, to_name
):
    """Over generated packages: read, its routing put in the extension map as the store
    keeps it (with_routing), written from that map alone (routing_of) and read again, it is
    the same package: metadata, business, DocumentId, From, To, business type, replaced
    documents, trace, and each attachment's name, ContentId, Description and bytes."""
    m = xml_safe(dataclasses.replace(m, number=m.number or "05", notation=m.notation or "VP"))
    # Room for the routing the store adds (a package past the limit with it is refused:
    # with_routing's LimitExceeded, not what this test is about).
    kept = [(k, v) for k, v in m.extensions if not k.startswith("edxml.")]
    m = dataclasses.replace(m, extensions=tuple(kept[: MAX_EXTENSIONS - len(ROUTING_KEYS)]))
    business = xml_safe(business)
    to = tuple(Organisation(name=xml_safe(to_name), code=code) for code in receivers)
    replaces = ("000.00.00.H53,2025/11/02,12/2025/QĐ-UBND",) if business_type == 3 else ()
    data = to_edxml(
        m,
        business,
        [ExportAttachment(n, "application/pdf", raw, f"Tệp {n}") for n, raw in files],
        sender_id=A,
        receivers=to,
        business_type=business_type,
        replaces=replaces,
        trace=trace,
    )
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        doc = from_edxml(io.BytesIO(data), Path(first))
        stored = with_routing(doc.metadata, doc)
        routing = routing_of(stored)
        described = kept_descriptions(stored)
        again_bytes = to_edxml(
            stored,
            doc.business,
            [
                ExportAttachment(a.name, a.media_type, a.path, described[i])
                for i, a in enumerate(doc.attachments)
            ],
            **routing,
        )
        again = from_edxml(io.BytesIO(again_bytes), Path(second))
        assert again.metadata == stored
        assert dataclasses.replace(again.metadata, extensions=m.extensions) == m
        assert again.business == doc.business == business
        assert (again.document_id, again.sender_id, again.receivers) == (
            doc.document_id,
            A,
            to,
        )
        assert (again.business_type, again.replaces, again.trace) == (
            business_type,
            replaces,
            tuple(trace),
        )
        assert [
            (a.name, a.content_id, a.description, a.path.read_bytes()) for a in again.attachments
        ] == [(n, str(i + 1), f"Tệp {n}", raw) for i, (n, raw) in enumerate(files)]


def test_a_package_whose_extensions_leave_no_room_for_its_routing_is_refused():
    """Extension fields of its own up to the limit and a DocumentId to keep: refused by
    with_routing with LimitExceeded naming the count, never stored past the limit."""
    with tempfile.TemporaryDirectory() as folder:
        doc = from_edxml(io.BytesIO(AXIS), Path(folder))
        full = tuple((f"x{i:02d}", "") for i in range(MAX_EXTENSIONS))
        with pytest.raises(LimitExceeded, match="extension fields with the package's routing"):
            with_routing(dataclasses.replace(doc.metadata, extensions=full), doc)
