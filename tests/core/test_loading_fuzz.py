"""Random and mutated bytes never crash or hang the loader: a valid array or a LoadError."""

from __future__ import annotations

import gzip
import io
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from normscope.core.loading import LoadError, load

RNG = np.random.default_rng(11)


def _seeds() -> dict[str, bytes]:
    out = {}
    for fmt, ext in (("PNG", ".png"), ("JPEG", ".jpg"), ("GIF", ".gif"), ("BMP", ".bmp")):
        buf = io.BytesIO()
        Image.fromarray(RNG.integers(0, 255, (12, 10, 3), dtype=np.uint8)).save(buf, format=fmt)
        out[ext] = buf.getvalue()
    buf = io.BytesIO()
    tifffile.imwrite(
        buf, RNG.integers(0, 255, (2, 9, 7), dtype=np.uint16), photometric="minisblack"
    )
    out[".tif"] = buf.getvalue()
    buf = io.BytesIO()
    np.save(buf, RNG.integers(0, 255, (4, 6, 5), dtype=np.uint8))
    out[".npy"] = buf.getvalue()
    buf = io.BytesIO()
    np.savez(buf, x_train=RNG.random((3, 4, 4)))
    out[".npz"] = buf.getvalue()
    idx = bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 5, 5) + bytes(range(50))
    out["-idx3-ubyte"] = idx
    out["-idx3-ubyte.gz"] = gzip.compress(idx)
    return out


SEEDS = _seeds()


def check(tmp_path: Path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"case{suffix}"
    path.write_bytes(data)
    start = time.perf_counter()
    try:
        loaded = load(path, max_pixels=1 << 22)
    except LoadError as exc:
        assert str(exc).startswith(path.name)
    else:
        a = loaded.array
        assert 2 <= a.ndim <= 4 and a.size > 0 and a.dtype.kind in "uifb"
        assert len(loaded.roles) == a.ndim
    assert time.perf_counter() - start < 5.0  # a robustness bound per case, not a speed test


mutation = st.tuples(
    st.sampled_from(sorted(SEEDS)),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    st.one_of(st.none(), st.integers(0, 10_000)),
)


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(mutation)
def test_mutated_valid_files(tmp_path: Path, case) -> None:
    suffix, flips, cut = case
    data = bytearray(SEEDS[suffix])
    for pos, value in flips:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    check(tmp_path, suffix, bytes(data))


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(sorted(SEEDS)), st.binary(max_size=2048))
def test_random_bytes(tmp_path: Path, suffix: str, data: bytes) -> None:
    check(tmp_path, suffix, data)


@pytest.mark.parametrize("suffix", sorted(SEEDS))
def test_seeds_are_valid(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"seed{suffix}"
    path.write_bytes(SEEDS[suffix])
    assert load(path).array.size > 0
