"""The C fast path builds the public types exactly as the field-by-field reader does: the
same values of the same types at every level (tuples, not lists; Urgency and
Confidentiality members, not plain integers; the same dataclasses), extensions included;
and at sealing it encodes a body to the very bytes pack(body_to_wire()) gives, saying yes
only to documents the recipient's reader accepts."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given

from lienthong.protocol.codes import Confidentiality, Urgency
from lienthong.protocol.document import (
    DocumentBody,
    _fast_body,
    body_from_bytes,
    body_from_wire,
    body_plaintext,
    body_to_wire,
)
from lienthong.protocol.wire import pack, unpack
from tests.protocol.test_document_v2 import BODIES, SETTINGS
from tests.protocol.test_typed import ATTACHED, ODD, _outcome

MB = 1 << 20


def _shape(value: Any) -> Any:
    """`value` with the type of every part beside it, so that == compares types too."""
    if dataclasses.is_dataclass(value):
        return (
            type(value),
            tuple((f.name, _shape(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, tuple | list):
        return (type(value), tuple(_shape(item) for item in value))
    return (type(value), value)


def _both(body: DocumentBody) -> tuple[DocumentBody | None, DocumentBody]:
    data = pack(body_to_wire(body))
    return _fast_body(data), body_from_wire(unpack(data, what="document body", max_bytes=MB))


@SETTINGS
@given(BODIES)
def test_any_valid_document_is_built_alike_by_both_readers(body):
    """For every valid version-2 document the fast path accepts it and builds the very
    value, part for part and type for type, that the field-by-field reader builds."""
    fast, strict = _both(body)
    assert fast is not None
    assert _shape(fast) == _shape(strict) == _shape(body)
    assert hash(fast) == hash(strict)


def test_codes_are_the_enum_members_and_sequences_tuples():
    """A letter with attachments, staff and extensions read through the fast path: the
    urgency is the Urgency member itself, lists arrive as tuples, extensions as sorted
    pairs, and body_from_bytes returns the same."""
    body = dataclasses.replace(
        ATTACHED,
        metadata=dataclasses.replace(
            ATTACHED.metadata,
            extensions=(("a.list", ("x", "y")), ("b.flag", True), ("c.count", 7)),
            confidentiality=Confidentiality(1),
        ),
    )
    fast, strict = _both(body)
    assert fast is not None and _shape(fast) == _shape(strict)
    assert fast.metadata.urgency is Urgency.URGENT
    assert fast.metadata.confidentiality is Confidentiality(1)
    assert type(fast.metadata.distribution) is tuple and type(fast.attachments) is tuple
    assert fast.metadata.extensions == (("a.list", ("x", "y")), ("b.flag", True), ("c.count", 7))
    assert body_from_bytes(pack(body_to_wire(body)), 2, max_bytes=MB) == body


@SETTINGS
@given(BODIES)
def test_sealing_encodes_any_valid_document_to_the_packed_bytes(body):
    """body_plaintext gives exactly pack(body_to_wire(body)) for every valid document
    without extension fields (those take the packing way), and those bytes read back."""
    data = body_plaintext(body, MB)
    if body.metadata.extensions:
        assert data is None
        return
    assert data == pack(body_to_wire(body))
    assert body_from_bytes(data, 2, max_bytes=MB) == body


def _strict_bytes(body: DocumentBody) -> Any:
    """What the recipient's strict reader makes of `body` packed, or why it cannot."""
    try:
        data = pack(body_to_wire(body))
    except Exception as exc:  # a value no msgpack can carry: nothing to read
        return (type(exc), str(exc))
    return _outcome(lambda d: body_from_wire(unpack(d, what="document body", max_bytes=MB)), data)


PARTS = ["metadata", "issuer", "signer", "business", "attachment"]


def _changed(body: DocumentBody, part: str, name: str, odd: Any) -> DocumentBody:
    """`body` with the field `name` of one `part` set to `odd`."""
    m = body.metadata
    if part == "metadata":
        return dataclasses.replace(body, metadata=dataclasses.replace(m, **{name: odd}))
    if part in ("issuer", "signer"):
        inner = dataclasses.replace(getattr(m, part), **{name: odd})
        return dataclasses.replace(body, metadata=dataclasses.replace(m, **{part: inner}))
    if part == "business":
        return dataclasses.replace(body, business=dataclasses.replace(body.business, **{name: odd}))
    first = dataclasses.replace(body.attachments[0], **{name: odd})
    return dataclasses.replace(body, attachments=(first, *body.attachments[1:]))


def test_sealing_says_yes_only_to_documents_the_reader_accepts():
    """Every field of a document (its metadata, issuer, signer, business, an attachment)
    set in turn to every odd value: body_plaintext never raises; it declines, or gives
    the packed bytes of a document the strict reader accepts. Both answers occur."""
    m = ATTACHED.metadata
    owners = {
        "metadata": m,
        "issuer": m.issuer,
        "signer": m.signer,
        "business": ATTACHED.business,
        "attachment": ATTACHED.attachments[0],
    }
    answers = set()
    for part in PARTS:
        for f in dataclasses.fields(owners[part]):
            for odd in ODD:
                body = _changed(ATTACHED, part, f.name, odd)
                strict = _strict_bytes(body)
                data = body_plaintext(body, MB)  # never raises: a "no" is None
                answers.add(data is not None)
                if data is not None:
                    assert not isinstance(strict, tuple), (part, f.name, odd, strict)
                    assert data == pack(body_to_wire(body))
    assert answers == {True, False}
