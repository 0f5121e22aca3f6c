"""The distribution installs one import root, `lienthong`, and works installed from its wheel."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.system.test_demo import UNITS, read_until, stop

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("bootstrap", "crypto", "node", "protocol", "storage")
# What a running node reads from its package beside the code.
DATA_FILES = (
    "lienthong/node/web/templates/inbox.html",
    "lienthong/node/web/static/style.css",
    "lienthong/node/data/tay_ninh.json",
    "lienthong/protocol/data/document_types.json",
    "lienthong/storage/migrations/0001_initial.sql",
)


def test_every_package_folder_is_mapped_under_the_lienthong_root():
    """pyproject.toml lists each folder holding an __init__.py as lienthong.<dotted path>,
    so no subpackage is silently left out of the wheel."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    folders = {
        "lienthong." + ".".join(p.parent.relative_to(ROOT).parts)
        for top in FOLDERS
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == folders
    assert setuptools["package-dir"] == {f"lienthong.{f}": f for f in FOLDERS}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the tracked files (as a clean checkout has them)."""
    src = tmp_path_factory.mktemp("src")
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    for name in filter(None, names.stdout.decode().split("\0")):
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
        check=True,
        timeout=600,
    )
    (built,) = out.glob("lienthong-*.whl")
    return built


@pytest.mark.system
def test_the_wheel_holds_only_the_lienthong_root(wheel):
    """Nothing but lienthong/ and its dist-info: no generic top-level names in site-packages."""
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"lienthong"}
    assert set(DATA_FILES) <= set(names)
    assert not [n for n in names if re.search(r"(^|/)tests?/", n)]
    assert [n for n in names if re.fullmatch(r"lienthong-[^/]+\.dist-info/licenses/LICENSE", n)]
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA")))
    assert b"\nLicense-Expression: Apache-2.0\n" in metadata


@pytest.mark.system
def test_the_installed_wheel_runs_the_demo_outside_the_repository(wheel, tmp_path):
    """A fresh venv with the wheel (not editable), run from a folder outside the repository:
    `lienthong demo` brings up the centre and units and the letter arrives everywhere."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    # The dependencies come from this test run's environment, added as a plain path (its
    # .pth files, among them the editable install of the repository, are not processed).
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_dir())
    site = next((venv / "lib").glob("python3.*/site-packages"))
    (site / "zz_dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
    where = subprocess.run(
        [str(python), "-c", "import lienthong.node, sys; print(lienthong.node.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(site)), where
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    demo = subprocess.Popen(
        [str(venv / "bin" / "lienthong"), "demo", "--units", str(UNITS), "--no-browser"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        read_until(demo, f"arrived: {UNITS - 1}/{UNITS - 1}")
    finally:
        assert "stopped" in stop(demo)
