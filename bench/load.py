"""Load: the province's 26 units and its centre as `lienthong run` processes, 50 clerks
browsing their units' web pages and a steady stream of documents, for a set time.

Every node is created, enrolled through the centre's enrolment API and started by
node/cli/demo.py's machinery (units of node/data/tay_ninh.json, one clerk login each),
then runs with the shipped configuration. Clerks are aiohttp client sessions signed
in to the units' local web pages (spread round-robin over the units), each asking for
inbox page 1, a search, a document seen on its last list, the outbox or a register,
with a think time between clicks. Documents are sent at a steady rate through the
compose form and its confirmation, each from a random unit to 1..N random units,
every fifth with a small attachment. A document's delivery latency runs from the
confirming click to the recipient's 01 stored at the sender (the outbox row's time).
The RSS of every process is sampled from /proc during the load; the units' idle RSS
just after they start is set beside a bare aiohttp app's (bench/coldstart.py's).

With --snapshots T1,T2,... one unit (the first) is restarted with LIENTHONG_TRACEMALLOC
(node/memtrace.py) and sent SIGUSR2 at those seconds into the load; the report holds the
growth between its first and last snapshot by traceback, beside its RSS at those moments.

Baselines, same run, federation idle before the load: the same page mix requested
one at a time by one clerk of one unit, and documents sent the same way one at a
time. Exit status 1 if anything failed: a page or send not answered as expected, a
document without every 01 after the drain, an ERROR line in a node's log, a node gone.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp

from bench._common import machine, result
from bench._fleet import PAGES, Clerk, Fleet, Sampler, Sent, Tally, proc_sample
from bench.coldstart import start_bare
from lienthong.node import memtrace

SEARCHES = ("tuyển sinh", "ngân sách", "chuyển đổi số", "an toàn thông tin", "thi đua")
DIRECTORY_SECONDS = 120.0  # for every unit to list every other one on its compose page
BASELINE_GAP_SECONDS = 1.5  # between baseline documents: each travels alone
DRAIN_SECONDS = 180.0  # after the load, for the last 01s to come back
DRAIN_POLL_SECONDS = 3.0
SERIES_POINTS = 30
MAX_WARNINGS_SHOWN = 10
FLAT_PERCENT = 2.0  # "memory flat": total RSS grows < 2 % over the second half of the load
SNAPSHOT_SECONDS = 120.0  # for a traced unit to write its snapshot (it holds ~40 MB of traces)
SNAPSHOT_TOP = 25  # tracebacks shown, by growth
SNAPSHOT_FRAMES_SHOWN = 6  # innermost frames of each
_DOC_LINK = re.compile(r'href="/documents/([0-9A-Za-z]{1,32})"')


def path_of(kind: str, rng: random.Random, ids: list[str]) -> tuple[str, str]:
    """(kind, path): a document is one listed on the clerk's last list page, if any."""
    if kind == "document" and not ids:
        kind = "inbox"
    return kind, _PATHS[kind](rng, ids)


_PATHS = {
    "inbox": lambda rng, ids: "/",
    "search": lambda rng, ids: f"/?q={rng.choice(SEARCHES)}",
    "document": lambda rng, ids: f"/documents/{rng.choice(ids)}",
    "outbox": lambda rng, ids: "/outbox",
    "registers": lambda rng, ids: rng.choice(("/registers", "/registers?kind=outgoing")),
}


async def click(clerk: Clerk, rng: random.Random, ids: list[str], tally: Tally, pages) -> list[str]:
    """One page of the mix `pages`; returns the document ids the clerk now has in view."""
    kind, path = path_of(rng.choice(pages), rng, ids)
    text = await clerk.page(kind, path, tally)
    if text and kind != "document":
        return _DOC_LINK.findall(text) or ids
    return ids


async def browse(clerk: Clerk, rng: random.Random, until: float, args, tally: Tally):
    """One clerk clicking through the page mix until `until` (monotonic)."""
    ids: list[str] = []
    think = args.think
    while time.monotonic() < until:
        ids = await click(clerk, rng, ids, tally, args.pages)
        pause = think * rng.uniform(0.5, 1.5)
        await asyncio.sleep(max(0.0, min(pause, until - time.monotonic())))


