"""Properties of the document's version 2 (protocol/document.py): any valid document survives
the wire unchanged; version 1 keeps exactly what it can say; register keys and the decree's
number rule; and a body map of any shape is refused with a protocol error, never a crash."""

from __future__ import annotations

import contextlib
import datetime as dt
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lienthong.protocol import wire
from lienthong.protocol.codes import Confidentiality, Urgency
from lienthong.protocol.document import (
    EXTENSION_KEY,
    MAX_APPENDIXES,
    MAX_COUNT,
    MAX_EXTENSIONS,
    MAX_STEERING_TYPE,
    MAX_TYPE_CODE,
    NUMBER,
    SIGNING_AUTHORITIES,
    Attachment,
    Business,
    DocumentBody,
    DocumentMetadata,
    Organisation,
    Signer,
    StaffInfo,
    body_from_wire,
    body_to_wire,
    number_rule,
    register_key,
)
from lienthong.protocol.errors import InvalidField, LimitExceeded, ProtocolError
from lienthong.protocol.limits import MAX_CONTENT, MAX_REASON, MAX_SHORT_TEXT, MAX_SUBJECT, MAX_URL
from tests.protocol.fixtures import A, B, C, letter_2340

V1_STEERING = "v1.steering"  # the extension that holds version 1's steering note
SETTINGS = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
# Text as clerks type it and as a hostile sender might: any code point but surrogates (which
# UTF-8 cannot carry); short, so that examples stay fast; the limits have their own tests.
TEXT = st.text(max_size=40)
SHORT = st.text(max_size=MAX_SHORT_TEXT).filter(lambda t: len(t) <= 40) | st.just(
    "ư" * MAX_SHORT_TEXT
)
NONEMPTY = st.text(min_size=1, max_size=40)
NAMES = st.sampled_from(["Trương Văn Hùng", "Nguyễn Thị Kim Trang", "Lê Văn A", "X"])
DATES = st.dates(dt.date(1900, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat)
TIMES = st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(9999, 12, 31, 23, 59)).map(
    lambda t: t.strftime("%Y-%m-%dT%H:%M")
)
TYPES = st.sampled_from(["cong_van", "quyet_dinh"]) | st.text(min_size=1, max_size=MAX_TYPE_CODE)
NUMBERS = st.from_regex(r"[0-9]{1,9}", fullmatch=True)
# A notation holds no space or hidden character (5.1): letters of any script, digits, "-", ".".
NOTATIONS = st.text(
    st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp")), max_size=64
).filter(lambda t: not any(ch.isspace() for ch in t))
VIETNAMESE_CAPITALS = "ABCDĐEGHIKLMNOPQRSTUVXYÁÀẢÃẠĂẮẰẲẴẶÂẤẦẨẪẬÔỐỒỔỖỘƠỚỜỞỠỢƯỨỪỬỮỰ"
EXTENSION_NAMES = st.from_regex(EXTENSION_KEY.regex, fullmatch=True)
EXTENSION_VALUES = st.one_of(
    st.text(max_size=MAX_SUBJECT).filter(lambda t: len(t) <= 60),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.lists(SHORT, max_size=4).map(tuple),
)


def optional(strategy):
    return st.none() | strategy


@st.composite
def signers(draw) -> Signer:
    """A signature block: an authority and whom it acts for, or the head signing as head."""
    authority = draw(st.sampled_from(sorted(SIGNING_AUTHORITIES)))
    acts_for = draw(st.text(min_size=1, max_size=40).filter(str.strip)) if authority else ""
    return Signer(
        name=draw(NAMES | NONEMPTY),
        position=draw(st.sampled_from(["Phó Chánh Văn phòng", "Chủ tịch"]) | NONEMPTY),
        authority=authority,
        acts_for=acts_for,
    )


