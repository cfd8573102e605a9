"""Make NormScope's bundled samples, deterministically.

Real MNIST cannot be downloaded where NormScope is built and tested, so these stand in
for it. Run ``python tools/make_samples.py`` (``make samples``) to rewrite, in ``resources/``:

* ``digits.npy``: uint8 (64, 28, 28), MNIST-like handwritten digits: dark background,
  bright strokes of varying thickness and brightness, so some columns are faint and some
  dense (the case where Keras ``normalize(x, axis=1)`` misleads);
* ``photo.png``: uint8 (192, 256, 3), an RGB photo-like scene with smooth regions and texture;
* ``gray16.png``: uint16 (160, 200), a 16-bit microscope-like image of cells.

The same seed gives byte-identical files; a test checks the committed files against it.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import imageio.v3 as iio
import numpy as np

HERE = Path(__file__).resolve().parent.parent / "resources"
SEED = 20261124

# Each digit is a list of strokes; each stroke a list of (x, y) points in a unit box
# (x to the right, y down). Curves are sampled densely by `_arc`.


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24):
    t = np.linspace(np.radians(a0), np.radians(a1), n)
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t), strict=True))


_DIGITS: dict[int, list[list[tuple[float, float]]]] = {
    0: [_arc(0.5, 0.5, 0.32, 0.45, 0, 360, 40)],
    1: [[(0.35, 0.2), (0.55, 0.05), (0.55, 0.95)]],
    2: [[*_arc(0.5, 0.3, 0.3, 0.25, 200, 400), (0.15, 0.95), (0.85, 0.95)]],
    3: [_arc(0.48, 0.28, 0.3, 0.23, 200, 450), _arc(0.48, 0.72, 0.33, 0.24, 270, 520)],
    4: [[(0.65, 0.95), (0.65, 0.05), (0.1, 0.7), (0.9, 0.7)]],
    5: [[(0.8, 0.05), (0.25, 0.05), (0.2, 0.45), *_arc(0.48, 0.66, 0.33, 0.29, 230, 490)]],
    6: [[(0.7, 0.05), (0.3, 0.45), *_arc(0.5, 0.7, 0.3, 0.26, 180, 540)]],
    7: [[(0.12, 0.05), (0.88, 0.05), (0.4, 0.95)]],
    8: [_arc(0.5, 0.27, 0.26, 0.22, 0, 360), _arc(0.5, 0.72, 0.32, 0.25, 0, 360)],
    9: [[*_arc(0.5, 0.3, 0.3, 0.25, 0, 360), (0.8, 0.3), (0.7, 0.95)]],
}


def _densify(points: list[tuple[float, float]], step: float = 0.01) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    out = [pts[:1]]
    for a, b in itertools.pairwise(pts):
        n = max(int(np.hypot(*(b - a)) / step), 1)
        t = np.linspace(0, 1, n + 1)[1:, None]
        out.append(a + t * (b - a))
    return np.concatenate(out)


def make_digits(n: int = 64, rng: np.random.Generator | None = None) -> np.ndarray:
    """A (n, 28, 28) uint8 batch of MNIST-like digits, labels cycling 0..9."""
    rng = np.random.default_rng(SEED) if rng is None else rng
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float64)
    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        strokes = _DIGITS[i % 10]
        slant = rng.uniform(-0.3, 0.3)
        sx, sy = rng.uniform(11, 17), rng.uniform(17, 20)
        ox, oy = 14 + rng.uniform(-1.5, 1.5), 14 + rng.uniform(-1, 1)
        width = rng.uniform(0.7, 1.9)  # stroke half-width in pixels: thin to bold
        peak = rng.uniform(150, 255)  # faint pencil to saturated ink
        img = np.zeros((28, 28))
        for stroke in strokes:
            p = _densify(stroke) - 0.5
            px = ox + sx * (p[:, 0] - slant * p[:, 1])
            py = oy + sy * p[:, 1]
            d = np.hypot(xx[..., None] - px, yy[..., None] - py).min(axis=-1)
            img = np.maximum(img, np.clip(1.0 + width - d, 0.0, 1.0) ** 0.8)
        img = img * peak * rng.uniform(0.9, 1.0, size=img.shape)
        out[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out


def make_photo(rng: np.random.Generator | None = None) -> np.ndarray:
    """A (192, 256, 3) uint8 photo-like scene: sky, sun, hills and a textured field."""
    rng = np.random.default_rng(SEED + 1) if rng is None else rng
    h, w = 192, 256
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    sky = np.stack([90 + 80 * y, 140 + 70 * y, 230 - 40 * y], axis=-1)
    img = sky
    sun = np.hypot(x - 0.78, y - 0.22) < 0.09
    img[sun] = (250, 235, 150)
    hills = y > 0.55 + 0.08 * np.sin(2 * np.pi * (1.3 * x + 0.1))
    grass = np.stack([60 + 30 * y, 120 + 40 * y, 50 + 10 * y], axis=-1)
    texture = 18 * np.sin(2 * np.pi * 40 * x) * np.sin(2 * np.pi * 23 * y)
    grass = grass + texture[..., None] + rng.normal(0, 9, size=grass.shape)
    img = np.where(hills[..., None], grass, img)
    img = img + rng.normal(0, 2.5, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_gray16(rng: np.random.Generator | None = None) -> np.ndarray:
    """A (160, 200) uint16 fluorescence-like image: dim background, bright cells."""
    rng = np.random.default_rng(SEED + 2) if rng is None else rng
    h, w = 160, 200
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = 900 + 300 * (x / w)  # uneven illumination
    for _ in range(14):
        cy, cx = rng.uniform(10, h - 10), rng.uniform(10, w - 10)
        r, amp = rng.uniform(5, 13), rng.uniform(4000, 40000)
        img += amp * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r**2))
    img += rng.normal(0, 60, size=img.shape)
    return np.clip(np.rint(img), 0, 65535).astype(np.uint16)


def main() -> None:
    np.save(HERE / "digits.npy", make_digits())
    iio.imwrite(HERE / "photo.png", make_photo())
    iio.imwrite(HERE / "gray16.png", make_gray16())


if __name__ == "__main__":
    main()
