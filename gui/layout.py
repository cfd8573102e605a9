"""Where the panels go: layouts that follow the image's aspect ratio and the space there is.

The arithmetic is plain Python on sizes (:func:`arrange`, :func:`grid_columns`), so it is
tested without a window; :class:`PanelLayout` applies it to the main window's plots, and
:class:`ElidedLabel` is a one-line label that never cuts its text silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

# room around an image's view inside its plot: the left axis and a margin; the caption
# above and the bottom axis below (see panels.add_plot)
PLOT_EXTRA_W = 52 + 12
PLOT_EXTRA_H = 24 + 26 + 8
HIST_SHARE, HIST_MIN, HIST_MAX = 0.12, 60, 120  # a histogram under its image: of the height
JOINT_MIN_W = 240  # the joint histogram beside the image panels in a row
JOINT_RIGHT = 16  # room right of the joint plot's frame (it has no right axis): its last tick label
GAP = 6

Rect = tuple[float, float, float, float]  # x, y, width, height


@dataclass(frozen=True)
class Arrangement:
    """The rectangles of the three image plots, their three histograms and the joint plot,
    in the area's coordinates; `kind` is ``"row"`` or ``"grid"``; `scale` is screen pixels
    per image pixel."""

    kind: str
    scale: float
    images: tuple[Rect, Rect, Rect]
    histograms: tuple[Rect, Rect, Rect]
    joint: Rect


def _fit(cell_w: float, cell_h: float, image_h: int, image_w: int) -> float:
    """The scale at which an image fits a plot of `cell_w` × `cell_h` (its axes included)."""
    return max(0.0, min((cell_w - PLOT_EXTRA_W) / image_w, (cell_h - PLOT_EXTRA_H) / image_h))


def arrange(width: float, height: float, image_shape: tuple[int, ...]) -> Arrangement:
    """The layout that draws the image biggest in `width` × `height`: three image panels in
    a row with the joint histogram beside them (tall images), or a 2×2 grid (original,
    normalized; rank change, joint histogram). Each image plot is sized to the image's aspect
    ratio, with its histogram right under it, the same width.

    Examples
    --------
    >>> arrange(860, 560, (28, 28)).kind, arrange(860, 560, (1024, 2048)).kind
    ('grid', 'grid')
    >>> arrange(1400, 500, (600, 200)).kind
    'row'
    """
    h, w = max(int(image_shape[0]), 1), max(int(image_shape[1]), 1)
    hist_h = max(HIST_MIN, min(HIST_MAX, math.floor(height * HIST_SHARE)))
    row_w = (width - JOINT_MIN_W - 4 * GAP) / 3
    row_scale = _fit(row_w, height - hist_h - GAP, h, w)
    grid_scale = _fit((width - GAP) / 2, (height - GAP) / 2 - hist_h - GAP, h, w)
    kind, scale = ("row", row_scale) if row_scale >= grid_scale else ("grid", grid_scale)
    plot_w = math.floor(w * scale + PLOT_EXTRA_W)
    plot_h = math.floor(h * scale + PLOT_EXTRA_H)
    block_h = plot_h + GAP + hist_h
    if kind == "row":
        top = max(0.0, (height - block_h) / 2)
        xs = [GAP + i * (plot_w + GAP) for i in range(3)]
        cells = [(x, top) for x in xs]
        joint_x = xs[2] + plot_w + GAP
        joint: Rect = (joint_x, top, max(width - joint_x - JOINT_RIGHT, 0.0), block_h)
    else:
        cell_w, cell_h = (width - GAP) / 2, (height - GAP) / 2
        pad_x = max(0.0, (cell_w - plot_w) / 2)
        pad_y = max(0.0, (cell_h - block_h) / 2)
        places = ((0, 0), (0, 1), (1, 0))  # (row, column) of original, normalized, rank
        cells = [(c * (cell_w + GAP) + pad_x, r * (cell_h + GAP) + pad_y) for r, c in places]
        joint = (cell_w + GAP, cell_h + GAP, max(cell_w - JOINT_RIGHT, 0.0), cell_h)
    images = tuple((x, y, plot_w, plot_h) for x, y in cells)
    hists = tuple((x, y + plot_h + GAP, plot_w, hist_h) for x, y in cells)
    return Arrangement(kind, scale, images, hists, joint)  # type: ignore[arg-type]


def grid_columns(
    count: int, width: float, height: float, image_shape: tuple[int, ...], text_h: float
) -> int:
    """How many columns of `count` tiles draw the image biggest in `width` × `height`, each
    tile with `text_h` pixels of text under its image.

    Examples
    --------
    >>> grid_columns(8, 1200, 800, (28, 28), 60), grid_columns(8, 1200, 800, (100, 400), 60)
    (4, 2)
    """
    h, w = max(int(image_shape[0]), 1), max(int(image_shape[1]), 1)

    def scale(cols: int) -> float:
        rows = math.ceil(count / cols)
        return min((width / cols - GAP) / w, (height / rows - text_h - GAP) / h)

    return max(range(1, max(count, 1) + 1), key=scale)


class PanelLayout:
    """Places the main window's plots by :func:`arrange` whenever the area or the image's
    shape changes. The plots are taken out of the GraphicsLayout's grid and positioned by
    hand: a grid would stretch every image view to its cell, whatever the image's shape."""

    def __init__(self, layout, images, histograms, joint) -> None:
        self.area = layout.ci
        self.images, self.histograms, self.joint = tuple(images), tuple(histograms), joint
        self.shape: tuple[int, ...] = (1, 1)
        self.arrangement: Arrangement | None = None
        for plot in (*self.images, *self.histograms, joint):
            self.area.layout.removeItem(plot)  # stays in the scene, a child of the area
        self.area.geometryChanged.connect(self.apply)

    def set_shape(self, shape: tuple[int, ...]) -> None:
        if tuple(shape[:2]) != self.shape:
            self.shape = tuple(shape[:2])
            self.apply()

    def apply(self) -> None:
        rect = self.area.rect()
        a = arrange(rect.width(), rect.height(), self.shape)
        if a == self.arrangement:
            return
        self.arrangement = a
        plots = (*self.images, *self.histograms, self.joint)
        for plot, r in zip(plots, (*a.images, *a.histograms, a.joint), strict=True):
            plot.setGeometry(QRectF(*r))


class ElidedLabel(QLabel):
    """A one-line label that asks for no width and, when its text is too long, shows it
    elided in the middle (or at the `mode` given) with the full text in its tooltip."""

    def __init__(
        self, text: str = "", mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle
    ) -> None:
        super().__init__()
        self.mode = mode
        self.full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self.full = text
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self.full, self.mode, max(self.width(), 1))
        super().setText(shown)
        self.setToolTip(self.full if shown != self.full else "")


def shown_fully(label: QWidget) -> bool:
    """Whether a label's whole text can be read: on screen, or in its tooltip."""
    full = label.full if isinstance(label, ElidedLabel) else label.text()
    return label.text() == full or label.toolTip() == full
