"""The real window, driven offscreen: every panel must hold exactly what core computes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDropEvent
from PySide6.QtWidgets import QFileDialog
from qimages import pixels, rendered_by_pyqtgraph
from windows import wait_ready

from normscope.core.display import display_levels
from normscope.core.histogram import JointHistogram, histogram, joint_histogram
from normscope.core.loading import load
from normscope.core.logs import configure_logging, log_path
from normscope.core.normalize import Normalization, from_preset
from normscope.core.ranks import diagnose, rank_compare, rank_diff, rank_maps
from normscope.gui import controller, pipeline
from normscope.gui.panels import colormap, format_level, make_picture
from normscope.gui.settings import Settings
from normscope.gui.window import OPEN_FILTER, STALE_OPACITY, MainWindow
from normscope.gui.worker import LatestOnly

DIGITS = load("sample:digits").array


def keras_formula(x: np.ndarray, axis) -> np.ndarray:
    """tf.keras.utils.normalize as Keras 2 wrote it: the oracle."""
    norm = np.atleast_1d(np.linalg.norm(x, 2, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def same_joint(a: JointHistogram, b: JointHistogram) -> bool:
    return all(
        np.array_equal(getattr(a, k), getattr(b, k)) for k in ("counts", "x_edges", "y_edges")
    )


def shown(w: MainWindow) -> tuple[np.ndarray, np.ndarray]:
    return w.original.item.image, w.normalized.item.image


def test_open_filter_lists_the_formats() -> None:
    for pattern in ("*.png", "*.tif", "*.npy", "*.npz", "*-ubyte", "*.gif", "*.webp"):
        assert pattern in OPEN_FILTER


def test_the_window_takes_the_interpreter_lock_back_within_a_millisecond(
    empty_window: MainWindow,
) -> None:
    """Its paint calls into Python dozens of times; each call waited up to Python's 5 ms
    switch interval whenever a reader, prefetch or statistics thread held the lock."""
    assert sys.getswitchinterval() <= 0.001


def test_qt_paints_on_the_gui_thread_alone() -> None:
    """Qt's raster engine hands every fill of 96 spans or more to a pool of threads and waits
    for them: 10,000 thread hand-offs in 40 dataset steps, each a wait for a core that the
    walking verdict may hold. Importing the window turns that pool off (a user's own setting
    of the variable stands)."""
    code = "import os, normscope.gui; print(os.environ['QT_NO_GUI_THREADPOOL'])"
    env = {k: v for k, v in os.environ.items() if k != "QT_NO_GUI_THREADPOOL"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "1", out.stderr


def test_opens_on_digits_and_shows_core_output(window: MainWindow) -> None:
    before, after = shown(window)
    np.testing.assert_array_equal(before, DIGITS[0])
    expected = keras_formula(DIGITS, -1)[0]  # keras' default axis: each row
    assert after.dtype == np.float64
    np.testing.assert_array_equal(after, expected)
    assert window.windowTitle() == "NormScope — digits [image 0 of 64]"


def test_the_first_run_opens_on_the_tutorials_call(qtbot, tmp_path: Path) -> None:
    w = MainWindow(Settings(tmp_path / "first-run"))
    qtbot.addWidget(w)
    assert w.open_source("sample:digits")
    wait_ready(w)
    assert w.model.options.axis == (1,) and w.controls.axis_buttons[1].isChecked()
    assert w.controls.code.text() == "x = tf.keras.utils.normalize(x, axis=1, order=2)"
    np.testing.assert_array_equal(shown(w)[1], keras_formula(DIGITS, 1)[0])
    assert "column ✓" in w.verdict.text()


def test_levels_are_honest(window: MainWindow) -> None:
    _before, after = shown(window)
    assert window.original.levels == (0.0, 255.0)  # uint8: its dtype range
    lo, hi = display_levels(after, mode="data")
    assert window.normalized.levels == (lo, hi)
    assert hi <= 1.0 and window.normalized.item.levels is not None
    np.testing.assert_allclose(window.normalized.item.levels, (lo, hi))
    assert "levels 0 … 255" in window.original.plot.titleLabel.full
    np.testing.assert_allclose(window.histograms[1].region.getRegion(), (lo, hi))


def test_axis_buttons_choose_the_reduced_axes(qtbot, window: MainWindow) -> None:
    n, h, w_ = window.controls.axis_buttons
    assert w_.isChecked() and not h.isChecked() and not n.isChecked()  # default axis -1
    qtbot.mouseClick(h, Qt.MouseButton.LeftButton)  # H and W: a matrix norm per image
    assert window.model.options.axis == (1, 2)
    wait_ready(window)
    np.testing.assert_array_equal(shown(window)[1], keras_formula(DIGITS, (1, 2))[0])
    qtbot.mouseClick(w_, Qt.MouseButton.LeftButton)  # H only: the tutorial's axis=1
    assert window.model.options.axis == (1,)
    wait_ready(window)
    np.testing.assert_array_equal(shown(window)[1], keras_formula(DIGITS, 1)[0])
    qtbot.mouseClick(n, Qt.MouseButton.LeftButton)  # N and H: statistics across the batch
    wait_ready(window)
    np.testing.assert_array_equal(shown(window)[1], keras_formula(DIGITS, (0, 1))[0])
    assert "column" in window.controls.description.text() or window.controls.description.text()


def test_verdict_matches_core_for_the_tutorial_call(qtbot, window: MainWindow) -> None:
    window.model.set_options(axis=(1,))
    assert window.controls.axis_buttons[1].isChecked()  # model -> widget
    assert not window.controls.axis_buttons[2].isChecked()
    wait_ready(window)
    before, after = shown(window)
    diff = rank_diff(before, after, scope="all", roles="HW")
    diag = diagnose(before, after, roles="HW")
    text = window.verdict.text()
    assert diag.summary() in text
    assert f"{diff.pairs.discordant:,} of {diff.pairs.total:,}" in text
    assert diag.preserved["column"] is True and diag.preserved["all"] is False
    maps = rank_maps(before, after, scope="all", roles="HW")
    np.testing.assert_array_equal(window.rank.item.image, maps.displacement)
    batch = diagnose(DIGITS, keras_formula(DIGITS, 1), roles="NHW")
    assert window.results.batch.diagnosis == batch
    assert f"{batch.images_with_inversions:,} of 64 images" in window.batch_label.text()


def test_method_combo_and_model_bind_both_ways(qtbot, window: MainWindow) -> None:
    combo = window.controls.method
    combo.setCurrentIndex(combo.findData("minmax"))
    assert window.model.options.choice == "minmax"
    wait_ready(window)
    after = shown(window)[1]
    expected = Normalization(method="minmax").apply(DIGITS, roles="NHW")[0]
    np.testing.assert_array_equal(after, expected)
    window.model.set_options(choice="zscore")
    assert combo.currentData() == "zscore"
    window.model.set_options(choice="preset:sklearn.StandardScaler")
    assert combo.currentData() == "preset:sklearn.StandardScaler"
    assert not any(b.isEnabled() for b in window.controls.axis_buttons)  # a preset fixes the axis
    wait_ready(window)
    want = from_preset("sklearn.StandardScaler", "NHW").apply(DIGITS, roles="NHW")[0]
    np.testing.assert_array_equal(shown(window)[1], want)


def test_index_controls_and_arrow_keys_step_the_batch(qtbot, window: MainWindow) -> None:
    window.controls.index_spin.setValue(5)
    assert window.model.index == 5 and window.controls.index_slider.value() == 5
    wait_ready(window)
    np.testing.assert_array_equal(shown(window)[0], DIGITS[5])
    window.activateWindow()
    qtbot.keyClick(window.graphics, Qt.Key.Key_Right)
    assert window.model.index == 6
    window.model.set_index(9)
    assert window.controls.index_slider.value() == 9 and window.controls.index_spin.value() == 9
    assert window.windowTitle().endswith("[image 9 of 64]")


def test_stale_results_are_dropped(qtbot, window: MainWindow) -> None:
    for i in range(40):
        window.controls.index_slider.setValue(i)
    wait_ready(window)
    np.testing.assert_array_equal(shown(window)[0], DIGITS[39])
    np.testing.assert_array_equal(shown(window)[1], keras_formula(DIGITS, -1)[39])


def test_jump_to_worst_image(qtbot, window: MainWindow) -> None:
    window.model.set_options(axis=(1,))
    wait_ready(window)
    worst = window.results.batch.diagnosis.worst_image
    assert worst is not None and window.jump.isVisible()
    qtbot.mouseClick(window.jump, Qt.MouseButton.LeftButton)
    assert window.model.index == worst


def test_open_through_mocked_dialog(qtbot, window: MainWindow, monkeypatch, tmp_path) -> None:
    path = tmp_path / "one.npy"
    arr = np.arange(30 * 20, dtype=np.uint16).reshape(30, 20)
    np.save(path, arr)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    window.open_action.trigger()
    wait_ready(window)
    np.testing.assert_array_equal(shown(window)[0], arr)
    assert window.windowTitle() == "NormScope — one.npy"
    assert window.settings.recent_files[0].endswith("one.npy")
    assert window.settings.last_folder == str(tmp_path.resolve())
    assert not window.controls.index_slider.isEnabled()


def test_drop_a_file_opens_it(qtbot, window: MainWindow, tmp_path) -> None:
    path = tmp_path / "dropped.npy"
    np.save(path, np.eye(16, dtype=np.float32))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    window.dropEvent(event)
    wait_ready(window)
    np.testing.assert_array_equal(shown(window)[0], np.eye(16, dtype=np.float32))


BAD_FILES = {
    "empty.png": b"",
    "text.png": b"this is not an image\n",
    "truncated.npy": b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False",
    "thing.xyz": b"\x00\x01\x02",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_shows_error_and_keeps_image(qtbot, window: MainWindow, tmp_path, name) -> None:
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    loaded, image = window.model.loaded, shown(window)[0]
    assert not window.open_source(path)
    box = window.error_box
    assert box is not None and box.isVisible() and name in box.text()
    assert window.model.loaded is loaded and shown(window)[0] is image
    box.close()


def test_missing_file_and_object_array(qtbot, window: MainWindow, tmp_path) -> None:
    assert not window.open_source(tmp_path / "nope.png")
    assert "nope.png" in window.error_box.text()
    window.error_box.close()
    obj = tmp_path / "objects.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)  # a hostile file
    assert not window.open_source(obj)
    assert "objects.npy" in window.error_box.text()
    window.error_box.close()
    assert window.model.loaded.name == "digits"


def test_rejected_call_says_why(qtbot, window: MainWindow) -> None:
    window.controls.whole.click()  # keras with axis=None: Keras 2 raises
    assert window.model.options.axis is None
    qtbot.waitUntil(lambda: "Cannot normalize" in window.verdict.text(), timeout=10_000)
    assert window.normalized.item.image is None


def test_rgb_channels_and_scopes(qtbot, window: MainWindow) -> None:
    assert window.open_source("sample:photo")
    wait_ready(window)
    photo = load("sample:photo").array
    before, _after = shown(window)
    np.testing.assert_array_equal(before, photo)
    assert window.controls.channel.isEnabled()
    window.controls.channel.setCurrentIndex(window.controls.channel.findData(1))
    assert window.model.channel == 1
    np.testing.assert_array_equal(shown(window)[0], photo[..., 1])
    # every histogram counts what its panel shows: channel 1, not all three
    wait_ready(window)
    after = window.results.frame.normalized[..., 1]
    for panel, image in zip(window.histograms, (photo[..., 1], after), strict=False):
        np.testing.assert_array_equal(panel.counts, histogram(image).counts)
    assert same_joint(window.joint.histogram, joint_histogram(photo[..., 1], after))
    shift = window.results.stats.maps.displacement[..., 1]
    np.testing.assert_array_equal(window.rank.item.image, shift)
    np.testing.assert_array_equal(window.histograms[2].counts, histogram(shift, bins=101).counts)
    window.controls.channel.setCurrentIndex(0)  # back to all channels: None, as core says it
    assert window.model.channel is None and window.controls.channel.currentData() is None
    np.testing.assert_array_equal(shown(window)[0], photo)
    wait_ready(window)
    mean_shift = window.results.stats.maps.displacement.mean(axis=-1, dtype=np.float32)
    np.testing.assert_array_equal(window.rank.item.image, mean_shift)
    scope = window.controls.scope
    assert [scope.itemData(i) for i in range(scope.count())] == [
        "image",
        "channel",
        "row",
        "column",
    ]
    frame, verdict = window.results.frame, window.results.verdict
    scope.setCurrentIndex(scope.findData("channel"))
    assert window.results.stats is None  # the whole image's counts are not shown as the channels'
    assert "Counting pixel pairs" in window.verdict.text()
    wait_ready(window)
    assert (
        window.results.stats.diff.scope == "channel"
        and "Within each channel" in window.verdict.text()
    )
    assert window.results.frame is frame  # a scope changes the statistics only, not the image
    assert window.results.verdict is verdict  # nor where ranks are kept: not computed again


def test_display_controls_and_settings_persist(qtbot, window: MainWindow, tmp_path) -> None:
    c = window.controls
    c.colormap.setCurrentText("viridis")
    counts = window.histograms[0].counts
    assert c.log_hist.isChecked()  # log counts by default: background zeros would flatten the rest
    np.testing.assert_allclose(window.histograms[0].curve.yData, np.log10(counts + 1.0))
    c.log_hist.setChecked(False)
    c.linked.setChecked(False)
    assert window.model.display.colormap == "viridis"
    assert not window.model.display.log_histogram and not window.model.display.linked
    assert window.normalized.view.linkedView(0) is None
    np.testing.assert_array_equal(window.histograms[0].curve.yData, counts)
    window.model.set_options(axis=(1,))
    window.close()
    again = MainWindow(window.settings)
    qtbot.addWidget(again)
    assert again.model.display.colormap == "viridis" and not again.model.display.log_histogram
    assert again.model.options.axis == (1,)
    assert again.controls.colormap.currentText() == "viridis"
    again.close()


def test_hover_reads_the_same_pixel_everywhere(window: MainWindow) -> None:
    before, after = shown(window)
    r, c = np.argwhere(before > 0)[0]
    text = window.pixel_text(int(r), int(c))
    assert f"(row {r}, col {c})" in text and f"original {before[r, c]}" in text
    maps = rank_maps(before, after, scope="all", roles="HW")
    before_rank, after_rank = (format_level(float(v)) for v in maps.ranks_at((r, c)))
    assert f"rank {before_rank} → {after_rank} of 784" in text
    assert window.pixel_text(-1, 0) == "" and window.pixel_text(0, 10_000) == ""


def test_the_status_line_follows_the_image_under_a_still_cursor(qtbot, window: MainWindow) -> None:
    r, c = 14, 14
    scene = window.graphics.scene()
    scene.sigMouseMoved.emit(window.normalized.view.mapViewToScene(QPointF(c + 0.5, r + 0.5)))
    assert f"original {DIGITS[0][r, c]}" in window.hover.text()
    window.model.set_index(1)  # the cursor stays; the pixel under it changes
    wait_ready(window)
    assert window.hover.text() == window.pixel_text(r, c)
    assert f"original {DIGITS[1][r, c]}" in window.hover.text()
    assert window.open_source("sample:gray16")
    wait_ready(window)
    gray16 = load("sample:gray16").array
    assert f"original {gray16[r, c]}" in window.hover.text()


def test_export_actions_write_what_core_computes(qtbot, window: MainWindow, monkeypatch, tmp_path):
    import json

    import imageio.v3 as iio
    from PySide6.QtWidgets import QMessageBox

    from normscope.core.report import build_comparison, build_report
    from normscope.gui.export import comparison_layout

    window.model.set_options(axis=(1,))
    window.model.set_index(4)
    wait_ready(window)
    target = {"path": ""}
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (target["path"], ""))

    target["path"] = str(tmp_path / "cmp.png")
    window.export_action.trigger()
    comp = build_comparison(window.model.loaded, window.model.normalization, index=4)
    w, h = comparison_layout(comp).size
    assert iio.imread(tmp_path / "cmp.png").shape[:2] == (h, w)

    target["path"] = str(tmp_path / "screen.jpg")
    window.export_screen_action.trigger()
    grabbed = iio.imread(tmp_path / "screen.jpg")
    assert grabbed.shape[1] == window.splitter.widget(1).width()

    target["path"] = str(tmp_path / "y.npy")
    window.export_array_action.trigger()
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), keras_formula(DIGITS, 1))

    target["path"] = str(tmp_path / "report")  # no suffix: .json is added
    window.export_report_action.trigger()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == json.loads(
        json.dumps(build_report(window.model.loaded, window.model.normalization, scope="image"))
    )

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    before = (tmp_path / "y.npy").read_bytes()
    window.model.set_options(axis=(2,))
    target["path"] = str(tmp_path / "y.npy")
    assert window.export_array() is None  # declined: the existing file stays
    assert (tmp_path / "y.npy").read_bytes() == before
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert window.export_array() == tmp_path / "y.npy"
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), keras_formula(DIGITS, 2))


def test_the_exported_comparison_shows_what_the_window_shows(qtbot, window: MainWindow) -> None:
    from normscope.core.report import build_comparison
    from normscope.gui.export import render_comparison

    assert window.open_source("sample:photo")
    window.controls.channel.setCurrentIndex(window.controls.channel.findData(1))
    window.controls.original_levels.setCurrentIndex(
        window.controls.original_levels.findData("data")
    )
    wait_ready(window)
    m = window.model
    comp = build_comparison(m.loaded, m.normalization, channel=1, original_levels="data")
    np.testing.assert_array_equal(comp.original, shown(window)[0])
    assert comp.original_levels == window.original.levels
    assert np.array_equal(pixels(window.comparison_image()), pixels(render_comparison(comp)))


def test_export_never_overwrites_the_input(qtbot, window: MainWindow, monkeypatch, tmp_path):
    src = tmp_path / "in.npy"
    np.save(src, np.arange(64, dtype=np.uint8).reshape(8, 8))
    assert window.open_source(src)
    wait_ready(window)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(src), ""))
    before = src.read_bytes()
    assert window.export_array() is None
    assert src.read_bytes() == before and "file you opened" in window.error_box.text()
    window.error_box.close()


def test_copy_comparison_puts_the_picture_on_the_clipboard(qtbot, window: MainWindow) -> None:
    from PySide6.QtGui import QGuiApplication

    window.copy_action.trigger()
    image = QGuiApplication.clipboard().image()
    assert not image.isNull() and image.width() > 900


def test_axis_roles_can_be_overridden(qtbot, window: MainWindow, tmp_path) -> None:
    chw = np.stack([DIGITS[0], DIGITS[1], DIGITS[2]])  # a channels-first image
    np.save(tmp_path / "chw.npy", chw)
    assert window.open_source(tmp_path / "chw.npy")
    assert window.model.roles == "NHW"  # inferred: three 28x28 images
    roles = window.controls.roles
    roles.setCurrentText("CHW")
    roles.lineEdit().editingFinished.emit()
    assert window.model.roles == "CHW"
    wait_ready(window)
    np.testing.assert_array_equal(shown(window)[0], np.moveaxis(chw, 0, -1))  # drawn as RGB
    assert [b.text() for b in window.controls.axis_buttons] == [
        "C  3 channels", "H  28 rows", "W  28 columns",
    ]  # fmt: skip
    roles.setCurrentText("HHW")
    roles.lineEdit().editingFinished.emit()
    assert window.model.roles == "CHW" and "HHW" in window.error_box.text()
    assert roles.currentText() == "CHW"
    window.error_box.close()


def test_a_burst_of_changes_starts_one_batch_job(qtbot, window: MainWindow, monkeypatch) -> None:
    started: list[object] = []

    def counted(*args, real=controller.batch_job):
        started.append(args[2])
        return real(*args)

    monkeypatch.setattr(controller, "batch_job", counted)
    for axis in [(1,), (2,), (1, 2), (1,), (2,)] * 4:
        window.model.set_options(axis=axis)
    wait_ready(window)
    assert started == [window.model.normalization]  # debounced: the last state only
    assert window.results.batch.diagnosis == diagnose(DIGITS, keras_formula(DIGITS, 2), roles="NHW")


def test_new_captions_do_not_move_the_panels(qtbot, window: MainWindow) -> None:
    """A caption is drawn in the room its plot has: pyqtgraph would make each new caption's
    width a minimum, re-laying out every column (and redrawing every axis) on each toggle."""
    views = [p.view for p in (window.original, window.normalized, window.rank)]
    views += [h.plot.getViewBox() for h in window.histograms] + [window.joint.plot.getViewBox()]
    qtbot.wait(50)
    geometry = [v.sceneBoundingRect() for v in views]
    window.rank.set_caption("a caption far longer than any the window writes itself " * 3)
    window.normalized.set_caption("")
    for axis in [(1,), (2,), (1, 2)]:
        window.model.set_options(axis=axis)
        wait_ready(window)
        qtbot.wait(20)
        assert [v.sceneBoundingRect() for v in views] == geometry


def test_a_long_caption_stays_within_its_plot(qtbot, window: MainWindow) -> None:
    def over_the_rank_panel() -> np.ndarray:
        qtbot.wait(20)
        grab = window.graphics.grab().toImage()
        title = window.rank.plot.titleLabel.sceneBoundingRect()
        left = int(window.rank.plot.sceneBoundingRect().left() * grab.devicePixelRatio())
        return pixels(grab)[: int(title.bottom()), left : left + 60]

    window.normalized.set_caption("")
    before = over_the_rank_panel()
    window.normalized.set_caption("levels 0.006813 … 0.1507 and more words " * 4)
    np.testing.assert_array_equal(over_the_rank_panel(), before)
    title = window.normalized.plot.titleLabel  # elided in the middle, whole in its tooltip
    assert "…" in title.shown
    assert title.toolTip() == title.full and title.itemRect().width() <= title.rect().width()


def drawn_as_pyqtgraph_would(panel) -> bool:
    """The panel's QImage is, pixel for pixel, what pyqtgraph renders of its data and levels."""
    item = panel.item
    item.render()
    want = rendered_by_pyqtgraph(item.image, item.levels, item.lut)
    return np.array_equal(pixels(item.qimage), want)


