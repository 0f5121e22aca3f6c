"""The peer API's codecs (protocol/peer.py): the inbox batch and its answer round-trip with
the bytes of docs/PROTOCOL.md §17.1, and every truncation, mutation or wrong field is
refused with a protocol error that names the message and the field, never another exception."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lienthong.protocol.errors import InvalidField, LimitExceeded
from lienthong.protocol.peer import (
    MAX_BLOB_BYTES,
    MAX_ETAGS,
    MAX_INBOX_BYTES,
    MAX_INBOX_ITEMS,
    Batch,
    BatchAnswer,
    ItemAnswer,
    decode_batch,
    decode_batch_answer,
    directory_etag,
    encode_batch,
    encode_batch_answer,
    held_etags,
    parse_upload_number,
)
from lienthong.protocol.wire import pack
from tests.protocol.mutations import decoded_or_named, every_truncation_is_refused, mutated

SETTINGS = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
ITEMS = st.lists(st.binary(max_size=48), max_size=4)
BLOB_IDS = st.binary(min_size=32, max_size=32).map(bytes.hex)
ERROR_NAMES = st.sampled_from(
    ["DecodeError", "InvalidField", "BadSignature", "ClockSkew", "NotARecipient", "Expired"]
)
MESSAGES = st.text(max_size=80)


def refusals() -> st.SearchStrategy[ItemAnswer]:
    missing = st.builds(
        ItemAnswer.refused, st.just("MissingBlobs"), MESSAGES, st.lists(BLOB_IDS, max_size=3)
    )
    return st.builds(ItemAnswer.refused, ERROR_NAMES, MESSAGES) | missing


ENVELOPE_ANSWERS = st.lists(
    st.builds(ItemAnswer.taken, st.binary(max_size=48)) | refusals(), max_size=4
)
STATUS_ANSWERS = st.lists(st.just(ItemAnswer.applied()) | refusals(), max_size=4)


def decode_answer_for(envelopes: int, statuses: int):
    return lambda raw: decode_batch_answer(raw, envelopes=envelopes, statuses=statuses)


# -- the inbox request ----------------------------------------------------------------------


@SETTINGS
@given(ITEMS, ITEMS)
def test_a_batch_round_trips_as_the_documented_map(envelopes, statuses):
    """encode_batch is the map of §17.1, key order included, and decodes to the same items."""
    raw = encode_batch(envelopes, statuses)
    assert raw == msgpack.packb({"envelopes": envelopes, "statuses": statuses}, use_bin_type=True)
    assert decode_batch(raw) == Batch(envelopes, statuses)


@SETTINGS
@given(ITEMS, ITEMS)
def test_every_truncated_batch_is_refused(envelopes, statuses):
    """No proper prefix of a batch decodes; each is refused as DecodeError naming the request."""
    every_truncation_is_refused(decode_batch, encode_batch(envelopes, statuses), "inbox request")


@SETTINGS
@given(ITEMS, ITEMS, st.data())
def test_a_mutated_batch_decodes_or_is_refused_by_name(envelopes, statuses, data):
    """Flipped, cut or inserted bytes give a batch of binary items or a named refusal."""
    batch = decoded_or_named(
        decode_batch, mutated(data, encode_batch(envelopes, statuses)), "inbox request"
    )
    if batch is not None:
        assert all(type(item) is bytes for item in batch.envelopes + batch.statuses)
        assert len(batch.envelopes) + len(batch.statuses) <= MAX_INBOX_ITEMS


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["envelopes", "statuses", "to", "ok", "x"]), children, max_size=3
        )
    ),
    max_leaves=12,
)


@SETTINGS
@given(VALUES)
def test_any_msgpack_value_decodes_as_a_batch_only_if_it_is_one(value):
    """Arbitrary structures are refused field by field; what decodes is exactly a batch map."""
    batch = decoded_or_named(decode_batch, pack(value), "inbox request")
    if batch is not None:
        assert isinstance(value, dict) and set(value) <= {"envelopes", "statuses"}
        assert batch == Batch(value.get("envelopes", []), value.get("statuses", []))


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        ([b"x"], InvalidField, r"field '\(message\)': expected a map"),
        ({"envelopes": None}, InvalidField, "field 'envelopes': expected an array, got nil"),
        ({"statuses": b"x"}, InvalidField, "field 'statuses': expected an array"),
        ({"envelopes": [b"a", 1]}, InvalidField, r"field 'envelopes\[1\]': expected binary"),
        ({"statuses": ["text"]}, InvalidField, r"field 'statuses\[0\]': expected binary"),
        ({"envelopes": [], "extra": []}, InvalidField, "field \"'extra'\": unknown field"),
        ({"envelopes": [b"x"] * (MAX_INBOX_ITEMS + 1)}, LimitExceeded, "'envelopes': 501 items"),
        (
            {"envelopes": [b"x"] * 300, "statuses": [b"y"] * 201},
            LimitExceeded,
            "501 items is over the limit of 500",
        ),
    ],
)
def test_each_bad_batch_is_refused_naming_the_field(value, error, words):
    """A batch of the wrong shape is refused with the field and the fault named."""
    with pytest.raises(error, match=words):
        decode_batch(pack(value))


def test_either_key_may_be_absent():
    """An absent key is an empty list (§17.1)."""
    assert decode_batch(pack({})) == Batch([], [])
    assert decode_batch(pack({"statuses": [b"s"]})) == Batch([], [b"s"])


def test_an_oversized_batch_is_refused_before_parsing():
    """MAX_INBOX_BYTES + 1 bytes are refused by size, whatever they hold."""
    with pytest.raises(LimitExceeded, match=f"over the limit of {MAX_INBOX_BYTES} bytes"):
        decode_batch(b"\x80" * (MAX_INBOX_BYTES + 1))


# -- the inbox answer -----------------------------------------------------------------------


@SETTINGS
@given(ENVELOPE_ANSWERS, STATUS_ANSWERS)
def test_an_answer_round_trips_as_the_documented_maps(envelopes, statuses):
    """Each item answer is one of the four maps of §17.1, and the whole decodes back."""
    raw = encode_batch_answer(envelopes, statuses)
    assert decode_batch_answer(raw, envelopes=len(envelopes), statuses=len(statuses)) == (
        BatchAnswer(envelopes, statuses)
    )

    def documented(a: ItemAnswer) -> dict:
        if a.ok:
            return {"ok": True, "status": a.status} if a.status is not None else {"ok": True}
        refusal = {"ok": False, "error": a.error, "message": a.message}
        return refusal if a.missing is None else {**refusal, "missing": list(a.missing)}

    expected = {
        "envelopes": [documented(a) for a in envelopes],
        "statuses": [documented(a) for a in statuses],
    }
    assert raw == msgpack.packb(expected, use_bin_type=True)


@SETTINGS
@given(ENVELOPE_ANSWERS, STATUS_ANSWERS)
def test_every_truncated_answer_is_refused(envelopes, statuses):
    """No proper prefix of an answer decodes."""
    decode = decode_answer_for(len(envelopes), len(statuses))
    every_truncation_is_refused(decode, encode_batch_answer(envelopes, statuses), "inbox answer")


@SETTINGS
@given(ENVELOPE_ANSWERS, STATUS_ANSWERS, st.data())
def test_a_mutated_answer_decodes_or_is_refused_by_name(envelopes, statuses, data):
    """A mutated answer gives one answer per item sent, each well-formed, or a named refusal."""
    raw = mutated(data, encode_batch_answer(envelopes, statuses))
    answer = decoded_or_named(decode_answer_for(len(envelopes), len(statuses)), raw, "inbox answer")
    if answer is not None:
        assert (len(answer.envelopes), len(answer.statuses)) == (len(envelopes), len(statuses))
        assert all(a.status is not None for a in answer.envelopes if a.ok)
        assert all(a.status is None for a in answer.statuses)


TAKEN = {"ok": True, "status": b"01"}
REFUSED = {"ok": False, "error": "InvalidField", "message": "field 'to'"}


@pytest.mark.parametrize(
    ("value", "counts", "words"),
    [
        (
            {"envelopes": [TAKEN], "statuses": []},
            (2, 0),
            "field 'envelopes': 1 answers for 2 items",
        ),
        ({"envelopes": [], "statuses": []}, (0, 1), "field 'statuses': 0 answers for 1 items"),
        ({"envelopes": []}, (0, 0), "field 'statuses': missing"),
        ({"envelopes": [{"ok": True}], "statuses": []}, (1, 0), "field 'status': missing"),
        (
            {"envelopes": [], "statuses": [TAKEN]},
            (0, 1),
            "statuses\\[0\\]: field \"'status'\": unknown",
        ),
        ({"envelopes": [{"ok": 1}], "statuses": []}, (1, 0), "field 'ok': expected a boolean"),
        (
            {"envelopes": [{**REFUSED, "error": "no such; name"}], "statuses": []},
            (1, 0),
            "field 'error': 'no such; name' is not an error name",
        ),
        (
            {"envelopes": [{**REFUSED, "error": "MissingBlobs"}], "statuses": []},
            (1, 0),
            "field 'missing': missing",
        ),
        (
            {
                "envelopes": [{**REFUSED, "error": "MissingBlobs", "missing": ["AB"]}],
                "statuses": [],
            },
            (1, 0),
            r"field 'missing\[0\]': expected 64 lowercase hex digits",
        ),
        ({"envelopes": [{**REFUSED, "missing": []}], "statuses": []}, (1, 0), "unknown field"),
        ({"envelopes": [{**REFUSED, "message": None}], "statuses": []}, (1, 0), "field 'message'"),
    ],
)
def test_each_bad_answer_is_refused_naming_the_field(value, counts, words):
    """An answer of the wrong shape or count is refused with the item and field named."""
    envelopes, statuses = counts
    with pytest.raises(InvalidField, match=words):
        decode_batch_answer(pack(value), envelopes=envelopes, statuses=statuses)


def test_a_refusal_is_described_as_the_sender_keeps_it():
    """`<ErrorName>: <message>`, the message cut to 300 characters."""
    assert ItemAnswer.refused("ClockSkew", "x" * 400).describe() == "ClockSkew: " + "x" * 300


# -- headers --------------------------------------------------------------------------------


@SETTINGS
@given(st.integers(0, 10**19 - 1))
def test_an_upload_number_round_trips(number):
    """Every byte count of at most 19 digits is read back from its decimal text."""
    assert parse_upload_number(str(number)) == number


@SETTINGS
@given(st.text(max_size=24))
def test_an_upload_number_is_ascii_digits_or_nothing(text):
    """Anything but 1-19 ASCII digits is no number (int() would take "1_0", " 7", "٣")."""
    number = parse_upload_number(text)
    ascii_digits = 1 <= len(text) <= 19 and all("0" <= c <= "9" for c in text)
    assert (number is not None) == ascii_digits
    for text in ("1_0", " 7", "٣", "+1", "-1", "0x10", "1" * 20):
        assert parse_upload_number(text) is None


def test_the_largest_blob_is_the_ciphertext_of_the_largest_attachment():
    """68,737,302,569 bytes, as §17.2 says."""
    assert MAX_BLOB_BYTES == 68_737_302_569


@SETTINGS
@given(st.integers(1, 2**53), st.integers(0, 2 * MAX_ETAGS), st.integers(0, 4), st.booleans())
def test_a_held_directory_is_found_among_the_first_etags(version, before, after, weak):
    """`"v<n>"` is found in If-None-Match, weak or not, among the first MAX_ETAGS tags only."""
    assert directory_etag(version) == f'"v{version}"'
    others = [directory_etag(version + 1 + i) for i in range(before + after)]
    tag = ("W/" if weak else "") + directory_etag(version)
    header = ",  ".join([*others[:before], tag, *others[before:]])
    assert (directory_etag(version) in held_etags(header)) == (before < MAX_ETAGS)
    assert len(held_etags(header)) <= MAX_ETAGS
