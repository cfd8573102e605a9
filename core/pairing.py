"""Your own normalization: an "after" array you supply, compared with its original.

:class:`AfterArray` stands where a :class:`~normscope.core.normalize.Normalization` would in
:func:`~normscope.core.report.build_report`, :func:`~normscope.core.report.build_comparison`
and the window: its :meth:`AfterArray.apply` gives the array it holds instead of computing one.
:func:`pair_after` checks an after array against its original and puts it in the original's
layout (``after_roles`` explain a different one, e.g. CHW from ``ToTensor()`` for an HWC
original); each mismatch is a :class:`PairError` of one line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

import numpy as np

from normscope.core.roles import check_roles

__all__ = ["AfterArray", "PairError", "guess_after_roles", "pair_after"]


class PairError(ValueError):
    """An original and an after array that cannot be compared.

    The message says why in one line.
    """


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape)) or "a scalar"


def _check_numbers(a: np.ndarray, what: str) -> None:
    if a.dtype.kind not in "uifb":
        raise PairError(
            f"{what} holds {a.dtype} values: compare arrays of real numbers (bool, int, float)"
        )


def pair_after(
    before: np.ndarray,
    after: object,
    roles: str,
    *,
    after_roles: str | None = None,
    name: str = "after",
) -> np.ndarray:
    """`after` checked against `before` and put in `before`'s layout.

    Parameters
    ----------
    before : ndarray
        The original, whose axes `roles` names (``"HW"``, ``"NHWC"``, ...).
    after : array_like
        What the normalization made of it: the same shape, or the same axes in another order
        that `after_roles` names.
    roles : str
    after_roles : str, optional
        The roles of `after`'s axes when they are ordered differently, e.g. ``"CHW"``.
    name : str
        What the messages call `after` (a file name, say).

    Returns
    -------
    ndarray
        `after` (a view, transposed when `after_roles` differ from `roles`).

    Raises
    ------
    PairError
        One line each: values that are not real numbers, shapes that do not match, NaN in
        `after` where `before` has a number (no rank exists there).

    Examples
    --------
    >>> x = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)  # HWC
    >>> pair_after(x, np.moveaxis(x / 255, -1, 0), "HWC", after_roles="CHW").shape
    (2, 4, 3)
    >>> pair_after(x, x[:, :2], "HWC")
    Traceback (most recent call last):
    ...
    normscope.core.pairing.PairError: after is 2 x 2 x 3 but the original is 2 x 4 x 3 (HWC)
    >>> pair_after(x[..., 0], np.full((2, 4), np.nan), "HW")
    Traceback (most recent call last):
    ...
    normscope.core.pairing.PairError: after has NaN at 8 pixels where the original has a number, the first at (0, 0)
    """  # noqa: E501
    _check_numbers(np.asarray(before), "the original")
    y = np.asarray(after)
    _check_numbers(y, name)
    given = _shape(y.shape) + ("" if after_roles is None else f" ({after_roles.upper()})")
    if after_roles is not None:
        try:
            order = check_roles(after_roles, y.ndim)
        except ValueError as exc:
            raise PairError(f"after_roles: {exc}") from None
        if sorted(order) != sorted(roles):
            raise PairError(
                f"{name}'s roles {order} do not name the same axes as the original's {roles}"
            )
        y = np.transpose(y, [order.index(r) for r in roles])
    if y.shape != before.shape:
        hint = ""
        if after_roles is None and y.ndim > 1 and sorted(y.shape) == sorted(before.shape):
            hint = "; if its axes are in another order, give its axis roles (after roles, e.g. CHW)"
        raise PairError(
            f"{name} is {given} but the original is {_shape(before.shape)} ({roles}){hint}"
        )
    if y.dtype.kind == "f":
        lost = np.isnan(y)
        if before.dtype.kind == "f":
            lost &= ~np.isnan(before)
        count = int(np.count_nonzero(lost))
        if count:
            first = tuple(int(i) for i in np.unravel_index(np.argmax(lost), lost.shape))
            raise PairError(
                f"{name} has NaN at {count:,} pixels where the original has a number, the "
                f"first at {first if len(first) > 1 else first[0]}"
            )
    return y


def guess_after_roles(
    shape: tuple[int, ...], roles: str, after_shape: tuple[int, ...]
) -> str | None:
    """The roles of an after array's axes when its shape is the original's in another order.

    Only when one order (keeping H before W, as images are rarely transposed) explains it; else
    None.

    Examples
    --------
    >>> guess_after_roles((256, 384, 3), "HWC", (3, 256, 384))  # ToTensor()
    'CHW'
    >>> guess_after_roles((8, 32, 32, 3), "NHWC", (8, 3, 32, 32))
    'NCHW'
    >>> guess_after_roles((4, 4, 4), "HWC", (4, 4, 4)) is None  # nothing tells the axes apart
    True
    """
    if tuple(shape) == tuple(after_shape) or len(shape) != len(after_shape):
        return None
    size = dict(zip(roles, shape, strict=True))
    fits = {
        "".join(order)
        for order in permutations(roles)
        if tuple(size[r] for r in order) == tuple(after_shape)
        and order.index("H") < order.index("W")
    }
    return fits.pop() if len(fits) == 1 else None


@dataclass(frozen=True, eq=False)
class AfterArray:
    """An after array in its original's layout, standing where a ``Normalization`` would.

    Make it with :func:`pair_after`'s checks by :meth:`AfterArray.pair`. Two are equal only
    when they are the same object (the array is not compared).

    Examples
    --------
    >>> x = np.array([[3, 1], [2, 4]], np.uint8)
    >>> given = AfterArray.pair(x, x / 4.0, "HW", path="after.npy")
    >>> given.describe(x.shape, "HW"), given.code("HW")
    ('from file: after.npy', '')
    >>> given.apply(x) is given.array
    True
    """

    array: np.ndarray
    path: str | None = None  # the file it came from, or None for an array in memory
    label: str = "an array"  # what it is when there is no file, e.g. a function's name

    method = "file"  # where Normalization's method and options are read
    preset = None
    axis = None
    order = math.nan

    @classmethod
    def pair(
        cls,
        before: np.ndarray,
        after: object,
        roles: str,
        *,
        after_roles: str | None = None,
        path: str | None = None,
        label: str = "an array",
    ) -> AfterArray:
        """`after` checked by :func:`pair_after` against `before`.

        A :class:`PairError` says why it does not fit.
        """
        name = Path(path).name if path is not None else "after"
        y = pair_after(before, after, roles, after_roles=after_roles, name=name)
        return cls(y, path, label)

    @property
    def name(self) -> str:
        """The file's name, or the label."""
        return Path(self.path).name if self.path is not None else self.label

    def resolved_axis(self, ndim: int) -> None:
        """No axes: the array was made elsewhere."""
        return None

    def apply(
        self, image: np.ndarray, *, roles: str | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The after array, for `image` the original it was paired with (of the same shape).

        Nothing is computed: `out` (as in :meth:`Normalization.apply`) is left alone.
        """
        if image.shape != self.array.shape:
            raise PairError(
                f"{self.name} is {_shape(self.array.shape)}: it is the after of a "
                f"{_shape(self.array.shape)} array, not of {_shape(image.shape)}"
            )
        return self.array

    def needs_whole_array(self, roles: str) -> bool:
        """Always: the after array was made elsewhere, from the whole original."""
        return True

    def describe(self, shape: tuple[int, ...], roles: str) -> str:
        """``"from file: after.npy"`` or ``"from a function: <lambda>"``."""
        return f"from file: {self.name}" if self.path is not None else f"from {self.label}"

    def code(self, roles: str) -> str:
        """No line of code: it was made elsewhere."""
        return ""
