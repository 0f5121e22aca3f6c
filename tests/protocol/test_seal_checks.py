"""Sealing's own checks and randomness: the C checks that build nothing say yes only where
the strict readers accept, and an envelope sealed with the operating system's randomness
(one draw, libsodium's sealed boxes) opens for every recipient and repeats nothing."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings

from lienthong.crypto import sealing
from lienthong.crypto.errors import InvalidKeyError
from lienthong.protocol import envelope as env
from lienthong.protocol.document import (
    _fast_body,
    body_bytes_pass,
    body_from_wire,
    body_to_wire,
)
from lienthong.protocol.errors import InvalidField
from lienthong.protocol.wire import pack, unpack
from tests.protocol.fixtures import NOW, A, B, C, keys, letter_2340
from tests.protocol.test_typed import ATTACHED, _mutate, _mutations, _outcome

MB = 1 << 20


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_the_body_check_at_sealing_says_yes_only_where_the_reader_accepts(mutation):
    """body_bytes_pass answers as _fast_body does (which the reader's own tests hold to the
    strict reader): yes only for bytes the strict reader accepts."""
    data = pack(_mutate(body_to_wire(ATTACHED), *mutation))
    strict = _outcome(lambda d: body_from_wire(unpack(d, what="document body", max_bytes=MB)), data)
    passes = body_bytes_pass(data, MB)
    assert passes == (_fast_body(data) is not None)
    if passes:
        assert not isinstance(strict, tuple), strict


def _header() -> dict:
    return env._header_map(2, env.new_ulid(NOW), "new", A, 1, [B, C], NOW, None, [], [])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_the_header_check_at_sealing_says_yes_only_where_the_reader_accepts(mutation):
    """_header_passes says yes only for a header map _check_header accepts."""
    header = _mutate(_header(), *mutation)
    strict = _outcome(lambda h: env._check_header(h, 2), header)
    if env._header_passes(header):
        assert not isinstance(strict, tuple), strict


def test_a_header_the_reader_refuses_is_refused_at_sealing_by_name():
    """A recipient listed twice fails the fast check, then the strict one names it; a seal
    to a code without the wire shape is refused by the strict check's own message."""
    header = _header()
    header["recipients"] = [B, B]
    assert not env._header_passes(header)
    with pytest.raises(InvalidField, match="a unit is listed twice"):
        env._check_header(header, 2)
    with pytest.raises(InvalidField, match=r"recipients\[1\]"):
        env.seal_envelope(
            keys=keys(A),
            sender=A,
            serial=1,
            recipients={B: keys(B).enc_public, "not a code": keys(C).enc_public},
            body=letter_2340(),
            created=NOW,
        )


def _seal_os(body=None) -> bytes:
    return env.seal_envelope(
        keys=keys(A),
        sender=A,
        serial=1,
        recipients={B: keys(B).enc_public, C: keys(C).enc_public},
        body=body or letter_2340(),
        created=NOW,
    )


def test_an_envelope_sealed_with_os_randomness_opens_for_each_recipient():
    """With the default randomness (one os.urandom call split, crypto_box_seal for the keys)
    every recipient opens the same document, and two seals share no random value: not the
    id, the nonce, the ciphertext nor any sealed key's ephemeral part."""
    first, second = _seal_os(), _seal_os()
    opened = []
    for raw in (first, second):
        envelope = env.verify_envelope(raw, lambda code, serial: keys(A).sign_public)
        for code in (B, C):
            opened.append(env.open_envelope(envelope, code, keys(code)))
        opened.append(envelope)
    one, two = opened[2], opened[5]
    assert opened[0] == opened[1] == opened[3] == opened[4] == letter_2340()
    assert one.header.id != two.header.id
    assert one.nonce != two.nonce
    assert one.ciphertext != two.ciphertext
    ephemeral = [k[:32] for k in one.sealed_keys + two.sealed_keys]
    assert len(set(ephemeral)) == 4
    assert all(len(k) == env.SEALED_KEY_BYTES for k in one.sealed_keys)


def test_a_reason_missing_is_refused_at_sealing_on_the_fast_path():
    """An update whose body passes the C check still needs its reason: refused by name."""
    body = letter_2340()
    with pytest.raises(InvalidField, match="says why"):
        env.seal_envelope(
            keys=keys(A),
            sender=A,
            serial=1,
            recipients={B: keys(B).enc_public},
            body=dataclasses.replace(body, business=dataclasses.replace(body.business, reason="")),
            created=NOW,
            business="update",
            targets=(env.new_ulid(NOW - 1),),
        )


def test_libsodium_sealed_box_and_the_seeded_one_open_alike():
    """A key sealed by crypto_box_seal (no seed) and one sealed from a seed both open with
    unseal; a low-order recipient key is refused on both paths."""
    k = keys(B)
    content = bytes(range(32))
    assert sealing.unseal(k.encryption, sealing.seal(k.enc_public, content)) == content
    seeded = sealing.seal(k.enc_public, content, ephemeral_seed=b"\x07" * 32)
    assert sealing.unseal(k.encryption, seeded) == content
    for seed in (None, b"\x07" * 32):
        with pytest.raises(InvalidKeyError, match="not a usable X25519 key"):
            sealing.seal(b"\x00" * 32, content, ephemeral_seed=seed)
