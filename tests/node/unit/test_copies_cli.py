"""`lienthong send --copy-of ID --type ban_sao_y` from the command line: the copy carries
the original's file and `show` names the link both ways; a copy typed as a công văn exits
1 naming the copy forms, with nothing queued."""

from __future__ import annotations

import json

from tests.node.cli.cli_node import B, unit_with_a_letter
from tests.node.cli.test_cli import run

SEND = (
    "send", "--to", B, "--subject", "V/v sao y quyết định", "--signer", "Trương Văn Hùng",
    "--position", "Chánh Văn phòng", "--number", "01/SY-SNV", "--place", "Tây Ninh",
)  # fmt: skip


def cli(data_dir, *args: str) -> dict:
    result = run(*args, "--data-dir", str(data_dir), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_a_copy_from_the_command_line(tmp_path):
    """Exit 0; the copy holds goc.pdf; show of each names the other ("Bản sao của …" on
    the copy); --type cong_van with --copy-of exits 1 and the outbox holds the copy alone."""
    data_dir = tmp_path / "a"
    original = await unit_with_a_letter(data_dir, tmp_path, {"goc.pdf": b"%PDF-1.4 goc"})
    sent = cli(data_dir, *SEND, "--copy-of", original, "--type", "ban_sao_y")
    copy_id = sent["envelope_id"]
    copy = cli(data_dir, "show", copy_id)
    assert [a["name"] for a in copy["attachments"]] == ["goc.pdf"]
    assert [(x["kind"], x["id"]) for x in copy["links"]] == [("copy_of", original)]
    assert copy["links"][0]["text"].startswith("Bản sao của ")
    shown = cli(data_dir, "show", original)
    assert [(x["kind"], x["id"]) for x in shown["links"]] == [("copy_of", copy_id)]
    refused = run(*SEND, "--copy-of", original, "--data-dir", str(data_dir))
    assert refused.returncode == 1
    assert "not as 'cong_van'" in refused.stderr and "Traceback" not in refused.stderr
    assert [d["id"] for d in cli(data_dir, "outbox")["items"]] == [copy_id]
