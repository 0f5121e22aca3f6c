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
from lienthong.protocol.limits import MAX_ENVELOPE_BYTES
from tests.protocol.fixtures import NOW, A, B, C, counter_random, keys, letter_2340


def lookup_for(*names: str):
    table = {(n, 1): keys(n).sign_public for n in names}

    def lookup(code: str, serial: int) -> bytes:
        try:
            return table[(code, serial)]
        except KeyError:
            raise UnknownSigner(f"no certificate {serial} of {code}") from None

    return lookup


def sealed(body=None, recipients=(B, C), **kw) -> bytes:
    return seal_envelope(
        keys=keys(A),
        sender=A,
        serial=1,
        recipients={r: keys(r).enc_public for r in recipients},
        body=body or letter_2340(),
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
    """v=3 or a status kind in an envelope is refused with a message naming it."""
    m = inner(sealed())
    with pytest.raises(UnknownVersion, match="3"):
        verify_envelope(resign({**m, "v": 3}), lookup_for(A))
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


def test_update_needs_a_target():
    """An update without the document it changes is refused at sealing."""
    with pytest.raises(InvalidField, match="target"):
        sealed(business="update")


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
