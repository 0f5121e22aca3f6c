"""The relay's bodies (docs/PROTOCOL.md §19): deposit and its answer, pull and its answer,
ack and its answer, and the expiry notices. Pure: bytes in, values out.

node/centre/relay.py serves these routes, node/unit/relay_client.py and
node/unit/delivery.py call them; both sides only move bytes and call the functions
here, so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from lienthong.protocol.errors import InvalidField
from lienthong.protocol.incremental import IncrementalDecoder
from lienthong.protocol.limits import MAX_ENVELOPE_BYTES
from lienthong.protocol.peer import (
    MAX_ANSWER_MESSAGE,
    MAX_BLOB_BYTES,
    MAX_INBOX_BYTES,
    MAX_INBOX_ITEMS,
    MAX_ITEM_BYTES,
    check_items,
)
from lienthong.protocol.text import pattern
from lienthong.protocol.wire import Fields, pack, unpack

# A deposit is what the delivery engine would post to the unit's inbox: same limits.
MAX_DEPOSIT_BYTES = MAX_INBOX_BYTES
MAX_DEPOSIT_ITEMS = MAX_INBOX_ITEMS
# A deposit answer is a boolean and an error per item; an error may quote what was
# refused, so the answer is bounded like an inbox answer.
MAX_DEPOSIT_ANSWER_BYTES = MAX_INBOX_BYTES
# A pull answers at most this many items and (beyond its first item) this many bytes,
# so one answer stays well under what a client buffers (MAX_PULL_RESPONSE_BYTES).
MAX_PULL_ITEMS = 200
MAX_PULL_BYTES = 16 * 1024 * 1024
MAX_PULL_RESPONSE_BYTES = MAX_PULL_BYTES + MAX_ENVELOPE_BYTES + 64 * 1024
# Items a unit reads from one pull answer: far above what the relay sends (MAX_PULL_ITEMS),
# so a relay that sends more in a later version is still understood.
MAX_PULL_ANSWER_ITEMS = 10_000
# A long-poll waits at most this long: below the idle timeouts of common NAT boxes and
# proxies (30-60 s), so the connection is not cut while it waits.
MAX_PULL_WAIT = 25
# The `wait` of a pull: decimal seconds, ASCII digits with an optional fraction; 9 digits
# either side of the point are far more than any wait (float() would also take "1e3",
# "inf", " 5" and "٥").
PULL_WAIT = pattern("pull wait", r"[0-9]{1,9}(?:\.[0-9]{1,9})?", "25")
# An item a pull answered is not answered again for this long (its `visible_at`): the unit
# acknowledges within the pull what it took; what it left for later (it cannot take it
# yet: its clock, its directory, a blob) waits behind every other item instead of coming
# back first at each pull and holding the mailbox. As long as the pause of a unit whose
# pull brought only such items (node/unit/relay_client.py, DEFERRED_RETRY_SECONDS).
REOFFER_SECONDS = 30
# Blobs still being uploaded that one pull answer may name for the puller (19.6): an early
# upload names at most a few, so more would be a relay's fault.
MAX_ARRIVING = 64
# An arrival's handle: 32 lowercase hex characters (16 random bytes), named by the relay.
ARRIVAL_HANDLE_CHARS = 32
ARRIVAL_HANDLE = pattern("arrival handle", "[0-9a-f]{32}", "0123456789abcdef" * 2)
# An ack names what one pull gave; a few times that is generous.
MAX_ACK_IDS = 1000
# Item ids: a ULID, or a notice id "expired:<ULID>:<unit code>" (26 + 32 + 9 characters).
MAX_ITEM_ID = 80
MAX_ACK_BYTES = MAX_ACK_IDS * (MAX_ITEM_ID + 2) + 64
# An ack answer is one small count.
MAX_ACK_ANSWER_BYTES = 64
# A notice is three short fields.
MAX_NOTICE_BYTES = 1024

ENVELOPE, STATUS, NOTICE = "envelope", "status", "notice"
ITEM_KINDS = frozenset({ENVELOPE, STATUS, NOTICE})
NOTICE_EXPIRED = "expired"
NOTICE_STATUS_EXPIRED = "status-expired"
# What expired: the notice names an envelope (its delivery becomes 'expired' at the
# sender) or a status (its author sends it again; a status must not be lost silently).
NOTICE_KEY = {NOTICE_EXPIRED: "envelope", NOTICE_STATUS_EXPIRED: "status"}

WHAT_DEPOSIT = "relay deposit"
WHAT_DEPOSIT_ANSWER = "relay deposit answer"
WHAT_PULL = "relay pull"
WHAT_PULL_ANSWER = "relay answer"
WHAT_ACK = "relay ack"
WHAT_ACK_ANSWER = "relay ack answer"
WHAT_NOTICE = "relay notice"


# -- deposit --------------------------------------------------------------------------------


class Deposit(NamedTuple):
    """Items for the mailbox of `to`: complete envelope and status wrappers."""

    to: str
    envelopes: list[bytes]
    statuses: list[bytes]


def encode_deposit(to: str, envelopes: Sequence[bytes], statuses: Sequence[bytes]) -> bytes:
    """The body of `POST <relay>/deposit`."""
    return pack({"to": to, "envelopes": list(envelopes), "statuses": list(statuses)})


def deposit_decoder() -> IncrementalDecoder[Deposit]:
    """A deposit decoded as its bytes arrive (`feed`, then `finish`), as decode_deposit."""
    return IncrementalDecoder(
        WHAT_DEPOSIT, max_bytes=MAX_DEPOSIT_BYTES, max_item_bytes=MAX_ITEM_BYTES, build=_deposit
    )


def decode_deposit(data: bytes) -> Deposit:
    """A deposit from untrusted bytes: all three keys, no other; every item binary and at
    most MAX_ITEM_BYTES."""
    return deposit_decoder().decode(data)


def _deposit(value: object) -> Deposit:
    f = Fields(value, WHAT_DEPOSIT)
    to = f.code("to")
    envelopes = f.list("envelopes", max_items=MAX_DEPOSIT_ITEMS)
    statuses = f.list("statuses", max_items=MAX_DEPOSIT_ITEMS)
    f.done()
    check_items(WHAT_DEPOSIT, envelopes, statuses, limit=MAX_DEPOSIT_ITEMS)
    return Deposit(to, envelopes, statuses)


class DepositAnswer(NamedTuple):
    """One entry per item, envelopes first: taken or not, and why not."""

    accepted: list[bool]
    errors: list[str | None]


def encode_deposit_answer(accepted: Sequence[bool], errors: Sequence[str | None]) -> bytes:
    """The `200` body of a deposit: `errors[i]` is `"<ErrorName>: <message>"` or None."""
    return pack({"accepted": list(accepted), "errors": list(errors)})


def decode_deposit_answer(data: bytes, *, items: int) -> DepositAnswer:
    """The relay's answer to a deposit of `items` items: exactly one entry each."""
    what = WHAT_DEPOSIT_ANSWER
    f = Fields(unpack(data, what=what, max_bytes=MAX_DEPOSIT_ANSWER_BYTES), what)
    accepted = f.list("accepted", max_items=MAX_DEPOSIT_ITEMS)
    errors = f.list("errors", max_items=MAX_DEPOSIT_ITEMS)
    f.done()
    for key, values in (("accepted", accepted), ("errors", errors)):
        if len(values) != items:
            raise InvalidField(what, key, f"{len(values)} entries for {items} items deposited")
    for i, ok in enumerate(accepted):
        if type(ok) is not bool:
            raise InvalidField(what, f"accepted[{i}]", "expected a boolean")
    for i, error in enumerate(errors):
        if error is not None and (type(error) is not str or len(error) > MAX_ANSWER_MESSAGE):
            raise InvalidField(what, f"errors[{i}]", "expected a string or nil")
    return DepositAnswer(accepted, errors)


