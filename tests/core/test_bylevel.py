"""The counts from buckets of before levels equal the 64-bit-key engine's and numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from normscope.core import _bylevel, _rank_compiled, _rank_counts
from normscope.core.normalize import Normalization


def _cases():
    rng = np.random.default_rng(1)
    x8 = rng.integers(0, 256, (256, 320), dtype=np.uint8)
    y = Normalization(method="keras", axis=1).apply(x8, roles="HW")
    nan = y.copy()
    nan[rng.random(y.shape) < 0.01] = np.nan
    signed = rng.integers(-300, 300, (300, 256), dtype=np.int16)
    yield "keras float64", x8, y
    yield "float32 with NaN", x8, nan.astype(np.float32)
    yield "signed before, int after", signed, (signed // 7).astype(np.int32)
    yield "bool before", x8 > 128, rng.normal(size=x8.shape)
    yield "signed zeros and ties", x8, np.where(x8 < 100, -0.0, 0.0) + (x8 // 50)


@pytest.mark.parametrize("case", list(_cases()), ids=lambda c: c[0])
def test_the_same_counts_as_the_other_engines(case):
    _, x, y = case
    assert x.size >= _bylevel.MIN_PIXELS
    b, a = x.reshape(1, -1), y.reshape(1, -1)
    fast = _rank_compiled._counts_by_level(b, a)
    assert fast is not None
    for engine in ("compiled", "numpy"):
        ref = _rank_counts._counts(b, a, True, engine)  # with maps: never through the buckets
        for name in ("valid", "discordant", "ties_x", "ties_y", "kept"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(ref, name), name)
        for name in ("sxy", "sxx", "syy"):
            np.testing.assert_allclose(getattr(fast, name), getattr(ref, name), rtol=1e-12)
        assert fast.nan_pixels == ref.nan_pixels


def test_small_groups_and_wide_after_keep_the_key_sort():
    x = np.zeros((1, 100), np.uint8)
    assert _rank_compiled._counts_by_level(x, x.astype(float)) is None  # too small a group
    big = np.zeros((1, _bylevel.MIN_PIXELS), np.uint8)
    assert (
        _rank_compiled._counts_by_level(big, big.astype(np.int64)) is None
    )  # not exact in float64


def test_a_level_too_wide_for_its_table_keeps_the_key_sort(monkeypatch):
    x = np.zeros((1, _bylevel.MIN_PIXELS), np.uint8)
    monkeypatch.setattr(_bylevel, "_WIDEST", 1000)
    assert _rank_compiled._counts_by_level(x, x.astype(float)) is None


def test_bools_of_any_byte_and_float16_after():
    rng = np.random.default_rng(2)
    raw = rng.integers(0, 256, (1, _bylevel.MIN_PIXELS), dtype=np.uint8)
    b = raw.view(bool)  # bytes other than 0 and 1: all True
    a = rng.normal(size=raw.shape).astype(np.float16)
    fast = _rank_compiled._counts_by_level(b, a)
    ref = _rank_counts._counts(raw != 0, a.astype(np.float32), False, "numpy")
    for name in ("valid", "discordant", "ties_x", "ties_y", "kept"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(ref, name), name)
