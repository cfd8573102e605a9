"""z-score's fewer passes give the bits of numpy's own mean and std."""

from __future__ import annotations

import numpy as np
import pytest

from normscope.core.normalize import normalize


def _numpy_zscore(x, axis):
    v = x.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean = np.mean(v, axis=axis, keepdims=True)
        std = np.std(v, axis=axis, keepdims=True)
        return np.where(std == 0, 0.0, (v - mean) / np.where(std == 0, 1.0, std))


@pytest.mark.parametrize("axis", [None, 0, 1, 2, (0, 1), (1, 2), (0, 2)])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "float64"])
def test_the_same_bits_as_np_mean_and_np_std(axis, dtype):
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(37, 64, 3)) * 50 + 100).astype(dtype)
    if dtype == "float64":
        x[3, 5, 1], x[7, :, 2], x[9, 9, 0] = np.nan, 4.0, np.inf  # NaN, a constant row, inf
    want = _numpy_zscore(x, axis).astype(np.float32 if dtype == "float32" else np.float64)
    np.testing.assert_array_equal(normalize(x, "zscore", axis=axis, roles="HWC"), want)


@pytest.mark.parametrize(
    ("shape", "roles"),
    [((1, 20000), "NW"), ((3, 1030, 2), "HWC"), ((2, 129, 70), "HWC"), ((300, 5), "HW")],
)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
def test_the_same_bits_in_long_groups_and_groups_side_by_side(shape, roles, dtype):
    """Groups long enough for numpy's pairwise blocks (128 values, halved above), split across
    threads along the rows or along the groups side by side: still numpy's bits."""
    rng = np.random.default_rng(11)
    x = (rng.normal(size=shape) * 900 + 3000).clip(0, 60000).astype(dtype)
    if dtype == "float64":
        x.flat[7], x.flat[-3] = np.nan, -np.inf
    for axis in [None, *range(len(shape)), tuple(range(1, len(shape)))]:
        want = _numpy_zscore(x, axis).astype(np.float32 if dtype == "float32" else np.float64)
        got = normalize(x, "zscore", axis=axis, roles=roles)
        np.testing.assert_array_equal(got, want, err_msg=f"axis {axis}")


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
@pytest.mark.parametrize("axis", [(0, 1), None, 2, (1, 2)])
def test_the_same_bits_per_channel_and_over_the_whole_image_on_every_thread(axis, dtype):
    """The window's slow toggles: one group per channel (summed one value after another) and
    one group of the whole image (numpy's pairwise tree, its halves on two threads), their
    elementwise pass cut along the values; numpy's bits, with the kernels and without."""
    from normscope.core import engine

    rng = np.random.default_rng(5)
    x = (rng.normal(size=(301, 467, 3)) * 60 + 120).clip(0, 255).astype(dtype)
    if dtype == "float64":
        x[3, 5, 1], x[200, 9, 0] = np.nan, np.inf
    want = _numpy_zscore(x, axis).astype(np.float32 if dtype == "float32" else np.float64)
    for threads in (1, 2, 4):
        with engine.limit_threads(threads):
            got = normalize(x, "zscore", axis=axis, roles="HWC")
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want, err_msg=f"{threads} threads")
        assert dtype == "float64" or np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "bool"])
@pytest.mark.parametrize("axis", [(0, 1), None, 0])
def test_minmax_per_channel_and_whole_image_on_every_thread(axis, dtype, monkeypatch):
    """min-max per channel and over the whole image, on 1 and 2 threads: numpy's bits."""
    from normscope.core import engine

    rng = np.random.default_rng(6)
    x = (rng.normal(size=(301, 467, 3)) * 60 + 120).clip(0, 255).astype(dtype)
    with monkeypatch.context() as m:
        m.setattr(engine, "kernels", lambda: None)
        want = normalize(x, "minmax", axis=axis, roles="HWC", feature_range=(-1.0, 3.5))
    for threads in (1, 2, 4):
        with engine.limit_threads(threads):
            got = normalize(x, "minmax", axis=axis, roles="HWC", feature_range=(-1.0, 3.5))
        np.testing.assert_array_equal(got, want, err_msg=f"{threads} threads")
