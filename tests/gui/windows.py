"""The window as the gui tests open it, and waiting for what it computes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from normscope.gui.window import MainWindow


def noise_folder(root: Path, count: int, side: int, seed: int) -> Path:
    """`root` made, holding `count` grey `side`×`side` PNGs of uniform noise, 000.png on."""
    root.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (side, side), np.uint8)).save(root / f"{i:03d}.png")
    return root


def wait_ready(w: MainWindow) -> None:
    """Wait until the image on show, its statistics and (for a batch) the batch verdict are in."""
    assert w.controller.join(timeout=20)
    r = w.results
    assert r.stats is not None and (not w.model.is_batch or r.batch is not None)


def wait_shown(qtbot, w: MainWindow, index: int) -> None:
    """Until a browsed dataset's image `index` (or its error) is on show and everything asked
    for it is in."""
    qtbot.waitUntil(lambda: w.browser.shown == index and w.browser.is_idle(), timeout=20_000)
    assert w.controller.join(timeout=20)


def failing_walk(dataset, normalization, tally, **_kwargs):
    """A whole-dataset walk that fails in its worker process (the disk went away), in place of
    :func:`normscope.core.walk.walk`; importable there, so it can be sent."""
    raise OSError(28, "No space left on device")
