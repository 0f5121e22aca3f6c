"""How fast the store makes a send durable, and how fast BlobStore writes a large blob.

1. durable_sends_per_s: record_outgoing (document row holding its 2 KB envelope, one
   outbox row, audit entry) in one write transaction, sequentially, beside a bare stdlib
   sqlite3 transaction inserting one 2 KB row (WAL, synchronous=NORMAL), same run.
   send_sql_floor_per_s: the same statements on the same store file through a plain
   sqlite3 connection (the document row, the outbox row, the audit chain's read and
   insert, with values made once, a PASSIVE checkpoint in a thread every
   CHECKPOINT_EVERY_COMMITS as the store does): what a send costs SQLite alone.
2. blob_write_mb_per_s: a 1 GiB blob (256 MiB with --quick) written through
   BlobStore.writer() in 1 MiB chunks, beside a raw file write + hashlib.sha256 +
   fsync of the same bytes; run in a fresh subprocess whose peak RSS is reported.
3. wal_pages_per_send: what one send writes, page by page. After a checkpoint the WAL
   holds exactly the pages each transaction wrote (one frame per page per commit);
   each frame's page number is mapped to its table or index through sqlite3's dbstat
   virtual table. The same for the bare insert, same run.

Run: python bench/store.py [--quick]. The last line of output is one JSON object.
"""

import argparse
import asyncio
import hashlib
import json
import os
import platform
import resource
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import CHECKPOINT_EVERY_COMMITS, Store
from lienthong.storage.documents import (
    _INSERT_ENVELOPED,
    DocumentRecord,
    _row_values,
    record_outgoing,
)

ENVELOPE_BYTES = 2048
CHUNK = 1024 * 1024
ROUNDS = 5  # alternate baseline and store; keep each one's best round
PAGE_SENDS = 40  # sends counted page by page: fewer WAL pages than one autocheckpoint (1000)
WAL_HEADER = 32  # bytes before the first frame of a WAL file
FRAME_HEADER = 24  # bytes before each frame's page image


def _ids(prefix: str):
    n = 0
    while True:
        n += 1
        yield f"{prefix}{n:020d}"


def bare_sqlite_per_s(path: Path, count: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, raw BLOB NOT NULL)")
    payload = os.urandom(ENVELOPE_BYTES)
    ids = _ids(f"B{path.stat().st_size % 100000:05d}")
    start = time.perf_counter()
    for _ in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (id, raw) VALUES (?, ?)", (next(ids), payload))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def _floor_document(doc_id: str = "", metadata: bytes | None = None) -> DocumentRecord:
    """A letter's row as node/unit/documents.py builds it for each send: keyword arguments,
    every column the sender knows (state and times are record_outgoing's)."""
    return DocumentRecord(
        id=doc_id,
        direction="out",
        sender_code="000.00.05.H53",
        doc_type="Công văn",
        subject="V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)",
        issuer_code="000.00.05.H53",
        issuer_name="Văn phòng UBND tỉnh Tây Ninh",
        issued_on="2014-05-23",
        metadata=os.urandom(300) if metadata is None else metadata,
        number="2340",
        number_year=None,
        notation="VP-TTTH",
        urgency=0,
        confidentiality=0,
        due_on=None,
    )


