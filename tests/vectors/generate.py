"""Regenerates the protocol test vectors (tests/vectors/*.json) from fixed seeds.

Run `.venv/bin/python -m tests.vectors.generate` from the repository root. Every
key comes from tests/protocol/fixtures.keys(name) and every random byte from
fixtures.counter_random(label), so two runs write identical files. The layout of
the files is described in docs/PROTOCOL.md, "Test vectors".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.vectors.make_certificates import certificates
from tests.vectors.make_directories import directories
from tests.vectors.make_envelopes import envelopes
from tests.vectors.make_registrations import registrations
from tests.vectors.make_reports import reports
from tests.vectors.make_statuses import statuses
from tests.vectors.make_streams import streams
from tests.vectors.make_tls_ca import tls_ca

HERE = Path(__file__).parent
BUILDERS: dict[str, Callable[[], dict]] = {
    "envelopes.json": envelopes,
    "statuses.json": statuses,
    "certificates.json": certificates,
    "directories.json": directories,
    "registrations.json": registrations,
    "streams.json": streams,
    "reports.json": reports,
    "tls_ca.json": tls_ca,
}


def render(document: dict) -> str:
    """The exact text of a vector file: UTF-8 JSON, one-space indent, final newline."""
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def build_all() -> dict[str, str]:
    """File name -> the text generate() writes, built in memory."""
    return {name: render(build()) for name, build in BUILDERS.items()}


def generate(directory: Path = HERE) -> list[Path]:
    written = []
    for name, text in build_all().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in generate():
        print(path)
