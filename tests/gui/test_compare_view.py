"""The comparison view: each tile is what the single view shows for its normalization."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from normscope.gui.compare import CompareWindow, TilePool, TileResult
from normscope.gui.panels import format_level
from normscope.gui.settings import Settings
from normscope.gui.window import MainWindow


def wait_complete(qtbot, c: CompareWindow) -> None:
    qtbot.waitUntil(lambda: c.complete, timeout=20000)


@pytest.fixture
def window(qtbot, tmp_path: Path) -> MainWindow:
    w = MainWindow(Settings(tmp_path / "settings"))
    qtbot.addWidget(w)
    w.show()
    assert w.open_source("sample:digits")
    assert w.controller.join(timeout=20)
    yield w
    w.close()


@pytest.fixture
def compare(qtbot, window: MainWindow) -> CompareWindow:
    c = window.show_compare()
    c.resize(1200, 800)
    wait_complete(qtbot, c)
    return c


def test_view_compare_opens_with_ctrl_k(window: MainWindow) -> None:
    assert window.compare_action.shortcut().toString() == "Ctrl+K"
    window.compare_action.trigger()
    assert window.compare is not None and window.compare.isVisible()


def test_every_axis_lists_each_axis_choice_of_the_method(compare: CompareWindow) -> None:
    labels = [t.spec.label for t in compare.tiles]
    assert labels == [
        "keras axis=default (2)",
        "keras axis=0",
        "keras axis=1",
        "keras axis=(0, 1)",
        "keras axis=(0, 2)",
        "keras axis=(1, 2)",
        "keras axis=none",
    ]
    assert "Keras 2 rejects axis=None" in compare.tiles[-1].verdict.text()  # said, not hidden


def test_each_tile_equals_the_single_view_of_its_normalization(
    qtbot, window: MainWindow, compare: CompareWindow
) -> None:
    window.model.set_index(5)
    wait_complete(qtbot, compare)
    done = [t for t in compare.tiles if isinstance(t.result, TileResult)]
    assert len(done) == 6
    for tile in done:
        window.model.set_options(choice=tile.spec.options.choice, axis=tile.spec.options.axis)
        assert window.controller.join(timeout=20)
        r, mine = window.results, tile.result
        assert np.array_equal(r.frame.normalized, mine.frame.normalized)
        assert r.frame.pictures[1].levels == mine.frame.pictures[1].levels
        assert r.stats.diff.pairs == mine.diff.pairs
        assert r.stats.diff.spearman_mean == mine.diff.spearman_mean
        assert r.verdict.diagnosis.summary() == mine.diagnosis.summary()
        assert tile.spec.options == window.model.options
        assert tile.code.full == window.model.normalization.code(window.model.roles)


def test_clicking_a_tile_makes_it_the_windows_normalization(
    qtbot, window: MainWindow, compare: CompareWindow
) -> None:
    tile = compare.tiles[3]
    assert window.model.options.axis != (0, 1)
    centre = tile.view.viewport().rect().center()
    qtbot.mouseClick(tile.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert window.model.options.axis == (0, 1)
    assert "border: 2px solid #1e64c8" in tile.styleSheet()  # marked as the window's
    qtbot.mouseClick(compare.tiles[2].verdict, Qt.MouseButton.LeftButton, pos=QPoint(2, 2))
    assert window.model.options.axis == (1,)
    assert window.model.normalization.resolved_axis(3) == (1,)


def test_methods_compare_what_the_spec_names(qtbot, compare: CompareWindow) -> None:
    compare.set_mode("methods", "keras:1,dtype,preset:sklearn.MinMaxScaler")
    wait_complete(qtbot, compare)
    assert [t.spec.label for t in compare.tiles] == [
        "keras axis=1",
        "dtype",
        "sklearn.MinMaxScaler",
    ]
    dtype = compare.tiles[1].result.frame  # x / 255: levels are its data range, never 0 … 1
    assert dtype.pictures[1].levels == (0.0, dtype.original.max() / 255)
    compare.set_mode("methods", "keras:9")
    assert "keras:9" in compare.message.full
    assert len(compare.tiles) == 3  # the last grid stays


def test_hovering_a_pixel_shows_its_value_in_every_tile(compare: CompareWindow) -> None:
    tile = compare.tiles[2]
    pos = tile.box.mapViewToScene(QPointF(14.5, 10.5))  # col 14, row 10
    tile.view.scene().sigMouseMoved.emit(pos)
    for t in compare.tiles:
        if isinstance(t.result, TileResult):
            value = format_level(float(t.result.frame.normalized[10, 14]))
            assert t.value.full == f"(row 10, col 14) = {value}"
        else:
            assert t.value.full == ""


def test_pan_and_zoom_are_linked_across_tiles(compare: CompareWindow) -> None:
    compare.tiles[0].box.setRange(xRange=(3, 9), yRange=(4, 10), padding=0)
    for t in compare.tiles[1:]:
        (x0, x1), _ = t.box.viewRange()
        assert (x0, x1) == pytest.approx((3, 9), abs=0.5) or x1 - x0 >= 6  # aspect kept


def test_a_newer_grid_drops_the_results_of_the_last_one(qtbot) -> None:
    pool = TilePool()
    release = threading.Event()
    got: list[tuple[int, object]] = []
    pool.done.connect(lambda slot, result: got.append((slot, result)))
    pool.submit([lambda: release.wait(5) and "old"] * 4)
    pool.submit([lambda: "new a", lambda: "new b"], first=1)
    release.set()
    qtbot.waitUntil(lambda: not pool.busy, timeout=5000)
    assert sorted(r for _, r in got) == ["new a", "new b"]
    pool.wait()


def test_the_tile_under_the_cursor_runs_next(qtbot) -> None:
    pool = TilePool()
    release = threading.Event()
    started: list[int] = []

    def job(slot: int):
        def run() -> int:
            started.append(slot)
            if slot < 2:
                release.wait(5)  # both threads busy: the rest wait in the queue
            return slot

        return run

    pool.submit([job(k) for k in range(6)])
    qtbot.waitUntil(lambda: len(started) == 2, timeout=5000)
    pool.prefer(5)
    release.set()
    qtbot.waitUntil(lambda: not pool.busy, timeout=5000)
    assert started[2] == 5
    pool.wait()
