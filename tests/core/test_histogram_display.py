"""Exact histograms (every pixel counted) and honest display levels."""

from __future__ import annotations

import numpy as np
import pytest

from normscope.core.display import display_levels, quantize, to_uint8, zoom_factor
from normscope.core.histogram import histogram, joint_histogram


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int8", "int32", "bool"])
def test_integer_histograms_have_one_bin_per_level(dtype) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (50, 40)) if dtype == "bool" else rng.integers(-5, 120, (50, 40))
    x = np.abs(x).astype(dtype) if dtype != "int8" else x.astype(dtype)
    h = histogram(x)
    lo = int(x.min())
    levels, counts = np.unique(x.astype(np.int64), return_counts=True)
    np.testing.assert_array_equal(h.counts[levels - lo], counts)
    assert h.counts.sum() == x.size and h.nonfinite == 0
    np.testing.assert_array_equal(np.diff(h.edges), 1.0)


def test_float_histogram_counts_everything_and_sets_nan_apart() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(10_000)
    x[:7] = np.nan
    x[7] = np.inf
    h = histogram(x, bins=64)
    want, edges = np.histogram(x[np.isfinite(x)], bins=64)
    np.testing.assert_array_equal(h.counts, want)
    np.testing.assert_allclose(h.edges, edges)
    assert h.nonfinite == 8 and h.total == x.size


def test_wide_integer_range_falls_back_to_equal_bins() -> None:
    x = np.array([0, 65535, 30000], np.uint16)
    h = histogram(x, bins=16)
    assert len(h.counts) == 16 and h.counts.sum() == 3


def test_empty_and_constant() -> None:
    assert histogram(np.zeros(0)).counts.sum() == 0
    h = histogram(np.full(5, 3.5))
    assert h.counts.tolist() == [5] and h.edges.tolist() == [3.0, 4.0]


def test_joint_histogram_draws_a_curve_for_a_monotone_map() -> None:
    x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    j = joint_histogram(x, x / 255.0, bins=256)
    assert j.counts.sum() == 256
    assert (np.count_nonzero(j.counts, axis=1) == 1).all()  # one after-bin per before-level
    cloud = joint_histogram(x, np.random.default_rng(0).random(x.shape), bins=16)
    assert (np.count_nonzero(cloud.counts, axis=1) > 1).any()
    with pytest.raises(ValueError, match="shape"):
        joint_histogram(x, x[:2])


def test_display_levels_and_mapping() -> None:
    assert display_levels(np.zeros(3, np.uint16), mode="dtype") == (0.0, 65535.0)
    assert display_levels(np.array([-3, 9], np.int8), mode="data") == (-3.0, 9.0)
    assert display_levels(np.array([True, False]), mode="dtype") == (0.0, 1.0)
    assert display_levels(np.array([np.nan, np.nan])) == (0.0, 1.0)
    assert display_levels(np.array([0.2, 0.7], np.float32), mode="dtype") == pytest.approx(
        (0.2, 0.7)
    )
    with pytest.raises(ValueError, match="mode"):
        display_levels(np.zeros(2), mode="auto")
    assert to_uint8(np.array([[-1.0, 0.5]]), (0.0, 1.0)).tolist() == [[0, 128]]
    assert zoom_factor((28, 28)) == 12 and zoom_factor((2048, 100)) == 1


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "float64", "bool"])
def test_compiled_and_numpy_histograms_agree(dtype, monkeypatch) -> None:
    from normscope.core import engine

    rng = np.random.default_rng(1)
    x = (
        rng.normal(50, 30, (64, 48))
        if dtype.startswith("float")
        else rng.integers(-200, 300, (64, 48))
    )
    x = x.astype(dtype)
    y = rng.random(x.shape) ** 3
    if dtype.startswith("float"):
        x[::7, ::5] = np.nan
        x[1, 1], x[2, 2] = np.inf, -np.inf
    y[3] = np.nan
    runs = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(engine, "kernels", lambda: None)
        hists = [histogram(x), histogram(x, bins=17), histogram(x, range=(10, 60))]
        runs.append([*hists, histogram(y, bins=9), joint_histogram(x, y, bins=11)])
    for a, b in zip(*runs, strict=True):
        if hasattr(a, "nonfinite"):
            assert a.nonfinite == b.nonfinite
            np.testing.assert_array_equal(a.edges, b.edges)
        np.testing.assert_array_equal(a.counts, b.counts)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("steps", [255.0, 256])
def test_quantized_bytes_are_the_same_compiled_and_in_numpy(dtype, steps, monkeypatch) -> None:
    from normscope.core import engine

    rng = np.random.default_rng(4)
    x = (rng.normal(0.3, 0.6, (301, 67, 3)) * 1.0).astype(dtype)  # beyond both levels too
    x[0, 0, :3] = -np.inf, np.inf, 0.0
    levels = (-0.25, 1.125)
    fast = quantize(x, levels, steps)
    monkeypatch.setattr(engine, "kernels", lambda: None)
    slow = quantize(x, levels, steps)
    assert fast is not None and fast.dtype == np.uint8 and fast.shape == x.shape
    np.testing.assert_array_equal(fast, slow)
    assert fast.reshape(-1)[:3].tolist() == [0, 255, int((0.25 * steps) / 1.375)]
    x[200, 3, 1] = np.nan
    assert quantize(x, levels, steps) is None
    monkeypatch.undo()
    assert quantize(x, levels, steps) is None
    assert quantize(np.arange(6, dtype=np.int32), levels, 255) is None
