"""`lienthong enrol`, `lienthong keys rotate` and `lienthong directory show`: a unit's trust."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lienthong.bootstrap.directory import DirectoryState, iso
from lienthong.bootstrap.enrolment import (
    Enrolled,
    Pending,
    enrol_online,
    import_certificate,
    write_request,
)
from lienthong.bootstrap.errors import CentreRefused, CentreUnreachable
from lienthong.bootstrap.rotation import rotate
from lienthong.crypto.errors import LienthongError
from lienthong.crypto.keystore import is_sealed
from lienthong.crypto.x509 import ED25519, TLS_ALGORITHMS
from lienthong.node import config as cfg
from lienthong.node.cli.output import EXIT_ERROR, add_data_dir, emit
from lienthong.node.datadir import federation_saver, node_keys, passphrase_of
from lienthong.node.runtime import root_public_key
from lienthong.storage.db import Store, unix_ms


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enrol",
        help="join the federation: online with a token, or by request and certificate files",
        description=(
            "Online: --centre URL --fingerprint FP --token TOKEN. Offline: --request-out FILE "
            "--token TOKEN, then --certificate-in FILE [--fingerprint FP]."
        ),
    )
    add_data_dir(p)
    p.add_argument("--centre", help="https URL of the provincial centre (online)")
    p.add_argument("--fingerprint", help="the centre fingerprint from the enrolment sheet")
    p.add_argument(
        "--token",
        help="the one-time enrolment token from the enrolment sheet (better: --token-file, "
        f"or ${TOKEN_ENV}: a token on the command line lands in the shell's history and in ps)",
    )
    p.add_argument(
        "--token-file", type=Path, help="a file holding the enrolment token; - reads standard input"
    )
    p.add_argument("--request-out", type=Path, help="write a registration request file (offline)")
    p.add_argument(
        "--tls-key",
        choices=TLS_ALGORITHMS,
        help="with --request-out: the federation's TLS key algorithm as the enrolment sheet "
        "gives it (default ed25519; online enrolment reads it from the centre's CA)",
    )
    p.add_argument("--certificate-in", type=Path, help="install the centre's certificate file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=enrol)

    keys = _subcommands(sub, "keys")
    p = keys.add_parser(
        "rotate",
        help="new keys, certified by the centre on the strength of the old key",
        description="new keys, certified by the centre on the strength of the old key",
    )
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=keys_rotate)

    directory = sub.add_parser("directory", help="the federation's signed directory")
    group = directory.add_subparsers(dest="directory_command", metavar="COMMAND")
    help = "the directory in force: version, validity, units, revoked serials, relays"
    p = group.add_parser("show", help=help, description=help)
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=directory_show)


def _subcommands(sub: argparse._SubParsersAction, name: str) -> argparse._SubParsersAction:
    """The sub-command group of an existing command (`keys`), made if absent."""
    parser = sub.choices.get(name) or sub.add_parser(name)
    for action in parser._actions:  # argparse offers no public accessor for this
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")


def _report(args: argparse.Namespace, outcome: Enrolled, what: str) -> None:
    emit(
        args,
        {"status": "enrolled", **outcome.__dict__},
        f"{what}: unit {outcome.code}, certificate serial {outcome.serial} valid until "
        f"{iso(outcome.not_after)}; directory v{outcome.directory_version}.\n"
        f"Centre: {outcome.centre_url or '(from the directory)'}"
        + (f" (fingerprint {outcome.fingerprint})" if outcome.fingerprint else "")
        + f"\nStart the node with: lienthong run --data-dir {args.data_dir}",
    )


TOKEN_ENV = "LIENTHONG_ENROL_TOKEN"  # noqa: S105 - the name of a variable, not a token
MAX_TOKEN_FILE = 4096  # a token is one short line


def _token(args: argparse.Namespace) -> str | None:
    """The enrolment token: --token, else --token-file (- for standard input), else
    $LIENTHONG_ENROL_TOKEN."""
    given = [x for x in (args.token, args.token_file) if x is not None]
    if len(given) > 1:
        raise LienthongError("give the token once: --token or --token-file, not both")
    if args.token_file is not None:
        if str(args.token_file) == "-":
            text = sys.stdin.read(MAX_TOKEN_FILE + 1)
        else:
            try:
                text = args.token_file.read_text(encoding="utf-8")[: MAX_TOKEN_FILE + 1]
            except OSError as exc:
                raise LienthongError(f"--token-file {args.token_file}: {exc.strerror}") from None
        if len(text) > MAX_TOKEN_FILE:
            raise LienthongError(
                f"--token-file holds one token of one line, not {len(text)}+ bytes"
            )
        return text.strip() or None
    return args.token or os.environ.get(TOKEN_ENV) or None


# What to do about each refusal a technician can meet while enrolling.
_HINTS = {
    "TokenExpired": "the token has expired: ask the centre's operator for a new one "
    "(lienthong centre add-unit --code CODE --name NAME --new-token, or 'Mã mới' in the console)",
    "TokenUsed": "the token was used already: if this unit did not enrol, ask for a new token",
    "TokenCancelled": "the token was cancelled: ask the centre's operator for a new one",
    "UnknownToken": "the centre does not know this token: check it against the enrolment sheet",
    "WrongToken": "the token does not match: type it again from the enrolment sheet",
}


async def enrol(args: argparse.Namespace) -> int | None:
    try:
        return await _enrol(args)
    except CentreUnreachable as exc:
        raise LienthongError(
            f"{exc}\nfix: check the centre URL on the enrolment sheet, that this machine reaches "
            "it (network, firewall, proxy), and that the centre is running"
        ) from None
    except CentreRefused as exc:
        hint = _HINTS.get(exc.error)
        raise LienthongError(f"{exc}\nfix: {hint}" if hint else str(exc)) from None


async def _enrol(args: argparse.Namespace) -> int | None:
    if args.tls_key and not args.request_out:
        raise LienthongError(
            "--tls-key goes with --request-out only: online enrolment and --certificate-in "
            "take the algorithm from the centre's CA"
        )
    args.token = _token(args)
    config = cfg.load_config(args.data_dir)
    keys = node_keys(config)
    # keys/tls.key is sealed like the identity key, with the same passphrase.
    sealed = is_sealed(config.path("keys", "identity"))
    passphrase = passphrase_of(config) if sealed else None
    if args.certificate_in:
        if args.centre or args.token or args.request_out:
            raise LienthongError("--certificate-in takes only --fingerprint besides --data-dir")
        outcome = await import_certificate(
            config.node_settings,
            keys,
            args.certificate_in,
            fingerprint=args.fingerprint,
            save_federation=federation_saver(config),
            passphrase=passphrase,
        )
        _report(args, outcome, "Enrolled from the certificate file")
        return None
    if not args.token:
        raise LienthongError(
            "the enrolment token is missing (it is on the enrolment sheet): --token-file FILE, "
            f"--token-file - (standard input) or ${TOKEN_ENV}"
        )
    if args.request_out:
        if args.centre:
            raise LienthongError("--request-out is the offline path: leave out --centre")
        write_request(
            config.node_settings,
            keys,
            args.token,
            args.request_out,
            passphrase=passphrase,
            tls_algorithm=args.tls_key or ED25519,
        )
        emit(
            args,
            {"status": "request_written", "request": str(args.request_out)},
            f"Registration request written to {args.request_out}.\n"
            "Carry it to the centre; the operator runs:\n"
            f"  lienthong centre sign-request --data-dir CENTRE --in {args.request_out.name} "
            "--out CERTFILE\n"
            "Bring CERTFILE back and run:\n"
            f"  lienthong enrol --data-dir {args.data_dir} --certificate-in CERTFILE "
            "--fingerprint FP",
        )
        return None
    if not args.centre or not args.fingerprint:
        raise LienthongError(
            "online enrolment needs --centre URL, --fingerprint FP and --token TOKEN "
            "(offline: --request-out FILE --token TOKEN)"
        )
    result = await enrol_online(
        config.node_settings,
        keys,
        centre_url=args.centre,
        fingerprint=args.fingerprint,
        token=args.token,
        save_federation=federation_saver(config),
        passphrase=passphrase,
    )
    if isinstance(result, Pending):
        emit(
            args,
            {"status": "pending", "code": result.code, "message": result.message},
            f"Waiting for approval: {result.message}",
        )
        return None
    _report(args, result, "Enrolled")
    return None


async def keys_rotate(args: argparse.Namespace) -> None:
    config = cfg.load_config(args.data_dir)
    outcome = await rotate(config.node_settings, passphrase=passphrase_of(config))
    _report(args, outcome, "Keys rotated")
    if not args.json:
        print("Restart the node if it is running: it still holds the old keys.")


async def directory_show(args: argparse.Namespace) -> int:
    config = cfg.load_config(args.data_dir)
    root = root_public_key(config)
    warn_hours = config.get("federation", "directory_warn_hours")
    async with await Store.open(config.store_path) as store:
        state = await DirectoryState.load(store, root, unix_ms, warn_hours=warn_hours)
    warnings = state.warnings(unix_ms())
    directory = state.current
    if directory is None:
        emit(args, {"version": 0, "warnings": warnings}, f"No directory: {warnings[0]}")
        return EXIT_ERROR
    serials: dict[str, list[int]] = {}
    for cert in directory.certificates:
        serials.setdefault(cert.code, []).append(cert.serial)
    units = [
        {
            "code": c.code,
            "name": c.name,
            "serial": c.serial,
            "older_serials": sorted(s for s in serials[c.code] if s != c.serial),
            "reachable": c.reachable,
            "endpoints": list(c.endpoints),
            "not_after": iso(c.not_after),
            "protocols": list(directory.reads(c.code)),
        }
        for c in directory.units()
    ]
    data = {
        "version": directory.version,
        "issued_at": iso(directory.issued_at),
        "expires_at": iso(directory.expires_at),
        "expired": state.expired,
        "centre": {"name": directory.centre_name, "url": directory.centre_url},
        "units": units,
        "revoked": sorted(directory.revoked),
        "relays": list(directory.relays),
        "warnings": warnings,
    }
    lines = [
        f"Directory v{directory.version} of {directory.centre_name} ({directory.centre_url})",
        f"Issued:   {data['issued_at']}",
        f"Expires:  {data['expires_at']}" + ("  (EXPIRED)" if state.expired else ""),
        f"Units ({len(units)}):",
    ]
    for u in units:
        older = f" (older: {', '.join(map(str, u['older_serials']))})" if u["older_serials"] else ""
        where = ", ".join(u["endpoints"]) if u["reachable"] else "via the relay"
        reads = "/".join(map(str, u["protocols"]))
        lines.append(
            f"  {u['code']}  {u['name']}  serial {u['serial']}{older}  {where}  (reads v{reads})"
        )
    lines.append(f"Revoked serials: {', '.join(map(str, data['revoked'])) or 'none'}")
    lines.append(f"Relays: {', '.join(data['relays']) or 'none'}")
    lines += [f"Warning: {w}" for w in warnings]
    emit(args, data, "\n".join(lines))
    return 0
