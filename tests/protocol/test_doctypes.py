"""The document types: the table holds what Nghị định 30/2020 writes (Điều 7, Phụ lục III), the
copy forms and the received-only legal kinds; it is checked whole when read; the helpers find a
type by edXML number or abbreviation and show an unknown incoming type rather than refuse it;
docs/TYPES.md is the same table."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lienthong.protocol import document
from lienthong.protocol.doctypes import (
    MAX_TYPE_CODE,
    DocumentType,
    DocumentTypesError,
    describe_type,
    document_types,
    issued_types,
    parse_types,
    type_by_abbreviation,
    type_by_edxml,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "protocol" / "data" / "document_types.json"
TYPES_DOC = ROOT / "docs" / "TYPES.md"

# Nghị định 30/2020/NĐ-CP, Điều 7 (the 29 administrative types, in its order) with the
# abbreviations of Phụ lục III, mục I; Công văn and Thư công have none.
DECREE = [
    ("Nghị quyết", "NQ"),
    ("Quyết định", "QĐ"),
    ("Chỉ thị", "CT"),
    ("Quy chế", "QC"),
    ("Quy định", "QyĐ"),
    ("Thông cáo", "TC"),
    ("Thông báo", "TB"),
    ("Hướng dẫn", "HD"),
    ("Chương trình", "CTr"),
    ("Kế hoạch", "KH"),
    ("Phương án", "PA"),
    ("Đề án", "ĐA"),
    ("Dự án", "DA"),
    ("Báo cáo", "BC"),
    ("Biên bản", "BB"),
    ("Tờ trình", "TTr"),
    ("Hợp đồng", "HĐ"),
    ("Công văn", ""),
    ("Công điện", "CĐ"),
    ("Bản ghi nhớ", "BGN"),
    ("Bản thỏa thuận", "BTT"),
    ("Giấy ủy quyền", "GUQ"),
    ("Giấy mời", "GM"),
    ("Giấy giới thiệu", "GGT"),
    ("Giấy nghỉ phép", "GNP"),
    ("Phiếu gửi", "PG"),
    ("Phiếu chuyển", "PC"),
    ("Phiếu báo", "PB"),
    ("Thư công", ""),
]
# The wire values documents already carry: they never change.
WIRE_CODES_V1 = [
    "nghi_quyet",
    "quyet_dinh",
    "chi_thi",
    "quy_che",
    "quy_dinh",
    "thong_cao",
    "thong_bao",
    "huong_dan",
    "chuong_trinh",
    "ke_hoach",
    "phuong_an",
    "de_an",
    "du_an",
    "bao_cao",
    "bien_ban",
    "to_trinh",
    "hop_dong",
    "cong_van",
    "cong_dien",
    "ban_ghi_nho",
    "ban_thoa_thuan",
    "giay_uy_quyen",
    "giay_moi",
    "giay_gioi_thieu",
    "giay_nghi_phep",
    "phieu_gui",
    "phieu_chuyen",
    "phieu_bao",
    "thu_cong",
]


def valid_table() -> dict:
    """A small valid table, for the load checks to break one thing at a time."""
    return {
        "source": ["a test"],
        "types": [
            {"code": "cong_van", "name": "Công văn", "abbreviation": "", "edxml_type": 18},
            {"code": "quyet_dinh", "name": "Quyết định", "abbreviation": "QĐ"},
            {"code": "thu_cong", "name": "Thư công", "abbreviation": ""},
            {"code": "luat", "name": "Luật", "abbreviation": "", "legal": True},
        ],
    }


def test_the_administrative_types_are_the_decrees():
    """The issued types that are neither copies nor legal kinds are Điều 7's 29, in its
    order, with Phụ lục III's abbreviations (Bản ghi nhớ BGN, Bản thỏa thuận BTT)."""
    admin = [t for t in document_types().values() if not t.copy and not t.legal]
    assert [(t.name, t.abbreviation) for t in admin] == DECREE
    assert all(t.issued_here for t in admin)
    assert [t.code for t in admin] == WIRE_CODES_V1


def test_the_copy_forms_are_types_a_unit_issues():
    """Bản sao y SY, Bản trích sao TrS, Bản sao lục SL: copies, issued here, not legal."""
    copies = {t.abbreviation: t for t in document_types().values() if t.copy}
    assert {a: t.name for a, t in copies.items()} == {
        "SY": "Bản sao y",
        "TrS": "Bản trích sao",
        "SL": "Bản sao lục",
    }
    assert all(t.issued_here and not t.legal for t in copies.values())


