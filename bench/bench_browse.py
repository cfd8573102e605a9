"""Browsing benchmark: a 100,000-PNG folder and a 4 GB memory-mapped ``.npy`` in the window.

Makes (once) ``/work/bench-data/pngs-100000``: 100,000 small PNGs of mixed sizes (20 to 60
pixels a side), grey and RGB, in 10 class folders. Then, in the real ``MainWindow``
offscreen, for the folder and for ``photos-28000x224x224x3.npy``: the time from Open to the
first image drawn (listing included), the median and slowest of 50 steps to the next image
(to its normalized image drawn), the longest time the event loop was blocked meanwhile (and
how much of it the GUI thread spent computing: the rest it waited for a core or a lock), and
the process's peak resident memory. Targets: first image <= 1.5 s, step median <= 100 ms,
slowest <= 200 ms, RSS <= 600 MB.

``python -m bench.bench_browse --busy [SOURCE]`` measures the other promise: the longest gap
between ticks of a 2 ms timer on the window's event loop while the whole-dataset verdict walks
SOURCE (default the 100,000-PNG folder), while the N button's statistics pass (z-score over
N, H, W) runs on it and while File > Dataset Statistics runs on it, each for :data:`BUSY_S`
seconds once the work is under way, and while the folder's image headers are surveyed (from
the first image drawn, the verdict walking, until the survey is in; target: <= 100 ms). Run it with
``PYTHONPATH`` naming another checkout to measure that code the same way (a baseline).

``python -m bench --readme browse`` measures both sources, each in a process of its own for
stepping and another for the verdict walk, and writes :func:`readme`'s table into the README.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

DATA = Path(os.environ.get("NORMSCOPE_BENCH_DATA", "/work/bench-data"))
FOLDER = DATA / "pngs-100000"
NPY = DATA / "photos-28000x224x224x3.npy"
FILES = 100_000
STEPS = 50
BUSY_S = 8.0  # seconds of each busy measurement
#: The children's environment: a user's, which writes and reuses bytecode.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def make_folder(folder: Path = FOLDER, count: int = FILES) -> Path:
    """`count` small PNGs of mixed sizes, grey and RGB, in 10 class folders (kept once made)."""
    from PIL import Image

    done = folder / ".complete"
    if done.exists():
        return folder
    rng = np.random.default_rng(0)
    for i in range(count):
        cls = folder / f"class{i % 10}"
        if i < 10:
            cls.mkdir(parents=True, exist_ok=True)
        h, w = rng.integers(20, 61, size=2)
        shape = (h, w) if i % 3 == 0 else (h, w, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(
            cls / f"{i:06d}.png", compress_level=1
        )
    done.touch()
    return folder


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB): its own, as /proc says (``VmHWM``); its
    ``ru_maxrss`` also counts the peak of the process that started it (execve keeps it)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) / 1024


@contextlib.contextmanager
def _probed_window() -> Iterator[tuple[Any, Any]]:
    """A shown window with its kernels loaded, and a running event-loop probe on it."""
    from PySide6.QtWidgets import QApplication

    from bench.bench_window import Probe
    from normscope.core.warmup import warm_up
    from normscope.gui.settings import Settings
    from normscope.gui.window import MainWindow

    app = QApplication.instance() or QApplication([])
    warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(Settings(tmp))
        window.resize(1400, 800)
        window.show()
        probe = Probe(app, window)
        probe.clock.start()
        probe.timer.start()
        try:
            yield window, probe
        finally:
            probe.timer.stop()
            probe.close()
            window.close()


def browse(source: Path) -> dict:
    """Open `source` in a window and step through it; the numbers of the module docstring."""
    with _probed_window() as (window, probe):

        def step(index: int) -> float:
            """Seconds from asking for image `index` to its normalized image painted."""
            probe.frame_at = None
            t0 = time.perf_counter()
            if index == 0:
                window.open_source(str(source))
            else:
                window.model.set_index(index)
            probe.wait(lambda: probe.frame_at is not None and window.browser.shown == index)
            took = probe.frame_at - t0
            probe.wait(probe.idle)  # its rank statistics too, before the next step
            return took

        first = step(0)
        probe.max_gap_ms = 0.0  # the listing blocks while opening; stepping must not
        steps = [step(i) for i in range(1, STEPS + 1)]
    return {
        "first_s": first,
        "step_median_ms": 1000 * statistics.median(steps),
        "step_max_ms": 1000 * max(steps),
        "peak_rss_mb": peak_rss_mb(),
        "blocked_ms": probe.max_gap_ms,
        "blocked_cpu_ms": probe.max_gap_cpu_ms,
    }


def busy(source: Path) -> dict:
    """The longest event-loop gaps (ms) while the headers of `source` are surveyed, while the
    verdict walks it, while the N button's statistics pass and File > Dataset Statistics run
    on it; with how far each got (images, or seconds for the survey)."""
    with _probed_window() as (window, probe):

        def gap_while(started, done) -> tuple[float, int]:
            probe.wait(started)
            probe.max_gap_ms, t_end = 0.0, time.perf_counter() + BUSY_S
            probe.wait(lambda: time.perf_counter() > t_end)
            return probe.max_gap_ms, done()

        t0 = time.perf_counter()
        window.open_source(str(source))
        verdict = window.dataset_verdict
        probe.wait(lambda: verdict.running and probe.idle())  # opening, drawn: its own gaps
        probe.max_gap_ms = 0.0
        probe.wait(lambda: not window.dataset_norm.surveying)  # its image sizes read
        survey_gap, survey_s = probe.max_gap_ms, time.perf_counter() - t0
        walk_gap, walked = gap_while(
            lambda: verdict.running and verdict.tally is not None and verdict.tally.checked > 0,
            lambda: verdict.tally.checked,
        )
        verdict.stop()
        norm, read = window.dataset_norm, [0]
        norm.progressed.connect(lambda done, _n: read.__setitem__(0, done))
        window.model.set_options(choice="zscore", axis=(0, 1))
        window.controls.n_button.click()  # z-score over N, H, W: the dataset's mean and std
        norm_gap, normed = gap_while(lambda: norm.running and read[0] > 0, lambda: read[0])
        norm.cancel()
        dialog = window.dataset_statistics(source)
        stats_gap, counted = gap_while(
            lambda: dialog.progress.value() > 0, lambda: dialog.progress.value()
        )
        dialog.reject()
    return {
        "survey_gap_ms": survey_gap,
        "survey_s": survey_s,
        "norm_gap_ms": norm_gap,
        "normed": normed,
        "walk_gap_ms": walk_gap,
        "walked": walked,
        "stats_gap_ms": stats_gap,
        "counted": counted,
    }


def measured(source: Path, *, busy: bool = False) -> dict:
    """:func:`browse` (or :func:`busy`) of `source` in a fresh process (its own peak RSS), with
    the highest 1-minute load average seen at its start and end (``load``)."""
    args = [sys.executable, "-m", "bench.bench_browse", "--json"]
    args += ["--busy", str(source)] if busy else [str(source)]
    load = os.getloadavg()[0]
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True, env=ENV).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "load": max(load, os.getloadavg()[0])}


def readme_table(rows: dict[str, tuple[dict, dict]]) -> str:
    """The README's table of :func:`browse` and :func:`busy` numbers by source name."""

    def meets(value: float, bound: float, text: str) -> str:
        return f"{text} {'✓' if value <= bound else '✗'}"

    lines = [
        "| source | first image (listing included) | step median / slowest of "
        f"{STEPS} | longest event-loop gap: stepping / verdict walking | peak RSS |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, (b, w) in rows.items():
        cells = (
            meets(b["first_s"], 1.5, f"{b['first_s']:.2f} s"),
            meets(b["step_median_ms"], 100, f"{b['step_median_ms']:.0f} ms")
            + " / "
            + meets(b["step_max_ms"], 200, f"{b['step_max_ms']:.0f} ms"),
            meets(b["blocked_ms"], 100, f"{b['blocked_ms']:.0f} ms")
            + f" (the GUI thread computing {b['blocked_cpu_ms']:.0f} ms of it) / "
            + meets(w["walk_gap_ms"], 100, f"{w['walk_gap_ms']:.0f} ms"),
            meets(b["peak_rss_mb"], 600, f"{b['peak_rss_mb']:.0f} MB"),
        )
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines.append("| target | ≤ 1.5 s | ≤ 100 ms / ≤ 200 ms | ≤ 100 ms / ≤ 100 ms | ≤ 600 MB |")
    load = max(r["load"] for pair in rows.values() for r in pair)
    head = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M')}, load average up to {load:.1f} on "
        f"{os.cpu_count()} cores (`python -m bench --readme browse` rewrites this table):"
    )
    return "\n".join([head, "", *lines])


