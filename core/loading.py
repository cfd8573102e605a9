"""Open anything a user throws at NormScope, or refuse it with a reason they can act on.

Images go through ``imageio.v3`` (PNG, JPEG, TIFF, BMP, GIF, WebP); arrays through
``np.load(..., allow_pickle=False)`` (``.npy``, ``.npz``): NormScope never unpickles. MNIST IDX
files (``*-idx3-ubyte``, also gzipped) are parsed from their header. A folder of same-sized
images opens as a batch. Sizes, in values and in bytes, are checked from each file's header
**before** any pixel memory is allocated, so a small file that declares 100000 x 100000 pixels is
refused at once. These limits are NormScope's only ones: Pillow's own pixel limit is lifted while
NormScope opens an image. Images come out as a viewer shows them: CMYK becomes RGB, the EXIF
orientation is applied, and every frame of an animation (GIF, APNG, WebP) is read, as a batch.

Every failure raises :class:`LoadError`, whose message names the file and the reason.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import os
import struct
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from normscope.core.dtypes import canonical
from normscope.core.roles import check_roles, infer_roles

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "SAMPLES",
    "LoadError",
    "Loaded",
    "check_dtype",
    "check_size",
    "format_bytes",
    "load",
    "npy_header",
]

#: The bundled samples (``sample:NAME``): files of the ``normscope.resources`` package.
SAMPLES: dict[str, str] = {"digits": "digits.npy", "photo": "photo.png", "gray16": "gray16.png"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")
#: Formats whose frames are an animation, read as a batch (a JPEG's extra pictures are previews).
ANIMATED_SUFFIXES = (".gif", ".png", ".webp")
ARRAY_SUFFIXES = (".npy", ".npz")
IDX_SUFFIXES = (".idx", "-ubyte", ".idx1", ".idx3")
#: Pixels (array elements) above which a file is refused unless the caller raises the limit.
DEFAULT_MAX_PIXELS = 1 << 28
#: Bytes of the decoded array above which a file is refused unless the caller raises the limit.
DEFAULT_MAX_BYTES = 1 << 30

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class LoadError(Exception):
    """A file NormScope cannot open; ``str(error)`` is "<file>: <reason>"."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
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


def format_bytes(size: int) -> str:
    """A byte count in binary units, as the size limits are written.

    Examples
    --------
    >>> format_bytes(1 << 30), format_bytes(8000), format_bytes(12)
    ('1.0 GiB', '7.8 KiB', '12 bytes')
    """
    if size < 1024:
        return f"{size:,} bytes"
    value, units = size / 1024, ["KiB", "MiB", "GiB", "TiB"]
    while value >= 1024 and len(units) > 1:
        value /= 1024
        units.pop(0)
    return f"{value:.1f} {units[0]}"


