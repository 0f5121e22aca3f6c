"""Identifier fields match as whole strings at the decoders: a ULID or a unit code with a
trailing newline, a leading space or another script's digits is InvalidField naming the field,
never a prefix match that a strict implementation would refuse (docs/PROTOCOL.md, conventions).
"""

import pytest

from lienthong.crypto import signing
from lienthong.protocol import wire
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.envelope import open_envelope, verify_envelope
from lienthong.protocol.errors import InvalidField, UnknownSigner
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.status import verify_status
from tests.protocol.fixtures import NOW, A, B, C, counter_random, keys
from tests.protocol.forge import body_map, forge_envelope, header

ID = new_ulid(NOW, counter_random("id"))
OTHER = new_ulid(NOW, counter_random("other"))
# What a prefix matcher lets through: Python's `$` before a final newline, `\d` in other
# scripts, and what a lenient reader strips.
SUFFIXES = ("\n", "\r\n", " ")


def lookup(code: str, serial: int) -> bytes:
    """A's, B's and C's keys under serial 1; any other name is unknown, as in a directory."""
    table = {(n, 1): keys(n).sign_public for n in (A, B, C)}
    try:
        return table[(code, serial)]
    except KeyError:
        raise UnknownSigner(f"no certificate {serial} of {code!r}") from None


def envelope(signer: str = f"{A}:1", body=None, version: int = 2, **fields) -> bytes:
    """A's envelope of protocol `version` to B and C, with header fields replaced."""
    return forge_envelope(
        keys=keys(A),
        signer=signer,
        header={**header(ID, A, 1, [B, C], NOW, version), **fields},
        enc_keys=[keys(B).enc_public, keys(C).enc_public],
        body=body,
        version=version,
    )


@pytest.mark.parametrize("version", [1, 2])
def test_the_forger_makes_envelopes_that_verify_and_open(version):
    """The hand-built bytes are a valid envelope of either version when nothing is wrong with
    them, so each refusal below is the field's."""
    verified = verify_envelope(envelope(reply_to=OTHER, version=version), lookup)
    assert verified.header.reply_to == OTHER and verified.header.version == version
    assert open_envelope(verified, B, keys(B)).metadata.issuer.code == A


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("id", lambda s: {"id": ID + s}),
        ("reply_to", lambda s: {"reply_to": OTHER + s}),
        ("targets[0]", lambda s: {"business": "update", "targets": [OTHER + s]}),
        ("targets[1]", lambda s: {"business": "replace", "targets": [ID, OTHER + s]}),
        ("sender", lambda s: {"sender": A + s}),
        ("recipients[1]", lambda s: {"recipients": [B, C + s]}),
        ("recipients[0]", lambda s: {"recipients": [" " + B, C]}),
    ],
)
def test_a_header_field_with_more_than_its_value_is_refused(field, fields, suffix):
    """header.id, reply_to, each target, sender and each recipient are matched whole."""
    with pytest.raises(InvalidField) as refused:
        verify_envelope(envelope(**fields(suffix)), lookup)
    assert refused.value.field == field


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_version_1_target_with_more_than_its_value_is_refused(suffix):
    """Version 1's single `target` is matched whole too."""
    with pytest.raises(InvalidField) as refused:
        verify_envelope(envelope(version=1, business="update", target=OTHER + suffix), lookup)
    assert refused.value.field == "target"


@pytest.mark.parametrize("digit", ["٣", "３", "²"])
def test_other_scripts_digits_are_not_digits(digit):
    """'٣' (Arabic-Indic), '３' (full width) and '²' are refused in a ULID and a unit code."""
    with pytest.raises(InvalidField, match="'id'"):
        verify_envelope(envelope(id=digit + ID[1:]), lookup)
    with pytest.raises(InvalidField, match=r"recipients\[0\]"):
        verify_envelope(envelope(recipients=[digit + B[1:], C]), lookup)


