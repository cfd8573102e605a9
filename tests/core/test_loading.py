"""Opening files: every format, and every kind of bad input refused with a reason."""

from __future__ import annotations

import gzip
import io
import mmap
import struct
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from PIL import Image

from normscope.core.loading import SAMPLES, LoadError, load

RNG = np.random.default_rng(3)


def idx_bytes(a: np.ndarray, code: int = 0x08, dims=None) -> bytes:
    dims = a.shape if dims is None else dims
    head = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    return head + a.astype(a.dtype.newbyteorder(">")).tobytes()


# --- formats ------------------------------------------------------------------------------------


def test_samples_open_by_name() -> None:
    assert set(SAMPLES) == {"digits", "photo", "gray16"}
    d = load("sample:digits")
    assert (d.array.shape, d.roles, d.source, d.name) == (
        (64, 28, 28),
        "NHW",
        "sample:digits",
        "digits",
    )
    p = load("sample:photo")
    assert p.array.shape == (192, 256, 3) and p.roles == "HWC"
    g = load("sample:gray16")
    assert g.array.dtype == np.uint16 and g.roles == "HW"
    with pytest.raises(LoadError, match="no such sample"):
        load("sample:cats")


@pytest.mark.parametrize(
    "array",
    [
        RNG.integers(0, 255, (20, 30), dtype=np.uint8),
        RNG.integers(0, 65535, (20, 30), dtype=np.uint16),
        RNG.integers(0, 255, (20, 30, 3), dtype=np.uint8),
        RNG.integers(0, 255, (20, 30, 4), dtype=np.uint8),
        RNG.integers(0, 255, (20, 30, 2), dtype=np.uint8),
    ],
    ids=["gray8", "gray16", "rgb", "rgba", "gray+alpha"],
)
def test_png_round_trips(tmp_path: Path, array) -> None:
    path = tmp_path / "x.png"
    if array.shape[-1] == 2:
        Image.fromarray(array, mode="LA").save(path)
    else:
        iio.imwrite(path, array)
    loaded = load(path)
    np.testing.assert_array_equal(loaded.array, array)
    assert loaded.name == "x.png" and loaded.source == str(path)
    if array.ndim == 3 and array.shape[-1] in (2, 4):
        assert load(path, drop_alpha=True).array.shape[-1:] in ((3,), (30,))


def test_palette_png_becomes_rgb(tmp_path: Path) -> None:
    im = Image.fromarray(RNG.integers(0, 255, (10, 12, 3), dtype=np.uint8)).convert("P")
    im.save(tmp_path / "p.png")
    a = load(tmp_path / "p.png").array
    assert a.shape == (10, 12, 3) and a.dtype == np.uint8


def test_sixteen_bit_colour_png_is_refused_not_silently_truncated(tmp_path: Path) -> None:
    a = RNG.integers(0, 65535, (4, 5, 3), dtype=np.uint16)
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in a)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 5, 4, 16, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    (tmp_path / "rgb16.png").write_bytes(png)
    with pytest.raises(LoadError, match="16-bit colour PNG"):
        load(tmp_path / "rgb16.png")


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int32", "float32"])
def test_tiff_pages_become_a_batch(tmp_path: Path, dtype) -> None:
    a = RNG.integers(0, 200, (3, 8, 9)).astype(dtype)
    tifffile.imwrite(tmp_path / "s.tif", a, photometric="minisblack")
    np.testing.assert_array_equal(load(tmp_path / "s.tif").array, a)
    tifffile.imwrite(tmp_path / "one.tiff", a[0])
    np.testing.assert_array_equal(load(tmp_path / "one.tiff").array, a[0])


