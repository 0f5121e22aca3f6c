"""`export` writes every attachment under a name the file system takes: a 254-character
Vietnamese name is shortened (extension kept, under 255 bytes in UTF-8), a repeated one
numbered, and metadata.json says which file holds which attachment."""

from __future__ import annotations

import json

from lienthong.node.unit.attachments import (
    MAX_EXPORT_NAME_BYTES,
    MAX_FILE_NAME_BYTES,
    SHORTENED,
    export_name,
)
from tests.node.cli.cli_node import unit_with_a_letter
from tests.node.cli.test_cli import run

# 254 characters of Vietnamese (about 330 bytes in UTF-8), single spaces, ending in .pdf.
WORDS = "Báo cáo tổng hợp kết quả thực hiện nhiệm vụ chuyển đổi số của Sở Nội vụ tỉnh Tây Ninh "
LONG = (WORDS * 4)[: 254 - len(".pdf")].rstrip() + ".pdf"


def test_export_names_fit_the_file_system_and_keep_the_extension():
    """A name over MAX_EXPORT_NAME_BYTES is cut on a character boundary, marked, and keeps
    its extension; a short name is kept; a taken one gets " (2)"; metadata.json is taken."""
    assert len(LONG.encode("utf-8")) > MAX_FILE_NAME_BYTES
    taken = {"metadata.json"}
    short = export_name(LONG, taken)
    assert short.endswith(SHORTENED + ".pdf") and len(short.encode()) <= MAX_EXPORT_NAME_BYTES
    assert LONG.startswith(short.removesuffix(SHORTENED + ".pdf"))
    second = export_name(LONG, taken)
    assert second.endswith(SHORTENED + " (2).pdf") and len(second.encode()) <= MAX_EXPORT_NAME_BYTES
    assert export_name("công văn.pdf", taken) == "công văn.pdf"
    assert export_name("công văn.pdf", taken) == "công văn (2).pdf"
    assert export_name("metadata.json", taken) == "metadata (2).json"
    no_extension = export_name("ư" * 200, set())
    assert len(no_extension.encode()) <= MAX_EXPORT_NAME_BYTES and no_extension.endswith(SHORTENED)


async def test_export_of_a_254_character_vietnamese_name_is_shortened_safely(tmp_path):
    """The probe's case through the command line: exit 0 (it was a traceback), the file
    written under a shortened name with its extension and its bytes, a short name kept, and
    metadata.json mapping each attachment's name to its file."""
    pdf = b"%PDF-1.4 bao cao\n" * 1000
    attachments = {LONG: pdf, "Phụ lục.pdf": b"%PDF-1.4 phu luc 1\n"}
    data_dir = tmp_path / "node"
    incoming = await unit_with_a_letter(data_dir, tmp_path, attachments)
    out = tmp_path / "xuat"
    result = run("export", "--data-dir", str(data_dir), incoming, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    files = {a["name"]: a["file"] for a in meta["attachments"]}
    assert set(files) == set(attachments)
    assert files["Phụ lục.pdf"] == "Phụ lục.pdf"
    long_file = files[LONG]
    assert long_file.endswith(".pdf") and len(long_file.encode()) <= MAX_EXPORT_NAME_BYTES
    assert (out / long_file).read_bytes() == pdf
    assert sorted(p.name for p in out.iterdir()) == sorted([*files.values(), "metadata.json"])
