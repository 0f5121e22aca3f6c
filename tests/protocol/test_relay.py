"""The relay's codecs (protocol/relay.py): deposit, pull, ack and notice bodies round-trip with
the bytes of docs/PROTOCOL.md §19, and every truncation, mutation or wrong field is refused
with a protocol error naming the message and the field, never another exception."""

from __future__ import annotations

import math

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lienthong.protocol.errors import InvalidField, LimitExceeded
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.peer import MAX_BLOB_BYTES
from lienthong.protocol.relay import (
    ITEM_KINDS,
    MAX_ACK_BYTES,
    MAX_ACK_IDS,
    MAX_DEPOSIT_BYTES,
    MAX_DEPOSIT_ITEMS,
    MAX_ITEM_ID,
    MAX_NOTICE_BYTES,
    MAX_PULL_WAIT,
    NOTICE_EXPIRED,
    NOTICE_STATUS_EXPIRED,
    Arriving,
    Deposit,
    DepositAnswer,
    Notice,
    PullAnswer,
    PulledItem,
    decode_ack,
    decode_ack_answer,
    decode_deposit,
    decode_deposit_answer,
    decode_notice,
    decode_pull,
    decode_pull_answer,
    encode_ack,
    encode_ack_answer,
    encode_deposit,
    encode_deposit_answer,
    encode_notice,
    encode_pull_answer,
    format_wait,
    notice_id,
    parse_wait,
)
from lienthong.protocol.units import MAX_UNIT_CODE
from lienthong.protocol.wire import pack
from tests.protocol.fixtures import NOW, A, B, C
from tests.protocol.mutations import decoded_or_named, every_truncation_is_refused, mutated

SETTINGS = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
CODES = st.sampled_from([A, B, C, "1.2", "Z" * 8 + ".9"])
ITEMS = st.lists(st.binary(max_size=48), max_size=4)
ULIDS = st.integers(0, 2**48 - 1).flatmap(
    lambda ms: st.binary(min_size=10, max_size=10).map(lambda r: new_ulid(ms, lambda n: r[:n]))
)
ITEM_IDS = ULIDS | st.builds(notice_id, ULIDS, CODES)
PULLED = st.builds(
    PulledItem, ITEM_IDS, st.sampled_from(sorted(ITEM_KINDS)), st.binary(max_size=48)
)
ERRORS = st.none() | st.text(max_size=60)


def msgpack_of(value) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


# -- deposit --------------------------------------------------------------------------------


@SETTINGS
@given(CODES, ITEMS, ITEMS)
def test_a_deposit_round_trips_as_the_documented_map(to, envelopes, statuses):
    """encode_deposit is the map of §19.1, key order included, and decodes to the same."""
    raw = encode_deposit(to, envelopes, statuses)
    assert raw == msgpack_of({"to": to, "envelopes": envelopes, "statuses": statuses})
    assert decode_deposit(raw) == Deposit(to, envelopes, statuses)


@SETTINGS
@given(CODES, ITEMS, ITEMS, st.data())
def test_a_deposit_cut_or_mutated_is_refused_by_name(to, envelopes, statuses, data):
    """Every prefix is refused as DecodeError; a mutation decodes to a deposit or is refused."""
    raw = encode_deposit(to, envelopes, statuses)
    every_truncation_is_refused(decode_deposit, raw, "relay deposit")
    deposit = decoded_or_named(decode_deposit, mutated(data, raw), "relay deposit")
    if deposit is not None:
        assert all(type(i) is bytes for i in deposit.envelopes + deposit.statuses)


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        ({"to": B, "envelopes": []}, InvalidField, "field 'statuses': missing"),
        ({"envelopes": [], "statuses": []}, InvalidField, "field 'to': missing"),
        ({"to": "not a code", "envelopes": [], "statuses": []}, InvalidField, "field 'to'"),
        ({"to": B, "envelopes": [7], "statuses": []}, InvalidField, r"'envelopes\[0\]'"),
        ({"to": B, "envelopes": [], "statuses": [b"", None]}, InvalidField, r"'statuses\[1\]'"),
        ({"to": B, "envelopes": [], "statuses": [], "x": 1}, InvalidField, "unknown field"),
        (
            {"to": B, "envelopes": [b"e"] * 400, "statuses": [b"s"] * 101},
            LimitExceeded,
            f"501 items is over the limit of {MAX_DEPOSIT_ITEMS}",
        ),
    ],
)
def test_each_bad_deposit_is_refused_naming_the_field(value, error, words):
    """A deposit of the wrong shape is refused with the field named (the relay's 400)."""
    with pytest.raises(error, match=words):
        decode_deposit(pack(value))


def test_an_oversized_deposit_is_refused_before_parsing():
    """MAX_DEPOSIT_BYTES + 1 bytes are refused by size."""
    with pytest.raises(LimitExceeded, match=f"over the limit of {MAX_DEPOSIT_BYTES} bytes"):
        decode_deposit(b"\x80" * (MAX_DEPOSIT_BYTES + 1))


