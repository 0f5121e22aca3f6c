"""The two forms of a directory (docs/PROTOCOL.md 10): form 1 exactly as a version-1 node
reads it, form 2 with the envelope versions each unit reads, and every refusal of that map;
the `protocols` of a unit report (15). Pure: no event loop."""

from __future__ import annotations

import pytest

from lienthong.crypto import signing
from lienthong.protocol.directory import (
    MAX_PROTOCOL_VERSION,
    issue_directory,
    verify_directory,
)
from lienthong.protocol.errors import InvalidField, LimitExceeded, UnknownVersion
from lienthong.protocol.peer import directory_etag
from lienthong.protocol.report import Report, report_fields, sign_report, verify_report
from lienthong.protocol.wire import Fields, check_header, pack, unpack, unwrap, wrap
from tests.protocol.fixtures import NOW, A, B, C, keys
from tests.vectors.common import ROOT, inner
from tests.vectors.make_certificates import CENTRE, RELAYS, cert

DAY = 86_400_000
UNKNOWN = "000.00.09.H53"  # a well-formed code that no certificate of the directory names
# The fields of a directory as a version-1 node knows them: nothing else may appear in form 1.
FORM_1_FIELDS = {
    "v",
    "kind",
    "version",
    "issued_at",
    "expires_at",
    "centre",
    "certificates",
    "revoked",
    "relays",
}


def signed(protocols=None, version: int = 3) -> bytes:
    return issue_directory(
        ROOT,
        version=version,
        issued_at=NOW,
        expires_at=NOW + 7 * DAY,
        centre_name=CENTRE["name"],
        centre_url=CENTRE["url"],
        certificates=[cert(A, 1), cert(B, 2), cert(C, 3)],
        revoked=(2,),
        relays=RELAYS,
        protocols=protocols,
    )


def verify(raw: bytes, **options):
    return verify_directory(raw, ROOT.sign_public, now=NOW, **options)


def root_signed(signed_map: dict) -> bytes:
    """A map signed by the root in the directory domain, as a centre (or a forger holding
    the root key) would: only the decoder can refuse it."""
    data = pack(signed_map)
    return wrap(data, signing.sign(ROOT.signing, signing.DIRECTORY, data), "centre")


def with_protocols(protocols) -> bytes:
    return root_signed({**inner(signed({})), "protocols": protocols})


def test_without_protocols_the_directory_is_form_1_as_a_version_1_node_reads_it():
    """issue_directory without `protocols` writes `"v": 1` and only the fields of version 1;
    a strict version-1 reader (check_header with versions=(1,)) accepts it, and so does
    verify_directory limited to form 1."""
    raw = signed()
    body = unpack(unwrap(raw, what="d", max_bytes=1 << 20).signed, what="d", max_bytes=1 << 20)
    assert set(body) == FORM_1_FIELDS and body["v"] == 1
    assert check_header(Fields(body, "directory"), "directory", "directory", (1,)) == 1
    directory = verify(raw, forms=(1,))
    assert directory.form == 1 and directory.protocols == {}
    assert [directory.reads(code) for code in (A, B, C)] == [(1,), (1,), (1,)]


def test_form_2_states_what_each_unit_reads():
    """With `protocols` the directory is form 2: `"v": 2`, the map lists the units reading
    more than version 1 (sorted, each list sorted and without repeats); a unit declared as
    reading version 1 only is left out, and reads (1,) like a unit never declared."""
    raw = signed({C: [2, 1, 2], A: (1,), B: [1, 2]})
    body = inner(raw)
    assert body["v"] == 2 and set(body) == FORM_1_FIELDS | {"protocols", "external"}
    assert body["protocols"] == {B: [1, 2], C: [1, 2]}
    assert list(body["protocols"]) == [B, C]
    directory = verify(raw)
    assert directory.form == 2
    assert dict(directory.protocols) == {B: (1, 2), C: (1, 2)}
    assert directory.reads(B) == (1, 2) and directory.reads(A) == (1,)


def test_both_forms_of_one_version_state_the_same_listing():
    """Form 1 and form 2 of one version list the same certificates, revocations, relays
    and times: same_listing says so, and says no for another version or another list."""
    one, two = verify(signed()), verify(signed({A: [1, 2]}))
    assert one.same_listing(two) and two.same_listing(one)
    assert one.raw != two.raw
    assert not one.same_listing(verify(signed(version=4)))
    other = issue_directory(
        ROOT,
        version=3,
        issued_at=NOW,
        expires_at=NOW + 7 * DAY,
        centre_name=CENTRE["name"],
        centre_url=CENTRE["url"],
        certificates=[cert(A, 1), cert(B, 2)],
        revoked=(2,),
        relays=RELAYS,
        protocols={},
    )
    assert not one.same_listing(verify(other))


