"""`lienthong centre ...`: the centre operator's commands (init, units, enrolment, revocation,
the gateway and the organisations outside the directory)."""

from __future__ import annotations

import argparse
import getpass
from datetime import datetime
from pathlib import Path

from lienthong.crypto.errors import LienthongError
from lienthong.crypto.keys import fingerprint
from lienthong.crypto.x509 import ED25519, TLS_ALGORITHMS
from lienthong.node.centre import external
from lienthong.node.centre.rules import (
    DEPLOYMENT_STATES,
    SHEET_DATA_DIRS,
    Issued,
    NewToken,
    open_centre,
)
from lienthong.node.centre.setup import DEFAULT_CENTRE_CODE, DEFAULT_CENTRE_LISTEN, create_centre
from lienthong.node.cli.output import add_command, emit, list_answer
from lienthong.node.datadir import read_passphrase
from lienthong.node.times import iso_time
from lienthong.protocol.limits import MAX_REGISTRATION_BYTES

CENTRE_DATA_DIR = "the centre's data directory"


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser(
        "centre", help="the provincial centre: units, enrolment, directory, revocation"
    ).add_subparsers(dest="centre_command", metavar="COMMAND")

    def command(name, func, help):
        return add_command(group, name, func, help, what=CENTRE_DATA_DIR)

    p = command("init", init, "create the centre: root key, TLS CA, node.toml, first directory")
    p.add_argument("--name", required=True, help="the centre's name, e.g. 'Trung tâm Tin học'")
    p.add_argument("--code", default=DEFAULT_CENTRE_CODE, help="the centre's organisation code")
    p.add_argument("--listen", default=DEFAULT_CENTRE_LISTEN, help="HOST:PORT of the peer API")
    p.add_argument("--public-url", default="", help="URL units use (default https://LISTEN)")
    p.add_argument(
        "--web", default=None, help="HOST:PORT of the console page (default node.web's default)"
    )
    p.add_argument(
        "--require-approval", action="store_true", help="an operator approves each enrolment"
    )
    p.add_argument("--passphrase-file", type=Path, help="seal the root key with this passphrase")
    p.add_argument(
        "--tls-key",
        choices=TLS_ALGORITHMS,
        default=ED25519,
        help="the algorithm of every TLS certificate of the federation: ed25519 (default), or "
        "ecdsa-p256 so that office software on Windows (SChannel, .NET) can connect; it cannot "
        "be changed later (docs/FEDERATION.md)",
    )
    p.add_argument(
        "--database",
        default="",
        help="postgresql://USER@HOST:PORT/DB: keep the centre in this empty PostgreSQL database, "
        "which several centre workers can share (default: SQLite in the data directory)",
    )

    p = command("add-unit", add_unit, "register a unit and print its one-time enrolment token")
    p.add_argument("--code", required=True, help="organisation code, e.g. 000.00.05.H53")
    p.add_argument("--name", required=True, help="the unit's name, e.g. 'Sở Nội vụ'")
    p.add_argument(
        "--state",
        default="deployed",
        choices=[*STATE_NAMES.values(), *DEPLOYMENT_STATES],
        help="deployed (Đã triển khai) or pilot (Thử nghiệm)",
    )
    p.add_argument(
        "--new-token", action="store_true", help="issue a new token for a unit not yet enrolled"
    )
    p.add_argument("--sheet-out", type=Path, help="also write the enrolment sheet to this file")

    command("units", units, "list the units: status, certificate serial, enrolled, last seen")
    command("approve", approve, "approve the waiting enrolment or renewal of a unit").add_argument(
        "--code", required=True, help="the unit's organisation code"
    )
    p = command("revoke", revoke, "revoke a unit's certificates and re-sign the directory")
    p.add_argument("--code", required=True, help="the unit's organisation code")
    p = command("sign-request", sign_request, "answer a registration request file (offline)")
    p.add_argument("--in", dest="source", type=Path, required=True, help="the request file")
    p.add_argument("--out", type=Path, required=True, help="the certificate file to write")
    register_external(group)


