"""Status messages: a recipient's signed answer about an envelope (01 arrived ... 16).

Recipients send 01-06, 15 and 16 to the sender; the sender sends 13 (please
recall) to a recipient. Each status is signed by its author in the status
domain and references the envelope by id. Layout: docs/PROTOCOL.md, "Status".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lienthong.crypto import signing
from lienthong.crypto.keys import NodeKeys
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.errors import InvalidField
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.limits import MAX_REASON, MAX_SHORT_TEXT, MAX_STATUS_BYTES
from lienthong.protocol.wire import (
    Fields,
    check_header,
    sign_unit_message,
    unpack,
    unwrap,
    verify_unit_message,
)

WHAT = "status"
RECEIPT_BYTES = 32  # SHA-256 of the envelope bytes received
MAX_INCOMING_NUMBER = 10**9

KeyLookup = Callable[[str, int], bytes]


@dataclass(frozen=True, slots=True)
class Staff:
    """The person who acted (edXML StaffInfo): name and position or department."""

    name: str
    position: str = ""


@dataclass(frozen=True, slots=True)
class Status:
    id: str
    envelope: str  # the envelope this status answers
    sender: str  # author of the status
    serial: int  # author's certificate serial
    to: str  # the unit the status is addressed to
    code: StatusCode
    at: int  # unix milliseconds, UTC
    receipt: bytes | None = None  # 01: SHA-256 of the envelope bytes as received
    number: int | None = None  # 03: incoming register number (số đến)
    year: int | None = None  # 03: year of the incoming register
    reason: str | None = None  # 02, 16: why
    assignee: str | None = None  # 04: department or person it was passed to
    staff: Staff | None = None
    note: str | None = None


_REQUIRED: dict[StatusCode, tuple[str, ...]] = {
    StatusCode.ARRIVED: ("receipt",),
    StatusCode.REJECTED: ("reason",),
    StatusCode.ACCEPTED: ("number", "year"),
    StatusCode.ASSIGNED: ("assignee",),
    StatusCode.RECALL_REFUSED: ("reason",),
}


def check_status(status: Status) -> None:
    """Refuse a status that lacks what its code requires (e.g. 03 without a number)."""
    for name in _REQUIRED.get(status.code, ()):
        if getattr(status, name) is None:
            raise InvalidField(
                WHAT, name, f"required for status {int(status.code):02d} ({status.code.name})"
            )


_VERIFIED = object()


@dataclass(frozen=True, slots=True)
class VerifiedStatus:
    """A status whose signature has been checked; only verify_status makes one."""

    status: Status
    raw: bytes
    _token: object

    def __post_init__(self) -> None:
        if self._token is not _VERIFIED:
            raise TypeError("a VerifiedStatus is made by protocol.status.verify_status only")


def make_status(
    keys: NodeKeys,
    *,
    sender: str,
    serial: int,
    to: str,
    envelope: str,
    code: StatusCode,
    at: int,
    status_id: str | None = None,
    random: Callable[[int], bytes] = os.urandom,
    **fields: Any,
) -> bytes:
    """Build, check and sign a status; returns the wire bytes."""
    status = Status(
        id=status_id or new_ulid(at, random),
        envelope=envelope,
        sender=sender,
        serial=serial,
        to=to,
        code=StatusCode(code),
        at=at,
        **fields,
    )
    return sign_status(keys, status)


def sign_status(keys: NodeKeys, status: Status) -> bytes:
    """Check and sign a Status built by the caller; returns the wire bytes."""
    check_status(status)
    staff = status.staff
    return sign_unit_message(
        keys.signing,
        {
            "v": 1,
            "kind": "status",
            "id": status.id,
            "envelope": status.envelope,
            "sender": status.sender,
            "serial": status.serial,
            "to": status.to,
            "code": int(status.code),
            "at": status.at,
            "receipt": status.receipt,
            "number": status.number,
            "year": status.year,
            "reason": status.reason,
            "assignee": status.assignee,
            "staff": None if staff is None else {"name": staff.name, "position": staff.position},
            "note": status.note,
        },
        what=WHAT,
        max_bytes=MAX_STATUS_BYTES,
        domain=signing.STATUS,
        decode=_decode,
    )


def verify_status(raw: bytes, lookup: KeyLookup) -> VerifiedStatus:
    """Verify the signature over the exact signed bytes, then decode and check them."""
    status = verify_unit_message(
        raw,
        what=WHAT,
        max_bytes=MAX_STATUS_BYTES,
        domain=signing.STATUS,
        lookup=lookup,
        decode=_decode,
    )
    return VerifiedStatus(status=status, raw=bytes(raw), _token=_VERIFIED)


def stored_status(raw: bytes) -> Status:
    """The fields of a status this node verified when it stored it (its own, or one taken by
    verify_status): decoded and checked again, its signature not looked up again (the
    directory may no longer hold the key it was signed with)."""
    wrapper = unwrap(raw, what=WHAT, max_bytes=MAX_STATUS_BYTES)
    return _decode(unpack(wrapper.signed, what=WHAT, max_bytes=MAX_STATUS_BYTES))


def _decode(value: Any) -> Status:
    f = Fields(value, WHAT)
    check_header(f, WHAT, "status")
    raw_code = f.int("code", hi=255)
    try:
        code = StatusCode(raw_code)
    except ValueError:
        raise InvalidField(WHAT, "code", f"{raw_code} is not a status code") from None
    staff_map = f.map("staff", optional=True)
    staff = None
    if staff_map is not None:
        staff = Staff(name=staff_map.str("name", min_len=1), position=staff_map.str("position"))
        staff_map.done()
    status = Status(
        id=f.ulid("id"),
        envelope=f.ulid("envelope"),
        sender=f.code("sender"),
        serial=f.int("serial", hi=2**53),
        to=f.code("to"),
        code=code,
        at=f.int("at", hi=2**48 - 1),
        receipt=f.bytes("receipt", length=RECEIPT_BYTES, optional=True),
        number=f.int("number", lo=1, hi=MAX_INCOMING_NUMBER, optional=True),
        year=f.int("year", lo=1900, hi=9999, optional=True),
        reason=f.str("reason", max_len=MAX_REASON, optional=True),
        assignee=f.str("assignee", max_len=MAX_SHORT_TEXT, optional=True),
        staff=staff,
        note=f.str("note", max_len=MAX_REASON, optional=True),
    )
    f.done()
    check_status(status)
    return status
