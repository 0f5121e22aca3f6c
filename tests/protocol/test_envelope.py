"""Envelopes: seal, verify the exact bytes, open; and every way a bad one is refused."""

import dataclasses
import hashlib
import re

import pytest

from lienthong.crypto import signing
from lienthong.crypto.stream import ciphertext_size
from lienthong.protocol import wire
from lienthong.protocol.document import (
    MAX_NAME_SPACE_RUN,
    Attachment,
    Business,
    body_from_wire,
    body_to_wire,
)
from lienthong.protocol.envelope import (
    VerifiedEnvelope,
    open_envelope,
    seal_envelope,
    verify_envelope,
)
from lienthong.protocol.errors import (
    BadSignature,
    DecodeError,
    InvalidField,
    LimitExceeded,
    NotARecipient,
    SignerMismatch,
    UnknownKind,
    UnknownSigner,
    UnknownVersion,
)
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.limits import MAX_ENVELOPE_BYTES
from tests.protocol.fixtures import NOW, A, B, C, counter_random, keys, letter_2340
from tests.protocol.forge import body_map, forge_envelope, header

# Envelopes an update or a replacement names (sent earlier by A).
OLD = new_ulid(NOW - 2000, counter_random("old"))
OLDER = new_ulid(NOW - 4000, counter_random("older"))
ENVELOPE_ID = new_ulid(NOW, counter_random("forged"))


def lookup_for(*names: str):
    table = {(n, 1): keys(n).sign_public for n in names}

    def lookup(code: str, serial: int) -> bytes:
        try:
            return table[(code, serial)]
        except KeyError:
            raise UnknownSigner(f"no certificate {serial} of {code}") from None

    return lookup


def sealed(body=None, recipients=(B, C), business_reason: str | None = None, **kw) -> bytes:
    """A's envelope of `body` (letter 2340) to `recipients`; `business_reason` goes into the
    body's business part (the reason of an update or replacement)."""
    body = body or letter_2340()
    if business_reason is not None:
        body = dataclasses.replace(body, business=Business(reason=business_reason))
    return seal_envelope(
        keys=keys(A),
        sender=A,
        serial=1,
        recipients={r: keys(r).enc_public for r in recipients},
        body=body,
        created=NOW,
        random=counter_random(),
        **kw,
    )


def resign(
    signed_map: dict, signer: str = f"{A}:1", domain: str = signing.ENVELOPE, who=A
) -> bytes:
    signed = wire.pack(signed_map)
    return wire.wrap(signed, signing.sign(keys(who).signing, domain, signed), signer)


def inner(raw: bytes) -> dict:
    return wire.unpack(
        wire.unwrap(raw, what="t", max_bytes=10**7).signed, what="t", max_bytes=10**7
    )


def test_round_trip_every_recipient_reads_the_letter():
    """Each recipient verifies the sender and decrypts the same metadata."""
    raw = sealed()
    env = verify_envelope(raw, lookup_for(A))
    assert env.header.sender == A and env.header.recipients == (B, C)
    assert env.sha256 == hashlib.sha256(raw).digest()
    for unit in (B, C):
        body = open_envelope(env, unit, keys(unit))
        assert body.metadata.number_notation == "2340/VP-TTTH"
        assert body.metadata.signer.authority == "KT."


def test_sealing_is_reproducible_with_fixed_randomness():
    """Same keys, time and random source give the same bytes (the basis of test vectors)."""
    assert sealed() == sealed()


def test_attachment_manifest_round_trips_and_header_lists_the_blobs():
    """The header lists blob ids and ciphertext sizes so a relay can carry them unread."""
    att = Attachment(
        name="danh-sach.pdf",
        media_type="application/pdf",
        size=100_000,
        sha256=bytes(32),
        blob="ab" * 32,
        key=bytes(range(32)),
    )
    env = verify_envelope(sealed(letter_2340((att,))), lookup_for(A))
    assert env.header.blobs[0].id == "ab" * 32
    assert env.header.blobs[0].size == ciphertext_size(100_000)
    assert open_envelope(env, B, keys(B)).attachments == (att,)


