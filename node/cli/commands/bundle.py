"""`lienthong bundle`: a folder that installs lienthong on a machine with no internet.

Made on a machine that reaches the package index, for a target platform: the lienthong wheel
and every dependency's wheel for that platform (pip download --only-binary=:all:),
requirements.txt pinning each to its version and the SHA-256 of its wheel, constraints.txt
with the versions alone, and the install scripts (install.sh, install.ps1) that install
exactly those wheels with the index switched off (pip --no-index --require-hashes). The
hashes are in a requirements file, not the constraints: pip checks a constraint's hash only
if every dependency is also a requirement pinned with ==. Linux
wheels are asked for the manylinux2014 tags (glibc 2.17), not those this machine would
pick, which can need a glibc newer than an office server has. docs/WINDOWS.md follows a
technician through it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lienthong.crypto.errors import LienthongError
from lienthong.node import __version__
from lienthong.node.cli.output import emit
from lienthong.protocol.text import is_decimal

# The targets a bundle is made for: pip's platform tags, newest first (pip takes each tag
# as given, so the older manylinux names are listed for wheels published only under them).
TARGETS = {
    "linux-x86_64": (
        "manylinux2014_x86_64",
        "manylinux_2_17_x86_64",
        "manylinux2010_x86_64",
        "manylinux1_x86_64",
    ),
    "windows-x86_64": ("win_amd64",),
}
DEFAULT_PYTHON = "3.11"  # the version the project supports first (pyproject's requires-python)
WHEELS = "wheels"
CONSTRAINTS = "constraints.txt"
REQUIREMENTS = "requirements.txt"
MANIFEST = "bundle.json"
# A checkout's lock of the project's dependencies: a bundle made from it has those versions.
LOCK = Path(".ci") / "requirements.lock"
# pip runs for minutes on a slow office link, never for ever.
PIP_TIMEOUT_SECONDS = 1800

INSTALL_SH = """#!/bin/sh
# Install lienthong {version} from this folder with no network, into a virtual environment.
#   sh install.sh [TARGET]      TARGET: the environment's folder (default /opt/lienthong)
# PYTHON names the interpreter (default python{python}); it must be Python {python}.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=/opt/lienthong
if [ $# -ge 1 ]; then target=$1; fi
python=python{python}
if [ -n "${{PYTHON-}}" ]; then python=$PYTHON; fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != ({major}, {minor}))'; then
    echo "install.sh: $python is not Python {python}, which this bundle's wheels are for" >&2
    exit 1
fi
"$python" -m venv "$target"
PIP_NO_INDEX=1 "$target/bin/python" -m pip install --no-index --require-hashes \\
    --find-links "$here/{wheels}" -r "$here/{requirements}"
