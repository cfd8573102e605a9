"""A rank diff and a diagnosis fed a chunk of whole images at a time (:class:`RankTally`).

Re-exported by :mod:`core.ranks`.
"""

from __future__ import annotations

import numpy as np

from normscope.core._rank_counts import (
    Diagnosis,
    RankDiff,
    _as_groups,
    _counts,
    _diff,
    _layout,
    image_chunks,
    rank_preserving,
)
from normscope.core._rank_numpy import _Counts
from normscope.core.roles import SCOPES, Scope, scope_axes


class RankTally:
    """A rank diff and a diagnosis of an array fed a chunk of whole images at a time, in order.

    The chunks come from :func:`image_chunks`, so that the array's normalization need never be held
    whole.

    Parameters
    ----------
    shape : tuple of int
        The whole array's shape.
    roles : str
        Its axis roles.
    scope : str or tuple of int, optional
        The scope of :meth:`diff`; with more than one chunk it may not span the N axis.
        Without it, only :meth:`diagnosis` is made.

    Examples
    --------
    >>> from normscope.core.ranks import diagnose, rank_diff
    >>> x = np.array([[[1, 10], [0, 10]], [[3, 4], [5, 6]]], np.uint8)
    >>> y = x / np.linalg.norm(x, 2, axis=1, keepdims=True)
    >>> tally = RankTally(x.shape, "NHW", "row")
    >>> for chunk in image_chunks(x.shape, "NHW", elements=4):
    ...     tally.add(x[chunk], y[chunk])
    >>> tally.diff() == rank_diff(x, y, scope="row", roles="NHW")
    True
    >>> tally.diagnosis() == diagnose(x, y, roles="NHW")
    True
    """

    def __init__(self, shape: tuple[int, ...], roles: str, scope: Scope | None = None) -> None:
        self._shape, self._roles, self._scope = tuple(shape), roles, scope
        self._layout = None if scope is None else _layout(self._shape, scope, roles)
        self._counts: list[_Counts] = []
        self._images: list[int] = []  # images in each chunk
        self._fits = {s: scope_axes(s, roles) is not None for s in SCOPES}
        # per scope: False once a chunk flips a pair, True once one compares a pair without
        # flipping, None while every chunk so far had no pair to compare (NaN everywhere)
        self._preserved: dict[str, bool | None] = dict.fromkeys(SCOPES)
        self._flips: list[np.ndarray] = []
        self._pairs = self._nan_pixels = 0
        self._values: list[tuple[np.ndarray, np.ndarray]] = []  # for "all" across chunks

    def add(self, before: np.ndarray, after: np.ndarray) -> None:
        """Count the next chunk: `before` and its normalization `after`, whole images."""
        b, a = np.asarray(before), np.asarray(after)
        roles = self._roles
        counts = None
        if self._layout is not None:
            n_axis = roles.index("N") if "N" in roles else None
            if self._counts and (n_axis is None or n_axis in self._layout.axes):
                raise ValueError(f"scope {self._scope!r} spans the images: add one chunk only")
            assert self._scope is not None  # a layout is made from a scope
            counts = _counts(*_as_groups(b, a, self._scope, roles)[:2], False, "auto")
            self._counts.append(counts)
            self._images.append(1 if n_axis is None else b.shape[n_axis])
        parts = image_chunks(b.shape, roles)
        if self._fits["image"]:
            if counts is not None and self._scope == "image":  # the counts are per image
                flips = [_flips_of(counts)]
            else:
                flips = [_image_flips(b[p], a[p], roles) for p in parts]
            for flipped, broken, pairs, nan_pixels in flips:
                self._flips.append(flipped)
                self._pairs += pairs
                self._nan_pixels += nan_pixels
                if flipped.any() or broken.any():
                    self._preserved["image"] = self._preserved["all"] = False
                elif pairs:
                    self._preserved["image"] = _kept(self._preserved["image"], True)
        for scope in ("all", "channel", "row", "column"):
            for p in parts:
                if not self._fits[scope] or self._preserved[scope] is False:
                    break
                bp, ap = b[p], a[p]
                kept = rank_preserving(bp, ap, scope=scope, roles=roles)
                self._preserved[scope] = _kept(self._preserved[scope], kept)
                if scope == "all" and kept and bp.shape != self._shape:
                    self._values.append(_value_pairs(bp, ap))

    def diff(self) -> RankDiff:
        """The rank diff within the scope, over every chunk added."""
        layout = self._layout
        if layout is None:
            raise ValueError("a tally made without a scope has no rank diff")
        counts = self._counts[0]
        if len(self._counts) > 1:
            kept = layout.order[: len(layout.kept_shape)]
            pos = kept.index(self._roles.index("N"))

            def joined(name: str) -> np.ndarray:
                parts = []
                for c, images in zip(self._counts, self._images, strict=True):
                    shape = list(layout.kept_shape)
                    shape[pos] = images
                    parts.append(getattr(c, name).reshape(shape))
                return np.concatenate(parts, axis=pos).ravel()

            nan_pixels = sum(c.nan_pixels for c in self._counts)
            counts = _Counts(
                valid=joined("valid"),
                discordant=joined("discordant"),
                ties_x=joined("ties_x"),
                ties_y=joined("ties_y"),
                kept=joined("kept"),
                sxy=joined("sxy"),
                sxx=joined("sxx"),
                syy=joined("syy"),
                nan_pixels=nan_pixels,
            )
        assert self._scope is not None  # a layout is made from a scope
        return _diff(counts, layout, self._scope)

    def diagnosis(self) -> Diagnosis:
        """Where ranks are kept, over every chunk added (see :func:`diagnose`)."""
        preserved = dict(self._preserved)
        if preserved["all"] and self._values:
            preserved["all"] = _nondecreasing(self._values)
        if not self._fits["image"]:
            return Diagnosis(preserved, None, None)
        if preserved["image"] is None and not (self._pairs == 0 and self._nan_pixels > 0):
            preserved["image"] = True  # images of one pixel: nothing to flip
        per_image = np.concatenate(self._flips) if self._flips else np.zeros(0, np.int64)
        worst = int(np.argmax(per_image)) if per_image.any() else None
        return Diagnosis(preserved, int(np.count_nonzero(per_image)), worst)


