"""Normalizations over a browsed dataset's N axis, in the real window: the N button, the
statistics pass (progress, Cancel, cache), the numbers shown and the refusals on mixed sizes."""

from __future__ import annotations

import html
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QPushButton
from windows import noise_folder, wait_shown

from normscope.core import dataset_norm
from normscope.core.dataset import FolderDataset
from normscope.core.dataset_norm import dataset_batch_stats
from normscope.core.normalize import Normalization
from normscope.core.ranks import rank_diff
from normscope.gui import dataset_source
from normscope.gui.window import MainWindow


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """cat/: two RGB PNGs of 30x40 and a grey one of 20x25; dog/: RGB 16x16 and 30x40."""
    rng = np.random.default_rng(5)
    root = tmp_path / "mixed"
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()
    for name, shape in (
        ("cat/a.png", (30, 40, 3)),
        ("cat/b.png", (30, 40, 3)),
        ("cat/c.png", (20, 25)),
        ("dog/d.png", (16, 16, 3)),
        ("dog/e.png", (30, 40, 3)),
    ):
        Image.fromarray(rng.integers(0, 256, shape, np.uint8)).save(root / name)
    return root


@pytest.fixture
def npy(tmp_path: Path, monkeypatch) -> tuple[Path, np.ndarray]:
    """A same-size batch of 300 RGB 64x48 images, browsed memory-mapped (as a large one is):
    a streamed pass reads 227 of them at a time (:data:`core.dataset_norm.CHUNK_BYTES`)."""
    x = np.random.default_rng(6).integers(0, 256, (300, 64, 48, 3), np.uint8)
    path = tmp_path / "batch.npy"
    np.save(path, x)
    monkeypatch.setattr(dataset_source, "LAZY_NPY_BYTES", 0)
    return path, x


@pytest.fixture
def window(empty_window: MainWindow) -> MainWindow:
    return empty_window


def wait_stats(qtbot, w: MainWindow) -> None:
    qtbot.waitUntil(
        lambda: not w.dataset_norm.running and w.model.batch is not None, timeout=60_000
    )
    assert w.controller.join(timeout=20)


