"""File > Open Normalized and Shift+drop: the window on an after array made elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog
from windows import wait_ready

from normscope.core.loading import load
from normscope.core.normalize import Normalization
from normscope.core.pairing import AfterArray
from normscope.core.report import build_report
from normscope.gui.window import MainWindow

DIGITS = load("sample:digits")
ZSCORE = Normalization(method="zscore", axis=(1, 2))


@pytest.fixture
def after_file(tmp_path) -> Path:
    path = tmp_path / "after.npy"
    np.save(path, ZSCORE.apply(DIGITS.array, roles="NHW"))
    return path


def assert_shows_the_file(w: MainWindow, path: Path) -> None:
    wait_ready(w)
    assert w.model.normalization.path == str(path)
    assert w.controls.description.text() == "from file: after.npy"
    assert w.controls.method.currentIndex() == -1
    assert w.controls.method.placeholderText() == "from file: after.npy"
    assert w.controls.code.text() == "" and not w.controls.copy_code.isEnabled()
    assert not any(b.isEnabled() or b.isChecked() for b in w.controls.axis_buttons)
    y = np.load(path)
    np.testing.assert_array_equal(w.normalized.item.image, y[w.model.index])
    # the window's numbers are core's for the same pair, and the method's
    given = AfterArray.pair(DIGITS.array, y, "NHW", path=str(path))
    want = build_report(DIGITS, given, index=w.model.index, scope="all")["ranks"]
    stats = w.results.stats.diff
    assert stats.pairs.discordant == want["pairs"]["discordant"]
    assert stats.spearman_mean == want["spearman"]["mean"]
    method = build_report(DIGITS, ZSCORE, index=w.model.index, scope="all")["ranks"]
    assert want == method


def test_open_normalized_through_a_mocked_dialog(qtbot, window, monkeypatch, after_file) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(after_file), ""))
    assert window.open_after_action.shortcut().toString() == "Ctrl+Shift+O"
    window.model.set_index(5)
    window.open_after_action.trigger()
    assert_shows_the_file(window, after_file)
    assert window.model.index == 5  # paired with the image on show: nothing else moves
    window.model.set_index(9)
    assert_shows_the_file(window, after_file)


def test_picking_a_method_again_leaves_the_file(qtbot, window, after_file) -> None:
    assert window.open_after(after_file)
    wait_ready(window)
    combo = window.controls.method
    combo.setCurrentIndex(combo.findData("keras"))  # the method chosen before, picked again
    wait_ready(window)
    assert combo.currentData() == "keras"
    assert window.model.after is None
    assert "from file" not in window.controls.description.text()
    assert window.controls.code.text().startswith("x = ") and window.controls.copy_code.isEnabled()


def test_a_new_image_leaves_the_file(qtbot, window, after_file) -> None:
    assert window.open_after(after_file)
    assert window.open_source("sample:photo")
    wait_ready(window)
    assert window.model.after is None


def test_shift_drop_pairs_the_file(qtbot, window, after_file) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(after_file))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ShiftModifier,
    )  # fmt: skip
    window.dropEvent(event)
    assert_shows_the_file(window, after_file)
    assert window.model.loaded.source == "sample:digits"


def test_a_mismatched_file_says_why_and_keeps_the_method(qtbot, window, tmp_path) -> None:
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((64, 28, 27)))
    assert not window.open_after(bad)
    assert window.error_box.text() == (
        "bad.npy is 64 x 28 x 27 but the original is 64 x 28 x 28 (NHW)"
    )
    window.error_box.close()
    assert window.model.after is None


def test_export_report_of_the_pair(qtbot, window, monkeypatch, after_file, tmp_path) -> None:
    assert window.open_after(after_file)
    wait_ready(window)
    out = tmp_path / "r.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.export_report()
    r = json.loads(out.read_text())
    assert r["normalization"]["method"] == "file"
    assert r["normalization"]["path"] == str(after_file)


def test_set_options_drives_the_window(qtbot, window) -> None:
    window.set_options(method="keras", axis=(2,), index=3)
    wait_ready(window)
    assert window.model.normalization == Normalization(method="keras", axis=(2,))
    assert window.model.index == 3
    y = Normalization(method="keras", axis=2).apply(DIGITS.array, roles="NHW")
    np.testing.assert_array_equal(window.normalized.item.image, y[3])
    with pytest.raises(TypeError, match="no option 'colour'"):
        window.set_options(colour="red")


def test_a_channels_first_file_is_paired_in_the_images_layout(qtbot, window, tmp_path) -> None:
    photo = load("sample:photo")
    tensor = tmp_path / "tensor.npy"
    np.save(tensor, np.moveaxis(photo.array, -1, 0).astype(np.float32) / 255)  # ToTensor()
    assert window.open_source("sample:photo")
    assert window.open_after(tensor)
    wait_ready(window)
    np.testing.assert_array_equal(
        window.results.frame.normalized, photo.array.astype(np.float32) / 255
    )
    assert window.results.stats.diff.rank_preserving
