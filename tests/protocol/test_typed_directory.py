"""The C fast path of a directory (protocol/typed_directory.py) accepts only what the
field-by-field readers accept, builds the same listing and certificates, and leaves every
refusal (and its named error) to them. Pure: no event loop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from lienthong.crypto import signing
from lienthong.protocol.directory import (
    ExternalOrganisation,
    _read_certificates_strictly,
    _read_listing_strictly,
    issue_directory,
    verify_directory,
)
from lienthong.protocol.errors import DecodeError, InvalidField, ProtocolError
from lienthong.protocol.typed_directory import (
    UNIT_CODE_LINES,
    codes_have_wire_shape,
    read_certificates,
    read_listing,
)
from lienthong.protocol.units import has_wire_shape
from lienthong.protocol.wire import pack, unpack, unwrap, wrap
from tests.protocol.fixtures import NOW, A, B, C
from tests.protocol.test_typed import _mutate, _mutations
from tests.vectors.common import ROOT
from tests.vectors.make_certificates import CENTRE, RELAYS, cert

DAY = 86_400_000
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "directories.json"
BOTH = (1, 2)
CERTS = [cert(A, 1), cert(B, 2), cert(C, 3, name="Văn phòng UBND tỉnh")]


def directory(form: int) -> bytes:
    """A directory of three units, one certificate revoked, in form 1 or 2."""
    protocols = {A: (1, 2), B: (1,)} if form == 2 else None
    return issue_directory(
        ROOT, version=4, issued_at=NOW, expires_at=NOW + 7 * DAY, centre_name=CENTRE["name"],
        centre_url=CENTRE["url"], certificates=CERTS, revoked=(2,), relays=RELAYS,
        protocols=protocols, external=[ExternalOrganisation("G01.002", "Bộ Nội vụ", A)],
    )  # fmt: skip


def signed_map(raw: bytes) -> bytes:
    return unwrap(raw, what="directory", max_bytes=1 << 20).signed


def _outcome(read, data: Any) -> Any:
    """What a reader makes of `data`: its value, or the type and text of its refusal."""
    try:
        return read(data)
    except ProtocolError as exc:
        return (type(exc), str(exc))


def test_valid_directories_take_the_fast_path_and_read_the_same():
    """Both forms of a directory and every directory vector that verifies are read by the C
    path (the listing, every certificate) into the same values as field by field."""
    raws = [directory(1), directory(2)]
    raws += [
        bytes.fromhex(v["bytes"])
        for v in json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"]
        if "ok" in v["expected"] and "bytes" in v
    ]
    for raw in raws:
        data = signed_map(raw)
        listing = read_listing(data, BOTH)
        assert listing is not None and listing == _read_listing_strictly(data, BOTH)
        certs = read_certificates(listing.certificates)
        assert certs is not None and certs == _read_certificates_strictly(listing.certificates)
    assert len(raws) > 3
    two = verify_directory(directory(2), ROOT.sign_public, now=NOW)
    assert (two.form, two.reads(A), two.current(C).name) == (2, (1, 2), "Văn phòng UBND tỉnh")


def test_a_form_the_reader_does_not_read_is_left_to_the_strict_reader():
    """Form 2 offered to a version-1 reader: the fast path declines and the strict reader
    names the version."""
    assert read_listing(signed_map(directory(2)), (1,)) is None
    assert read_listing(signed_map(directory(1)), (1,)) is not None
    with pytest.raises(ProtocolError, match="protocol version 2 is not supported"):
        verify_directory(directory(2), ROOT.sign_public, now=NOW, forms=(1,))


def test_certificates_cut_at_another_place_are_not_read_as_whole():
    """Two items whose bytes joined make two valid certificates, but which are cut one byte
    early: the joined decoding alone would take them; each item must give back its own
    bytes, so the fast path declines and the strict reader refuses the first by name."""
    first, second = CERTS[0], CERTS[1]
    items = [first[:-1], first[-1:] + second]
    assert read_certificates(items) is None
    with pytest.raises(DecodeError, match="directory certificate 0: truncated"):
        _read_certificates_strictly(items)


def test_a_certificate_repeating_a_key_is_left_to_the_strict_reader():
    """A certificate map that repeats its last key (msgspec would keep the last value) is not
    an exact encoding: declined here, refused by name by the strict reader."""
    wrapper = unwrap(CERTS[0], what="c", max_bytes=1 << 20)
    data = wrapper.signed
    assert data[0] == 0x8C  # a map of 12 keys (`v`, kind, serial, ..., not_after)
    repeated = bytes([0x8D]) + data[1:] + pack("not_after") + pack(NOW + DAY)
    item = wrap(repeated, wrapper.sig, wrapper.signer)
    assert read_certificates([CERTS[1], item]) is None
    with pytest.raises(DecodeError, match="repeats a key"):
        _read_certificates_strictly([CERTS[1], item])


def test_codes_are_checked_all_at_once_as_one_by_one():
    """The one match over all codes agrees with has_wire_shape code by code, including a
    code that holds a line break (it would look like two good codes) and an empty one."""
    cases = [
        [A, B, C],
        [],
        [A, f"{B}\n{C}"],
        [A, ""],
        [A, "000.00.05.H53\n"],
        ["a.b", "ab"],
        [A, "000.00.0٣.H53"],
        [A, "000 .00.05.H53"],
    ]
    for codes in cases:
        assert codes_have_wire_shape(codes) == all(map(has_wire_shape, codes)), codes
    assert UNIT_CODE_LINES.matches(f"{A}\n{B}") and not UNIT_CODE_LINES.matches(f"{A}\n")


def test_an_item_that_is_no_bytes_is_left_to_the_strict_reader():
    """A string where certificate bytes belong: declined, then named by the strict reader."""
    assert read_certificates([CERTS[0], "x"]) is None
    with pytest.raises(InvalidField, match=r"certificates\[1\]"):
        _read_certificates_strictly([CERTS[0], "x"])


FORM_2 = signed_map(directory(2))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_a_changed_directory_map_is_read_alike_by_both_paths(mutation):
    """Whatever one change does to a directory's signed map, the fast path gives a listing
    only where the strict reader does, and the same one."""
    data = pack(_mutate(unpack(FORM_2, what="d", max_bytes=1 << 20), *mutation))
    strict = _outcome(lambda d: _read_listing_strictly(d, BOTH), data)
    fast = read_listing(data, BOTH)
    assert fast is None or fast == strict


CERT = unwrap(CERTS[2], what="c", max_bytes=1 << 20)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_a_changed_certificate_is_read_alike_by_both_paths(mutation):
    """Whatever one change does to a certificate's map (or to its wrapper), among good ones,
    the fast path reads the list only where the strict reader does, into the same
    certificates."""
    target, mutation = mutation[0][0] % 2, mutation
    if target == 0:  # the certificate's own map
        changed = pack(_mutate(unpack(CERT.signed, what="c", max_bytes=1 << 20), *mutation))
        item = wrap(changed, CERT.sig, CERT.signer)
    else:  # the wrapper around it
        item = pack(_mutate(unpack(CERTS[2], what="c", max_bytes=1 << 20), *mutation))
    items = [CERTS[0], item, CERTS[1]]
    strict = _outcome(_read_certificates_strictly, items)
    fast = read_certificates(items)
    assert fast is None or fast == strict


def test_the_other_form_takes_its_certificates_only_when_they_are_the_same_bytes():
    """Form 2 verified with form 1 of its version (`decoded`, as the centre's issuer does)
    reads as form 2 verified alone, taking form 1's certificates themselves; a directory
    whose list differs decodes its own, and a bad certificate in it is still refused."""
    one = verify_directory(directory(1), ROOT.sign_public, now=NOW)
    two = verify_directory(directory(2), ROOT.sign_public, now=NOW, decoded=one)
    alone = verify_directory(directory(2), ROOT.sign_public, now=NOW)
    assert two == alone and two.form == 2 and two.same_listing(one)
    assert all(a is b for a, b in zip(two.certificates, one.certificates, strict=True))
    other = issue_directory(
        ROOT, version=5, issued_at=NOW, expires_at=NOW + DAY, centre_name=CENTRE["name"],
        centre_url=CENTRE["url"], certificates=[*CERTS[:2], cert(C, 4)], protocols={},
    )  # fmt: skip
    mixed = verify_directory(other, ROOT.sign_public, now=NOW, decoded=one)
    assert [c.serial for c in mixed.certificates] == [1, 2, 4]
    assert mixed.certificates[2] is not one.certificates[2]
    bad = unpack(signed_map(directory(2)), what="d", max_bytes=1 << 20)
    bad["certificates"][2] = bad["certificates"][2][:-1]
    signed = pack(bad)
    forged = wrap(signed, signing.sign(ROOT.signing, signing.DIRECTORY, signed), "centre")
    with pytest.raises(DecodeError, match="directory certificate 2: truncated"):
        verify_directory(forged, ROOT.sign_public, now=NOW, decoded=one)