def test_n_button_on_a_mixed_folder_uses_the_datasets_per_channel_statistics(
    qtbot, window, mixed
) -> None:
    assert window.open_source(mixed)
    wait_shown(qtbot, window, 0)
    c = window.controls
    assert c.n_button.isVisible() and c.n_button.text() == "N  5 images"
    qtbot.waitUntil(lambda: window.model.mixed_sizes is not None, timeout=20_000)
    assert "this folder has 3 sizes" in c.n_button.toolTip()
    assert "over N alone or N with C (a statistic per pixel position) is not offered" in (
        c.n_button.toolTip()
    )
    window.model.set_options(choice="zscore", axis=(0, 1))  # H, W of the RGB image on show
    passes = window.dataset_norm.passes
    c.n_button.click()
    assert window.model.options.over_n
    wait_stats(qtbot, window)
    assert window.dataset_norm.passes == passes + 1
    want = dataset_batch_stats(FolderDataset(mixed), "NHW")
    b = window.model.batch
    np.testing.assert_array_equal(b.mean, want.mean)
    np.testing.assert_array_equal(b.std, want.std)
    words = (
        "z-score over N,H,W: the dataset's per-channel mean ("
        + ", ".join(f"{v / 255:.4g}" for v in want.mean.ravel())
        + ") and std ("
        + ", ".join(f"{v / 255:.4g}" for v in want.std.ravel())
        + ") on the unit scale (÷ 255), from 5 images"
    )
    assert c.description.text().startswith(words)
    assert c.description.text().endswith("(over N alone is not offered: this folder has 3 sizes)")
    assert words in window.batch_label.toolTip()
    assert "<b>Statistics</b>: z-score over N,H,W: the dataset's per-channel mean and std, " in (
        window.batch_label.text()
    )
    image = window.results.frame.original
    np.testing.assert_array_equal(
        window.results.frame.normalized,
        Normalization(method="zscore", axis=(0, 1, 2), batch=want).apply(image, roles="HWC"),
    )
    # the per-pixel choices are refused: H and W stay on, and say why
    h, w = c.axis_buttons[0], c.axis_buttons[1]
    assert h.isChecked() and w.isChecked() and not h.isEnabled() and not w.isEnabled()
    assert "this folder has 3 sizes" in h.toolTip()
    # stepping never waits: the next RGB image uses the same statistics at once
    window.model.set_index(1)
    wait_shown(qtbot, window, 1)
    assert window.dataset_norm.passes == passes + 1
    np.testing.assert_allclose(
        window.results.frame.normalized,
        (window.results.frame.original - want.mean) / want.std,
        rtol=1e-15,
    )
    # min-max over the same axes shares the pass; back to z-score: cached, no new pass
    window.model.set_options(choice="minmax")
    assert window.controller.join(timeout=20)
    assert "min-max over N,H,W" in c.description.text()
    window.model.set_options(choice="zscore")
    assert window.controller.join(timeout=20)
    assert window.dataset_norm.passes == passes + 1 and not window.dataset_norm.running
    # a preset has its own axes: N is off (and cannot be pressed), each image alone
    window.model.set_options(choice="preset:torchvision.Normalize")
    assert window.controller.join(timeout=20)
    assert not c.n_button.isChecked() and not c.n_button.isEnabled()
    assert window.results.frame is not None and window.model.normalization.batch is None
    window.model.set_options(choice="percentile")  # over N it needs every image: said so
    assert window.controller.join(timeout=20)
    assert window.results.frame is None
    assert window.normalized.caption == (
        "percentile over N needs every image in memory (z-score, min-max, lp and Keras do not)"
    )


def test_mixed_folder_turning_n_on_keeps_h_and_w(qtbot, window, mixed) -> None:
    assert window.open_source(mixed)
    wait_shown(qtbot, window, 0)
    qtbot.waitUntil(lambda: window.model.mixed_sizes is not None, timeout=20_000)
    window.model.set_options(choice="minmax", axis=(2,))  # over C only
    window.controls.n_button.click()
    assert window.model.options.axis is None  # N, H, W, C: the whole dataset
    wait_stats(qtbot, window)
    assert window.model.batch.over == "NHWC"
    assert "min-max over N,H,W,C" in window.controls.description.text()


def test_the_dataset_verdict_uses_the_same_statistics(qtbot, window, mixed) -> None:
    assert window.open_source(mixed)
    wait_shown(qtbot, window, 0)
    window.model.set_options(choice="zscore", axis=(0, 1))
    window.controls.n_button.click()
    wait_stats(qtbot, window)
    v = window.dataset_verdict
    norm = window.model.normalization
    assert norm.batch is window.model.batch
    key = (id(window.model.dataset), repr(norm))
    qtbot.waitUntil(lambda: window._verdict_key == key and v.tally.done, timeout=60_000)
    # the same statistics, image by image: a flip count each, the grey image refused
    ds, flipping = FolderDataset(mixed), 0
    for i in range(len(ds)):
        a = ds.read(i)
        if a.ndim == 3:
            after = norm.apply(a, roles="HWC")
            d = rank_diff(a[np.newaxis], after[np.newaxis], scope="image", roles="NHWC")
            flipping += d.pairs.discordant > 0
    assert (v.tally.checked, v.tally.flipping, v.tally.failed) == (5, flipping, 1)
    assert "this image is grey but the dataset's statistics are per channel" in v.tally.reason
    assert "<b>Statistics</b>: z-score over N,H,W" in window.batch_label.text()


