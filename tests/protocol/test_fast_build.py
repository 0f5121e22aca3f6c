"""The C fast path builds the public types exactly as the field-by-field reader does: the
same values of the same types at every level (tuples, not lists; Urgency and
Confidentiality members, not plain integers; the same dataclasses), extensions included."""

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
    body_to_wire,
)
from lienthong.protocol.wire import pack, unpack
from tests.protocol.test_document_v2 import BODIES, SETTINGS
from tests.protocol.test_typed import ATTACHED

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
