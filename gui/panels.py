"""The drawing pieces: an image panel, its exact histogram, and the joint histogram.

Each panel takes finished data from core (arrays, levels, counts) and draws it; none of
them computes a statistic. Levels are always set explicitly: pyqtgraph's auto-levels would
make x, x/255 and a min-max stretch look identical, which is the very thing NormScope shows.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSizeF, Qt
from PySide6.QtGui import QColor

from core.histogram import Histogram, JointHistogram

COLORMAPS = ("gray", "viridis", "inferno", "magma", "cividis", "plasma")
DIVERGING = "CET-D1"
PARTNERS = "inferno"
AXIS_WIDTH, AXIS_HEIGHT = 52, 26  # pixels: room for labels such as "-0.125" and "4096"


def colormap(name: str) -> pg.ColorMap:
    """A pyqtgraph colour map by name; ``"gray"`` is plain black to white."""
    if name == "gray":
        return pg.ColorMap(pos=[0.0, 1.0], color=[(0, 0, 0), (255, 255, 255)], name="gray")
    cmap = pg.colormap.get(name)
    if cmap is None:  # pyqtgraph ships every name in COLORMAPS; guard against a typo
        raise ValueError(f"unknown colour map {name!r}")
    return cmap


def format_level(value: float) -> str:
    """A level as short text: integers plainly, floats with 4 significant digits."""
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"


class SteadyAxis(pg.AxisItem):
    """An axis that keeps its drawing when told a range it already shows (pyqtgraph redraws
    every axis on every view update, which costs tens of ms per frame on a big window)."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self.enableAutoSIPrefix(False)

    def setRange(self, mn: float, mx: float) -> None:
        if [mn, mx] != list(getattr(self, "range", ())):  # pyqtgraph's __init__ sets it first
            super().setRange(mn, mx)


class Caption(pg.LabelItem):
    """A plot title that asks for no width: pyqtgraph makes a label's text width its minimum
    and preferred width, so every new caption re-laid out all columns of the window (and
    redrew all their axes). A caption longer than its plot is cut at the plot's edges."""

    def updateMin(self) -> None:
        self.setMinimumSize(0, self.itemRect().height())
        self.updateGeometry()

    def sizeHint(self, which: Qt.SizeHint, constraint: QSizeF | None = None) -> QSizeF:
        if which == Qt.SizeHint.MaximumSize:
            return QSizeF(-1, -1)
        if which == Qt.SizeHint.MinimumDescent:
            return QSizeF(0, 0)
        return QSizeF(0, self.itemRect().height())


def add_plot(
    layout: pg.GraphicsLayoutWidget,
    *,
    labels: dict[str, str] | None = None,
    tick_length: int | None = None,
    **kwargs: object,
) -> pg.PlotItem:
    """A plot in `layout` that keeps still: its axes keep their drawing when the range does
    not change, the shown axes never resize to their tick labels (pyqtgraph widens an axis to
    fit new labels, which re-lays out every plot of the window and redraws all their axes
    whenever a toggle changes a range), and its title is a :class:`Caption`."""
    sides = ("left", "bottom", "top", "right")
    plot = layout.addPlot(axisItems={side: SteadyAxis(side) for side in sides}, **kwargs)
    title = Caption("", size="10pt", parent=plot)
    plot.layout.removeItem(plot.titleLabel)
    plot.scene().removeItem(plot.titleLabel)
    plot.layout.addItem(title, 0, 1)
    plot.titleLabel = title  # where PlotItem.setTitle writes
    plot.setTitle(None)
    for side, text in (labels or {}).items():
        plot.setLabel(side, text)
    if tick_length is not None:
        for side in ("left", "bottom"):
            plot.getAxis(side).setStyle(tickLength=tick_length)
    plot.getAxis("left").setWidth(AXIS_WIDTH)
    plot.getAxis("bottom").setHeight(AXIS_HEIGHT + (18 if labels and "bottom" in labels else 0))
    plot.getAxis("right").setWidth(0)  # hidden, but pyqtgraph would keep room for its labels
    plot.getAxis("top").setHeight(0)
    return plot


