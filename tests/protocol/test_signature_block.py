"""The signature block as Nghị định 30/2020 prints it, and edXML's Competence read back."""

import pytest

from lienthong.protocol.document import Signer, parse_competence


def test_on_behalf_of_the_head_prints_three_lines():
    """KT.: the authority and the head's title, the signer's own position, the name."""
    s = Signer("Trương Văn Hùng", "Phó Chánh Văn phòng", "KT.", "Chánh Văn phòng")
    assert s.block == ("KT. CHÁNH VĂN PHÒNG", "PHÓ CHÁNH VĂN PHÒNG", "Trương Văn Hùng")
    assert s.competence == "KT. CHÁNH VĂN PHÒNG"


def test_the_head_signing_prints_two_lines():
    """No authority: the position is the competence."""
    s = Signer("Nguyễn Thanh Ngọc", "Chủ tịch")
    assert s.block == ("CHỦ TỊCH", "Nguyễn Thanh Ngọc")
    assert s.competence == "CHỦ TỊCH"


@pytest.mark.parametrize(
    ("competence", "expected"),
    [
        ("KT. BỘ TRƯỞNG", ("KT.", "BỘ TRƯỞNG")),
        ("TM.  ỦY BAN NHÂN DÂN", ("TM.", "ỦY BAN NHÂN DÂN")),
        ("TUQ. CHỦ TỊCH", ("TUQ.", "CHỦ TỊCH")),
        ("tl. giám đốc", ("TL.", "giám đốc")),
        ("CHỦ TỊCH", ("", "")),
    ],
)
def test_an_edxml_competence_reads_back(competence, expected):
    """A real Competence from the national axis splits into authority and acts-for."""
    assert parse_competence(competence) == expected
