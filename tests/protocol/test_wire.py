"""Strict msgpack decoding: sizes, truncation, nesting, types, trailing bytes."""

import msgpack
import pytest

from lienthong.protocol.document import parse_number_notation
from lienthong.protocol.errors import DecodeError, InvalidField, LimitExceeded
from lienthong.protocol.ids import is_ulid, new_ulid, ulid_time_ms
from lienthong.protocol.units import validate_unit_code
from lienthong.protocol.wire import Fields, unpack


def test_oversized_input_is_refused_by_size():
    """The size cap applies before any parsing and names the limit."""
    with pytest.raises(LimitExceeded, match="over the limit of 10 bytes"):
        unpack(b"\x00" * 11, what="x", max_bytes=10)


def test_truncated_and_trailing_bytes_are_refused():
    """A cut message and bytes after the message are both errors."""
    data = msgpack.packb({"a": [1, 2, 3]})
    with pytest.raises(DecodeError, match="truncated"):
        unpack(data[:-1], what="x", max_bytes=100)
    with pytest.raises(DecodeError, match="trailing"):
        unpack(data + b"\x00", what="x", max_bytes=100)


def test_deep_nesting_is_refused():
    """10,000 nested arrays raise the library's DecodeError, not a crash."""
    data = b"\x91" * 10_000 + b"\x00"
    with pytest.raises(DecodeError):
        unpack(data, what="x", max_bytes=100_000)


def test_declared_length_beyond_the_data_is_refused():
    """An array header claiming 2**32-1 items in a few bytes is refused without allocating."""
    with pytest.raises(DecodeError):
        unpack(b"\xdd\xff\xff\xff\xff\x00", what="x", max_bytes=100)


def test_ext_types_and_non_string_keys_are_refused():
    """msgpack ext types and integer map keys are not part of the format."""
    with pytest.raises(DecodeError):
        unpack(msgpack.packb(msgpack.ExtType(1, b"x")), what="x", max_bytes=100)
    with pytest.raises(DecodeError):
        unpack(msgpack.packb({1: 2}), what="x", max_bytes=100)


def test_fields_name_the_bad_field():
    """Type and range errors name the message and the field."""
    f = Fields({"n": "3", "s": "x" * 300, "b": True}, "thing")
    with pytest.raises(InvalidField, match=r"thing: field 'n': expected an integer, got string"):
        f.int("n")
    with pytest.raises(InvalidField, match="300 characters, limit is 256"):
        f.str("s")
    with pytest.raises(InvalidField, match="expected an integer, got boolean"):
        f.int("b")


def test_unit_codes_follow_the_configured_pattern():
    """The national form passes; a wrong shape and another pattern are refused."""
    assert validate_unit_code("000.00.05.H53") == "000.00.05.H53"
    with pytest.raises(InvalidField, match=r"000\.00\.05\.H53"):
        validate_unit_code("00.00.05.H53")
    with pytest.raises(InvalidField, match="pattern"):
        validate_unit_code("000.00.05.H53", pattern=r"^\d{3}\.\d{2}\.\d{2}\.G\d{2}$")
    assert validate_unit_code("A.B", pattern=r"^[A-Z]\.[A-Z]$") == "A.B"


def test_number_and_notation():
    """2340/VP-TTTH and 49/2012/QĐ-UBND split into number as written, year and notation; the
    leading zero of 05/VP-TTTH is kept."""
    assert parse_number_notation("2340/VP-TTTH") == ("2340", None, "VP-TTTH")
    assert parse_number_notation("49/2012/QĐ-UBND") == ("49", 2012, "QĐ-UBND")
    assert parse_number_notation("05/VP-TTTH") == ("05", None, "VP-TTTH")
    for text in ("VP-TTTH", "0٥/VP-TTTH", "05/VP TTTH", "05/VP-\u202eTTTH"):
        with pytest.raises(InvalidField):
            parse_number_notation(text)


def test_ulids_sort_by_time_and_decode():
    """A ULID carries its millisecond time and has the canonical shape."""
    a, b = new_ulid(1000), new_ulid(2000)
    assert is_ulid(a) and a < b and ulid_time_ms(b) == 2000


def test_duplicate_map_keys_are_refused():
    """Two readers could keep different values of a repeated key: refused."""
    data = b"\x82\xa1a\x01\xa1a\x02"  # {"a": 1, "a": 2}
    with pytest.raises(DecodeError, match="repeats a key"):
        unpack(data, what="x", max_bytes=100)


def test_signer_serial_must_be_ascii_digits():
    """A superscript or Arabic-Indic digit in the signer hint is refused, not parsed."""
    from lienthong.protocol.wire import parse_unit_signer

    for hint in ("000.00.02.H53:²", "000.00.02.H53:١", "000.00.02.H53:"):
        with pytest.raises(InvalidField, match="signer"):
            parse_unit_signer(hint, "envelope")
    assert parse_unit_signer("000.00.02.H53:17", "envelope") == ("000.00.02.H53", 17)


def test_version_must_be_the_integer_one():
    """v = true or v = 1.0 is not version 1."""
    from lienthong.protocol.errors import UnknownVersion
    from lienthong.protocol.wire import check_header

    for v in (True, 1.0):
        with pytest.raises(UnknownVersion):
            check_header(Fields({"v": v, "kind": "status"}, "status"), "status", "status")


def test_a_message_with_two_versions_returns_the_one_it_has():
    """Where versions 1 and 2 are read, check_header returns which one the message is; 2 is
    refused where only 1 is read, and true, 2.0 and 3 are refused everywhere."""
    from lienthong.protocol.errors import UnknownVersion
    from lienthong.protocol.wire import PROTOCOL_VERSIONS, check_header

    def check(v, versions=PROTOCOL_VERSIONS):
        return check_header(Fields({"v": v, "kind": "x"}, "x"), "x", "x", versions)

    assert check(1) == 1 and check(2) == 2
    with pytest.raises(UnknownVersion, match=r"reads 1\)"):
        check(2, (1,))
    for v in (True, 2.0, 3, 0, None, "2"):
        with pytest.raises(UnknownVersion, match="reads 1 or 2"):
            check(v)
