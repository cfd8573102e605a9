"""Pictures made off the GUI thread are exactly what pyqtgraph would render on it."""

from __future__ import annotations

import threading

import numpy as np
import pyqtgraph as pg
import pytest
from qimages import pixels, rendered_by_pyqtgraph

from normscope.gui import panels
from normscope.gui.panels import DIVERGING, PictureItem, colormap, make_picture


def rendered(data: np.ndarray, levels, cmap: str) -> np.ndarray:
    lut = None if data.ndim == 3 else colormap(cmap).getLookupTable(nPts=256)
    return rendered_by_pyqtgraph(data, levels, lut)


rng = np.random.default_rng(7)
with_nan = rng.standard_normal((31, 17))
with_nan[3, 4] = np.nan
rgb_nan = rng.random((9, 12, 3))
rgb_nan[2, 5, 1] = np.nan
CASES = {
    "uint8 gray, dtype range": (rng.integers(0, 256, (20, 30)).astype(np.uint8), (0, 255)),
    "uint8 RGB, dtype range": (rng.integers(0, 256, (20, 30, 3)).astype(np.uint8), (0, 255)),
    "uint16 gray, data range": (rng.integers(0, 4096, (25, 11)).astype(np.uint16), (3, 4090)),
    "float64 RGB, own range": (rng.random((40, 33, 3)) * 0.02, (0.0001, 0.0193)),
    "float64 gray with NaN": (with_nan, (-2.5, 2.5)),
    "float64 RGB with NaN": (rgb_nan, (0.0, 1.0)),
    "float32 gray, levels inside": (rng.standard_normal((16, 16)).astype(np.float32), (-1, 1)),
    "constant": (np.full((5, 6), 3.0), (2.5, 3.5)),
    "float32 RGB, own range": ((rng.random((21, 19, 3)) * 3 - 1).astype(np.float32), (-1, 2)),
    "float64 gray, on the levels and beyond": (
        np.array([[-np.inf, -1.0, 0.0, 0.25, 0.5, 1.0 - 1e-12, 1.0, 2.0, np.inf]]),
        (0.0, 1.0),
    ),
}


@pytest.mark.parametrize("cmap", ["gray", "viridis", DIVERGING])
@pytest.mark.parametrize("case", list(CASES))
def test_picture_is_pyqtgraphs_own_rendering(qapp, case: str, cmap: str) -> None:
    data, levels = CASES[case]
    picture = make_picture(data, levels, cmap)
    assert picture.qimage is not None and picture.levels == tuple(map(float, levels))
    np.testing.assert_array_equal(pixels(picture.qimage), rendered(data, levels, cmap))


def test_pictures_can_be_made_on_a_worker_thread(qapp) -> None:
    data, levels = CASES["float64 RGB with NaN"]
    made: list = []
    worker = threading.Thread(target=lambda: made.append(make_picture(data, levels, "gray")))
    worker.start()
    worker.join()
    np.testing.assert_array_equal(pixels(made[0].qimage), rendered(data, levels, ""))


def test_item_draws_the_ready_picture_without_rendering(qapp, monkeypatch) -> None:
    data, levels = CASES["float64 gray with NaN"]
    picture = make_picture(data, levels, "viridis")
    item = PictureItem()
    item.show_picture(picture)
    assert item.image is not None and np.shares_memory(item.image, data)

    def no_render(*_args, **_kwargs):
        raise AssertionError("rendered again on the GUI thread")

    monkeypatch.setattr(panels.functions_qimage, "try_make_qimage", no_render)
    item.render()
    assert item.qimage is picture.qimage


def test_item_renders_again_once_the_picture_is_changed(qapp) -> None:
    data, levels = CASES["float32 gray, levels inside"]
    item = PictureItem()
    item.show_picture(make_picture(data, levels, "gray"))
    item.setLevels((-3, 3))  # anything that changes the drawing is pyqtgraph's to render
    item.render()
    np.testing.assert_array_equal(pixels(item.qimage), rendered(data, (-3, 3), "gray"))
    other = data[::-1].copy()
    item.setImage(other, autoLevels=False)
    item.render()
    np.testing.assert_array_equal(pixels(item.qimage), rendered(other, (-3, 3), "gray"))
    picture = make_picture(data, levels, "gray")
    item.show_picture(picture)
    item.setAutoDownsample(True)  # pyqtgraph renders a reduced image of what the view shows
    item.render()
    assert item.qimage is not picture.qimage


def shown_plot(qtbot):
    """A window of one plot made by :func:`panels.add_plot`, with a curve, shown."""
    layout = pg.GraphicsLayoutWidget()
    qtbot.addWidget(layout)
    layout.resize(400, 300)
    plot = panels.add_plot(layout)
    plot.plot([0, 1, 2], [0, 4, 2])
    layout.show()
    qtbot.waitExposed(layout)
    return layout, plot


