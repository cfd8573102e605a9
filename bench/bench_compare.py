"""Comparison view benchmark: from asking for a grid of 8 tiles to every tile drawn.

Runs the real ``MainWindow`` and its View > Compare window offscreen on a 512x512 RGB image,
after loading the compiled kernels, and prints the median (and slowest) over 5 grids of the
time from asking for 8 normalizations to the last tile's result drawn, alternating two specs
so that every grid is computed afresh. Target: < 2 s.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtWidgets import QApplication

from normscope.core.loading import Loaded
from normscope.core.warmup import warm_up
from normscope.gui.settings import Settings
from normscope.gui.window import MainWindow

GRIDS = 5
SPECS = (
    "keras:0,keras:1,keras:2,keras:0,1,dtype,minmax,zscore:0,1,preset:torchvision.Normalize",
    "lp:0,lp:1,lp:2,lp:0,1,minmax:0,1,zscore,percentile:0,1,preset:sklearn.MinMaxScaler",
)
TARGET_S = 2.0


def photo(size: int = 512) -> np.ndarray:
    """A smooth RGB test picture with some texture, uint8."""
    y, x = np.mgrid[0:size, 0:size] / size
    rng = np.random.default_rng(0)
    rgb = np.stack([np.sin(6 * x) * np.cos(4 * y), x * y, np.cos(9 * (x - y))], axis=-1)
    rgb = (rgb - rgb.min()) / np.ptp(rgb) * 230 + rng.integers(0, 25, rgb.shape)
    return rgb.astype(np.uint8)


def main() -> None:
    app = QApplication.instance() or QApplication([])
    warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(Settings(os.path.join(tmp, "settings")))
        window.show()
        window.model.set_loaded(Loaded(photo(), "HWC", "bench:photo512", "photo512"))
        assert window.controller.join(timeout=60)
        compare = window.show_compare()
        times = []
        for k in range(GRIDS + 1):  # the first grid warms up the pool's threads
            start = time.perf_counter()
            compare.set_mode("methods", SPECS[k % 2])
            while not compare.complete:
                app.processEvents()
                time.sleep(0.002)
            if k:
                times.append(time.perf_counter() - start)
            failed = [t.spec.label for t in compare.tiles if isinstance(t.result, Exception)]
            assert not failed, failed
        window.close()
    median = statistics.median(times)
    print(
        f"8 tiles of a 512x512 RGB image: median {median:.2f} s, slowest {max(times):.2f} s "
        f"(target < {TARGET_S:.0f} s) {'OK' if median < TARGET_S else 'SLOW'}"
    )


if __name__ == "__main__":
    main()