def send_sql_floor_per_s(path: Path, count: int, round_no: int) -> float:
    """A send's statements with values made once, on a plain sqlite3 connection."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # as the store's writer: it checkpoints
    envelope = os.urandom(ENVELOPE_BYTES)
    sha256 = hashlib.sha256(envelope).digest()
    base = _floor_document()
    details = '{"notation":"VP-TTTH","recipients":["000.00.04.H53"],"size":2048}'
    ids = _ids(f"F{round_no}")
    checkpointer: threading.Thread | None = None
    start = time.perf_counter()
    for n in range(count):
        doc_id, at = next(ids), time.time_ns() // 1_000_000
        row = _row_values(
            base, id=doc_id, wire_id=doc_id, state="sent", created_at=at, updated_at=at
        )
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(_INSERT_ENVELOPED, (*row, envelope, sha256))
        conn.execute(
            "INSERT INTO outbox (envelope_id, recipient, state, attempts, next_attempt_at,"
            " updated_at) VALUES (?, ?, 'queued', 0, ?, ?)",
            (doc_id, "000.00.04.H53", at, at),
        )
        seq, prev = conn.execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        conn.execute(
            "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash)"
            " VALUES (?, ?, 'clerk', 'document.send', ?, ?, ?, ?)",
            (seq + 1, at, doc_id, details, prev, sha256),
        )
        conn.execute("COMMIT")
        # As the store does: a PASSIVE checkpoint in a thread every so many commits.
        if n % CHECKPOINT_EVERY_COMMITS == CHECKPOINT_EVERY_COMMITS - 1 and not (
            checkpointer and checkpointer.is_alive()
        ):
            checkpointer = threading.Thread(target=passive_checkpoint, args=(path,))
            checkpointer.start()
    elapsed = time.perf_counter() - start
    if checkpointer is not None:
        checkpointer.join()
    conn.close()
    return count / elapsed


async def store_sends_per_s(store: Store, count: int, round_no: int) -> float:
    envelope = os.urandom(ENVELOPE_BYTES)
    metadata = os.urandom(300)
    ids = _ids(f"R{round_no}")
    start = time.perf_counter()
    for _ in range(count):
        doc = _floor_document(next(ids), metadata)
        async with store.write() as tx:
            at = store.now()
            await record_outgoing(tx, doc, envelope, ["000.00.04.H53"], actor="clerk", at=at)
    return count / (time.perf_counter() - start)


def wal_transactions(wal: Path) -> list[list[int]]:
    """The page numbers each committed transaction in a WAL file wrote, oldest first."""
    data = wal.read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    salt = data[16:24]
    transactions: list[list[int]] = []
    pages: list[int] = []
    offset = WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(data):
        page_no, commit_size = struct.unpack(">II", data[offset : offset + 8])
        if data[offset + 8 : offset + 16] != salt:
            break  # a frame left from before the last checkpoint
        pages.append(page_no)
        if commit_size:
            transactions.append(pages)
            pages = []
        offset += FRAME_HEADER + page_size
    return transactions


def pages_by_btree(path: Path, transactions: list[list[int]]) -> dict[str, float]:
    """Mean pages written per transaction, per table or index (dbstat's names)."""
    conn = sqlite3.connect(path)
    try:
        owner = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    finally:
        conn.close()
    counts: dict[str, int] = {}
    for pages in transactions:
        for page_no in pages:
            name = owner.get(page_no, "(free or new)")
            counts[name] = counts.get(name, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return {name: round(count / len(transactions), 2) for name, count in ordered}


def passive_checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.close()


def checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def pages_per_send(work: Path) -> dict:
    """WAL pages one durable send writes, by table and index, beside the bare insert's."""
    path = work / "store.sqlite3"
    checkpoint(path)
    store = await Store.open(path)
    try:
        await store_sends_per_s(store, PAGE_SENDS, ROUNDS)
        sends = wal_transactions(path.with_name(path.name + "-wal"))[-PAGE_SENDS:]
        by_btree = pages_by_btree(path, sends)
    finally:
        await store.close()
    bare_path = work / "bare.sqlite3"
    checkpoint(bare_path)
    holder = sqlite3.connect(bare_path)  # the last connection to close removes the WAL
    try:
        holder.execute("SELECT count(*) FROM t").fetchone()  # opens the file
        bare_sqlite_per_s(bare_path, PAGE_SENDS)
        bare = wal_transactions(bare_path.with_name(bare_path.name + "-wal"))[-PAGE_SENDS:]
        bare_by_btree = pages_by_btree(bare_path, bare)
    finally:
        holder.close()
    send_pages = sum(map(len, sends)) / len(sends)
    bare_pages = sum(map(len, bare)) / len(bare)
    return {
        "name": "wal_pages_per_send",
        "value": round(send_pages, 2),
        "unit": "pages",
        "baseline_name": "wal_pages_per_bare_insert",
        "baseline": round(bare_pages, 2),
        "ratio": round(send_pages / bare_pages, 3),
        "target": "recorded",
        "met": None,
        "by_btree": by_btree,
        "bare_by_btree": bare_by_btree,
    }


async def bench_sends(work: Path, count: int) -> dict:
    best_bare = best_store = best_floor = 0.0
    store = await Store.open(work / "store.sqlite3")
    try:
        bare_path = work / "bare.sqlite3"
        bare_path.touch()
        for round_no in range(ROUNDS):
            best_bare = max(best_bare, bare_sqlite_per_s(bare_path, count))
            best_store = max(best_store, await store_sends_per_s(store, count, round_no))
            best_floor = max(best_floor, send_sql_floor_per_s(store.path, count, round_no))
    finally:
        await store.close()
    ratio = best_store / best_bare
    floor = {
        "name": "send_sql_floor_per_s",
        "value": round(best_floor, 1),
        "unit": "1/s",
        "baseline_name": "bare_sqlite3_insert_tx_per_s",
        "baseline": round(best_bare, 1),
        "ratio": round(best_floor / best_bare, 3),
        "target": "recorded",
        "met": None,
    }
    return [
        {
            "name": "durable_sends_per_s",
            "value": round(best_store, 1),
            "unit": "1/s",
            "baseline_name": "bare_sqlite3_insert_tx_per_s",
            "baseline": round(best_bare, 1),
            "ratio": round(ratio, 3),
            "target": "ratio >= 0.5",
            "met": ratio >= 0.5,
        },
        floor,
    ]


def blob_child(size: int, work: Path) -> None:
    """In a fresh process: raw write+hash+fsync, then BlobStore, then print JSON."""
    chunk = os.urandom(CHUNK)
    chunks = size // CHUNK

    raw_path = work / "raw.bin"
    start = time.perf_counter()
    digest = hashlib.sha256()
    with raw_path.open("wb") as out:
        for _ in range(chunks):
            out.write(chunk)
            digest.update(chunk)
        out.flush()
        os.fsync(out.fileno())
    raw_s = time.perf_counter() - start
    raw_path.unlink()

    blobs = BlobStore(work / "blobs")
    start = time.perf_counter()
    writer = blobs.writer()
    for _ in range(chunks):
        writer.write(chunk)
    info = writer.commit(expected_id=digest.hexdigest())
    store_s = time.perf_counter() - start
    blobs.delete(info.id)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"raw_s": raw_s, "store_s": store_s, "size": size, "peak_rss_mb": peak_mb}))


