"""The gateway with real processes: the centre lists the Government Office with C as its
gateway (centre commands while it runs); A's `lienthong send --to` the Office comes out of
C's outgoing folder as edXML; an edXML status dropped into C's incoming folder comes back
to A's timeline, naming the Office (docs/GATEWAY.md)."""

import pytest

from lienthong.protocol.codes import StatusCode
from lienthong.protocol.document import Organisation
from lienthong.protocol.edxml import EdxmlStatus, document_id
from lienthong.protocol.edxml_write import status_to_edxml
from tests.system.harness import Federation, lienthong_json, set_config, wait_until

pytestmark = pytest.mark.system

A, C = "000.00.02.H53", "000.00.04.H53"
VPCP = ("000.00.00.G09", "Văn phòng Chính phủ")
SIGNED = ("--signer", "Trương Văn Hùng", "--position", "Chánh Văn phòng", "--place", "Tây Ninh")


@pytest.fixture
def federation(tmp_path):
    fed = Federation(tmp_path)
    yield fed
    fed.close()


def reads_2(data_dir, code: str) -> bool:
    units = lienthong_json("directory", "show", "--data-dir", str(data_dir))["units"]
    return any(u["code"] == code and 2 in u.get("protocols", [1]) for u in units)


def timeline(data_dir, envelope_id: str) -> list[dict]:
    return lienthong_json("show", "--data-dir", str(data_dir), envelope_id)["timeline"]


def test_a_document_leaves_through_the_gateway_and_its_answer_comes_back(federation):
    """Listed at the running centre, the Office is addressed by A's command line; C writes
    the package into its outgoing folder; the Office's 03 dropped into C's incoming folder
    reaches A's timeline as a 03 from C naming the Office, and the file is in done/."""
    a = federation.add_unit(A, "VP UBND tỉnh Tây Ninh")
    c = federation.add_unit(C, "Sở Thông tin và Truyền thông")
    for node in (a, c):
        set_config(node.data_dir, "federation", "directory_refresh_seconds", 1)
    set_config(c.data_dir, "gateway", "outgoing", "truc/gui")
    set_config(c.data_dir, "gateway", "incoming", "truc/nhan")
    set_config(c.data_dir, "gateway", "scan_seconds", 1)
    centre = str(federation.centre_dir)
    lienthong_json("centre", "gateway", "set", "--data-dir", centre, C, "--json")
    listed = lienthong_json("centre", "external", "add", "--data-dir", centre, *VPCP, "--json")
    assert listed["directory_version"] > 1
    federation.start()
    # A writes version 2 (which carries gateway.to) once C's report says C reads it.
    wait_until(lambda: reads_2(a.data_dir, C), timeout=180, what="C reading version 2")

    sent = lienthong_json(
        "send", "--data-dir", str(a.data_dir), *SIGNED, "--to", VPCP[0],
        "--number", "2340/VP-TTTH", "--date", "05/01/2026",
        "--subject", "V/v kết nối Trục liên thông văn bản quốc gia",
    )  # fmt: skip
    envelope_id = sent["envelope_id"]
    outgoing = c.data_dir / "truc" / "gui"
    package = outgoing / f"{A}_{envelope_id}_{VPCP[0]}.edxml"
    wait_until(package.exists, timeout=120, what="the package in C's outgoing folder")
    assert b"<edXML" in package.read_bytes()[:200]
    assert [p.name for p in outgoing.iterdir()] == [package.name]  # no temporary file left

    answer = EdxmlStatus(
        sender=Organisation(name=VPCP[1], code=VPCP[0]),
        code=StatusCode.ACCEPTED,
        timestamp="2026/01/05 08:30:00",
        document_id=document_id(A, "2026-01-05", "2340/VP-TTTH"),
        description="77",
    )
    incoming = c.data_dir / "truc" / "nhan"
    (incoming / ".vpcp.partial").write_bytes(status_to_edxml(answer))
    (incoming / ".vpcp.partial").rename(incoming / "vpcp-03.edxml")
    taken = wait_until(
        lambda: [p.name for d in ("done", "failed") for p in (incoming / d).glob("vpcp-03*")],
        timeout=120,
        what="the status taken from C's incoming folder",
    )
    assert taken == ["vpcp-03.edxml"], incoming / "failed" / "vpcp-03.edxml.reason.txt"
    accepted = wait_until(
        lambda: [t for t in timeline(a.data_dir, envelope_id) if t["code"] == "03"],
        timeout=120,
        what="the Office's 03 at A",
    )
    assert accepted[0]["from"] == C and accepted[0]["incoming_number"] == 77
    assert accepted[0]["external"] == VPCP[0]
    assert (incoming / "done" / "vpcp-03.edxml").exists()
