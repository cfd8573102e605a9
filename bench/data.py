"""Benchmark inputs, made the same way every run (no downloads)."""

from __future__ import annotations

import os
from pathlib import Path

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


BENCH_DATA = Path(os.environ.get("NORMSCOPE_BENCH_DATA", "/work/bench-data"))
_COLOUR = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "cat",
    "colorwheel",
)
_GREY = ("camera", "coins", "moon", "brick", "grass", "gravel", "clock")


def _photos() -> list[np.ndarray]:
    """scikit-image's bundled photographs (colour, then grey), as uint8 arrays."""
    import skimage.data

    return [getattr(skimage.data, name)() for name in _COLOUR + _GREY]


def _crop(rng: np.random.Generator, photo: np.ndarray, h: int, w: int) -> np.ndarray:
    """A random `h` x `w` crop of `photo` (resized up first when it is too small), maybe
    flipped left-right."""
    from PIL import Image

    ph, pw = photo.shape[:2]
    scale = max(h / ph, w / pw, rng.uniform(0.5, 1.0))
    if scale != 1.0:
        size = (max(w, round(pw * scale)), max(h, round(ph * scale)))
        photo = np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BILINEAR))
        ph, pw = photo.shape[:2]
    y, x = rng.integers(0, ph - h + 1), rng.integers(0, pw - w + 1)
    out = photo[y : y + h, x : x + w]
    return out[:, ::-1] if rng.random() < 0.5 else out


def photo_folder(n: int = 20_000) -> Path:
    """A folder of `n` real-size photos in ImageFolder layout (10 class subfolders), about
    70% JPEG and 30% PNG, 240 to 500 pixels a side, 1 in 7 grey: crops of scikit-image's
    bundled photographs, re-encoded. Made once and kept under ``BENCH_DATA``."""
    from PIL import Image

    root = BENCH_DATA / f"photos-{n}"
    done = root / ".complete"
    if done.exists():
        return root
    rng = np.random.default_rng(15)
    photos = _photos()
    for i in range(n):
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        photo = (
            photos[rng.integers(len(_COLOUR))]
            if rng.random() > 1 / 7
            else photos[len(_COLOUR) + rng.integers(len(_GREY))]
        )
        h, w = (int(v) for v in rng.integers(240, 501, 2))
        img = Image.fromarray(np.ascontiguousarray(_crop(rng, photo, h, w)))
        if rng.random() < 0.7:
            img.save(folder / f"{i:05d}.jpg", quality=int(rng.integers(80, 96)))
        else:
            img.save(folder / f"{i:05d}.png")
    done.touch()
    return root


def photo_npy(images: int = 28_000, side: int = 224) -> Path:
    """A ``(images, side, side, 3)`` uint8 ``.npy`` (4.2 GB by default) of photo crops,
    written through a memmap (never whole in memory) and kept under ``BENCH_DATA``."""
    path = BENCH_DATA / f"photos-{images}x{side}x{side}x3.npy"
    if path.exists():
        return path
    rng = np.random.default_rng(16)
    photos = _photos()[: len(_COLOUR)]
    pool = np.stack([_crop(rng, photos[i % len(photos)], side, side) for i in range(1024)])
    tmp = path.with_suffix(".part.npy")
    out = np.lib.format.open_memmap(tmp, "w+", np.uint8, (images, side, side, 3))
    for start in range(0, images, 1024):
        stop = min(images, start + 1024)
        block = pool[rng.integers(0, len(pool), stop - start)]
        flip = rng.random(stop - start) < 0.5
        block[flip] = block[flip, :, ::-1]
        out[start:stop] = block
    out.flush()
    del out
    tmp.rename(path)
    return path
