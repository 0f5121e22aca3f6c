"""Organisation codes (mã định danh) of units: the wire shape and the national pattern.

The wire accepts any dotted code of a general shape, so that a federation can
configure its own pattern; the centre checks new units against the configured
pattern, by default the four-field form of QCVN 102:2016 / Quyết định
20/2020/QĐ-TTg: `000.00.05.H53` (3 digits, 2, 2, a letter and 2 digits).
"""

from functools import lru_cache

from lienthong.protocol.errors import InvalidField
from lienthong.protocol.text import configured, pattern

MAX_UNIT_CODE = 32  # the national form is 13 characters
WIRE_UNIT_CODE = pattern(
    "unit code (wire shape)", r"[0-9A-Za-z]{1,8}(\.[0-9A-Za-z]{1,8}){1,7}", "000.00.05.H53"
)
DEFAULT_UNIT_CODE_PATTERN = r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}"
NATIONAL_UNIT_CODE = pattern(
    "unit code (national form)", DEFAULT_UNIT_CODE_PATTERN, "000.00.05.H53"
)


def check_wire_code(code: object, what: str, field: str) -> str:
    """Return `code` if it has the wire shape of a unit code, else raise InvalidField."""
    if not isinstance(code, str):
        raise InvalidField(what, field, f"expected a unit code string, got {type(code).__name__}")
    if not has_wire_shape(code):
        raise InvalidField(what, field, f"{code[:40]!r} is not a unit code like 000.00.05.H53")
    return code


@lru_cache(maxsize=4096)  # a federation has a few thousand codes; envelopes repeat them
def has_wire_shape(code: str) -> bool:
    return len(code) <= MAX_UNIT_CODE and WIRE_UNIT_CODE.matches(code)


def validate_unit_code(code: str, pattern: str = DEFAULT_UNIT_CODE_PATTERN) -> str:
    """Return `code` if it matches the federation's pattern (the whole code, ASCII only), else
    raise InvalidField; a pattern that is no regular expression is refused the same way."""
    check_wire_code(code, "unit code", "code")
    try:
        regex = configured(pattern, "unit.code_pattern")
    except ValueError as exc:
        raise InvalidField("unit code", "code_pattern", str(exc)) from None
    if not regex.fullmatch(code):
        raise InvalidField(
            "unit code",
            "code",
            f"{code!r} does not match the pattern {pattern} (e.g. 000.00.05.H53)",
        )
    return code
