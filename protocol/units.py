"""Organisation codes (mã định danh) of units: the wire shape and the national pattern.

The wire accepts any dotted code of a general shape, so that a federation can
configure its own pattern; the centre checks new units against the configured
pattern, by default the four-field form of QCVN 102:2016 / Quyết định
20/2020/QĐ-TTg: `000.00.05.H53` (3 digits, 2, 2, a letter and 2 digits).
"""

import re
from functools import lru_cache

from lienthong.protocol.errors import InvalidField

MAX_UNIT_CODE = 32  # the national form is 13 characters
WIRE_UNIT_CODE = re.compile(r"^[0-9A-Za-z]{1,8}(\.[0-9A-Za-z]{1,8}){1,7}$")
DEFAULT_UNIT_CODE_PATTERN = r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$"


def check_wire_code(code: object, what: str, field: str) -> str:
    """Return `code` if it has the wire shape of a unit code, else raise InvalidField."""
    if not isinstance(code, str):
        raise InvalidField(what, field, f"expected a unit code string, got {type(code).__name__}")
    if not has_wire_shape(code):
        raise InvalidField(what, field, f"{code[:40]!r} is not a unit code like 000.00.05.H53")
    return code


@lru_cache(maxsize=4096)  # a federation has a few thousand codes; envelopes repeat them
def has_wire_shape(code: str) -> bool:
    return len(code) <= MAX_UNIT_CODE and WIRE_UNIT_CODE.match(code) is not None


def validate_unit_code(code: str, pattern: str = DEFAULT_UNIT_CODE_PATTERN) -> str:
    """Return `code` if it matches the federation's pattern, else raise InvalidField."""
    check_wire_code(code, "unit code", "code")
    if not re.fullmatch(pattern, code):
        raise InvalidField(
            "unit code",
            "code",
            f"{code!r} does not match the pattern {pattern} (e.g. 000.00.05.H53)",
        )
    return code