def pick(senders: dict[str, Clerk], rng: random.Random, most: int) -> tuple[Clerk, list[str]]:
    """A random sender and 1..`most` random other units."""
    clerk = senders[rng.choice(sorted(senders))]
    others = sorted(c for c in senders if c != clerk.code)
    return clerk, rng.sample(others, rng.randint(1, min(most, len(others))))


async def send_one(clerk, recipients, rng, attach: bool, tally: Tally, sent: list[Sent]) -> None:
    t0 = time.perf_counter()
    try:
        sent.append(await clerk.send(rng, recipients, attach))
    except (aiohttp.ClientError, TimeoutError, RuntimeError, KeyError) as exc:
        tally.error(f"send from {clerk.code}: {exc!r}")
        return
    tally.ok("send", (time.perf_counter() - t0) * 1000)


async def stream(senders, rng, rate, until, max_recipients, tally, sent: list[Sent]) -> int:
    """One document every 1/rate s until `until`, each in its own task; returns how many."""
    tasks: set[asyncio.Task] = set()
    due = time.monotonic()
    count = 0
    while due < until:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        count += 1
        clerk, recipients = pick(senders, rng, max_recipients)
        task = asyncio.create_task(send_one(clerk, recipients, rng, count % 5 == 0, tally, sent))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        due += 1 / rate
    await asyncio.gather(*tasks)
    return count


def pcts(values: list[float]) -> tuple[float, float, float]:
    """(p50, p95, p99) by the nearest-rank method; zeros for no values."""
    if not values:
        return 0.0, 0.0, 0.0
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return rank(50), rank(95), rank(99)


async def receipts(fleet: Fleet, sent: list[Sent], deadline: float) -> tuple[list[float], int]:
    """Latencies (ms) of every 01 back at its sender, and how many are still missing
    once all have come or `deadline` (monotonic) passed."""
    while True:
        by_sender: dict[str, list[str]] = {}
        for s in sent:
            by_sender.setdefault(s.sender, []).append(s.envelope_id)
        rows = await fleet.outboxes(by_sender)
        latencies, missing = [], 0
        for s in sent:
            for row in rows.get(s.envelope_id, []):
                if row.state in ("queued", "relayed"):
                    missing += 1
                else:
                    latencies.append(float(row.updated_at - s.at_ms))
        if not missing or time.monotonic() > deadline:
            return latencies, missing
        await asyncio.sleep(DRAIN_POLL_SECONDS)


async def wait_directories(clerks: dict[str, Clerk]) -> None:
    deadline = time.monotonic() + DIRECTORY_SECONDS
    for clerk in clerks.values():
        others = set(clerks) - {clerk.code}
        while not others <= clerk.known:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{clerk.code} does not list {sorted(others - clerk.known)}")
            await asyncio.sleep(1)
            await clerk.refresh()


async def baselines(fleet, senders, rng, args, tally: Tally):
    """Idle federation: documents one at a time, then the page mix one request at a time
    by the clerk of the unit that received most of them.

    Each baseline document goes twice to the same units: the first ("cold") opens the
    sender's connections, the second ("warm") reuses them; the baseline is the warm one.
    """
    cold: list[Sent] = []
    warm: list[Sent] = []
    warm_sends = Tally()
    for _ in range(args.baseline_documents):
        clerk, recipients = pick(senders, rng, args.max_recipients)
        for sent, sends in ((cold, tally), (warm, warm_sends)):
            await send_one(clerk, recipients, rng, False, sends, sent)
            await asyncio.sleep(BASELINE_GAP_SECONDS)
    tally.ms.pop("send", None)
    deadline = time.monotonic() + DRAIN_SECONDS
    (cold_ms, cold_missing), (warm_ms, warm_missing) = [
        await receipts(fleet, sent, deadline) for sent in (cold, warm)
    ]
    if cold_missing + warm_missing:
        tally.error(f"baseline: {cold_missing + warm_missing} receipts missing")
    received = collections.Counter(c for s in cold for c in s.recipients)
    idle = senders[received.most_common(1)[0][0]] if received else next(iter(senders.values()))
    pages = Tally()
    ids: list[str] = []
    for _ in range(args.baseline_rounds * len(args.pages)):
        ids = await click(idle, rng, ids, pages, args.pages)
    for other in (warm_sends, pages):
        tally.errors += other.errors
        tally.shown += other.shown
    return cold_ms, warm_ms, warm_sends.ms.get("send", []), pages


