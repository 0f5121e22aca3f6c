"""The command line as a technician meets it: errors are messages, not tracebacks."""

import subprocess
import sys


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lienthong.node.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def test_a_bad_data_directory_is_a_clear_error_not_a_traceback(tmp_path):
    """A command on a directory without node.toml exits 1 and says how to create it."""
    result = run("inbox", "--data-dir", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "lienthong init" in result.stderr and "Traceback" not in result.stderr


def test_a_count_is_ascii_digits_only(tmp_path):
    """--limit '٣' or ' 3' is a usage error naming the value (int() would read 3), before the
    data directory is looked at."""
    for value in ("٣", " 3", "1_0", "3\n"):
        result = run("inbox", "--data-dir", str(tmp_path / "nothing"), "--limit", value)
        assert result.returncode == 2, value
        assert repr(value) in result.stderr and "digits 0-9" in result.stderr