def readme() -> str:
    """Measure both sources (stepping, then the verdict walk, each in a fresh process) and
    return the README's table (``python -m bench --readme browse``)."""
    make_folder()
    names = {FOLDER: f"{FILES:,} PNGs", NPY: f"`{NPY.name}` (memory-mapped)"}
    rows = {
        names[source]: (measured(source), measured(source, busy=True))
        for source in (FOLDER, NPY)
        if source.exists()
    }
    table = readme_table(rows)
    print(table, flush=True)
    return table


def main() -> None:
    make_folder()
    for source in (FOLDER, NPY):  # each in a process of its own: its own peak RSS
        if source.exists():
            subprocess.run([sys.executable, "-m", "bench.bench_browse", str(source)], check=True)


def busy_words(source: Path, r: dict) -> str:
    """:func:`busy`'s numbers in a line."""
    return (
        f"{source.name}, load {os.getloadavg()[0]:.1f}: event loop blocked at most "
        f"{r['survey_gap_ms']:.0f} ms while the headers were surveyed ({r['survey_s']:.1f} "
        f"s after Open), {r['walk_gap_ms']:.0f} ms while the verdict walked "
        f"({r['walked']:,} images in {BUSY_S:.0f} s), {r['norm_gap_ms']:.0f} ms while "
        f"the N pass ran ({r['normed']:,} images), {r['stats_gap_ms']:.0f} ms while the "
        f"statistics pass ran ({r['counted']:,} images)"
    )


def browse_words(source: Path, r: dict) -> str:
    """:func:`browse`'s numbers in a line."""
    return (
        f"{source.name}, load {os.getloadavg()[0]:.1f}: first image "
        f"{r['first_s']:.2f} s · step median {r['step_median_ms']:.0f} ms, slowest "
        f"{r['step_max_ms']:.0f} ms of {STEPS} · event loop blocked at most "
        f"{r['blocked_ms']:.0f} ms (the GUI thread computing {r['blocked_cpu_ms']:.0f} "
        f"ms of it) · peak RSS {r['peak_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    argv = sys.argv[1:]
    as_json = "--json" in argv  # one line of JSON: for readme()'s parent process
    argv = [a for a in argv if a != "--json"]
    if argv == ["make"]:
        make_folder()
    elif argv:
        if argv[0] == "--busy":
            src = Path(argv[1]) if argv[1:] else make_folder()
            r, words = busy(src), busy_words
        else:
            src = Path(argv[0])
            r, words = browse(src), browse_words
        print(json.dumps(r) if as_json else words(src, r), flush=True)
    else:
        main()
