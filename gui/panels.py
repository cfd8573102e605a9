"""The drawing pieces: an image panel, its exact histogram, and the joint histogram.

Each panel takes finished data from core (arrays, levels, counts) and draws it; none of
them computes a statistic. Levels are always set explicitly: pyqtgraph's auto-levels would
make x, x/255 and a min-max stretch look identical, which is the very thing NormScope shows.

An image is handed to its panel as a :class:`Picture`: the exact data with the QImage that
pyqtgraph's ``ImageItem`` would render of it, made by :func:`make_picture` on any thread, so
that a 2048x2048 RGB image costs the GUI thread no rendering.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from pyqtgraph import functions_qimage
from PySide6.QtCore import QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem

from normscope.core.display import quantize
from normscope.core.histogram import Histogram, JointHistogram

COLORMAPS = ("gray", "viridis", "inferno", "magma", "cividis", "plasma")
DIVERGING = "CET-D1"
PARTNERS = "inferno"
CAPTION_PT, SMALL_PT = 10, 9  # the point sizes of a plot's title and of its caption
AXIS_WIDTH, AXIS_HEIGHT = 52, 26  # pixels: room for labels such as "-0.125" and "4096"


def colormap(name: str) -> pg.ColorMap:
    """A pyqtgraph colour map by name; ``"gray"`` is plain black to white."""
    if name == "gray":
        return pg.ColorMap(pos=[0.0, 1.0], color=[(0, 0, 0), (255, 255, 255)], name="gray")
    cmap = pg.colormap.get(name)
    if cmap is None:  # pyqtgraph ships every name in COLORMAPS; guard against a typo
        raise ValueError(f"unknown colour map {name!r}")
    return cmap


@dataclass(frozen=True, eq=False)
class Picture:
    """An image as a panel draws it: the exact data, the levels mapped to the ends of the
    colour table (``lut``, None for colour data), and pyqtgraph's QImage of the three (None
    where pyqtgraph renders such data only on the GUI thread)."""

    data: np.ndarray
    levels: tuple[float, float]
    lut: np.ndarray | None
    qimage: QImage | None


def make_picture(data: np.ndarray, levels: tuple[float, float], cmap: str) -> Picture:
    """The :class:`Picture` of `data` (H, W) drawn with `cmap`, or (H, W, 3) as colour, with
    `levels` at the ends. Safe on any thread: it makes a QImage, no widget. The QImage is the
    one ``ImageItem.render`` makes of the same data (NaN pixels transparent), pixel for pixel.
    """
    levels = (float(levels[0]), float(levels[1]))
    lut = None if data.ndim == 3 else colormap(cmap).getLookupTable(nPts=256)
    # float data (a normalized image) made bytes by core on every thread, as pyqtgraph would
    quantized = quantize(data, levels, 255.0 if lut is None else len(lut))
    if quantized is not None:
        qimage = functions_qimage.try_make_qimage(quantized, levels=None, lut=lut)
        return Picture(data, levels, lut, qimage)
    nan_at = None
    if data.dtype.kind == "f" and data.size and np.isnan(data.min()):  # as ImageItem tests
        nan = np.isnan(data)
        nan_at = (nan.any(axis=2) if nan.ndim == 3 else nan).nonzero()
    qimage = functions_qimage.try_make_qimage(
        data, levels=levels, lut=lut, transparentLocations=nan_at
    )
    return Picture(data, levels, lut, qimage)


class PictureItem(pg.ImageItem):
    """An ``ImageItem`` that draws a :class:`Picture`'s ready QImage instead of rendering it
    again; once anything else changes its data, levels or colours, it renders as usual."""

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self._ready: tuple[Picture, np.ndarray] | None = None  # and the view setImage made

    def show_picture(self, picture: Picture) -> None:
        self.setImage(picture.data, levels=picture.levels, lut=picture.lut, autoLevels=False)
        self._ready = (picture, self.image) if picture.qimage is not None else None

    def render(self) -> None:
        if self._ready is not None:
            picture, image = self._ready
            unchanged = (
                not self.autoDownsample  # else pyqtgraph renders a reduced image
                and self.image is image
                and self.lut is picture.lut
                and self.levels is not None
                and tuple(np.asarray(self.levels, np.float64).ravel()) == picture.levels
            )
            if unchanged:  # what ImageItem.render would end with, made earlier elsewhere
                self.qimage = picture.qimage
                self._renderRequired = False
                self._unrenderable = False
                return
            self._ready = None
        super().render()


def format_level(value: float) -> str:
    """A level as short text: integers plainly, floats with 4 significant digits."""
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"


class SteadyAxis(pg.AxisItem):
    """An axis that keeps its drawing when told a range it already shows (pyqtgraph redraws
    every axis on every view update, which costs tens of ms per frame on a big window)."""

    def __init__(
        self, orientation: str, ticks: dict | None = None, drawing: dict | None = None
    ) -> None:
        super().__init__(orientation)
        self.enableAutoSIPrefix(False)
        self.ticks: dict = {} if ticks is None else ticks  # the last ticks, shared with a partner
        self.drawing = drawing  # the last picture, shared with this side of plots drawn alike

    def paint(self, p: QPainter, opt: object, widget: object) -> None:
        """pyqtgraph's drawing, or the one an axis that looks the same just made."""
        if self.picture is None and self.drawing is not None:
            look = self._look()
            if look is not None and self.drawing.get("look") == look:
                self.picture = self.drawing["picture"]
            else:
                super().paint(p, opt, widget)  # draws self.picture
                self.drawing.update(look=look, picture=self.picture)
                return
        super().paint(p, opt, widget)

    def _look(self) -> tuple | None:
        """Everything pyqtgraph's drawing of this axis reads (None: a grid, which reads its
        view's size too; never shared)."""
        if self.grid is not False:
            return None
        t, size = self.sceneTransform(), self.size()
        pens = tuple(
            (q.color().rgba(), q.widthF(), q.style(), q.isCosmetic())
            for q in (self.pen(), self.textPen(), self.tickPen())
        )
        style = tuple((k, repr(v)) for k, v in sorted(self.style.items()))
        lo, hi = (float(f"{v:.12g}") for v in self.range)  # linked views differ in the last bits
        return (
            self.orientation, lo, hi, size.width(), size.height(),
            t.m11(), t.m12(), t.m21(), t.m22(), pens, style, self.scale, self.logMode,
            self.autoSIPrefixScale, repr(self._tickLevels), self._tickSpacing, self._tickDensity,
        )  # fmt: skip

    def setRange(self, mn: float, mx: float) -> None:
        if [mn, mx] != list(getattr(self, "range", ())):  # pyqtgraph's __init__ sets it first
            super().setRange(mn, mx)

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        """pyqtgraph's ticks, computed once for an axis and its partner on the plot's other
        side (the same range over the same length: the same ticks)."""
        key = (minVal, maxVal, size, self.scale, self.logMode, self._tickSpacing)
        key += (self._tickDensity, self.style["maxTickLevel"])  # all pyqtgraph's reads
        if self.ticks.get("key") != key:
            self.ticks.update(key=key, values=super().tickValues(minVal, maxVal, size))
        return self.ticks["values"]


