"""edXML both ways: any document lienthong can carry survives export then import unchanged;
packages shaped like the national axis's keep every field through import then export (the
parsed trees compared, not the bytes); status messages both ways."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong.protocol.codes import StatusCode, Urgency
from lienthong.protocol.document import Organisation, StaffInfo
from lienthong.protocol.edxml import (
    EDXML_NS,
    EdxmlStatus,
    ExportAttachment,
    ResponseFor,
    TraceEntry,
    xml_char_problem,
)
from lienthong.protocol.edxml_read import EdxmlError, from_edxml, status_from_edxml
from lienthong.protocol.edxml_write import iter_document, status_to_edxml, to_edxml
from lienthong.protocol.errors import InvalidField
from tests.protocol.fixtures import A, B, C, letter_2340
from tests.protocol.test_document_v2 import BUSINESS, SETTINGS, metadata

DATA = Path(__file__).parent / "data" / "edxml"
NS = f"{{{EDXML_NS}}}"


def xml_safe(value: Any) -> Any:
    """`value` with every character XML 1.0 cannot carry (NUL, other controls but tab, LF
    and CR) replaced: export refuses those (test_export_refuses_what_xml_cannot_carry)."""
    if isinstance(value, str):
        return "".join("x" if xml_char_problem(ch) else ch for ch in value)
    if isinstance(value, tuple):
        return tuple(xml_safe(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value, **{f.name: xml_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
        )
    return value


STAMPS = st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(9999, 12, 31)).map(
    lambda t: t.strftime("%Y/%m/%d %H:%M:%S")
)
FILES = st.lists(
    st.tuples(
        st.sampled_from(["Công văn 2340.pdf", "danh-sach.xlsx", "Báo cáo   quý 3.docx"]),
        st.binary(max_size=300),
    ),
    max_size=3,
    unique_by=lambda t: t[0],
)
TRACE = st.lists(
    st.builds(
        TraceEntry,
        organ_id=st.sampled_from([A, B, "000.00.00.G22"]),
        timestamp=STAMPS,
    ),
    max_size=3,
)


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
def test_any_document_survives_export_then_import(
    m, business, files, trace, business_type, receivers, to_name
):
    """import(export(d)) == d: metadata (every field, extensions too), business, routing,
    trace and the attachments' bytes, over generated documents."""
    # edXML needs a number and a notation (DocumentId); version 2 lets both be absent.
    m = xml_safe(dataclasses.replace(m, number=m.number or "05", notation=m.notation or "VP"))
    business = xml_safe(business)
    to = tuple(Organisation(name=xml_safe(to_name), code=code) for code in receivers)
    replaces = ("000.00.00.H53,2025/11/02,12/2025/QĐ-UBND",) if business_type == 3 else ()
    data = to_edxml(
        m,
        business,
        [ExportAttachment(name, "application/octet-stream", raw) for name, raw in files],
        sender_id=A,
        receivers=to,
        business_type=business_type,
        replaces=replaces,
        trace=trace,
    )
    with tempfile.TemporaryDirectory() as folder:
        doc = from_edxml(io.BytesIO(data), Path(folder))
        assert doc.metadata == m
        assert doc.business == business
        assert doc.receivers == to
        assert (doc.sender_id, doc.business_type, doc.replaces) == (A, business_type, replaces)
        assert doc.trace == tuple(trace)
        assert doc.document_id == f"{A},{m.issued_on.replace('-', '/')},{m.number_notation}"
        assert [(a.name, a.path.read_bytes()) for a in doc.attachments] == files


def test_export_refuses_what_xml_cannot_carry():
    """A subject with U+0001 cannot be written in XML 1.0: the error names the field."""
    m = dataclasses.replace(letter_2340().metadata, subject="V/v \x01")
    with pytest.raises(InvalidField, match=r"'Subject'.*U\+0001"):
        to_edxml(m, sender_id=A)


def test_every_element_of_the_envelope_carries_the_prefix():
    """The Government Office's validator refuses an envelope element without `edXML:`:
    every start tag between <edXML:edXMLEnvelope> and its end is prefixed."""
    m = dataclasses.replace(
        letter_2340().metadata, appendixes=("Phụ lục I",), content="Nội dung", due_on="2025-12-05"
    )
    data = to_edxml(m, sender_id=A, receivers=[Organisation(name="X", code=B)]).decode()
    envelope = data[data.index("<edXML:edXMLEnvelope") : data.index("</edXML:edXMLEnvelope>")]
    tags = [part.split(">")[0].split()[0] for part in envelope.split("<")[1:]]
    assert tags and all(t.startswith(("edXML:", "/edXML:")) for t in tags), tags


