"""The window as the gui tests open it, and waiting for what it computes."""

from __future__ import annotations

from normscope.gui.window import MainWindow


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
