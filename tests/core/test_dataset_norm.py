"""Normalizations over the batch axis N of a dataset not in memory (core.dataset_norm).

The key property: image i normalized alone with the dataset's statistics equals image i of the
in-memory batch normalization, bit for bit where the reduction order allows, else within a
stated tolerance.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import imageio.v3 as iio
import numpy as np
import pytest

from normscope.core.batchstats import BatchStats
from normscope.core.dataset import ArrayDataset, FolderDataset, NpyDataset
from normscope.core.dataset_norm import (
    BatchStatsError,
    Cancelled,
    dataset_batch_stats,
    image_shapes,
    supported,
)
from normscope.core.methods import NormalizationError
from normscope.core.normalize import Normalization

RNG = np.random.default_rng(16)
AXES = {"N": 0, "NC": (0, 3), "NH": (0, 1), "NHW": (0, 1, 2), "NHWC": None}


def batch_result(x: np.ndarray, method: str, over: str, **options) -> np.ndarray:
    return Normalization(method=method, axis=AXES[over], **options).apply(x, roles="NHWC")


def one_by_one(ds, x: np.ndarray, method: str, over: str, **options) -> np.ndarray:
    b = dataset_batch_stats(ds, over, method=method)
    n = Normalization(method=method, axis=AXES[over], batch=b, **options)
    return np.stack([n.apply(x[i], roles="HWC") for i in range(len(x))])


@pytest.fixture(scope="module")
def npy(tmp_path_factory) -> tuple[np.ndarray, NpyDataset]:
    x = RNG.integers(0, 256, (40, 6, 5, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("npy") / "x.npy"
    np.save(path, x)
    return x, NpyDataset(path)


@pytest.mark.parametrize("over", ["N", "NC", "NH", "NHWC"])
@pytest.mark.parametrize("method", ["zscore", "minmax", "lp"])
def test_memmapped_npy_gives_the_batch_normalizations_bits(npy, method, over) -> None:
    """Bit for bit, except z-score over N and H: numpy sums the deviations over two axes in
    its own order (pairwise within a row), the stream image after image: rounding apart."""
    x, ds = npy
    got, want = one_by_one(ds, x, method, over), batch_result(x, method, over)
    if (method, over) == ("zscore", "NH"):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)
        assert not np.array_equal(got, want)  # if this starts to pass, tighten the test
    else:
        np.testing.assert_array_equal(got, want)


def test_keras_over_n_and_percentile_orders_bit_for_bit(npy) -> None:
    x, ds = npy
    assert np.array_equal(one_by_one(ds, x, "keras", "N"), batch_result(x, "keras", "N"))
    for order in (1, math.inf):
        assert np.array_equal(
            one_by_one(ds, x, "lp", "N", order=order), batch_result(x, "lp", "N", order=order)
        )


def test_sequential_float64_sums_over_n_are_numpys_sums_over_axis_0() -> None:
    """The claim the streaming pass rests on, checked on values whose sum order matters."""
    x = RNG.standard_normal((500, 4, 3)) * 10.0 ** RNG.integers(-8, 8, (500, 4, 3))
    acc = x[0].copy()
    for image in x[1:]:
        acc += image
    assert np.array_equal(acc, np.add.reduce(x, axis=0))
    exact = np.array([[math.fsum(x[:, i, j]) for j in range(3)] for i in range(4)])
    assert not np.array_equal(acc, exact)  # the order matters here: it is numpy's that we get


def test_zscore_over_nhw_matches_numpy_within_its_rounding(npy) -> None:
    """Over N, H, W the mean and std are exact (correctly rounded from level counts), numpy's
    std sums squared deviations pairwise: the two differ by rounding only."""
    x, ds = npy
    got, want = one_by_one(ds, x, "zscore", "NHW"), batch_result(x, "zscore", "NHW")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    b = dataset_batch_stats(ds, "NHW")
    v = x.astype(np.float64)
    assert np.array_equal(b.mean.ravel(), v.mean(axis=(0, 1, 2)))  # integer sums: exact
    np.testing.assert_allclose(b.std.ravel(), v.std(axis=(0, 1, 2)), rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_arrays_within_a_stated_tolerance(dtype) -> None:
    x = (RNG.random((30, 5, 4, 3)) * 255).astype(dtype)
    ds = ArrayDataset(x, roles="NHWC")
    for method, over in (("zscore", "N"), ("minmax", "NHW"), ("zscore", "NHW")):
        np.testing.assert_allclose(
            one_by_one(ds, x, method, over),
            batch_result(x, method, over),
            rtol=0,
            atol=1e-9 if dtype == np.float64 else 1e-5,
        )
    assert one_by_one(ds, x, "zscore", "N").dtype == dtype  # as the method's own output


def test_statistics_say_which_and_from_how_many_images(npy) -> None:
    x, ds = npy
    b = dataset_batch_stats(ds, "NHW")
    words = b.words("zscore")
    assert words.startswith("z-score over N,H,W: the dataset's per-channel mean (")
    assert "on the unit scale (÷ 255), from 40 images" in words
    assert f"{x[..., 0].mean() / 255:.4g}" in words
    assert dataset_batch_stats(ds, "N").words("zscore") == (
        "z-score over N: the dataset's mean and std per pixel position (5×6) and channel, "
        "from 40 images"
    )
    n = Normalization(method="zscore", axis=(0, 1, 2), batch=b)
    assert n.describe((6, 5, 3), "HWC") == words
    assert n.code("HWC").endswith("axis=(0, 1, 2), keepdims=True)  # x: the whole dataset")


def folder(root, sizes_and_channels) -> FolderDataset:
    for i, (h, w, c) in enumerate(sizes_and_channels):
        (root / f"k{i % 2}").mkdir(exist_ok=True)
        shape = (h, w) if c == 1 else (h, w, c)
        iio.imwrite(root / f"k{i % 2}" / f"{i:03d}.png", RNG.integers(0, 256, shape, np.uint8))
    return FolderDataset(root)


def test_mixed_size_folder_refuses_a_statistic_per_pixel_with_one_reason(tmp_path) -> None:
    ds = folder(tmp_path, [(8, 6, 3), (5, 7, 1), (8, 6, 3), (4, 4, 3)])
    assert image_shapes(ds) == {(8, 6, 3): 2, (5, 7, 1): 1, (4, 4, 3): 1}
    for over in ("N", "NC", "NH"):
        with pytest.raises(BatchStatsError) as exc:
            dataset_batch_stats(ds, over)
        assert str(exc.value) == (
            "over N only (or N with C) needs images of one size; this folder has 3 sizes"
        )


def test_mixed_folder_over_nhw_is_the_converted_datasets_statistics(tmp_path) -> None:
    """Grey images count as RGB and alpha is dropped (torchvision's loader); an RGB image is
    normalized with the per-channel statistics, a grey one with the whole dataset's only."""
    ds = folder(tmp_path, [(8, 6, 3), (5, 7, 1), (4, 4, 4)])
    read = {ds.read(i).shape[2:]: ds.read(i) for i in range(3)}
    rgb, grey, rgba = read[(3,)], read[()], read[(4,)]
    pixels = np.concatenate(
        [
            rgb.reshape(-1, 3),
            np.repeat(grey.reshape(-1, 1), 3, axis=1),
            rgba[..., :3].reshape(-1, 3),
        ]
    ).astype(np.float64)
    b = dataset_batch_stats(ds, "NHW")
    assert (b.roles, b.over, b.images) == ("NHWC", "NHW", 3)
    np.testing.assert_allclose(b.mean.ravel(), pixels.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(b.std.ravel(), pixels.std(axis=0), rtol=1e-14)
    n = Normalization(method="zscore", axis=(0, 1, 2), batch=b)
    np.testing.assert_allclose(n.apply(rgb, roles="HWC"), (rgb - b.mean) / b.std, rtol=1e-14)
    with pytest.raises(NormalizationError, match="this image is grey but the dataset's"):
        n.apply(grey, roles="HW")
    with pytest.raises(NormalizationError, match="this image is grey but the dataset's"):
        replace(b, over="NHWC").apply(grey, "zscore", roles="HW")
    with pytest.raises(NormalizationError, match=r"for 3 channels \(torchvision's"):
        n.apply(rgba, roles="HWC")
    whole = dataset_batch_stats(ds, "NHWC")
    got = Normalization(method="minmax", axis=None, batch=whole).apply(grey, roles="HW")
    lo, hi = pixels.min(), pixels.max()
    np.testing.assert_array_equal(got, (grey - lo) / (hi - lo))


def test_the_asked_axes_must_be_the_statistics_axes(npy) -> None:
    x, ds = npy
    b = dataset_batch_stats(ds, "N")
    with pytest.raises(NormalizationError, match="statistics are over N; this image is asked"):
        Normalization(method="zscore", axis=(0, 1, 2), batch=b).apply(x[0], roles="HWC")
    with pytest.raises(NormalizationError, match="cannot take a dataset's statistics"):
        Normalization(method="zscore", preset="sklearn.StandardScaler", batch=b)


def test_which_methods_go_over_n() -> None:
    assert supported("zscore", "NHWC") is None
    assert supported("minmax", "N") is None
    assert "needs every image in memory" in supported("percentile", "NHW")
    assert "needs every image in memory" in supported("equalize", "N")
    assert "np.linalg.norm" in supported("keras", "NHW")
    assert "matrix norm" in supported("keras", "NC")
    with pytest.raises(BatchStatsError, match="equalize over N needs every image"):
        dataset_batch_stats(ArrayDataset(np.zeros((2, 3, 3))), "N", method="equalize")


def test_progress_and_cancel(npy) -> None:
    x, ds = npy
    seen = []
    dataset_batch_stats(ds, "N", progress=lambda p: seen.append(p.images_done))
    assert seen[-1] == 2 * len(x) and seen == sorted(seen)
    cancel = threading.Event()
    cancel.set()
    for over in ("N", "NHW"):
        with pytest.raises(Cancelled):
            dataset_batch_stats(ds, over, cancel=cancel)


def test_batch_stats_compare_by_identity_and_print_short(npy) -> None:
    _, ds = npy
    a, b = dataset_batch_stats(ds, "N"), dataset_batch_stats(ds, "N")
    assert a != b and a == a
    assert Normalization(method="zscore", axis=0, batch=a) != Normalization(
        method="zscore", axis=0, batch=b
    )
    assert "images=40" in repr(a) and "[" not in repr(a)
    assert isinstance(a, BatchStats)
