"""Pixels of QImages, and what pyqtgraph itself renders: the oracle for drawn pictures."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QImage


def pixels(qimage: QImage) -> np.ndarray:
    """Every pixel of `qimage` as (H, W) ARGB32 words, whatever its format."""
    argb = qimage.convertToFormat(QImage.Format.Format_ARGB32)
    h, w = argb.height(), argb.width()
    words = np.frombuffer(argb.constBits(), np.uint32, count=h * argb.bytesPerLine() // 4)
    return words.reshape(h, -1)[:, :w].copy()


def rendered_by_pyqtgraph(data: np.ndarray, levels, lut: np.ndarray | None) -> np.ndarray:
    """What a plain ImageItem renders of `data` on this (the GUI) thread."""
    item = pg.ImageItem(axisOrder="row-major")
    item.setImage(data, levels=levels, lut=lut, autoLevels=False)
    item.render()
    return pixels(item.qimage)
