"""A unit's code is checked against the federation's configured pattern when its data
directory is made, not against the national default."""

import pytest

from lienthong.crypto.errors import LienthongError
from lienthong.node.datadir import create_node

PATTERN = r"[A-Z]{3}\.TN\d{2}"


def test_a_federation_pattern_admits_its_own_codes(tmp_path):
    """With unit.code_pattern for four-letter codes, a code of that form makes a node."""
    values = {
        "unit": {"code": "SNV.TN01", "name": "Sở Nội vụ", "code_pattern": r"[A-Z]{3}\.TN\d{2}"}
    }
    create_node(tmp_path / "a", values)
    assert (tmp_path / "a" / "node.toml").exists()


def test_a_code_outside_the_configured_pattern_is_refused(tmp_path):
    """The national form is refused where the federation configured another form."""
    values = {
        "unit": {"code": "000.00.05.H53", "name": "Sở Nội vụ", "code_pattern": r"[A-Z]{3}\.TN\d{2}"}
    }
    with pytest.raises(LienthongError, match="pattern"):
        create_node(tmp_path / "b", values)
    assert not (tmp_path / "b" / "node.toml").exists()
