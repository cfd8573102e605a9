"""A dataset: many images, listed without decoding and read one (or one range) at a time.

Three kinds, behind one interface (:class:`Dataset`): a folder in torchvision's
``ImageFolder`` layout (:class:`FolderDataset`: class = first-level subfolder, searched
recursively; images directly in the folder have no class), a ``.npy`` opened memory-mapped
(:class:`NpyDataset`: only the images asked for are mapped, then unmapped again), and an
array in memory (:class:`ArrayDataset`: an opened batch, an ``.npz`` or MNIST IDX file).
:func:`open_dataset` picks the kind from a path. Files are decoded by
:func:`core.loading.load`, with its formats, its limits and its reasons for refusing a file.

Images come out with their axes as ``(H, W)`` or ``(H, W, C)``; ranges of an array dataset as
``(n, H, W)`` or ``(n, H, W, C)``.
"""

from __future__ import annotations

import functools
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from normscope.core.loading import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    LoadError,
    check_dtype,
    check_size,
    load,
    npy_header,
)
from normscope.core.roles import check_roles, infer_roles

__all__ = ["ArrayDataset", "Dataset", "FileStamp", "FolderDataset", "NpyDataset", "open_dataset"]


@dataclass(frozen=True)
class FileStamp:
    """What identifies a file's content for a cache: its absolute path, size and mtime (ns)."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileStamp:
        """The stamp of the file at `path` as it is now."""
        st = os.stat(path)
        return cls(os.path.abspath(path), st.st_size, st.st_mtime_ns)


class Dataset(ABC):
    """Images that can be counted, listed and read one at a time, in a fixed order.

    Attributes
    ----------
    source : str
        Where the dataset came from (a path, or a name for an array in memory).
    classes : tuple of str
        The class names, sorted (empty when there are none).
    """

    source: str
    classes: tuple[str, ...] = ()

    @abstractmethod
    def __len__(self) -> int:
        """The number of images."""

    @abstractmethod
    def read(self, i: int) -> np.ndarray:
        """Image `i`, decoded, as ``(H, W)`` or ``(H, W, C)``.

        Raises
        ------
        LoadError
            When it cannot be read, with the file and the reason.
        """

    @abstractmethod
    def path(self, i: int) -> str:
        """Where image `i` comes from: its file, or ``source[i]`` inside an array."""

    def label(self, i: int) -> str | None:
        """The class of image `i`, or None."""
        return None


class FolderDataset(Dataset):
    """Image files under a folder, ``ImageFolder`` style, listed (not decoded) at creation.

    Parameters
    ----------
    root : path
        The folder. Each subfolder is a class and is searched recursively (following links);
        image files directly in `root` are listed without a class.
    max_pixels : int, optional
        Refuse a file that declares more values than this (checked before decoding).

    Examples
    --------
    >>> import tempfile, imageio.v3 as iio
    >>> with tempfile.TemporaryDirectory() as d:
    ...     os.mkdir(f"{d}/cat"); iio.imwrite(f"{d}/cat/a.png", np.zeros((4, 5), np.uint8))
    ...     ds = FolderDataset(d)
    ...     len(ds), ds.classes, ds.label(0), ds.read(0).shape
    (1, ('cat',), 'cat', (4, 5))
    """

    def __init__(
        self, root: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS
    ) -> None:
        self.root = Path(root)
        self.source = str(root)
        self.max_pixels = max_pixels
        if not self.root.is_dir():
            raise LoadError(self.root, "is not a folder")
        files: list[tuple[str, str | None]] = [
            (str(p), None)
            for p in sorted(self.root.iterdir())
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        ]
        classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir())
        for name in classes:
            for folder, dirs, names in os.walk(self.root / name, followlinks=True):
                dirs.sort()
                files += [
                    (os.path.join(folder, f), name)
                    for f in sorted(names)
                    if os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES
                ]
        if not files:
            raise LoadError(self.root, f"holds no images ({', '.join(IMAGE_SUFFIXES)})")
        self.files = tuple(f for f, _ in files)
        self.labels = tuple(c for _, c in files)
        self.classes = tuple(c for c in classes if c in set(self.labels))

    def __len__(self) -> int:
        """The number of image files listed."""
        return len(self.files)

    @functools.cached_property
    def _packed(self) -> tuple[bytes, np.ndarray]:
        """The listing as one buffer (no path holds a NUL), the labels as class numbers."""
        index: dict[str | None, int] = {name: i for i, name in enumerate(self.classes)}
        labels = np.array([index.get(c, -1) for c in self.labels], np.int32)
        return os.fsencode("\0".join(self.files)), labels

    def __getstate__(self) -> dict[str, Any]:
        """What crosses to a worker process: the listing as one buffer.

        A tuple of 100,000 paths took 25-30 ms to pickle, holding the interpreter lock (and
        the window's event loop) throughout.
        """
        state = self.__dict__.copy()
        del state["files"], state["labels"]
        state.pop("_packed", None)
        state["listing"], state["label_index"] = self._packed
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A dataset from :meth:`__getstate__`'s state."""
        state = dict(state)
        self.files = tuple(os.fsdecode(state.pop("listing")).split("\0"))
        names = state["classes"]
        numbers = state.pop("label_index").tolist()
        self.labels = tuple(names[i] if i >= 0 else None for i in numbers)
        self.__dict__.update(state)

    def read(self, i: int) -> np.ndarray:
        """File `i`, decoded (the first frame or page of a stack)."""
        a = load(self.files[i], max_pixels=self.max_pixels).array
        colour = a.ndim == 3 and a.shape[-1] <= 4
        return a if a.ndim == 2 or colour else a[0]  # frames or pages: the first, as PIL does

    def path(self, i: int) -> str:
        """File `i`'s path."""
        return self.files[i]

    def label(self, i: int) -> str | None:
        """The class of file `i` (its first-level subfolder), or None."""
        return self.labels[i]


def _images_first(array: np.ndarray, roles: str) -> np.ndarray:
    """`array` as a view with axes N, H, W (and C when there is one)."""
    if "N" not in roles:
        array, roles = array[np.newaxis], "N" + roles
    order = [roles.index(r) for r in "NHWC" if r in roles]
    return array.transpose(order)


class ArrayDataset(Dataset):
    """The images of an array in memory (an opened batch, an ``.npz`` or IDX file's array).

    Parameters
    ----------
    array : ndarray
        2 to 4 dimensions of real numbers.
    roles : str, optional
        Axis roles (``"NHW"``, ``"NHWC"``, ``"HWC"``, …); inferred from the shape otherwise.
    source : str, optional
        A name for it.

    Examples
    --------
    >>> ds = ArrayDataset(np.zeros((10, 3, 28, 28), np.uint8), roles="NCHW")
    >>> len(ds), ds.read(0).shape, ds.read_range(2, 5).shape, ds.path(4)
    (10, (28, 28, 3), (3, 28, 28, 3), 'array[4]')
    """

    def __init__(
        self, array: np.ndarray, *, roles: str | None = None, source: str = "array"
    ) -> None:
        roles = infer_roles(array.shape) if roles is None else check_roles(roles, array.ndim)
        self.source = source
        self.roles = roles
        self.images = _images_first(array, roles)

    def __len__(self) -> int:
        """The number of images (the length of the N axis; 1 without one)."""
        return int(self.images.shape[0])

    @property
    def dtype(self) -> np.dtype:
        """The images' dtype."""
        return self.images.dtype

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(H, W)`` or ``(H, W, C)``."""
        return self.images.shape[1:]

    def read(self, i: int) -> np.ndarray:
        """Image `i` as ``(H, W)`` or ``(H, W, C)`` (a view of the array)."""
        return np.asarray(self.images[i])

    def read_range(self, start: int, stop: int) -> np.ndarray:
        """Images ``start`` to ``stop - 1`` as one ``(n, H, W[, C])`` array."""
        return np.asarray(self.images[start:stop])

    def path(self, i: int) -> str:
        """``source[i]``."""
        return f"{self.source}[{i}]"


class NpyDataset(ArrayDataset):
    """The images along the first axis of a ``.npy`` file, memory-mapped a range at a time.

    Never loaded whole: :meth:`read_range` maps only the bytes of the images asked for, and
    they are unmapped when the returned array is dropped, so memory stays bounded by the
    ranges in use, whatever the file's size. `max_pixels` bounds one image, not the file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     np.save(f"{d}/x.npy", np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4))
    ...     ds = NpyDataset(f"{d}/x.npy")
    ...     len(ds), ds.roles, ds.image_shape, ds.read(1)[0].tolist()
    (2, 'NHW', (3, 4), [12, 13, 14, 15])
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        roles: str | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.file = Path(path)
        self.source = str(path)
        try:
            with open(self.file, "rb") as f:
                shape, fortran, dtype = npy_header(self.file, f)
                self.offset = f.tell()
        except LoadError:
            raise
        except (OSError, ValueError) as exc:
            raise LoadError(self.file, f"cannot be read as .npy: {exc}") from None
        check_dtype(self.file, dtype)
        if not 2 <= len(shape) <= 4 or math.prod(shape) == 0:
            raise LoadError(self.file, f"has shape {shape}; a batch of images has 2 to 4 axes")
        if fortran:
            raise LoadError(self.file, "is stored in Fortran order; save it in C order")
        try:
            roles = infer_roles(shape) if roles is None else check_roles(roles, len(shape))
        except ValueError as exc:
            raise LoadError(self.file, str(exc)) from None
        if "N" not in roles:
            roles, shape = "N" + roles, (1, *shape)
        elif roles[0] != "N":
            raise LoadError(self.file, f"roles {roles}: the images must be along the first axis")
        check_size(self.file, shape[1:], dtype, max_pixels=max_pixels)
        self.roles, self.shape, self.file_dtype = roles, tuple(shape), dtype
        self.stamp = FileStamp.of(self.file)

    def __len__(self) -> int:
        """The number of images in the file (its first axis)."""
        return self.shape[0]

    @property
    def dtype(self) -> np.dtype:
        """The file's dtype."""
        return self.file_dtype

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(H, W)`` or ``(H, W, C)``."""
        return _images_first(np.empty((0, *self.shape[1:]), np.uint8), self.roles).shape[1:]

    def read_range(self, start: int, stop: int) -> np.ndarray:
        """Images ``start`` to ``stop - 1`` (clipped to the file), memory-mapped."""
        start, stop = max(0, start), min(stop, len(self))
        if stop <= start:
            return _images_first(np.empty((0, *self.shape[1:]), self.dtype), self.roles)
        per_image = math.prod(self.shape[1:]) * self.dtype.itemsize
        mapped = np.memmap(
            self.file,
            self.dtype,
            mode="r",
            offset=self.offset + start * per_image,
            shape=(stop - start, *self.shape[1:]),
        )
        return _images_first(mapped, self.roles)

    def read(self, i: int) -> np.ndarray:
        """Image `i`, copied out of the file (which is unmapped again)."""
        if not 0 <= i < len(self):
            raise IndexError(f"image {i} of {len(self)}")
        return np.array(self.read_range(i, i + 1)[0])


def open_dataset(
    source: str | os.PathLike[str],
    *,
    key: str | None = None,
    roles: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Dataset:
    """Open a folder, ``.npy``, ``.npz``, MNIST IDX file or ``sample:NAME`` as a dataset.

    MNIST IDX files may be ``.gz`` too. No image of a folder is decoded.

    Parameters
    ----------
    source : str or path
    key : str, optional
        The array of an ``.npz``.
    roles : str, optional
        Axis roles of an array (inferred otherwise).
    max_pixels : int, optional
        Refuse an image (a ``.npy``: one image; other arrays: the whole array) declaring more
        values than this.

    Raises
    ------
    LoadError
        When the source cannot be opened as a dataset.

    Examples
    --------
    >>> ds = open_dataset("sample:digits")
    >>> type(ds).__name__, len(ds), ds.read(0).shape
    ('ArrayDataset', 64, (28, 28))
    """
    text = os.fspath(source)
    path = Path(text)
    if not text.startswith("sample:"):
        if not path.exists():
            raise LoadError(path, f"no such file or folder ({text})")
        if path.is_dir():
            return FolderDataset(path, max_pixels=max_pixels)
        if path.suffix.lower() == ".npy":
            return NpyDataset(path, roles=roles, max_pixels=max_pixels)
    loaded = load(source, key=key, roles=roles, max_pixels=max_pixels)
    return ArrayDataset(loaded.array, roles=loaded.roles, source=loaded.source)