@st.composite
def metadata(draw) -> DocumentMetadata:
    """Any DocumentMetadata version 2 can carry, every field drawn."""
    urgency = draw(st.sampled_from(list(Urgency)))
    extensions = draw(
        st.dictionaries(EXTENSION_NAMES, EXTENSION_VALUES, max_size=MAX_EXTENSIONS - 1)
    )
    steering = draw(optional(st.text(max_size=MAX_SUBJECT).filter(lambda t: len(t) <= 60)))
    if steering is not None:  # version 1's steering note, which a v1 reader gets back (5.5)
        extensions[V1_STEERING] = steering
    return DocumentMetadata(
        number=draw(optional(NUMBERS)),
        year=draw(optional(st.integers(1900, 9999))),
        notation=draw(NOTATIONS),
        doc_type=draw(TYPES),
        type_name=draw(optional(SHORT)),
        issuer=Organisation(
            name=draw(NONEMPTY),
            code=draw(st.sampled_from([A, B, C, None])),
            parent=draw(optional(SHORT)),
            in_charge=draw(optional(SHORT)),
            address=draw(optional(SHORT)),
            email=draw(optional(SHORT)),
            phone=draw(optional(SHORT)),
            fax=draw(optional(SHORT)),
            website=draw(optional(st.text(max_size=40) | st.just("h" * MAX_URL))),
        ),
        place=draw(NONEMPTY),
        issued_on=draw(DATES),
        subject=draw(NONEMPTY | st.just("t" * MAX_SUBJECT)),
        content=draw(optional(TEXT | st.just("n" * MAX_CONTENT))),
        signer=draw(signers()),
        urgency=urgency,
        scheduled_at=draw(TIMES) if urgency is Urgency.FLASH_SCHEDULED else None,
        confidentiality=draw(st.sampled_from(list(Confidentiality))),
        due_on=draw(optional(DATES)),
        addressees=tuple(draw(st.lists(SHORT, max_size=3))),
        distribution=tuple(draw(st.lists(SHORT, max_size=3))),
        copies=draw(optional(st.integers(0, MAX_COUNT))),
        pages=draw(optional(st.integers(0, MAX_COUNT))),
        drafter=draw(optional(SHORT)),
        steering_type=draw(optional(st.integers(0, MAX_STEERING_TYPE))),
        sphere=draw(optional(SHORT)),
        appendixes=tuple(draw(st.lists(SHORT, max_size=3) | st.just([""] * MAX_APPENDIXES))),
        extensions=tuple(sorted(extensions.items())),
    )


ATTACHMENTS = st.lists(
    st.builds(
        Attachment,
        name=st.sampled_from(["Công văn 2340.pdf", "danh-sach.xlsx", "Báo cáo   quý 3.docx"]),
        media_type=st.just("application/pdf"),
        size=st.integers(0, 2**36),
        sha256=st.binary(min_size=32, max_size=32),
        blob=st.binary(min_size=32, max_size=32).map(bytes.hex),
        key=st.binary(min_size=32, max_size=32),
    ),
    max_size=2,
).map(tuple)
BUSINESS = st.builds(
    Business,
    reason=optional(TEXT | st.just("r" * MAX_REASON)),
    paper=st.booleans(),
    staff=optional(
        st.builds(StaffInfo, name=NONEMPTY, department=SHORT, mobile=SHORT, email=SHORT)
    ),
)
BODIES = st.builds(DocumentBody, metadata=metadata(), attachments=ATTACHMENTS, business=BUSINESS)


def through_the_wire(body: DocumentBody, version: int) -> DocumentBody:
    """`body` written in `version`, packed to msgpack bytes, decoded and read back."""
    raw = wire.pack(body_to_wire(body, version))
    return body_from_wire(wire.unpack(raw, what="body", max_bytes=1 << 24), version)


