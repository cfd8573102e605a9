"""The compiled kernels held back while they warm up: other threads compute in numpy, alike."""

from __future__ import annotations

import threading

import numpy as np

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
