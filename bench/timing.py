"""Timing helpers shared by the benchmarks: medians and ratios measured in the same run.

A ratio compares an operation with a baseline (a numpy memory-bandwidth proxy, or scipy)
timed interleaved with it, so that a slower or busier machine moves both alike.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence


def median_time(fn: Callable[[], object], *, reps: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over `reps` runs, after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(
    op: Callable[[], object], baseline: Callable[[], object], *, reps: int = 5, warmup: int = 1
) -> tuple[float, float, float]:
    """Time `op` and `baseline` alternately.

    Returns
    -------
    op_s, baseline_s, ratio : float
        The median times in seconds, and the median of the per-rep ratios op / baseline.
    """
    for _ in range(warmup):
        op()
        baseline()
    ops, bases, ratios = [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        baseline()
        t1 = time.perf_counter()
        op()
        t2 = time.perf_counter()
        bases.append(t1 - t0)
        ops.append(t2 - t1)
        ratios.append((t2 - t1) / max(t1 - t0, 1e-12))
    return statistics.median(ops), statistics.median(bases), statistics.median(ratios)


def row(label: str, seconds: float, ratio: float | None = None, target: str = "") -> str:
    """One aligned line of a benchmark table: label, milliseconds, ratio, target."""
    r = "" if ratio is None else f"x{ratio:6.2f}"
    return f"{label:<48} {seconds * 1e3:10.2f} ms  {r:>8}  {target}"


def load() -> float:
    """The 1-minute load average now (a benchmark reports the highest it saw)."""
    return os.getloadavg()[0]


def meets(ok: bool, target: str) -> str:
    """`target` marked met (✓) or not (✗)."""
    return f"{target} {'✓' if ok else '✗'}"


def markdown(
    section: str,
    what: str,
    highest_load: float,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
) -> str:
    """A README table of section `section` (``python -m bench --readme SECTION`` writes it):
    a line saying when and how it was measured, then `header` and `rows`."""
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')}, {what}, load average up to "
        f"{highest_load:.1f} on {os.cpu_count()} cores (`python -m bench --readme {section}` "
        "rewrites this):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    return "\n".join(lines)
