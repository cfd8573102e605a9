"""The full-result cache reuses a result's memory only when nothing else holds the result."""

from __future__ import annotations

import numpy as np
import pytest

from normscope.core import engine
from normscope.core.normalize import Normalization
from normscope.gui.pipeline import FullResultCache

ROWS, COLUMNS = Normalization(method="zscore", axis=0), Normalization(method="zscore", axis=1)


def _address(a: np.ndarray) -> int:
    return int(a.__array_interface__["data"][0])


@pytest.fixture
def image() -> np.ndarray:
    return (np.random.default_rng(3).random((64, 48, 3)) * 255).astype(np.uint8)


def test_a_result_still_held_is_never_written_over(image) -> None:
    cache = FullResultCache()
    first = cache.get(image, "HWC", ROWS)
    shown = first[..., 1]  # a view, as a panel keeps of the image on show
    kept = shown.copy()
    del first
    second = cache.get(image, "HWC", COLUMNS)
    third = cache.get(image, "HWC", ROWS)  # the first result's memory is still held
    fourth = cache.get(image, "HWC", COLUMNS)  # and so is the second's, by `second`
    for result in (second, third, fourth):
        assert not np.shares_memory(result, shown)
    assert not np.shares_memory(fourth, second)
    np.testing.assert_array_equal(shown, kept, strict=True)
    np.testing.assert_array_equal(third, ROWS.apply(image, roles="HWC"), strict=True)
    np.testing.assert_array_equal(fourth, COLUMNS.apply(image, roles="HWC"), strict=True)


def test_a_released_result_is_reused_with_the_bits_of_a_fresh_call(image) -> None:
    if engine.kernels() is None:
        pytest.skip("only the compiled kernels write into a spare, and numba is not installed")
    cache = FullResultCache()
    first = cache.get(image, "HWC", ROWS)
    where = _address(first)
    del first  # the window let go of the first image
    second = cache.get(image, "HWC", COLUMNS)  # made while the cache still held the first
    assert _address(second) != where
    third = cache.get(image, "HWC", ROWS)  # the first's memory, free: reused
    assert _address(third) == where
    np.testing.assert_array_equal(third, ROWS.apply(image, roles="HWC"), strict=True)
    np.testing.assert_array_equal(second, COLUMNS.apply(image, roles="HWC"), strict=True)
    assert cache.get(image, "HWC", ROWS) is third  # the cached result itself


def test_an_after_array_made_elsewhere_is_never_written_over(image) -> None:
    from normscope.core.pairing import AfterArray

    made = ROWS.apply(image, roles="HWC")
    after = AfterArray(made.copy())
    cache = FullResultCache()
    for normalization in (after, COLUMNS, after, COLUMNS, after):
        result = cache.get(image, "HWC", normalization)
        del result
    np.testing.assert_array_equal(after.array, made, strict=True)
    assert cache.get(image, "HWC", after) is after.array


def test_the_first_toggle_writes_into_a_spare_made_ready_in_the_background(image) -> None:
    """A fresh process's first big allocation costs several times what reusing one does (the
    pages are new to it): the cache readies a spare while the first image is on show."""
    if engine.kernels() is None:
        pytest.skip("only the compiled kernels write into a spare, and numba is not installed")
    cache = FullResultCache()
    first = cache.get(image, "HWC", ROWS)
    assert cache.wait_spare(timeout=10)
    ready = _address(cache.spare)
    assert not np.shares_memory(cache.spare, first)
    second = cache.get(image, "HWC", COLUMNS)  # the first toggle: into the spare
    assert _address(second) == ready
    np.testing.assert_array_equal(second, COLUMNS.apply(image, roles="HWC"), strict=True)
    np.testing.assert_array_equal(first, ROWS.apply(image, roles="HWC"), strict=True)