def test_jpeg_bmp_webp_and_gif(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    for ext in ("jpg", "bmp", "webp"):
        iio.imwrite(tmp_path / f"x.{ext}", rgb)
        assert load(tmp_path / f"x.{ext}").array.shape == (16, 16, 3)
    np.testing.assert_array_equal(load(tmp_path / "x.bmp").array, rgb)
    frames = RNG.integers(0, 255, (4, 10, 12, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "x.gif", frames, loop=0, duration=100)
    g = load(tmp_path / "x.gif")
    assert g.array.shape[:3] == (4, 10, 12) and g.roles == "NHWC"


def test_npz_picks_x_train_or_the_key(tmp_path: Path) -> None:
    x = RNG.integers(0, 255, (5, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "mnist.npz", y_train=np.arange(5), x_train=x, x_test=x[:2])
    d = load(tmp_path / "mnist.npz")
    assert d.key == "x_train" and set(d.keys) == {"y_train", "x_train", "x_test"}
    np.testing.assert_array_equal(d.array, x)
    assert load(tmp_path / "mnist.npz", key="x_test").array.shape == (2, 28, 28)
    with pytest.raises(LoadError, match="no array 'nope'"):
        load(tmp_path / "mnist.npz", key="nope")


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files(tmp_path: Path, gz: bool) -> None:
    x = RNG.integers(0, 255, (6, 28, 28), dtype=np.uint8)
    data = idx_bytes(x)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    (tmp_path / name).write_bytes(gzip.compress(data) if gz else data)
    np.testing.assert_array_equal(load(tmp_path / name).array, x)
    f = (RNG.standard_normal((2, 3, 4)) * 9).astype(np.float32)
    (tmp_path / "f.idx").write_bytes(idx_bytes(f, 0x0D))
    np.testing.assert_array_equal(load(tmp_path / "f.idx").array, f)


def test_folder_opens_as_a_sorted_batch(tmp_path: Path) -> None:
    imgs = RNG.integers(0, 255, (3, 8, 8), dtype=np.uint8)
    for i, im in zip((2, 0, 1), imgs, strict=True):
        iio.imwrite(tmp_path / f"img{i}.png", im)
    (tmp_path / "notes.txt").write_text("ignored")
    d = load(tmp_path)
    assert d.roles == "NHW"
    np.testing.assert_array_equal(d.array, imgs[[1, 2, 0]])
    iio.imwrite(tmp_path / "img3.png", np.zeros((9, 8), np.uint8))
    with pytest.raises(LoadError, match=r"img3\.png: is \(9, 8\)"):
        load(tmp_path)


def test_roles_can_be_overridden() -> None:
    d = load("sample:photo", roles="hwc")
    assert d.roles == "HWC"
    with pytest.raises(LoadError, match="roles"):
        load("sample:photo", roles="HHW")


# --- bad input: each one refused with the file's name and a reason ---------------------------


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def valid_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(RNG.integers(0, 255, (32, 32), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def npy_bytes(a: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(RNG.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def tiff_bytes() -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, RNG.integers(0, 255, (32, 32), dtype=np.uint8))
    return buf.getvalue()


BAD = {
    "zero-byte": ("empty.png", b"", "empty"),
    "truncated png": ("cut.png", valid_png()[:60], "cut.png: "),
    "truncated jpeg": ("cut.jpg", jpeg_bytes()[:200], "cut.jpg: "),
    "truncated tiff": ("cut.tif", tiff_bytes()[:100], "cut.tif: "),
    "text named png": ("text.png", b"hello, I am text\n", "not a PNG"),
    "unknown extension": ("data.xyz", b"\x00\x01", "unknown extension"),
    "complex npy": ("c.npy", npy_bytes(np.ones((3, 3), complex)), "complex128"),
    "structured npy": ("s.npy", npy_bytes(np.zeros((3, 3), "i4,f4")), "real numbers"),
    "empty array": ("e.npy", npy_bytes(np.zeros((0, 28))), "no values"),
    "five dims": ("five.npy", npy_bytes(np.zeros((2, 2, 2, 2, 2))), "5 dimensions"),
    "one dim": ("one.npy", npy_bytes(np.zeros(7)), "1 dimensions"),
    "lying idx": (
        "bad-idx3-ubyte",
        idx_bytes(np.zeros((2, 4, 4), np.uint8), dims=(9, 4, 4)),
        "header",
    ),
    "idx bad magic": ("junk.idx", b"\x01\x02\x03\x04rest", "magic"),
    "text named npy": ("text.npy", b"this is text\n", "is not a NumPy .npy file"),
    "short npy": ("short.npy", b"\x93NUM", "is not a NumPy .npy file"),
    "truncated npy": ("cut.npy", npy_bytes(np.zeros((64, 64)))[:500], "cut.npy: "),
    "npz without arrays": ("none.npz", b"PK\x05\x06" + b"\x00" * 18, "no arrays"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_with_a_reason(tmp_path: Path, case: str) -> None:
    name, data, reason = BAD[case]
    path = write(tmp_path, name, data)
    with pytest.raises(LoadError) as info:
        load(path)
    assert str(info.value).startswith(f"{name}: ") and reason in str(info.value)
    assert info.value.path == str(path)


def test_missing_file_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"gone\.png: no such file"):
        load(tmp_path / "gone.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LoadError, match="holds no images"):
        load(tmp_path / "empty")


def test_pickled_payloads_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    np.save(
        tmp_path / "evil.npy", np.array([Evil()], dtype=object), allow_pickle=True
    )  # the attacker's file
    np.savez(tmp_path / "evil.npz", x=np.array([Evil()], dtype=object))
    for name in ("evil.npy", "evil.npz"):
        with pytest.raises(LoadError, match="Python objects"):
            load(tmp_path / name)
    assert not marker.exists()


def test_decompression_bomb_is_refused_from_the_header(tmp_path: Path) -> None:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
    path = write(tmp_path, "bomb.png", png + chunk(b"IEND", b""))
    with pytest.raises(LoadError, match="over the limit"):
        load(path)
    npy = io.BytesIO()
    header = {"descr": "|u1", "fortran_order": False, "shape": (100_000, 100_000)}
    np.lib.format.write_array_header_1_0(npy, header)
    with pytest.raises(LoadError, match="over the limit"):
        load(write(tmp_path, "bomb.npy", npy.getvalue()))
    small = write(tmp_path, "ok.png", valid_png())
    with pytest.raises(LoadError, match="over the limit"):
        load(small, max_pixels=100)  # the user's own limit
    assert load(small, max_pixels=10_000).array.shape == (32, 32)


def test_permission_denied_is_a_load_error(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "locked.npy", npy_bytes(np.zeros((2, 2))))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", refuse)  # root ignores file modes, so simulate them
    with pytest.raises(LoadError, match=r"locked\.npy: cannot be read: permission denied"):
        load(path)


def test_files_are_only_read(tmp_path: Path) -> None:
    path = write(tmp_path, "x.npy", npy_bytes(np.arange(6).reshape(2, 3)))
    before = path.stat().st_mtime_ns, path.read_bytes()
    load(path)
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


def test_a_npy_of_any_size_is_memory_mapped_not_read(tmp_path: Path) -> None:
    a = np.arange(4 * 6 * 5, dtype=np.uint16).reshape(4, 6, 5)
    loaded = load(write(tmp_path, "small.npy", npy_bytes(a)))
    np.testing.assert_array_equal(loaded.array, a)
    base = loaded.array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None) if isinstance(base, np.ndarray) else base.obj
    assert isinstance(base, mmap.mmap)  # the file's pages, read as they are touched
    assert not loaded.array.flags.writeable  # and never written through


def test_nan_arrays_are_valid(tmp_path: Path) -> None:
    a = np.array([[np.nan, 1.0], [2.0, np.inf]])
    np.testing.assert_array_equal(load(write(tmp_path, "n.npy", npy_bytes(a))).array, a)