def register_external(group) -> None:
    """`centre gateway set` and `centre external add|remove|list|import` (docs/GATEWAY.md)."""

    def command(parent, name, func, help):
        return add_command(parent, name, func, help, what=CENTRE_DATA_DIR)

    gateway = group.add_parser(
        "gateway", help="the unit that carries documents to organisations outside the directory"
    ).add_subparsers(dest="gateway_command", metavar="COMMAND", required=True)
    p = command(gateway, "set", gateway_set, "make a unit the gateway and re-sign the directory")
    p.add_argument("code", help="the gateway unit's organisation code")
    external = group.add_parser(
        "external", help="organisations outside the directory, published in its form 2"
    ).add_subparsers(dest="external_command", metavar="COMMAND", required=True)
    p = command(external, "add", external_add, "list an organisation (or rename it)")
    p.add_argument("code", help="its edXML OrganId, e.g. 000.00.00.G09")
    p.add_argument("name", help="its name, e.g. 'Văn phòng Chính phủ'")
    p = command(external, "remove", external_remove, "take an organisation off the list")
    p.add_argument("code", help="its edXML OrganId")
    command(external, "list", external_list, "the gateway and the organisations listed")
    p = command(external, "import", external_import, "add every organisation of a CSV file")
    p.add_argument("file", type=Path, help="UTF-8 CSV: code,name per line (header optional)")


def operator() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"operator:{getpass.getuser()}"
    except (OSError, KeyError):
        return "operator"


def when(ms: int | None) -> str:
    """A time for people: local time with its UTC offset, to the minute."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000).astimezone().isoformat(sep=" ", timespec="minutes")


async def init(args: argparse.Namespace) -> None:
    created = await create_centre(
        args.data_dir,
        name=args.name,
        code=args.code,
        listen=args.listen,
        public_url=args.public_url,
        web=args.web,
        require_approval=args.require_approval,
        passphrase=read_passphrase(args.passphrase_file),
        tls_key=args.tls_key,
        database=args.database,
    )
    emit(
        args,
        created,
        f"Centre {created.code} ({created.name}) created in {created.data_dir}\n"
        f"Centre URL:              {created.url}\n"
        f"Root key fingerprint:    {created.fingerprint}\n"
        f"TLS certificates:        {created.tls_key}\n"
        "Give the fingerprint to every unit's technician by a separate channel (paper, phone).",
    )


def enrolment_sheet(new: NewToken) -> str:
    """The printable sheet the operator hands to the unit's technician (Vietnamese, English)."""
    enrol = (
        f"lienthong enrol --centre {new.centre_url} \\\n"
        f"       --fingerprint {new.fingerprint} \\\n"
        f"       --token {new.token}"
    )
    # An offline request carries a TLS key, made before the unit can see the centre's CA.
    tls_key = "" if new.tls_key == ED25519 else f" --tls-key {new.tls_key}"
    return "\n".join(
        [
            "PHIẾU ĐĂNG KÝ NÚT LIÊN THÔNG VĂN BẢN",
            "Enrolment sheet for a lienthong node",
            "",
            f"Đơn vị / Unit:                 {new.code}  {new.name}",
            f"Trạng thái / State:            {new.state}",
            f"Trung tâm / Centre:            {new.centre_url}",
            f"Dấu vân tay khóa gốc / Root key fingerprint:  {new.fingerprint}",
            f"Mã đăng ký / Enrolment token:  {new.token}",
            f"Hết hạn / Expires:             {when(new.expires_at)}",
            "",
            "Mã đăng ký chỉ dùng một lần; giữ bí mật cho đến khi đăng ký xong.",
            "The token works once, until it expires; keep it secret until enrolment is done.",
            "",
            f"Thư mục dữ liệu / Data folder: {SHEET_DATA_DIRS};",
            "   chọn nơi khác bằng --data-dir THƯ_MỤC / another with --data-dir DIR.",
            "   Trên Windows gõ mỗi lệnh trên một dòng, bỏ dấu \\.",
            "   On Windows type each command on one line, without the \\.",
            "",
            "1. Tạo nút / Create the node:",
            f'   lienthong init --code {new.code} --name "{new.name}"',
            "2. Đăng ký với trung tâm / Enrol with the centre:",
            f"   {enrol}",
            "3. Nếu dấu vân tay không khớp, dừng lại và gọi trung tâm.",
            "   If the command reports a different fingerprint, stop and call the centre.",
            "4. Nếu trung tâm yêu cầu phê duyệt: chờ trung tâm phê duyệt rồi chạy lại bước 2.",
            "   If the centre requires approval: wait for it, then run step 2 again.",
            "",
            "Không có mạng / No network (air-gapped office), instead of step 2:",
            f"   lienthong enrol --token {new.token} \\",
            f"       --request-out yeu-cau.bin{tls_key}",
            "   Mang tệp đến trung tâm; trung tâm trả lại chung-thu.bin.",
            "   Bring the file to the centre; it returns chung-thu.bin. Then:",
            f"   lienthong enrol --fingerprint {new.fingerprint} \\",
            "       --certificate-in chung-thu.bin",
        ]
    )