def test_a_version_1_reader_refuses_form_2():
    """A node reading form 1 only refuses form 2 by its `v` (UnknownVersion), as the
    version-1 software does: a centre serves it form 1."""
    with pytest.raises(UnknownVersion, match="protocol version 2"):
        verify(signed({A: [1, 2]}), forms=(1,))


@pytest.mark.parametrize(
    ("protocols", "error", "names"),
    [
        ({"not-a-unit": [1, 2]}, InvalidField, "protocols"),
        ({UNKNOWN: [1, 2]}, InvalidField, "names no unit"),
        ({A: [0, 1, 2]}, InvalidField, r"protocols\[000.00.02.H53\]\[0\]"),
        ({A: [1, MAX_PROTOCOL_VERSION + 1]}, InvalidField, "protocol version 1..15"),
        ({A: [2, 1]}, InvalidField, "does not follow"),
        ({A: [1, 2, 2]}, InvalidField, "does not follow"),
        ({A: [2]}, InvalidField, "must include 1"),
        ({A: []}, InvalidField, "must include 1"),
        ({A: [1]}, InvalidField, "reads version 1 only is not listed"),
        ({A: [1, True]}, InvalidField, "protocol version"),
        ({A: "1 2"}, InvalidField, "expected an array"),
        ({A: list(range(1, MAX_PROTOCOL_VERSION + 2))}, LimitExceeded, "over the limit"),
        ([[A, [1, 2]]], InvalidField, "expected a map"),
        (None, InvalidField, "expected a map"),
    ],
)
def test_form_2_refuses_a_malformed_protocols_map(protocols, error, names):
    """Each malformed `protocols` of a root-signed form 2 is refused with the error that
    names what is wrong, never read as version 1."""
    with pytest.raises(error, match=names):
        verify(with_protocols(protocols))


def test_form_2_without_protocols_and_form_1_with_them_are_refused():
    """`protocols` is required in form 2 and an unknown field in form 1; `v` 3 is no form."""
    form_2 = inner(signed({A: [1, 2]}))
    with pytest.raises(InvalidField, match=r"protocols.*missing"):
        verify(root_signed({k: v for k, v in form_2.items() if k != "protocols"}))
    with pytest.raises(InvalidField, match="unknown field"):
        verify(root_signed({**form_2, "v": 1}))
    with pytest.raises(UnknownVersion):
        verify(root_signed({**form_2, "v": 3}))


def test_the_entity_tags_of_the_two_forms_differ():
    """Form 1's tag is the version-1 tag "v<n>"; form 2's is "v<n>.2"."""
    assert directory_etag(12) == directory_etag(12, 1) == '"v12"'
    assert directory_etag(12, 2) == '"v12.2"'


# -- the unit report's `protocols` ---------------------------------------------------------


def report(protocols=(1,)) -> Report:
    return Report(A, 1, NOW, "0.2.0", 0, (), protocols)


def lookup(code: str, serial: int) -> bytes:
    return keys(A).sign_public


def test_a_report_declares_the_versions_its_unit_reads():
    """A report reading (1, 2) carries `protocols`: [1, 2]; one reading version 1 only
    carries no such field (a version-1 centre refuses unknown fields) and reads as (1,)."""
    two = verify_report(sign_report(keys(A), report((1, 2))), lookup).report
    assert two.protocols == (1, 2)
    assert report_fields(report((1, 2)))["protocols"] == [1, 2]
    assert "protocols" not in report_fields(report())
    assert verify_report(sign_report(keys(A), report()), lookup).report.protocols == (1,)


@pytest.mark.parametrize(
    ("protocols", "error", "names"),
    [
        ([2], InvalidField, "must include 1"),
        ([1, 1], InvalidField, "does not follow"),
        ([2, 1], InvalidField, "does not follow"),
        ([0, 1], InvalidField, "protocol version"),
        ([1, MAX_PROTOCOL_VERSION + 1], InvalidField, "protocol version"),
        ("1", InvalidField, "expected an array"),
        (list(range(1, MAX_PROTOCOL_VERSION + 2)), LimitExceeded, "over the limit"),
    ],
)
def test_a_report_with_malformed_protocols_is_refused(protocols, error, names):
    """Malformed `protocols` in a report signed by its unit are refused by name, and
    sign_report refuses to sign them in the first place."""
    fields = {"v": 1, "kind": "report", **report_fields(report()), "protocols": protocols}
    data = pack(fields)
    raw = wrap(data, signing.sign(keys(A).signing, signing.REPORT, data), f"{A}:1")
    with pytest.raises(error, match=names):
        verify_report(raw, lookup)
    if isinstance(protocols, list) and all(type(v) is int for v in protocols):
        with pytest.raises(error, match=names):
            sign_report(keys(A), report(tuple(protocols)))
