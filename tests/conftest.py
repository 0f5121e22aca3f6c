"""What every test shares: tests marked `small_disk` run as root (they mount a tmpfs), or
again inside an unprivileged user and mount namespace (tests/full_disk.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_NAMESPACE = "LIENTHONG_TEST_IN_NAMESPACE"
UNSHARE = ("unshare", "--user", "--map-root-user", "--mount")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "small_disk: mounts a small tmpfs (root, or re-run in a user namespace)"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A `small_disk` test run by a user who may not mount: run it in a namespace where it
    may, and take that run's result as its own."""
    if pyfuncitem.get_closest_marker("small_disk") is None or os.geteuid() == 0:
        return None
    if os.environ.get(IN_NAMESPACE):
        pytest.fail("in the user namespace and still not root: mounting is impossible here")
    item = pyfuncitem.nodeid
    result = subprocess.run(
        [*UNSHARE, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", item],
        cwd=ROOT,
        env={**os.environ, IN_NAMESPACE: "1"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{pyfuncitem.nodeid} in a user namespace:\n{result.stdout}"
    return True