@pytest.mark.parametrize(
    "name", ["bao-cao\u202efdp.exe", "a\nb.pdf", "zero\u200bwidth.pdf", "nul\x00.pdf", "../x"]
)
def test_an_attachment_name_that_hides_what_it_is_is_refused_at_sealing(name):
    """Direction overrides, control and zero-width characters, and paths never reach a clerk."""
    att = Attachment(
        name=name,
        media_type="application/pdf",
        size=1,
        sha256=bytes(32),
        blob="ab" * 32,
        key=bytes(range(32)),
    )
    with pytest.raises(InvalidField, match=r"attachment 0.*name"):
        sealed(letter_2340((att,)))


PADDED_NAMES = [
    "hop-dong.pdf" + " " * 120 + ".exe",  # the probe's: a PDF in any narrow column
    "hop-dong.pdf\u00a0\u00a0\u00a0\u00a0.exe",  # no-break spaces count as spaces
    "hop-dong.pdf    x.exe",  # more than MAX_NAME_SPACE_RUN in a row anywhere
    "hop-dong .exe",  # a space right before the extension
    "hop-dong.pdf.",  # Windows drops a final dot: the extension changes
    "hop-dong.pdf ",  # ... and a final space
    " hop-dong.pdf",
]


@pytest.mark.parametrize("name", PADDED_NAMES)
def test_an_attachment_name_padded_with_spaces_or_dots_is_refused_at_sealing_and_receipt(name):
    """Spaces that push the real extension out of sight, a space before the extension, a
    name ending in a dot or a space: refused when sealing and when a received body is read,
    naming the field and why; up to MAX_NAME_SPACE_RUN spaces inside a name are fine."""
    att = Attachment(
        name=name,
        media_type="application/pdf",
        size=1,
        sha256=bytes(32),
        blob="ab" * 32,
        key=bytes(range(32)),
    )
    with pytest.raises(InvalidField, match=r"attachment 0.*name"):
        sealed(letter_2340((att,)))
    fine = dataclasses.replace(att, name="Báo cáo" + " " * MAX_NAME_SPACE_RUN + "quý 3.pdf")
    wire_map = body_to_wire(letter_2340((fine,)))
    assert body_from_wire(wire_map).attachments[0].name == fine.name
    wire_map["attachments"][0]["name"] = name
    with pytest.raises(InvalidField, match=r"attachment 0.*name") as refused:
        body_from_wire(wire_map)
    assert any(word in str(refused.value) for word in ("space", "dot"))


def test_a_unit_not_addressed_cannot_open():
    """A unit outside the recipient list gets NotARecipient, naming itself."""
    env = verify_envelope(sealed(), lookup_for(A))
    with pytest.raises(NotARecipient, match=re.escape("000.00.09.H53")):
        open_envelope(env, "000.00.09.H53", keys("000.00.09.H53"))


def test_wrong_private_key_cannot_decrypt():
    """A recipient code paired with someone else's key fails to decrypt, clearly."""
    env = verify_envelope(sealed(), lookup_for(A))
    with pytest.raises(DecodeError, match="cannot decrypt"):
        open_envelope(env, B, keys(C))


def test_signature_by_another_key_is_refused():
    """An envelope claiming sender A but signed by C's key does not verify."""
    raw = resign(inner(sealed()), who=C)
    with pytest.raises(BadSignature, match=A):
        verify_envelope(raw, lookup_for(A))


def test_signature_in_another_domain_is_refused():
    """The same bytes signed in the status domain are not a valid envelope signature."""
    raw = resign(inner(sealed()), domain=signing.STATUS)
    with pytest.raises(BadSignature):
        verify_envelope(raw, lookup_for(A))


def test_any_flipped_bit_in_signed_bytes_is_refused():
    """Changing one byte of the signed bytes breaks the signature."""
    w = wire.unwrap(sealed(), what="t", max_bytes=10**7)
    signed = bytearray(w.signed)
    signed[-5] ^= 1
    with pytest.raises(BadSignature):
        verify_envelope(wire.wrap(bytes(signed), w.sig, w.signer), lookup_for(A))


def test_signer_hint_must_match_the_header():
    """B signs an envelope whose header names A: the mismatch is refused."""
    m = inner(sealed())
    raw = resign(m, signer=f"{B}:1", who=B)
    with pytest.raises(SignerMismatch, match=B):
        verify_envelope(raw, lookup_for(A, B))


def test_unknown_signer_is_refused():
    """No certificate for the claimed sender: UnknownSigner from the lookup."""
    with pytest.raises(UnknownSigner):
        verify_envelope(sealed(), lookup_for(B))


