"""Organisation codes: the unit codes of the directory (wire shape and the national pattern of
Quyết định 20/2020/QĐ-TTg) and the ids of organisations outside it (edXML OrganId, up to 35
characters) are accepted whole and ASCII only; every accepted code comes back unchanged, and
a control character, a space or a non-ASCII character anywhere is refused by name."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong.protocol.errors import InvalidField
from lienthong.protocol.units import (
    DEFAULT_UNIT_CODE_PATTERN,
    EXTERNAL_ORGAN_ID,
    MAX_EXTERNAL_ORGAN_ID,
    NATIONAL_UNIT_CODE,
    WIRE_UNIT_CODE,
    check_external_code,
    check_wire_code,
    validate_unit_code,
)

NATIONAL = st.from_regex(NATIONAL_UNIT_CODE.regex, fullmatch=True)
EXTERNAL = st.from_regex(EXTERNAL_ORGAN_ID.regex, fullmatch=True)
# Characters no code may hold: C0 and C1 controls, DEL, ASCII and other spaces, and
# anything beyond ASCII (Vietnamese letters, other scripts' digits, fullwidth forms).
FORBIDDEN = st.one_of(
    st.characters(max_codepoint=0x1F),
    st.sampled_from(" \x7f\x85\xa0\u2028\u3000"),
    st.characters(min_codepoint=0x80),
)
# The three checks a code meets, each as "accept or raise InvalidField".
CHECKS = {
    "wire": lambda code: check_wire_code(code, "test", "code"),
    "national": validate_unit_code,
    "external": lambda code: check_external_code(code, "test", "organ_id"),
}


def round_trip(code: str) -> str:
    """The code as a peer reads it back: packed and unpacked as on the wire."""
    return msgpack.unpackb(msgpack.packb(code), raw=False)


@given(NATIONAL)
def test_every_national_code_is_accepted_unchanged_by_every_check(code):
    """A code of the national form passes the wire shape, the default pattern and the
    external id check, and comes back as it went, through the wire too."""
    for name, check in CHECKS.items():
        assert check(code) == code, name
        assert check(round_trip(code)) == code, name


@given(EXTERNAL)
def test_every_external_id_is_accepted_unchanged(code):
    """An id of the external shape (letters, digits, '.', '-', '_', up to 35) round-trips."""
    assert check_external_code(code, "test", "organ_id") == code
    assert check_external_code(round_trip(code), "test", "organ_id") == code
    assert len(code) <= MAX_EXTERNAL_ORGAN_ID and code.isascii()


@given(NATIONAL, FORBIDDEN, st.data())
def test_a_forbidden_character_anywhere_is_refused(code, bad, data):
    """A control character, a space or a non-ASCII character, put anywhere in a valid code
    (first, last or inside), makes every check refuse it with InvalidField."""
    at = data.draw(st.integers(min_value=0, max_value=len(code)))
    spoiled = code[:at] + bad + code[at:]
    for name, check in CHECKS.items():
        with pytest.raises(InvalidField):
            check(spoiled)
        assert not EXTERNAL_ORGAN_ID.matches(spoiled), name


@given(NATIONAL, st.sampled_from("٠١٢٣٤٥٦٧٨٩０１２３４５６７８９²߀"), st.data())
def test_another_scripts_digit_in_place_of_a_digit_is_refused(code, digit, data):
    """'٣' or '３' for '3': int() would read them, the checks do not take them."""
    places = [i for i, ch in enumerate(code) if ch.isdigit()]
    at = data.draw(st.sampled_from(places))
    spoiled = code[:at] + digit + code[at + 1 :]
    for check in CHECKS.values():
        with pytest.raises(InvalidField):
            check(spoiled)


@pytest.mark.parametrize(
    "bad",
    [
        "000.00.02.H53\n",
        "000.00.02.H53 ",
        " 000.00.02.H53",
        "000.00.02.H53\r\n",
        "000.00.02.H53\x00",
        "٠٠٠.٠٠.٠٢.H٥٣",
        "０００.００.０２.Ｈ５３",
        "000.00.02.h53",  # the national form's letter is upper case
        "000.00.02.H5",
        "",
    ],
)
def test_the_national_pattern_refuses_near_misses(bad):
    """The issue's cases: a final newline or space, other scripts' digits, a short field."""
    with pytest.raises(InvalidField, match="unit code"):
        validate_unit_code(bad)
    assert not NATIONAL_UNIT_CODE.matches(bad)


def test_the_default_pattern_is_the_national_form():
    """Quyết định 20/2020/QĐ-TTg: XXX.YY.ZZ.Lnn, and a province's department as example."""
    assert NATIONAL_UNIT_CODE.source == DEFAULT_UNIT_CODE_PATTERN
    assert validate_unit_code("000.00.04.H53") == "000.00.04.H53"
    assert WIRE_UNIT_CODE.matches("000.00.04.H53")


def test_a_configured_pattern_applies_to_the_whole_code():
    """A federation's own pattern, even one written with anchors or one that matches a
    prefix only, takes whole codes; one that is no regular expression is refused."""
    assert validate_unit_code("TN.05", r"TN\.\d{2}") == "TN.05"
    with pytest.raises(InvalidField):
        validate_unit_code("TN.05.01", r"TN\.\d{2}")
    with pytest.raises(InvalidField):
        validate_unit_code("TN.٠5", r"^TN\.\d{2}$")
    with pytest.raises(InvalidField, match="code_pattern"):
        validate_unit_code("TN.05", "TN\\.(")


@pytest.mark.parametrize(
    "code",
    [
        "0312345678",  # an enterprise's tax code
        "0312345678-001",  # a branch
        "000.00.00.G22",  # a ministry's four-field code
        "A" * MAX_EXTERNAL_ORGAN_ID,
        "vxp.saas.02",
        "ORG_1",
    ],
)
def test_external_ids_of_other_shapes_are_accepted(code):
    assert check_external_code(code, "edXML", "OrganId") == code


@pytest.mark.parametrize(
    "code",
    [
        "A" * (MAX_EXTERNAL_ORGAN_ID + 1),
        "",
        "-0312345678",
        ".000.00.00.G22",
        "0312 345678",
        "03123456/78",
        "Sở TTTT",
        "0312345678\n",
    ],
)
def test_external_ids_out_of_shape_are_refused_by_name(code):
    """Over 35 characters, empty, a leading '.' or '-', a space, '/', Vietnamese letters."""
    with pytest.raises(InvalidField, match=r"edXML: field 'OrganId': .*organisation id"):
        check_external_code(code, "edXML", "OrganId")


@pytest.mark.parametrize("value", [None, 312345678, b"0312345678", ["0312345678"]])
def test_a_code_that_is_not_a_string_is_refused_by_its_type(value):
    for check in (check_external_code, check_wire_code):
        with pytest.raises(InvalidField, match="expected"):
            check(value, "test", "code")
