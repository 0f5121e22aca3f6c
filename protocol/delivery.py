"""Delivery of one envelope to one recipient, as its sender sees it: states and transitions.

One table, applied in one place (storage.outbox.apply_delivery_event) and
drawn in docs/STATES.md. Events are the delivery engine's outcomes and the
statuses that come back. Statuses can overtake each other (one via the relay,
a later one direct), so a status that is behind the current state is recorded
in the timeline but does not move the state back.
"""

from __future__ import annotations

from enum import StrEnum

from lienthong.protocol.codes import StatusCode
from lienthong.protocol.states import TransitionError


class Delivery(StrEnum):
    QUEUED = "queued"  # in the outbox, waiting for its next attempt
    RELAYED = "relayed"  # deposited at the centre's relay; the recipient has not answered
    ARRIVED = "arrived"  # 01: durably stored by the recipient (proof of receipt)
    REJECTED = "rejected"  # 02
    ACCEPTED = "accepted"  # 03: registered, with the incoming number
    ASSIGNED = "assigned"  # 04
    IN_PROGRESS = "in_progress"  # 05
    COMPLETED = "completed"  # 06
    RECALLED = "recalled"  # 15: the recipient agreed to the recall
    EXPIRED = "expired"  # the relay's retention ran out before the recipient collected it
    FAILED = "failed"  # cannot be delivered: the recipient is revoked or unknown
    DEAD = "dead"  # a dead letter: the recipient kept refusing it; retried only by hand


class Event(StrEnum):
    DEPOSITED = "deposited"  # the relay took the envelope
    EXPIRED = "expired"
    FAILED = "failed"
    REQUEUED = "requeued"  # a clerk or operator retries a failed, expired or dead delivery
    REFUSED = "refused"  # the destination refused it for good (dead_letter below)


_STATUS_STATE = {
    StatusCode.ARRIVED: Delivery.ARRIVED,
    StatusCode.REJECTED: Delivery.REJECTED,
    StatusCode.ACCEPTED: Delivery.ACCEPTED,
    StatusCode.ASSIGNED: Delivery.ASSIGNED,
    StatusCode.IN_PROGRESS: Delivery.IN_PROGRESS,
    StatusCode.COMPLETED: Delivery.COMPLETED,
    StatusCode.RECALL_AGREED: Delivery.RECALLED,
}

# How far along each state is; a status never moves a delivery backwards.
RANK = {
    Delivery.QUEUED: 0,
    Delivery.EXPIRED: 0,
    Delivery.FAILED: 0,
    Delivery.DEAD: 0,
    Delivery.RELAYED: 1,
    Delivery.ARRIVED: 2,
    Delivery.REJECTED: 3,
    Delivery.ACCEPTED: 3,
    Delivery.ASSIGNED: 4,
    Delivery.IN_PROGRESS: 5,
    Delivery.COMPLETED: 6,
    Delivery.RECALLED: 7,
}

# Engine events: from which states each is allowed.
EVENT_TRANSITIONS: dict[Event, tuple[frozenset[Delivery], Delivery]] = {
    Event.DEPOSITED: (frozenset({Delivery.QUEUED}), Delivery.RELAYED),
    Event.EXPIRED: (frozenset({Delivery.QUEUED, Delivery.RELAYED}), Delivery.EXPIRED),
    Event.FAILED: (frozenset({Delivery.QUEUED, Delivery.RELAYED}), Delivery.FAILED),
    Event.REQUEUED: (
        frozenset({Delivery.EXPIRED, Delivery.FAILED, Delivery.DEAD}),
        Delivery.QUEUED,
    ),
    # A letter the relay holds is still tried directly (20.3): a recipient can refuse it there.
    Event.REFUSED: (frozenset({Delivery.QUEUED, Delivery.RELAYED}), Delivery.DEAD),
}

# Refusals (docs/PROTOCOL.md 16.4) that the same bytes can never pass, whatever the
# receiver learns later: the item becomes a dead letter at the first one.
NEVER_ACCEPTED = frozenset(
    {
        "DecodeError",
        "LimitExceeded",
        "InvalidField",
        "UnknownVersion",
        "UnknownKind",
        "BadSignature",
        "SignerMismatch",
        "NotARecipient",
        "Revoked",
        "DecryptionError",
        "TruncatedStreamError",
        "EnvelopeIdTaken",
        "EnvelopeIdReused",
        "NotFound",
        "TransitionError",
    }
)
# The same refusal this many times in a row makes any other item a dead letter. With the
# back-off of 20.3 the first twelve refusals take about an hour: a receiver whose directory
# is behind (UnknownSigner) or whose clock is off catches up well within it, while a
# refusal that stays is shown to a person instead of being sent, refused and audited at
# the receiver again every ten minutes for ever.
MAX_SAME_REFUSALS = 12


def dead_letter(error: str, same_in_a_row: int) -> bool:
    """Whether an item refused with `error`, the same refusal `same_in_a_row` times now,
    stops being retried (a dead letter) instead of waiting for its next attempt."""
    return error in NEVER_ACCEPTED or same_in_a_row >= MAX_SAME_REFUSALS


# Statuses that end a delivery's active life: nothing but a recall follows them.
FINAL = frozenset({Delivery.REJECTED, Delivery.COMPLETED, Delivery.RECALLED})


def after_event(current: Delivery, event: Event) -> Delivery:
    """The state after an engine event; TransitionError if the event cannot happen now."""
    allowed, target = EVENT_TRANSITIONS[event]
    if current not in allowed:
        raise TransitionError(
            f"delivery in state {current.value!r} cannot take event {event.value!r}"
        )
    return target


def after_status(current: Delivery, code: StatusCode) -> Delivery:
    """The state after a recipient's status: forward only; 13 and 16 leave it unchanged."""
    target = _STATUS_STATE.get(code)
    if target is None:
        return current  # 13 is the sender's own; 16 (recall refused) keeps the state
    if current in (Delivery.EXPIRED, Delivery.FAILED, Delivery.DEAD):
        return target  # the recipient got it after all (e.g. collected late): believe it
    return target if RANK[target] > RANK[current] else current