async def restart_traced(fleet: Fleet, code: str, frames: int) -> None:
    """Stop unit `code` and start it again with LIENTHONG_TRACEMALLOC=`frames`."""
    process = fleet.demo.processes[code]
    process.terminate()
    process.wait(timeout=30)
    os.environ[memtrace.ENV] = str(frames)
    try:
        fleet.demo.start(code)
    finally:
        del os.environ[memtrace.ENV]
    await fleet.wait_ready([code])


def snapshot_files(folder: Path) -> set[Path]:
    return set(folder.glob(f"{memtrace.SNAPSHOT_PREFIX}*{memtrace.SNAPSHOT_SUFFIX}"))


async def snapshots(fleet: Fleet, code: str, at: list[float], t0: float) -> list[dict]:
    """SIGUSR2 to traced unit `code` at each of `at` (s after `t0`), each time waiting for
    its new snapshot file; returns (time, file, RSS and private memory then) of each."""
    pid = fleet.demo.processes[code].pid
    folder = fleet.demo.dir_of(code) / memtrace.SNAPSHOT_DIR
    taken = []
    for moment in at:
        await asyncio.sleep(max(0.0, t0 + moment - time.monotonic()))
        before = snapshot_files(folder)
        usage = proc_sample(pid)
        os.kill(pid, signal.SIGUSR2)
        deadline = time.monotonic() + SNAPSHOT_SECONDS
        while not (new := snapshot_files(folder) - before):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{code} wrote no snapshot in {SNAPSHOT_SECONDS:.0f} s")
            await asyncio.sleep(0.5)
        path = new.pop()
        facts = json.loads(path.with_suffix(".json").read_text("utf-8"))
        malloc = facts["malloc"] or {}
        taken.append(
            {
                "at_s": round(time.monotonic() - t0, 1),
                "file": str(path),
                "rss_mb": round(usage.rss, 1) if usage else None,
                "anon_mb": round(usage.anon, 1) if usage else None,
                "traced_mb": round(facts["traced"] / 1e6, 2),
                "malloc_mb": {k: round(v / 1e6, 2) for k, v in malloc.items() if v > 1e5},
            }
        )
    return taken


def snapshot_diff(taken: list[dict]) -> dict[str, Any]:
    """Growth from the first snapshot to the last: traced totals, and the tracebacks that
    grew most (innermost frames last), by file and line as well."""
    import tracemalloc

    if len(taken) < 2:
        return {"snapshots": taken}
    old = tracemalloc.Snapshot.load(taken[0]["file"])
    new = tracemalloc.Snapshot.load(taken[-1]["file"])

    def total(snap) -> float:
        return sum(stat.size for stat in snap.statistics("filename")) / 1e6

    by_traceback = new.compare_to(old, "traceback")[:SNAPSHOT_TOP]
    by_line = new.compare_to(old, "lineno")[:SNAPSHOT_TOP]
    return {
        "snapshots": taken,
        "traced_mb_first_last": [round(total(old), 2), round(total(new), 2)],
        "top_tracebacks": [
            {
                "size_diff_kb": round(stat.size_diff / 1024, 1),
                "count_diff": stat.count_diff,
                "frames": [
                    f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}"
                    for frame in list(stat.traceback)[-SNAPSHOT_FRAMES_SHOWN:]
                ],
            }
            for stat in by_traceback
        ],
        "top_lines": [
            f"{stat.size_diff / 1024:+.1f} KB {stat.count_diff:+d} "
            f"{stat.traceback[0].filename.split('site-packages/')[-1]}:{stat.traceback[0].lineno}"
            for stat in by_line
        ],
    }


ARENA_BYTES = 64 << 20  # glibc's heap of a thread's arena: mapped (and aligned) this large
STACK_BYTES = 8 << 20  # a thread's stack, below a guard page


