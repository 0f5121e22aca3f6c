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