@SETTINGS
@given(st.lists(st.tuples(st.booleans(), ERRORS), max_size=6), st.data())
def test_a_deposit_answer_round_trips_and_is_refused_when_cut_or_mutated(entries, data):
    """{"accepted": [bool], "errors": [str|nil]} round-trips; cut, it is refused; mutated, it
    gives one boolean and one error per item or a named refusal."""
    accepted, errors = [a for a, _ in entries], [e for _, e in entries]
    raw = encode_deposit_answer(accepted, errors)
    assert raw == msgpack_of({"accepted": accepted, "errors": errors})
    assert decode_deposit_answer(raw, items=len(entries)) == DepositAnswer(accepted, errors)

    def decode(b: bytes) -> DepositAnswer:
        return decode_deposit_answer(b, items=len(entries))

    every_truncation_is_refused(decode, raw, "relay deposit answer")
    answer = decoded_or_named(decode, mutated(data, raw), "relay deposit answer")
    if answer is not None:
        assert len(answer.accepted) == len(answer.errors) == len(entries)
        assert all(type(a) is bool for a in answer.accepted)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"accepted": [True], "errors": [None]}, "field 'accepted': 1 entries for 2 items"),
        ({"accepted": [True, False], "errors": [None]}, "field 'errors': 1 entries for 2 items"),
        ({"accepted": [True, 1], "errors": [None, None]}, r"'accepted\[1\]': expected a boolean"),
        ({"accepted": [True, True], "errors": [None, 3]}, r"'errors\[1\]': expected a string"),
        ({"accepted": [True, True]}, "field 'errors': missing"),
    ],
)
def test_each_bad_deposit_answer_is_refused_naming_the_field(value, words):
    """An answer with the wrong count or type of entries is refused (the sender retries)."""
    with pytest.raises(InvalidField, match=words):
        decode_deposit_answer(pack(value), items=2)


# -- pull -----------------------------------------------------------------------------------


@SETTINGS
@given(st.lists(PULLED, max_size=5), st.data())
def test_a_pull_answer_round_trips_and_is_refused_when_cut_or_mutated(items, data):
    """{"items": [{"id", "kind", "raw"}]} round-trips in order; cut, it is refused; mutated,
    it gives well-formed items or a named refusal."""
    raw = encode_pull_answer(items)
    documented = {"items": [{"id": i.id, "kind": i.kind, "raw": i.raw} for i in items]}
    assert raw == msgpack_of(documented)
    assert decode_pull_answer(raw) == items
    every_truncation_is_refused(decode_pull_answer, raw, "relay answer")
    pulled = decoded_or_named(decode_pull_answer, mutated(data, raw), "relay answer")
    for item in pulled or []:
        assert item.kind in ITEM_KINDS and 1 <= len(item.id) <= MAX_ITEM_ID


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"id": "", "kind": "envelope", "raw": b""}, r"items\[0\]: field 'id': must not be empty"),
        ({"id": "x" * 81, "kind": "status", "raw": b""}, "field 'id': 81 characters, limit is 80"),
        ({"id": "x", "kind": "letter", "raw": b""}, "field 'kind': 'letter' is not one of"),
        ({"id": "x", "kind": "notice", "raw": "text"}, "field 'raw': expected binary"),
        ({"id": "x", "kind": "notice"}, "field 'raw': missing"),
    ],
)
def test_each_bad_pulled_item_is_refused_naming_it(item, words):
    """A bad item names its index and field."""
    with pytest.raises(InvalidField, match=words):
        decode_pull_answer(pack({"items": [item]}))


def test_arrivals_round_trip_only_when_asked_for():
    """`arriving` is in the answer only when given (an older unit's strict decoder never
    meets it), and decodes to the handles and lengths sent."""
    item = PulledItem("01ARZ3NDEKTSV4RRFFQ69G5FAV", "envelope", b"raw")
    arriving = [Arriving("0123456789abcdef" * 2, 70_000_000), Arriving("f" * 32, 0)]
    assert decode_pull(encode_pull_answer([item])) == PullAnswer([item], [])
    both = encode_pull_answer([item], arriving)
    assert decode_pull(both) == PullAnswer([item], arriving)
    assert decode_pull_answer(both) == [item]
    every_truncation_is_refused(decode_pull, both, "relay answer")


@pytest.mark.parametrize(
    ("arrival", "words"),
    [
        ({"handle": "A" * 32, "length": 1}, "field 'handle': an arrival's handle is 32"),
        ({"handle": "a" * 33, "length": 1}, "field 'handle': 33 characters, limit is 32"),
        ({"handle": "a" * 32, "length": -1}, "field 'length'"),
        ({"handle": "a" * 32, "length": MAX_BLOB_BYTES + 1}, "field 'length'"),
        ({"handle": "a" * 32, "length": 1, "blob": "x"}, "blob"),
    ],
)
def test_each_bad_arrival_is_refused_naming_it(arrival, words):
    """A bad arrival names its field."""
    with pytest.raises(InvalidField, match=words):
        decode_pull(pack({"items": [], "arriving": [arrival]}))