class Caption(pg.LabelItem):
    """A plot title that asks for no width: pyqtgraph makes a label's text width its minimum
    and preferred width, so every new caption re-laid out all columns of the window (and
    redrew all their axes). A caption set with :meth:`set_caption` that is longer than its
    plot is elided in the middle, with its full text (:attr:`full`) in the tooltip; any
    other title longer than its plot starts at the plot's left edge and is cut at its right.
    """

    _parts: tuple[str, str] | None = None  # bold title, small caption (pyqtgraph's
    full = ""  # the caption's whole text                     __init__ resizes it already)
    shown = ""  # what of it is drawn

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)  # the cut

    def set_caption(self, title: str, small: str) -> None:
        """Show `title` in bold, then `small` (in a smaller font), eliding `small` in the
        middle when the two do not fit the plot's width."""
        self._parts = (title, small)
        self.full = f"{title} {small}".strip()
        self._fit()

    def _fit(self) -> None:
        if self._parts is None:
            return
        title, small = self._parts
        room = self.rect().width()
        if small and room > 0:
            bold = QFont(self.item.font())
            bold.setPointSize(CAPTION_PT)
            bold.setBold(True)
            font = QFont(self.item.font())
            font.setPointSize(SMALL_PT)
            room -= QFontMetrics(bold).horizontalAdvance(title + " ") + 12
            small = QFontMetrics(font).elidedText(
                small, Qt.TextElideMode.ElideMiddle, max(int(room), 0)
            )
        self.shown = f"{title} {small}".strip()
        tail = f" <span style='font-size:{SMALL_PT}pt'>{html.escape(small)}</span>" if small else ""
        text = f"<b>{html.escape(title)}</b>{tail}"
        if text != self.text:
            self.setText(text, size=f"{CAPTION_PT}pt")
        self.setToolTip(self.full if self.shown != self.full else "")

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)
        self._fit()
        overflow = self.itemRect().left() - self.rect().left()
        if overflow < 0:  # too long to centre: show its start, cut at the right
            self.item.moveBy(-overflow, 0)

    _height = 0.0  # of the text, measured when it is set

    def updateMin(self) -> None:
        self._height = self.itemRect().height()
        self.setMinimumSize(0, self._height)
        self.updateGeometry()

    def sizeHint(self, which: Qt.SizeHint, constraint: QSizeF | None = None) -> QSizeF:
        # never reads the text item: Qt also asks while it destroys the scene, when the
        # item may be gone already (reading it then crashed every quit)
        if which == Qt.SizeHint.MaximumSize:
            return QSizeF(-1, -1)
        if which == Qt.SizeHint.MinimumDescent:
            return QSizeF(0, 0)
        return QSizeF(0, self._height)


