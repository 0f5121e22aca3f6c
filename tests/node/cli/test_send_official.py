"""`lienthong send` writes the official document as the law does (number as text, the
signature block, place from node.toml, hỏa tốc hẹn giờ, the version-2 fields) and `show`
prints it as on paper; each mistake is an error naming the flag, with nothing queued."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.node.cli.cli_node import B, unit_with_a_letter
from tests.node.cli.test_cli import run

SEND = ("send", "--to", B, "--subject", "V/v triển khai liên thông phần mềm eOffice")
SIGNED = (
    "--signer",
    "Trương Văn Hùng",
    "--position",
    "Phó Chánh Văn phòng",
    "--authority",
    "KT.",
    "--acts-for",
    "Chánh Văn phòng",
)


@pytest.fixture
async def data_dir(tmp_path) -> Path:
    """Unit A, enrolled by hand, with its place and parent body in node.toml."""
    data_dir = tmp_path / "a"
    await unit_with_a_letter(data_dir, tmp_path)
    toml = data_dir / "node.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace('place = ""', 'place = "Tây Ninh"', 1)
    text = text.replace('parent = ""', 'parent = "UBND tỉnh Tây Ninh"', 1)
    toml.write_text(text, encoding="utf-8")
    return data_dir


def cli(data_dir: Path, *args: str) -> dict:
    result = run(*args, "--data-dir", str(data_dir), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_send_and_show_the_official_document(data_dir):
    """Every new flag reaches the stored document; show --json keeps the number as the text
    "05" and the signature block's lines; show prints the head and the block as on paper."""
    sent = cli(
        data_dir,
        *SEND,
        "--number",
        "05/VP-TTTH",
        *SIGNED,
        "--priority",
        "4",
        "--scheduled-at",
        "24/11/2025 14:30",
        "--steering-type",
        "3",
        "--sphere",
        "Các sở, ban, ngành tỉnh",
        "--appendix",
        "Danh sách đơn vị",
        "--appendix",
        "Kế hoạch triển khai",
        "--pages",
        "3",
        "--copies",
        "26",
        "--staff",
        "Nguyễn Thị Trang",
        "--staff-email",
        "trang@tayninh.gov.vn",
        "--date",
        "23/05/2014",
    )
    shown = cli(data_dir, "show", sent["envelope_id"])
    m = shown["metadata"]
    assert (m["number"], m["notation"], shown["number"]) == ("05", "VP-TTTH", "05/VP-TTTH")
    assert shown["signature_block"] == [
        "KT. CHÁNH VĂN PHÒNG",
        "PHÓ CHÁNH VĂN PHÒNG",
        "Trương Văn Hùng",
    ]
    assert m["signer"] == {
        "name": "Trương Văn Hùng",
        "position": "Phó Chánh Văn phòng",
        "authority": "KT.",
        "acts_for": "Chánh Văn phòng",
    }
    assert (m["place"], m["issued_on"], m["issuer"]["parent"]) == (
        "Tây Ninh",
        "2014-05-23",
        "UBND tỉnh Tây Ninh",
    )
    assert (m["urgency"], m["scheduled_at"], m["steering_type"]) == (4, "2025-11-24T14:30", 3)
    assert m["appendixes"] == ["Danh sách đơn vị", "Kế hoạch triển khai"]
    assert (m["sphere"], m["pages"], m["copies"]) == ("Các sở, ban, ngành tỉnh", 3, 26)
    text = run("show", sent["envelope_id"], "--data-dir", str(data_dir)).stdout
    for line in (
        "UBND TỈNH TÂY NINH",
        "Số: 05/VP-TTTH",
        "Tây Ninh, ngày 23 tháng 5 năm 2014",
        "Độ khẩn: Hỏa tốc hẹn giờ — đến trước 24/11/2025 14:30",
        "Loại chỉ đạo (SteeringType): 3",
        "Phụ lục 2: Kế hoạch triển khai",
        "Người ký:\n    KT. CHÁNH VĂN PHÒNG\n    PHÓ CHÁNH VĂN PHÒNG\n    Trương Văn Hùng",
    ):
        assert line in text, (line, text)


def test_the_place_and_the_body_in_charge_come_from_node_toml(data_dir):
    """Without --place the document carries [unit] place; TM. without --acts-for acts for
    [unit] in_charge."""
    toml = data_dir / "node.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text.replace('in_charge = ""', 'in_charge = "Ủy ban nhân dân tỉnh"', 1), encoding="utf-8"
    )
    signed = ("--signer", "Lê Văn A", "--position", "Chủ tịch", "--authority", "TM.")
    sent = cli(data_dir, *SEND, "--number", "2340/VP-TTTH", *signed)
    shown = cli(data_dir, "show", sent["envelope_id"])
    assert shown["metadata"]["place"] == "Tây Ninh"
    assert shown["signature_block"] == ["TM. ỦY BAN NHÂN DÂN TỈNH", "CHỦ TỊCH", "Lê Văn A"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--number", "5/VP-TTTH", *SIGNED), 1, "two digits: 05, not 5"),
        (("--number", "012/VP-TTTH", *SIGNED), 1, "12, not 012"),
        (("--number", "05/VP-TTTH", "--position", "Giám đốc"), 2, "--signer"),
        (("--number", "05/VP-TTTH", *SIGNED[:4], "--authority", "KT."), 1, "--acts-for"),
        (("--number", "05/VP-TTTH", *SIGNED, "--priority", "4"), 1, "--scheduled-at"),
        (
            ("--number", "05/VP-TTTH", *SIGNED, "--scheduled-at", "24/11/2025 14:30"),
            1,
            "hỏa tốc hẹn giờ only",
        ),
        (("--number", "05/VP-TTTH", *SIGNED, "--place", " "), 1, "--place is required"),
        (("--number", "49/2025/QĐ-UBND", *SIGNED, "--year", "2024"), 1, "--year 2024 differs"),
        (("--number", "05/VP-TTTH", *SIGNED, "--type", "luat"), 2, "invalid choice: 'luat'"),
        (("--number", "05/VP-TTTH", *SIGNED, "--date", "2014/05/23"), 1, "--date"),
        (("--number", "05/VP-TTTH", *SIGNED, "--steering-type", "100"), 1, "steering_type"),
    ],
)
def test_a_mistake_names_its_flag_and_queues_nothing(data_dir, args, code, message):
    """Exit 1 (2 for a usage error) with the reason; the outbox stays empty."""
    result = run(*SEND, *args, "--data-dir", str(data_dir))
    assert result.returncode == code, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert cli(data_dir, "outbox", "--all")["total"] == 0
