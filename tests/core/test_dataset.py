"""Datasets: folders listed without decoding, .npy mapped a range at a time, arrays."""

from __future__ import annotations

import gzip
import os
import struct

import imageio.v3 as iio
import numpy as np
import pytest

from normscope.core import dataset as dataset_module
from normscope.core.dataset import (
    ArrayDataset,
    FolderDataset,
    NpyDataset,
    open_dataset,
)
from normscope.core.loading import LoadError

RNG = np.random.default_rng(16)


def write_tree(root) -> None:
    (root / "cat" / "deep").mkdir(parents=True)
    (root / "dog").mkdir()
    (root / "empty").mkdir()
    iio.imwrite(root / "cat" / "b.png", RNG.integers(0, 255, (5, 6), np.uint8))
    iio.imwrite(root / "cat" / "deep" / "a.png", RNG.integers(0, 255, (7, 3, 3), np.uint8))
    iio.imwrite(root / "dog" / "c.jpg", RNG.integers(0, 255, (8, 8, 3), np.uint8))
    iio.imwrite(root / "top.png", RNG.integers(0, 255, (2, 2), np.uint8))
    (root / "dog" / "notes.txt").write_text("not an image")


def test_folder_lists_imagefolder_layout_without_decoding(tmp_path, monkeypatch) -> None:
    write_tree(tmp_path)
    monkeypatch.setattr(dataset_module, "load", lambda *a, **k: pytest.fail("decoded"))
    ds = FolderDataset(tmp_path)
    names = [p.relative_to(tmp_path).as_posix() for p in map(type(tmp_path), ds.files)]
    assert names == ["top.png", "cat/b.png", "cat/deep/a.png", "dog/c.jpg"]
    assert ds.classes == ("cat", "dog")  # the empty folder holds no images: no class
    assert [ds.label(i) for i in range(len(ds))] == [None, "cat", "cat", "dog"]
    assert ds.path(2) == str(tmp_path / "cat" / "deep" / "a.png")


def test_folder_reads_one_image_with_loadings_reasons(tmp_path) -> None:
    write_tree(tmp_path)
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    ds = open_dataset(tmp_path)
    assert isinstance(ds, FolderDataset) and len(ds) == 5
    assert ds.read(2).shape == (7, 3, 3) and ds.read(4).shape == (8, 8, 3)
    with pytest.raises(LoadError, match=r"broken\.png"):
        ds.read(3)
    small = FolderDataset(tmp_path, max_pixels=30)
    with pytest.raises(LoadError, match="over the limit"):
        small.read(2)


def test_empty_folder_is_refused(tmp_path) -> None:
    with pytest.raises(LoadError, match="holds no images"):
        open_dataset(tmp_path)


def test_npy_is_mapped_a_range_at_a_time(tmp_path) -> None:
    x = RNG.integers(0, 65535, (50, 6, 7, 3), np.uint16)
    np.save(tmp_path / "x.npy", x)
    # the file holds more values than max_pixels: one image is what is limited
    ds = open_dataset(tmp_path / "x.npy", max_pixels=6 * 7 * 3)
    assert isinstance(ds, NpyDataset)
    assert (len(ds), ds.roles, ds.image_shape, ds.dtype) == (50, "NHWC", (6, 7, 3), x.dtype)
    part = ds.read_range(10, 13)
    assert isinstance(part.base, np.memmap) or isinstance(part, np.memmap)
    np.testing.assert_array_equal(part, x[10:13])
    np.testing.assert_array_equal(ds.read(49), x[49])
    assert ds.read_range(48, 99).shape[0] == 2
    with pytest.raises(IndexError):
        ds.read(50)
    with pytest.raises(LoadError, match="over the limit"):
        open_dataset(tmp_path / "x.npy", max_pixels=100)


def test_npy_channels_first_and_refusals(tmp_path) -> None:
    x = RNG.integers(0, 255, (4, 3, 5, 6), np.uint8)
    np.save(tmp_path / "chw.npy", x)
    ds = open_dataset(tmp_path / "chw.npy", roles="NCHW")
    np.testing.assert_array_equal(ds.read(1), x[1].transpose(1, 2, 0))
    np.save(tmp_path / "f.npy", np.asfortranarray(x[:, 0]))
    with pytest.raises(LoadError, match="Fortran"):
        open_dataset(tmp_path / "f.npy")
    np.save(tmp_path / "o.npy", np.array([[None, 1]], object), allow_pickle=True)
    with pytest.raises(LoadError, match="never unpickles"):
        open_dataset(tmp_path / "o.npy")
    np.save(tmp_path / "c.npy", np.zeros((2, 3, 4), np.complex64))
    with pytest.raises(LoadError, match="real numbers"):
        open_dataset(tmp_path / "c.npy")


def test_npz_idx_and_arrays(tmp_path) -> None:
    x = RNG.integers(0, 255, (9, 28, 28), np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.arange(9))
    head = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", *x.shape)
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(head + x.tobytes())
    for name in ("d.npz", "t10k-images-idx3-ubyte.gz"):
        ds = open_dataset(tmp_path / name)
        assert isinstance(ds, ArrayDataset) and len(ds) == 9
        np.testing.assert_array_equal(ds.read_range(0, 9), x)
    one = ArrayDataset(x[0])
    assert len(one) == 1 and one.read(0).shape == (28, 28) and one.path(0) == "array[0]"


def test_folder_pickles_its_listing_as_one_buffer(tmp_path) -> None:
    """A folder dataset crosses to a worker process as one bytes buffer, not a tuple of
    100,000 strings (pickling that held the window's interpreter lock 25-30 ms per job), and
    comes back whole: odd file names (a newline, bytes that are not UTF-8) and unclassed
    files included."""
    import pickle

    write_tree(tmp_path)
    odd = tmp_path / "dog" / os.fsdecode(b"line\nbreak-\xff.png")
    iio.imwrite(odd, RNG.integers(0, 255, (3, 4), np.uint8))
    ds = FolderDataset(tmp_path)
    state = ds.__getstate__()
    assert "files" not in state and isinstance(state["listing"], bytes)
    back = pickle.loads(pickle.dumps(ds))
    assert back.files == ds.files and back.labels == ds.labels and back.classes == ds.classes
    assert os.fsdecode(b"line\nbreak-\xff.png") in [os.path.basename(f) for f in back.files]
    assert back.read(back.files.index(str(odd))).shape == (3, 4)
    assert (back.root, back.source, back.max_pixels) == (ds.root, ds.source, ds.max_pixels)
