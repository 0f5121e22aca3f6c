"""`lienthong edxml import` from the command line: the axis's package becomes a document of
the inbox (exit 0, its id in --json), a second import says it is already there, and a
hostile package exits 1 with one line naming what was wrong, nothing stored."""

from __future__ import annotations

import json

from tests.node.cli.cli_node import unit_with_a_letter
from tests.node.cli.test_cli import run
from tests.protocol.test_edxml_roundtrip import DATA

AXIS = DATA / "axis_cong_van.xml"


def inbox(data_dir) -> list[str]:
    result = run("inbox", "--data-dir", str(data_dir), "--json")
    assert result.returncode == 0, result.stderr
    return [d["id"] for d in json.loads(result.stdout)["items"]]


async def test_import_from_the_command_line(tmp_path):
    """Exit 0 and the document in the inbox; again: created false, the same id; a package
    with a DTD: exit 1, "DOCTYPE" named, no traceback, the inbox unchanged."""
    data_dir = tmp_path / "a"
    await unit_with_a_letter(data_dir, tmp_path)
    before = inbox(data_dir)
    first = run("edxml", "import", "--data-dir", str(data_dir), str(AXIS), "--json")
    assert first.returncode == 0, first.stderr
    made = json.loads(first.stdout)
    assert made["created"] and made["sender"] == "000.00.00.G22"
    assert sorted(inbox(data_dir)) == sorted([*before, made["id"]])
    again = run("edxml", "import", "--data-dir", str(data_dir), str(AXIS))
    assert again.returncode == 0, again.stderr
    assert f"Already imported: 8123/VPCP-KSTT from 000.00.00.G22 is {made['id']}" in again.stdout
    bad = tmp_path / "bad.xml"
    bad.write_bytes(AXIS.read_bytes().replace(b"<edXML ", b"<!DOCTYPE edXML []><edXML ", 1))
    refused = run("edxml", "import", "--data-dir", str(data_dir), str(bad))
    assert refused.returncode == 1
    assert "DOCTYPE" in refused.stderr and "Traceback" not in refused.stderr
    assert sorted(inbox(data_dir)) == sorted([*before, made["id"]])
