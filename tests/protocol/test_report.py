"""Unit reports (protocol/report.py): signing, strict decoding, the histogram and the days,
and the committed vectors of tests/vectors/reports.json."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from lienthong.crypto import signing
from lienthong.crypto.errors import LienthongError
from lienthong.protocol.errors import (
    BadSignature,
    DecodeError,
    InvalidField,
    LimitExceeded,
    SignerMismatch,
    UnknownKind,
    UnknownSigner,
    UnknownVersion,
)
from lienthong.protocol.report import (
    DELIVERY_BUCKET_BOUNDS_MS,
    DELIVERY_BUCKETS,
    MAX_REPORT_BYTES,
    MAX_REPORT_DAYS,
    DayFigures,
    Report,
    VerifiedReport,
    bucket_of,
    day_of,
    day_start_ms,
    quantile_ms,
    sign_report,
    verify_report,
)
from lienthong.protocol.wire import pack, unpack, unwrap, wrap
from tests.protocol.fixtures import NOW, A, B, keys

VECTORS = Path(__file__).parents[1] / "vectors" / "reports.json"
HISTOGRAM = (3, 5, 1, 0, 0, 0, 0, 0, 0, 1)


def report(**changes) -> Report:
    base = Report(
        sender=A,
        serial=1,
        at=NOW,
        node_version="0.1.0",
        unprocessed=4,
        days=(
            DayFigures("2025-11-23", sent=2, received=3, failures=0),
            DayFigures("2025-11-24", sent=9, received=1, failures=1, delivery=HISTOGRAM),
        ),
    )
    return replace(base, **changes)


def lookup(table: dict[str, bytes]):
    def find(code: str, serial: int) -> bytes:
        try:
            return table[f"{code}:{serial}"]
        except KeyError:
            raise UnknownSigner(f"no key for {code}:{serial}") from None

    return find


KEYS = lookup({f"{A}:1": keys(A).sign_public, f"{B}:1": keys(B).sign_public})


def resigned(signed_map: dict, *, hint: str = f"{A}:1", owner: str = A) -> bytes:
    signed = pack(signed_map)
    return wrap(signed, signing.sign(keys(owner).signing, signing.REPORT, signed), hint)


def inner(raw: bytes) -> dict:
    return unpack(
        unwrap(raw, what="t", max_bytes=MAX_REPORT_BYTES).signed,
        what="t",
        max_bytes=MAX_REPORT_BYTES,
    )


def test_a_signed_report_verifies_to_the_same_figures():
    """sign_report then verify_report gives back every figure, and the exact bytes."""
    raw = sign_report(keys(A), report())
    verified = verify_report(raw, KEYS)
    assert isinstance(verified, VerifiedReport)
    assert verified.report == report()
    assert verified.raw == raw
    assert unwrap(raw, what="t", max_bytes=MAX_REPORT_BYTES).signer == f"{A}:1"


def test_a_verified_report_cannot_be_made_by_hand():
    """Only verify_report makes a VerifiedReport."""
    with pytest.raises(TypeError, match="verify_report only"):
        VerifiedReport(report(), b"", object())


def test_the_report_domain_is_its_own():
    """A report's signed bytes signed in the status domain do not verify as a report."""
    raw = sign_report(keys(A), report())
    wrapper = unwrap(raw, what="t", max_bytes=MAX_REPORT_BYTES)
    forged = wrap(
        wrapper.signed, signing.sign(keys(A).signing, signing.STATUS, wrapper.signed), f"{A}:1"
    )
    with pytest.raises(BadSignature, match="lienthong/v1/report"):
        verify_report(forged, KEYS)


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"v": 2}, UnknownVersion, "version 2"),
        ({"kind": "status"}, UnknownKind, "'status'"),
        ({"extra": 1}, InvalidField, "unknown field"),
        ({"node_version": ""}, InvalidField, "node_version"),
        ({"node_version": "x" * 33}, InvalidField, "node_version"),
        ({"unprocessed": -1}, InvalidField, "unprocessed"),
        ({"unprocessed": 1.5}, InvalidField, "unprocessed"),
        ({"at": 2**48}, InvalidField, "'at'"),
        ({"sender": "not a code"}, InvalidField, "sender"),
        ({"days": {}}, InvalidField, "days"),
    ],
)
def test_each_bad_field_is_refused_naming_it(change, error, words):
    """A correctly signed report with one bad top-level field is refused with that field named."""
    raw = resigned({**inner(sign_report(keys(A), report())), **change})
    with pytest.raises(error, match=words):
        verify_report(raw, KEYS)


