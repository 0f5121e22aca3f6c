"""`lienthong bundle`: a folder that installs lienthong with no network, and the lock it pins.

The system tests reach the package index once to make the bundles (allowed here); the
install from the bundle then runs with the index off (--no-index, PIP_NO_INDEX=1, no pip
configuration) and, where this user may, in a network namespace with no network at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from lienthong.crypto.errors import LienthongError
from lienthong.node import __version__
from lienthong.node.cli.commands import bundle

ROOT = Path(__file__).resolve().parents[3]
LOCK = ROOT / bundle.LOCK


def _lock_pins(text: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a requirements file that `constraints_text` wrote."""
    pins: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for line in text.splitlines():
        line = line.strip().removesuffix("\\").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash=sha256:"):
            pins[name][1].append(line.removeprefix("--hash=sha256:"))
        else:
            name, version = line.split("==")
            pins[name] = (version, [])
    return pins


def test_requirements_pin_each_project_with_its_wheels_hashes():
    """Wheels of one project and version become one line with every hash; without hashes,
    the versions alone; names are compared as pip normalises them."""
    wheels = {
        "aiohttp-3.14.5-cp311-cp311-win_amd64.whl": "b" * 64,
        "aiohttp-3.14.5-cp311-cp311-manylinux2014_x86_64.whl": "a" * 64,
        "tomli_w-1.2.0-py3-none-any.whl": "c" * 64,
    }
    text = bundle.constraints_text(wheels, "dong dau")
    assert text.startswith("# dong dau\n")
    assert _lock_pins(text) == {
        "aiohttp": ("3.14.5", ["a" * 64, "b" * 64]),
        "tomli-w": ("1.2.0", ["c" * 64]),
    }
    plain = bundle.constraints_text(wheels, "x", hashes=False)
    assert plain == "# x\naiohttp==3.14.5\ntomli-w==1.2.0\n"


def test_bad_arguments_are_refused_before_anything_is_made(tmp_path):
    """An unknown target, a Python that is not 3.N, a folder with files in it, a missing
    wheel: each refused by name, and nothing is written."""
    out = tmp_path / "out"
    with pytest.raises(LienthongError, match="--target 'macos'"):
        bundle.make_bundle(out, "macos")
    with pytest.raises(LienthongError, match=r"--python '3\.x'"):
        bundle.make_bundle(out, "linux-x86_64", python="3.x")
    with pytest.raises(LienthongError, match=r"--wheel .* does not exist"):
        bundle.make_bundle(out, "linux-x86_64", wheel=tmp_path / "none.whl")
    assert not out.exists()
    out.mkdir()
    (out / "giay-to.txt").write_text("x", encoding="utf-8")
    with pytest.raises(LienthongError, match="not an empty folder"):
        bundle.make_bundle(out, "linux-x86_64")
    assert [p.name for p in out.iterdir()] == ["giay-to.txt"]


def test_the_lock_pins_every_dependency_of_the_project():
    """.ci/requirements.lock pins each dependency pyproject.toml names, to a version its
    specifier allows, with at least one hash."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    pins = _lock_pins(LOCK.read_text("utf-8"))
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-").replace(".", "-")
        assert name in pins, f"{name} is not in {bundle.LOCK}"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version), (name, version)
        assert hashes


def _offline_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which pip has no index, no configuration and no extra links."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    return env | {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "HOME": str(tmp_path)}


def _no_network() -> list[str]:
    """A prefix that runs a command with no network at all, where this user may."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


@pytest.fixture(scope="module")
def linux_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "lienthong-linux"
    made = bundle.make_bundle(out, "linux-x86_64")
    assert made.version == __version__
    return out


