"""Datasets browsed lazily in the real window: folders of mixed images, a memory-mapped .npy."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import windows
from PIL import Image
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QFileDialog
from windows import noise_folder, wait_shown

from normscope.core.dataset import FolderDataset
from normscope.core.loading import load
from normscope.core.walk import walk
from normscope.gui import dataset_source, dataset_verdict
from normscope.gui.dataset_source import DatasetBrowser, describe
from normscope.gui.model import InspectorModel
from normscope.gui.settings import Settings
from normscope.gui.window import MainWindow


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """cat/: a 500x375 RGB JPEG and a 80x60 grey PNG; dog/: a corrupt PNG and a 50x100 RGB PNG."""
    rng = np.random.default_rng(1)
    root = tmp_path / "mixed"
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()
    Image.fromarray(rng.integers(0, 256, (375, 500, 3), np.uint8)).save(root / "cat/0001.jpg")
    Image.fromarray(rng.integers(0, 256, (60, 80), np.uint8)).save(root / "cat/0002.png")
    (root / "dog/bad.png").write_bytes(b"not a png at all")
    Image.fromarray(rng.integers(0, 256, (100, 50, 3), np.uint8)).save(root / "dog/x.png")
    return root


@pytest.fixture
def window(empty_window: MainWindow) -> MainWindow:
    return empty_window


def test_describe_says_size_and_colours() -> None:
    assert describe(np.zeros((375, 500, 3), np.uint8)) == "500×375 RGB"
    assert describe(np.zeros((2, 3, 4), np.uint8)) == "3×2 RGBA"


def test_open_folder_browses_mixed_sizes_and_says_where(qtbot, window, mixed, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(mixed))
    window.open_folder_dialog()
    wait_shown(qtbot, window, 0)
    where = 'image 1 of 4 · class "cat" · cat/0001.jpg · 500×375 RGB'
    assert window.where.text() == where
    assert window.windowTitle() == f"NormScope — mixed [{where}]"
    assert window.controls.index_slider.isEnabled()
    assert window.controls.index_spin.maximum() == 3
    np.testing.assert_array_equal(window.results.frame.original, load(mixed / "cat/0001.jpg").array)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    wait_shown(qtbot, window, 1)
    assert window.where.text() == 'image 2 of 4 · class "cat" · cat/0002.png · 80×60 grey'
    np.testing.assert_array_equal(window.results.frame.original, load(mixed / "cat/0002.png").array)
    assert window.results.frame.original.shape == (60, 80)


def test_unreadable_file_shows_its_reason_and_browsing_goes_on(qtbot, window, mixed):
    assert window.open_source(mixed)
    wait_shown(qtbot, window, 0)  # listed in the background
    window.controls.index_spin.setValue(2)
    wait_shown(qtbot, window, 2)
    assert "is not a PNG file" in window.browser.error
    assert "Cannot read this image" in window.verdict.text()
    assert "not a PNG file" in window.verdict.text()
    assert window.where.text().endswith("dog/bad.png · unreadable")
    assert window.original.item.image is None
    window.controls.index_slider.setValue(3)
    wait_shown(qtbot, window, 3)
    assert window.browser.error is None
    assert window.results.frame.original.shape == (100, 50, 3)
    assert "Cannot read" not in window.verdict.text()


def test_neighbours_are_prefetched_and_the_cache_is_bounded(qtbot, tmp_path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(12):
        Image.fromarray(np.full((8 + i, 9), i, np.uint8)).save(root / f"{i:02d}.png")
    model = InspectorModel()
    browser = DatasetBrowser(model, cache_images=4)
    try:
        browser.open(FolderDataset(root))
        qtbot.waitUntil(lambda: browser.shown == 0)
        qtbot.waitUntil(lambda: 1 in browser.cache and 2 in browser.cache)
        model.set_index(1)
        assert browser.shown == 1  # from the cache: at once, no waiting
        assert model.loaded.array.shape == (9, 9)
        for i in range(2, 12):
            model.set_index(i)
            qtbot.waitUntil(lambda i=i: browser.shown == i)
            assert model.loaded.array[0, 0] == i
            assert len(browser.cache) <= 4
    finally:
        browser.shutdown()


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """10,000 tiny PNGs (4x3 grey, one in 7 RGB) in 4 class folders, made once a session."""
    root = tmp_path_factory.mktemp("tiny-session") / "tiny"
    for c in range(4):
        (root / f"c{c}").mkdir(parents=True)
    rng = np.random.default_rng(4)
    grey, rgb = io.BytesIO(), io.BytesIO()
    Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).save(grey, format="PNG")
    Image.fromarray(rng.integers(0, 256, (3, 4, 3), np.uint8)).save(rgb, format="PNG")
    for i in range(10_000):
        data = rgb if i % 7 == 6 else grey
        (root / f"c{i % 4}" / f"{i:05d}.png").write_bytes(data.getvalue())
    return root


def test_ten_thousand_tiny_files_open_at_once(qtbot, window, tiny) -> None:
    root = tiny
    t0 = time.perf_counter()
    assert window.open_source(root)
    assert window.model.dataset is None  # listed in the background: the window stays usable
    assert window.where.text() == "listing tiny…"
    wait_shown(qtbot, window, 0)
    assert time.perf_counter() - t0 < 5  # listing, no decoding (the bench asks 1.5 s of 100,000)
    assert window.where.text() == 'image 1 of 10,000 · class "c0" · c0/00000.png · 4×3 grey'
    window.model.set_index(9_999)
    wait_shown(qtbot, window, 9_999)
    assert window.where.text().startswith('image 10,000 of 10,000 · class "c3"')


def test_the_verdict_walk_and_the_statistics_pass_run_in_worker_processes(
    qtbot, window, tiny
) -> None:
    """Both walk 10,000 images off this process's interpreter lock, so the event loop keeps
    ticking (the walk on a thread blocked it 128-378 ms at a time)."""
    assert window.open_source(tiny)
    v = window.dataset_verdict
    qtbot.waitUntil(lambda: v.running and v.tally.checked > 0, timeout=60_000)
    assert v.worker.alive and v.worker.pid != os.getpid()
    dialog = window.dataset_statistics(tiny)
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=60_000)
    assert dialog._worker.alive and dialog._worker.pid not in (os.getpid(), v.worker.pid)
    gaps, last = [], [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(5)
    qtbot.wait(1500)
    timer.stop()
    assert len(gaps) > 30 and max(gaps) < 1.0, max(gaps)  # generous: a shared 2-core machine
    assert v.tally.checked > 0 and not v.tally.done
    dialog.reject()
    window.verdict_cancel.click()
    assert v.join(30)
    assert 0 < v.tally.checked < 10_000


def test_the_folders_image_sizes_are_surveyed_in_a_worker_process(qtbot, window, mixed) -> None:
    """Reading 100,000 headers on a thread held the interpreter lock against the window's
    paints for tens of seconds: every step while it ran took up to 3x as long."""
    assert window.open_source(mixed)
    wait_shown(qtbot, window, 0)
    qtbot.waitUntil(lambda: not window.dataset_norm.surveying, timeout=60_000)
    assert window.model.mixed_sizes.endswith("this folder has 3 sizes")
    sizes = window.dataset_norm.sizes
    assert sizes.alive and sizes.pid != os.getpid()
    assert not [t for t in threading.enumerate() if t.name == "normscope-sizes"]


def test_a_step_to_an_image_of_another_size_is_one_paint(qtbot, window, tmp_path) -> None:
    """Its image, histograms, counts and the axes of its new size reach the screen together
    (they were two or three paints of the whole window, each 25-70 ms on a busy machine)."""
    rng = np.random.default_rng(5)
    folder = tmp_path / "sizes" / "things"
    folder.mkdir(parents=True)
    for i, shape in enumerate([(30, 40), (52, 21, 3), (25, 25, 3), (44, 60)]):
        Image.fromarray(rng.integers(0, 256, shape, np.uint8)).save(folder / f"{i}.png")

    class Paints(QObject):
        count = 0

        def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
            self.count += event.type() == QEvent.Type.Paint
            return False

    assert window.open_source(folder.parent)
    wait_shown(qtbot, window, 0)
    verdict = window.dataset_verdict

    def once_per_folder_done() -> bool:  # its sizes surveyed, its verdict walked
        return window.model.mixed_sizes is not None and bool(verdict.tally and verdict.tally.done)

    qtbot.waitUntil(once_per_folder_done, timeout=60_000)
    assert window.controller.join(timeout=20)
    qtbot.wait(200)
    paints = Paints()
    window.graphics.viewport().installEventFilter(paints)
    for i in (1, 2, 3):
        paints.count = 0
        window.model.set_index(i)
        wait_shown(qtbot, window, i)
        qtbot.wait(150)  # any later paint
        assert paints.count == 1, (i, paints.count)
    r = window.results
    assert r.stats is not None and r.hists is not None  # all drawn in that paint


def test_a_folder_that_cannot_be_listed_says_why_and_keeps_the_image(qtbot, window, tmp_path):
    assert window.open_source("sample:digits")
    (tmp_path / "empty").mkdir()
    assert window.open_source(tmp_path / "empty")
    qtbot.waitUntil(lambda: window.browser.listing is None)
    assert "empty: holds no images" in window.error_box.text()
    window.error_box.close()
    assert window.model.loaded.name == "digits" and window.where.text() == ""


def test_opening_a_file_while_a_folder_is_listed_drops_the_listing(qtbot, window, mixed):
    assert window.open_source(mixed)
    assert window.open_source("sample:digits")
    window.browser.shutdown()  # the listing is done (or dropped) once the thread has stopped
    qtbot.wait(50)
    assert window.model.dataset is None and window.model.loaded.name == "digits"


def test_reopening_a_dataset_resumes_at_the_image_last_shown(qtbot, window, mixed) -> None:
    assert window.open_source(mixed)
    wait_shown(qtbot, window, 0)
    window.model.set_index(3)
    wait_shown(qtbot, window, 3)
    stored = Settings(window.settings.path.parent)  # the file: written once browsing pauses
    qtbot.waitUntil(lambda: stored.dataset_position(str(mixed.resolve())) == 3, timeout=5000)
    assert window.open_source("sample:digits")
    assert window.model.dataset is None and window.where.text() == ""
    assert window.settings.recent_files[:2] == ["sample:digits", str(mixed)]
    window._fill_recent()
    window.recent_menu.actions()[1].trigger()
    wait_shown(qtbot, window, 3)
    assert window.model.index == 3
    assert window.where.text().startswith("image 4 of 4")


MEMMAP_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from normscope.gui.settings import Settings
    from normscope.gui.window import MainWindow
    w = MainWindow(Settings(sys.argv[2]))
    w.show()
    def wait(i):
        t = time.monotonic() + 60
        while not (w.browser.shown == i and w.controller.is_idle()):
            assert time.monotonic() < t
            app.processEvents(); time.sleep(0.002)
    app.processEvents()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    assert w.open_source(sys.argv[1])
    wait(0)
    opened = time.perf_counter() - t0
    for i in (1, 2, 500, 999, 998):
        w.model.set_index(i); wait(i)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"grew_mb": (after - before) / 1024, "opened_s": opened,
                      "where": w.where.text(), "value": int(w.results.frame.original[0, 0, 0])}))
    w.stop_work()
    """
)