class ImagePanel:
    """A titled, aspect-locked view of one image with fixed levels."""

    def __init__(self, layout: pg.GraphicsLayoutWidget, title: str, row: int, col: int) -> None:
        self.title = title
        self.plot: pg.PlotItem = add_plot(layout, row=row, col=col, tick_length=-4)
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.item)
        self.levels: tuple[float, float] = (0.0, 1.0)
        self._shown: tuple | None = None  # (levels, colour map) of the image drawn
        self._title = ""
        self.set_caption("")

    @property
    def view(self) -> pg.ViewBox:
        return self.plot.getViewBox()

    def set_caption(self, text: str) -> None:
        title = f"<b>{self.title}</b>{'  ' + text if text else ''}"
        if title != self._title:
            self._title = title
            self.plot.setTitle(title, size="10pt")

    def show(self, image: np.ndarray, levels: tuple[float, float], cmap: str | None) -> None:
        """Draw `image` (H, W) with `cmap`, or (H, W, 3) as colour, mapping `levels` to the ends."""
        new_shape = self.item.image is None or self.item.image.shape[:2] != image.shape[:2]
        self.levels = (float(levels[0]), float(levels[1]))
        shown = (self.levels, None if image.ndim == 3 else cmap)
        if image is self.item.image and shown == self._shown:
            return  # the same picture: pyqtgraph would only render it again
        self._shown = shown
        lut = None if image.ndim == 3 else colormap(cmap or "gray").getLookupTable(nPts=256)
        self.item.setImage(image, levels=self.levels, lut=lut, autoLevels=False)
        self.set_caption(f"levels {format_level(levels[0])} … {format_level(levels[1])}")
        if new_shape:  # fit once per shape; then a new image does not move (and redraw) axes
            self.view.autoRange(padding=0.02)
            self.view.disableAutoRange()

    def clear(self) -> None:
        self.item.clear()
        self._shown = None


class HistogramPanel:
    """Exact counts as a step plot, with the drawn level range shaded."""

    def __init__(self, layout: pg.GraphicsLayoutWidget, row: int, col: int) -> None:
        self.plot: pg.PlotItem = add_plot(layout, row=row, col=col)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMaximumHeight(150)
        self.curve = self.plot.plot(
            stepMode="center", fillLevel=0, brush=(90, 140, 220, 150), pen=pg.mkPen(60, 110, 200)
        )
        self.region = pg.LinearRegionItem(movable=False, brush=QColor(255, 170, 0, 22))
        for line in self.region.lines:
            line.setPen(pg.mkPen(255, 140, 0, width=2))
        self.plot.addItem(self.region)
        self.counts: np.ndarray = np.zeros(0, np.int64)
        self.log = False
        self.plot.setLabel("left", "count")

    def show(self, hist: Histogram, levels: tuple[float, float], log: bool) -> None:
        self.counts = hist.counts
        y = np.log10(hist.counts + 1.0) if log else hist.counts.astype(np.float64)
        self.curve.setData(hist.edges, y)
        self.region.setRegion(levels)
        if log != self.log:
            self.log = log
            self.plot.setLabel("left", "log10(count + 1)" if log else "count")
        self.plot.enableAutoRange()


class JointPanel:
    """Before value against after value: a curve for a monotone map, a cloud otherwise."""

    def __init__(self, layout: pg.GraphicsLayoutWidget, row: int, col: int) -> None:
        labels = {"bottom": "original value", "left": "normalized value"}
        self.plot: pg.PlotItem = add_plot(layout, labels=labels, row=row, col=col, rowspan=2)
        self.plot.setTitle("<b>After vs before</b>", size="10pt")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.item)
        # empty bins white, then light to dark: the curve or cloud stands out
        self.item.setColorMap(
            pg.ColorMap(
                pos=[0.0, 1e-6, 0.5, 1.0],
                color=[(255, 255, 255), (200, 220, 255), (40, 90, 200), (10, 10, 60)],
            )
        )

    def show(self, joint: JointHistogram) -> None:
        # counts are [before_bin, after_bin]; draw x = before, y = after (y up)
        shown = np.log10(joint.counts.T.astype(np.float64) + 1.0)
        top = float(shown.max()) or 1.0
        self.item.setImage(shown, levels=(0.0, top), autoLevels=False)
        x0, x1 = float(joint.x_edges[0]), float(joint.x_edges[-1])
        y0, y1 = float(joint.y_edges[0]), float(joint.y_edges[-1])
        self.item.setRect(x0, y0, (x1 - x0) or 1.0, (y1 - y0) or 1.0)
        self.plot.autoRange(padding=0.02)
