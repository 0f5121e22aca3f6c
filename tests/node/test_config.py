"""node.toml: the example is valid, unknown keys and bad values are refused by name."""

from pathlib import Path

import pytest

from lienthong.node.config import SCHEMA, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "node.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_example_is_valid_and_documents_every_key(tmp_path):
    """node.toml.example loads and mentions every key of the schema."""
    example = (ROOT / "node.toml.example").read_text(encoding="utf-8")
    config = load_config(write(tmp_path, example))
    assert config.code == "000.00.05.H53"
    for section, keys in SCHEMA.items():
        assert f"[{section}]" in example
        for name in keys:
            assert f"\n{name} = " in example, f"{section}.{name} is not in node.toml.example"


def test_unknown_key_is_refused_by_name(tmp_path):
    """A misspelt key names itself and lists the allowed ones."""
    d = write(tmp_path, '[unit]\ncode = "000.00.05.H53"\nname = "X"\nnmae = "Y"\n')
    with pytest.raises(ConfigError, match=r"unknown key unit\.nmae; allowed: code, name"):
        load_config(d)


def test_bad_values_are_refused_with_what_is_allowed(tmp_path):
    """A wrong type, a value outside the choices and a bad code each say what is allowed."""
    base = '[unit]\ncode = "000.00.05.H53"\nname = "X"\n'
    with pytest.raises(ConfigError, match=r"node\.reachable must be a bool"):
        load_config(write(tmp_path, base + '[node]\nreachable = "no"\n'))
    with pytest.raises(ConfigError, match="allowed: unit, centre"):
        load_config(write(tmp_path, base + '[node]\nrole = "relay"\n'))
    with pytest.raises(ConfigError, match=r"unit\.code"):
        load_config(write(tmp_path, '[unit]\ncode = "5.H53"\nname = "X"\n'))
    with pytest.raises(ConfigError, match="HOST:PORT"):
        load_config(write(tmp_path, base + '[node]\nweb = "8080"\n'))


def test_missing_file_says_how_to_create_it(tmp_path):
    """Without node.toml the error names the init command."""
    with pytest.raises(ConfigError, match="lienthong init"):
        load_config(tmp_path)


def test_values_are_matched_whole_and_in_ascii_digits(tmp_path):
    """A code or an address with a trailing newline or other digits is refused by name, and
    a code_pattern that is no regular expression is refused, not raised as a crash."""
    name = 'name = "X"\n'
    for code in ("000.00.05.H53\\n", "000.00.05.H53 ", "٠00.00.05.H53"):
        with pytest.raises(ConfigError, match=r"unit\.code"):
            load_config(write(tmp_path, f'[unit]\ncode = "{code}"\n{name}'))
    base = '[unit]\ncode = "000.00.05.H53"\nname = "X"\n'
    for web in ("127.0.0.1:8080\\n", "127.0.0.1:٨٠٨٠"):
        with pytest.raises(ConfigError, match="HOST:PORT"):
            load_config(write(tmp_path, base + f'[node]\nweb = "{web}"\n'))
    with pytest.raises(ConfigError, match=r"code_pattern.*not a regular expression"):
        load_config(write(tmp_path, base + "code_pattern = '[0-9'\n"))
    anchored = load_config(
        write(tmp_path, base + r"code_pattern = '^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$'" + "\n")
    )
    assert anchored.code == "000.00.05.H53"