# -- pull -----------------------------------------------------------------------------------


def format_wait(seconds: float) -> str:
    """The `wait` query value of a pull: plain decimal (PULL_WAIT), never an exponent."""
    if seconds == 0:
        return "0"
    return f"{min(seconds, MAX_PULL_WAIT):.3f}".rstrip("0").rstrip(".")


def parse_wait(text: str) -> float:
    """Seconds a pull may wait: finite, >= 0, capped at MAX_PULL_WAIT; InvalidField if not."""
    if not PULL_WAIT.matches(text):
        raise InvalidField(
            WHAT_PULL, "wait", f"{text[:20]!r} is not seconds >= 0 in decimal digits (e.g. 25)"
        )
    return min(float(text), MAX_PULL_WAIT)


@dataclass(frozen=True, slots=True)
class PulledItem:
    """One mailbox item as a pull gives it: its id, its kind and its bytes."""

    id: str
    kind: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class Arriving:
    """A blob still being uploaded to the relay for the puller (19.6): its handle and the
    length it will have."""

    handle: str
    length: int


class PullAnswer(NamedTuple):
    items: list[PulledItem]
    arriving: list[Arriving]


def encode_pull_answer(
    items: Iterable[PulledItem], arriving: Sequence[Arriving] | None = None
) -> bytes:
    """The `200` body of a pull, oldest item first; `arriving` only for a pull that asked
    for it (`arriving=1`, 19.6), so an older unit's strict decoder never meets the key."""
    body: dict[str, object] = {"items": [{"id": i.id, "kind": i.kind, "raw": i.raw} for i in items]}
    if arriving is not None:
        body["arriving"] = [{"handle": a.handle, "length": a.length} for a in arriving]
    return pack(body)


