"""Whole-string patterns: every validator matches the whole text, ASCII only.

Python's `re.match` stops at a prefix and its `$` also matches before a final
newline, so `^...$` with `.match` takes "000.00.02.H53\\n"; without re.ASCII,
`\\d` takes "٣" and "３", which int() then reads as 3. Every pattern in
lienthong (wire fields, configuration, web forms and routes, CLI arguments) is
therefore made here, by `pattern`: compiled with re.ASCII, always applied with
`fullmatch`, written without anchors, and registered with a valid example so
that tests/protocol/test_text.py can prove, for each, that the example plus a
newline, a space plus the example and the example with a non-ASCII digit are
refused. docs/PROTOCOL.md, section "Conventions", states the same dialect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# \d is [0-9], \w is [A-Za-z0-9_], \s is ASCII whitespace; character classes name code
# points, so a class of ASCII letters and digits holds no other script's characters.
FLAGS = re.ASCII
# Escapes whose meaning depends on the flags: refused in patterns that aiohttp compiles
# itself (route placeholders), where re.ASCII cannot be passed.
_FLAG_DEPENDENT = re.compile(r"\\[dDwWsSbB]", FLAGS)
MAX_CONFIGURED_PATTERN = 1024  # characters of a pattern in node.toml; the default has 31


@dataclass(frozen=True, slots=True)
class WholePattern:
    """A compiled pattern that only ever matches a whole string, with a valid example."""

    name: str
    regex: re.Pattern[str]
    example: str

    @property
    def source(self) -> str:
        return self.regex.pattern

    def fullmatch(self, text: object) -> re.Match[str] | None:
        """The match of the whole of `text` (groups included), or None; None for non-str."""
        return self.regex.fullmatch(text) if isinstance(text, str) else None

    def matches(self, text: object) -> bool:
        return isinstance(text, str) and self.regex.fullmatch(text) is not None

    def route(self, variable: str) -> str:
        """An aiohttp route placeholder `{variable:pattern}` (aiohttp uses fullmatch)."""
        if _FLAG_DEPENDENT.search(self.source):
            raise ValueError(
                f"pattern {self.name!r}: aiohttp compiles routes without re.ASCII, so write "
                "[0-9] and explicit classes instead of \\d, \\w, \\s or \\b"
            )
        return "{" + variable + ":" + self.source + "}"


PATTERNS: dict[str, WholePattern] = {}
"""Every pattern of the code base by name (tests walk it); filled as modules import."""


def pattern(name: str, source: str, example: str) -> WholePattern:
    """Compile and register the pattern `name`; `example` must be a whole valid value."""
    if source.startswith("^") or source.endswith("$"):
        raise ValueError(
            f"pattern {name!r}: write it without ^ and $; it always matches the whole string"
        )
    whole = WholePattern(name, re.compile(source, FLAGS), example)
    if not whole.matches(example):
        raise ValueError(f"pattern {name!r}: its example {example!r} does not match {source}")
    held = PATTERNS.get(name)
    if held is not None and held != whole:
        raise ValueError(f"pattern {name!r} is defined twice, differently")
    PATTERNS[name] = whole
    return whole


DECIMAL = pattern("ASCII decimal digits", "[0-9]+", "2340")


def is_decimal(text: object, max_digits: int) -> bool:
    """1 to `max_digits` ASCII digits `0`-`9` and nothing else (no sign, `_`, space, "²", "٣":
    all of which int() or str.isdigit() would take)."""
    return isinstance(text, str) and 0 < len(text) <= max_digits and DECIMAL.matches(text)


@lru_cache(maxsize=64)  # a node uses one or two configured patterns
def configured(source: str, what: str) -> re.Pattern[str]:
    """A pattern written in configuration (the federation's unit-code pattern), compiled in
    the same dialect: apply it with `fullmatch` only. Raises ValueError naming `what`."""
    if len(source) > MAX_CONFIGURED_PATTERN:
        raise ValueError(f"{what}: the pattern is over {MAX_CONFIGURED_PATTERN} characters")
    try:
        return re.compile(source, FLAGS)
    except re.error as exc:
        raise ValueError(f"{what}: {source!r} is not a regular expression: {exc}") from None


def words(text: str) -> list[str]:
    """The words of a search text: runs of Unicode letters, digits and `_` (like `\\w+` without
    re.ASCII, so Vietnamese words stay whole). For search, not for validation."""
    return "".join(ch if ch.isalnum() or ch == "_" else " " for ch in text).split()
