"""File > Dataset Statistics: the pass in the background, its dialog, and Use for mean/std."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from normscope.core.stats import dataset_stats
from normscope.gui.window import MainWindow


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """RGB and grey images of different sizes, and a corrupt file."""
    rng = np.random.default_rng(2)
    root = tmp_path / "photos"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    Image.fromarray(rng.integers(0, 256, (30, 40, 3), np.uint8)).save(root / "a/1.png")
    Image.fromarray(rng.integers(0, 256, (20, 10), np.uint8)).save(root / "a/2.png")
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), np.uint8)).save(root / "b/3.png")
    (root / "b/broken.png").write_bytes(b"\x89PNG broken")
    return root


@pytest.fixture
def window(empty_window: MainWindow) -> MainWindow:
    return empty_window


def test_statistics_of_a_folder_show_with_code_and_feed_meanstd(
    qtbot, window, folder, monkeypatch
) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    assert window.open_source(folder)
    qtbot.waitUntil(lambda: window.browser.shown == 0)
    window.dataset_statistics_dialog()
    dialog = window.stats_dialog
    with qtbot.waitSignal(dialog.finished_ok, timeout=60_000):
        pass
    expected = dataset_stats(folder)
    assert dialog.stats.mean == expected.mean and dialog.stats.std == expected.std
    code = dialog.code.toPlainText()
    assert code.splitlines() == list(expected.code().values())
    assert "transforms.Normalize(mean=(" in code
    assert "3 images" in dialog.label.text() and "1 unreadable" in dialog.label.text()
    assert "1 converted to RGB" in dialog.label.text()
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == code
    dialog.use_button.click()
    opts = window.model.options
    assert (opts.choice, opts.mean, opts.std) == ("meanstd", expected.mean, expected.std)
    assert window.controller.join(timeout=20)
    assert window.results.frame is not None  # the RGB image on show, normalized with them
    dialog.close_button.click()
    assert not dialog.isVisible()


def test_statistics_of_a_file_through_the_mocked_dialog(qtbot, window, tmp_path, monkeypatch):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    window.stats_action.trigger()
    dialog = window.stats_dialog
    with qtbot.waitSignal(dialog.finished_ok, timeout=60_000):
        pass
    assert dialog.stats.images == 2
    assert dialog.stats.mean == pytest.approx((15.5 / 255,))
    dialog.reject()


def test_cancel_stops_the_pass_and_says_how_far_it_got(qtbot, window, tmp_path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    data = tmp_path / "one.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(data)
    for i in range(3000):
        (root / f"{i:04d}.png").write_bytes(data.read_bytes())
    dialog = window.dataset_statistics(root)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=60_000)
    assert dialog.wait(10)
    assert dialog.error == "cancelled"
    assert dialog.label.text().startswith("Cancelled after ")
    assert not dialog.use_button.isEnabled()
    dialog.close_button.click()


def test_an_unusable_source_says_why(qtbot, window, tmp_path) -> None:
    dialog = window.dataset_statistics(tmp_path / "nothing here")
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=30_000)
    assert "no such file or folder" in dialog.label.text()
    dialog.reject()