def test_legal_kinds_are_received_only_and_left_out_of_what_a_unit_issues():
    """Hiến pháp, Luật, Pháp lệnh, Nghị định, Thông tư, ... are legal, received, never
    offered for composing; what a unit issues holds no received-only type."""
    received = {t.name: t for t in document_types().values() if not t.issued_here}
    for name in (
        "Hiến pháp",
        "Bộ luật",
        "Luật",
        "Pháp lệnh",
        "Lệnh",
        "Nghị định",
        "Nghị quyết liên tịch",
        "Thông tư",
        "Thông tư liên tịch",
    ):
        assert received[name].legal, name
    assert received["Nghị định"].abbreviation == "NĐ"
    assert received["Thông tư liên tịch"].abbreviation == "TTLT"
    issued = issued_types()
    assert issued and all(t.issued_here for t in issued)
    assert not {t.code for t in issued} & {t.code for t in received.values()}
    assert len(issued) + len(received) == len(document_types())


def test_every_code_fits_the_wire():
    """Codes are at most the wire's MAX_TYPE_CODE characters (DocumentMetadata.type)."""
    assert MAX_TYPE_CODE == document.MAX_TYPE_CODE
    assert all(len(code) <= MAX_TYPE_CODE for code in document_types())


def test_existing_callers_build_types_with_three_fields():
    """The new fields have defaults: DocumentType(code, name, abbreviation) still works."""
    t = DocumentType("cong_van", "Công văn", "")
    assert (t.edxml_type, t.legal, t.copy, t.issued_here) == (None, False, False, True)


def test_the_shared_table_is_read_only():
    """document_types() is cached: no caller can change what the others see."""
    table = document_types()
    with pytest.raises(TypeError):
        table["x"] = DocumentType("x", "X", "")  # type: ignore[index]
    assert "x" not in document_types()


@pytest.mark.parametrize(
    ("number", "code"),
    [(18, "cong_van"), ("18", "cong_van")]
    + [(n, None) for n in (1, 999, -18, True, 18.0, None, "", " 18", "18\n", "١٨", "1" * 40)],
)
def test_type_by_edxml(number, code):
    """edXML Type 18 (the national axis's .NET SDK) is Công văn; a number without a known
    type, or anything that is not one (bool, float, spaces, another script's digits), is None."""
    found = type_by_edxml(number)
    assert (found.code if found else None) == code


@pytest.mark.parametrize(
    ("abbreviation", "code"),
    [
        ("QĐ", "quyet_dinh"),
        ("qđ", "quyet_dinh"),
        ("QyĐ", "quy_dinh"),
        ("BGN", "ban_ghi_nho"),
        ("BTT", "ban_thoa_thuan"),
        ("TrS", "ban_trich_sao"),
        ("TTr", "to_trinh"),
        ("TT", "thong_tu"),
        ("NĐ", "nghi_dinh"),
        ("GN", None),  # the old, wrong abbreviation of Bản ghi nhớ
        ("TTh", None),  # and of Bản thỏa thuận
        ("", None),  # Công văn and Thư công have none: "" names nothing
        ("QĐ ", None),
        (None, None),
    ],
)
def test_type_by_abbreviation(abbreviation, code):
    """The abbreviation of a notation names one type, letter case aside."""
    found = type_by_abbreviation(abbreviation)
    assert (found.code if found else None) == code


def test_describe_type_shows_unknown_types_instead_of_refusing_them():
    """A known code shows its name; an unknown one the sender's name, else the code."""
    assert describe_type("ban_ghi_nho") == "Bản ghi nhớ"
    assert describe_type("quyet_dinh", "QUYẾT ĐỊNH (sender's spelling)") == "Quyết định"
    assert describe_type("van_ban_hn", "  Văn bản hợp nhất ") == "Văn bản hợp nhất"
    assert describe_type("van_ban_hn") == "van_ban_hn"
    assert describe_type("van_ban_hn", "   ") == "van_ban_hn"


def test_the_shipped_table_passes_its_own_checks():
    """The file as shipped parses, every entry with all seven fields spelled out."""
    data = json.loads(DATA.read_text("utf-8"))
    assert parse_types(data) == dict(document_types())
    assert all(len(entry) == 7 for entry in data["types"])


def test_a_valid_small_table_loads():
    types = parse_types(valid_table())
    assert list(types) == ["cong_van", "quyet_dinh", "thu_cong", "luat"]
    assert types["luat"].legal and types["luat"].issued_here


