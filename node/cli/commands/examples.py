"""`lienthong examples --out DIR`: the systemd unit and the commented node.toml.example, as
shipped in the installed package (a wheel install has no repository to copy them from)."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from lienthong.crypto.errors import LienthongError
from lienthong.node.cli.output import emit

FILES = ("lienthong.service", "node.toml.example")


def register(sub: argparse._SubParsersAction) -> None:
    help = "write the systemd unit and the commented node.toml.example into a folder"
    p = sub.add_parser("examples", help=help, description=help)
    p.add_argument("--out", type=Path, required=True, help="the folder to write them into")
    p.add_argument("--force", action="store_true", help="replace files of the same names")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=write_examples)


def write_examples(args: argparse.Namespace) -> None:
    out: Path = args.out
    targets = [out / name for name in FILES]
    if not args.force and (existing := [str(t) for t in targets if t.exists()]):
        raise LienthongError(f"{', '.join(existing)} exist already: --force replaces them")
    out.mkdir(parents=True, exist_ok=True)
    data = resources.files("lienthong.node").joinpath("data")
    for name, target in zip(FILES, targets, strict=True):
        target.write_text(data.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    emit(
        args,
        {"written": [str(t) for t in targets]},
        "\n".join(f"wrote {t}" for t in targets)
        + "\nInstall the unit: docs/OPERATIONS.md, 'Running as a service'.",
    )