def test_pictures_are_made_off_the_gui_thread_for_the_display(
    qtbot, window: MainWindow, monkeypatch
) -> None:
    made_on: list[threading.Thread] = []

    def recorded(*args):
        made_on.append(threading.current_thread())
        return make_picture(*args)

    monkeypatch.setattr(pipeline, "make_picture", recorded)
    original = window.original.picture
    window.model.set_options(axis=(1,))
    wait_ready(window)
    assert len(made_on) == 2 and threading.main_thread() not in made_on  # normalized, rank
    assert window.original.picture is original  # same image, same look: not made again
    f, s = window.results.frame, window.results.stats
    assert f.look == window.look() and s.look == window.look()
    assert window.original.picture is f.pictures[0] and window.normalized.picture is f.pictures[1]
    assert window.rank.picture is s.rank.picture
    assert all(drawn_as_pyqtgraph_would(p) for p in window.panels)
    window.model.set_index(3)
    wait_ready(window)
    np.testing.assert_array_equal(window.original.picture.data, DIGITS[3])
    # display changes are drawn at once, from pictures the window makes itself, and only
    # the pictures they change: a colour map leaves the rank panel, a rank view the images
    rank = window.rank.picture
    window.controls.colormap.setCurrentText("viridis")
    assert window.rank.picture is rank
    normalized = window.normalized.picture
    window.controls.rank_view.setCurrentIndex(window.controls.rank_view.findData("partners"))
    assert window.normalized.picture is normalized
    assert window.results.frame.look == window.look() == window.results.stats.look
    assert window.look().colormap == "viridis" and window.look().rank_view == "partners"
    np.testing.assert_array_equal(
        window.normalized.item.lut, colormap("viridis").getLookupTable(nPts=256)
    )
    partners = rank_maps(*shown(window), scope="all", roles="HW").partners
    np.testing.assert_array_equal(window.rank.item.image, partners)
    top = float(partners.max())
    assert window.rank.levels == (0.0, top) and f"levels 0 … {top:g}" in window.rank.caption
    counts = histogram(partners.astype(np.float32), bins=101).counts
    np.testing.assert_array_equal(window.histograms[2].counts, counts)  # not the shift's
    np.testing.assert_allclose(window.histograms[2].region.getRegion(), (0.0, top))
    assert all(drawn_as_pyqtgraph_would(p) for p in window.panels)


