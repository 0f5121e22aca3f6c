"""The edXML reader is safe on hostile bytes: no DTD, no entity, bounded depth and sizes, the
right namespace only, attachments decoded as a stream with plain names; on any refusal the
error names what was wrong and nothing stays in the folder."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from lienthong.protocol.document import Organisation
from lienthong.protocol.edxml import (
    EDXML_NS,
    MAX_DEPTH,
    MAX_EDXML_BYTES,
    ExportAttachment,
    TraceEntry,
)
from lienthong.protocol.edxml_read import MAX_TOKEN_BYTES, EdxmlError, from_edxml
from lienthong.protocol.edxml_write import MAX_EXTRA_ELEMENTS, to_edxml, write_edxml
from lienthong.protocol.errors import InvalidField, LimitExceeded
from tests.protocol.fixtures import A, B, letter_2340

HEAD = '<?xml version="1.0"?>\n'


def package(*attachments: ExportAttachment) -> bytes:
    body = letter_2340()
    return to_edxml(
        body.metadata,
        body.business,
        attachments,
        receivers=[Organisation(name="Sở Nội vụ", code=B)],
        trace=[TraceEntry(A, "2025/11/24 10:00:00")],
    )


def read(data: bytes, folder: Path):
    return from_edxml(io.BytesIO(data), folder)


def test_a_well_formed_package_reads(tmp_path):
    """The baseline the refusals below differ from: a package of letter 2340 reads back."""
    doc = read(package(ExportAttachment("cv.pdf", "application/pdf", b"%PDF")), tmp_path)
    assert doc.metadata == letter_2340().metadata
    assert (tmp_path / "cv.pdf").read_bytes() == b"%PDF"


def test_billion_laughs_is_refused_at_the_doctype(tmp_path):
    """Entities declared in a DTD (the billion laughs) never expand: the DTD is refused."""
    lol = (
        '<!DOCTYPE edXML [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        f'<edXML xmlns="{EDXML_NS}">&c;</edXML>'
    )
    with pytest.raises(EdxmlError, match="DOCTYPE"):
        read((HEAD + lol).encode(), tmp_path)


def test_an_external_entity_is_refused(tmp_path):
    """<!ENTITY x SYSTEM "file:///etc/passwd">: refused, nothing read from the file system."""
    xxe = (
        '<!DOCTYPE edXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<edXML xmlns="{EDXML_NS}">&x;</edXML>'
    )
    with pytest.raises(EdxmlError, match="DOCTYPE"):
        read((HEAD + xxe).encode(), tmp_path)


def test_an_undeclared_entity_is_not_well_formed(tmp_path):
    """&x; without a DTD names nothing: the parser refuses it as not well-formed."""
    data = package().replace(b"V/v", b"&x;V/v", 1)
    with pytest.raises(EdxmlError, match=r"not well-formed.*undefined entity"):
        read(data, tmp_path)


def test_another_namespace_is_refused(tmp_path):
    """The root in no namespace, or an envelope element in another, is refused by name."""
    data = package().replace(f'<edXML xmlns="{EDXML_NS}">'.encode(), b"<edXML>", 1)
    with pytest.raises(EdxmlError, match="namespace"):
        read(data, tmp_path)
    other = package().replace(b"<edXML:Subject>", b'<edXML:Subject xmlns:edXML="urn:other">', 1)
    with pytest.raises(EdxmlError, match="Subject is in namespace 'urn:other'"):
        read(other, tmp_path)


def test_nesting_deeper_than_the_limit_is_refused(tmp_path):
    """MAX_DEPTH elements nested inside the root are refused, not walked."""
    deep = "<edXML:Content>" * MAX_DEPTH + "</edXML:Content>" * MAX_DEPTH
    data = package().replace(b"<edXML:Subject>", deep.encode() + b"<edXML:Subject>", 1)
    with pytest.raises(LimitExceeded, match="MAX_DEPTH"):
        read(data, tmp_path)


def test_an_envelope_over_the_limit_is_refused(tmp_path):
    """An envelope part over MAX_EDXML_BYTES is refused while it is read."""
    filler = b"x" * (MAX_EDXML_BYTES + 1)
    data = package().replace(b"</edXML:Subject>", filler + b"</edXML:Subject>", 1)
    with pytest.raises(LimitExceeded, match="MAX_EDXML_BYTES"):
        read(data, tmp_path)


def test_a_tag_the_parser_would_hold_whole_is_bounded(tmp_path):
    """An attribute of MAX_TOKEN_BYTES is refused before it is all buffered."""
    data = package().replace(
        b"<edXML:Subject>", b'<edXML:Subject a="' + b"y" * (MAX_TOKEN_BYTES + 2**20), 1
    )
    with pytest.raises(LimitExceeded, match="MAX_TOKEN_BYTES"):
        read(data, tmp_path)


def test_unknown_elements_are_kept_within_bounds(tmp_path):
    """An element lienthong does not model is kept (test_edxml_kept.py), but only
    MAX_EXTRA_ELEMENTS of them, each within an extension field's length: more is refused,
    naming the limit or the element."""
    many = b"<edXML:Secret>1</edXML:Secret>" * (MAX_EXTRA_ELEMENTS + 1)
    with pytest.raises(LimitExceeded, match="limit 16"):
        read(package().replace(b"<edXML:Subject>", many + b"<edXML:Subject>"), tmp_path)
    big = b"<edXML:Secret>" + b"x" * 3000 + b"</edXML:Secret>"
    with pytest.raises(LimitExceeded, match="MessageHeader/Secret"):
        read(package().replace(b"<edXML:Subject>", big + b"<edXML:Subject>"), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_element_of_another_namespace_is_refused(tmp_path):
    """Kept elements are edXML's: one of another namespace is refused, naming it."""
    other = b'<x:Secret xmlns:x="urn:other">1</x:Secret>'
    with pytest.raises(EdxmlError, match="Secret is in namespace 'urn:other'"):
        read(package().replace(b"<edXML:Subject>", other + b"<edXML:Subject>"), tmp_path)