def parse(data: bytes) -> ET.Element:
    """ElementTree for the comparison only: the test's own files and lienthong's output."""
    return ET.fromstring(data)  # noqa: S314 - trusted bytes, not a package from outside


def canonical(element: ET.Element) -> tuple:
    """An element as (tag, attributes, leaf text, children): whitespace between elements
    is layout, the text of a leaf is data."""
    children = tuple(canonical(c) for c in element)
    text = "" if children else (element.text or "")
    return (element.tag, tuple(sorted(element.attrib.items())), text, children)


def attachments_of(root: ET.Element) -> list[tuple]:
    found = []
    for a in root.iter(f"{NS}Attachment"):
        fields = {c.tag.removeprefix(NS): (c.text or "") for c in a}
        raw = "".join(fields.pop("ContentTransferEncoded").split())
        found.append((tuple(sorted(fields.items())), raw))
    return found


@pytest.mark.parametrize("name", ["axis_cong_van.xml", "axis_replacement.xml"])
def test_a_package_of_the_national_axis_keeps_every_field(tmp_path, name):
    """export(import(x)) holds the same envelope as x, element by element, and the same
    attachments: nothing of the national axis's package is lost or changed."""
    original = (DATA / name).read_bytes()
    doc = from_edxml(io.BytesIO(original), tmp_path)
    again = b"".join(iter_document(doc))
    before, after = parse(original), parse(again)
    envelope = f"{NS}edXMLEnvelope"
    assert canonical(after.find(envelope)) == canonical(before.find(envelope))
    assert attachments_of(after) == attachments_of(before)


def test_what_the_axis_package_means(tmp_path):
    """The axis's công văn reads as lienthong's model: type 18 is cong_van, the competence
    split into KT. and whom it acts for, dates in ISO form, the paper original flagged."""
    doc = from_edxml((DATA / "axis_cong_van.xml").open("rb"), tmp_path)
    m = doc.metadata
    assert (m.number, m.notation, m.doc_type, m.issued_on) == (
        "8123",
        "VPCP-KSTT",
        "cong_van",
        "2025-11-24",
    )
    assert (m.signer.authority, m.signer.acts_for) == ("KT.", "BỘ TRƯỞNG, CHỦ NHIỆM")
    assert m.issuer.code == doc.sender_id == "000.00.00.G22"  # an OrganId of the wire's shape
    assert m.urgency is Urgency.VERY_URGENT and doc.business.paper
    assert m.subject == "V/v kết nối, liên thông văn bản điện tử & báo cáo <tháng 11>"
    assert (tmp_path / "Phụ lục I.txt").read_text() == "Danh sách đơn vị: Tây Ninh, Quảng Ngãi.\n"


def test_an_unknown_type_is_kept_by_its_name(tmp_path):
    """Type 57, unknown to the list, becomes edxml_57 shown by its TypeName; Priority 4
    without a time reads as hỏa tốc with the 4 kept; the replacement and its reason read."""
    doc = from_edxml((DATA / "axis_replacement.xml").open("rb"), tmp_path)
    m = doc.metadata
    assert (m.doc_type, m.type_name) == ("edxml_57", "Quyết định cá biệt")
    assert m.urgency is Urgency.FLASH and dict(m.extensions)["edxml.priority"] == 4
    assert (m.number, m.year) == ("49", 2025)
    assert doc.business_type == 3 and doc.business.reason == "Sai sót về thể thức"
    assert doc.replaces == ("000.00.00.H53,2025/11/02,12/2025/QĐ-UBND",)
    assert doc.response_for == ResponseFor(
        document_id="000.00.02.H53,2025/11/20,2340/VP-TTTH",
        organ_id="000.00.02.H53",
        code="2340/VP-TTTH",
        promulgation_date="2025/11/20",
    )


def test_a_document_id_of_another_form_is_refused(tmp_path):
    """DocumentId is OrganId,yyyy/MM/dd,number/notation: a date in another form is named."""
    data = (DATA / "axis_replacement.xml").read_bytes()
    data = data.replace(b"000.00.00.H53,2025/12/01,", b"000.00.00.H53,01-12-2025,", 1)
    with pytest.raises(InvalidField, match="DocumentId"):
        from_edxml(io.BytesIO(data), tmp_path)


