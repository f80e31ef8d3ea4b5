"""Where a batch run's time goes outside the files: phase timestamps of the batch parent.

Off unless ``SELFEVAL_XL_TIMING=PATH`` is set; then ``batch.run`` writes PATH (JSON) when it
returns: ``marks`` [[name, epoch seconds], ...] in order (CLI start, lock, discovery, pool start,
first worker ready, last result, 汇总.xlsx, run.json, 复核汇总报告 ...) and ``totals`` {name:
seconds} accumulated over the run (e.g. the parent's time handling results). Epoch seconds
(``time.time()``), so a benchmark can line them up with its own clock and with the workers'
per-file seconds in run.json. For benchmarks/bench.py and debugging; costs nothing when off.
"""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from typing import Iterator

TIMING_ENV = "SELFEVAL_XL_TIMING"

_marks: list[list] = []
_totals: dict[str, float] = {}


def enabled() -> bool:
    return bool(os.environ.get(TIMING_ENV))


def mark(name: str) -> None:
    """Record that the parent reached ``name`` now (when timing is on)."""
    if enabled():
        _marks.append([name, time.time()])


@contextmanager
def spent(name: str) -> Iterator[None]:
    """Add the time of the ``with`` body to the total ``name`` (when timing is on)."""
    if not enabled():
        yield
        return
    t = time.perf_counter()
    try:
        yield
    finally:
        _totals[name] = _totals.get(name, 0.0) + time.perf_counter() - t


def dump() -> None:
    """Write the marks and totals so far to ``$SELFEVAL_XL_TIMING`` (never raises)."""
    path = os.environ.get(TIMING_ENV)
    if not path:
        return
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"pid": os.getpid(), "marks": _marks, "totals": _totals}, fh)
    except OSError:
        pass
