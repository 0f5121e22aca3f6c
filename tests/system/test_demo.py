"""`lienthong demo`: the federation comes up, the letter reaches every unit, Ctrl-C stops
everything, and a second run resumes without sending or registering anything twice."""

import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.system.harness import lienthong_json

pytestmark = pytest.mark.system
UNITS = 4
DEADLINE = 240  # seconds for a bounded wait on a loaded 2-core machine


def run_demo(data_dir) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lienthong.node.cli",
            "demo",
            "--units",
            str(UNITS),
            "--data-dir",
            str(data_dir),
            "--no-browser",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(process: subprocess.Popen, marker: str) -> str:
    seen = []
    deadline = time.monotonic() + DEADLINE
    for line in process.stdout:
        seen.append(line)
        if marker in line or time.monotonic() > deadline:
            break
    text = "".join(seen)
    assert marker in text, text
    return text


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    rest = process.stdout.read()
    assert process.wait(timeout=60) == 0, rest
    return rest


def test_demo_runs_delivers_stops_and_resumes(tmp_path):
    """Every unit gets 2340/VP-TTTH; the CLI reads a unit while it runs; a rerun resumes."""
    data_dir = tmp_path / "demo"
    demo = run_demo(data_dir)
    try:
        text = read_until(demo, f"arrived: {UNITS - 1}/{UNITS - 1}")
        assert "vanthu" in text and "000.00.02.H53" in text
        console = re.search(r"Centre console\s+(http://\S+/centre)\s+quantri\s+(\S+)", text)
        assert console, text
        with urllib.request.urlopen(console.group(1), timeout=30) as page:  # noqa: S310 (http)
            assert page.status == 200 and "/login" in page.url
        inbox = lienthong_json("inbox", "--data-dir", str(data_dir / "000.00.03.H53"))["items"]
        assert [d["number"] for d in inbox] == ["2340/VP-TTTH"]
    finally:
        assert "stopped" in stop(demo)
    again = run_demo(data_dir)
    try:
        read_until(again, "Ctrl-C stops")
    finally:
        stop(again)
    for code in ("000.00.01.H53", "000.00.03.H53", "000.00.04.H53"):
        inbox = lienthong_json("inbox", "--data-dir", str(data_dir / code))["items"]
        assert [d["number"] for d in inbox] == ["2340/VP-TTTH"]  # sent once, stored once
