"""The clerk's page with 100,000 incoming documents: inbox and search times, 20 clerks at once.

The store holds real signed, sealed envelopes from several senders (stored with
storage.documents.record_incoming, a group transaction per 2,000). The web app
(node.web.create_web_app) is served by a real aiohttp server on 127.0.0.1 and
driven by aiohttp clients in the same process and event loop, so every figure is
a full request round trip over loopback, client cost included. Baseline, same
run, same server setup and client: a bare aiohttp handler returning a static
page of the inbox page's size. Targets: median inbox page 1 and search < 100 ms;
20 concurrent clerks with 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp
import nacl.pwhash.argon2id as argon2id
from aiohttp import web

from bench._common import report, result
from lienthong.crypto.keys import NodeKeys
from lienthong.node.unit.documents import _record
from lienthong.node.web import create_web_app
from lienthong.protocol.codes import Urgency
from lienthong.protocol.document import DocumentBody, DocumentMetadata, Organisation, Signer
from lienthong.protocol.envelope import seal_envelope, verify_envelope
from lienthong.storage.documents import list_documents, record_incoming
from lienthong.storage.users import add_user
from tests.node.helpers import NOW, Clock, make_context, make_directory
from tests.system.harness import free_port

ME = "000.00.01.H53"
SENDERS = {
    "000.00.02.H53": "Sở Nội vụ",
    "000.00.03.H53": "Sở Tài chính",
    "000.00.04.H53": "Sở Giáo dục và Đào tạo",
    "000.00.05.H53": "Sở Y tế",
    "000.00.06.H53": "UBND huyện Châu Thành",
    "000.00.07.H53": "Văn phòng UBND tỉnh",
}
TOPICS = (
    "triển khai Kế hoạch chuyển đổi số năm 2026",
    "báo cáo tình hình thực hiện nhiệm vụ quý IV",
    "tuyển sinh lớp 10 năm học 2026-2027",
    "phòng, chống dịch sốt xuất huyết",
    "quyết toán ngân sách nhà nước năm 2025",
    "cải cách hành chính và xếp hạng chỉ số PAR INDEX",
    "tổ chức Hội nghị tổng kết công tác thi đua, khen thưởng",
    "cập nhật văn bản đến, văn bản đi trên Trục liên thông",
    "phòng cháy, chữa cháy mùa khô",
    "đề nghị góp ý dự thảo Nghị quyết của HĐND tỉnh",
    "bồi dưỡng cán bộ, công chức cấp xã",
    "kiểm tra an toàn thông tin mạng",
)
DOC_TYPES = ("cong_van", "ke_hoach", "thong_bao", "quyet_dinh", "bao_cao")
# One in 12 subjects is on enrolment (tuyển sinh): the search matches ~8 % of the store.
SEARCH = "tuyển sinh"
CLERKS = 20
PASSWORD = "mat-khau-rat-dai"  # noqa: S105 - the benchmark clerks' throwaway password
BATCH = 2_000
TARGET_MS = 100.0
_NEXT = re.compile(r'href="(/\?[^"]*before_id=[^"]*)"')


def _subject(rng: random.Random, n: int) -> str:
    return f"V/v {rng.choice(TOPICS)} (đợt {n % 40 + 1})"


async def seed(ctx, keys: dict[str, NodeKeys], documents: int) -> float:
    """Seal and store `documents` incoming envelopes; returns the seconds it took."""
    rng = random.Random(7)
    me = {ME: keys[ME].enc_public}
    codes = sorted(SENDERS)
    start = time.perf_counter()
    for first in range(0, documents, BATCH):
        batch = []
        for n in range(first, min(first + BATCH, documents)):
            code = codes[n % len(codes)]
            at = NOW - (documents - n) * 30_000  # one every 30 s, newest last
            metadata = DocumentMetadata(
                signer=Signer("Trương Văn Hùng", "Chánh Văn phòng"),
                number=f"{n % 3000 + 1:02d}",
                notation=f"{'UBND' if code.endswith('7.H53') else 'SNV'}-VP",
                doc_type=rng.choice(DOC_TYPES),
                issuer=Organisation(name=SENDERS[code], code=code),
                place="Tây Ninh",
                issued_on="2026-11-20",
                subject=_subject(rng, n),
                urgency=Urgency(rng.choices((0, 1, 2, 3), (90, 6, 3, 1))[0]),
            )
            body = DocumentBody(metadata=metadata, attachments=())
            raw = seal_envelope(
                keys=keys[code],
                sender=code,
                serial=codes.index(code) + 2,
                recipients=me,
                body=body,
                created=at,
            )
            envelope = verify_envelope(raw, lambda c, s: keys[c].sign_public)
            batch.append((_record(envelope, body, "in"), raw, at))
        async with ctx.store.write() as tx:
            for record, raw, at in batch:
                await record_incoming(tx, record, raw, at=at)
    return time.perf_counter() - start


async def login(url: str, username: str) -> aiohttp.ClientSession:
    """A client session signed in as `username` (cookies kept for 127.0.0.1)."""
    session = aiohttp.ClientSession(base_url=url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get("/login") as r:
        token = re.search(r'name="csrf" value="([^"]+)"', await r.text()).group(1)
    form = {"csrf": token, "username": username, "password": PASSWORD, "next": "/"}
    async with session.post("/login", data=form, allow_redirects=False) as r:
        if r.status != 303:
            raise RuntimeError(f"login of {username} failed: HTTP {r.status}")
    return session


async def median_ms(session: aiohttp.ClientSession, path: str, samples: int) -> float:
    times = []
    for _ in range(samples + 3):  # three to warm up
        t0 = time.perf_counter()
        async with session.get(path) as r:
            await r.read()
            if r.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {r.status}")
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times[3:])


async def browse(sessions, paths_of, seconds: float) -> tuple[float, int, int]:
    """Each session requests its next path until the time is up: (requests/s, done, errors)."""
    done = errors = 0
    deadline = time.perf_counter() + seconds

    async def clerk(i: int, session: aiohttp.ClientSession) -> None:
        nonlocal done, errors
        rng = random.Random(i)
        while time.perf_counter() < deadline:
            try:
                async with session.get(paths_of(rng)) as r:
                    await r.read()
                    errors += r.status != 200
            except aiohttp.ClientError:
                errors += 1
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(clerk(i, s) for i, s in enumerate(sessions)))
    return done / (time.perf_counter() - start), done, errors


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def run(documents: int, samples: int, seconds: float) -> list[dict]:
    keys = {code: NodeKeys.generate() for code in (ME, *SENDERS)}
    directory = make_directory(NodeKeys.generate(), keys)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = await make_context(Path(tmp), ME, keys[ME], directory, Clock())
        try:
            seeding = await seed(ctx, keys, documents)
            for i in range(CLERKS):
                await add_user(
                    ctx.store,
                    f"vt{i}",
                    PASSWORD,
                    role="clerk",
                    display_name=f"Văn thư {i}",
                    actor="bench",
                    opslimit=argon2id.OPSLIMIT_MIN,
                    memlimit=argon2id.MEMLIMIT_MIN,
                )
            async with ctx.store.read() as conn:
                ids = [d.id for d in await list_documents(conn, direction="in", limit=500)]
            runner, url = await serve(create_web_app(ctx))
            sessions = [await login(url, f"vt{i}") for i in range(CLERKS)]
            try:
                search = f"/?q={SEARCH}"
                inbox_ms = await median_ms(sessions[0], "/", samples)
                search_ms = await median_ms(sessions[0], search, samples)
                async with sessions[0].get("/") as r:
                    page = await r.read()
                page2 = _NEXT.search(page.decode()).group(1).replace("&amp;", "&")

                def clerk_path(rng: random.Random) -> str:
                    return rng.choice(("/", page2, search, f"/documents/{rng.choice(ids)}"))

                rate, done, errors = await browse(sessions, clerk_path, seconds)
            finally:
                for s in sessions:
                    await s.close()
                await runner.cleanup()
        finally:
            await ctx.store.close()

    async def static(request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html")

    bare = web.Application()
    bare.router.add_get("/", static)
    runner, url = await serve(bare)
    plain = [aiohttp.ClientSession(base_url=url) for _ in range(CLERKS)]
    try:
        bare_ms = await median_ms(plain[0], "/", samples)
        bare_rate, _, bare_errors = await browse(plain, lambda rng: "/", seconds)
    finally:
        for s in plain:
            await s.close()
        await runner.cleanup()
    note = f"{documents} documents, page {len(page)} B, loopback round trip"
    return [
        result(
            "inbox_page1_median_ms",
            inbox_ms,
            "ms",
            baseline_name="bare_aiohttp_static_page_median_ms",
            baseline=bare_ms,
            target=f"< {TARGET_MS:g} ({note})",
            met=inbox_ms < TARGET_MS,
        ),
        result(
            "search_median_ms",
            search_ms,
            "ms",
            baseline_name="bare_aiohttp_static_page_median_ms",
            baseline=bare_ms,
            target=f"< {TARGET_MS:g} (search {SEARCH!r})",
            met=search_ms < TARGET_MS,
        ),
        result(
            "clerks_20_requests_per_s",
            rate,
            "1/s",
            baseline_name="bare_aiohttp_static_page_20_clients_per_s",
            baseline=bare_rate,
            target=f"(recorded; {done} requests in {seconds:g} s)",
            met=True,
        ),
        result(
            "clerks_20_errors",
            errors,
            "count",
            baseline_name="bare_aiohttp_errors",
            baseline=bare_errors,
            target="== 0",
            met=errors == 0,
        ),
        result("seed_documents_per_s", documents / seeding, "1/s", target="(recorded)", met=True),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 documents, 5 s of browsing")
    args = parser.parse_args()
    documents, samples, seconds = (10_000, 30, 5.0) if args.quick else (100_000, 100, 20.0)
    report("web", asyncio.run(run(documents, samples, seconds)))


if __name__ == "__main__":
    main()
