"""The drawing pieces: an image panel, its exact histogram, and the joint histogram.

Each panel takes finished data from core (arrays, levels, counts) and draws it; none of
them computes a statistic. Levels are always set explicitly: pyqtgraph's auto-levels would
make x, x/255 and a min-max stretch look identical, which is the very thing NormScope shows.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QSizePolicy

from core.histogram import Histogram, JointHistogram

COLORMAPS = ("gray", "viridis", "inferno", "magma", "cividis", "plasma")
DIVERGING = "CET-D1"
PARTNERS = "inferno"


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


class ImagePanel:
    """A titled, aspect-locked view of one image with fixed levels."""

    def __init__(self, layout: pg.GraphicsLayoutWidget, title: str, row: int, col: int) -> None:
        self.title = title
        self.plot: pg.PlotItem = layout.addPlot(row=row, col=col)
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).setStyle(tickLength=-4)
            self.plot.getAxis(side).enableAutoSIPrefix(False)  # no label rewrite on each range
        self.item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.item)
        self.levels: tuple[float, float] = (0.0, 1.0)
        self._title = ""
        self.plot.titleLabel.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.set_caption("")

    @property
    def view(self) -> pg.ViewBox:
        return self.plot.getViewBox()

    def set_caption(self, text: str) -> None:
        title = f"<b>{self.title}</b>{'  ' + text if text else ''}"
        if title != self._title:
            self._title = title
            self.plot.setTitle(title, size="10pt")
            # pyqtgraph makes the text's width the label's minimum, which lays out every plot
            # (and redraws every axis) again each time a caption changes; the row is fixed
            self.plot.titleLabel.setMinimumWidth(0)

    def show(self, image: np.ndarray, levels: tuple[float, float], cmap: str | None) -> None:
        """Draw `image` (H, W) with `cmap`, or (H, W, 3) as colour, mapping `levels` to the ends."""
        first = self.item.image is None
        self.levels = (float(levels[0]), float(levels[1]))
        lut = None if image.ndim == 3 else colormap(cmap or "gray").getLookupTable(nPts=256)
        self.item.setImage(image, levels=self.levels, lut=lut, autoLevels=False)
        self.set_caption(f"levels {format_level(levels[0])} … {format_level(levels[1])}")
        if first:
            self.view.autoRange(padding=0.02)

    def clear(self) -> None:
        self.item.clear()


class HistogramPanel:
    """Exact counts as a step plot, with the drawn level range shaded."""

    def __init__(self, layout: pg.GraphicsLayoutWidget, row: int, col: int) -> None:
        self.plot: pg.PlotItem = layout.addPlot(row=row, col=col)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMaximumHeight(150)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
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
        self.plot: pg.PlotItem = layout.addPlot(row=row, col=col, rowspan=2)
        self.plot.setTitle("<b>After vs before</b>", size="10pt")
        self.plot.setLabel("bottom", "original value")
        self.plot.setLabel("left", "normalized value")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
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