def test_a_new_image_never_waits_for_the_last_ones_statistics(
    qtbot, window: MainWindow, monkeypatch
) -> None:
    gate = threading.Event()
    compared: list[np.ndarray] = []

    pictured: list[object] = []

    def held_at_gate(before, after, **kwargs):  # the pair counts of a big image: seconds
        compared.append(after)
        gate.wait(10)
        return rank_compare(before, after, **kwargs)

    def rank_picture(maps, *args, real=pipeline.rank_picture):
        pictured.append(maps)
        return real(maps, *args)

    monkeypatch.setattr(pipeline, "rank_compare", held_at_gate)
    monkeypatch.setattr(pipeline, "rank_picture", rank_picture)
    monkeypatch.setattr(pipeline, "COUNTS_WITH_FRAME", 0)  # counted apart, as a big image is
    window.model.set_options(axis=(1,))
    qtbot.waitUntil(lambda: len(compared) == 1)  # image on show, its counts held
    window.model.set_options(axis=(1, 2))
    expected = keras_formula(DIGITS, (1, 2))[0]
    qtbot.waitUntil(lambda: np.array_equal(shown(window)[1], expected), timeout=5_000)
    assert window.results.stats is None and len(compared) == 1  # counts of both still to come
    rank = window.rank
    assert rank.item.opacity() == 1.0  # quick counts do not make the rank map flicker
    qtbot.waitUntil(lambda: "counting" in rank.plot.titleLabel.full)  # slow ones are marked
    assert rank.item.opacity() == STALE_OPACITY
    gate.set()
    wait_ready(window)
    assert len(compared) == 2 and compared[1] is window.results.frame.normalized
    assert pictured == [window.results.stats.maps]  # the stale job stopped right after its counts
    assert rank.item.opacity() == 1.0 and "counting" not in rank.plot.titleLabel.text
    diff, maps = rank_compare(*shown(window), scope="all", roles="HW")
    assert window.results.stats.diff == diff
    np.testing.assert_array_equal(window.rank.item.image, maps.displacement)