STATUSES = st.builds(
    EdxmlStatus,
    sender=st.builds(
        Organisation,
        name=st.sampled_from(["UBND tỉnh Tây Ninh", ""]),
        code=st.sampled_from([A, "000.00.00.G22"]),
        email=st.none() | st.just("vt@tayninh.gov.vn"),
    ),
    code=st.sampled_from(list(StatusCode)),
    timestamp=STAMPS,
    document_id=st.just("000.00.00.G22,2025/11/24,8123/VPCP-KSTT"),
    description=st.none() | st.text(max_size=60).map(xml_safe),
    staff=st.none()
    | st.builds(
        StaffInfo, name=st.just("Phạm Thị D"), department=st.text(max_size=20).map(xml_safe)
    ),
)


@SETTINGS
@given(status=STATUSES)
def test_any_status_survives_edxml_both_ways(status):
    """status_from_edxml(status_to_edxml(s)) == s, the code written with two digits."""
    data = status_to_edxml(status)
    assert f"<edXML:StatusCode>{int(status.code):02d}<".encode() in data
    assert status_from_edxml(data) == status


def test_the_axis_status_keeps_every_field():
    """The axis's 03 reads, and written again holds the same envelope."""
    original = (DATA / "axis_status.xml").read_bytes()
    status = status_from_edxml(original)
    assert status.code is StatusCode.ACCEPTED and status.staff.name == "Phạm Thị D"
    again = status_to_edxml(status)
    envelope = f"{NS}edXMLEnvelope"
    before, after = parse(original), parse(again)
    assert canonical(after.find(envelope)) == canonical(before.find(envelope))


@pytest.mark.parametrize("code", [b"07", b"3", b"003", b"xx"])
def test_a_status_code_edxml_does_not_have_is_refused(code):
    """07 is no status; 3 and 003 are not the two-digit form."""
    data = (DATA / "axis_status.xml").read_bytes().replace(b">03<", b">" + code + b"<")
    with pytest.raises(InvalidField, match="StatusCode"):
        status_from_edxml(data)


def test_a_status_with_a_doctype_is_refused():
    """The status reader is the same hardened parser: a DTD is refused."""
    data = (DATA / "axis_status.xml").read_bytes()
    data = data.replace(b"<edXML ", b'<!DOCTYPE edXML [<!ENTITY a "b">]><edXML ', 1)
    with pytest.raises(EdxmlError, match="DOCTYPE"):
        status_from_edxml(data)


def test_ids_and_dates_may_be_pretty_printed(tmp_path):
    """Line breaks and indentation around an OrganId, a date or the DocumentId (as a
    pretty-printer writes them) are layout: the package reads as without them."""
    original = (DATA / "axis_replacement.xml").read_bytes()
    spaced = original
    for value in (
        b"000.00.00.H53,2025/12/01,49/2025/Q\xc4\x90-UBND",
        b"2025/12/01</edXML:PromulgationDate>",
        b"49/2025</edXML:CodeNumber>",
    ):
        spaced = spaced.replace(value, b"\n    " + value.replace(b"</", b"\n  </", 1), 1)
    assert spaced != original
    folder = tmp_path / "spaced"
    folder.mkdir()
    assert from_edxml(io.BytesIO(spaced), folder) == from_edxml(io.BytesIO(original), tmp_path)


def test_without_the_extension_a_package_reads_as_edxml_says(tmp_path):
    """Letter 2340 exported, its lt:Lienthong removed (as another system would send it):
    Type 18 reads as cong_van, the competence gives KT. and CHÁNH VĂN PHÒNG in capitals,
    the addressees (which edXML has no element for) are gone, the rest is the letter's."""
    letter = letter_2340().metadata
    data = to_edxml(letter, sender_id=A)
    start, end = data.index(b"<lt:Lienthong"), data.index(b"</lt:Lienthong>")
    doc = from_edxml(io.BytesIO(data[:start] + data[end + len(b"</lt:Lienthong>") :]), tmp_path)
    m = doc.metadata
    assert (m.doc_type, m.type_name) == ("cong_van", "Công văn")
    assert (m.signer.authority, m.signer.acts_for) == ("KT.", "CHÁNH VĂN PHÒNG")
    assert m.addressees == () and letter.addressees != ()
    assert (
        dataclasses.replace(m, signer=letter.signer, addressees=letter.addressees, type_name=None)
        == letter
    )
