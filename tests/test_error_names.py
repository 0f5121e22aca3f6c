"""Every error name the code can send on the wire is in docs/PROTOCOL.md's table of error
names (16.4), with its kind (transient or permanent), so a client can tell "retry" from "drop".

The names are collected from the code, not listed here: the literals of refusals
(`error_response(status, "Name", …)`, `{"error": "Name"}`, `ItemAnswer.refused("Name", …)`)
anywhere, and the exception classes made on the path that answers a peer, whose class name
becomes the `error` (`type(exc).__name__`)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

from lienthong.crypto.errors import LienthongError
from lienthong.protocol.peer import ERROR_NAME

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("protocol", "crypto", "storage", "bootstrap", "node")
# The modules that run while a peer's request is answered: their exceptions reach the wire.
REQUEST_PATH = (
    "protocol/*.py",
    "storage/*.py",
    "bootstrap/directory.py",
    "node/peers.py",
    "node/http.py",
    "node/unit/documents.py",
    "node/unit/peer_api.py",
    "node/centre/*.py",
)
# Exceptions made in those modules that are never sent, each with where it is raised instead.
NOT_SENT = {
    "BackupError": "storage/backup.py: the backup command",
    "EdxmlError": "protocol/edxml_read.py: edXML packages read by `lienthong edxml`, never "
    "on a peer's request",
    "MigrationError": "storage/db.py: opening the store as the node starts",
    "BodyTooLarge": "node/http.py: a client reading an answer",
    "CacheInvalid": "bootstrap/directory.py: the cached directory read at start",
    "FetchFailed": "bootstrap/directory.py: fetching the centre's directory, as a client",
    "ConfidentialRefused": "node/unit/documents.py: a clerk sending a document",
    "UnitExists": "node/centre/rules.py: the console and the CLI adding a unit",
    "NothingToApprove": "node/centre/rules.py: the console and the CLI approving a unit",
    "ReportRefused": "node/centre/reports.py: sent under the name it carries",
}
# Calls whose argument at this position is the error name they send.
NAMING_CALLS = {"error_response": 1, "_bad_request": 0, "refused": 0, "ReportRefused": 2}


def _import_all() -> None:
    for package in PACKAGES:
        top = importlib.import_module(f"lienthong.{package}")
        for info in pkgutil.walk_packages(top.__path__, f"{top.__name__}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)


def _subclasses(cls: type) -> set[type]:
    found = {cls}
    for sub in cls.__subclasses__():
        found |= _subclasses(sub)
    return found


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _module_of(path: Path):
    dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return importlib.import_module(f"lienthong.{dotted}")


def _name(value: ast.AST, path: Path) -> str | None:
    """A str literal, or a module-level str constant named by `value`, if it is an error name."""
    if isinstance(value, ast.Constant):
        text = value.value
    elif isinstance(value, ast.Name):
        text = getattr(_module_of(path), value.id, None)
    else:
        return None
    return text if isinstance(text, str) and ERROR_NAME.matches(text) else None


def literal_names() -> dict[str, str]:
    """Error names written as literals in refusals anywhere in the code: name -> where."""
    found = {}
    for path in sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
            values: list[ast.AST] = []
            if isinstance(node, ast.Call) and _called(node) in NAMING_CALLS:
                at = NAMING_CALLS[_called(node)]
                values = node.args[at : at + 1]
            elif isinstance(node, ast.Dict):
                values = [
                    v
                    for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value == "error"
                ]
            for value in values:
                name = _name(value, path)
                if name is not None:
                    found[name] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def raised_names() -> dict[str, str]:
    """The LienthongError classes made on the request path: class name -> where."""
    _import_all()
    errors = {c.__name__ for c in _subclasses(LienthongError)}
    found = {}
    for pattern in REQUEST_PATH:
        for path in sorted(ROOT.glob(pattern)):
            for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
                if isinstance(node, ast.Call) and _called(node) in errors:
                    found[_called(node)] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def documented_names() -> set[str]:
    """The names in the first column of PROTOCOL.md's table of error names (16.4)."""
    text = (ROOT / "docs" / "PROTOCOL.md").read_text("utf-8")
    section = text.split("### 16.4 ", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Za-z0-9]+)`", line.split(" | ", 1)[0]))
    return names


def test_the_collection_finds_the_names_it_must():
    """The scan is not empty-handed: literals and classes the issue named are found."""
    literals, raised = literal_names(), raised_names()
    assert {"MalformedRequest", "UnknownPeer", "NoDirectory", "IncompleteRequest"} <= set(literals)
    assert {"EnvelopeNotHereYet", "InvalidField", "UnknownMailbox", "TokenUsed"} <= set(raised)


def test_every_error_name_sent_is_documented_with_its_kind():
    """Each name the code sends is in a row of PROTOCOL.md 16.4, which says transient or
    permanent and what the client does."""
    sent = {**raised_names(), **literal_names()}
    for name in NOT_SENT:
        sent.pop(name, None)
    documented = documented_names()
    missing = {name: where for name, where in sent.items() if name not in documented}
    assert missing == {}


def test_the_names_not_sent_are_still_made_on_the_request_path():
    """The exclusions stay true to the code: each is still made there (else drop it)."""
    assert set(NOT_SENT) <= set(raised_names())


def test_each_row_of_the_table_says_transient_or_permanent():
    """A client reads the kind from the second column."""
    text = (ROOT / "docs" / "PROTOCOL.md").read_text("utf-8")
    section = text.split("### 16.4 ", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows
    assert all(line.split(" | ")[1] in {"transient", "permanent"} for line in rows)
