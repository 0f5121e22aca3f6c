"""An edXML package with a 200 MB attachment: export, parse and import MB/s and peak RSS.

Export: protocol.edxml_write.write_edxml of letter 2340 with the attachment read from a
file, written to a file. Parse: protocol.edxml_read.from_edxml of that package, the
attachment decoded into a file. Each phase runs in its own process, so its peak RSS
(ru_maxrss) is its own. Baseline, same run, same bytes, each in its own process too: a bare
chunked base64 encode (base64.encodebytes, file to file) and decode (whitespace removed,
base64.b64decode, file to file). MB = 2**20 bytes of attachment. Target: every phase's peak
RSS < 150 MB (the attachment never whole in memory). Each phase runs three times: the
fastest run and the highest peak RSS are reported.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import peak_rss_mb, report, result

MB = 1024 * 1024
CHUNK = 57 * 18396  # whole base64 lines, as the writer reads
TARGET_RSS_MB = 150.0


def make_file(path: Path, size: int) -> None:
    """Random bytes written 1 MiB at a time: the file is never whole in memory."""
    with path.open("wb") as f:
        for _ in range(size // MB):
            f.write(os.urandom(MB))
        f.write(os.urandom(size % MB))


def phase(name: str, work: Path) -> dict[str, float]:
    """Run one phase in this process; its seconds and this process's peak RSS."""
    source, package, encoded = work / "attachment.bin", work / "package.xml", work / "b64.txt"
    start = time.perf_counter()
    if name == "export":
        from lienthong.protocol.edxml import ExportAttachment
        from lienthong.protocol.edxml_write import write_edxml
        from tests.protocol.fixtures import letter_2340

        body = letter_2340()
        with package.open("wb") as out:
            write_edxml(
                out,
                body.metadata,
                body.business,
                [ExportAttachment("attachment.bin", "application/octet-stream", source)],
            )
    elif name == "parse":
        from lienthong.protocol.edxml_read import from_edxml

        folder = Path(tempfile.mkdtemp(dir=work))
        with package.open("rb") as stream:
            doc = from_edxml(stream, folder)
        assert doc.attachments[0].size == source.stat().st_size
    elif name == "import":
        import asyncio

        from lienthong.crypto.keys import NodeKeys
        from lienthong.node.unit.edxml_import import import_edxml
        from tests.node.helpers import Clock, make_context, make_directory

        async def run() -> float:
            keys = NodeKeys.generate()
            code = "000.00.02.H53"
            directory = make_directory(NodeKeys.generate(), {code: keys})
            store = Path(tempfile.mkdtemp(dir=work))
            ctx = await make_context(store, code, keys, directory, Clock())
            try:
                begun = time.perf_counter()  # the store is made: its migrations are not timed
                result = await import_edxml(ctx, package)
                assert result.created and result.attachments == 1
                return time.perf_counter() - begun
            finally:
                await ctx.store.close()

        return {"seconds": asyncio.run(run()), "rss_mb": peak_rss_mb()}
    elif name == "encode":
        with source.open("rb") as src, encoded.open("wb") as dst:
            while chunk := src.read(CHUNK):
                dst.write(base64.encodebytes(chunk))
    elif name == "decode":
        pending = b""
        with encoded.open("rb") as src, (work / "decoded.bin").open("wb") as dst:
            while chunk := src.read(MB):
                text = pending + b"".join(chunk.split())
                whole = len(text) // 4 * 4
                pending = text[whole:]
                dst.write(base64.b64decode(text[:whole]))
        assert not pending
    else:
        raise SystemExit(f"unknown phase {name}")
    return {"seconds": time.perf_counter() - start, "rss_mb": peak_rss_mb()}


def run_phase(name: str, work: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--work", str(work)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=200, help="attachment size in MB")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each phase; best kept")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.work)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-edxml-") as folder:
        work = Path(folder)
        size = args.size_mb * MB
        make_file(work / "attachment.bin", size)
        runs: dict[str, dict[str, float]] = {}
        for _ in range(args.repeat):  # the best of a few runs: the machine is shared
            for name in ("export", "parse", "import", "encode", "decode"):
                now = run_phase(name, work)
                best = runs.setdefault(name, now)
                best["seconds"] = min(best["seconds"], now["seconds"])
                best["rss_mb"] = max(best["rss_mb"], now["rss_mb"])
    mb = size / MB
    results = []
    pairs = (("export", "encode"), ("parse", "decode"), ("import", "parse"))
    for name, base in pairs:
        ours, bare = runs[name], runs[base]
        base = base if base == "parse" else f"bare base64 {base}"
        rss = ours["rss_mb"]
        results.append(
            result(
                f"{name} MB/s",
                mb / ours["seconds"],
                "MB/s",
                baseline_name=f"{base} MB/s",
                baseline=mb / bare["seconds"],
                target="reported beside the baseline",
                met=True,
            )
        )
        results.append(
            result(
                f"{name} peak RSS",
                rss,
                "MB",
                baseline_name=f"{base} peak RSS",
                baseline=bare["rss_mb"],
                target=f"< {TARGET_RSS_MB:.0f} MB",
                met=rss < TARGET_RSS_MB,
            )
        )
    report("edxml", results)


if __name__ == "__main__":
    main()
