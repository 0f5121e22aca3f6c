"""node.toml.example documents exactly the keys of node/config.py SCHEMA, each with a comment."""

import re
import tomllib
from pathlib import Path

from lienthong.node.config import SCHEMA

EXAMPLE = Path(__file__).resolve().parents[2] / "node.toml.example"
_SECTION = re.compile(r"^\[([a-z_]+)\]\s*$")
_KEY = re.compile(r"^([a-z0-9_]+)\s*=")


def documented_keys(text: str) -> dict[tuple[str, str], str]:
    """(section, key) -> the comment lines right above the key, as one string."""
    found: dict[tuple[str, str], str] = {}
    section, comment = None, []
    for line in text.splitlines():
        stripped = line.strip()
        if match := _SECTION.match(stripped):
            section, comment = match[1], []
        elif stripped.startswith("#"):
            comment.append(stripped.lstrip("# "))
        elif match := _KEY.match(stripped):
            assert section is not None, f"key {match[1]} before any [section]"
            assert (section, match[1]) not in found, f"{section}.{match[1]} shown twice"
            found[(section, match[1])] = " ".join(comment)
            comment = []
        elif not stripped:
            comment = []
    return found


def test_every_schema_key_is_in_the_example_with_a_comment():
    """Each key of SCHEMA appears in its own section of the example, under a comment."""
    documented = documented_keys(EXAMPLE.read_text(encoding="utf-8"))
    missing = [f"{s}.{k}" for s, keys in SCHEMA.items() for k in keys if (s, k) not in documented]
    assert missing == [], f"undocumented in node.toml.example: {missing}"
    silent = [f"{s}.{k}" for (s, k), comment in documented.items() if not comment.strip()]
    assert silent == [], f"keys without a comment above them: {silent}"


def test_the_example_shows_no_key_the_schema_lacks():
    """No key in the example is unknown to SCHEMA (a stale example would be refused at start)."""
    documented = documented_keys(EXAMPLE.read_text(encoding="utf-8"))
    stale = [f"{s}.{k}" for s, k in documented if k not in SCHEMA.get(s, {})]
    assert stale == []


def test_the_example_shows_each_default_and_every_choice():
    """Optional keys show their default; a key with choices names each of them in its comment."""
    text = EXAMPLE.read_text(encoding="utf-8")
    values = tomllib.loads(text)
    documented = documented_keys(text)
    for section, keys in SCHEMA.items():
        for name, key in keys.items():
            if key.default is not None:
                assert values[section][name] == key.default, f"{section}.{name}"
            for choice in key.choices or ():
                assert str(choice) in documented[(section, name)], f"{section}.{name}: {choice}"


def test_required_keys_say_so():
    """Keys without a default are marked Required in their comment."""
    documented = documented_keys(EXAMPLE.read_text(encoding="utf-8"))
    for section, keys in SCHEMA.items():
        for name, key in keys.items():
            if key.default is None:
                assert "Required" in documented[(section, name)], f"{section}.{name}"
