"""Status messages: what each code requires, and signatures over the exact bytes."""

import pytest

from lienthong.crypto import signing
from lienthong.protocol import wire
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.errors import BadSignature, InvalidField, SignerMismatch
from lienthong.protocol.status import Staff, make_status, verify_status
from tests.protocol.fixtures import NOW, A, B, counter_random, keys

ENV_ID = "01JDC0RR1T4Y0N1NH000000000"


def lookup(code, serial):
    return keys(code).sign_public


def status(code: StatusCode, **fields) -> bytes:
    return make_status(
        keys(B),
        sender=B,
        serial=1,
        to=A,
        envelope=ENV_ID,
        code=code,
        at=NOW,
        random=counter_random(),
        **fields,
    )


def test_arrived_carries_the_receipt_hash():
    """01 round-trips with the SHA-256 of the envelope bytes received."""
    v = verify_status(status(StatusCode.ARRIVED, receipt=b"\x11" * 32), lookup)
    assert v.status.code is StatusCode.ARRIVED and v.status.receipt == b"\x11" * 32


def test_accepted_carries_the_incoming_number_and_staff():
    """03 carries số đến and its year; staff info travels with it."""
    raw = status(StatusCode.ACCEPTED, number=1365, year=2014, staff=Staff("Cao Thắng", "Văn thư"))
    s = verify_status(raw, lookup).status
    assert (s.number, s.year, s.staff.name) == (1365, 2014, "Cao Thắng")


@pytest.mark.parametrize(
    ("code", "missing"),
    [
        (StatusCode.ARRIVED, "receipt"),
        (StatusCode.REJECTED, "reason"),
        (StatusCode.ACCEPTED, "number"),
        (StatusCode.ASSIGNED, "assignee"),
        (StatusCode.RECALL_REFUSED, "reason"),
    ],
)
def test_required_fields_per_code(code, missing):
    """A status without what its code requires is refused, naming field and code."""
    with pytest.raises(InvalidField, match=missing):
        status(code)


def test_unknown_status_code_is_refused():
    """Code 7 is not a national status code."""
    w = wire.unwrap(status(StatusCode.COMPLETED), what="t", max_bytes=10**6)
    m = wire.unpack(w.signed, what="t", max_bytes=10**6)
    signed = wire.pack({**m, "code": 7})
    raw = wire.wrap(signed, signing.sign(keys(B).signing, signing.STATUS, signed), w.signer)
    with pytest.raises(InvalidField, match="7 is not a status code"):
        verify_status(raw, lookup)


def test_envelope_domain_signature_is_not_a_status_signature():
    """Bytes signed as an envelope do not verify as a status."""
    w = wire.unwrap(status(StatusCode.COMPLETED), what="t", max_bytes=10**6)
    raw = wire.wrap(w.signed, signing.sign(keys(B).signing, signing.ENVELOPE, w.signed), w.signer)
    with pytest.raises(BadSignature):
        verify_status(raw, lookup)


def test_status_author_must_be_the_signer():
    """A status naming B but signed by A is refused."""
    w = wire.unwrap(status(StatusCode.COMPLETED), what="t", max_bytes=10**6)
    raw = wire.wrap(w.signed, signing.sign(keys(A).signing, signing.STATUS, w.signed), f"{A}:1")
    with pytest.raises(SignerMismatch):
        verify_status(raw, lookup)