def anon_parts(pid: int) -> dict[str, float] | None:
    """A process's private memory (MB) by where it lies, from /proc/PID/smaps: the main
    thread's malloc heap ([heap]), the heaps of other threads' malloc arenas (each mapped
    64 MiB, used part read-write, the rest PROT_NONE), and the rest (Python's object arenas,
    blocks malloc mapped one by one, stacks, libraries' private pages)."""
    try:
        text = Path(f"/proc/{pid}/smaps").read_text("utf-8")
    except (FileNotFoundError, ProcessLookupError):
        return None
    maps: list[list] = []  # [start, end, perms, name, anonymous kB]
    for line in text.splitlines():
        head = line.split()
        if head and not head[0].endswith(":"):
            start, end = (int(x, 16) for x in head[0].split("-"))
            maps.append([start, end, head[1], head[5] if len(head) > 5 else "", 0])
        elif head and head[0] == "Anonymous:":
            maps[-1][4] = int(head[1])
    parts = {"main_heap": 0.0, "thread_arenas": 0.0, "other": 0.0}
    for i, (start, end, _perms, name, kb) in enumerate(maps):
        after = maps[i + 1] if i + 1 < len(maps) else None
        arena = after and after[2] == "---p" and after[0] == end and after[1] - start == ARENA_BYTES
        where = "main_heap" if name == "[heap]" else "thread_arenas" if arena else "other"
        parts[where] += kb / 1024
    return parts


def anon_split(pids: dict[str, int]) -> dict[str, float]:
    """anon_parts summed over the units (not the centre)."""
    total = {"main_heap": 0.0, "thread_arenas": 0.0, "other": 0.0}
    for name, pid in pids.items():
        if name != "centre" and (parts := anon_parts(pid)) is not None:
            total = {k: total[k] + parts[k] for k in total}
    return {k: round(v, 1) for k, v in total.items()}


def idle_rss(fleet: Fleet, tmp: Path) -> tuple[float, float]:
    """(median RSS of the units just started, idle; a bare aiohttp app's RSS) in MB."""
    units = [
        u.rss
        for code, pid in fleet.pids().items()
        if code != "centre"
        if (u := proc_sample(pid)) is not None
    ]
    _, bare = start_bare(tmp)
    return statistics.median(units) if units else 0.0, bare


async def run(fleet: Fleet, args: argparse.Namespace) -> tuple[list[dict], dict[str, Any], int]:
    rng = random.Random(args.seed)
    tally = Tally()
    clerks: list[Clerk] = []
    try:
        say(f"starting the centre and {args.units} units in {fleet.demo.root}")
        started = time.monotonic()
        await fleet.start()
        say(f"federation running after {time.monotonic() - started:.0f} s; signing in")
        codes = fleet.codes
        unit_idle_mb, bare_mb = idle_rss(fleet, fleet.demo.root)
        traced = codes[0] if args.snapshots else None
        if traced:
            say(f"restarting {traced} with {memtrace.ENV}={args.trace_frames}")
            await restart_traced(fleet, traced, args.trace_frames)
        senders = {}
        for code in codes:
            senders[code] = await Clerk.login(code, fleet.logins[code])
            clerks.append(senders[code])
        await wait_directories(senders)
        browsers = []
        for i in range(args.sessions):
            code = codes[i % len(codes)]
            browsers.append(await Clerk.login(code, fleet.logins[code]))
            clerks.append(browsers[-1])
        say("baselines on the idle federation")
        base_cold, base_delivery, base_sends, base_pages = await baselines(
            fleet, senders, rng, args, tally
        )
        say(f"load: {args.sessions} clerks, {args.rate:g} documents/s for {args.duration:g} s")
        sampler = Sampler({**fleet.pids(), "bench": os.getpid()}, args.sample_every)
        split = {"start": anon_split(fleet.pids())}
        stop_sampling = asyncio.Event()
        sampling = asyncio.create_task(sampler.run(stop_sampling))
        sent: list[Sent] = []
        load_average = [os.getloadavg()]
        t0 = time.monotonic()
        until = t0 + args.duration
        rngs = [random.Random(f"{args.seed}/{i}") for i in range(args.sessions)]
        load = [browse(c, r, until, args, tally) for c, r in zip(browsers, rngs, strict=True)]
        halfway = asyncio.get_running_loop().call_later(
            args.duration / 2, lambda: split.setdefault("half", anon_split(fleet.pids()))
        )
        tracing = (
            asyncio.create_task(snapshots(fleet, traced, args.snapshots, t0)) if traced else None
        )
        planned, *_ = await asyncio.gather(
            stream(senders, rng, args.rate, until, args.max_recipients, tally, sent), *load
        )
        taken = await tracing if tracing else []
        elapsed = time.monotonic() - t0
        load_average.append(os.getloadavg())
        halfway.cancel()
        split["end"] = anon_split(fleet.pids())
        stop_sampling.set()
        await sampling
        say(f"load done; waiting up to {DRAIN_SECONDS:.0f} s for the last receipts")
        delivery, missing = await receipts(fleet, sent, time.monotonic() + DRAIN_SECONDS)
        problems, warnings = fleet.log_lines()
        gone = fleet.stopped()
    finally:
        for clerk in clerks:
            await clerk.session.close()
    for code, lines in problems.items():
        for line in lines:
            tally.error(f"log of {code}: {line}")
    for code in gone:
        tally.error(f"{code} stopped during the run")
    if missing:
        tally.error(f"{missing} receipts (01) not back after the drain")
    summary = sampler.summary([n for n in sampler.pids if n != "bench"], SERIES_POINTS)
    figures = {
        "planned": planned,
        "sent": sent,
        "elapsed": elapsed,
        "delivery": delivery,
        "base_delivery": base_delivery,
        "base_sends": base_sends,
        "base_pages": base_pages,
        "summary": summary,
        "idle": (unit_idle_mb, bare_mb),
    }
    results = figures_of(args, tally, figures)
    details = {
        "settings": {k: v for k, v in vars(args).items() if k != "quick"},
        "per_page_p50_p95_p99_ms": per_page(tally),
        "baseline_per_page_p50_p95_p99_ms": per_page(base_pages),
        "load_average_1_5_15_at_start_and_end": load_average,
        "baseline_cold_delivery_p50_ms": pcts(base_cold)[0],
        "node_log_warnings": len(warnings),
        "node_log_warnings_shown": warnings[:MAX_WARNINGS_SHOWN],
        "errors_shown": tally.shown,
        "rss": summary,
        "units_anon_mb_by_place_at_load_start_half_end": split,
    }
    if traced:
        details["tracemalloc"] = {"unit": traced, **snapshot_diff(taken)}
    return results, details, tally.errors


