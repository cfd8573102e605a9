"""Comparison pictures at data resolution, drawn with QPainter on a QImage (no window needed).

Three panels side by side, Original, Normalized and Rank change, each under a title that
states its levels and over its exact histogram, then the verdict and a caption with the file,
the call in words and its line of code. Tiny images are enlarged by an integer factor with
nearest-neighbour sampling, so a 28x28 digit keeps square pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice, QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

from normscope.core.display import to_uint8, zoom_factor
from normscope.core.histogram import Histogram
from normscope.core.report import Comparison, write_atomically
from normscope.gui.panels import DIVERGING, colormap, format_level

MARGIN = 16
TITLE_H = 26
HIST_H = 110
TEXT_H = 20
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}


@dataclass(frozen=True)
class Layout:
    """Where each part of a comparison picture lies."""

    size: tuple[int, int]
    zoom: int
    panels: tuple[QRect, QRect, QRect]
    histograms: tuple[QRect, QRect, QRect]
    text_top: int


def comparison_layout(comp: Comparison) -> Layout:
    """The geometry of the picture for `comp` (its panels scaled by an integer zoom)."""
    h, w = comp.original.shape[:2]
    zoom = zoom_factor((h, w))
    pw, ph = w * zoom, h * zoom
    col = max(pw, 300)
    panels, hists = [], []
    for i in range(3):
        x = MARGIN + i * (col + MARGIN)
        panels.append(QRect(x + (col - pw) // 2, MARGIN + TITLE_H, pw, ph))
        hists.append(QRect(x, MARGIN + TITLE_H + ph + 10, col, HIST_H))
    text_top = MARGIN + TITLE_H + ph + 10 + HIST_H + 14
    width = MARGIN + 3 * (col + MARGIN)
    height = text_top + 6 * TEXT_H + MARGIN
    return Layout((width, height), zoom, tuple(panels), tuple(hists), text_top)


def panel_rgb(comp: Comparison, which: int) -> np.ndarray:
    """The (H, W, 3) uint8 pixels of panel `which` (0 original, 1 normalized, 2 rank) at 1:1."""
    if which == 2:
        lut = colormap(DIVERGING).getLookupTable(nPts=256)
        return lut[_gray(comp.displacement, comp.shift_levels)][..., :3]
    image = comp.original if which == 0 else comp.normalized
    levels = comp.original_levels if which == 0 else comp.normalized_levels
    gray = _gray(image, levels)
    if gray.ndim == 3:
        return gray[..., :3] if gray.shape[-1] >= 3 else np.repeat(gray[..., :1], 3, axis=-1)
    return np.repeat(gray[..., None], 3, axis=-1)


def _gray(image: np.ndarray, levels: tuple[float, float]) -> np.ndarray:
    """:func:`core.display.to_uint8` a band of rows at a time: its float64 temporaries stay
    a few MiB, whatever the image's size."""
    out = np.empty(image.shape, np.uint8)
    rows = max(1, (1 << 19) // max(image[0].size, 1))
    for r in range(0, image.shape[0], rows):
        out[r : r + rows] = to_uint8(image[r : r + rows], levels)
    return out


def rgb_qimage(rgb: np.ndarray) -> QImage:
    """A QImage holding a copy of (H, W, 3) uint8 pixels."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def _draw_histogram(p: QPainter, rect: QRect, hist: Histogram, levels: tuple[float, float]) -> None:
    p.fillRect(rect, QColor(248, 248, 248))
    p.setPen(QPen(QColor(180, 180, 180)))
    p.drawRect(rect.adjusted(0, 0, -1, -1))
    if hist.counts.size == 0:
        return
    lo, hi = float(hist.edges[0]), float(hist.edges[-1])
    span = hi - lo or 1.0
    heights = np.log10(hist.counts + 1.0)
    top = float(heights.max()) or 1.0

    def x_of(v: float) -> int:
        return rect.left() + round((v - lo) / span * (rect.width() - 1))

    color = QColor(70, 120, 210)
    for c, a, b in zip(heights, hist.edges[:-1], hist.edges[1:], strict=True):
        if c <= 0:
            continue
        x0, x1 = x_of(float(a)), max(x_of(float(b)), x_of(float(a)) + 1)
        bar = round(c / top * (rect.height() - 4))
        p.fillRect(QRect(x0, rect.bottom() - bar, x1 - x0, bar), color)
    p.setPen(QPen(QColor(255, 140, 0), 2))
    for v in levels:
        if lo <= v <= hi:
            p.drawLine(x_of(v), rect.top(), x_of(v), rect.bottom())


def render_comparison(comp: Comparison) -> QImage:
    """Draw the comparison picture of `comp` (needs a QGuiApplication)."""
    lay = comparison_layout(comp)
    img = QImage(lay.size[0], lay.size[1], QImage.Format.Format_RGB888)
    img.fill(QColor("white"))
    p = QPainter(img)
    try:
        titles = (
            ("Original", comp.original_levels),
            ("Normalized", comp.normalized_levels),
            ("Rank change", comp.shift_levels),
        )
        hists = (comp.hist_original, comp.hist_normalized, comp.hist_shift)
        bold = QFont("DejaVu Sans", 11)
        bold.setBold(True)
        plain = QFont("DejaVu Sans", 10)
        small = QFont("DejaVu Sans", 9)
        for i, ((title, levels), rect, hrect) in enumerate(
            zip(titles, lay.panels, lay.histograms, strict=True)
        ):
            p.setPen(QColor(20, 20, 20))
            head = QRect(hrect.left(), MARGIN, hrect.width(), TITLE_H - 4)
            left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            p.setFont(bold)
            p.drawText(head, left, title)
            head.setLeft(head.left() + p.fontMetrics().horizontalAdvance(title + "  "))
            p.setFont(plain)  # the levels in a lighter hand: "levels 0.006813 … 0.1507" fits
            p.drawText(head, left, f"levels {format_level(levels[0])} … {format_level(levels[1])}")
            pixels = rgb_qimage(panel_rgb(comp, i))
            p.drawImage(
                rect, pixels.scaled(rect.size(), mode=Qt.TransformationMode.FastTransformation)
            )
            _draw_histogram(p, hrect, hists[i], levels)
        p.setFont(small)
        p.setPen(QColor(20, 20, 20))
        width = lay.size[0] - 2 * MARGIN
        legend = (
            "Rank change: red, the pixel rose in rank; blue, it fell; pale grey, unchanged. "
            "Histograms count every pixel shown (log scale); orange lines mark the display levels."
        )
        lines = (*comp.verdict.lines(), *comp.caption, legend)
        for k, line in enumerate(lines):
            box = QRect(MARGIN, lay.text_top + k * TEXT_H, width, TEXT_H)
            flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            p.drawText(
                box, flags, p.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight, width)
            )
    finally:
        p.end()
    return img


def save_image(
    image: QImage, path: str | os.PathLike, *, protect: str | os.PathLike | None = None
) -> Path:
    """Write `image` atomically (a temporary file beside it, then a rename).

    The format follows the suffix (PNG, JPEG, TIFF). `protect` is a path that must never be
    overwritten, such as the input file.
    """
    out = Path(path)
    fmt = IMAGE_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"{out.name}: choose a .png, .jpg or .tiff file name")
    if protect is not None and out.resolve() == Path(protect).resolve():
        raise ValueError(f"{out.name}: refusing to overwrite the input file")

    def write(tmp: str) -> None:
        # encoded in memory, then written by Python: a full disk is then an OSError that
        # says so (Qt's writers only return False, and libpng prints its own line)
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, fmt):
            raise OSError(f"Qt could not encode the {fmt} image")
        Path(tmp).write_bytes(buffer.data().data())

    return write_atomically(out, write)
