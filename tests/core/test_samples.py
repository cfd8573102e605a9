"""The bundled samples are what tools/make_samples.py makes, and look like their story."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import imageio.v3 as iio
import numpy as np

_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "make_samples.py"
_spec = importlib.util.spec_from_file_location("make_samples", _SCRIPT)
assert _spec is not None and _spec.loader is not None
ms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ms)


def test_committed_samples_match_their_script() -> None:
    np.testing.assert_array_equal(np.load(ms.HERE / "digits.npy"), ms.make_digits())
    np.testing.assert_array_equal(iio.imread(ms.HERE / "photo.png"), ms.make_photo())
    np.testing.assert_array_equal(iio.imread(ms.HERE / "gray16.png"), ms.make_gray16())


def test_digits_are_mnist_like() -> None:
    d = np.load(ms.HERE / "digits.npy")
    assert d.dtype == np.uint8 and d.shape == (64, 28, 28)
    assert (d[:, :2, :] == 0).all() and (d[:, :, :2] == 0).all()  # dark border
    assert 0.1 < (d > 0).mean() < 0.35  # mostly background
    peaks = d.reshape(64, -1).max(axis=1)
    assert peaks.min() < 190 and peaks.max() > 240  # faint pencil and saturated ink
    ink = (d > 0).sum(axis=1)  # inked pixels per column of each image
    assert (ink == 1).any() or (ink == 2).any()  # faint columns (a stroke's edge)
    assert ink.max() >= 15  # dense columns (a "1" or the side of a "0")


def test_photo_and_gray16() -> None:
    p = iio.imread(ms.HERE / "photo.png")
    assert p.dtype == np.uint8 and p.shape == (192, 256, 3)
    assert len(np.unique(p[..., 1])) > 100  # texture, not flat regions only
    g = iio.imread(ms.HERE / "gray16.png")
    assert g.dtype == np.uint16 and g.shape == (160, 200) and g.max() > 255 * 100
