"""The sender's view of one delivery: engine events and statuses, forward only."""

import pytest

from lienthong.protocol.codes import StatusCode
from lienthong.protocol.delivery import (
    MAX_SAME_REFUSALS,
    Delivery,
    Event,
    after_event,
    after_status,
    dead_letter,
)
from lienthong.protocol.states import TransitionError


def test_normal_life_of_a_delivery():
    """queued -> relayed -> arrived -> accepted -> assigned -> in progress -> completed."""
    state = after_event(Delivery.QUEUED, Event.DEPOSITED)
    assert state is Delivery.RELAYED
    for code, expected in [
        (StatusCode.ARRIVED, Delivery.ARRIVED),
        (StatusCode.ACCEPTED, Delivery.ACCEPTED),
        (StatusCode.ASSIGNED, Delivery.ASSIGNED),
        (StatusCode.IN_PROGRESS, Delivery.IN_PROGRESS),
        (StatusCode.COMPLETED, Delivery.COMPLETED),
    ]:
        state = after_status(state, code)
        assert state is expected


def test_a_late_status_does_not_move_back():
    """03 overtaking 01 (relay vs direct): the late 01 leaves the delivery accepted."""
    assert after_status(Delivery.ACCEPTED, StatusCode.ARRIVED) is Delivery.ACCEPTED


def test_recall_statuses():
    """15 ends the delivery as recalled; 16 and 13 leave the state as it was."""
    assert after_status(Delivery.ASSIGNED, StatusCode.RECALL_AGREED) is Delivery.RECALLED
    assert after_status(Delivery.ASSIGNED, StatusCode.RECALL_REFUSED) is Delivery.ASSIGNED
    assert after_status(Delivery.ARRIVED, StatusCode.RECALL_REQUESTED) is Delivery.ARRIVED


def test_engine_events_only_from_their_states():
    """A delivery that arrived cannot expire at the relay or be deposited again."""
    with pytest.raises(TransitionError, match="'arrived' cannot take event 'expired'"):
        after_event(Delivery.ARRIVED, Event.EXPIRED)
    with pytest.raises(TransitionError):
        after_event(Delivery.RELAYED, Event.DEPOSITED)
    assert after_event(Delivery.EXPIRED, Event.REQUEUED) is Delivery.QUEUED


def test_expired_then_collected_is_believed():
    """A signed 01 after the relay declared expiry means it arrived after all."""
    assert after_status(Delivery.EXPIRED, StatusCode.ARRIVED) is Delivery.ARRIVED


def test_a_refusal_for_good_makes_a_dead_letter_that_only_a_person_requeues():
    """refused: queued or relayed → dead (never from arrived); requeued: dead → queued; a
    01 after it is believed; dead_letter stops at once on a refusal the bytes can never
    pass, else at the MAX_SAME_REFUSALS-th same one."""
    assert after_event(Delivery.QUEUED, Event.REFUSED) is Delivery.DEAD
    assert after_event(Delivery.RELAYED, Event.REFUSED) is Delivery.DEAD
    with pytest.raises(TransitionError):
        after_event(Delivery.ARRIVED, Event.REFUSED)
    assert after_event(Delivery.DEAD, Event.REQUEUED) is Delivery.QUEUED
    assert after_status(Delivery.DEAD, StatusCode.ARRIVED) is Delivery.ARRIVED
    for never in ("NotARecipient", "InvalidField", "BadSignature"):
        assert dead_letter(never, 1)
    assert not dead_letter("UnknownSigner", MAX_SAME_REFUSALS - 1)
    assert dead_letter("UnknownSigner", MAX_SAME_REFUSALS)
