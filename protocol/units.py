"""Organisation codes (mã định danh): of units in the directory, and of organisations outside it.

The wire accepts any dotted code of a general shape, so that a federation can
configure its own pattern; the centre checks new units against the configured
pattern, by default the four-field form of QCVN 102:2016 / Quyết định
20/2020/QĐ-TTg: `000.00.05.H53` (3 digits, 2, 2, a letter and 2 digits).
Organisations outside the directory (an edXML OrganId from the national axis,
an enterprise) have codes of another shape: `EXTERNAL_ORGAN_ID`. Every check
matches the whole code, ASCII only (protocol/text.py).
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


# edXML OrganId of an organisation outside the directory. Amendment 1:2022 of QCVN
# 102:2016 (Thông tư 01/2022/TT-BTTTT) widened OrganId to 35 characters, so that codes
# other than the four-field form (an enterprise's, a branch's "0312345678-001") fit.
MAX_EXTERNAL_ORGAN_ID = 35
EXTERNAL_ORGAN_ID = pattern(
    "organisation id outside the directory",
    f"[0-9A-Za-z][0-9A-Za-z._-]{{0,{MAX_EXTERNAL_ORGAN_ID - 1}}}",
    "0312345678-001",
)


def check_wire_code(code: object, what: str, field: str) -> str:
    """Return `code` if it has the wire shape of a unit code, else raise InvalidField."""
    if not isinstance(code, str):
        raise InvalidField(what, field, f"expected a unit code string, got {type(code).__name__}")
    if not has_wire_shape(code):
        raise InvalidField(what, field, f"{code[:40]!r} is not a unit code like 000.00.05.H53")
    return code


def check_external_code(code: object, what: str, field: str) -> str:
    """Return `code` if it is an organisation id outside the directory (1 to 35 ASCII letters,
    digits, '.', '-' and '_', starting with a letter or digit), else raise InvalidField."""
    if not isinstance(code, str):
        raise InvalidField(
            what, field, f"expected an organisation id string, got {type(code).__name__}"
        )
    if not EXTERNAL_ORGAN_ID.matches(code):
        raise InvalidField(
            what,
            field,
            f"{code[:40]!r} is not an organisation id: 1 to {MAX_EXTERNAL_ORGAN_ID} ASCII "
            "letters, digits, '.', '-' or '_', starting with a letter or digit",
        )
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