@pytest.mark.parametrize("hint", [f"{A}\n:1", f"{A}:1\n", f" {A}:1", f"{A}:١"])
def test_a_signer_hint_with_a_newline_is_invalid_not_unknown(hint):
    """A sender code with a newline in the hint is a malformed hint (InvalidField, field
    `signer`), not a signer the directory lacks (UnknownSigner): nothing is looked up."""
    with pytest.raises(InvalidField) as refused:
        verify_envelope(envelope(signer=hint), lookup)
    assert refused.value.field == "signer"


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_an_issuer_code_with_more_than_its_value_is_refused_on_opening(suffix):
    """issuer.code is inside the encrypted body: the recipient refuses it when it opens the
    envelope, naming the issuer's code."""
    verified = verify_envelope(envelope(body=body_map(code=A + suffix)), lookup)
    with pytest.raises(InvalidField, match="issuer: field 'code'"):
        open_envelope(verified, B, keys(B))


@pytest.mark.parametrize("field", ["id", "envelope", "sender", "to"])
def test_a_status_field_with_a_trailing_newline_is_refused(field):
    """A status (a 01 included) names its envelope, author and addressee whole."""
    values = {"id": OTHER, "envelope": ID, "sender": B, "to": A}
    values[field] += "\n"
    signed = wire.pack(
        {
            "v": 1,
            "kind": "status",
            **values,
            "serial": 1,
            "code": int(StatusCode.IN_PROGRESS),
            "at": NOW,
            "receipt": None,
            "number": None,
            "year": None,
            "reason": None,
            "assignee": None,
            "staff": None,
            "note": None,
        }
    )
    raw = wire.wrap(signed, signing.sign(keys(B).signing, signing.STATUS, signed), f"{B}:1")
    with pytest.raises(InvalidField) as refused:
        verify_status(raw, lookup)
    assert refused.value.field == field


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("date", ["2014-05-23\n", " 2014-05-23", "２014-05-23", "2014-05-2٣"])
def test_a_date_is_matched_whole(date, version):
    """issued_on with a newline or other digits is refused (fromisoformat alone would read
    some of them), in either version of the body."""
    wire_body = body_map(version)
    wire_body["metadata"]["issued_on"] = date
    verified = verify_envelope(envelope(body=wire_body, version=version), lookup)
    with pytest.raises(InvalidField, match="'issued_on'"):
        open_envelope(verified, B, keys(B))


@pytest.mark.parametrize("number", ["05\n", " 05", "05 ", "0٥", "０5", "²", "5\r\n", ""])
def test_a_number_is_matched_whole(number):
    """A version-2 number is ASCII digits and nothing else: int() would read "0٥" and " 05"
    as 5, and a `$` would take "05\n"."""
    wire_body = body_map()
    wire_body["metadata"]["number"] = number
    verified = verify_envelope(envelope(body=wire_body), lookup)
    with pytest.raises(InvalidField) as refused:
        open_envelope(verified, B, keys(B))
    assert refused.value.field == "number"


@pytest.mark.parametrize(
    "time", ["2025-11-25T08:00\n", " 2025-11-25T08:00", "2025-11-25T0٨:00", "2025-11-25 08:00"]
)
def test_a_scheduled_time_is_matched_whole(time):
    """scheduled_at with a newline, a space or another script's digit is refused."""
    wire_body = body_map()
    wire_body["metadata"].update(urgency=4, scheduled_at=time)
    verified = verify_envelope(envelope(body=wire_body), lookup)
    with pytest.raises(InvalidField) as refused:
        open_envelope(verified, B, keys(B))
    assert refused.value.field == "scheduled_at"


def test_a_blob_id_in_the_header_is_matched_whole():
    """A blob id of 63 hex digits and a newline has 64 characters and is still refused."""
    blob = {"id": "a" * 63 + "\n", "size": 100}
    with pytest.raises(InvalidField, match=r"blobs\[0\]\.id"):
        verify_envelope(envelope(blobs=[blob]), lookup)