def test_a_failed_rank_comparison_says_so_and_keeps_the_image(
    qtbot, window: MainWindow, monkeypatch
) -> None:
    def broken(*_args, **_kwargs):
        raise MemoryError("no room for the pair counts")

    monkeypatch.setattr(pipeline, "rank_compare", broken)
    window.model.set_options(axis=(1,))

    assert window.controller.join(timeout=10)
    assert "Cannot compare ranks" in window.verdict.text()
    assert "no room for the pair counts" in window.verdict.text()
    assert window.results.stats is None and window.rank.item.image is None
    np.testing.assert_array_equal(shown(window)[1], keras_formula(DIGITS, 1)[0])


def test_only_the_shown_channels_histograms_are_drawn(qtbot, window: MainWindow) -> None:
    assert window.open_source("sample:photo")
    wait_ready(window)
    queues = window.controller.findChildren(LatestOnly)  # the image's, then the others'
    assert [q.background for q in queues] == [False, True, True, True]
    channel = window.controls.channel
    for value in (0, 1, 0):  # back before channel 1's histograms can arrive
        channel.setCurrentIndex(channel.findData(value))
    wait_ready(window)
    photo = load("sample:photo").array
    assert window.results.hists.channel == 0
    np.testing.assert_array_equal(window.histograms[0].counts, histogram(photo[..., 0]).counts)