def test_unknown_version_and_kind_are_refused():
    """v=3 (or 0, 2.0, "2", true) or a status kind in an envelope is refused with a message
    naming it."""
    m = inner(sealed())
    with pytest.raises(UnknownVersion, match="3"):
        verify_envelope(resign({**m, "v": 3}), lookup_for(A))
    for v in (0, 2.0, "2", True):
        with pytest.raises(UnknownVersion, match=re.escape(repr(v))):
            verify_envelope(resign({**m, "v": v}), lookup_for(A))
    with pytest.raises(UnknownKind, match="status"):
        verify_envelope(resign({**m, "kind": "status"}), lookup_for(A))


def test_unknown_and_missing_fields_are_refused():
    """The header is strict: an extra field or a missing one names the field."""
    m = inner(sealed())
    with pytest.raises(InvalidField, match="'extra'"):
        verify_envelope(resign({**m, "header": {**m["header"], "extra": 1}}), lookup_for(A))
    header = dict(m["header"])
    del header["created"]
    with pytest.raises(InvalidField, match="'created': missing"):
        verify_envelope(resign({**m, "header": header}), lookup_for(A))


def test_wrongly_typed_fields_are_refused():
    """A recipient that is not a unit code, or a string serial, names the field."""
    m = inner(sealed())
    bad = {**m, "header": {**m["header"], "recipients": [B, "../etc"]}}
    with pytest.raises(InvalidField, match=r"recipients\[1\]"):
        verify_envelope(resign(bad), lookup_for(A))
    bad = {**m, "header": {**m["header"], "serial": "1"}}
    with pytest.raises(InvalidField, match="'serial'"):
        verify_envelope(resign(bad), lookup_for(A))


def test_duplicate_recipients_are_refused():
    """A unit listed twice would be registered twice: refused."""
    m = inner(sealed())
    keys_ = m["body"]["keys"]
    bad = {
        **m,
        "header": {**m["header"], "recipients": [B, B]},
        "body": {**m["body"], "keys": keys_},
    }
    with pytest.raises(InvalidField, match="twice"):
        verify_envelope(resign(bad), lookup_for(A))


@pytest.mark.parametrize("version", [1, 2])
def test_update_needs_a_target(version):
    """An update without the document it changes is refused at sealing, in either version."""
    with pytest.raises(InvalidField, match="target"):
        sealed(business="update", business_reason="x", version=version)


@pytest.mark.parametrize(
    ("business", "targets", "why"),
    [
        ("replace", (), "names the documents it replaces"),
        ("update", (OLD, OLDER), "exactly one target"),
        ("replace", (OLD, OLD), "named twice"),
        ("new", (OLD,), "names no target"),
    ],
)
def test_the_targets_fit_the_business(business, targets, why):
    """A replacement names one or more documents, each once; an update exactly one; a new
    document none: anything else is refused at sealing, naming `targets`."""
    with pytest.raises(InvalidField, match=why) as refused:
        sealed(business=business, targets=targets, business_reason="Thay thế")
    assert refused.value.field == "targets"


def test_a_replacement_names_every_document_it_replaces():
    """A version-2 replacement carries two targets in its header, in the order given."""
    env = verify_envelope(
        sealed(business="replace", targets=(OLD, OLDER), business_reason="Thay thế"), lookup_for(A)
    )
    assert env.header.targets == (OLD, OLDER) and env.header.target == OLD
    assert inner(env.raw)["header"]["targets"] == [OLD, OLDER]


@pytest.mark.parametrize("business", ["update", "replace"])
def test_an_update_or_replacement_of_version_2_says_why(business):
    """Version 2 refuses an update or replacement without business.reason at sealing (and
    on receipt, tests/vectors 'update-without-reason'); version 1 could not say it."""
    with pytest.raises(InvalidField, match="says why") as refused:
        sealed(business=business, targets=(OLD,))
    assert refused.value.field == "business.reason"
    with pytest.raises(InvalidField, match="says why"):
        sealed(business=business, targets=(OLD,), business_reason="")
    assert verify_envelope(sealed(business=business, targets=(OLD,), version=1), lookup_for(A))