def what_version_1_keeps(body: DocumentBody) -> DocumentBody:
    """Written independently of the codec (docs/PROTOCOL.md 5.5): the number's value (read
    back with two digits below 10), the v1 issuer, the signer's name, position and authority,
    urgency capped at 3 (hỏa tốc), the steering note kept as extension "v1.steering" (when
    not empty); nothing else of version 2."""
    m = body.metadata
    steering = dict(m.extensions).get(V1_STEERING)
    return DocumentBody(
        metadata=DocumentMetadata(
            number=None if m.number is None else f"{int(m.number):02d}",
            year=m.year,
            notation=m.notation,
            doc_type=m.doc_type,
            issuer=Organisation(name=m.issuer.name, code=m.issuer.code, parent=m.issuer.parent),
            place=m.place,
            issued_on=m.issued_on,
            subject=m.subject,
            content=m.content,
            signer=Signer(
                name=m.signer.name, position=m.signer.position, authority=m.signer.authority
            ),
            urgency=min(m.urgency, Urgency.FLASH),
            confidentiality=m.confidentiality,
            due_on=m.due_on,
            addressees=m.addressees,
            distribution=m.distribution,
            copies=m.copies,
            pages=m.pages,
            drafter=m.drafter,
            extensions=((V1_STEERING, steering),) if steering else (),
        ),
        attachments=body.attachments,
    )


V1_METADATA_FIELDS = {
    "number", "year", "notation", "type", "issuer", "place", "issued_on", "subject", "content",
    "signer", "urgency", "confidentiality", "due_on", "addressees", "distribution", "steering",
    "copies", "pages", "drafter",
}  # fmt: skip


@SETTINGS
@given(BODIES)
def test_any_valid_document_survives_version_2_unchanged(body):
    """body_from_wire(body_to_wire(b)) == b for every valid document, through real msgpack
    bytes: every field of version 2, extensions included, comes back as it was sent."""
    assert through_the_wire(body, 2) == body


@SETTINGS
@given(BODIES)
def test_version_1_keeps_what_it_can_say_and_drops_the_rest(body):
    """Down-converted to version 1 and read back, a document keeps the number's value, the
    signer's name, position and authority, urgency capped at 3, and loses every field
    version 1 has no place for; its map holds exactly the version-1 fields."""
    written = body_to_wire(body, 1)
    assert set(written) == {"metadata", "attachments"}
    assert set(written["metadata"]) == V1_METADATA_FIELDS
    back = through_the_wire(body, 1)
    assert back == what_version_1_keeps(body)
    m = body.metadata
    if m.number is not None:
        assert int(back.metadata.number) == int(m.number)
    assert back.metadata.urgency == min(m.urgency, Urgency.FLASH)
    assert through_the_wire(back, 1) == back  # nothing more is lost the second time


@SETTINGS
@given(st.integers(1, 10**9 - 1), st.integers(0, 8), optional(st.integers(1900, 9999)))
def test_a_register_compares_numbers_by_value(n, zeros, year):
    """ "5", "05" and "005" name the same document in a register; another number does not."""
    notation = "VP-TTTH"
    written = "0" * min(zeros, 9 - len(str(n))) + str(n)
    assert register_key(str(n), year, notation) == register_key(written, year, notation)
    assert register_key(f"{n:02d}", year, notation) == register_key(str(n), year, notation)
    assert register_key(str(n + 1), year, notation) != register_key(str(n), year, notation)


@SETTINGS
@given(
    st.integers(1, 10**9 - 1),
    st.integers(1900, 9999),
    st.text(VIETNAMESE_CAPITALS + "-.", min_size=1, max_size=20),
)
def test_a_register_key_folds_case_and_form_but_keeps_the_year(n, year, notation):
    """The notation compares without case and Unicode form ("QĐ-UBND" = "qđ-ubnd", NFC =
    NFD); "49/2025/QĐ-UBND" and "49/QĐ-UBND" are two documents."""
    key = register_key(str(n), year, notation)
    assert register_key(str(n), year, notation.lower()) == key
    assert register_key(str(n), year, unicodedata.normalize("NFD", notation)) == key
    assert register_key(str(n), None, notation) != key
    assert register_key(str(n), year + 1 if year < 9999 else year - 1, notation) != key