def bench_blob(work: Path, size: int) -> list[dict]:
    child = subprocess.run(
        [sys.executable, __file__, "--blob-child", str(size), "--work", str(work)],
        check=True,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    mb = size / (1024 * 1024)
    store_rate, raw_rate = mb / figures["store_s"], mb / figures["raw_s"]
    ratio = store_rate / raw_rate
    return [
        {
            "name": "blob_write_mb_per_s",
            "value": round(store_rate, 1),
            "unit": "MiB/s",
            "baseline_name": "raw_write_sha256_fsync_mb_per_s",
            "baseline": round(raw_rate, 1),
            "ratio": round(ratio, 3),
            "target": f"ratio >= 0.5 ({int(mb)} MiB blob)",
            "met": ratio >= 0.5,
        },
        {
            "name": "blob_writer_peak_rss_mb",
            "value": round(figures["peak_rss_mb"], 1),
            "unit": "MB",
            "baseline_name": None,
            "baseline": None,
            "ratio": None,
            "target": "< 100",
            "met": figures["peak_rss_mb"] < 100,
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument("--blob-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.blob_child is not None:
        blob_child(args.blob_child, args.work)
        return
    sends = 3000 if args.quick else 20000
    blob_size = (256 if args.quick else 1024) * CHUNK
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        work = Path(tmp)
        results = asyncio.run(bench_sends(work, sends))
        print(f"sends: {results[0]}", flush=True)
        print(f"floor: {results[1]}", flush=True)
        results.append(asyncio.run(pages_per_send(work)))
        print(f"pages: {results[2]}", flush=True)
        results += bench_blob(work, blob_size)
    machine = (
        f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    for result in results[3:]:
        print(f"blob: {result}", flush=True)
    print(
        json.dumps(
            {
                "bench": "store",
                "machine": machine,
                "date": date.today().isoformat(),
                "results": results,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