async def add_unit(args: argparse.Namespace) -> None:
    async with open_centre(args.data_dir) as centre:
        new = await centre.add_unit(
            args.code,
            args.name,
            state=_stored_state(args.state),
            new_token=args.new_token,
            actor=operator(),
        )
    sheet = enrolment_sheet(new)
    if args.sheet_out is not None:
        args.sheet_out.write_text(sheet + "\n", encoding="utf-8")
    data = {
        "code": new.code,
        "name": new.name,
        "state": new.state,
        "token": new.token,
        "expires_at": new.expires_at,
        "centre_url": new.centre_url,
        "fingerprint": new.fingerprint,
        "tls_key": new.tls_key,
        "sheet": sheet,
    }
    emit(
        args,
        data,
        f"Unit {new.code} ({new.name}) registered; status pending.\n"
        f"Token:        {new.token}\n"
        f"Centre URL:   {new.centre_url}\n"
        f"Fingerprint:  {new.fingerprint}\n"
        f"Expires:      {when(new.expires_at)}\n\n{sheet}",
    )


# The deployment states in English for scripts (the console shows the Vietnamese words the
# province's unit list uses, which are what the store keeps).
STATE_NAMES = dict(zip(DEPLOYMENT_STATES, ("deployed", "pilot"), strict=True))


def _stored_state(given: str) -> str:
    return next((vi for vi, en in STATE_NAMES.items() if en == given), given)