def broken(change) -> dict:
    table = copy.deepcopy(valid_table())
    change(table)
    return table


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t["types"].append(dict(t["types"][1], name="Quyết định 2", abbreviation="X")),
            r"code 'quyet_dinh' appears twice",
        ),
        (
            lambda t: t["types"].append({"code": "qd2", "name": "QĐ khác", "abbreviation": "QĐ"}),
            r"abbreviation 'QĐ' is also that of quyet_dinh",
        ),
        (
            lambda t: t["types"].append({"code": "qd2", "name": "QĐ khác", "abbreviation": "qđ"}),
            r"abbreviation 'qđ' is also that of quyet_dinh",
        ),
        (
            lambda t: t["types"].append(
                {"code": "cv2", "name": "Công văn 2", "abbreviation": "", "edxml_type": 18}
            ),
            r"edxml_type 18 is also that of cong_van",
        ),
        (
            lambda t: t["types"].append({"code": "cv2", "name": "Công văn", "abbreviation": ""}),
            r"name 'Công văn' is also that of cong_van",
        ),
        (lambda t: t["types"][0].update(code="Cong_van"), "code is 1 to 16"),
        (lambda t: t["types"][0].update(code="cong_van\n"), "code is 1 to 16"),
        (lambda t: t["types"][0].update(code="thong_tu_lien_tich"), "code is 1 to 16"),
        (lambda t: t["types"][1].update(abbreviation="QĐ\n"), "abbreviation is empty or"),
        (lambda t: t["types"][1].update(abbreviation="Q Đ"), "abbreviation is empty or"),
        (lambda t: t["types"][1].update(abbreviation="QĐ1"), "abbreviation is empty or"),
        (lambda t: t["types"][1].update(name=" Quyết định"), "name is 1 to"),
        (lambda t: t["types"][1].update(name="Quye\u0301t định"), "NFC"),
        (lambda t: t["types"][0].update(edxml_type=True), "edxml_type is null or"),
        (lambda t: t["types"][0].update(edxml_type="18"), "edxml_type is null or"),
        (lambda t: t["types"][0].update(edxml_type=-1), "edxml_type is null or"),
        (lambda t: t["types"][0].update(legal="yes"), "legal is true or false"),
        (lambda t: t["types"][0].update(issued_here=1), "issued_here is true or false"),
        (lambda t: t["types"][3].update(copy=True), "a copy form is not itself a legal"),
        (lambda t: t["types"][0].update(abbr="CV"), "unknown field abbr"),
        (lambda t: t["types"][0].pop("name"), "missing name"),
        (lambda t: t["types"].append("cong_van"), "expected an object"),
        (lambda t: t.update(types=[]), '"types" is a non-empty list'),
        (lambda t: t.update(source=[]), '"source" is a non-empty list'),
        (lambda t: t.pop("source"), 'exactly "source" and "types"'),
    ],
)
def test_a_broken_table_is_refused_naming_the_fault(change, message):
    """Duplicate codes, names, edXML numbers or abbreviations (case aside), a malformed
    field, a missing or unknown one: refused at load with the entry and field named."""
    with pytest.raises(DocumentTypesError, match=message):
        parse_types(broken(change))


def render_table() -> str:
    """docs/TYPES.md's table, as the JSON says it should read."""

    def yes(flag: bool) -> str:
        return "yes" if flag else ""

    rows = [
        "| code | name | abbreviation | edXML Type | legal | copy | issued here |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in document_types().values():
        edxml = "" if t.edxml_type is None else str(t.edxml_type)
        rows.append(
            f"| `{t.code}` | {t.name} | {t.abbreviation} | {edxml} | {yes(t.legal)} | "
            f"{yes(t.copy)} | {yes(t.issued_here)} |"
        )
    return "\n".join(rows) + "\n"


def test_the_types_document_is_the_table():
    """docs/TYPES.md holds the table of protocol/data/document_types.json, every code,
    abbreviation, number and flag as the JSON has them."""
    text = TYPES_DOC.read_text("utf-8")
    expected = render_table()
    assert expected in text, "docs/TYPES.md is stale; its table should read:\n" + expected
    for t in document_types().values():
        assert f"`{t.code}`" in text
        if t.abbreviation:
            assert f"| {t.abbreviation} |" in text


if __name__ == "__main__":  # print the table for docs/TYPES.md
    print(render_table(), end="")