def test_a_field_the_wire_refuses_is_refused(tmp_path):
    """Fields are checked by the rules of the wire: a 13th month, an empty subject."""
    with pytest.raises(InvalidField, match="PromulgationDate"):
        read(package().replace(b"2014/05/23</edXML:P", b"2014/13/23</edXML:P"), tmp_path)
    data = package()
    start = data.index(b"<edXML:Subject>") + len(b"<edXML:Subject>")
    end = data.index(b"</edXML:Subject>")
    with pytest.raises(InvalidField, match="subject"):
        read(data[:start] + data[end:], tmp_path)


@pytest.mark.parametrize(
    "name",
    [
        "../etc/passwd",
        "thu-muc/cv.pdf",
        "a\\b.pdf",
        "report\u202efdp.exe",
        "cv\x00.pdf",
        "cv    .pdf",
    ],
)
def test_an_attachment_name_that_hides_or_escapes_is_refused(tmp_path, name):
    """Path parts, control or direction characters and padding are refused, and no file is
    left in the folder."""
    good = package(ExportAttachment("cv.pdf", "application/pdf", b"data"))
    raw = name.encode("utf-8").replace(b"\x00", b"&#0;")
    data = good.replace(b"<AttachmentName>cv.pdf<", b"<AttachmentName>" + raw + b"<")
    data = data.replace(b"<edXML:AttachmentName>cv.pdf<", b"<edXML:AttachmentName>" + raw + b"<")
    with pytest.raises((InvalidField, EdxmlError)):
        read(data, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_bad_base64_is_refused_and_nothing_stays(tmp_path):
    """A character outside base64, or base64 cut short, is refused; the partial file goes."""
    good = package(ExportAttachment("cv.pdf", "application/pdf", b"0123456789"))
    with pytest.raises(InvalidField, match="not base64"):
        read(good.replace(b"MDEy", b"M*Ey", 1), tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidField, match="cut short"):
        read(good.replace(b"MDEy", b"MDE", 1), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_package_with_attachments_needs_a_folder():
    """Without a folder, a package with attachments is refused before any byte is decoded."""
    with pytest.raises(EdxmlError, match="folder"):
        from_edxml(io.BytesIO(package(ExportAttachment("cv.pdf", "a/b", b"x"))))


def test_a_large_attachment_streams_in_bounded_memory(tmp_path):
    """48 MiB of attachment are written and read back with Python's allocations far below
    the attachment's size: both directions work in pieces."""
    source = tmp_path / "big.bin"
    block = bytes(range(256)) * 4096
    with source.open("wb") as f:
        for _ in range(48):
            f.write(block)
    out = tmp_path / "package.xml"
    folder = tmp_path / "in"
    folder.mkdir()
    body = letter_2340()
    tracemalloc.start()
    try:
        with out.open("wb") as f:
            write_edxml(
                f, body.metadata, body.business, [ExportAttachment("big.bin", "a/b", source)]
            )
        with out.open("rb") as f:
            doc = from_edxml(f, folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert doc.attachments[0].size == 48 * len(block)
    assert (folder / "big.bin").read_bytes() == source.read_bytes()
    assert peak < 16 * 2**20, peak


def test_an_attachment_named_like_a_partial_file_cannot_clash(tmp_path):
    """Files are decoded under random partial names: an attachment named as the reader's
    partial files once were (.edxml-1.part) is just a name, and both files read back."""
    data = package(
        ExportAttachment(".edxml-1.part", "a/b", b"first"),
        ExportAttachment("second.bin", "a/b", b"second"),
    )
    doc = read(data, tmp_path)
    assert [a.path.read_bytes() for a in doc.attachments] == [b"first", b"second"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".edxml-1.part", "second.bin"]