def test_register_keys_of_the_decree_examples():
    """The examples of the model: 05/VP-TTTH = 5/vp-ttth; 49/2025/QĐ-UBND ≠ 49/QĐ-UBND."""
    assert register_key("05", None, "VP-TTTH") == register_key("5", None, "vp-ttth")
    assert register_key("49", 2025, "QĐ-UBND") != register_key("49", None, "QĐ-UBND")


@SETTINGS
@given(NUMBERS)
def test_the_number_rule_accepts_exactly_the_decrees_forms(number):
    """Nghị định 30/2020: 01 to 09 with two digits, 10 and above without a leading zero, no
    number 0; number_rule says why any other form is refused."""
    decree_form = int(number) > 0 and number == f"{int(number):02d}"
    assert (number_rule(number) is None) == decree_form
    if not decree_form and int(number) > 0:
        assert f"{int(number):02d}" in number_rule(number)


@SETTINGS
@given(
    st.text(max_size=12).filter(lambda t: not NUMBER.matches(t))
    | st.sampled_from(["٥", "0٥", "5\n", " 5", "", "５", "²", "1234567890"])
)
def test_the_number_rule_refuses_what_is_not_ascii_digits(text):
    """Anything that is not 1-9 ASCII digits ("٥", "5\\n", " 5", "") is not a number."""
    assert number_rule(text) is not None


@pytest.mark.parametrize(
    ("number", "why"),
    [("5", "two digits: 05"), ("005", "two digits: 05"), ("0123", "123, not 0123"), ("0", "01")],
)
def test_the_number_rule_says_the_right_form(number, why):
    """The message names the form the decree wants."""
    assert why in number_rule(number)


GARBAGE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=6) | st.binary(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)


@SETTINGS
@given(
    st.dictionaries(
        st.text(max_size=8) | st.binary(max_size=8) | EXTENSION_NAMES, GARBAGE, max_size=6
    ),
    st.sampled_from(["ext", "issuer", "signer", "number", "scheduled_at", "appendixes"]),
)
def test_a_field_of_any_shape_is_refused_with_a_protocol_error(value, field):
    """Whatever a sender puts in a version-2 field (maps with str and bin keys, floats, huge
    integers, nesting), the body is read or refused with a protocol error, never a
    TypeError: a bin key beside str keys once made the extension map's sort raise."""
    body = body_to_wire(letter_2340())
    body["metadata"][field] = value
    decoded = wire.unpack(wire.pack(body), what="body", max_bytes=1 << 24)
    with contextlib.suppress(ProtocolError):
        body_from_wire(decoded, 2)


def test_an_extension_map_with_a_binary_name_is_invalid_not_a_crash():
    """{"sphere": "x", <bin "b">: 1}: the bin key is not an extension field name."""
    body = body_to_wire(letter_2340())
    body["metadata"]["ext"] = {"sphere": "x", b"b": 1}
    decoded = wire.unpack(wire.pack(body), what="body", max_bytes=1 << 24)
    with pytest.raises(InvalidField) as refused:
        body_from_wire(decoded, 2)
    assert refused.value.field == "ext"


def test_more_extension_fields_than_the_limit_is_refused():
    """MAX_EXTENSIONS fields pass; one more is LimitExceeded."""
    body = body_to_wire(letter_2340())
    body["metadata"]["ext"] = {f"x{i}": i for i in range(MAX_EXTENSIONS)}
    assert len(body_from_wire(body, 2).metadata.extensions) == MAX_EXTENSIONS
    body["metadata"]["ext"]["y"] = 1
    with pytest.raises(LimitExceeded, match=f"limit {MAX_EXTENSIONS}"):
        body_from_wire(body, 2)