@SETTINGS
@given(st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_a_wait_round_trips_capped(seconds):
    """The wait a client formats is read back, capped at MAX_PULL_WAIT."""
    text = format_wait(seconds)
    assert parse_wait(text) == min(float(text), MAX_PULL_WAIT)


@SETTINGS
@given(st.text(max_size=12) | st.sampled_from(["nan", "inf", "-1", "1e400", "-0", "25.5", " 3 "]))
def test_any_wait_text_is_seconds_or_a_named_refusal(text):
    """Any query text gives a finite wait in 0..MAX_PULL_WAIT or InvalidField on 'wait'."""
    try:
        wait = parse_wait(text)
    except InvalidField as exc:
        assert exc.field == "wait" and str(exc).startswith("relay pull: ")
    else:
        assert math.isfinite(wait) and 0 <= wait <= MAX_PULL_WAIT


# -- ack ------------------------------------------------------------------------------------


@SETTINGS
@given(st.lists(ITEM_IDS, max_size=6), st.integers(0, MAX_ACK_IDS), st.data())
def test_an_ack_and_its_answer_round_trip_and_are_refused_when_cut_or_mutated(ids, n, data):
    """{"ids": [str]} and {"removed": n} round-trip; cut, they are refused; mutated, the ack
    gives item ids of at most MAX_ITEM_ID characters or a named refusal."""
    raw = encode_ack(ids)
    assert raw == msgpack_of({"ids": ids}) and decode_ack(raw) == ids
    answer = encode_ack_answer(n)
    assert answer == msgpack_of({"removed": n}) and decode_ack_answer(answer) == n
    every_truncation_is_refused(decode_ack, raw, "relay ack")
    every_truncation_is_refused(decode_ack_answer, answer, "relay ack answer")
    for item_id in decoded_or_named(decode_ack, mutated(data, raw), "relay ack") or []:
        assert isinstance(item_id, str) and len(item_id) <= MAX_ITEM_ID
    decoded_or_named(decode_ack_answer, mutated(data, answer), "relay ack answer")


def test_bad_acks_are_refused_naming_the_field():
    """Too many ids, an id too long, an id that is no string; and the byte cap first."""
    with pytest.raises(LimitExceeded, match="'ids': 1001 items"):
        decode_ack(pack({"ids": ["x"] * (MAX_ACK_IDS + 1)}))
    with pytest.raises(InvalidField, match=r"field 'ids\[1\]'"):
        decode_ack(pack({"ids": ["x", "y" * (MAX_ITEM_ID + 1)]}))
    with pytest.raises(InvalidField, match=r"field 'ids\[0\]'"):
        decode_ack(pack({"ids": [b"x"]}))
    with pytest.raises(LimitExceeded, match=f"over the limit of {MAX_ACK_BYTES} bytes"):
        decode_ack(b"\x80" * (MAX_ACK_BYTES + 1))
    with pytest.raises(InvalidField, match="field 'removed'"):
        decode_ack_answer(pack({"removed": -1}))


def test_the_fullest_ack_fits_its_byte_cap():
    """MAX_ACK_IDS ids of MAX_ITEM_ID characters are under MAX_ACK_BYTES."""
    assert len(encode_ack(["x" * MAX_ITEM_ID] * MAX_ACK_IDS)) <= MAX_ACK_BYTES


# -- notices --------------------------------------------------------------------------------


@SETTINGS
@given(ULIDS, CODES, st.sampled_from([NOTICE_EXPIRED, NOTICE_STATUS_EXPIRED]), st.data())
def test_a_notice_round_trips_and_is_refused_when_cut_or_mutated(item_id, recipient, event, data):
    """A notice names an envelope or a status by its key (§19.4), and decodes back."""
    raw = encode_notice(item_id, recipient, event)
    key = "envelope" if event == NOTICE_EXPIRED else "status"
    assert raw == msgpack_of({"event": event, key: item_id, "recipient": recipient})
    assert decode_notice(raw) == Notice(event, item_id, recipient)
    every_truncation_is_refused(decode_notice, raw, "relay notice")
    decoded_or_named(decode_notice, mutated(data, raw), "relay notice")


def test_bad_notices_are_refused_naming_the_field():
    """The key must match the event; an unknown event or field is refused."""
    ulid = new_ulid(NOW, lambda n: bytes(n))
    with pytest.raises(InvalidField, match="field 'status': missing"):
        decode_notice(pack({"event": NOTICE_STATUS_EXPIRED, "envelope": ulid, "recipient": B}))
    with pytest.raises(InvalidField, match="field 'event': 'read' is not one of"):
        decode_notice(pack({"event": "read", "envelope": ulid, "recipient": B}))
    with pytest.raises(InvalidField, match="field 'envelope': expected a 26-character ULID"):
        decode_notice(pack({"event": NOTICE_EXPIRED, "envelope": "x", "recipient": B}))
    with pytest.raises(LimitExceeded):
        decode_notice(b"\x80" * (MAX_NOTICE_BYTES + 1))


def test_a_notice_id_fits_an_item_id():
    """`expired:<ULID>:<code>` of the longest unit code is at most MAX_ITEM_ID characters."""
    ulid = new_ulid(NOW, lambda n: bytes(n))
    assert len(notice_id(ulid, "x" * MAX_UNIT_CODE)) <= MAX_ITEM_ID
