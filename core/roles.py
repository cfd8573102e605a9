"""Axis roles: which axis of an array is the batch, the rows, the columns, the channels.

Roles are written as a string with one letter per axis, in axis order:

==== ============ ==================
role meaning      one index selects
==== ============ ==================
N    batch        an image
H    height       a row
W    width        a column
C    channel      a channel
==== ============ ==================

so an MNIST batch of shape (60000, 28, 28) has roles ``"NHW"`` and an RGB photo of
shape (512, 512, 3) has roles ``"HWC"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

import numpy as np

__all__ = [
    "DEFAULT_AXIS",
    "ROLE_WORDS",
    "SCOPES",
    "Axis",
    "AxisChoice",
    "DefaultAxis",
    "Scope",
    "as_displayed",
    "check_roles",
    "infer_roles",
    "normalize_axis",
    "scope_axes",
]

#: Plural and singular words for each role, as the window and reports say them.
ROLE_WORDS: dict[str, tuple[str, str]] = {
    "N": ("images", "image"),
    "H": ("rows", "row"),
    "W": ("columns", "column"),
    "C": ("channels", "channel"),
}

#: The standard rank scopes, from the widest to the narrowest.
SCOPES: tuple[str, ...] = ("all", "image", "channel", "row", "column")

Axis: TypeAlias = int | Sequence[int] | None
#: The one sentinel for "the method's own default axis" (Keras' -1, the whole array otherwise).
DefaultAxis: TypeAlias = Literal["default"]
DEFAULT_AXIS: DefaultAxis = "default"
#: An axis as a :class:`core.normalize.Normalization` takes it: an :data:`Axis` or the default.
AxisChoice: TypeAlias = int | tuple[int, ...] | DefaultAxis | None
#: A rank scope: a name of :data:`SCOPES` (checked by :func:`scope_axes`) or the axes themselves.
Scope: TypeAlias = str | Sequence[int]

_CHANNEL_SIZES = (1, 2, 3, 4)


def infer_roles(shape: Sequence[int]) -> str:
    """Guess the role of each axis from an array's shape.

    The rule, in order:

    * 2 axes: ``"HW"`` (one grayscale image).
    * 3 axes: ``"HWC"`` when the last axis has 1 to 4 entries and is the smallest axis
      (an RGB, RGBA, gray+alpha or single-channel image); otherwise ``"NHW"`` (a batch of
      grayscale images, such as MNIST's (60000, 28, 28)).
    * 4 axes: ``"NHWC"``.

    Parameters
    ----------
    shape : sequence of int
        The array's shape.

    Returns
    -------
    roles : str
        One letter of ``"NHWC"`` per axis.

    Raises
    ------
    ValueError
        For fewer than 2 or more than 4 axes.

    Examples
    --------
    >>> infer_roles((60000, 28, 28))
    'NHW'
    >>> infer_roles((480, 640, 3))
    'HWC'
    >>> infer_roles((4, 28, 28))
    'NHW'
    >>> infer_roles((10, 32, 32, 3))
    'NHWC'
    """
    ndim = len(shape)
    if ndim == 2:
        return "HW"
    if ndim == 3:
        last = shape[-1]
        return "HWC" if last in _CHANNEL_SIZES and last < min(shape[:2]) else "NHW"
    if ndim == 4:
        return "NHWC"
    raise ValueError(f"an image array has 2 to 4 axes, this one has {ndim}: shape {tuple(shape)}")


def check_roles(roles: str, ndim: int) -> str:
    """Validate a roles string for an array with `ndim` axes and return it upper-cased.

    H and W are required; N and C are optional; no letter appears twice.

    Examples
    --------
    >>> check_roles("nhw", 3)
    'NHW'
    >>> check_roles("HH", 2)
    Traceback (most recent call last):
    ...
    ValueError: roles 'HH' repeat a letter: each of N, H, W, C may appear once
    """
    up = roles.upper()
    if len(up) != ndim:
        raise ValueError(f"roles {roles!r} name {len(up)} axes but the array has {ndim}")
    if set(up) - set("NHWC"):
        raise ValueError(f"roles {roles!r} may only use the letters N, H, W and C")
    if len(set(up)) != len(up):
        raise ValueError(f"roles {roles!r} repeat a letter: each of N, H, W, C may appear once")
    if "H" not in up or "W" not in up:
        raise ValueError(f"roles {roles!r} need both H (rows) and W (columns)")
    return up


def normalize_axis(axis: Axis, ndim: int) -> tuple[int, ...] | None:
    """Turn an ``axis`` argument into a sorted tuple of non-negative axes.

    ``None`` stays ``None`` (the whole array). Negative axes count from the end, as in numpy.

    Raises
    ------
    ValueError
        For an axis out of range or named twice.

    Examples
    --------
    >>> normalize_axis(-1, 3)
    (2,)
    >>> normalize_axis((2, 1), 3)
    (1, 2)
    >>> normalize_axis(None, 3) is None
    True
    >>> normalize_axis(3, 3)
    Traceback (most recent call last):
    ...
    ValueError: axis 3 is out of range for an array with 3 axes
    """
    if axis is None:
        return None
    items = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, int):
            raise ValueError(f"axis must be an int, a tuple of ints or None, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for an array with {ndim} axes")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axis {axis!r} names the same axis twice")
    return tuple(sorted(out))


def scope_axes(scope: Scope, roles: str) -> tuple[int, ...] | None:
    """The axes that vary inside one group of a rank scope, or None if it does not fit.

    A scope groups pixels whose ranks are compared with each other:

    * ``"all"``: the whole array, every axis;
    * ``"image"``: each image of a batch (all axes but N; needs an N axis);
    * ``"channel"``: each channel of each image (the H and W axes; needs a C axis);
    * ``"row"``: each row of each channel of each image (the W axis);
    * ``"column"``: each column of each channel of each image (the H axis);
    * a sequence of ints: those axes, like ``axis`` in :func:`normalize_axis`.

    So the scope spanned by ``axis=1`` of an ``"NHW"`` batch is ``"column"``: exactly the
    pixels that share one Keras ``normalize(x, axis=1)`` factor.

    Examples
    --------
    >>> scope_axes("column", "NHW")
    (1,)
    >>> scope_axes("image", "NHWC")
    (1, 2, 3)
    >>> scope_axes("channel", "HW") is None
    True
    >>> scope_axes((0, -1), "HWC")
    (0, 2)
    """
    roles = roles.upper()
    ndim = len(roles)
    if not isinstance(scope, str):
        out = normalize_axis(scope, ndim)
        if not out:
            raise ValueError(f"a scope needs at least one axis, got {scope!r}")
        return out
    if scope == "all":
        return tuple(range(ndim))
    if scope == "image":
        return tuple(i for i, r in enumerate(roles) if r != "N") if "N" in roles else None
    if scope == "channel":
        return (roles.index("H"), roles.index("W")) if "C" in roles else None
    if scope == "row":
        return (roles.index("W"),)
    if scope == "column":
        return (roles.index("H"),)
    raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)} or a tuple of axes")


def as_displayed(image: np.ndarray, roles: str) -> tuple[np.ndarray, str]:
    """One image (no N axis) with its axes in display order: rows, columns, then channels.

    A view, not a copy. Ranks and every scope are defined by roles, so they do not change.

    Examples
    --------
    >>> a, r = as_displayed(np.zeros((3, 28, 32)), "CHW")
    >>> a.shape, r
    ((28, 32, 3), 'HWC')
    """
    if "N" in roles:
        raise ValueError(f"as_displayed takes one image, not a batch (roles {roles!r})")
    order = [roles.index(r) for r in "HWC" if r in roles]
    return np.transpose(image, order), "".join(roles[i] for i in order)
