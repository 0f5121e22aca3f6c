"""The load benchmark's machinery: the province's centre and units as `lienthong run`
processes (node/cli/demo.py's), their memory and CPU read from /proc, their logs scanned for
errors, their outboxes read for the 01 receipts; and the clerks' web sessions."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from lienthong.crypto.errors import LienthongError
from lienthong.node import config as cfg
from lienthong.node.cli.demo import READY_SECONDS, Demo
from lienthong.node.datadir import config_saver
from lienthong.storage import outbox
from lienthong.storage.db import Store

# The shipped default (node/config.py): the demo asks for 5 s so that its units learn each
# other quickly; a load figure should carry what an office runs, not the demo's extra fetches.
DIRECTORY_REFRESH_SECONDS = 300
READY_LINE = b"running; peer API"  # what `lienthong run` prints once it serves
TICKS = os.sysconf("SC_CLK_TCK")
PAGES = ("inbox", "search", "document", "outbox", "registers")
TOPICS = (
    "triển khai Kế hoạch chuyển đổi số năm 2026",
    "báo cáo tình hình thực hiện nhiệm vụ quý IV",
    "tuyển sinh lớp 10 năm học 2026-2027",
    "quyết toán ngân sách nhà nước năm 2025",
    "tổ chức Hội nghị tổng kết công tác thi đua, khen thưởng",
    "kiểm tra an toàn thông tin mạng",
    "phòng cháy, chữa cháy mùa khô",
)
DOC_TYPES = ("cong_van", "ke_hoach", "thong_bao", "bao_cao", "giay_moi")
ATTACHMENT_BYTES = 40 * 1024
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=120)  # a page or send slower than this is an error
MAX_ERRORS_SHOWN = 20
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_UNIT = re.compile(r'name="to" value="(\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})"')
_SENT = re.compile(r"^/documents/([0-9A-Za-z]{1,32})\?")
SHOWN_LINE_CHARS = 1600  # of a log line in the report: the message and the traceback's end
_PROBLEM = re.compile(r"^\S+ (ERROR|CRITICAL) |Traceback")
_WARNING = re.compile(r"^\S+ WARNING ")


def _shorten(line: str) -> str:
    """A log line short enough to show: its head and the end of its traceback."""
    if len(line) <= SHOWN_LINE_CHARS:
        return line
    half = SHOWN_LINE_CHARS // 2
    return f"{line[:half]} ... {line[-half:]}"


class Fleet:
    """The centre and `units` units of node/data/tay_ninh.json under `root`, each a real process."""

    def __init__(self, root: Path, units: int) -> None:
        self.demo = Demo(root, units)
        self.codes = [u.code for u in self.demo.units]
        self.logins: dict[str, dict[str, str]] = {}

    async def start(self) -> None:
        """Create, enrol (through the centre's enrolment API) and start every node; then
        every unit runs with the shipped directory refresh."""
        demo = self.demo
        await demo.prepare()  # starts the centre, enrols every unit, one clerk login each
        for code in self.codes:
            config = cfg.load_config(demo.dir_of(code))
            values = {section: dict(keys) for section, keys in config.values.items()}
            values["federation"]["directory_refresh_seconds"] = DIRECTORY_REFRESH_SECONDS
            config_saver(config)(values)
            demo.start(code)
        await self.wait_ready(self.codes)
        self.logins = demo.logins

    async def wait_ready(self, codes: list[str]) -> None:
        """Until each node has said it runs (as Demo.wait_ready, without a thread that a
        Ctrl-C would have to wait for)."""
        deadline = time.monotonic() + READY_SECONDS
        waiting = set(codes)
        while waiting:
            for code in list(waiting):
                if self.demo.processes[code].poll() is not None:
                    raise LienthongError(f"{code} stopped at start; see {self.log_path(code)}")
                with self.log_path(code).open("rb") as f:
                    f.seek(self.demo.log_start[code])
                    if READY_LINE in f.read():
                        waiting.discard(code)
            if waiting and time.monotonic() > deadline:
                raise LienthongError(f"not started in {READY_SECONDS:.0f} s: {sorted(waiting)}")
            await asyncio.sleep(0.2)

    def log_path(self, code: str) -> Path:
        return self.demo.root / "logs" / f"{self.demo.dir_of(code).name}.log"

    def stop(self) -> None:
        """SIGTERM every node and wait (kill after 30 s); safe to call more than once."""
        self.demo.stop_all()

    def pids(self) -> dict[str, int]:
        """Process id of every node, named "centre" or by unit code."""
        centre = self.demo.centre.code
        return {
            ("centre" if code == centre else code): p.pid for code, p in self.demo.processes.items()
        }

    def stopped(self) -> list[str]:
        """Nodes whose process has ended (none should, while the benchmark runs)."""
        return [code for code, p in self.demo.processes.items() if p.poll() is not None]

    def log_lines(self) -> tuple[dict[str, list[str]], list[str]]:
        """(ERROR/CRITICAL/Traceback lines of this run per node, WARNING lines)."""
        problems: dict[str, list[str]] = {}
        warnings: list[str] = []
        for code in self.demo.processes:
            with self.log_path(code).open("rb") as f:
                f.seek(self.demo.log_start[code])
                for line in f.read().decode("utf-8", "replace").splitlines():
                    if _PROBLEM.search(line):
                        problems.setdefault(code, []).append(_shorten(line))
                    elif _WARNING.search(line):
                        warnings.append(f"{code}: {line[:300]}")
        return problems, warnings

    async def outboxes(self, sent: dict[str, list[str]]) -> dict[str, list[outbox.OutboxRow]]:
        """Delivery rows of every envelope in `sent` (sender code -> envelope ids), read
        from each sender's store as `lienthong outbox` reads it while the node runs."""
        rows: dict[str, list[outbox.OutboxRow]] = {}
        for code, envelope_ids in sent.items():
            if not envelope_ids:
                continue
            store = await Store.open(cfg.load_config(self.demo.dir_of(code)).store_path, readers=1)
            try:
                async with store.read() as conn:
                    for envelope_id in envelope_ids:
                        rows[envelope_id] = await outbox.rows_for(conn, envelope_id)
            finally:
                await store.close()
        return rows


@dataclass(frozen=True)
class Usage:
    """One process at one moment, from /proc (MB; CPU in seconds since it started)."""

    rss: float
    hwm: float  # peak RSS so far
    anon: float  # heap and other private memory: where a leak shows
    file: float  # mapped files (the interpreter, libraries)
    shmem: float  # shared memory (SQLite's WAL index)
    cpu: float


def proc_sample(pid: int) -> Usage | None:
    """The process's memory and CPU time, None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text("utf-8")
        stat = Path(f"/proc/{pid}/stat").read_text("utf-8")
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def mb(name: str) -> float:
        return int(fields[name].split()[0]) / 1024  # /proc gives kB

    after_name = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    cpu = (int(after_name[11]) + int(after_name[12])) / TICKS  # utime + stime
    return Usage(mb("VmRSS"), mb("VmHWM"), mb("RssAnon"), mb("RssFile"), mb("RssShmem"), cpu)


class Sampler:
    """Memory of named processes every `every` seconds, from /proc, while `run` runs."""

    def __init__(self, pids: dict[str, int], every: float) -> None:
        self.pids = pids
        self.every = every
        self.times: list[float] = []
        self.rss: dict[str, list[float]] = {name: [] for name in pids}
        self.anon: dict[str, list[float]] = {name: [] for name in pids}
        self.first: dict[str, Usage] = {}
        self.last: dict[str, Usage] = {}

    def sample(self, t: float) -> None:
        self.times.append(t)
        for name, pid in self.pids.items():
            got = proc_sample(pid)
            self.rss[name].append(got.rss if got else float("nan"))
            self.anon[name].append(got.anon if got else float("nan"))
            if got is not None:
                self.first.setdefault(name, got)
                self.last[name] = got

    async def run(self, stop: asyncio.Event) -> None:
        start = time.monotonic()
        while True:
            self.sample(time.monotonic() - start)
            try:
                await asyncio.wait_for(stop.wait(), self.every)
                self.sample(time.monotonic() - start)
                return
            except TimeoutError:
                pass

    def totals(self, series: dict[str, list[float]], names: list[str]) -> list[float]:
        """Sum over `names` at each sample (a process gone counts 0: NaN is not JSON)."""
        return [sum(v for n in names if (v := series[n][i]) == v) for i in range(len(self.times))]

    def summary(self, names: list[str], points: int) -> dict[str, Any]:
        """Per process: RSS and its private (anonymous) part at the first and last sample,
        the largest sample, the peak and the CPU seconds used. For the sum over `names`:
        its series (at most `points` samples shown) and the least-squares slope of RSS and
        of its private part over the second half."""
        per = {}
        for name in self.pids:
            first, last = self.first.get(name), self.last.get(name)
            values = [v for v in self.rss[name] if v == v]  # NaN: gone
            per[name] = {
                "start_mb": round(first.rss, 1) if first else None,
                "end_mb": round(last.rss, 1) if last else None,
                "max_mb": round(max(values), 1) if values else None,
                "anon_start_mb": round(first.anon, 1) if first else None,
                "anon_end_mb": round(last.anon, 1) if last else None,
                "file_end_mb": round(last.file, 1) if last else None,
                "shmem_end_mb": round(last.shmem, 1) if last else None,
                "peak_hwm_mb": round(last.hwm, 1) if last else None,
                "cpu_s": round(last.cpu - first.cpu, 1) if first and last else None,
            }
        total, anon = self.totals(self.rss, names), self.totals(self.anon, names)
        half = self.times[-1] / 2 if self.times else 0.0
        second = [i for i, t in enumerate(self.times) if t >= half]
        step = max(1, len(total) // points)
        shown = list(range(0, len(total), step))
        if shown and shown[-1] != len(total) - 1:
            shown.append(len(total) - 1)
        return {
            "per_process": per,
            "total_series_mb": [[round(self.times[i], 1), round(total[i], 1)] for i in shown],
            "total_anon_series_mb": [round(anon[i], 1) for i in shown],
            "second_half_slope_mb_per_min": round(
                slope([(self.times[i], total[i]) for i in second]) * 60, 2
            ),
            "second_half_anon_slope_mb_per_min": round(
                slope([(self.times[i], anon[i]) for i in second]) * 60, 2
            ),
            "second_half_samples": len(second),
        }


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (units of value per second) of (t, value) points; 0 for fewer than 2."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Tally:
    """Latencies per kind of request, and every error (the first few kept as text)."""

    ms: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    shown: list[str] = field(default_factory=list)

    def ok(self, kind: str, ms: float) -> None:
        self.ms.setdefault(kind, []).append(ms)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.shown) < MAX_ERRORS_SHOWN:
            self.shown.append(text)

    def pages(self) -> list[float]:
        return [v for kind in PAGES for v in self.ms.get(kind, [])]


@dataclass
class Sent:
    envelope_id: str
    sender: str
    recipients: list[str]
    at_ms: int  # wall clock just before the confirming click


class Clerk:
    """One signed-in web session on one unit's local page."""

    def __init__(self, code: str, session: aiohttp.ClientSession) -> None:
        self.code = code
        self.session = session
        self.csrf = ""
        self.known: set[str] = set()
        self.numbers = 0

    @classmethod
    async def login(cls, code: str, login: dict[str, str]) -> Clerk:
        session = aiohttp.ClientSession(
            base_url=login["web"],
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=REQUEST_TIMEOUT,
        )
        clerk = cls(code, session)
        try:
            async with session.get("/login") as r:
                page = await r.text()
                found = _CSRF.search(page)
                if r.status != 200 or not found:
                    raise RuntimeError(f"login page of {code}: HTTP {r.status}: {page[:300]!r}")
                token = found.group(1)
            form = {"csrf": token, "username": login["user"], "password": login["password"]}
            async with session.post("/login", data=form, allow_redirects=False) as r:
                if r.status != 303:
                    raise RuntimeError(f"login at {code} failed: HTTP {r.status}")
            await clerk.refresh()
        except BaseException:
            await session.close()
            raise
        return clerk

    async def refresh(self) -> None:
        """The session's CSRF token and the units the compose page offers."""
        async with self.session.get("/compose", allow_redirects=False) as r:
            text = await r.text()
            if r.status != 200:
                raise RuntimeError(f"compose page of {self.code}: HTTP {r.status}")
        found = _CSRF.search(text)
        if not found:
            raise RuntimeError(f"compose page of {self.code} without a CSRF token: {text[:300]!r}")
        self.csrf = found.group(1)
        self.known = set(_UNIT.findall(text))

    async def page(self, kind: str, path: str, tally: Tally) -> str | None:
        t0 = time.perf_counter()
        try:
            async with self.session.get(path, allow_redirects=False) as r:
                text = await r.text()
                if r.status != 200:
                    tally.error(f"{kind} {path} at {self.code}: HTTP {r.status}")
                    return None
        except (aiohttp.ClientError, TimeoutError) as exc:
            tally.error(f"{kind} {path} at {self.code}: {exc!r}")
            return None
        tally.ok(kind, (time.perf_counter() - t0) * 1000)
        return text

    async def send(self, rng: random.Random, recipients: list[str], attach: bool) -> Sent:
        """Fill in the compose form, confirm it; the envelope id from the redirect."""
        self.numbers += 1
        data = aiohttp.FormData(default_to_multipart=True)
        data.add_field("csrf", self.csrf)
        for code in recipients:
            data.add_field("to", code)
        for name, value in (
            ("doc_type", rng.choice(DOC_TYPES)),
            ("number", f"{self.numbers:02d}/VP-LT"),  # 01..09 with two digits, as the decree asks
            ("place", "Tây Ninh"),
            ("issued_on", dt.date.today().isoformat()),
            ("subject", f"V/v {rng.choice(TOPICS)} (lần {self.numbers})"),
            ("signer", "Nguyễn Văn An"),
            ("position", "Chánh Văn phòng"),
            ("urgency", str(rng.choices((0, 1, 2, 3), (90, 6, 3, 1))[0])),
            ("distribution", "Như trên\nLưu: VT"),
        ):
            data.add_field(name, value)
        if attach:
            text = " ".join(rng.choice(TOPICS) for _ in range(ATTACHMENT_BYTES // 40))
            data.add_field(
                "files",
                text.encode()[:ATTACHMENT_BYTES],
                filename=f"phu-luc-{self.numbers}.txt",
                content_type="text/plain",
            )
        async with self.session.post("/compose", data=data, allow_redirects=False) as r:
            await r.read()
            if r.status != 303:
                raise RuntimeError(f"compose at {self.code}: HTTP {r.status}")
            confirm = r.headers["Location"]
        at = now_ms()
        form = {"csrf": self.csrf}
        async with self.session.post(confirm, data=form, allow_redirects=False) as r:
            await r.read()
            found = _SENT.match(r.headers.get("Location", ""))
            if r.status != 303 or not found:
                raise RuntimeError(f"confirm at {self.code}: HTTP {r.status}")
        return Sent(found.group(1), self.code, recipients, at)