@pytest.mark.system
def test_a_linux_bundle_installs_with_no_network(linux_bundle, tmp_path):
    """The bundle made from this checkout holds lienthong's wheel and a manylinux2014 or
    pure wheel of each dependency, at the lock's versions; its install.sh, run with no index
    and no network, gives a venv whose `lienthong --version` answers."""
    manifest = json.loads((linux_bundle / bundle.MANIFEST).read_text("utf-8"))
    names = set(manifest["wheels"])
    assert f"lienthong-{__version__}-py3-none-any.whl" in names
    compiled = [n for n in names if not n.endswith("-none-any.whl")]
    # Each compiled wheel runs on glibc 2.17 (CentOS 7, Debian 8) or older, not only on the
    # newer glibc this machine would pick wheels for.
    old_glibc = {f"manylinux{t}_x86_64" for t in ("2014", "_2_17", "2010", "_2_12", "1", "_2_5")}
    assert compiled
    for name in compiled:
        assert set(name.removesuffix(".whl").split("-")[-1].split(".")) & old_glibc, name
    pins = _lock_pins((linux_bundle / bundle.REQUIREMENTS).read_text("utf-8"))
    locked = _lock_pins(LOCK.read_text("utf-8"))
    assert {n: v for n, (v, _) in pins.items() if n != "lienthong"} == {
        n: v for n, (v, _) in locked.items()
    }
    venv = tmp_path / "venv"
    result = subprocess.run(
        [*_no_network(), "sh", str(linux_bundle / "install.sh"), str(venv)],
        env=_offline_env(tmp_path) | {"PYTHON": sys.executable},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().endswith(f"lienthong {__version__}")
    again = subprocess.run(
        [str(venv / "bin" / "lienthong"), "--version"],
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert again.stdout.strip() == f"lienthong {__version__}"


@pytest.mark.system
def test_a_wheel_whose_hash_does_not_match_is_refused(linux_bundle, tmp_path):
    """A bundle whose wheel was altered after it was made installs nothing: pip checks each
    wheel against requirements.txt and names the one that does not match."""
    copy = tmp_path / "bundle"
    shutil.copytree(linux_bundle, copy)
    victim = next((copy / bundle.WHEELS).glob("tomli_w-*.whl"))
    victim.write_bytes(victim.read_bytes() + b"\0")
    venv = tmp_path / "venv"
    result = subprocess.run(
        [*_no_network(), "sh", str(copy / "install.sh"), str(venv)],
        env=_offline_env(tmp_path) | {"PYTHON": sys.executable},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
    )
    assert result.returncode != 0
    assert "DO NOT MATCH THE HASHES" in result.stderr and "tomli" in result.stderr
    assert not (venv / "bin" / "lienthong").exists()


@pytest.mark.system
def test_a_windows_bundle_holds_win_amd64_wheels_and_its_script(linux_bundle, tmp_path):
    """A Windows bundle (made here, installed on Windows: docs/WINDOWS.md) has a win_amd64
    wheel of every compiled dependency, the lock's versions and hashes, and install.ps1
    installing requirements.txt with the index off."""
    own = next((linux_bundle / bundle.WHEELS).glob("lienthong-*.whl"))
    out = tmp_path / "lienthong-windows"
    bundle.make_bundle(out, "windows-x86_64", wheel=own)
    names = [p.name for p in (out / bundle.WHEELS).glob("*.whl")]
    compiled = [n for n in names if not n.endswith("-none-any.whl")]
    assert compiled and all(n.endswith("win_amd64.whl") for n in compiled), compiled
    assert any(n.startswith("cryptography-") for n in compiled)
    locked = _lock_pins(LOCK.read_text("utf-8"))
    pins = _lock_pins((out / bundle.REQUIREMENTS).read_text("utf-8"))
    for name, (version, hashes) in pins.items():
        if name != "lienthong":
            assert locked[name][0] == version and set(hashes) <= set(locked[name][1]), name
    script = (out / "install.ps1").read_bytes()
    assert script.startswith(b"\xef\xbb\xbf") and b"\r\n" in script  # as PowerShell 5 reads
    text = script.decode("utf-8-sig")
    assert "--no-index --require-hashes" in text and bundle.REQUIREMENTS in text