"$target/bin/lienthong" --version
"""

INSTALL_PS1 = """# Install lienthong {version} from this folder with no network, into a virtual
# environment.
#   powershell -ExecutionPolicy Bypass -File install.ps1 [-Target FOLDER] [-Python EXE]
# Default folder: C:\\Program Files\\lienthong. The Python must be {python} (64-bit).
param(
    [string]$Target = (Join-Path $env:ProgramFiles "lienthong"),
    [string]$Python = ""
)
$ErrorActionPreference = "Stop"
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
if ($Python -eq "") {{
    if (Get-Command py -ErrorAction SilentlyContinue) {{ $Python = "py"; $pyArgs = @("-{python}") }}
    else {{ $Python = "python"; $pyArgs = @() }}
}} else {{ $pyArgs = @() }}
& $Python @pyArgs -c "import sys; sys.exit(sys.version_info[:2] != ({major}, {minor}))"
if ($LASTEXITCODE -ne 0) {{
    throw "install.ps1: $Python is not Python {python}, which this bundle's wheels are for"
}}
& $Python @pyArgs -m venv $Target
if ($LASTEXITCODE -ne 0) {{ throw "install.ps1: could not create $Target" }}
$env:PIP_NO_INDEX = "1"
& (Join-Path $Target "Scripts\\python.exe") -m pip install --no-index --require-hashes `
    --find-links (Join-Path $here "{wheels}") -r (Join-Path $here "{requirements}")
if ($LASTEXITCODE -ne 0) {{ throw "install.ps1: pip could not install from $here" }}
& (Join-Path $Target "Scripts\\lienthong.exe") --version
"""


@dataclass(frozen=True, slots=True)
class Bundle:
    """What `bundle` made: where, for what, and each wheel with its hash."""

    out: Path
    target: str
    python: str
    version: str
    wheels: dict[str, str]  # file name -> sha256


def register(sub: argparse._SubParsersAction) -> None:
    help = "make a folder that installs lienthong with no internet (wheels, lock, scripts)"
    p = sub.add_parser("bundle", help=help, description=help)
    p.add_argument("--target", required=True, choices=sorted(TARGETS), help="the platform")
    p.add_argument("--out", type=Path, required=True, help="the folder to make (new or empty)")
    p.add_argument(
        "--python", default=DEFAULT_PYTHON, help=f"the target's Python (default {DEFAULT_PYTHON})"
    )
    p.add_argument(
        "--wheel",
        type=Path,
        help="lienthong's wheel to bundle (default: built from this source checkout)",
    )
    p.add_argument(
        "--constraints",
        type=Path,
        help=f"pin dependencies to this lock (default: the checkout's {LOCK.as_posix()})",
    )
    p.add_argument(
        "--unpinned",
        action="store_true",
        help="take the newest versions, not the lock's (to refresh the lock)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    made = make_bundle(
        args.out,
        args.target,
        python=args.python,
        wheel=args.wheel,
        lock=args.constraints,
        pinned=not args.unpinned,
    )
    emit(
        args,
        made,
        f"Bundle of lienthong {made.version} for {made.target}, Python {made.python}, in "
        f"{made.out}: {len(made.wheels)} wheels, {REQUIREMENTS}, {CONSTRAINTS}, install.sh, "
        "install.ps1.\n"
        "Copy the folder to the office machine and run install.sh (Linux) or install.ps1 "
        "(Windows): docs/WINDOWS.md.",
    )


def source_checkout() -> Path | None:
    """The source checkout this lienthong runs from (editable install), if it is one."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() and (root / "node").is_dir() else None


def _python_version(text: str) -> tuple[int, int]:
    major, dot, minor = text.partition(".")
    if not (dot and major == "3" and is_decimal(minor, 2)):
        raise LienthongError(f"--python {text!r} is not a Python version like 3.11")
    return 3, int(minor)


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=PIP_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise LienthongError(f"pip {args[0]} took over {PIP_TIMEOUT_SECONDS} s") from None
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise LienthongError(f"pip {args[0]} failed:\n{tail}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def wheel_name_version(filename: str) -> tuple[str, str]:
    """A wheel's project name (normalised as pip compares it) and version, from its file name."""
    parts = filename.removesuffix(".whl").split("-")
    if len(parts) < 5 or not filename.endswith(".whl"):
        raise LienthongError(f"{filename} is not a wheel's file name")
    return parts[0].lower().replace("_", "-").replace(".", "-"), parts[1]


def constraints_text(wheels: dict[str, str], header: str, *, hashes: bool = True) -> str:
    """A pip requirements (or constraints) file: each project pinned to its version, with
    its wheels' hashes (pip refuses a wheel whose hash is not listed) unless hashes=False."""
    by_project: dict[tuple[str, str], list[str]] = {}
    for filename, sha in sorted(wheels.items()):
        by_project.setdefault(wheel_name_version(filename), []).append(sha)
    lines = [f"# {line}" for line in header.splitlines()]
    for (name, version), shas in sorted(by_project.items()):
        pins = " \\\n    ".join(f"--hash=sha256:{sha}" for sha in sorted(shas))
        lines.append(f"{name}=={version} \\\n    {pins}" if hashes else f"{name}=={version}")
    return "\n".join(lines) + "\n"


def make_bundle(
    out: Path,
    target: str,
    *,
    python: str = DEFAULT_PYTHON,
    wheel: Path | None = None,
    lock: Path | None = None,
    pinned: bool = True,
) -> Bundle:
    """Make the bundle folder `out` (new, or empty) for `target` and Python `python`; the
    dependencies are those of `lock` (default: the checkout's), or with pinned=False the
    newest that fit."""
    if target not in TARGETS:
        raise LienthongError(f"--target {target!r} is not one of {', '.join(sorted(TARGETS))}")
    major, minor = _python_version(python)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LienthongError(f"{out} exists and is not an empty folder: give a new --out")
    checkout = source_checkout()
    if wheel is None and checkout is None:
        raise LienthongError(
            "this lienthong is not a source checkout: give its wheel with --wheel FILE"
        )
    if wheel is not None and not wheel.is_file():
        raise LienthongError(f"--wheel {wheel} does not exist")
    if not pinned:
        lock = None
    elif lock is None and checkout is not None and (checkout / LOCK).is_file():
        lock = checkout / LOCK
    if lock is not None and not lock.is_file():
        raise LienthongError(f"--constraints {lock} does not exist")
    wheels_dir = out / WHEELS
    wheels_dir.mkdir(parents=True, exist_ok=True)
    try:
        if wheel is None:
            _pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels_dir), str(checkout))
        else:
            shutil.copy2(wheel, wheels_dir / wheel.name)
        own = [p for p in wheels_dir.glob("*.whl") if wheel_name_version(p.name)[0] == "lienthong"]
        if len(own) != 1:
            raise LienthongError(f"expected one lienthong wheel in {wheels_dir}, found {len(own)}")
        version = wheel_name_version(own[0].name)[1]
        platforms = [arg for tag in TARGETS[target] for arg in ("--platform", tag)]
        wanted = [str(own[0])]
        if lock is not None:
            # The lock is a requirements file with hashes (pip then checks every one):
            # lienthong's wheel is asked for by a line that carries its hash too.
            request = out / ".lienthong-request.txt"
            request.write_text(
                f"lienthong @ {own[0].resolve().as_uri()} --hash=sha256:{_sha256(own[0])}\n",
                encoding="utf-8",
            )
            wanted = ["-r", str(lock), "-r", str(request)]
        _pip(
            "download",
            "--quiet",
            "--only-binary=:all:",
            *platforms,
            "--python-version",
            python,
            "--implementation",
            "cp",
            "--dest",
            str(wheels_dir),
            *wanted,
        )
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    (out / ".lienthong-request.txt").unlink(missing_ok=True)
    wheels = {p.name: _sha256(p) for p in sorted(wheels_dir.glob("*.whl"))}
    header = (
        f"lienthong {version} for {target}, Python {python}: every wheel in {WHEELS}/ "
        "pinned with its hash.\nMade by `lienthong bundle`; used by install.sh and install.ps1."
    )
    (out / REQUIREMENTS).write_text(constraints_text(wheels, header), encoding="utf-8")
    (out / CONSTRAINTS).write_text(constraints_text(wheels, header, hashes=False), encoding="utf-8")
    values = {
        "version": version,
        "python": python,
        "major": major,
        "minor": minor,
        "wheels": WHEELS,
        "requirements": REQUIREMENTS,
    }
    (out / "install.sh").write_text(INSTALL_SH.format(**values), encoding="utf-8", newline="\n")
    (out / "install.sh").chmod(0o755)
    (out / "install.ps1").write_text(
        INSTALL_PS1.format(**values), encoding="utf-8-sig", newline="\r\n"
    )
    made = Bundle(out, target, python, version, wheels)
    manifest = {
        "format": "lienthong-bundle",
        "version": 1,
        "lienthong": version,
        "target": target,
        "python": python,
        "made_by": f"lienthong {__version__}",
        "wheels": wheels,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return made