def per_page(tally: Tally) -> dict[str, list[float]]:
    return {k: [round(v, 1) for v in pcts(ms)] for k, ms in sorted(tally.ms.items())}


def spread(name: str, loaded: list[float], idle: list[float], idle_name: str, target: str):
    """p50, p95 and p99 of `loaded` (ms), each beside the same percentile of `idle`."""
    pairs = zip(("p50", "p95", "p99"), pcts(loaded), pcts(idle), strict=True)
    return [
        result(
            f"{name}_{p}_ms",
            value,
            "ms",
            baseline_name=f"{idle_name}_{p}_ms",
            baseline=base,
            target=target,
            met=True,
        )
        for p, value, base in pairs
    ]


def figures_of(args, tally: Tally, f: dict[str, Any]) -> list[dict]:
    pages = tally.pages()
    rate = len(pages) / f["elapsed"]
    base = f["base_pages"].pages()
    idle_ms = statistics.mean(base) if base else 0.0
    offered = args.sessions / (args.think + idle_ms / 1000)
    out = [
        result(
            "web_requests_per_s",
            rate,
            "1/s",
            baseline_name="offered_by_the_sessions_at_idle_latency_per_s",
            baseline=offered,
            target=f"(recorded; {args.sessions} sessions, think {args.think:g} s)",
            met=True,
        ),
    ]
    out += spread("web_latency", pages, base, "idle_one_clerk", "(recorded)")
    out += spread(
        "send_form",
        tally.ms.get("send", []),
        f["base_sends"],
        "idle_send_form",
        "(recorded; compose + confirm)",
    )
    out += spread(
        "delivery_latency",
        f["delivery"],
        f["base_delivery"],
        "idle_one_document_at_a_time",
        "(recorded; confirm click -> 01 stored at the sender)",
    )
    sent = f["sent"]
    receipts_due = sum(len(s.recipients) for s in sent)
    out += [
        result(
            "documents_sent",
            len(sent),
            "count",
            baseline_name="documents_planned",
            baseline=f["planned"],
            target="== planned",
            met=len(sent) == f["planned"],
        ),
        result(
            "receipts_back",
            len(f["delivery"]),
            "count",
            baseline_name="receipts_due",
            baseline=receipts_due,
            target="== due (every recipient's 01 at the sender)",
            met=len(f["delivery"]) == receipts_due,
        ),
    ]
    rss = f["summary"]
    series = rss["total_series_mb"]
    start_mb, end_mb = series[0][1], series[-1][1]
    growth = rss["second_half_slope_mb_per_min"] * (f["elapsed"] / 2) / 60
    unit_idle_mb, bare_mb = f["idle"]
    out += [
        result(
            "unit_idle_rss_mb",
            unit_idle_mb,
            "MB",
            baseline_name="bare_aiohttp_rss_mb",
            baseline=bare_mb,
            target="(recorded; median of the units just started)",
            met=True,
        ),
        result(
            "rss_total_end_mb",
            end_mb,
            "MB",
            baseline_name="rss_total_at_load_start_mb",
            baseline=start_mb,
            target=f"(recorded; {len(rss['per_process']) - 1} node processes)",
            met=True,
        ),
        result(
            "rss_total_second_half_growth_mb",
            growth,
            "MB",
            baseline_name="rss_total_at_load_start_mb",
            baseline=start_mb,
            target=f"< {FLAT_PERCENT:g} % of the total (least-squares slope x half the load)",
            met=growth < FLAT_PERCENT / 100 * start_mb,
        ),
        result(
            "errors",
            tally.errors,
            "count",
            target="== 0",
            met=tally.errors == 0,
        ),
    ]
    return out


