"""Verifying the digital signatures in a PDF (crypto/pdf_signatures.py): PDFs per second for a
20-page signed PDF beside pyHanko's own validation of the same file called directly, in the
same run; then one 100 MB signed PDF verified in a child process, its time and peak RSS.

The CA, the signer and the PDFs are made here (tests/crypto/pdf_fixtures.py): an ECDSA
P-256 chain, a hand-written PDF signed with pyHanko. Our figure is what a node does per PDF
(read the file, every signature, the chain to the anchors, the modification analysis, the
verdict with its names); the baseline is pyHanko's PdfFileReader + validate_pdf_signature
on the same bytes with the same trust root, nothing else.
Targets: ratio >= 0.9 (our wrapper costs little) and the 100 MB PDF under 150 MB peak RSS.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from bench._common import rate, report, result
from lienthong.crypto.pdf_signatures import VALID, verify_pdf
from lienthong.node.unit.pdf_verify import bounded_verify
from tests.crypto.pdf_fixtures import make_ca, make_pdf, make_signer, sign_pdf

MB = 1024 * 1024
LARGE_BYTES = 100 * MB
RSS_TARGET_MB = 150.0

# Run in a fresh interpreter: its peak RSS is the verification's alone. VmHWM, not
# getrusage: ru_maxrss survives exec, so a child forked from this process (which held the
# 100 MB file while making it) would report this process's peak.
CHILD = """
import json, sys, time
from lienthong.crypto.pdf_signatures import verify_pdf
from lienthong.node.unit.pdf_verify import bounded_verify
anchor = open(sys.argv[2], "rb").read()
start = time.perf_counter()
verdict = verify_pdf(sys.argv[1], [anchor])
seconds = time.perf_counter() - start
status = open("/proc/self/status").read().split("VmHWM:")[1].split()
print(json.dumps({"status": verdict.status, "seconds": seconds, "rss_mb": int(status[0]) / 1024}))
"""


def pyhanko_direct(data: bytes, root: asn1_x509.Certificate) -> bool:
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    ok = True
    for sig in reader.embedded_regular_signatures:
        status = validate_pdf_signature(sig, ValidationContext(trust_roots=[root]))
        ok = ok and status.bottom_line
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter timing loops")
    args = parser.parse_args()
    seconds = 3.0 if args.quick else 10.0
    ca = make_ca("Bench CA")
    signer = make_signer(ca)
    pdf = sign_pdf(make_pdf(20), signer)
    root = asn1_x509.Certificate.load(ca.der)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "20-pages.pdf"
        small.write_bytes(pdf)
        assert verify_pdf(small, [ca.der]).status == VALID
        assert pyhanko_direct(pdf, root)
        ours = rate(lambda: verify_pdf(small, [ca.der]), seconds)
        theirs = rate(lambda: pyhanko_direct(small.read_bytes(), root), seconds)
        results.append(
            result(
                "verify_20_page_pdf_per_s",
                ours,
                "1/s",
                baseline_name="pyhanko_validate_pdf_signature_per_s",
                baseline=theirs,
                target="ratio >= 0.9",
                met=ours / theirs >= 0.9,
            )
        )
        # What a node runs per PDF: the same check in a process of its own, with its
        # time bound (node/unit/pdf_verify.py), against pyHanko in this process.
        bound = 120.0  # the default [signatures] verify_timeout_ms
        assert bounded_verify(small, [ca.der], [], "", bound).status == VALID
        isolated = rate(lambda: bounded_verify(small, [ca.der], [], "", bound), seconds)
        results.append(
            result(
                "verify_20_page_pdf_own_process_per_s",
                isolated,
                "1/s",
                baseline_name="pyhanko_validate_pdf_signature_per_s",
                baseline=theirs,
                target="recorded (one process per PDF: the price of the time bound)",
                met=True,
            )
        )
        large = Path(tmp) / "100-mb.pdf"
        started = time.perf_counter()
        large.write_bytes(sign_pdf(make_pdf(20, filler=LARGE_BYTES), signer))
        made = time.perf_counter() - started
        anchor = Path(tmp) / "ca.der"
        anchor.write_bytes(ca.der)
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(large), str(anchor)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=True,
            timeout=600,
        )
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        assert measured["status"] == VALID, measured
        size_mb = large.stat().st_size / MB
        results.append(
            result(
                "verify_100_mb_pdf_peak_rss_mb",
                measured["rss_mb"],
                "MB",
                target=f"< {RSS_TARGET_MB:.0f}",
                met=measured["rss_mb"] < RSS_TARGET_MB,
            )
        )
        results.append(
            result(
                "verify_100_mb_pdf_mb_per_s",
                size_mb / measured["seconds"],
                "MB/s",
                target=f"recorded (made in {made:.1f} s)",
                met=True,
            )
        )
    report("signatures", results)


if __name__ == "__main__":
    main()
