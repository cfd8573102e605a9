"""Reports: the verdict of a normalization as plain data, ready for JSON or a picture.

``build_report`` gives the dictionary that ``normscope report --json`` prints and the window's
File > Export Report writes; ``build_comparison`` gathers what a comparison picture shows.
Both only call the rest of core.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from normscope.core._cells import cell_report
from normscope.core.display import display_levels, scale_to_levels, symmetric_levels
from normscope.core.histogram import Histogram, finite_range, histogram
from normscope.core.loading import Loaded
from normscope.core.normalize import (
    METHODS,
    Normalization,
    count_nonfinite_groups,
)
from normscope.core.pairing import AfterArray
from normscope.core.ranks import (
    Diagnosis,
    RankDiff,
    RankTally,
    diagnose,
    image_chunks,
    image_scope,
    rank_compare,
    shift_over_channels,
)
from normscope.core.roles import as_displayed, scope_axes
from normscope.core.wording import VerdictWords, format_axis, verdict_words

__all__ = [
    "NORMALIZED_SUFFIXES",
    "Comparison",
    "build_comparison",
    "build_report",
    "default_export_name",
    "tally_ranks",
    "write_atomically",
    "write_normalized",
]

#: Where an after array comes from: a normalization computed here, or one made elsewhere.
After = Normalization | AfterArray

_CHUNK_FLOOR = 1 << 16  # values: smaller chunks of images cost more time than they save

#: What :func:`write_normalized` writes: exact arrays (.npy, TIFF) or a 16-bit PNG view.
NORMALIZED_SUFFIXES = (".npy", ".tif", ".tiff", ".png")


def _num(value: float) -> float | None:
    """A JSON-safe float: NaN and infinities become None."""
    return float(value) if math.isfinite(value) else None


def _pick(loaded: Loaded, index: int | None) -> np.ndarray:
    """The array narrowed to image `index` of a batch, or the whole array.

    The index is checked; the N axis is kept, of length 1, so the roles still apply.
    """
    if index is None or "N" not in loaded.roles:
        return loaded.array
    n = loaded.roles.index("N")
    size = loaded.array.shape[n]
    if not 0 <= index < size:
        raise IndexError(f"image index {index} is out of range: the batch has {size} images")
    return np.take(loaded.array, [index], axis=n)


def _pick_normalized(
    loaded: Loaded, normalization: After, index: int | None, *, keep_axis: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The array narrowed by :func:`_pick` and its normalization as the whole-array call gives it.

    Only image `index` is normalized when the images are independent.
    """
    x = _pick(loaded, index)
    roles = loaded.roles
    if x is loaded.array or not normalization.needs_whole_array(roles):
        y = normalization.apply(x, roles=roles)
    else:
        assert index is not None  # x is the whole array otherwise
        y = np.take(normalization.apply(loaded.array, roles=roles), [index], axis=roles.index("N"))
    if keep_axis or x is loaded.array:
        return x, y
    return np.take(x, 0, axis=roles.index("N")), np.take(y, 0, axis=roles.index("N"))


class _OutputSummary:
    """The finite minimum, maximum and mean of a normalized array, fed a chunk at a time."""

    _SCALE = 2.0**-64  # the sum of values near float64's maximum overflows; scaled, it fits

    def __init__(self) -> None:
        self.dtype = np.dtype(np.float64)
        self.size = self.count = 0
        self.lo, self.hi, self.total, self.scaled = math.inf, -math.inf, 0.0, 0.0

    def add(self, y: np.ndarray) -> None:
        self.dtype, self.size = y.dtype, self.size + y.size
        count = finite_range(y)[2] if y.dtype.kind == "f" else y.size
        finite = y if count == y.size else y[np.isfinite(y)]  # a copy only with NaN or inf
        if count:
            self.lo, self.hi = min(self.lo, finite.min()), max(self.hi, finite.max())
            with np.errstate(over="ignore"):
                total = float(finite.sum(dtype=np.float64))
            if math.isfinite(total):
                self.scaled += total * self._SCALE
            else:  # this chunk's own sum overflows: sum it scaled (a copy, only here)
                self.scaled += float((finite * self._SCALE).sum(dtype=np.float64))
            self.total += total
            self.count += count

    def mean(self) -> float | None:
        """The mean of the finite values, also where their sum overflows float64."""
        if not self.count:
            return None
        if math.isfinite(self.total):
            return _num(self.total / self.count)
        return _num(self.scaled / self.count / self._SCALE)

    def as_dict(self) -> dict[str, Any]:
        some = self.count > 0
        return {
            "dtype": self.dtype.name,
            "min": _num(self.lo) if some else None,
            "max": _num(self.hi) if some else None,
            "mean": self.mean(),
            "nonfinite": self.size - self.count,
        }


