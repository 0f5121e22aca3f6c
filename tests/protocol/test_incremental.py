"""A body decoded as its bytes arrive (protocol/incremental.py) decodes to what the whole body
decodes to, however it is cut into pieces, refuses what wire.unpack refuses with the same
named errors, and refuses an item over its limit before holding it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lienthong.protocol.errors import DecodeError, LimitExceeded, ProtocolError
from lienthong.protocol.incremental import FEED_PIECE
from lienthong.protocol.peer import MAX_ITEM_BYTES, batch_decoder, encode_batch
from lienthong.protocol.relay import deposit_decoder, encode_deposit
from lienthong.protocol.wire import pack
from tests.protocol.mutations import mutated

SETTINGS = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
ITEMS = st.lists(st.binary(max_size=600), max_size=5)


def in_pieces(decoder, raw: bytes, cuts: list[int]):
    """Feed `raw` cut at `cuts`, then finish: the value, or the protocol error raised."""
    try:
        start = 0
        for cut in sorted(cuts):
            decoder.feed(raw[start:cut])
            start = cut
        decoder.feed(raw[start:])
        return decoder.finish()
    except ProtocolError as exc:
        return type(exc), str(exc).split(":")[0]


def whole(decoder, raw: bytes):
    try:
        return decoder.decode(raw)
    except ProtocolError as exc:
        return type(exc), str(exc).split(":")[0]


@SETTINGS
@given(ITEMS, ITEMS, st.data())
def test_any_cutting_of_a_batch_decodes_as_the_whole_does(envelopes, statuses, data):
    """A batch, valid or mutated, fed in any pieces gives the same batch or the same kind
    of refusal as the whole body at once."""
    raw = encode_batch(envelopes, statuses)
    if data.draw(st.booleans(), label="mutate"):
        raw = mutated(data, raw)
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=6), label="cuts")
    assert in_pieces(batch_decoder(), raw, cuts) == whole(batch_decoder(), raw)


@SETTINGS
@given(ITEMS, st.data())
def test_any_cutting_of_a_deposit_decodes_as_the_whole_does(envelopes, data):
    raw = encode_deposit("000.00.03.H53", envelopes, [])
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=6), label="cuts")
    assert in_pieces(deposit_decoder(), raw, cuts) == whole(deposit_decoder(), raw)


@pytest.mark.parametrize("size", [MAX_ITEM_BYTES + 1, 2 * MAX_ITEM_BYTES, 60 * MAX_ITEM_BYTES])
def test_an_item_over_the_limit_is_refused_before_the_decoder_holds_it(size):
    """An item one byte over MAX_ITEM_BYTES, or many times it, is refused before more of it
    than MAX_ITEM_BYTES and a piece (FEED_PIECE) has been fed: the decoder never buffers
    a large item, nor the body a second time."""
    raw = pack({"envelopes": [b"x" * size]})
    decoder = batch_decoder()
    fed = 0
    with pytest.raises(LimitExceeded, match=f"an item is over the limit of {MAX_ITEM_BYTES}"):
        while fed < len(raw):
            decoder.feed(raw[fed : fed + 64 * 1024])
            fed += 64 * 1024
        decoder.finish()
    assert fed <= MAX_ITEM_BYTES + 2 * FEED_PIECE


def test_an_item_at_the_limit_is_taken():
    (item,) = batch_decoder().decode(pack({"envelopes": [b"x" * MAX_ITEM_BYTES]})).envelopes
    assert len(item) == MAX_ITEM_BYTES


@pytest.mark.parametrize(
    ("raw", "error", "words"),
    [
        (b"", DecodeError, "no bytes"),
        (pack({"envelopes": []})[:-1], DecodeError, "truncated msgpack"),
        (pack({"envelopes": []}) + b"\x00\x00", DecodeError, "2 trailing bytes"),
        (b"\x82\xa1a\x90\xa1a\x90", DecodeError, "a map repeats a key"),
        (b"\xc1", DecodeError, "malformed msgpack"),
        (b"\xd4\x01\x00", DecodeError, "malformed msgpack"),  # an ext
    ],
)
def test_each_broken_body_is_refused_by_name(raw, error, words):
    """The refusals of wire.unpack, with the same words, from a body fed in one-byte pieces."""
    decoder = batch_decoder()
    with pytest.raises(error, match=words):
        for i in range(len(raw)):
            decoder.feed(raw[i : i + 1])
        decoder.finish()


def test_more_bytes_than_the_body_limit_are_refused_as_they_arrive():
    decoder = batch_decoder()
    decoder.feed(b"\x80")
    with pytest.raises(LimitExceeded, match="over the limit of"):
        decoder.feed(b"\x00" * decoder.max_bytes)