@dataclass(frozen=True)
class _Limits:
    """The most values and bytes a file may declare."""

    pixels: int
    bytes: int

    def check(self, path: Path, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Refuse `shape` of `dtype` (a subarray dtype adds its own axes) over either limit."""
        shape = (*shape, *dtype.shape)
        count = math.prod(shape)
        size = count * dtype.base.itemsize
        dims = " x ".join(map(str, shape))
        if count > self.pixels:
            raise LoadError(
                path,
                f"declares {dims} = {count:,} values, over the limit of "
                f"{self.pixels:,}; raise the pixel limit if you trust this file",
            )
        if size > self.bytes:
            raise LoadError(
                path,
                f"declares {dims} {dtype.base} = {format_bytes(size)}, over the limit of "
                f"{format_bytes(self.bytes)}; raise the byte limit if you trust this file",
            )


def check_size(
    path: str | os.PathLike[str],
    shape: tuple[int, ...],
    dtype: np.dtype,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> None:
    """Raise :class:`LoadError` when `shape` of `dtype` is too big.

    Too big is more than `max_pixels` values or `max_bytes` bytes (a subarray dtype adds its own
    axes).
    """
    _Limits(max_pixels, max_bytes).check(Path(path), shape, np.dtype(dtype))


def check_dtype(path: str | os.PathLike[str], dtype: np.dtype[Any]) -> None:
    """Refuse objects and non-numeric dtypes from a header, before any data is read."""
    if dtype.hasobject:
        raise LoadError(
            path, "holds Python objects; NormScope never unpickles (save a numeric array)"
        )
    if dtype.base.names is not None or dtype.base.kind not in "uifb":
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
    return canonical(a)


def _unreadable(path: Path, exc: Exception, detail: str = "") -> LoadError:
    """A reader's own failure as one readable reason: the first line of its message."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return LoadError(path, f"cannot be read as {path.suffix or 'a file'}: {reason}{detail}")


# --- readers ---------------------------------------------------------------------------------


def npy_header(
    path: str | os.PathLike[str], f: IO[bytes]
) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """Read the header of the ``.npy`` open as `f`: ``(shape, fortran_order, dtype)``.

    `f` is left at the first data byte. Object and non-numeric dtypes are refused (NormScope never
    unpickles).
    """
    magic = f.read(8)  # b"\x93NUMPY", then the format version
    if len(magic) < 8 or not magic.startswith(np.lib.format.MAGIC_PREFIX):
        raise LoadError(path, "is not a NumPy .npy file (it lacks the .npy signature)")
    version = (magic[6], magic[7])
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    check_dtype(path, dtype)
    return shape, fortran, dtype


def _npy_header(path: Path, f: IO[bytes], limits: _Limits) -> tuple[int, ...]:
    shape, _fortran, dtype = npy_header(path, f)
    limits.check(path, shape, dtype)
    return (*shape, *dtype.shape)


def _read_npy(path: Path, limits: _Limits) -> np.ndarray:
    """The array of a ``.npy``, memory-mapped read-only whatever its size.

    Its pages are read as they are used; an array of no values is read.
    """
    with open(path, "rb") as f:
        shape = _npy_header(path, f, limits)
    if not math.prod(shape):
        return cast(np.ndarray, np.load(path, allow_pickle=False))
    return cast(np.ndarray, np.load(path, mmap_mode="r", allow_pickle=False))


def _read_npz(
    path: Path, key: str | None, limits: _Limits
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
                shapes[k] = _npy_header(path, f, limits)
    if key is None:
        images = [k for k in keys if 2 <= len(shapes[k]) <= 4]
        key = "x_train" if "x_train" in keys else (images[0] if images else keys[0])
    with np.load(path, allow_pickle=False) as npz:
        return npz[key], key, keys


def _read_into(f: io.BufferedIOBase, buffer: memoryview, chunk: int = 1 << 24) -> int:
    """Fill `buffer` from file `f` a chunk at a time (no second copy of the data in memory).

    Return the bytes read, fewer at the end of the file.
    """
    got = 0
    while got < len(buffer):
        n = f.readinto(buffer[got : got + chunk])
        if not n:
            break
        got += n
    return got


def _read_idx(path: Path, limits: _Limits) -> np.ndarray:
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
        dtype = np.dtype(_IDX_TYPES[head[2]])
        limits.check(path, dims, dtype)
        a = np.empty(dims, dtype)
        want = a.nbytes
        held = _read_into(f, a.data.cast("B")) + len(f.read(1))
    if held != want:
        raise LoadError(
            path,
            f"IDX header declares {' x '.join(map(str, dims))} values ({want:,} bytes) but the "
            f"file holds {held:,} bytes of data",
        )
    return a if dtype.isnative else a.byteswap(inplace=True).view(dtype.newbyteorder("="))


def _png_header(path: Path, limits: _Limits) -> None:
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise LoadError(path, "is not a PNG file (no PNG signature)")
    width, height, depth, color = struct.unpack(">IIBB", head[16:26])
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(color, 1)
    limits.check(path, (height, width, channels), np.dtype(np.uint16 if depth == 16 else np.uint8))
    if depth == 16 and color != 0:
        kind = "grey+alpha" if color == 4 else "colour"
        raise LoadError(
            path,
            f"is a 16-bit {kind} PNG, which the image reader would silently cut to 8 bits; "
            "save it as 16-bit TIFF or .npy",
        )


class _KeptLog(logging.Filter):
    """Swallow and keep every record, whichever thread logs it (tifffile decodes in a pool)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.messages.append(record.getMessage())
        return False


@contextmanager
def _quiet_tifffile(path: Path) -> Iterator[None]:
    """Keep tifffile's log lines off stderr; when reading fails, the first joins the reason."""
    logger = logging.getLogger("tifffile")
    log = _KeptLog()
    logger.addFilter(log)
    try:
        yield
    except (LoadError, PermissionError, MemoryError):
        raise
    except Exception as exc:
        if not log.messages:
            raise
        raise _unreadable(path, exc, f" (tifffile: {log.messages[0]})") from exc
    finally:
        logger.removeFilter(log)


def _read_tiff(path: Path, limits: _Limits) -> np.ndarray:
    import tifffile

    with _quiet_tifffile(path), tifffile.TiffFile(path) as tif:
        pages = tif.pages
        if len(pages) == 0:
            raise LoadError(path, "holds no images")
        shapes = [p.shape for p in pages]
        # a dtype of None means tifffile cannot decode the samples, which asarray() reports
        dtype = np.result_type(*(np.dtype(p.dtype or np.uint8) for p in pages))
        limits.check(path, (len(shapes), *shapes[0]), dtype)
        if len(set(shapes)) != 1:
            raise LoadError(path, f"pages differ in size ({shapes[0]} and others)")
        if len(pages) == 1:
            return pages[0].asarray()
        out = np.empty((len(pages), *shapes[0]), dtype)  # filled page by page: no second copy
        for i, page in enumerate(pages):
            out[i] = page.asarray()
    return out


class _PillowLimit:
    """Lift Pillow's own pixel limit while any thread opens an image.

    It is restored after the last one: NormScope's limits, checked from the header first, are the
    only ones.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: int | None = None

    @contextmanager
    def lifted(self) -> Iterator[None]:
        from PIL import Image

        with self._lock:
            if self._users == 0:
                self._saved = Image.MAX_IMAGE_PIXELS
                Image.MAX_IMAGE_PIXELS = None
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    Image.MAX_IMAGE_PIXELS = self._saved


_PILLOW_LIMIT = _PillowLimit()
#: NumPy dtypes of Pillow's modes that are not 8 bits per band.
_PILLOW_DTYPES = {"1": "?", "I": "i4", "F": "f4"} | dict.fromkeys(
    ("I;16", "I;16B", "I;16L", "I;16N"), "u2"
)


def _read_image(path: Path, limits: _Limits) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        return _read_tiff(path, limits)
    if suffix == ".png":
        _png_header(path, limits)
    import imageio.v3 as iio
    from PIL import Image

    with _PILLOW_LIMIT.lifted():
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1) if suffix in ANIMATED_SUFFIXES else 1
            mode = im.mode
            bands = len(im.getbands())
            if mode in ("P", "PA"):  # a palette opens as RGB, or RGBA with transparency
                bands = 4 if mode == "PA" or "transparency" in im.info else 3
            shape = (
                (im.height, im.width, bands)
                if frames == 1
                else (frames, im.height, im.width, bands)
            )
            limits.check(path, shape, np.dtype(_PILLOW_DTYPES.get(mode, "u1")))
        # every frame of an animation, CMYK as RGB and the EXIF orientation applied, as a
        # viewer shows the image
        a = iio.imread(
            path,
            index=... if frames > 1 else 0,  # type: ignore[arg-type]  # ...: every frame
            mode="RGB" if mode == "CMYK" else None,
            rotate=True,
        )
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    return a


def _read_folder(path: Path, limits: _Limits) -> np.ndarray:
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise LoadError(path, f"holds no images ({', '.join(IMAGE_SUFFIXES)})")
    first = _read_file(files[0], None, limits)[0]
    limits.check(path, (len(files), *first.shape), first.dtype)
    out = np.empty((len(files), *first.shape), first.dtype)
    out[0] = first
    for i, f in enumerate(files[1:], start=1):
        a = _read_file(f, None, limits)[0]
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
    path: Path, key: str | None, limits: _Limits
) -> tuple[np.ndarray, str | None, tuple[str, ...]]:
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise LoadError(path, "is empty (0 bytes)")
    if suffix == ".npy":
        return _read_npy(path, limits), None, ()
    if suffix == ".npz":
        return _read_npz(path, key, limits)
    if _is_idx(path):
        return _read_idx(path, limits), None, ()
    if suffix in IMAGE_SUFFIXES:
        return _read_image(path, limits), None, ()
    raise LoadError(
        path,
        f"has an unknown extension {suffix or '(none)'!r}; NormScope opens "
        f"{', '.join(IMAGE_SUFFIXES + ARRAY_SUFFIXES)}, MNIST IDX files and folders of images",
    )


def load(
    source: str | os.PathLike[str],
    *,
    key: str | None = None,
    roles: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
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
    max_bytes : int, optional
        Refuse files whose decoded array would take more bytes than this, before reading them.
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
        try:
            with as_file(files("normscope.resources") / SAMPLES[name]) as file:
                inner = load(
                    file,
                    roles=roles,
                    max_pixels=max_pixels,
                    max_bytes=max_bytes,
                    drop_alpha=drop_alpha,
                )
        except LoadError as exc:
            raise LoadError(text, exc.reason) from None
        return Loaded(inner.array, inner.roles, text, name)
    if not text:
        raise LoadError(text, "the path is empty: name a file, a folder or sample:NAME")
    path = Path(text)
    limits = _Limits(max_pixels, max_bytes)
    keys: tuple[str, ...] = ()
    try:
        if not path.exists():
            raise LoadError(path, f"no such file or folder ({text})")
        if path.is_dir():
            array = _read_folder(path, limits)
        else:
            array, key, keys = _read_file(path, key, limits)
    except LoadError:
        raise
    except PermissionError:
        raise LoadError(path, "cannot be read: permission denied") from None
    except MemoryError:
        raise LoadError(path, "is too large to fit in memory") from None
    except Exception as exc:  # every reader's own failure becomes one readable reason
        raise _unreadable(path, exc) from exc
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
