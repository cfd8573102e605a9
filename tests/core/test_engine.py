"""The compiled kernels held back while they warm up: other threads compute in numpy, alike."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from normscope.core import engine
from normscope.core.normalize import Normalization
from normscope.core.ranks import rank_compare
from normscope.core.warmup import warm_up_in_background


def _on_another_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_deferred_kernels_give_none_elsewhere_and_the_same_bits():
    x = np.random.default_rng(0).integers(0, 256, (32, 40), dtype=np.uint8)
    y = Normalization(method="keras", axis=1).apply(x, roles="HW")
    compiled = rank_compare(x, y, roles="HW")
    with engine.defer_kernels():
        assert engine.kernels() is not None  # the warming thread has them
        assert _on_another_thread(engine.kernels) is None
        held = _on_another_thread(lambda: rank_compare(x, y, roles="HW"))
    assert engine.kernels() is not None
    assert held[0] == compiled[0]
    np.testing.assert_array_equal(held[1].displacement, compiled[1].displacement)
    np.testing.assert_array_equal(held[1].partners, compiled[1].partners)


def test_background_warm_up_holds_the_kernels_back_until_done():
    thread = warm_up_in_background()
    assert thread.is_alive() or engine.kernels() is not None
    thread.join()
    assert engine.kernels() is not None


@pytest.mark.parametrize(
    ("outer", "m", "inner"),
    [(1, 4_194_304, 3), (1, 12_582_912, 1), (3, 70_000, 2), (2048, 2048, 3)],
)
def test_an_elementwise_pass_runs_on_every_thread_even_over_one_group(outer, m, inner):
    """A statistic per channel or over the whole image is one to three groups: their pass
    over the values is cut along the values, so both cores work; the blocks cover each value
    once."""
    with engine.limit_threads(2):
        parts = engine.block_parts(outer, m, inner)
    assert len(parts) >= 2
    seen = np.zeros((outer, m), np.int64)
    for o0, o1, i0, i1, j0, j1 in parts:
        assert (i0, i1) == (0, inner)
        seen[o0:o1, j0:j1] += 1
    assert (seen == 1).all()


def test_a_small_pass_stays_on_one_thread():
    with engine.limit_threads(2):
        assert engine.block_parts(1, 1000, 3) == [(0, 1, 0, 3, 0, 1000)]
