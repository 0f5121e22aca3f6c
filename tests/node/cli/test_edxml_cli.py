"""`lienthong edxml export` writes a stored letter and its decrypted attachments as an edXML
package that the reader takes back field for field; `edxml check` prints a package, or the
error naming what is wrong in it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.node.cli.cli_node import B, unit_with_a_letter
from tests.node.cli.test_cli import run
from tests.node.cli.test_send_official import SEND, SIGNED, cli, data_dir  # noqa: F401 - fixture

AXIS = Path(__file__).parents[2] / "protocol" / "data" / "edxml" / "axis_cong_van.xml"


async def test_a_stored_letter_exports_as_a_package_the_reader_takes(tmp_path):
    """Exit 0; the package holds the letter's number, its sender and this unit as receiver,
    and each attachment with the bytes it was sent with (hash and size)."""
    pdf = b"%PDF-1.4 cong van\n" * 5000
    node_dir = tmp_path / "node"
    letter = await unit_with_a_letter(node_dir, tmp_path, {"Công văn.pdf": pdf, "ds.txt": b""})
    out = tmp_path / "goi.xml"
    result = run("edxml", "export", "--data-dir", str(node_dir), letter, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().count(b"<edXML:edXMLEnvelope") == 1
    checked = run("edxml", "check", str(out), "--json")
    assert checked.returncode == 0, checked.stderr
    s = json.loads(checked.stdout)
    shown = run("show", "--data-dir", str(node_dir), letter, "--json")
    assert shown.returncode == 0, shown.stderr
    assert s["number"] == json.loads(shown.stdout)["number"]
    assert s["sender"] == "000.00.03.H53" and s["receivers"] == ["000.00.02.H53"]
    assert {a["name"]: (a["size"], a["sha256"]) for a in s["attachments"]} == {
        "Công văn.pdf": (len(pdf), hashlib.sha256(pdf).hexdigest()),
        "ds.txt": (0, hashlib.sha256(b"").hexdigest()),
    }
    assert list(tmp_path.glob(".goi.xml.partial")) == []


def test_check_prints_an_axis_package():
    """The axis's công văn: its type, number, DocumentId, signer block and attachments."""
    result = run("edxml", "check", str(AXIS))
    assert result.returncode == 0, result.stderr
    assert "Công văn 8123/VPCP-KSTT (2025-11-24), DocumentId 000.00.00.G22,2025/11/24" in (
        result.stdout
    )
    assert "KT. BỘ TRƯỞNG, CHỦ NHIỆM" in result.stdout
    text = "Danh sách đơn vị: Tây Ninh, Quảng Ngãi.\n"  # its base64 in the package
    assert f"attachment Phụ lục I.txt (text/plain, {len(text.encode())} bytes)" in result.stdout


def test_check_names_what_is_wrong(tmp_path):
    """A package with a DTD, or a missing file: exit 1 and one line naming it, no traceback."""
    bad = tmp_path / "bad.xml"
    bad.write_bytes(AXIS.read_bytes().replace(b"<edXML ", b"<!DOCTYPE edXML []><edXML ", 1))
    result = run("edxml", "check", str(bad))
    assert result.returncode == 1
    assert "DOCTYPE" in result.stderr and "Traceback" not in result.stderr
    missing = run("edxml", "check", str(tmp_path / "none.xml"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_an_outgoing_document_exports_to_its_recipients(data_dir, tmp_path):  # noqa: F811
    """A document this unit sent: To is its recipient, the scheduled time and the staff
    (which edXML writes in the extension and in Bussiness) read back from the package."""
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
        "--staff",
        "Nguyễn Thị Trang",
    )
    out = tmp_path / "di.xml"
    exported = run(
        "edxml", "export", "--data-dir", str(data_dir), sent["envelope_id"], "--out", str(out)
    )
    assert exported.returncode == 0, exported.stderr
    assert b"<edXML:Priority>4</edXML:Priority>" in out.read_bytes()
    s = json.loads(run("edxml", "check", str(out), "--json").stdout)
    assert s["receivers"] == [B] and s["number"] == "05/VP-TTTH"
    assert s["metadata"]["scheduled_at"] == "2025-11-24T14:30"
    assert s["business"]["staff"]["name"] == "Nguyễn Thị Trang"
    assert s["signer"][0] == "KT. CHÁNH VĂN PHÒNG"
