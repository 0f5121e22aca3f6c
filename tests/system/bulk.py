"""Bulk work in a separate process against a node's data directory, as a clerk would do it.

    python -m tests.system.bulk send D --to CODE --count N
    python -m tests.system.bulk accept-all D

Used by system tests and benchmarks to queue or register hundreds of documents
without starting one CLI process per document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from lienthong.node.runtime import context
from lienthong.node.unit import documents as service
from lienthong.protocol.document import DocumentMetadata, Organisation, Signer
from lienthong.protocol.states import DocState
from lienthong.storage.documents import list_documents


async def send(data_dir: Path, to: list[str], count: int, start: int) -> list[str]:
    ids = []
    async with context(data_dir) as ctx:
        for n in range(start, start + count):
            metadata = DocumentMetadata(
                signer=Signer("Trương Văn Hùng", "Chánh Văn phòng"),
                number=f"{n:02d}",
                notation="VP-TTTH",
                doc_type="cong_van",
                issuer=Organisation(name=ctx.config.name, code=ctx.config.code),
                place="Tây Ninh",
                issued_on="2026-11-25",
                subject=f"V/v văn bản thử số {n}",
            )
            ids.append(await service.send_document(ctx, metadata, to, actor="bulk"))
    return ids


async def accept_all(data_dir: Path) -> dict[str, int]:
    numbers = {}
    async with context(data_dir) as ctx:
        before = None
        while True:
            async with ctx.store.read() as conn:
                page = await list_documents(
                    conn, direction="in", state="arrived", limit=500, before=before
                )
            if not page:
                break
            for doc in page:
                numbers[doc.id] = await service.process_document(
                    ctx, doc.id, DocState.ACCEPTED, actor="bulk"
                )
            before = (page[-1].created_at, page[-1].id)
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("send")
    p.add_argument("data_dir", type=Path)
    p.add_argument("--to", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--start", type=int, default=1)
    p = sub.add_parser("accept-all")
    p.add_argument("data_dir", type=Path)
    args = parser.parse_args()
    if args.command == "send":
        out = asyncio.run(send(args.data_dir, args.to.split(","), args.count, args.start))
    else:
        out = asyncio.run(accept_all(args.data_dir))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
