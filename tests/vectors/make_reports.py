"""Vectors of unit reports (docs/PROTOCOL.md, "Unit report"): three valid ones (one declaring the
envelope versions its unit reads) and each refusal."""

from __future__ import annotations

from typing import Any

from lienthong.crypto import signing
from lienthong.protocol.report import (
    DELIVERY_BUCKETS,
    MAX_REPORT_BYTES,
    DayFigures,
    Report,
    report_fields,
    sign_report,
)
from tests.protocol.fixtures import NOW, A, B, keys
from tests.vectors.common import (
    MINUTE,
    err,
    file_document,
    flip_signed_byte,
    inner,
    key_table,
    oversized,
    resign,
    vector,
)

KEYS = key_table((A, 1, A), (B, 1, B))
HINT = f"{A}:1"


def pilot() -> Report:
    """A's report at NOW: two days of figures, four incoming documents still open."""
    return Report(
        sender=A,
        serial=1,
        at=NOW + 5 * MINUTE,
        node_version="0.1.0",
        unprocessed=4,
        days=(
            DayFigures("2025-11-23", sent=2, received=3, failures=0),
            DayFigures(
                "2025-11-24",
                sent=9,
                received=1,
                failures=1,
                delivery=(3, 5, 1, 0, 0, 0, 0, 0, 0, 1),
            ),
        ),
    )


def ok(report: Report) -> dict:
    """What a verifier reads: every field, `protocols` as read ([1] when the report has none)."""
    return {"ok": {**report_fields(report), "protocols": list(report.protocols)}}


def reports() -> dict:
    valid = pilot()
    raw = sign_report(keys(A), valid)
    fresh = Report(A, 1, NOW, "0.1.0", 0, ())
    upgraded = Report(A, 1, NOW, "0.2.0", 0, (), protocols=(1, 2))
    signed = inner(raw)

    def refused(name: str, description: str, signed_map: dict, error: str) -> dict:
        raw = resign(signed_map, signing.REPORT, HINT, A)
        return vector(name, description, raw, err(error), keys=KEYS)

    def with_day(**change: Any) -> dict:
        days = [dict(d) for d in signed["days"]]
        days[1] = {**days[1], **change}
        return {**signed, "days": days}

    vectors = [
        vector(
            "pilot-days",
            "A reports two days: 9 documents sent on 2025-11-24, their delivery times, a failure.",
            raw,
            ok(valid),
            keys=KEYS,
        ),
        vector(
            "no-days",
            "A unit just enrolled reports no day yet.",
            sign_report(keys(A), fresh),
            ok(fresh),
            keys=KEYS,
        ),
        vector(
            "declares-versions",
            "A unit that reads envelope versions 1 and 2 says so: protocols [1, 2].",
            sign_report(keys(A), upgraded),
            ok(upgraded),
            keys=KEYS,
        ),
        refused(
            "protocols-without-1",
            "The report re-signed with protocols [2]: every unit reads version 1.",
            {**signed, "protocols": [2]},
            "InvalidField",
        ),
        refused(
            "protocols-repeated",
            "The report re-signed with protocols [1, 2, 2].",
            {**signed, "protocols": [1, 2, 2]},
            "InvalidField",
        ),
        refused(
            "protocols-version-0",
            "The report re-signed with protocols [0, 1].",
            {**signed, "protocols": [0, 1]},
            "InvalidField",
        ),
        refused(
            "unknown-version",
            "The report re-signed with v = 2.",
            {**signed, "v": 2},
            "UnknownVersion",
        ),
        refused(
            "unknown-kind",
            "The report re-signed with kind 'status'.",
            {**signed, "kind": "status"},
            "UnknownKind",
        ),
        refused(
            "unknown-field",
            "The report re-signed with an extra field 'uptime'.",
            {**signed, "uptime": 3600},
            "InvalidField",
        ),
        refused(
            "short-histogram",
            f"The second day's 'delivery' has {DELIVERY_BUCKETS - 1} counts.",
            with_day(delivery=[0] * (DELIVERY_BUCKETS - 1)),
            "InvalidField",
        ),
        refused(
            "long-histogram",
            f"The second day's 'delivery' has {DELIVERY_BUCKETS + 1} counts.",
            with_day(delivery=[0] * (DELIVERY_BUCKETS + 1)),
            "LimitExceeded",
        ),
        refused(
            "days-out-of-order",
            "The second day is the same date as the first.",
            with_day(day="2025-11-23"),
            "InvalidField",
        ),
        refused(
            "negative-count",
            "The second day's 'sent' is -1.",
            with_day(sent=-1),
            "InvalidField",
        ),
        vector(
            "bad-signature",
            "The report with one bit of the signed bytes flipped.",
            flip_signed_byte(raw),
            err("BadSignature"),
            keys=KEYS,
        ),
        vector(
            "wrong-domain",
            "The report's signed bytes signed by A in the status domain.",
            resign(signed, signing.STATUS, HINT, A),
            err("BadSignature"),
            keys=KEYS,
        ),
        vector(
            "signer-mismatch",
            "A correctly signs, under hint A:1, a report whose sender is B.",
            resign({**signed, "sender": B}, signing.REPORT, HINT, A),
            err("SignerMismatch"),
            keys=KEYS,
        ),
        vector(
            "unknown-signer",
            "A valid report, but the verifier knows no key for A:1.",
            raw,
            err("UnknownSigner"),
            keys=key_table((B, 1, B)),
        ),
        vector(
            "truncated",
            "The report without its last 10 bytes.",
            raw[:-10],
            err("DecodeError"),
            keys=KEYS,
        ),
        vector(
            "oversized",
            f"{MAX_REPORT_BYTES + 1} bytes of 0x80: refused by size before any parsing.",
            None,
            err("LimitExceeded"),
            keys=KEYS,
            oversized=oversized(MAX_REPORT_BYTES),
        ),
    ]
    return file_document(
        "reports",
        "keys: signer hint -> Ed25519 public key known to the verifier. Unit reports are "
        "signed by the reporting unit in the domain lienthong/v1/report.",
        vectors,
    )
