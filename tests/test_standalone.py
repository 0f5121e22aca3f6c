"""The repository stands alone: no file points to a path outside it (a design note, a
sibling checkout); every relative path a file names leads to something it holds."""

import ast
import io
import re
import subprocess
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A relative path that climbs out of its folder with ".." (as in a comment or a link); not
# the tail of a URL path, which tests of path traversal send on purpose.
CLIMBING = re.compile(r"(?<![/\w%.])(?:\.\./)+[\w.-]+(?:/[\w.-]+)*")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".txt", ".sh", ".html", ""}


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    paths = [ROOT / n.decode() for n in names if n]
    return [p for p in paths if p.suffix in TEXT_SUFFIXES and p.is_file() and not p.is_symlink()]


def outside(path: Path, text: str) -> list[str]:
    """The relative paths in `text` that, taken from `path`'s folder, do not lead to a file
    or folder of the repository (they leave it, or point at something it does not hold)."""
    found = []
    for m in CLIMBING.finditer(text):
        target = (path.parent / m.group(0)).resolve()
        if not (target.is_relative_to(ROOT) and target.exists()):
            found.append(m.group(0))
    return found


def prose(path: Path) -> str:
    """What a file says to its reader: all of a document or a config; of Python source its
    comments and docstrings (its string literals are data: tests send such paths on purpose)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".py":
        return text
    said = [tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline)
            if tok.type == tokenize.COMMENT]  # fmt: skip
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            said.append(ast.get_docstring(node) or "")
    return "\n".join(said)


def test_no_file_points_outside_the_repository():
    """Comments, docs and config state their rules where they apply, never by reference to
    a folder beside the repository."""
    files = tracked_text_files()
    assert len(files) > 50
    offenders = {str(p.relative_to(ROOT)): found for p in files if (found := outside(p, prose(p)))}
    assert offenders == {}


def test_the_check_sees_a_path_that_climbs_out(tmp_path):
    """A reference out of the repository, or to a folder it does not hold, is found; one
    into another folder of the repository is not."""
    top = ROOT / "README.md"
    assert outside(top, "see ../notes/DESIGN.md") == ["../notes/DESIGN.md"]
    assert outside(ROOT / "node" / "x.py", "(../notes/DOMAIN.md)") == ["../notes/DOMAIN.md"]
    assert outside(ROOT / "docs" / "X.md", "see ../bench/RESULTS.md") == []
    assert outside(top, "GET /static/../../../etc/passwd") == []
