"""Coverage-guided fuzzing (atheris, libFuzzer) of protocol.wire.unpack and every decoder of
untrusted bytes; run by hand, not collected by pytest.

The first byte of each input picks a target, the rest is its input. Odd targets sign the
input first with the key the decoder trusts, so libFuzzer explores the field checks behind
the signature (envelope header, status, certificate, directory), which random bytes never
reach. Any exception other than LienthongError is a finding: libFuzzer stops and writes
the input to crash-<sha1>.

    .venv/bin/pip install atheris              # not a project dependency
    .venv/bin/python -m tests.fuzz.fuzz_wire --write-seeds fuzz-corpus
    .venv/bin/python -m tests.fuzz.fuzz_wire fuzz-corpus -max_total_time=600
    .venv/bin/python -m tests.fuzz.fuzz_wire crash-<sha1>     # replay one finding

Options after the corpus directory are libFuzzer's (-runs=N, -max_len=N, -jobs=N, ...).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp.web  # noqa: F401 - imported before instrumenting: coverage of ours only
import atheris
import msgpack  # noqa: F401

with atheris.instrument_imports(include=["protocol", "crypto", "node", "storage", "tests"]):
    from lienthong.crypto import signing
    from lienthong.crypto.errors import LienthongError
    from lienthong.protocol import wire
    from lienthong.protocol.certificate import (
        CENTRE_SIGNER,
        issue_certificate,
        verify_certificate,
        verify_registration,
    )
    from lienthong.protocol.codes import StatusCode
    from lienthong.protocol.directory import issue_directory, verify_directory
    from lienthong.protocol.document import body_from_wire, body_to_wire
    from lienthong.protocol.envelope import open_envelope, seal_envelope, verify_envelope
    from lienthong.protocol.limits import MAX_ENVELOPE_BYTES
    from lienthong.protocol.peer import (
        ItemAnswer,
        decode_batch,
        decode_batch_answer,
        encode_batch_answer,
    )
    from lienthong.protocol.relay import (
        NOTICE_STATUS_EXPIRED,
        PulledItem,
        decode_ack,
        decode_deposit,
        decode_deposit_answer,
        decode_notice,
        decode_pull_answer,
        encode_deposit_answer,
        encode_notice,
        encode_pull_answer,
    )
    from lienthong.protocol.status import make_status, verify_status
    from tests.protocol.fixtures import NOW, A, B, C, counter_random, keys, letter_2340

ROOT = keys("root")
CERTIFICATE, DIRECTORY = signing.CERTIFICATE, signing.DIRECTORY
SIGNER_A = wire.unit_signer(A, 1)


def lookup(code: str, serial: int) -> bytes:
    return keys(code).sign_public


def signed_by(key, domain: str, hint: str) -> Callable[[bytes], bytes]:
    """Wrap fuzzed bytes as the signed part of a message, with a valid signature."""
    return lambda data: wire.wrap(data, signing.sign(key.signing, domain, data), hint)


def _envelope(raw: bytes) -> None:
    open_envelope(verify_envelope(raw, lookup), B, keys(B))


def _body(data: bytes) -> None:
    body_from_wire(wire.unpack(data, what="document body", max_bytes=MAX_ENVELOPE_BYTES))


# (decoder, how the fuzzed bytes become its input): the index is the input's first byte.
TARGETS: list[tuple[Callable[[bytes], object], Callable[[bytes], bytes]]] = [
    (lambda d: wire.unpack(d, what="fuzz", max_bytes=1 << 20), bytes),
    (_envelope, signed_by(keys(A), signing.ENVELOPE, SIGNER_A)),
    (_envelope, bytes),
    (lambda d: verify_status(d, lookup), signed_by(keys(A), signing.STATUS, SIGNER_A)),
    (lambda d: verify_status(d, lookup), bytes),
    (
        lambda d: verify_certificate(d, ROOT.sign_public),
        signed_by(ROOT, CERTIFICATE, CENTRE_SIGNER),
    ),
    (lambda d: verify_directory(d, ROOT.sign_public, now=NOW), bytes),
    (
        lambda d: verify_directory(d, ROOT.sign_public, now=NOW),
        signed_by(ROOT, DIRECTORY, CENTRE_SIGNER),
    ),
    (verify_registration, bytes),
    (_body, bytes),
    (decode_batch, bytes),
    (decode_deposit, bytes),
    (decode_ack, bytes),
    (decode_notice, bytes),
    (lambda d: decode_batch_answer(d, envelopes=1, statuses=1), bytes),
    (lambda d: decode_deposit_answer(d, items=1), bytes),
    (decode_pull_answer, bytes),
]


def test_one_input(data: bytes) -> None:
    if not data:
        return
    decode, prepare = TARGETS[data[0] % len(TARGETS)]
    with contextlib.suppress(LienthongError):
        decode(prepare(data[1:]))


def seeds() -> dict[str, bytes]:
    """Valid inputs for each target, to start from (the selector byte first)."""

    def signed(raw: bytes) -> bytes:
        return wire.unwrap(raw, what="seed", max_bytes=1 << 20).signed

    envelope = seal_envelope(
        keys=keys(A),
        sender=A,
        serial=1,
        recipients={r: keys(r).enc_public for r in (B, C)},
        body=letter_2340(),
        created=NOW,
        random=counter_random(),
    )
    status = make_status(
        keys(A),
        sender=A,
        serial=1,
        to=B,
        envelope="01ARZ3NDEKTSV4RRFFQ69G5FAV",
        code=StatusCode.ARRIVED,
        at=NOW,
        receipt=bytes(32),
        random=counter_random(),
    )
    certificate = issue_certificate(
        ROOT,
        serial=1,
        code=A,
        name="Văn phòng UBND tỉnh",
        sign_key=keys(A).sign_public,
        enc_key=keys(A).enc_public,
        tls_sha256=bytes(32),
        endpoints=["https://127.0.0.1:7443"],
        reachable=True,
        not_before=0,
        not_after=2 * NOW,
    )
    directory = issue_directory(
        ROOT,
        version=1,
        issued_at=NOW,
        expires_at=2 * NOW,
        centre_name="Trung tâm",
        centre_url="https://127.0.0.1:7443",
        certificates=[certificate],
        revoked=[7],
        relays=["https://127.0.0.1:7443/v1/relay"],
    )
    return {
        "unpack": bytes([0]) + envelope,
        "envelope-signed": bytes([1]) + signed(envelope),
        "envelope": bytes([2]) + envelope,
        "status-signed": bytes([3]) + signed(status),
        "status": bytes([4]) + status,
        "certificate-signed": bytes([5]) + signed(certificate),
        "directory": bytes([6]) + directory,
        "directory-signed": bytes([7]) + signed(directory),
        "body": bytes([9]) + wire.pack(body_to_wire(letter_2340())),
        "batch": bytes([10]) + wire.pack({"envelopes": [envelope], "statuses": [status]}),
        "deposit": bytes([11]) + wire.pack({"to": B, "envelopes": [envelope], "statuses": []}),
        "ack": bytes([12]) + wire.pack({"ids": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]}),
        "notice": bytes([13])
        + encode_notice("01ARZ3NDEKTSV4RRFFQ69G5FAV", B, NOTICE_STATUS_EXPIRED),
        "batch-answer": bytes([14])
        + encode_batch_answer(
            [ItemAnswer.taken(status)], [ItemAnswer.refused("InvalidField", "field 'to'")]
        ),
        "deposit-answer": bytes([15]) + encode_deposit_answer([False], ["UnknownMailbox: x"]),
        "pull-answer": bytes([16])
        + encode_pull_answer([PulledItem("01ARZ3NDEKTSV4RRFFQ69G5FAV", "envelope", envelope)]),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--write-seeds":
        corpus = Path(sys.argv[2])
        corpus.mkdir(parents=True, exist_ok=True)
        for name, data in seeds().items():
            (corpus / name).write_bytes(data)
        print(f"wrote {len(seeds())} seeds to {corpus}")
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