def decode_pull_answer(data: bytes) -> list[PulledItem]:
    """The items of a pull answer from untrusted bytes, in the relay's order."""
    return decode_pull(data).items


def decode_pull(data: bytes) -> PullAnswer:
    """A pull answer from untrusted bytes: its items in the relay's order, and the blobs
    arriving for the puller (empty when the relay sent none)."""
    what = WHAT_PULL_ANSWER
    f = Fields(unpack(data, what=what, max_bytes=MAX_PULL_RESPONSE_BYTES), what)
    arriving = []
    for i, value in enumerate(f.list("arriving", max_items=MAX_ARRIVING, optional=True) or ()):
        g = Fields(value, f"{what}: arriving[{i}]")
        arriving.append(
            Arriving(
                handle=g.str("handle", min_len=1, max_len=ARRIVAL_HANDLE_CHARS),
                length=g.int("length", hi=MAX_BLOB_BYTES),
            )
        )
        g.done()
        if not ARRIVAL_HANDLE.matches(arriving[-1].handle):
            raise InvalidField(what, "handle", "an arrival's handle is 32 lowercase hex")
    items = []
    for i, value in enumerate(f.list("items", max_items=MAX_PULL_ANSWER_ITEMS)):
        g = Fields(value, f"{what}: items[{i}]")
        items.append(
            PulledItem(
                id=g.str("id", min_len=1, max_len=MAX_ITEM_ID),
                kind=g.str("kind", choices=ITEM_KINDS),
                raw=g.bytes("raw", max_len=MAX_PULL_RESPONSE_BYTES),
            )
        )
        g.done()
    f.done()
    return PullAnswer(items, arriving)


# -- ack ------------------------------------------------------------------------------------


def encode_ack(ids: Sequence[str]) -> bytes:
    """The body of `POST <relay>/ack`."""
    return pack({"ids": list(ids)})


def decode_ack(data: bytes) -> list[str]:
    """The item ids of an ack from untrusted bytes."""
    f = Fields(unpack(data, what=WHAT_ACK, max_bytes=MAX_ACK_BYTES), WHAT_ACK)
    ids = f.strs("ids", max_items=MAX_ACK_IDS, max_len=MAX_ITEM_ID)
    f.done()
    return list(ids)


def encode_ack_answer(removed: int) -> bytes:
    """The `200` body of an ack: how many items it removed."""
    return pack({"removed": removed})


def decode_ack_answer(data: bytes) -> int:
    """How many items an ack removed, from the relay's answer."""
    f = Fields(unpack(data, what=WHAT_ACK_ANSWER, max_bytes=MAX_ACK_ANSWER_BYTES), WHAT_ACK_ANSWER)
    removed = f.int("removed", hi=MAX_ACK_IDS)
    f.done()
    return removed


# -- notices --------------------------------------------------------------------------------


class Notice(NamedTuple):
    """The relay's word to an item's author that it expired unread in `recipient`'s box."""

    event: str  # NOTICE_EXPIRED (an envelope) or NOTICE_STATUS_EXPIRED (a status)
    item_id: str  # the envelope id or the status id
    recipient: str


def mailbox_item_id(sender: str, wire_id: str) -> str:
    """The mailbox id of an envelope or status: its author's code and its own id, so items
    of two senders never share an id (an envelope id is unique per sender only, §3.1)."""
    return f"{sender}/{wire_id}"


def wire_id_of(item_id: str) -> str:
    """The envelope or status id inside a mailbox item id (the id itself for older items)."""
    return item_id.rpartition("/")[2]


def notice_id(item_id: str, recipient: str) -> str:
    """The mailbox id of the notice that `item_id` expired in `recipient`'s box."""
    return f"expired:{item_id}:{recipient}"


def encode_notice(item_id: str, recipient: str, event: str = NOTICE_EXPIRED) -> bytes:
    """A notice's `raw`: unsigned, it comes from the unit's own relay over mutual TLS."""
    return pack({"event": event, NOTICE_KEY[event]: item_id, "recipient": recipient})


def decode_notice(raw: bytes) -> Notice:
    """(event, item id, recipient) of a relay notice; InvalidField if malformed."""
    f = Fields(unpack(raw, what=WHAT_NOTICE, max_bytes=MAX_NOTICE_BYTES), WHAT_NOTICE)
    event = f.str("event", choices=frozenset(NOTICE_KEY))
    item_id = f.ulid(NOTICE_KEY[event])
    recipient = f.code("recipient")
    f.done()
    return Notice(event, item_id, recipient)
