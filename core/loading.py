"""Open anything a user throws at NormScope, or refuse it with a reason they can act on.

Images go through ``imageio.v3`` (PNG, JPEG, TIFF, BMP, GIF, WebP); arrays through
``np.load(..., allow_pickle=False)`` (``.npy``, ``.npz``): NormScope never unpickles. MNIST IDX
files (``*-idx3-ubyte``, also gzipped) are parsed from their header. A folder of same-sized
images opens as a batch. Sizes are checked from each file's header **before** any pixel
memory is allocated, so a small file that declares 100000 x 100000 pixels is refused at once.

Every failure raises :class:`LoadError`, whose message names the file and the reason.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import warnings
import zipfile
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np

from normscope.core.roles import check_roles, infer_roles

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "OPEN_FILTER",
    "SAMPLES",
    "SUPPORTED_SUFFIXES",
    "LoadError",
    "Loaded",
    "check_dtype",
    "check_size",
    "load",
    "npy_header",
]

#: The bundled samples (``sample:NAME``): files of the ``normscope.resources`` package.
SAMPLES: dict[str, str] = {"digits": "digits.npy", "photo": "photo.png", "gray16": "gray16.png"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")
ARRAY_SUFFIXES = (".npy", ".npz")
IDX_SUFFIXES = (".idx", "-ubyte", ".idx1", ".idx3")
SUPPORTED_SUFFIXES: tuple[str, ...] = IMAGE_SUFFIXES + ARRAY_SUFFIXES + IDX_SUFFIXES
OPEN_FILTER = (
    "Images and arrays (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.gif *.webp *.npy *.npz "
    "*-ubyte *-ubyte.gz *.idx *.idx.gz);;"
    "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.gif *.webp);;"
    "NumPy arrays (*.npy *.npz);;MNIST IDX (*-ubyte *-ubyte.gz *.idx *.idx.gz);;All files (*)"
)
#: Pixels (array elements) above which a file is refused unless the caller raises the limit.
DEFAULT_MAX_PIXELS = 1 << 28

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class LoadError(Exception):
    """A file NormScope cannot open; ``str(error)`` is "<file>: <reason>"."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(self.path).name or self.path}: {reason}")


@dataclass(frozen=True, eq=False)
class Loaded:
    """An opened array with its axis roles and where it came from."""

    array: np.ndarray
    roles: str
    source: str
    name: str
    key: str | None = None
    keys: tuple[str, ...] = ()


def check_size(path: str | os.PathLike, shape: tuple[int, ...], max_pixels: int) -> None:
    """Raise :class:`LoadError` when `shape` holds more than `max_pixels` values."""
    count = math.prod(shape)
    if count > max_pixels:
        raise LoadError(
            path,
            f"declares {' x '.join(map(str, shape))} = {count:,} values, over the limit of "
            f"{max_pixels:,}; raise the pixel limit if you trust this file",
        )


def check_dtype(path: str | os.PathLike, dtype: np.dtype) -> None:
    """Raise :class:`LoadError` unless `dtype` holds real numbers (integers, floats, bool)."""
    if dtype.kind == "O":
        raise LoadError(
            path, "holds Python objects; NormScope never unpickles (save a numeric array)"
        )
    if dtype.names is not None or dtype.kind not in "uifb":
        raise LoadError(
            path, f"has dtype {dtype}; NormScope needs real numbers (integers, floats or bool)"
        )


def _check_array(path: Path, a: np.ndarray) -> np.ndarray:
    check_dtype(path, a.dtype)
    if a.size == 0:
        raise LoadError(path, f"has no values (shape {a.shape})")
    if not 2 <= a.ndim <= 4:
        raise LoadError(
            path, f"has {a.ndim} dimensions (shape {a.shape}); an image array has 2 to 4"
        )
    return a


# --- readers ---------------------------------------------------------------------------------


