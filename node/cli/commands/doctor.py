"""`lienthong doctor`: check an installed node and say how to fix each problem."""

from __future__ import annotations

import argparse

from lienthong.node.cli import doctor
from lienthong.node.cli.output import EXIT_ERROR, EXIT_OK, add_data_dir, emit


def register(sub: argparse._SubParsersAction) -> None:
    help = "check config, keys, certificates, directory, centre, clock, disk and ports"
    p = sub.add_parser("doctor", help=help, description=help)
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument(
        "--nagios",
        action="store_true",
        help="answer as a Nagios plugin: one line with perfdata, exit 0 OK, 1 WARNING, "
        "2 CRITICAL, 3 UNKNOWN",
    )
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    checks = await doctor.run_checks(args.data_dir)
    if args.nagios:
        code, line = doctor.nagios(checks)
        print(line)
        return code
    failed = doctor.failed(checks)
    emit(args, {"ok": not failed, "checks": checks}, doctor.render(checks))
    return EXIT_ERROR if failed else EXIT_OK
