"""`lienthong demo`: the province's federation on one machine, through the real paths.

A centre and the units of Tây Ninh's list (node/data/tay_ninh.json), each a real
data directory under DIR (`centre/` and one per organisation code), each a
`lienthong run` process on 127.0.0.1, every unit enrolled through the centre's
real enrolment API. One clerk login per unit. The province office sends letter
2340/VP-TTTH to every unit and the demo shows it arriving. Running it again on
the same DIR resumes: nothing is created or sent twice.

DIR belongs to the demo: it holds a marker file (lienthong-demo.json), and the demo
refuses any other non-empty directory, a node's data directory above all, rather
than mix its nodes into it.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import webbrowser
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lienthong.bootstrap.enrolment import enrol_online
from lienthong.crypto.errors import LienthongError
from lienthong.crypto.files import create_private
from lienthong.node import config as cfg
from lienthong.node import platform
from lienthong.node.centre.rules import open_centre
from lienthong.node.centre.setup import create_centre
from lienthong.node.datadir import create_node, federation_saver, node_keys
from lienthong.node.runtime import context
from lienthong.node.unit.documents import send_document
from lienthong.protocol.codes import Urgency
from lienthong.protocol.document import DocumentMetadata, Organisation, Signer
from lienthong.storage import outbox
from lienthong.storage.db import Store, check_schema
from lienthong.storage.users import add_user, get_user

READY_SECONDS = 90.0  # 27 Python processes starting at once on 2 cores
ARRIVAL_SECONDS = 180.0
CLERK = "vanthu"
OPERATOR = "quantri"  # the centre operator's console account
CENTRE_LOGIN = "centre"  # its key in logins.json
MARKER = "lienthong-demo.json"  # what tells a demo's DIR from any other directory
MARKER_FORMAT = "lienthong-demo"
MAX_MARKER_BYTES = 4096  # the marker is a one-line JSON object; anything larger is not ours
# What a demo writes in DIR besides the data directories named by organisation code.
DEMO_ENTRIES = frozenset(
    {MARKER, "centre", "logs", "logins.json", "letter.json", "danh-sach-don-vi.csv"}
)
LOG_TAIL_BYTES = 4096  # read back from a node's log to say why it stopped at start


class DemoError(LienthongError):
    """The demo cannot run here: DIR is not a demo directory, or a node did not start."""


def check_demo_dir(root: Path, unit_codes: set[str]) -> None:
    """Refuse a DIR that is neither new, empty, nor made by the demo: never mix nodes into it."""
    if not root.exists():
        return
    if not root.is_dir():
        raise DemoError(f"{root} is not a directory: give lienthong demo --data-dir a directory")
    entries = sorted(p.name for p in root.iterdir())
    if not entries:
        return
    if MARKER in entries:
        _check_marker(root / MARKER)
        return
    again = "give the demo a directory of its own, new or empty (e.g. --data-dir lienthong-demo)"
    if cfg.CONFIG_FILE in entries:
        raise DemoError(
            f"{root} is a node's data directory (it holds {cfg.CONFIG_FILE}), not a demo "
            f"directory: the demo would mix its nodes into it; {again}"
        )
    foreign = [e for e in entries if e not in DEMO_ENTRIES and e not in unit_codes]
    if foreign or "centre" not in entries:
        listed = foreign or entries
        shown = ", ".join(listed[:5]) + (" ..." if len(listed) > 5 else "")
        raise DemoError(
            f"{root} is not empty and was not made by lienthong demo (it holds {shown}); {again}"
        )
    # A demo directory made before the marker existed: the demo's own entries only.


def _check_marker(path: Path) -> None:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_MARKER_BYTES + 1)
        data = json.loads(raw) if len(raw) <= MAX_MARKER_BYTES else None
    except (OSError, ValueError) as exc:
        raise DemoError(f"{path} is not a readable demo marker: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != MARKER_FORMAT:
        raise DemoError(f"{path} is not a lienthong demo marker (format is not {MARKER_FORMAT!r})")


@dataclass
class Unit:
    code: str
    name: str
    state: str


def province() -> tuple[Unit, list[Unit], str]:
    """(centre, units, sender code) from the province's list, kept as data."""
    text = (
        resources.files("lienthong.node").joinpath("data/tay_ninh.json").read_text(encoding="utf-8")
    )
    data = json.loads(text)
    units = [Unit(u["code"], u["name"], u["state"]) for u in data["units"]]
    return Unit(data["centre"]["code"], data["centre"]["name"], ""), units, data["sender"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Whether a listener holds the port, probed as each platform needs (node/platform.py:
    on POSIX a stopped node's connections in TIME_WAIT do not count; on Windows a listener
    on any address does)."""
    return platform.port_is_free("127.0.0.1", port) is not None


class Demo:
    def __init__(self, root: Path, count: int) -> None:
        self.root = root.resolve()
        self.centre, all_units, self.sender = province()
        self.units = all_units[:count]
        if self.sender not in {u.code for u in self.units}:
            self.units = [u for u in all_units if u.code == self.sender] + self.units[:-1]
        self.processes: dict[str, subprocess.Popen] = {}
        self.log_start: dict[str, int] = {}  # where this run's lines begin in each log
        self.logins_path = self.root / "logins.json"

    def dir_of(self, code: str) -> Path:
        return self.root / ("centre" if code == self.centre.code else code)

    def check(self) -> None:
        """Before anything starts: DIR is the demo's, and no store in it is too new."""
        codes = {u.code for u in province()[1]}
        check_demo_dir(self.root, codes)
        for code in [self.centre.code, *sorted(codes)]:
            store = self.dir_of(code) / "store.sqlite3"
            if store.is_file():
                check_schema(store)  # a newer lienthong's store: one message, nothing started

    # -- creation (skipped for what exists: a second run resumes) ---------------------------

    async def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        marker = self.root / MARKER
        if not marker.exists():
            marker.write_text(
                json.dumps({"format": MARKER_FORMAT, "version": 1}) + "\n", encoding="utf-8"
            )
        centre_dir = self.dir_of(self.centre.code)
        if not (centre_dir / cfg.CONFIG_FILE).exists():
            await create_centre(
                centre_dir,
                name=self.centre.name,
                code=self.centre.code,
                listen=f"127.0.0.1:{free_port()}",
                web=f"127.0.0.1:{free_port()}",
            )
        self.check_ports([centre_dir])
        logins = (
            json.loads(self.logins_path.read_text("utf-8")) if self.logins_path.exists() else {}
        )
        if CENTRE_LOGIN not in logins:  # the operator's console account, made before it runs
            logins[CENTRE_LOGIN] = await _login(
                centre_dir, OPERATOR, "admin", "Quản trị liên thông"
            )
            self._save_logins(logins)
        self.start(self.centre.code)
        self.wait_ready([self.centre.code])
        for unit in self.units:
            if unit.code not in logins or not (self.dir_of(unit.code) / "certificate.bin").exists():
                logins[unit.code] = await self.enrol(unit)
                self._save_logins(logins)
        self.logins = logins
        self.check_ports([self.dir_of(u.code) for u in self.units])

    async def enrol(self, unit: Unit) -> dict[str, str]:
        data_dir = self.dir_of(unit.code)
        if not (data_dir / cfg.CONFIG_FILE).exists():
            create_node(
                data_dir,
                {
                    "unit": {"code": unit.code, "name": unit.name},
                    "node": {
                        "listen": f"127.0.0.1:{free_port()}",
                        "web": f"127.0.0.1:{free_port()}",
                        "discovery": False,
                    },
                    "federation": {"directory_refresh_seconds": 5},
                },
            )
        async with open_centre(self.dir_of(self.centre.code)) as centre:
            token = await centre.add_unit(
                unit.code,
                unit.name,
                state=unit.state,
                new_token=await self._pending(centre, unit.code),
                actor="demo",
            )
        config = cfg.load_config(data_dir)
        await enrol_online(
            config.node_settings,
            node_keys(config),
            centre_url=token.centre_url,
            fingerprint=token.fingerprint,
            token=token.token,
            save_federation=federation_saver(config),
        )
        return await _login(data_dir, CLERK, "clerk", f"Văn thư {unit.name}")

    def _save_logins(self, logins: dict[str, dict[str, str]]) -> None:
        with create_private(self.logins_path, replace=True) as file:  # passwords: owner only
            file.write(json.dumps(logins, ensure_ascii=False, indent=1).encode("utf-8"))

    async def _pending(self, centre, code: str) -> bool:
        """A unit registered by an interrupted run gets a new token instead of a refusal."""
        return any(u.code == code for u in await centre.units())

    def check_ports(self, data_dirs: list[Path]) -> None:
        for data_dir in data_dirs:
            config = cfg.load_config(data_dir)
            for key in ("listen", "web"):
                port = int(config.get("node", key).rsplit(":", 1)[1])
                if port_in_use(port):
                    raise LienthongError(
                        f"port {port} ({data_dir.name}, node.{key}) is in use: stop what uses it, "
                        "or run the demo with a new --data-dir"
                    )

    # -- processes ----------------------------------------------------------------------------

    def start(self, code: str) -> None:
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        path = logs / f"{self.dir_of(code).name}.log"
        self.log_start[code] = path.stat().st_size if path.exists() else 0
        log = path.open("a", encoding="utf-8")
        self.processes[code] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lienthong.node.cli",
                "run",
                "--data-dir",
                str(self.dir_of(code)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            **platform.new_process_group(),
        )

    def wait_ready(self, codes: list[str]) -> None:
        deadline = time.monotonic() + READY_SECONDS
        waiting = set(codes)
        while waiting:
            for code in list(waiting):
                if self.processes[code].poll() is not None:
                    raise DemoError(
                        f"{code} stopped at start: {self._last_line(code)} (log: {self._log(code)})"
                    )
                with self._log(code).open("rb") as f:
                    f.seek(self.log_start[code])
                    if b"running; peer API" in f.read():
                        waiting.discard(code)
            if waiting and time.monotonic() > deadline:
                raise LienthongError(f"not started in {READY_SECONDS:.0f} s: {sorted(waiting)}")
            time.sleep(0.2)

    def _log(self, code: str) -> Path:
        return self.root / "logs" / f"{self.dir_of(code).name}.log"

    def _last_line(self, code: str) -> str:
        """The last line this run wrote to a node's log: the error that stopped it."""
        with self._log(code).open("rb") as f:
            f.seek(max(self.log_start[code], f.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else "nothing in its log"

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                platform.ask_to_stop(process)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    # -- the letter ---------------------------------------------------------------------------

    async def send_letter(self) -> str:
        marker = self.root / "letter.json"
        if marker.exists():
            return json.loads(marker.read_text("utf-8"))["envelope_id"]
        recipients = [u.code for u in self.units if u.code != self.sender]
        annex = self.root / "danh-sach-don-vi.csv"
        with annex.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["STT", "Đơn vị", "Mã định danh", "Trạng thái"])
            for n, u in enumerate(province()[1], 1):
                writer.writerow([n, u.name, u.code, u.state])
        deadline = time.monotonic() + READY_SECONDS
        while True:  # the sender learns the later units from the centre (refresh, gossip)
            async with context(self.dir_of(self.sender)) as ctx:
                directory = ctx.directory.current
                if directory and all(directory.current(c) for c in recipients):
                    envelope_id = await send_document(
                        ctx, letter_2340(), recipients, files=[annex], actor="demo"
                    )
                    break
            if time.monotonic() > deadline:
                raise LienthongError("the sender did not learn every unit from the centre")
            await asyncio.sleep(1)
        marker.write_text(json.dumps({"envelope_id": envelope_id}), encoding="utf-8")
        return envelope_id

    async def arrivals(self, envelope_id: str) -> dict[str, str]:
        async with context(self.dir_of(self.sender)) as ctx, ctx.store.read() as conn:
            return {row.recipient: row.state for row in await outbox.rows_for(conn, envelope_id)}


async def _login(data_dir: Path, username: str, role: str, display_name: str) -> dict[str, str]:
    """An account with a fresh password on a node that is not running yet; its login."""
    config = cfg.load_config(data_dir)
    password = secrets.token_urlsafe(9)
    store = await Store.open(config.store_path)
    try:
        if await _user(store, username) is None:
            await add_user(
                store, username, password, role=role, display_name=display_name, actor="demo"
            )
    finally:
        await store.close()
    return {"user": username, "password": password, "web": f"http://{config.get('node', 'web')}"}


async def _user(store: Store, username: str) -> Any:
    async with store.read() as conn:
        return await get_user(conn, username)


def letter_2340() -> DocumentMetadata:
    return DocumentMetadata(
        number="2340",
        notation="VP-TTTH",
        doc_type="cong_van",
        issuer=Organisation(name="Văn phòng", code="000.00.02.H53", parent="UBND tỉnh Tây Ninh"),
        place="Tây Ninh",
        issued_on="2014-05-23",
        subject="V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)",
        signer=Signer("Trương Văn Hùng", "Phó Chánh Văn phòng", "KT.", "Chánh Văn phòng"),
        urgency=Urgency.NORMAL,
        addressees=("Các đơn vị đã triển khai Phần mềm eOffice (đính kèm danh sách)",),
        distribution=("Như danh sách đính kèm", "LĐVP", "Lưu: VT.VPUBND Tỉnh"),
        copies=35,
        drafter="KTrang",
    )


async def run_demo(root: Path, count: int, open_browser: bool) -> None:
    demo = Demo(root, count)
    demo.check()
    started = time.monotonic()
    stop = asyncio.Event()
    restore_signals = platform.on_stop_signal(stop.set)
    try:
        print(f"lienthong demo: {len(demo.units)} units and the centre in {demo.root}", flush=True)
        await demo.prepare()
        for unit in demo.units:
            demo.start(unit.code)
        await asyncio.to_thread(demo.wait_ready, [u.code for u in demo.units])
        print(f"Federation running after {time.monotonic() - started:.0f} s.\n", flush=True)
        print(f"{'Đơn vị / Unit':<48} {'Trang web / Web page':<24} {'Tài khoản':<9} Mật khẩu")
        for unit in demo.units:
            login = demo.logins[unit.code]
            print(
                f"{unit.code} {unit.name[:34]:<34} {login['web']:<24} {login['user']:<9} "
                f"{login['password']}"
            )
        console = demo.logins[CENTRE_LOGIN]
        print(
            f"\n{'Trung tâm / Centre console':<48} {console['web'] + '/centre':<24} "
            f"{console['user']:<9} {console['password']}"
        )
        envelope_id = await demo.send_letter()
        print(f"\nSố 2340/VP-TTTH sent by {demo.sender} (envelope {envelope_id}).", flush=True)
        deadline = time.monotonic() + ARRIVAL_SECONDS
        shown = -1
        while not stop.is_set() and time.monotonic() < deadline:
            states = await demo.arrivals(envelope_id)
            arrived = sum(s != "queued" and s != "relayed" for s in states.values())
            if arrived != shown:
                shown = arrived
                print(f"  đã đến / arrived: {arrived}/{len(states)}", flush=True)
            if arrived == len(states):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        if open_browser:
            webbrowser.open(demo.logins[demo.sender]["web"])
        print("\nCtrl-C stops every node cleanly; running the demo again resumes.", flush=True)
        await stop.wait()
    finally:
        restore_signals()
        await asyncio.to_thread(demo.stop_all)
        print("lienthong demo: stopped", flush=True)
