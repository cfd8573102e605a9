"""Panels that fill with the image: at the default size every image view is mostly image,
and no caption is cut without its full text in a tooltip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PySide6.QtCore import QRectF

from normscope.gui.layout import arrange, grid_columns
from normscope.gui.settings import Settings
from normscope.gui.window import MainWindow

DEFAULT_SIZE = (1300, 745)


def photo() -> np.ndarray:
    y, x = np.mgrid[0:512, 0:512]
    rgb = np.stack([x / 2, y / 2, (x + y) / 4], axis=-1)
    return (rgb % 256).astype(np.uint8)


IMAGES = {
    "digit 28x28": "sample:digits",
    "coins 384x303": skimage.data.coins,
    "photo 512x512x3": photo,
    "wide 2048x1024": lambda: np.tile(np.arange(2048, dtype=np.uint16), (1024, 1)),
    "tall 900x300": lambda: np.tile(np.arange(300, dtype=np.uint16), (900, 1)),
}


def covered(view: QRectF, image: QRectF) -> float:
    both = view.intersected(image)
    return both.width() * both.height() / (view.width() * view.height())


@pytest.mark.parametrize("name", IMAGES)
def test_each_image_fills_most_of_its_view_at_the_default_size(
    qtbot, tmp_path: Path, name: str
) -> None:
    w = MainWindow(Settings(tmp_path / "settings"))
    qtbot.addWidget(w)
    w.resize(*DEFAULT_SIZE)
    w.show()
    source = IMAGES[name]
    if not isinstance(source, str):
        np.save(tmp_path / "image.npy", source())
        source = str(tmp_path / "image.npy")
    assert w.open_source(source)
    assert w.controller.join(timeout=30)
    qtbot.wait(50)  # the layout follows the image's shape
    w.zoom_to_fit()
    for panel in w.panels:
        view = panel.view.sceneBoundingRect()
        share = covered(view, panel.item.sceneBoundingRect())
        assert share >= 0.6, f"{panel.title}: the image covers {share:.0%} of a {view} view"
        caption = panel.plot.titleLabel
        assert caption.isVisible() and caption.full.startswith(f"{panel.title} levels ")
        assert caption.shown == caption.full or caption.toolTip() == caption.full
        assert caption.item.boundingRect().width() <= caption.rect().width() + 1
    # the three image plots, alike, draw each axis once for the three (a dataset step's paint)
    w.graphics.grab()
    for side in ("left", "bottom", "top", "right"):
        drawn = {id(panel.plot.getAxis(side).picture) for panel in w.panels}
        assert len(drawn) == 1, f"the {side} axes of the image plots drew {len(drawn)} pictures"
    # the joint plot's frame and its last tick label stand inside the window, not on its edge
    shown = w.graphics.viewport().rect()
    joint = w.joint.plot
    frame = w.graphics.mapFromScene(joint.getViewBox().sceneBoundingRect()).boundingRect()
    axis = w.graphics.mapFromScene(joint.getAxis("bottom").sceneBoundingRect()).boundingRect()
    assert frame.right() <= shown.right() - 8 and frame.bottom() <= shown.bottom() - 8
    assert axis.right() <= shown.right() - 2
    w.close()


def test_a_long_caption_is_elided_in_the_middle_with_its_text_in_the_tooltip(
    qtbot, tmp_path: Path
) -> None:
    w = MainWindow(Settings(tmp_path / "settings"))
    qtbot.addWidget(w)
    w.resize(*DEFAULT_SIZE)
    w.show()
    w.original.set_caption("levels 0.0003867 … 0.174 " + "and a very long tail " * 8 + "END")
    qtbot.wait(10)
    caption = w.original.plot.titleLabel
    assert caption.full.endswith("END") and caption.shown.endswith("END")
    assert "…" in caption.shown and caption.toolTip() == caption.full
    w.close()


def test_tall_images_stand_in_a_row_wide_ones_in_a_grid() -> None:
    assert arrange(1400, 600, (900, 300)).kind == "row"
    assert arrange(860, 560, (28, 28)).kind == "grid"
    a = arrange(860, 560, (1024, 2048))
    for image, hist in zip(a.images, a.histograms, strict=True):
        assert hist[0] == image[0] and hist[2] == image[2]  # right under it, as wide
        assert hist[1] > image[1] + image[3] - 1


def test_the_comparison_grid_picks_the_columns_that_draw_biggest() -> None:
    assert grid_columns(4, 1000, 1000, (10, 10), 0) == 2
    assert grid_columns(3, 3000, 300, (10, 10), 0) == 3


def test_the_first_window_uses_most_of_the_screen_and_later_ones_its_last_size(
    qtbot, tmp_path: Path
) -> None:
    w = MainWindow(Settings(tmp_path / "settings"))
    qtbot.addWidget(w)
    screen = w.screen().availableGeometry()
    assert 0.85 * screen.width() <= w.width() <= screen.width()
    assert 0.85 * screen.height() <= w.height() <= screen.height()
    w.resize(700, 500)
    w.close()  # saves the geometry
    again = MainWindow(Settings(tmp_path / "settings"))
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (700, 500)
    again.close()