def say(text: str) -> None:
    print(f"load: {text}", file=sys.stderr, flush=True)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument("--units", type=int, default=26, help="units of the province (26)")
    parser.add_argument("--sessions", type=int, default=50, help="clerks browsing (50)")
    parser.add_argument("--rate", type=float, default=5.0, help="documents per second (5)")
    parser.add_argument("--max-recipients", type=int, default=3, help="per document (3)")
    parser.add_argument("--think", type=float, default=1.0, help="mean s between clicks (1)")
    parser.add_argument("--sample-every", type=float, default=5.0, help="RSS sampling s (5)")
    parser.add_argument("--baseline-documents", type=int, default=10)
    parser.add_argument("--baseline-rounds", type=int, default=20, help="of the page mix")
    parser.add_argument(
        "--pages",
        type=lambda text: text.split(","),
        default=list(PAGES),
        help=f"the clerks' page mix, comma separated (default {','.join(PAGES)})",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--snapshots",
        type=lambda text: [float(t) for t in text.split(",")],
        default=[],
        help="seconds into the load at which the first unit writes a tracemalloc snapshot "
        "(it runs with LIENTHONG_TRACEMALLOC); the report diffs the first and the last",
    )
    parser.add_argument(
        "--trace-frames", type=int, default=25, help="LIENTHONG_TRACEMALLOC's frames (25)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directories and logs")
    parser.add_argument("--quick", action="store_true", help="5 units, 10 clerks, 10 s")
    args = parser.parse_args()
    if unknown := set(args.pages) - set(PAGES):
        parser.error(f"--pages: {', '.join(sorted(unknown))} not among {', '.join(PAGES)}")
    if args.quick:
        args.units, args.sessions, args.duration, args.rate = 5, 10, 10.0, 2.0
        args.baseline_documents, args.baseline_rounds, args.sample_every = 3, 10, 2.0
    if late := [t for t in args.snapshots if not 0 <= t <= args.duration]:
        parser.error(f"--snapshots: {late} not within the load's 0..{args.duration:g} s")
    if not 1 <= args.trace_frames <= memtrace.MAX_FRAMES:
        parser.error(f"--trace-frames: from 1 to {memtrace.MAX_FRAMES}")
    signal.signal(signal.SIGTERM, _interrupt)
    tmp = tempfile.mkdtemp(prefix="lienthong-load-")
    fleet = Fleet(Path(tmp), args.units)
    try:
        results, details, errors = asyncio.run(run(fleet, args))
    except KeyboardInterrupt:
        say("interrupted; every node is being stopped")
        sys.exit(130)
    finally:
        fleet.stop()
        if args.keep:
            say(f"data directories and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report = {
        "bench": "load",
        "machine": machine(),
        "date": dt.date.today().isoformat(),
        "results": results,
        "details": details,
    }
    print(json.dumps(report, ensure_ascii=False))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