def tally_ranks(
    x: np.ndarray,
    roles: str,
    normalization: After,
    scope: str | None = None,
    *,
    normalized: np.ndarray | None = None,
    each: Callable[[np.ndarray], object] | None = None,
) -> RankTally:
    """The :class:`~core.ranks.RankTally` of `x` and its normalization, within `scope`.

    With `scope` None, the diagnosis only. Made a chunk of images at a time where the scope allows.

    Each chunk of images is normalized on its own, unless `normalized` (the normalization of
    the whole `x`) is given; so pass it when the images depend on each other (see
    :meth:`Normalization.needs_whole_array`). `each` is called with the normalization of
    every chunk.
    """
    axes = None if scope is None else scope_axes(scope, roles)
    n_axis = roles.index("N") if "N" in roles else None
    tally = RankTally(x.shape, roles, scope)
    chunks: list[tuple[slice, ...]] = [(slice(None),)]
    if n_axis is not None and (axes is None or n_axis not in axes):
        # chunks of an eighth of the batch at most, so their temporaries stay a fraction of it
        chunks = image_chunks(x.shape, roles, max(_CHUNK_FLOOR, x.size // 8))
    for chunk in chunks:
        part = (
            normalization.apply(x[chunk], roles=roles) if normalized is None else normalized[chunk]
        )
        tally.add(x[chunk], part)
        if each is not None:
            each(part)
        del part
    return tally


def default_scope(roles: str) -> str:
    """``"image"`` for a batch, ``"all"`` for one image."""
    return "image" if "N" in roles else "all"


def build_report(
    loaded: Loaded,
    normalization: After,
    *,
    scope: str | None = None,
    index: int | None = None,
) -> dict[str, Any]:
    """The verdict and metrics of `normalization` applied to `loaded`, as JSON-safe data.

    Parameters
    ----------
    loaded : Loaded
    normalization : Normalization or AfterArray
        The normalization to make, or the after array made elsewhere.
    scope : str, optional
        Rank scope; default ``"image"`` for a batch and ``"all"`` for one image.
    index : int, optional
        Report on this image of a batch only (normalized as part of the whole call).

    Returns
    -------
    dict
        Keys ``input``, ``normalization``, ``output``, ``ranks``, ``preserved_within``,
        ``batch`` (None for one image, or one `index` of a batch); see the README for each
        field. Values that do not exist are None.

    Examples
    --------
    >>> from normscope.core.loading import load
    >>> r = build_report(load("sample:digits"), Normalization(method="keras", axis=1))
    >>> r["preserved_within"]
    {'all': False, 'image': False, 'channel': None, 'row': False, 'column': True}
    >>> r["ranks"]["pairs"]["discordant"] > 0
    True

    Any after array, made elsewhere:

    >>> x = load("sample:digits")
    >>> after = AfterArray.pair(x.array, x.array / 255.0, x.roles, path="scaled.npy")
    >>> r = build_report(x, after)
    >>> r["normalization"], r["ranks"]["rank_preserving"]
    ({'method': 'file', 'path': 'scaled.npy', 'description': 'from file: scaled.npy'}, True)
    """
    roles = loaded.roles
    scope = scope or default_scope(roles)
    axes = scope_axes(scope, roles)
    if axes is None:
        raise ValueError(f"scope {scope!r} does not fit an array with roles {roles!r}")
    x = _pick(loaded, index)
    cells = None
    if isinstance(normalization, Normalization) and (
        index is None or not normalization.needs_whole_array(roles)
    ):  # per-group statistics from cells: no output array at all
        cells = cell_report(x, roles, normalization, scope)
    if cells is not None:
        diff, diag = cells.diff, cells.diagnosis
        output = {
            "dtype": "float64",
            "min": _num(cells.output_min),
            "max": _num(cells.output_max),
            "mean": _num(cells.output_mean),
            "nonfinite": 0,
        }
    else:
        diff, diag, output = _tally_report(loaded, normalization, scope, index)
    axis = normalization.resolved_axis(x.ndim)
    uses_axis = isinstance(normalization, Normalization) and METHODS[normalization.method].uses_axis
    bad_groups = count_nonfinite_groups(loaded.array, axis=axis if uses_axis else None)
    return {
        "input": {
            "path": loaded.source,
            "shape": list(loaded.array.shape),
            "dtype": loaded.array.dtype.name,
            "roles": roles,
            "index": index,
            "nonfinite_groups": bad_groups,
        },
        "normalization": _normalization_dict(normalization, axis, loaded.array.shape, roles),
        "output": output,
        "ranks": _ranks_dict(diff),
        "preserved_within": dict(diag.preserved),
        "batch": None
        if diag.images_with_inversions is None or index is not None
        else {
            "images": x.shape[roles.index("N")],
            "images_with_inversions": diag.images_with_inversions,
            "worst_image": diag.worst_image,
        },
    }


def _tally_report(
    loaded: Loaded, normalization: After, scope: str, index: int | None
) -> tuple[RankDiff, Diagnosis, dict[str, Any]]:
    """The rank diff, diagnosis and output summary, counted pixel by pixel."""
    roles = loaded.roles
    if normalization.needs_whole_array(roles):
        x, y = _pick_normalized(loaded, normalization, index, keep_axis=True)
    else:  # each chunk of images normalized on its own: never the whole output at once
        x, y = _pick(loaded, index), None
    output = _OutputSummary()
    tally = tally_ranks(x, roles, normalization, scope, normalized=y, each=output.add)
    del y
    return tally.diff(), tally.diagnosis(), output.as_dict()


def _normalization_dict(
    normalization: After, axis: tuple[int, ...] | None, shape: tuple[int, ...], roles: str
) -> dict[str, Any]:
    description = normalization.describe(shape, roles)
    if isinstance(normalization, AfterArray):
        method = "file" if normalization.path is not None else "array"
        return {"method": method, "path": normalization.path, "description": description}
    return {
        "method": normalization.method,
        "preset": normalization.preset,
        "axis": None if axis is None else list(axis),
        "order": _num(normalization.order),
        "description": description,
        "code": normalization.code(roles),
    }


def _ranks_dict(diff: RankDiff) -> dict[str, Any]:
    p = diff.pairs
    return {
        "scope": diff.scope if isinstance(diff.scope, str) else list(diff.scope),
        "groups": diff.groups,
        "groups_with_inversions": diff.groups_with_inversions,
        "pairs": {
            "total": p.total,
            "concordant": p.concordant,
            "discordant": p.discordant,
            "ties_broken": p.ties_broken,
            "ties_created": p.ties_created,
            "ties_kept": p.ties_kept,
        },
        "spearman": {"mean": _num(diff.spearman_mean), "min": _num(diff.spearman_min)},
        "kendall_tau_b": {"mean": _num(diff.kendall_mean), "min": _num(diff.kendall_min)},
        "undefined_groups": diff.undefined_groups,
        "nan_pixels": diff.nan_pixels,
        "rank_preserving": diff.rank_preserving,
        "strictly_rank_preserving": diff.strictly_rank_preserving,
    }


@dataclass(frozen=True, eq=False)
class Comparison:
    """Everything a comparison picture of one image shows."""

    original: np.ndarray  # (H, W) or (H, W, C) as shown
    normalized: np.ndarray
    displacement: np.ndarray  # (H, W) rank shift, averaged over channels
    original_levels: tuple[float, float]
    normalized_levels: tuple[float, float]
    shift_levels: tuple[float, float]
    hist_original: Histogram
    hist_normalized: Histogram
    hist_shift: Histogram
    verdict: VerdictWords
    caption: tuple[str, ...]


def build_comparison(
    loaded: Loaded,
    normalization: After,
    *,
    index: int | None = None,
    scope: str | None = None,
    channel: int | None = None,
    original_levels: str = "dtype",
) -> Comparison:
    """The comparison of one image (image `index` of a batch, default 0).

    The whole array is normalized as the call would (statistics across images included);
    the picture then shows one image, and its ranks are compared within `scope` of that
    image (default: the whole image). With `channel`, the panels and histograms show that
    channel of a colour image; the verdict still counts every channel. `original_levels` is
    ``"dtype"`` or ``"data"``, as :func:`core.display.display_levels` takes it.
    """
    roles = loaded.roles
    if index is None and "N" in roles:
        index = 0
    before, after = _pick_normalized(loaded, normalization, index, keep_axis=False)
    image_roles = roles.replace("N", "")
    before, _ = as_displayed(before, image_roles)
    after, image_roles = as_displayed(after, image_roles)
    diff, maps = rank_compare(before, after, scope=image_scope(scope), roles=image_roles)
    diag = diagnose(before, after, roles=image_roles)
    verdict = verdict_words(diff, diag.summary())
    where = f"{loaded.name}" + (f", image {index}" if "N" in roles else "")
    if channel is not None and "C" in image_roles:
        if not 0 <= channel < before.shape[-1]:
            raise ValueError(f"channel {channel} is not in an image of {before.shape[-1]}")
        before, after, shift = (v[..., channel] for v in (before, after, maps.displacement))
        where += f", channel {channel}"
    else:
        shift = shift_over_channels(maps, image_roles)
    # a compact copy: the maps' buffer (partners beside each shift) and their sorted keys go
    shift = np.array(shift, dtype=np.float32)
    del maps
    how = normalization.describe(loaded.array.shape, roles)
    if isinstance(normalization, AfterArray):
        caption: tuple[str, ...] = (f"{where} · {how}",)
    else:
        what = normalization.preset or normalization.method
        caption = (f"{where} · {what} · {how}", normalization.code(roles))
    return Comparison(
        original=before,
        normalized=after,
        displacement=shift,
        original_levels=display_levels(before, mode=original_levels),
        normalized_levels=display_levels(after, mode="data"),
        shift_levels=symmetric_levels(shift),
        hist_original=histogram(before),
        hist_normalized=histogram(after),
        hist_shift=histogram(shift, bins=101),
        verdict=verdict,
        caption=caption,
    )


def default_export_name(name: str, normalization: After, suffix: str = ".png") -> str:
    """A file name built from the input, the method or preset and the axis.

    Against an after file, built from the input's and the after file's names instead.

    Examples
    --------
    >>> default_export_name("digits", Normalization(method="keras", axis=1))
    'digits_keras_axis1.png'
    >>> default_export_name("cam.png", Normalization(method="minmax", axis=None), ".json")
    'cam_minmax_axisnone.json'
    >>> x = np.zeros((2, 2))
    >>> default_export_name("cam.npy", AfterArray.pair(x, x, "HW", path="/tmp/cam_tv.npy"))
    'cam_vs_cam_tv.png'
    """
    stem = name.rsplit(".", 1)[0] if "." in name else name
    if isinstance(normalization, AfterArray):
        raw = f"{stem}_vs_{Path(normalization.name).stem}"
    else:
        what = normalization.preset or normalization.method
        raw = f"{stem}_{what}_axis{format_axis(normalization.axis, joiner='-')}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw) + suffix


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class WriteError(OSError):
    """An output could not be written; the message names it and says why."""


def write_atomically(path: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Call ``write(temporary_path)`` beside `path`, then rename it into place.

    Nothing half-written is ever left at `path`: if `write` fails, or an exception such as
    one raised by a signal handler interrupts it, the temporary file is removed and `path`
    is untouched.

    Raises
    ------
    WriteError
        When the file cannot be written: ``"PATH: cannot write: REASON"``, never naming the
        temporary file.
    """
    out = Path(path)
    if out.is_dir():
        raise WriteError(f"{out}: cannot write: it is a folder")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".normscope-", suffix=out.suffix, dir=out.parent)
        os.close(fd)
        write(tmp)
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        mode = out.stat().st_mode & 0o777 if out.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, out)
    except OSError as exc:
        raise WriteError(f"{out}: cannot write: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return out


def write_normalized(y: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write a normalized array: ``.npy`` and ``.tif``/``.tiff`` exactly, ``.png`` as a view.

    The PNG is a 16-bit view that maps the array's own finite range to 0 … 65535 (one
    channel only); use ``.npy`` or TIFF to keep the values.

    Raises
    ------
    ValueError
        For another suffix, or a multi-channel array written as PNG.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix == ".npy":

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.save(f, y, allow_pickle=False)

    elif suffix in (".tif", ".tiff"):
        import tifffile

        def write(tmp: str) -> None:
            tifffile.imwrite(tmp, y, photometric="minisblack")

    elif suffix == ".png":
        import imageio.v3 as iio

        if y.ndim != 2:
            raise ValueError(
                f"{out.name}: a 16-bit PNG view holds one 2-D image; write .npy or .tiff"
            )
        view = scale_to_levels(y, display_levels(y, mode="data"), 65535).astype(np.uint16)

        def write(tmp: str) -> None:
            iio.imwrite(tmp, view, extension=".png")

    else:
        raise ValueError(f"{out.name}: write .npy, .tif/.tiff or .png")
    return write_atomically(out, write)
