"""`lienthong demo`: the province's federation on this machine, through the real paths."""

from __future__ import annotations

import argparse
from pathlib import Path

from lienthong.node.cli.demo import run_demo
from lienthong.node.cli.output import count


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run a centre and the units of Tây Ninh on this machine",
        description=run_demo.__module__ and __doc__,
    )
    p.add_argument("--units", type=count, default=26, help="how many units (1-26, default 26)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("lienthong-demo"),
        help="where the data directories live: a new or empty directory, or one made by an "
        "earlier demo (which resumes); default ./lienthong-demo",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open the web page")
    p.set_defaults(func=demo)


async def demo(args: argparse.Namespace) -> None:
    if not 2 <= args.units <= 26:
        raise SystemExit("lienthong demo: --units is between 2 and 26")
    await run_demo(args.data_dir, args.units, not args.no_browser)
