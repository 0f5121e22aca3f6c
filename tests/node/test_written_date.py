"""The dates and times of an official document as the law and the clerks write them:
"ngày 05 tháng 02 năm 2025" after the place, and hỏa tốc hẹn giờ typed dd/mm/yyyy hh:mm."""

import pytest

from lienthong.node.times import dmy_hm, parse_dmy_hm, written_date


@pytest.mark.parametrize(
    ("iso", "written"),
    [
        ("2014-05-23", "ngày 23 tháng 5 năm 2014"),  # the province office's letter 2340
        ("2025-02-05", "ngày 05 tháng 02 năm 2025"),  # a day below 10, month 2: leading zeros
        ("2025-01-31", "ngày 31 tháng 01 năm 2025"),
        ("2025-03-09", "ngày 09 tháng 3 năm 2025"),  # month 3 and up: none
        ("2025-12-01", "ngày 01 tháng 12 năm 2025"),
        ("", ""),
        ("not a date", "not a date"),
    ],
)
def test_the_date_after_the_place_follows_the_decree(iso, written):
    """Nghị định 30/2020, Phụ lục I: days below 10 and the months 1 and 2 take a zero."""
    assert written_date(iso) == written


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("24/11/2025 14:30", "2025-11-24T14:30"),
        ("4/1/2026 9:05", "2026-01-04T09:05"),
        (" 24/11/2025  14:30 ", "2025-11-24T14:30"),
        ("2025-11-24T14:30", "2025-11-24T14:30"),  # a datetime-local input
        ("24/11/2025", None),
        ("24/11/2025 24:00", None),
        ("24/11/2025 14:60", None),
        ("31/02/2025 14:30", None),
        ("24/11/2025 ١٤:30", None),  # digits of another script
        ("24/11/2025 14:3", None),
        ("", None),
    ],
)
def test_a_scheduled_time_is_typed_day_first(typed, stored):
    """parse_dmy_hm reads what the clerk types, or None; dmy_hm prints it back."""
    assert parse_dmy_hm(typed) == stored
    if stored is not None:
        assert parse_dmy_hm(dmy_hm(stored)) == stored


def test_dmy_hm_prints_day_first():
    assert dmy_hm("2025-11-24T14:30") == "24/11/2025 14:30"
    assert dmy_hm(None) == "" and dmy_hm("soon") == "soon"