def test_npy_over_n_alone_bit_for_bit_with_progress(qtbot, window, npy) -> None:
    path, x = npy
    assert 1 < dataset_norm.CHUNK_BYTES // (x[0].size * 8) < len(x)  # a pass in steps
    assert window.open_source(path)
    wait_shown(qtbot, window, 0)
    c = window.controls
    assert c.n_button.text() == "N  300 images"
    window.model.set_options(choice="zscore", axis=(0, 1))
    c.n_button.click()  # over N, H, W…
    for b in c.axis_buttons:  # …or N alone: a mean and std per pixel position and channel
        if b.isChecked():
            b.click()
    assert window.model.options.axis == ()
    wait_stats(qtbot, window)
    assert window.model.batch.over == "N"
    window.dataset_norm._cache.clear()  # a pass watched from its start: min-max's
    seen: list[tuple[int, str, str]] = []
    window.dataset_norm.progressed.connect(
        lambda done, _n: seen.append((done, window.normalized.caption, window.verdict.text()))
    )
    window.model.set_options(choice="minmax")
    wait_stats(qtbot, window)
    assert [s[0] for s in seen] == sorted(s[0] for s in seen) and seen[-1][0] == 300
    done, caption, verdict = next(s for s in seen if 0 < s[0] < 300)
    assert caption == (
        "computing the dataset's minimum and maximum per pixel position over N… "
        f"{done:,} of 300 images"
    )
    assert "Over the dataset's N axis" in verdict and "Cannot" not in verdict
    want = Normalization(method="minmax", axis=0).apply(x, roles="NHWC")
    for i in (0, 7):
        window.model.set_index(i)
        wait_shown(qtbot, window, i)
        np.testing.assert_array_equal(window.results.frame.normalized, want[i])
    passes = window.dataset_norm.passes
    window.model.set_options(choice="zscore")  # the same streamed pass holds mean and std
    assert window.controller.join(timeout=20)
    assert window.dataset_norm.passes == passes and not window.dataset_norm.running
    np.testing.assert_array_equal(
        window.results.frame.normalized,
        Normalization(method="zscore", axis=0).apply(x, roles="NHWC")[7],
    )
    assert "z-score over N: the dataset's mean and std per pixel position (48×64) and channel" in (
        c.description.text()
    )
    assert c.code.text().endswith("axis=0, keepdims=True)  # x: the whole dataset")


def test_the_pass_runs_in_a_worker_process_and_gives_way_to_another(
    qtbot, window, tmp_path
) -> None:
    """The pass holds no interpreter lock of this process (on a thread it blocked the event
    loop ~105 ms at a time); another choice stops it and starts its own; both are cached."""
    root = noise_folder(tmp_path / "same", 200, 24, seed=8)
    assert window.open_source(root)
    wait_shown(qtbot, window, 0)
    norm, read = window.dataset_norm, []
    norm.progressed.connect(lambda done, _n: read.append(done))
    window.model.set_options(choice="minmax", axis=())
    window.controls.n_button.click()  # over N alone: a streamed pass
    qtbot.waitUntil(lambda: norm.running and bool(read), timeout=60_000)
    assert norm.worker.alive and norm.worker.pid != os.getpid()
    window.model.set_options(choice="zscore", axis=(0, 1))  # over N, H, W: another pass
    wait_stats(qtbot, window)
    assert window.model.batch.over == "NHWC" and norm.passes == 2  # grey: N, H, W is all
    window.model.set_options(choice="minmax", axis=())  # the superseded pass: run again…
    wait_stats(qtbot, window)
    assert window.model.batch.over == "N"
    passes = norm.passes
    window.model.set_options(choice="zscore", axis=(0, 1))  # …and each is cached
    window.model.set_options(choice="minmax", axis=())
    assert window.controller.join(timeout=20)
    assert norm.passes == passes and not norm.running


