"""The repository stands alone: no file points outside it to the design notes it grew from."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Spellings of a path out of the repository to its design notes.
OUTSIDE = ("../shared", "shared/DESIGN", "shared/DOMAIN", "shared/FACTS", "shared/STYLE")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    paths = [ROOT / n.decode() for n in names if n]
    return [p for p in paths if p.suffix in {".py", ".md", ".toml", ".cfg", ".txt", ".sh", ""}]


def test_no_file_cites_a_folder_outside_the_repository():
    """Comments, docs and config state their rules where they apply, never by reference."""
    files = tracked_text_files()
    assert len(files) > 50
    offenders = [
        str(p.relative_to(ROOT))
        for p in files
        if p.is_file()
        and p.name != "test_standalone.py"
        and any(s in p.read_text(encoding="utf-8", errors="replace") for s in OUTSIDE)
    ]
    assert offenders == []
