"""Vectors of status messages: each national code (01-06, 13, 15, 16) and each refusal."""

from __future__ import annotations

import hashlib
from typing import Any

from lienthong.crypto import signing
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.limits import MAX_STATUS_BYTES
from lienthong.protocol.status import Staff, make_status
from tests.protocol.fixtures import NOW, A, B, counter_random, keys, letter_2340
from tests.vectors.common import (
    ENV_ID,
    MINUTE,
    err,
    file_document,
    flip_signed_byte,
    hx,
    inner,
    key_table,
    oversized,
    resign,
    vector,
)
from tests.vectors.make_envelopes import seal

KEYS = key_table((A, 1, A), (B, 1, B))
FIELDS = ("receipt", "number", "year", "reason", "assignee", "staff", "note")

# The lead (xử lý chính) whom B's 04, 05 and 06 name.
LEAD = Staff("Nguyễn Thị Chuyên", "Phòng Tổng hợp")
# code, author, addressee, minutes after the envelope, the fields the code carries
CASES: list[tuple[StatusCode, str, str, int, dict[str, Any]]] = [
    (StatusCode.ARRIVED, B, A, 1, {"receipt": None}),  # receipt: hash of letter-2340
    (
        StatusCode.REJECTED,
        B,
        A,
        2,
        {"reason": "Văn bản gửi nhầm đơn vị, đề nghị gửi Sở Tài chính"},
    ),
    (
        StatusCode.ACCEPTED,
        B,
        A,
        3,
        {"number": 1365, "year": 2014, "staff": Staff("Cao Thắng", "Văn thư")},
    ),
    # 04, 05, 06 as an office that assigns the work writes them (docs/PROTOCOL.md 7.2):
    # `staff` the lead and their department, a 06's note its result.
    (
        StatusCode.ASSIGNED,
        B,
        A,
        4,
        {
            "assignee": "Nguyễn Thị Chuyên (Phòng Tổng hợp)",
            "staff": LEAD,
            "note": "Xử lý chính: Nguyễn Thị Chuyên (Phòng Tổng hợp). Lãnh đạo giao: Cao "
            "Thắng. Ý kiến chỉ đạo: Phòng Tổng hợp tham mưu. Hạn xử lý: 30/05/2014",
        },
    ),
    (StatusCode.IN_PROGRESS, B, A, 5, {"staff": LEAD}),
    (StatusCode.COMPLETED, B, A, 6, {"staff": LEAD, "note": "Đã triển khai eOffice tại đơn vị"}),
    (StatusCode.RECALL_REQUESTED, A, B, 7, {"reason": "Văn bản có sai sót"}),
    (StatusCode.RECALL_AGREED, B, A, 8, {}),
    (StatusCode.RECALL_REFUSED, B, A, 9, {"reason": "Văn bản đã được phân công xử lý"}),
]


def receipt() -> bytes:
    return hashlib.sha256(seal(letter_2340())).digest()


def build(code: StatusCode, author: str, to: str, minutes: int, extra: dict) -> tuple[bytes, dict]:
    """Sign one status; return its bytes and the fields a verifier must find."""
    at = NOW + minutes * MINUTE
    fields = {k: (receipt() if k == "receipt" else v) for k, v in extra.items()}
    status_id = new_ulid(at, counter_random(f"status-{int(code)}"))
    raw = make_status(
        keys(author),
        sender=author,
        serial=1,
        to=to,
        envelope=ENV_ID,
        code=code,
        at=at,
        status_id=status_id,
        **fields,
    )
    found: dict[str, Any] = {
        "id": status_id,
        "envelope": ENV_ID,
        "sender": author,
        "serial": 1,
        "to": to,
        "code": int(code),
        "at": at,
    }
    for name in FIELDS:
        value = fields.get(name)
        if isinstance(value, Staff):
            value = {"name": value.name, "position": value.position}
        found[name] = hx(value) if isinstance(value, bytes) else value
    return raw, found