def test_slow_histograms_fade_the_old_ones(qtbot, window: MainWindow, monkeypatch) -> None:
    gate = threading.Event()

    def held_at_gate(*args, real=pipeline.joint_histogram):
        gate.wait(10)
        return real(*args)

    monkeypatch.setattr(pipeline, "joint_histogram", held_at_gate)
    monkeypatch.setattr(pipeline, "HISTS_WITH_FRAME", 0)  # made apart, as a big image's are
    plots = [p.plot for p in (*window.histograms[:2], window.joint)]
    window.model.set_index(3)
    qtbot.waitUntil(lambda: window.results.stats is not None)
    qtbot.waitUntil(lambda: all(p.opacity() == STALE_OPACITY for p in plots))
    gate.set()
    wait_ready(window)
    assert all(p.opacity() == 1.0 for p in plots)
    counts = histogram(DIGITS[3]).counts
    np.testing.assert_array_equal(window.histograms[0].counts, counts)


def test_failed_histograms_say_so_and_keep_the_counts(
    qtbot, window: MainWindow, monkeypatch
) -> None:
    def broken(*_args, **_kwargs):
        raise MemoryError("no room for the joint histogram")

    monkeypatch.setattr(pipeline, "joint_histogram", broken)
    window.model.set_options(axis=(1,))
    wait_ready(window)
    text = window.verdict.text()
    assert "Cannot count the histograms" in text and "no room for the joint histogram" in text
    diff = rank_diff(*shown(window), scope="all", roles="HW")
    assert window.results.stats.diff == diff and f"{diff.pairs.discordant:,} of" in text