def spy(monkeypatch, method: str, seen) -> None:
    """pyqtgraph's ``AxisItem.<method>``, with ``seen(axis, result)`` told of each call."""
    real = getattr(pg.AxisItem, method)

    def spied(axis, *args):
        result = real(axis, *args)
        seen(axis, result)
        return result

    monkeypatch.setattr(pg.AxisItem, method, spied)


def test_the_frame_axes_draw_lines_and_ticks_but_measure_no_labels(qtbot, monkeypatch) -> None:
    """The top and right axes frame a plot (a line and inward ticks, no labels): a new range
    must not make them lay out tick labels, half the cost of drawing a new image's axes."""
    layout, plot = shown_plot(qtbot)
    labelled: list[str] = []
    ticked: dict[str, int] = {}
    spy(monkeypatch, "tickStrings", lambda axis, _: labelled.append(axis.orientation))
    spy(
        monkeypatch,
        "generateDrawSpecs",
        lambda a, drawn: ticked.update({a.orientation: len(drawn[1])}),
    )
    plot.setRange(xRange=(0, 50), yRange=(-3, 7), padding=0)
    layout.grab()  # paints every axis
    assert {"left", "bottom"} <= set(labelled) and not {"top", "right"} & set(labelled)
    assert ticked["top"] > 0 and ticked["right"] > 0  # still a frame, with its ticks


def test_the_frame_axes_reuse_the_ticks_their_partners_computed(qtbot, monkeypatch) -> None:
    """Top and bottom (left and right) show the same range over the same length: their ticks
    are computed once a new range is drawn, not twice, and are the same ticks."""
    layout, plot = shown_plot(qtbot)
    computed: list[str] = []
    ticks: dict[str, list] = {}

    def tick_marks(axis, drawn) -> None:
        ticks[axis.orientation] = [(round(a.x(), 6), round(a.y(), 6)) for _, a, _ in drawn[1]]

    spy(monkeypatch, "tickValues", lambda axis, _: computed.append(axis.orientation))
    spy(monkeypatch, "generateDrawSpecs", tick_marks)
    plot.setRange(xRange=(0, 50), yRange=(-3, 7), padding=0)
    layout.grab()  # paints every axis
    assert len(computed) == 2 and len({"top", "bottom"} & set(computed)) == 1  # one each way
    assert len(ticks["top"]) == len(ticks["bottom"]) > 0
    assert len(ticks["left"]) == len(ticks["right"]) > 0


def two_plots(qtbot, drawings):
    """Two plots side by side, the same size, shown."""
    layout = pg.GraphicsLayoutWidget()
    qtbot.addWidget(layout)
    layout.resize(600, 300)
    plots = [panels.add_plot(layout, drawings=drawings, row=0, col=c) for c in range(2)]
    for plot in plots:  # as the window's panel layout places its image plots: alike
        plot.setMinimumWidth(250)
        plot.setMaximumWidth(250)
    layout.show()
    qtbot.waitExposed(layout)
    return layout, plots


def new_range(layout, plots, x: float, y: float) -> np.ndarray:
    """Show x from 0 to `x` and y from 0 to `y` in `plots`, and the layout's pixels."""
    for plot in plots:
        plot.setRange(xRange=(0, x), yRange=(0, y), padding=0)
    return pixels(layout.grab().toImage())


def test_plots_drawn_alike_draw_each_side_once_and_look_the_same(qtbot, monkeypatch) -> None:
    """The three image panels show one range over one size: each side's axis is worked out
    once for the three (pyqtgraph's axes were two thirds of a dataset step's paint), with
    pixels identical to each plot drawing its own; a plot with another range draws its own."""
    unshared, plots = two_plots(qtbot, None)
    expected = new_range(unshared, plots, 37, 23)
    drawn: list[str] = []
    spy(monkeypatch, "generateDrawSpecs", lambda axis, _: drawn.append(axis.orientation))
    layout, (a, b) = two_plots(qtbot, panels.shared_drawings())
    new_range(layout, (a, b), 30, 20)
    drawn.clear()
    np.testing.assert_array_equal(new_range(layout, (a, b), 37, 23), expected)
    assert sorted(drawn) == ["bottom", "left", "right", "top"]
    for side in ("left", "bottom", "top", "right"):
        assert a.getAxis(side).picture is b.getAxis(side).picture
    drawn.clear()
    new_range(layout, (b,), 80, 23)  # b alone: its x axes anew
    assert sorted(drawn) == ["bottom", "top"]
    assert a.getAxis("bottom").picture is not b.getAxis("bottom").picture
    assert a.getAxis("left").picture is b.getAxis("left").picture


def test_axes_draw_major_and_minor_ticks_only(qtbot) -> None:
    """pyqtgraph's third level of ticks is a faint stub the eye does not read at these sizes,
    and a fifth of a dataset step's axis drawing."""
    _layout, plot = shown_plot(qtbot)
    for side in ("left", "bottom", "top", "right"):
        assert len(plot.getAxis(side).tickValues(0, 50, 400)) == 2