async def units(args: argparse.Namespace) -> None:
    async with open_centre(args.data_dir) as centre:
        records = await centre.units()
    rows = [
        {
            "code": u.code,
            "name": u.name,
            "state": STATE_NAMES.get(u.state, u.state),
            "status": u.status,
            "serial": u.serial,
            "enrolled_at": iso_time(u.enrolled_at),
            "last_seen": iso_time(u.last_seen),
            "awaiting_approval": u.waiting_key is not None,
            "request_fingerprint": None if u.waiting_key is None else fingerprint(u.waiting_key),
        }
        for u in records
    ]
    header = ("CODE", "NAME", "STATE", "STATUS", "SERIAL", "ENROLLED", "LAST SEEN")
    table = [header] + [
        (
            r["code"],
            r["name"],
            r["state"],
            r["status"] + (" (awaiting approval)" if r["awaiting_approval"] else ""),
            "-" if r["serial"] is None else str(r["serial"]),
            when(u.enrolled_at),
            when(u.last_seen),
        )
        for r, u in zip(rows, records, strict=True)
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    text = "\n".join(line.rstrip() for line in lines)
    waiting = [r for r in rows if r["awaiting_approval"]]
    for r in waiting:
        asks = "to renew its certificate" if r["status"] == "active" else "to enrol"
        text += f"\n{r['code']} asks {asks} with key {r['request_fingerprint']}"
    emit(args, list_answer(rows, len(rows), None), text)


async def approve(args: argparse.Namespace) -> None:
    async with open_centre(args.data_dir) as centre:
        issued = await centre.approve(args.code, actor=operator())
    what = "Renewal" if issued.certificate.via == "rotation" else "Enrolment"
    _print_issued(args, issued, f"{what} of {args.code} approved")


async def revoke(args: argparse.Namespace) -> None:
    async with open_centre(args.data_dir) as centre:
        serials = await centre.revoke(args.code, actor=operator())
        version = await centre.directory_version()
    emit(
        args,
        {"code": args.code, "revoked_serials": serials, "directory_version": version},
        f"Unit {args.code} revoked (certificates {', '.join(map(str, serials)) or 'none'}); "
        f"directory v{version} lists the revocation.",
    )


async def sign_request(args: argparse.Namespace) -> None:
    if args.out.exists():
        raise LienthongError(f"{args.out} exists already; choose another --out file")
    with open(args.source, "rb") as f:  # noqa: ASYNC230 - one small read before any await
        raw = f.read(MAX_REGISTRATION_BYTES + 1)
    async with open_centre(args.data_dir) as centre:
        outcome = await centre.enrol(raw, origin=f"file {args.source}")
    if not isinstance(outcome, Issued):
        emit(args, {"status": "pending", "message": outcome.message}, outcome.message)
        return
    args.out.write_bytes(outcome.bundle)
    _print_issued(args, outcome, f"Certificate file written to {args.out}")


def _print_issued(args: argparse.Namespace, issued: Issued, headline: str) -> None:
    cert = issued.certificate
    data = {
        "code": cert.code,
        "serial": cert.serial,
        "key_fingerprint": fingerprint(cert.sign_key),
        "not_after": cert.not_after,
    }
    emit(
        args,
        data,
        f"{headline}: unit {cert.code}, certificate {cert.serial}, "
        f"key {data['key_fingerprint']}, valid until {when(cert.not_after)}",
    )


# Organisations outside the directory (node/centre/external.py, docs/GATEWAY.md)


async def gateway_set(args: argparse.Namespace) -> None:
    async with open_centre(args.data_dir) as centre:
        version = await external.set_gateway(centre, args.code, actor=operator())
    emit(
        args,
        {"gateway": args.code, "directory_version": version},
        f"Unit {args.code} is the gateway; directory v{version} states it.",
    )


async def external_add(args: argparse.Namespace) -> None:
    async with open_centre(args.data_dir) as centre:
        version = await external.add_external(centre, args.code, args.name, actor=operator())
    emit(
        args,
        {"code": args.code, "name": args.name, "directory_version": version},
        f"{args.code} ({args.name}) listed; directory v{version} publishes it.",
    )


async def external_remove(args: argparse.Namespace) -> None:
    async with open_centre(args.data_dir) as centre:
        version = await external.remove_external(centre, args.code, actor=operator())
    emit(
        args,
        {"code": args.code, "directory_version": version},
        f"{args.code} removed; directory v{version} no longer lists it.",
    )


async def external_list(args: argparse.Namespace) -> None:
    async with open_centre(args.data_dir) as centre:
        listed = external.read_list(centre.config)
    rows = [
        {"code": code, "name": name, "gateway": listed.gateway}
        for code, name in sorted(listed.organisations.items())
    ]
    text = f"Gateway: {listed.gateway or '- (none set)'}"
    text += "".join(f"\n{r['code']}  {r['name']}" for r in rows)
    emit(args, list_answer(rows, len(rows), None), text)


async def external_import(args: argparse.Namespace) -> None:
    try:
        with open(args.file, "rb") as f:  # noqa: ASYNC230 - one bounded read before any await
            data = f.read(external.MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise LienthongError(f"cannot read {args.file}: {exc.strerror}") from None
    async with open_centre(args.data_dir) as centre:
        count, version = await external.import_external(
            centre, data, str(args.file), actor=operator()
        )
    emit(
        args,
        {"imported": count, "directory_version": version},
        f"{count} organisation(s) from {args.file} listed; directory v{version} publishes them.",
    )
