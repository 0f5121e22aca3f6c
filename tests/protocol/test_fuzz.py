"""Property tests: no input to a decoder produces anything but lienthong's own errors."""

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lienthong.crypto import signing
from lienthong.crypto.errors import LienthongError
from lienthong.protocol import wire
from lienthong.protocol.certificate import verify_certificate, verify_registration
from lienthong.protocol.directory import verify_directory
from lienthong.protocol.envelope import open_envelope, verify_envelope
from lienthong.protocol.status import verify_status
from tests.protocol.fixtures import A, B, counter_random, keys, letter_2340
from tests.protocol.test_envelope import sealed

VALID = sealed()


def lookup(code, serial):
    return keys(code).sign_public


def decode_all(data: bytes) -> None:
    for decode in (
        lambda d: open_envelope(verify_envelope(d, lookup), B, keys(B)),
        lambda d: verify_status(d, lookup),
        lambda d: verify_certificate(d, keys("root").sign_public),
        lambda d: verify_directory(d, keys("root").sign_public, now=0),
        verify_registration,
    ):
        with contextlib.suppress(LienthongError):
            decode(data)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes(data):
    """Random bytes raise only LienthongError subclasses from every decoder."""
    decode_all(data)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_valid_envelope(data):
    """A valid envelope with bytes flipped, cut or inserted raises only our own errors."""
    raw = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del raw[pos : pos + data.draw(st.integers(1, 64))]
        else:
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
    decode_all(bytes(raw))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**64 - 1)
        | st.text(max_size=20)
        | st.binary(max_size=40),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "v",
                        "kind",
                        "header",
                        "body",
                        "id",
                        "signed",
                        "sig",
                        "signer",
                        "keys",
                        "recipients",
                    ]
                ),
                children,
                max_size=6,
            )
        ),
        max_leaves=30,
    )
)
def test_structured_garbage_inside_a_valid_signature(value):
    """Well-signed but arbitrary structures are refused field by field, never crash."""

    signed = wire.pack(value)
    raw = wire.wrap(signed, signing.sign(keys(A).signing, signing.ENVELOPE, signed), f"{A}:1")
    decode_all(raw)


def test_fixture_is_valid():
    """The seed of the mutation test is itself a valid envelope."""
    assert open_envelope(verify_envelope(VALID, lookup), B, keys(B)).metadata.number == "2340"
    assert letter_2340().metadata.number == "2340" and counter_random()(3)
