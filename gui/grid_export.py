"""The comparison grid as a picture at data resolution (``normscope export --compare``).

One tile per normalization, each its normalized image at its stated levels (enlarged by an
integer factor when tiny, as :mod:`normscope.gui.export` does), titled with its label and
levels, with its one-line verdict and its line of code under it. Drawn with QPainter on a
QImage: no window needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter

from normscope.core.compare import Entry
from normscope.core.display import zoom_factor
from normscope.core.loading import Loaded
from normscope.core.report import Comparison, build_comparison
from normscope.gui.export import panel_rgb, rgb_qimage
from normscope.gui.layout import grid_columns
from normscope.gui.panels import format_level

MARGIN = 16
LINE_H = 18
TITLE_H = 24
TEXT_LINES = 4  # the verdict and the code line, wrapped in up to two lines each
MIN_TILE_W = 360


@dataclass(frozen=True, eq=False)
class GridTile:
    """One tile: its label, and its comparison or why there is none."""

    label: str
    comparison: Comparison | None
    error: str = ""


def grid_tiles(
    loaded: Loaded, entries: list[Entry], *, index: int | None = None, scope: str | None = None
) -> list[GridTile]:
    """The tiles of `entries` for image `index` of `loaded`, ranks compared within `scope`;
    a normalization that fails makes a tile that says why."""
    tiles = []
    for e in entries:
        try:
            comp = build_comparison(loaded, e.normalization, index=index, scope=scope)
        except ValueError as exc:  # e.g. Keras 2 refusing axis=None
            tiles.append(GridTile(e.label, None, str(exc)))
        else:
            tiles.append(GridTile(e.label, comp))
    return tiles


def render_grid(tiles: list[GridTile], title: str) -> QImage:
    """Draw `tiles` in a grid under `title` (needs a QGuiApplication)."""
    shape = next((t.comparison.normalized.shape[:2] for t in tiles if t.comparison), (1, 1))
    zoom = zoom_factor(shape)
    pw, ph = shape[1] * zoom, shape[0] * zoom
    tile_w = max(pw, MIN_TILE_W)
    tile_h = TITLE_H + ph + 6 + TEXT_LINES * LINE_H
    cols = grid_columns(len(tiles), 1920, 1080, (tile_h, tile_w), 0)
    rows = math.ceil(len(tiles) / cols)
    width = MARGIN + cols * (tile_w + MARGIN)
    height = MARGIN + TITLE_H + rows * (tile_h + MARGIN)
    img = QImage(width, height, QImage.Format.Format_RGB888)
    img.fill(QColor("white"))
    bold = QFont("DejaVu Sans", 11)
    bold.setBold(True)
    small = QFont("DejaVu Sans", 9)
    mono = QFont("DejaVu Sans Mono", 8)
    wrap = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
    p = QPainter(img)
    try:
        p.setPen(QColor(20, 20, 20))
        p.setFont(bold)
        p.drawText(QRect(MARGIN, MARGIN, width - 2 * MARGIN, TITLE_H), 0, title)
        for k, tile in enumerate(tiles):
            x = MARGIN + (k % cols) * (tile_w + MARGIN)
            y = MARGIN + TITLE_H + (k // cols) * (tile_h + MARGIN)
            comp = tile.comparison
            heading = tile.label
            if comp is not None:
                lo, hi = (format_level(v) for v in comp.normalized_levels)
                heading += f"   levels {lo} … {hi}"
            p.setFont(bold)
            p.drawText(QRect(x, y, tile_w, TITLE_H), 0, heading)
            image = QRect(x + (tile_w - pw) // 2, y + TITLE_H, pw, ph)
            text = QRect(x, y + TITLE_H + ph + 6, tile_w, 2 * LINE_H)
            if comp is None:
                p.fillRect(image, QColor(240, 240, 240))
                p.setFont(small)
                p.drawText(text.adjusted(0, 0, 0, 2 * LINE_H), wrap, f"cannot: {tile.error}")
                continue
            pixels = rgb_qimage(panel_rgb(comp, 1))
            p.drawImage(image, pixels.scaled(pw, ph, mode=Qt.TransformationMode.FastTransformation))
            p.setFont(small)
            p.drawText(text, wrap, comp.verdict.short_line())
            p.setFont(mono)
            p.drawText(text.translated(0, 2 * LINE_H), wrap, comp.caption[1])
    finally:
        p.end()
    return img
