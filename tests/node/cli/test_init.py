"""`lienthong init` writes a node.toml every later command can read: names with any
characters TOML must escape, a passphrase file found again, control characters refused."""

import tomllib

from lienthong.node import config as cfg
from tests.node.cli.test_cli import run

CODE = "000.00.05.H53"


def init(data_dir, name: str, *extra: str):
    return run("init", "--data-dir", str(data_dir), "--code", CODE, "--name", name, *extra)


def test_a_name_toml_must_escape_is_written_and_read_back(tmp_path):
    """Quotes, a backslash and Vietnamese letters survive node.toml (written by tomli-w)."""
    name = 'Sở "Nội" vụ \\ Tây Ninh'
    result = init(tmp_path / "n", name)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "n" / cfg.CONFIG_FILE).read_text(encoding="utf-8")
    assert tomllib.loads(text)["unit"]["name"] == name
    assert cfg.load_config(tmp_path / "n").name == name
    shown = run("keys", "show", "--data-dir", str(tmp_path / "n"))
    assert shown.returncode == 0, shown.stderr


def test_a_name_with_a_line_break_is_refused_and_nothing_is_written(tmp_path):
    """A newline (or any control character) in the unit's name is refused by name, and the
    data directory gets no node.toml that no command could read."""
    for bad in ("Sở Nội vụ\nx", "Sở\u2028Nội vụ", "Sở\x1b[2J"):
        data_dir = tmp_path / f"d{len(bad)}{ord(bad[-1])}"
        result = init(data_dir, bad)
        assert result.returncode == 1, bad
        assert "unit.name" in result.stderr and "control character" in result.stderr
        assert "Traceback" not in result.stderr
        assert not (data_dir / cfg.CONFIG_FILE).exists()


def test_init_with_a_passphrase_file_leaves_a_node_the_next_command_opens(tmp_path):
    """The sealed key opens for `keys show` with no variable set: node.toml names the file."""
    secret = tmp_path / "passphrase"
    secret.write_text("một câu mật khẩu dài\n", encoding="utf-8")
    data_dir = tmp_path / "sealed"
    result = init(data_dir, "Sở Tư pháp", "--passphrase-file", str(secret))
    assert result.returncode == 0, result.stderr
    assert cfg.load_config(data_dir).get("keys", "passphrase_file") == str(secret.resolve())
    shown = run("keys", "show", "--data-dir", str(data_dir))
    assert shown.returncode == 0, shown.stderr
    secret.write_text("another passphrase\n", encoding="utf-8")
    wrong = run("keys", "show", "--data-dir", str(data_dir))
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