def test_cancel_leaves_the_window_usable(qtbot, window, tmp_path) -> None:
    root = noise_folder(tmp_path / "same", 300, 24, seed=7)
    assert window.open_source(root)
    wait_shown(qtbot, window, 0)
    window.model.set_options(choice="minmax", axis=())
    stopped: list[int] = []

    def cancel_midway(done: int, _n: int) -> None:
        if done >= 32 and not stopped:
            stopped.append(done)
            window.norm_cancel.click()

    window.dataset_norm.progressed.connect(cancel_midway)
    window.controls.n_button.click()
    qtbot.waitUntil(lambda: bool(stopped), timeout=60_000)
    assert not window.dataset_norm.running and window.model.batch is None
    qtbot.waitUntil(lambda: not window.norm_cancel.isVisible(), timeout=5_000)
    assert window.normalized.caption.startswith("no dataset statistics: cancelled after ")
    assert window.results.frame is None  # nothing false on show
    window.model.set_index(1)  # stepping still works, and starts no pass
    wait_shown(qtbot, window, 1)
    assert not window.dataset_norm.running
    window.controls.n_button.click()  # N off: the image normalized on its own again
    assert window.controller.join(timeout=20)
    assert window.results.frame is not None and window.results.frame.normalized.shape == (24, 24)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """grey/: a grey 256x256 PNG; photo/: RGB photos of two sizes and a corrupt PNG."""
    rng = np.random.default_rng(9)
    root = tmp_path / "shots"
    (root / "grey").mkdir(parents=True)
    (root / "photo").mkdir()
    Image.fromarray(rng.integers(0, 256, (256, 256), np.uint8)).save(root / "grey/g.png")
    Image.fromarray(rng.integers(0, 256, (200, 300, 3), np.uint8)).save(root / "photo/p0.png")
    Image.fromarray(rng.integers(0, 256, (150, 100, 3), np.uint8)).save(root / "photo/p1.png")
    (root / "photo/x.png").write_bytes(b"not a png at all")
    return root


def test_a_grey_image_of_a_colour_folder_keeps_the_dataset_verdict_and_shows_its_own_axes(
    qtbot, window, shots
) -> None:
    """Seen on a screenshot: with z-score over N,H,W on, the grey image of the folder showed no
    whole-dataset verdict line, and a stale "C 3 channels" button beside its H and W."""
    assert window.open_source(shots)
    wait_shown(qtbot, window, 0)
    window.model.set_index(1)  # an RGB photo
    wait_shown(qtbot, window, 1)
    window.model.set_options(choice="zscore", axis=(0, 1))
    window.controls.n_button.click()
    wait_stats(qtbot, window)
    v = window.dataset_verdict
    qtbot.waitUntil(lambda: v.tally is not None and v.tally.done, timeout=60_000)
    assert "<b>Whole dataset</b>" in window.batch_label.text()
    window.model.set_index(0)  # the grey one
    wait_shown(qtbot, window, 0)
    qtbot.wait(400)  # past the verdict's timer: a burst of changes starts one walk
    assert v.tally is not None and v.tally.done
    assert "<b>Whole dataset</b>" in window.batch_label.text()
    assert "<b>Statistics</b>: z-score over N,H,W: the dataset's per-channel" in (
        window.batch_label.text()
    )
    assert "this image is grey but the dataset's statistics are per channel" in html.unescape(
        window.verdict.text()
    )
    # the original panel shows the grey image itself, not the photo before it
    np.testing.assert_array_equal(window.original.picture.data, window.model.loaded.array)
    assert [b.text() for b in window.controls.axis_buttons] == ["H  256 rows", "W  256 columns"]
    window.model.set_index(1)  # and back: the photo's H, W, C…
    wait_shown(qtbot, window, 1)
    c = window.controls
    c.model.set_loaded(replace(c.model.loaded, array=np.zeros((8, 9), np.uint8), roles="HW"))
    # …gone at once, not when Qt deletes them later (a screenshot showed "C  3 channels")
    shown = [b.text() for b in c.findChildren(QPushButton) if b.isVisibleTo(c)]
    assert not any("channels" in t for t in shown), shown
