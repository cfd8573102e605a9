"""Benchmark inputs, made the same way every run (no downloads)."""

from __future__ import annotations

import numpy as np

from tools.make_samples import make_digits, make_photo


def gray_4096() -> np.ndarray:
    """A 4096x4096 uint8 image: gradient, low-frequency texture and noise (many ties)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:4096, 0:4096].astype(np.float32) / 4096
    img = 120 * x + 60 * y + 30 * np.sin(12 * x) * np.cos(9 * y) + rng.normal(0, 12, x.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def rgb_2048() -> np.ndarray:
    """A 2048x2048x3 uint8 photo-like image (the photo sample tiled)."""
    return np.ascontiguousarray(np.tile(make_photo(), (11, 8, 1))[:2048, :2048])


def mnist_batch() -> np.ndarray:
    """A 60000x28x28 uint8 MNIST-like batch, drawn from the digit sample."""
    digits = make_digits(64)
    return digits[np.random.default_rng(0).integers(0, 64, 60000)]