def test_version_1_is_written_for_version_1_readers():
    """seal_envelope(version=1) writes v 1, a header with one `target`, and a body without
    `v` whose number is an integer; opening it gives the number with two digits below 10."""
    letter = letter_2340()
    five = dataclasses.replace(letter, metadata=dataclasses.replace(letter.metadata, number="05"))
    raw = sealed(five, business="update", targets=(OLD,), version=1)
    m = inner(raw)
    assert m["v"] == 1 and m["header"]["target"] == OLD and "targets" not in m["header"]
    env = verify_envelope(raw, lookup_for(A))
    assert env.header.version == 1 and env.header.targets == (OLD,)
    body = open_envelope(env, B, keys(B))
    assert body.metadata.number == "05"
    assert body.metadata.signer.acts_for == ""  # version 1 has no place for it
    assert body_to_wire(body, 1)["metadata"]["number"] == 5


def test_version_1_names_one_target_at_most():
    """A replacement of two documents cannot be written in version 1."""
    with pytest.raises(InvalidField, match="one target at most"):
        sealed(business="replace", targets=(OLD, OLDER), version=1)


def test_this_node_writes_versions_1_and_2_only():
    """Asked to write version 3 (or 0), seal_envelope refuses before anything is sealed."""
    for version in (0, 3):
        with pytest.raises(ValueError, match="writes 1 or 2"):
            sealed(version=version)


@pytest.mark.parametrize(("envelope_v", "body_v"), [(1, 2), (2, 1)])
def test_the_body_is_of_the_envelopes_version(envelope_v, body_v):
    """A version-2 body inside a version-1 envelope, or the reverse, is refused on opening,
    naming the body's `v`."""
    raw = forge_envelope(
        keys=keys(A),
        signer=f"{A}:1",
        header=header(ENVELOPE_ID, A, 1, [B], NOW, envelope_v),
        enc_keys=[keys(B).enc_public],
        body=body_map(body_v),
        version=envelope_v,
    )
    env = verify_envelope(raw, lookup_for(A))
    with pytest.raises(InvalidField, match=f"a body of version {body_v} in an envelope of"):
        open_envelope(env, B, keys(B))


@pytest.mark.parametrize(("version", "other"), [(1, "targets"), (2, "target")])
def test_a_header_in_the_other_versions_layout_is_refused(version, other):
    """Version 2's header names `targets`, version 1's `target`: the other one is an
    unknown field. `targets` is required (an array, empty for a new document); version 1's
    optional `target` may be absent, like every optional field."""
    m = inner(sealed(version=version))
    mine = "target" if version == 1 else "targets"
    without = {k: v for k, v in m["header"].items() if k != mine}
    with pytest.raises(InvalidField, match=repr(other)):
        verify_envelope(resign({**m, "header": {**m["header"], other: None}}), lookup_for(A))
    if version == 2:
        with pytest.raises(InvalidField, match="'targets': missing"):
            verify_envelope(resign({**m, "header": without}), lookup_for(A))
        with pytest.raises(InvalidField, match="'targets': expected an array, got nil"):
            verify_envelope(resign({**m, "header": {**without, "targets": None}}), lookup_for(A))
    else:
        env = verify_envelope(resign({**m, "header": without}), lookup_for(A))
        assert env.header.targets == ()


def test_oversized_envelope_is_refused_before_parsing():
    """Bytes over MAX_ENVELOPE_BYTES are refused by size, naming the limit."""
    with pytest.raises(LimitExceeded, match=str(MAX_ENVELOPE_BYTES)):
        verify_envelope(b"\x80" * (MAX_ENVELOPE_BYTES + 1), lookup_for(A))


def test_truncated_envelope_is_refused():
    """Every proper prefix of a valid envelope is refused with the library's own error."""
    raw = sealed()
    for cut in (1, 10, len(raw) // 2, len(raw) - 1):
        with pytest.raises(DecodeError):
            verify_envelope(raw[:cut], lookup_for(A))


def test_verified_envelope_cannot_be_forged_by_construction():
    """Core code cannot build a VerifiedEnvelope from unverified parts."""
    env = verify_envelope(sealed(), lookup_for(A))
    with pytest.raises(TypeError):
        VerifiedEnvelope(
            header=env.header,
            raw=b"",
            sealed_keys=(),
            nonce=b"",
            ciphertext=b"",
            _token=object(),
        )


def test_no_recipients_is_refused():
    """A document must go somewhere."""
    with pytest.raises(InvalidField, match="recipient"):
        sealed(recipients=())
