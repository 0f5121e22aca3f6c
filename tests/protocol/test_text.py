"""Every pattern of the code base matches whole strings, ASCII only: each registered pattern
refuses its valid example with a newline or a space added and with another script's digit,
no module keeps a regular expression of its own, and no validator uses str.isdigit()."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from lienthong.protocol import text
from lienthong.protocol.text import PATTERNS, WholePattern, is_decimal, pattern, words

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("protocol", "crypto", "storage", "bootstrap", "node")
HELPER = ROOT / "protocol" / "text.py"
# Digits of other scripts that str.isdigit() or int() (or \d without re.ASCII) take.
OTHER_DIGITS = ("٣", "３", "²", "߃")
# str methods that take letters or digits of any script: a validator must not rely on them.
UNICODE_CLASSES = {"isdigit", "isdecimal", "isnumeric", "isalnum", "isalpha"}
# Calls of those methods that do not validate input, each with its reason.
NOT_VALIDATORS = {
    ("node/cli/doctor.py", "isalnum"): "a Nagios label rewritten from fixed English check names",
}
# Modules not imported by the walk: running them is running the program.
NOT_IMPORTED = {"__main__"}


def all_modules() -> list[str]:
    """Every module under lienthong.*, imported (so their patterns are registered)."""
    names = []
    for package in PACKAGES:
        top = importlib.import_module(f"lienthong.{package}")
        names.append(top.__name__)
        for info in pkgutil.walk_packages(top.__path__, f"{top.__name__}."):
            if info.name.rsplit(".", 1)[-1] not in NOT_IMPORTED:
                importlib.import_module(info.name)
                names.append(info.name)
    return names


MODULES = all_modules()


def with_other_digit(example: str, digit: str) -> str:
    """The example with its first ASCII digit (or, if it has none, its first character)
    replaced by `digit`."""
    at = next((i for i, ch in enumerate(example) if "0" <= ch <= "9"), 0)
    return example[:at] + digit + example[at + 1 :]


def test_the_walk_finds_the_packages_and_their_patterns():
    """The walk reaches every package, and the patterns the issue named are registered."""
    assert {m.split(".")[1] for m in MODULES} >= set(PACKAGES)
    sources = {p.source for p in PATTERNS.values()}
    assert "[0-7][0-9A-HJKMNP-TV-Z]{25}" in sources  # header.id, reply_to, target
    assert r"[0-9A-Za-z]{1,8}(\.[0-9A-Za-z]{1,8}){1,7}" in sources  # recipients[], issuer.code
    assert len(PATTERNS) >= 20


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_a_pattern_takes_its_example_and_nothing_around_it(name):
    """The example matches; with a newline, a CR LF or a space before or after, it does not."""
    p = PATTERNS[name]
    assert p.matches(p.example)
    for bad in (
        p.example + "\n",
        p.example + "\r\n",
        p.example + " ",
        " " + p.example,
        "\n" + p.example,
        p.example + "\x00",
    ):
        assert not p.matches(bad), f"{name} takes {bad!r}"
        assert p.fullmatch(bad) is None


@pytest.mark.parametrize("name", sorted(PATTERNS))
@pytest.mark.parametrize("digit", OTHER_DIGITS)
def test_a_pattern_refuses_other_scripts_digits(name, digit):
    """'٣', '３', '²' and '߃' in place of a digit are refused (int() would read most)."""
    p = PATTERNS[name]
    bad = with_other_digit(p.example, digit)
    assert not p.matches(bad), f"{name} takes {bad!r}"


def test_module_level_patterns_are_registered():
    """Every compiled pattern a module holds at its top level is a registered one (so the
    two tests above cover it), and every WholePattern found is in the registry."""
    registered = {id(p.regex) for p in PATTERNS.values()}
    stray = []
    for name in MODULES:
        module = importlib.import_module(name)
        if module is text:
            continue
        for attr, value in vars(module).items():
            if isinstance(value, re.Pattern) and id(value) not in registered:
                stray.append(f"{name}.{attr}")
            if isinstance(value, WholePattern) and PATTERNS.get(value.name) is not value:
                stray.append(f"{name}.{attr}")
    assert stray == []


def package_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_no_regular_expression_outside_the_helper():
    """No module but protocol/text.py imports `re` or calls re.* (re.compile, re.match,
    re.search, ...): every pattern is made by text.pattern, in one dialect."""
    offenders = []
    for path in package_files():
        if path == HELPER:
            continue
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import) and any(a.name == "re" for a in node.names):
                offenders.append(f"{where} import re")
            elif isinstance(node, ast.ImportFrom) and node.module == "re":
                offenders.append(f"{where} from re import")
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "re"
            ):
                offenders.append(f"{where} re.{node.attr}")
    assert offenders == []


def test_no_validator_relies_on_unicode_character_classes():
    """No module but the helper calls str.isdigit/isdecimal/isnumeric/isalnum/isalpha, which
    take '²', '٣' or 'Đ': whole numbers are checked by text.is_decimal or a pattern."""
    offenders = []
    for path in package_files():
        if path == HELPER:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in UNICODE_CLASSES
                and (str(path.relative_to(ROOT)), node.attr) not in NOT_VALIDATORS
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}()")
    assert offenders == []


ROUTE_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*:")


def test_route_patterns_come_from_the_registry():
    """No string in the code holds an aiohttp placeholder with its own regular expression
    (`{name:...}`): routes use WholePattern.route, so their patterns are registered."""
    offenders = []
    for path in package_files():
        if path == HELPER:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and ROUTE_PLACEHOLDER.search(node.value)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert offenders == []


def test_route_placeholders_refuse_flag_dependent_escapes():
    """aiohttp compiles a route without re.ASCII, so a route pattern may not use \\d."""
    digits = pattern("test: digits with an escape", r"\d{4}", "2025")
    assert not digits.matches("٢٠٢٥")  # the helper's own dialect is ASCII
    with pytest.raises(ValueError, match=r"re\.ASCII"):
        digits.route("year")
    assert PATTERNS.pop("test: digits with an escape") is digits


def test_a_pattern_is_refused_if_anchored_or_its_example_does_not_match():
    """Anchors would suggest that matching could be partial; a wrong example proves nothing."""
    with pytest.raises(ValueError, match="without"):
        pattern("test: anchored", "^[0-9]+$", "1")
    with pytest.raises(ValueError, match="does not match"):
        pattern("test: wrong example", "[0-9]+", "x")
    assert not any(name.startswith("test:") for name in PATTERNS)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("0", True), ("2340", True), ("1" * 9, True), ("1" * 10, False), ("", False)]
    + [(v, False) for v in (" 1", "1\n", "+1", "-1", "1_0", "1.0", "٣", "３", "²", None, 3)],
)
def test_is_decimal(value, ok):
    """1 to max ASCII digits and nothing else; what int() would also take is refused."""
    assert is_decimal(value, 9) is ok


def test_a_configured_pattern_is_whole_and_ascii():
    """The federation's unit-code pattern from node.toml: anchored or not, it matches whole
    codes and ASCII digits; a broken or oversized one is refused with its name."""
    for source in (r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}", r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$"):
        regex = text.configured(source, "unit.code_pattern")
        assert regex.fullmatch("000.00.05.H53")
        assert not regex.fullmatch("000.00.05.H53\n")
        assert not regex.fullmatch("٠00.00.05.H53")
    with pytest.raises(ValueError, match=r"unit\.code_pattern: .* not a regular expression"):
        text.configured("[0-9", "unit.code_pattern")
    with pytest.raises(ValueError, match="over"):
        text.configured("a" * (text.MAX_CONFIGURED_PATTERN + 1), "unit.code_pattern")


def test_search_words_keep_vietnamese_whole():
    """The search tokenizer is the one Unicode-aware place: it splits, it does not validate."""
    found = words("V/v triển khai, QĐ-UBND 2340")
    assert found == ["V", "v", "triển", "khai", "QĐ", "UBND", "2340"]
