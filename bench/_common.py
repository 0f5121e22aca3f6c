"""Shared pieces of the benchmarks: machine description, timing loop, JSON result."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import time
from collections.abc import Callable
from typing import Any


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}"
    )


def rate(
    func: Callable[[], Any], seconds: float, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Calls per second of `func`, run repeatedly for about `seconds` of `clock` (wall
    time; `time.process_time` counts this process's CPU alone, fairer on a busy machine)."""
    func()  # warm up
    count = 0
    start = clock()
    deadline = start + seconds
    while True:
        func()
        count += 1
        now = clock()
        if now >= deadline:
            return count / (now - start)


def result(
    name: str,
    value: float,
    unit: str,
    *,
    baseline_name: str | None = None,
    baseline: float | None = None,
    target: str,
    met: bool,
) -> dict[str, Any]:
    ratio = None if not baseline else round(value / baseline, 3)

    def rounded(x: float) -> float:
        return round(x, 1) if abs(x) >= 100 else round(x, 4)

    return {
        "name": name,
        "value": rounded(value),
        "unit": unit,
        "baseline_name": baseline_name,
        "baseline": None if baseline is None else rounded(baseline),
        "ratio": ratio,
        "target": target,
        "met": met,
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(bench: str, results: list[dict[str, Any]]) -> None:
    print(
        json.dumps(
            {
                "bench": bench,
                "machine": machine(),
                "date": dt.date.today().isoformat(),
                "results": results,
            },
            ensure_ascii=False,
        )
    )