def _kept(so_far: bool | None, chunk: bool | None) -> bool | None:
    """Whether ranks are kept over the chunks so far and one more.

    False once any chunk flips a pair; None while no chunk had a pair to compare.
    """
    if so_far is False or chunk is False:
        return False
    return True if so_far or chunk else None


def _image_flips(
    before: np.ndarray, after: np.ndarray, roles: str
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Discordant pairs and broken ties of each image.

    Also the pairs compared and the NaN pixels left out, over all of them.
    """
    return _flips_of(_counts(*_as_groups(before, after, "image", roles)[:2], False, "auto"))


def _flips_of(c: _Counts) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Per-image flips of per-image counts, as :func:`_image_flips` gives them."""
    pairs = int((c.valid * (c.valid - 1) // 2).sum())
    return c.discordant, c.ties_x - c.kept, pairs, c.nan_pixels


def _value_pairs(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of `before`, each with the `after` value of one of its pixels.

    For a chunk where `after` is a function of `before`; NaN pixels in either are left out.
    """
    b, a = np.ravel(before), np.ravel(after)
    b = b.view(np.uint8) if b.dtype.kind == "b" else b
    nan = np.zeros(b.shape, bool)
    for v in (b, a):
        if v.dtype.kind == "f":
            nan |= np.isnan(v)
    if nan.any():
        b, a = b[~nan], a[~nan]
    values, first = np.unique(b, return_index=True)
    return values, a[first]


def _nondecreasing(pairs: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Whether the (before, after) value pairs of all chunks make one non-decreasing function."""
    b = np.concatenate([p[0] for p in pairs])
    a = np.concatenate([p[1] for p in pairs])
    order = np.lexsort((a, b))
    b, a = b[order], a[order]
    same = b[1:] == b[:-1]
    return bool((a[1:] >= a[:-1]).all() and (a[1:][same] == a[:-1][same]).all())
