"""docs/SECURITY.md names a test for every mitigation, and every test it names exists."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "SECURITY.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def table_rows(text: str) -> list[str]:
    """Rows of the threat tables: lines starting with '|' that are not headers or rules."""
    return [
        line
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith(("| attack", "| fault", "|---"))
    ]


def test_every_named_test_exists():
    """A reference to a missing file or function is a broken promise of the review."""
    text = DOC.read_text(encoding="utf-8")
    references = REFERENCE.findall(text)
    assert len(references) >= 40, "the review names its tests as `tests/x.py::test_y`"
    missing = [
        f"{file}::{name}"
        for file, name in references
        if not (ROOT / file).exists() or name not in defined_tests(ROOT / file)
    ]
    assert not missing, f"docs/SECURITY.md names tests that do not exist: {missing}"


def test_every_threat_row_names_a_test():
    """Each row of each threat table (attack | what stops it | test) has at least one test."""
    threats = DOC.read_text(encoding="utf-8").split("## Findings of this review")[0]
    rows = table_rows(threats)
    assert len(rows) >= 30
    untested = [row[:80] for row in rows if not REFERENCE.search(row.rsplit("|", 2)[-2])]
    assert not untested, f"rows without a test: {untested}"
