"""node.toml's [unit] holds the issuer as the unit's documents name it (parent, body in
charge, place, address and contacts): each optional, each checked at load naming its key."""

import pytest

from lienthong.node.config import ConfigError, load_config
from lienthong.protocol.document import Organisation

BASE = '[unit]\ncode = "000.00.02.H53"\nname = "Văn phòng"\n'


def write(tmp_path, text: str):
    (tmp_path / "node.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_the_issuer_and_place_come_from_unit(tmp_path):
    """Every key given: Config.issuer is the Organisation the documents carry, Config.place
    the địa danh; empty keys are absent (None), not empty strings."""
    text = BASE + (
        'parent = "UBND tỉnh Tây Ninh"\nin_charge = "Ủy ban nhân dân tỉnh"\n'
        'place = "Tây Ninh"\naddress = "83 Phạm Tung"\nemail = "vanthu@tayninh.gov.vn"\n'
        'phone = "0276 3822 222"\nfax = "+84 (276) 382-2223"\nwebsite = "https://tayninh.gov.vn"\n'
    )
    config = load_config(write(tmp_path, text))
    assert config.issuer == Organisation(
        name="Văn phòng",
        code="000.00.02.H53",
        parent="UBND tỉnh Tây Ninh",
        in_charge="Ủy ban nhân dân tỉnh",
        address="83 Phạm Tung",
        email="vanthu@tayninh.gov.vn",
        phone="0276 3822 222",
        fax="+84 (276) 382-2223",
        website="https://tayninh.gov.vn",
    )
    assert config.place == "Tây Ninh"
    bare = load_config(write(tmp_path, BASE))
    assert bare.issuer == Organisation(name="Văn phòng", code="000.00.02.H53")
    assert bare.place == ""


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('email = "vanthu at tayninh"', "unit.email"),
        ('phone = "gọi văn thư"', "unit.phone"),
        ('fax = "fax"', "unit.fax"),
        ('website = "tayninh.gov.vn"', "unit.website"),
        ('website = "ftp://tayninh.gov.vn"', "unit.website"),
        ('parent = " UBND tỉnh"', "unit.parent"),
        (f'address = "{"x" * 257}"', "unit.address"),
        (f'website = "https://{"x" * 510}.vn"', "unit.website"),
        ('place = "Tây\\nNinh"', "unit.place"),
        ("in_charge = 5", "unit.in_charge"),
    ],
)
def test_a_bad_issuer_value_stops_the_load_naming_its_key(tmp_path, line, named):
    """A value a recipient would refuse, or that is no address, stops the node at start."""
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config(write(tmp_path, BASE + line + "\n"))