def npy_header(path: str | os.PathLike, f) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Read the header of the ``.npy`` open as `f`: ``(shape, fortran_order, dtype)``, `f`
    left at the first data byte. Object arrays are refused (NormScope never unpickles)."""
    magic = f.read(8)  # b"\x93NUMPY", then the format version
    if len(magic) < 8 or not magic.startswith(np.lib.format.MAGIC_PREFIX):
        raise LoadError(path, "is not a NumPy .npy file (it lacks the .npy signature)")
    version = (magic[6], magic[7])
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject:
        raise LoadError(
            path, "holds Python objects; NormScope never unpickles (save a numeric array)"
        )
    return shape, fortran, dtype


def _npy_header(path: Path, f, max_pixels: int) -> tuple[int, ...]:
    shape = npy_header(path, f)[0]
    check_size(path, shape, max_pixels)
    return shape


def _read_npy(path: Path, max_pixels: int) -> np.ndarray:
    with open(path, "rb") as f:
        _npy_header(path, f, max_pixels)
    return np.load(path, allow_pickle=False)


def _read_npz(
    path: Path, key: str | None, max_pixels: int
) -> tuple[np.ndarray, str, tuple[str, ...]]:
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.endswith(".npy")]
        keys = tuple(n[:-4] for n in names)
        if not keys:
            raise LoadError(path, "holds no arrays")
        if key is not None and key not in keys:
            raise LoadError(path, f"has no array {key!r}; it has {', '.join(keys)}")
        shapes = {}
        for n, k in zip(names, keys, strict=True):
            with z.open(n) as f:
                shapes[k] = _npy_header(path, f, max_pixels)
    if key is None:
        images = [k for k in keys if 2 <= len(shapes[k]) <= 4]
        key = "x_train" if "x_train" in keys else (images[0] if images else keys[0])
    with np.load(path, allow_pickle=False) as npz:
        return npz[key], key, keys


def _read_idx(path: Path, max_pixels: int) -> np.ndarray:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] not in _IDX_TYPES:
            raise LoadError(path, "is not an IDX file (bad magic number)")
        ndim = head[3]
        dims_raw = f.read(4 * ndim)
        if len(dims_raw) != 4 * ndim:
            raise LoadError(path, "ends inside its IDX header")
        dims = struct.unpack(f">{ndim}I", dims_raw)
        check_size(path, dims, max_pixels)
        dtype = np.dtype(_IDX_TYPES[head[2]])
        want = math.prod(dims) * dtype.itemsize
        payload = f.read(want + 1)
    if len(payload) != want:
        raise LoadError(
            path,
            f"IDX header declares {' x '.join(map(str, dims))} values ({want:,} bytes) but the "
            f"file holds {len(payload):,} bytes of data",
        )
    return np.frombuffer(payload, dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _png_header(path: Path, max_pixels: int) -> None:
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise LoadError(path, "is not a PNG file (no PNG signature)")
    width, height, depth, color = struct.unpack(">IIBB", head[16:26])
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(color, 1)
    check_size(path, (height, width, channels), max_pixels)
    if depth == 16 and color != 0:
        raise LoadError(
            path,
            "is a 16-bit colour PNG, which the image reader would silently cut to 8 bits; "
            "save it as 16-bit TIFF or .npy",
        )


def _read_tiff(path: Path, max_pixels: int) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        pages = tif.pages
        if len(pages) == 0:
            raise LoadError(path, "holds no images")
        shapes = [p.shape for p in pages]
        check_size(path, (len(shapes), *shapes[0]), max_pixels)
        if len(set(shapes)) != 1:
            raise LoadError(path, f"pages differ in size ({shapes[0]} and others)")
        arrays = [p.asarray() for p in pages]
    return arrays[0] if len(arrays) == 1 else np.stack(arrays)


def _read_image(path: Path, max_pixels: int) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        return _read_tiff(path, max_pixels)
    if suffix == ".png":
        _png_header(path, max_pixels)
    import imageio.v3 as iio
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            check_size(path, (frames, im.height, im.width, len(im.getbands())), max_pixels)
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # our own limit was checked above
        try:
            a = iio.imread(path, index=None if suffix in (".gif", ".webp") else 0)
        finally:
            Image.MAX_IMAGE_PIXELS = old
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    return a


def _read_folder(path: Path, max_pixels: int) -> np.ndarray:
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise LoadError(path, f"holds no images ({', '.join(IMAGE_SUFFIXES)})")
    first = _read_file(files[0], None, max_pixels)[0]
    check_size(path, (len(files), *first.shape), max_pixels)
    out = np.empty((len(files), *first.shape), first.dtype)
    out[0] = first
    for i, f in enumerate(files[1:], start=1):
        a = _read_file(f, None, max_pixels)[0]
        if a.shape != first.shape or a.dtype != first.dtype:
            raise LoadError(
                f,
                f"is {a.shape} {a.dtype} but {files[0].name} is {first.shape} {first.dtype}; "
                "a folder opens as a batch only when every image has the same size and type",
            )
        out[i] = a
    return out


def _is_idx(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith(IDX_SUFFIXES)


def _read_file(
    path: Path, key: str | None, max_pixels: int
) -> tuple[np.ndarray, str | None, tuple[str, ...]]:
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise LoadError(path, "is empty (0 bytes)")
    if suffix == ".npy":
        return _read_npy(path, max_pixels), None, ()
    if suffix == ".npz":
        return _read_npz(path, key, max_pixels)
    if _is_idx(path):
        return _read_idx(path, max_pixels), None, ()
    if suffix in IMAGE_SUFFIXES:
        return _read_image(path, max_pixels), None, ()
    raise LoadError(
        path,
        f"has an unknown extension {suffix or '(none)'!r}; NormScope opens "
        f"{', '.join(IMAGE_SUFFIXES + ARRAY_SUFFIXES)}, MNIST IDX files and folders of images",
    )


def load(
    source: str | os.PathLike,
    *,
    key: str | None = None,
    roles: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    drop_alpha: bool = False,
) -> Loaded:
    """Open a file, a folder of same-sized images, or a bundled ``sample:NAME``.

    Parameters
    ----------
    source : str or path
        An image, ``.npy``, ``.npz``, MNIST IDX file (optionally ``.gz``), a folder, or
        ``"sample:digits"``, ``"sample:photo"``, ``"sample:gray16"``.
    key : str, optional
        The array of an ``.npz`` (default ``x_train`` if present, else the first image-like one).
    roles : str, optional
        Axis roles such as ``"NHW"``; inferred with :func:`core.roles.infer_roles` otherwise.
    max_pixels : int, optional
        Refuse files that declare more values than this, before reading them.
    drop_alpha : bool, optional
        Drop the alpha channel of gray+alpha and RGBA images.

    Returns
    -------
    Loaded

    Raises
    ------
    LoadError
        For anything that cannot be opened, with the file and the reason.

    Examples
    --------
    >>> d = load("sample:digits")
    >>> d.array.shape, d.array.dtype.name, d.roles, d.name
    ((64, 28, 28), 'uint8', 'NHW', 'digits')
    >>> load("no/such/file.png")
    Traceback (most recent call last):
    ...
    normscope.core.loading.LoadError: file.png: no such file or folder (no/such/file.png)
    """
    text = os.fspath(source)
    if isinstance(text, str) and text.startswith("sample:"):
        name = text[len("sample:") :]
        if name not in SAMPLES:
            raise LoadError(text, f"no such sample; the samples are {', '.join(SAMPLES)}")
        with as_file(files("normscope.resources") / SAMPLES[name]) as file:
            inner = load(file, roles=roles, max_pixels=max_pixels, drop_alpha=drop_alpha)
        return Loaded(inner.array, inner.roles, text, name)
    path = Path(text)
    keys: tuple[str, ...] = ()
    try:
        if not path.exists():
            raise LoadError(path, f"no such file or folder ({text})")
        if path.is_dir():
            array = _read_folder(path, max_pixels)
        else:
            array, key, keys = _read_file(path, key, max_pixels)
    except LoadError:
        raise
    except PermissionError:
        raise LoadError(path, "cannot be read: permission denied") from None
    except MemoryError:
        raise LoadError(path, "is too large to fit in memory") from None
    except Exception as exc:  # every reader's own failure becomes one readable reason
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LoadError(path, f"cannot be read as {path.suffix or 'a file'}: {reason}") from exc
    array = _check_array(path, np.asarray(array))
    if drop_alpha and array.ndim >= 3 and array.shape[-1] in (2, 4):
        array = np.ascontiguousarray(array[..., :-1])
        if array.shape[-1] == 1:
            array = array[..., 0]
    try:
        roles = infer_roles(array.shape) if roles is None else check_roles(roles, array.ndim)
    except ValueError as exc:
        raise LoadError(path, str(exc)) from None
    name = path.name if path.name else text
    return Loaded(array, roles, str(path), name, key, keys)