@pytest.mark.parametrize(
    ("day_change", "words"),
    [
        ({"day": "2025-02-30"}, "calendar date"),
        ({"sent": -1}, "'sent'"),
        ({"failures": 10**9 + 1}, "'failures'"),
        ({"delivery": [0] * (DELIVERY_BUCKETS - 1)}, f"expected {DELIVERY_BUCKETS} counts"),
        ({"delivery": [0] * (DELIVERY_BUCKETS - 1) + [-2]}, "delivery\\[9\\]"),
        ({"delivery": [0] * (DELIVERY_BUCKETS - 1) + [True]}, "delivery\\[9\\]"),
        ({"mood": "ok"}, "unknown field"),
    ],
)
def test_each_bad_day_is_refused_naming_the_day_and_field(day_change, words):
    """A bad field inside a day names the day's index and the field."""
    signed = inner(sign_report(keys(A), report()))
    signed["days"][1] = {**signed["days"][1], **day_change}
    with pytest.raises(InvalidField, match=f"days\\[1\\].*{words}"):
        verify_report(resigned(signed), KEYS)


def test_too_many_buckets_or_days_is_a_limit():
    """More than DELIVERY_BUCKETS counts, or more than MAX_REPORT_DAYS days: LimitExceeded."""
    signed = inner(sign_report(keys(A), report()))
    signed["days"][0]["delivery"] = [0] * (DELIVERY_BUCKETS + 1)
    with pytest.raises(LimitExceeded, match="delivery"):
        verify_report(resigned(signed), KEYS)
    many = tuple(DayFigures(day_of(NOW + n * 86_400_000)) for n in range(MAX_REPORT_DAYS + 1))
    with pytest.raises(LimitExceeded, match=str(MAX_REPORT_DAYS)):
        sign_report(keys(A), report(days=many))


def test_days_must_be_in_order_without_repeats():
    """A day not after the one before it is refused."""
    twice = (DayFigures("2025-11-24"), DayFigures("2025-11-24"))
    with pytest.raises(InvalidField, match="does not follow"):
        sign_report(keys(A), report(days=twice))
    backwards = (DayFigures("2025-11-24"), DayFigures("2025-11-20"))
    with pytest.raises(InvalidField, match=r"days\[1\]\.day"):
        sign_report(keys(A), report(days=backwards))


def test_a_report_naming_another_unit_is_a_signer_mismatch():
    """A signs, under its own hint, a report whose sender is B: SignerMismatch."""
    raw = resigned({**inner(sign_report(keys(A), report())), "sender": B})
    with pytest.raises(SignerMismatch, match=f"names {B}:1"):
        verify_report(raw, KEYS)


def test_size_is_checked_before_parsing():
    """One byte over MAX_REPORT_BYTES is refused before any decoding."""
    with pytest.raises(LimitExceeded, match=str(MAX_REPORT_BYTES)):
        verify_report(b"\x80" * (MAX_REPORT_BYTES + 1), KEYS)
    with pytest.raises(DecodeError):
        verify_report(sign_report(keys(A), report())[:-5], KEYS)