def add_plot(
    layout: pg.GraphicsLayoutWidget,
    *,
    labels: dict[str, str] | None = None,
    tick_length: int | None = None,
    drawings: dict[str, dict] | None = None,
    **kwargs: object,
) -> pg.PlotItem:
    """A plot in `layout` that keeps still: its axes keep their drawing when the range does
    not change, the shown axes never resize to their tick labels (pyqtgraph widens an axis to
    fit new labels, which re-lays out every plot of the window and redraws all their axes
    whenever a toggle changes a range), and its title is a :class:`Caption`. Plots given the
    same `drawings` (:func:`shared_drawings`) draw an axis once for all of them when they
    show the same range over the same size."""
    vertical, horizontal = {}, {}  # each shared by an axis and its partner opposite
    sides = {"left": vertical, "bottom": horizontal, "top": horizontal, "right": vertical}
    axes = {
        side: SteadyAxis(side, ticks, None if drawings is None else drawings[side])
        for side, ticks in sides.items()
    }
    plot = layout.addPlot(axisItems=axes, **kwargs)
    title = Caption("", size="10pt", parent=plot)
    plot.layout.removeItem(plot.titleLabel)
    plot.scene().removeItem(plot.titleLabel)
    plot.layout.addItem(title, 0, 0, 1, 3)  # over the left axis too: room for its text
    plot.titleLabel = title  # where PlotItem.setTitle writes
    plot.setTitle(None)
    for side, text in (labels or {}).items():
        plot.setLabel(side, text)
    if tick_length is not None:
        for side in ("left", "bottom"):
            plot.getAxis(side).setStyle(tickLength=tick_length)
    plot.getAxis("left").setWidth(AXIS_WIDTH)
    plot.getAxis("bottom").setHeight(AXIS_HEIGHT + (18 if labels and "bottom" in labels else 0))
    plot.getAxis("right").setWidth(0)  # a frame: no room kept for labels it never shows
    plot.getAxis("top").setHeight(0)
    for side in ("top", "right"):  # so neither measures labels each time the range changes
        plot.getAxis(side).setStyle(showValues=False)  # (half the cost of a new image's axes)
    for axis in axes.values():  # major and minor ticks: the third level is a faint stub
        axis.setStyle(maxTickLevel=1)
    return plot


def shared_drawings() -> dict[str, dict]:
    """One drawing per side, for :func:`add_plot`'s plots that show the same range alike."""
    return {side: {} for side in ("left", "bottom", "top", "right")}


class ImagePanel:
    """A titled, aspect-locked view of one image with fixed levels."""

    def __init__(
        self,
        layout: pg.GraphicsLayoutWidget,
        title: str,
        row: int,
        col: int,
        drawings: dict[str, dict] | None = None,
    ) -> None:
        self.title = title
        self.plot: pg.PlotItem = add_plot(
            layout, row=row, col=col, tick_length=-4, drawings=drawings
        )
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.item = PictureItem()
        self.plot.addItem(self.item)
        self.levels: tuple[float, float] = (0.0, 1.0)
        self.picture: Picture | None = None
        self.caption = ""
        self.plot.setTitle(title, size=f"{CAPTION_PT}pt")  # shown, in a row of its own
        self.set_caption("")

    @property
    def view(self) -> pg.ViewBox:
        return self.plot.getViewBox()

    def set_caption(self, text: str) -> None:
        """The title, then `text` smaller (it fits more), elided in the middle if too long."""
        self.caption = text
        self.plot.titleLabel.set_caption(self.title, text)

    def show(self, picture: Picture) -> None:
        """Draw `picture`, captioned with its levels; the same picture again draws nothing."""
        if picture is self.picture:
            return
        new_shape = self.item.image is None or self.item.image.shape[:2] != picture.data.shape[:2]
        self.picture = picture
        self.levels = picture.levels
        self.item.show_picture(picture)
        self.set_caption(f"levels {format_level(self.levels[0])} … {format_level(self.levels[1])}")
        if new_shape:  # fit once per shape; then a new image does not move (and redraw) axes
            self.view.autoRange(padding=0.02)
            self.view.disableAutoRange()

    def clear(self) -> None:
        self.item.clear()
        self.picture = None


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
        self.histogram: JointHistogram | None = None
        # empty bins white, then light to dark: the curve or cloud stands out
        self.item.setColorMap(
            pg.ColorMap(
                pos=[0.0, 1e-6, 0.5, 1.0],
                color=[(255, 255, 255), (200, 220, 255), (40, 90, 200), (10, 10, 60)],
            )
        )

    def show(self, joint: JointHistogram) -> None:
        self.histogram = joint
        # counts are [before_bin, after_bin]; draw x = before, y = after (y up)
        shown = np.log10(joint.counts.T.astype(np.float64) + 1.0)
        top = float(shown.max()) or 1.0
        self.item.setImage(shown, levels=(0.0, top), autoLevels=False)
        x0, x1 = float(joint.x_edges[0]), float(joint.x_edges[-1])
        y0, y1 = float(joint.y_edges[0]), float(joint.y_edges[-1])
        self.item.setRect(x0, y0, (x1 - x0) or 1.0, (y1 - y0) or 1.0)
        self.plot.autoRange(padding=0.02)