def test_a_npy_larger_than_the_memory_budget_is_browsed_memory_mapped(tmp_path) -> None:
    # 1,000 images of 512x512x3 = 786 MB, sparse on disk; the budget below is a fifth of it
    path = tmp_path / "big.npy"
    big = np.lib.format.open_memmap(path, "w+", np.uint8, (1000, 512, 512, 3))
    for i in (0, 1, 2, 500, 998, 999):
        big[i, 0, 0] = i % 256
    del big
    out = subprocess.run(
        [sys.executable, "-c", MEMMAP_CHILD, str(path), str(tmp_path / "settings")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["grew_mb"] < 160, r
    assert r["where"] == "image 999 of 1,000 · big.npy[998] · 512×512 RGB"
    assert r["value"] == 998 % 256


def test_small_npy_still_loads_as_a_batch(qtbot, window, tmp_path) -> None:
    path = tmp_path / "small.npy"
    np.save(path, np.zeros((4, 8, 8), np.uint8))
    assert not dataset_source.opens_lazily(path)
    assert dataset_source.opens_lazily(tmp_path)
    assert window.open_source(path)
    assert window.model.dataset is None and window.model.is_batch


def test_the_whole_dataset_verdict_streams_is_cached_and_jumps(qtbot, window, mixed) -> None:
    assert window.open_source(mixed)
    wait_shown(qtbot, window, 0)
    v = window.dataset_verdict
    # what the user sees: the finished counts, and with them (set together) the Jump button
    qtbot.waitUntil(lambda: "all 4 images checked" in window.batch_label.text(), timeout=60_000)
    t = v.tally
    # keras' row norms flip pairs within each random image; the corrupt file is counted apart
    assert t.done and (t.checked, t.flipping, t.unreadable, t.failed) == (4, 3, 1, 0)
    label = window.batch_label.text()
    assert "all 4 images checked: 3 flip pairs within the image" in label
    assert "1 unreadable" in label
    assert window.jump.isVisible()
    window.jump.click()
    wait_shown(qtbot, window, t.worst)
    assert not window.verdict_progress.isVisible()
    first, options = t, window.model.options
    window.model.set_options(choice="minmax", axis=None)  # linear: nothing flips
    qtbot.waitUntil(
        lambda: "all 4 images checked: 0 flip pairs" in window.batch_label.text(), timeout=60_000
    )
    assert v.tally is not first and v.tally.done
    assert (v.tally.flipping, v.tally.worst) == (0, None)
    assert not window.jump.isVisible()
    window.model.set_options(choice=options.choice, axis=options.axis)
    window._start_dataset_verdict()
    assert v.tally is first and not v.running  # seen before: at once, no walk


def test_the_dataset_verdict_shows_partial_counts_and_cancels(qtbot, window, tmp_path) -> None:
    root = noise_folder(tmp_path / "noise", 400, 64, seed=3)
    assert window.open_source(root)
    v = window.dataset_verdict
    qtbot.waitUntil(lambda: v.running and v.tally.checked > 0, timeout=60_000)
    assert window.verdict_progress.isVisible() and window.verdict_cancel.isVisible()
    qtbot.waitUntil(lambda: "of 400 images checked" in window.batch_label.text(), timeout=10_000)
    window.verdict_cancel.click()
    assert not v.running  # at once; the walk's last counts arrive when it has stopped
    assert v.join(10)
    checked = v.tally.checked
    assert 0 < checked < 400 and not v.tally.done
    qtbot.waitUntil(lambda: not window.verdict_cancel.isVisible())
    assert f"{checked:,} of 400 images checked" in window.batch_label.text()


def test_a_walk_that_fails_says_why_on_the_dataset_line_and_retries(
    qtbot, window, mixed, monkeypatch
) -> None:
    monkeypatch.setattr(dataset_verdict, "walk", windows.failing_walk)
    assert window.open_source(mixed)
    wait_shown(qtbot, window, 0)
    v = window.dataset_verdict
    qtbot.waitUntil(lambda: "failed" in window.batch_label.text(), timeout=60_000)
    label = window.batch_label.text()
    assert "0 of 4 images checked" in label
    assert "the walk failed: OSError: [Errno 28] No space left on device" in label
    assert not v.running and not window.verdict_cancel.isVisible()
    assert not window.verdict_progress.isVisible()  # nothing is coming: no bar that waits
    monkeypatch.setattr(dataset_verdict, "walk", walk)  # the disk is back
    options = window.model.options
    window.model.set_options(choice="minmax", axis=None)
    qtbot.waitUntil(lambda: "all 4 images checked" in window.batch_label.text(), timeout=60_000)
    assert "failed" not in window.batch_label.text()
    window.model.set_options(choice=options.choice, axis=options.axis)  # back: it walks again
    qtbot.waitUntil(lambda: "3 flip pairs" in window.batch_label.text(), timeout=60_000)
    assert "all 4 images checked" in window.batch_label.text()
    assert "failed" not in window.batch_label.text()


def test_stepping_between_images_alike_keeps_the_controls_and_relabels_them(
    qtbot, window, tmp_path
) -> None:
    """The axis buttons, channels and roles are rebuilt only when the image's axes change
    (grey to colour): each rebuild laid out and repainted the whole control panel at every
    step through a folder of mixed sizes. Their words follow each image's size."""
    root = tmp_path / "sizes"
    root.mkdir()
    rng = np.random.default_rng(3)
    for name, shape in (("a", (20, 30, 3)), ("b", (25, 40, 3)), ("c", (12, 12))):
        Image.fromarray(rng.integers(0, 256, shape, np.uint8)).save(root / f"{name}.png")
    assert window.open_source(root)
    wait_shown(qtbot, window, 0)
    controls = window.controls
    buttons, channels = list(controls.axis_buttons), controls.channel.count()
    assert [b.text() for b in buttons[:2]] == ["H  20 rows", "W  30 columns"]
    window.model.set_index(1)
    wait_shown(qtbot, window, 1)
    assert controls.axis_buttons == buttons and controls.channel.count() == channels
    assert [b.text() for b in buttons[:2]] == ["H  25 rows", "W  40 columns"]
    window.model.set_index(2)  # grey: two axes, no channels
    wait_shown(qtbot, window, 2)
    assert len(controls.axis_buttons) == 2 and controls.channel.count() == 0
    assert [b.text() for b in controls.axis_buttons] == ["H  12 rows", "W  12 columns"]