def test_the_largest_report_fits_its_limit():
    """MAX_REPORT_DAYS days of the largest counts stay under MAX_REPORT_BYTES."""
    big = (10**9,) * DELIVERY_BUCKETS
    days = tuple(
        DayFigures(day_of(NOW + n * 86_400_000), 10**9, 10**9, 10**9, big)
        for n in range(MAX_REPORT_DAYS)
    )
    raw = sign_report(keys(A), report(days=days, node_version="v" * 32, unprocessed=10**9))
    assert len(raw) <= MAX_REPORT_BYTES
    assert verify_report(raw, KEYS).report.days == days


def test_buckets_follow_their_documented_bounds():
    """Each bound opens the next bucket; below 0 (clock skew) counts in the first."""
    assert bucket_of(-5_000) == 0
    assert bucket_of(999) == 0 and bucket_of(1_000) == 1
    assert bucket_of(59_999) == 3 and bucket_of(60_000) == 4
    assert bucket_of(86_399_999) == DELIVERY_BUCKETS - 2
    assert bucket_of(86_400_000) == DELIVERY_BUCKETS - 1
    assert len(DELIVERY_BUCKET_BOUNDS_MS) == DELIVERY_BUCKETS - 1


def test_the_median_is_interpolated_within_its_bucket():
    """quantile_ms: linear inside the bucket, None when empty, infinite in the open bucket."""
    assert quantile_ms((0,) * DELIVERY_BUCKETS, 0.5) is None
    assert quantile_ms((2, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0.5) == 500
    assert quantile_ms((0, 4, 0, 0, 0, 0, 0, 0, 0, 0), 0.5) == 3_000
    assert quantile_ms(HISTOGRAM, 0.5) == 1_000 + 4_000 * (5 - 3) / 5  # 10 deliveries
    assert math.isinf(quantile_ms((0,) * (DELIVERY_BUCKETS - 1) + (3,), 0.5))
    with pytest.raises(ValueError, match="buckets"):
        quantile_ms((1, 2), 0.5)


def test_days_are_vietnam_calendar_days():
    """A report day is the date in UTC+07:00: 17:00 UTC is already the next day."""
    assert day_of(NOW) == "2025-11-24"  # 16:00 UTC = 23:00 in Tây Ninh
    assert day_of(NOW + 3_600_000) == "2025-11-25"
    assert day_start_ms("2025-11-25") == NOW + 3_600_000
    assert day_of(day_start_ms("2025-11-25") - 1) == "2025-11-24"


def _vectors() -> list:
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    return [pytest.param(v, id=v["name"]) for v in data["vectors"]]


def _run(v: dict) -> dict:
    raw = (
        bytes.fromhex(v["oversized"]["fill"]) * v["oversized"]["length"]
        if v.get("oversized")
        else bytes.fromhex(v["bytes"])
    )
    table = {hint: bytes.fromhex(key) for hint, key in v["keys"].items()}
    r = verify_report(raw, lookup(table)).report
    return {
        "sender": r.sender,
        "serial": r.serial,
        "at": r.at,
        "node_version": r.node_version,
        "unprocessed": r.unprocessed,
        "days": [
            {
                "day": d.day,
                "sent": d.sent,
                "received": d.received,
                "failures": d.failures,
                "delivery": list(d.delivery),
            }
            for d in r.days
        ],
        "protocols": list(r.protocols),
    }


@pytest.mark.parametrize("v", _vectors())
def test_report_vector(v):
    """Verifying each vector of reports.json gives its expected figures or error."""
    try:
        found = {"ok": _run(v)}
    except LienthongError as exc:
        found = {"error": type(exc).__name__}
    assert found == v["expected"]


def test_report_vectors_cover_the_refusals():
    """reports.json holds the refusals an outside verifier must reproduce."""
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    errors = {v["expected"].get("error") for v in data["vectors"]}
    assert {
        "BadSignature",
        "SignerMismatch",
        "InvalidField",
        "LimitExceeded",
        "UnknownVersion",
        "UnknownKind",
        "UnknownSigner",
        "DecodeError",
    } <= errors
    assert any("ok" in v["expected"] for v in data["vectors"])