def test_a_partners_map_is_pictured_off_the_gui_thread(qtbot, window: MainWindow) -> None:
    window.controls.rank_view.setCurrentIndex(window.controls.rank_view.findData("partners"))
    window.model.set_options(axis=(1,))
    wait_ready(window)
    assert window.results.stats.look == window.look()
    assert window.rank.picture is window.results.stats.rank.picture
    assert window.rank.picture.qimage is not None  # ready, not rendered at paint time
    assert drawn_as_pyqtgraph_would(window.rank)
    np.testing.assert_array_equal(window.rank.item.image, window.results.stats.maps.partners)


def test_help_show_log_opens_the_log_file(window: MainWindow, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NORMSCOPE_LOG_DIR", str(tmp_path / "logs"))
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", opened.append)
    window.show_log_action.trigger()
    assert opened == [QUrl.fromLocalFile(str(tmp_path / "logs" / "normscope.log"))]
    assert (tmp_path / "logs" / "normscope.log").exists()  # an empty log opens too


def test_a_failure_is_one_line_on_screen_and_its_story_in_the_log(
    qtbot, window: MainWindow, monkeypatch
) -> None:
    def broken(*_args, **_kwargs):
        raise MemoryError("no room for the joint histogram")

    configure_logging()
    monkeypatch.setattr(pipeline, "joint_histogram", broken)
    window.model.set_options(axis=(1,))
    wait_ready(window)
    shown_error = window.verdict.text().split("<br>")[1]
    assert "Cannot count the histograms" in shown_error
    assert "MemoryError: no room for the joint histogram" in shown_error
    logged = log_path().read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in logged and "in broken" in logged
    assert "histogram_job" in logged and "MemoryError: no room for the joint histogram" in logged