def statuses() -> dict:
    vectors = []
    built = {}
    for code, author, to, minutes, extra in CASES:
        raw, found = build(code, author, to, minutes, extra)
        built[code] = raw
        vectors.append(
            vector(
                f"status-{int(code):02d}",
                f"Status {int(code):02d} ({code.name}) from {author} to {to} about letter-2340.",
                raw,
                {"ok": found},
                keys=KEYS,
            )
        )
    completed = inner(built[StatusCode.COMPLETED])
    hint = f"{B}:1"

    def refused(name: str, description: str, signed_map: dict, error: str) -> dict:
        raw = resign(signed_map, signing.STATUS, hint, B)
        return vector(name, description, raw, err(error), keys=KEYS)

    for code, field in (
        (StatusCode.ARRIVED, "receipt"),
        (StatusCode.REJECTED, "reason"),
        (StatusCode.ACCEPTED, "number"),
        (StatusCode.ASSIGNED, "assignee"),
        (StatusCode.RECALL_REFUSED, "reason"),
    ):
        m = {**inner(built[code]), field: None}
        vectors.append(
            refused(
                f"status-{int(code):02d}-without-{field}",
                f"Status {int(code):02d} signed correctly with '{field}' nil.",
                m,
                "InvalidField",
            )
        )
    vectors += [
        refused(
            "unknown-code",
            "Status 06 re-signed with code 7.",
            {**completed, "code": 7},
            "InvalidField",
        ),
        refused(
            "unknown-version",
            "Status 06 re-signed with v = 2.",
            {**completed, "v": 2},
            "UnknownVersion",
        ),
        refused(
            "unknown-kind",
            "Status 06 re-signed with kind 'envelope'.",
            {**completed, "kind": "envelope"},
            "UnknownKind",
        ),
        refused(
            "unknown-field",
            "Status 06 re-signed with an extra field 'mobile'.",
            {**completed, "mobile": "0276"},
            "InvalidField",
        ),
        refused(
            "short-receipt",
            "Status 01 re-signed with a 31-byte receipt.",
            {**inner(built[StatusCode.ARRIVED]), "receipt": bytes(31)},
            "InvalidField",
        ),
        vector(
            "bad-signature",
            "Status 06 with one bit of the signed bytes flipped.",
            flip_signed_byte(built[StatusCode.COMPLETED]),
            err("BadSignature"),
            keys=KEYS,
        ),
        vector(
            "wrong-domain",
            "Status 06's signed bytes signed by B in the envelope domain.",
            resign(completed, signing.ENVELOPE, hint, B),
            err("BadSignature"),
            keys=KEYS,
        ),
        vector(
            "signed-by-other-key",
            "Status 06 naming B:1 but signed with A's key.",
            resign(completed, signing.STATUS, hint, A),
            err("BadSignature"),
            keys=KEYS,
        ),
        vector(
            "signer-mismatch",
            "A correctly signs, under hint A:1, a status whose sender is B.",
            resign(completed, signing.STATUS, f"{A}:1", A),
            err("SignerMismatch"),
            keys=KEYS,
        ),
        vector(
            "unknown-signer",
            "Valid status 06, but the verifier knows no key for B:1.",
            built[StatusCode.COMPLETED],
            err("UnknownSigner"),
            keys=key_table((A, 1, A)),
        ),
        vector(
            "truncated",
            "Status 06 without its last 10 bytes.",
            built[StatusCode.COMPLETED][:-10],
            err("DecodeError"),
            keys=KEYS,
        ),
        vector(
            "oversized",
            f"{MAX_STATUS_BYTES + 1} bytes of 0x80: refused by size before any parsing.",
            None,
            err("LimitExceeded"),
            keys=KEYS,
            oversized=oversized(MAX_STATUS_BYTES),
        ),
    ]
    return file_document(
        "statuses",
        "keys: signer hint -> Ed25519 public key known to the verifier. All statuses answer "
        "envelopes.json letter-2340; status-01's receipt is that vector's sha256.",
        vectors,
    )
