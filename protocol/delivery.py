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


class Event(StrEnum):
    DEPOSITED = "deposited"  # the relay took the envelope
    EXPIRED = "expired"
    FAILED = "failed"
    REQUEUED = "requeued"  # an operator retries a failed or expired delivery


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
    Event.REQUEUED: (frozenset({Delivery.EXPIRED, Delivery.FAILED}), Delivery.QUEUED),
}

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
    if current in (Delivery.EXPIRED, Delivery.FAILED):
        return target  # the recipient got it after all (e.g. collected late): believe it
    return target if RANK[target] > RANK[current] else current
