"""Browsing benchmark: a 100,000-PNG folder and a 4 GB memory-mapped ``.npy`` in the window.

Makes (once) ``/work/bench-data/pngs-100000``: 100,000 small PNGs of mixed sizes (20 to 60
pixels a side), grey and RGB, in 10 class folders. Then, in the real ``MainWindow``
offscreen, for the folder and for ``photos-28000x224x224x3.npy``: the time from Open to the
first image drawn (listing included), the median and slowest of 50 steps to the next image
(to its normalized image drawn), the longest time the event loop was blocked meanwhile, and
the process's peak resident memory. Targets: first image <= 1.5 s, step median <= 100 ms,
slowest <= 200 ms, RSS <= 600 MB.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

DATA = Path(os.environ.get("NORMSCOPE_BENCH_DATA", "/work/bench-data"))
FOLDER = DATA / "pngs-100000"
NPY = DATA / "photos-28000x224x224x3.npy"
FILES = 100_000
STEPS = 50


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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def browse(source: Path) -> dict:
    """Open `source` in a window and step through it; the numbers of the module docstring."""
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
        probe.timer.stop()
        probe.close()
        window.close()
    return {
        "first_s": first,
        "step_median_ms": 1000 * statistics.median(steps),
        "step_max_ms": 1000 * max(steps),
        "peak_rss_mb": peak_rss_mb(),
        "blocked_ms": probe.max_gap_ms,
    }


def main() -> None:
    make_folder()
    for source in (FOLDER, NPY):  # each in a process of its own: its own peak RSS
        if source.exists():
            subprocess.run([sys.executable, "-m", "bench.bench_browse", str(source)], check=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["make"]:
        make_folder()
    elif sys.argv[1:]:
        r = browse(Path(sys.argv[1]))
        print(
            f"{Path(sys.argv[1]).name}: first image {r['first_s']:.2f} s · step median "
            f"{r['step_median_ms']:.0f} ms, slowest {r['step_max_ms']:.0f} ms of {STEPS} · "
            f"event loop blocked at most {r['blocked_ms']:.0f} ms · "
            f"peak RSS {r['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    else:
        main()
