"""Which normalizations to compare side by side, and how a comparison spec is written.

A comparison is a list of normalizations, one tile each. It is either every axis choice of one
method (:func:`axis_choices`: each single axis, each pair, the whole array, and the method's
default) or a list the user writes (:func:`parse_spec`)::

    axes                                   every axis choice of the current method
    keras:1,dtype,minmax:1,2,preset:torchvision.Normalize

Entries are separated by commas. An entry is ``METHOD`` (its default axis), ``METHOD:AXES``
or ``preset:NAME`` (a library preset's name alone works too). ``AXES`` is ``1``, ``-1``,
``none`` (the whole array) or ``default``; numbers that follow it after a comma add axes to
the same entry, so ``minmax:1,2`` is min-max over axes (1, 2), and ``minmax:1,minmax:2`` is two
entries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from normscope.core.normalize import METHODS, PRESETS, Normalization, from_preset
from normscope.core.roles import DEFAULT_AXIS, Axis, AxisChoice, normalize_axis
from normscope.core.wording import format_axis

__all__ = ["AXES_SPEC", "Entry", "axis_choices", "every_axis", "label", "parse_spec"]

#: The spec that means every axis choice of the current method.
AXES_SPEC = "axes"


@dataclass(frozen=True)
class Entry:
    """One tile of a comparison: its short label and its normalization."""

    label: str
    normalization: Normalization


def axis_choices(ndim: int, default: Axis) -> list[AxisChoice]:
    """Every axis choice of an array of `ndim` axes.

    The method's `default` first, then each single axis, each pair and the whole array (None); a
    choice that reduces the same axes as the default is left out (the default stands for it).

    Examples
    --------
    >>> axis_choices(3, -1)
    ['default', 0, 1, (0, 1), (0, 2), (1, 2), None]
    >>> axis_choices(2, None)
    ['default', 0, 1]
    """

    def reduced(axis: Axis) -> tuple[int, ...]:
        axes = normalize_axis(axis, ndim)
        return tuple(range(ndim)) if axes is None else tuple(axes)

    singles: list[int | tuple[int, ...] | None] = list(range(ndim))
    pairs = list(itertools.combinations(range(ndim), 2))
    choices: list[AxisChoice] = [DEFAULT_AXIS]
    for axis in (*singles, *pairs, None):
        if reduced(axis) != reduced(default):
            choices.append(axis)
    return choices


def label(normalization: Normalization) -> str:
    """A tile's short label: ``"keras axis=1"``, ``"minmax axis=(1, 2)"``, the preset's name.

    Examples
    --------
    >>> label(Normalization(method="keras", axis=(1, 2))), label(Normalization(method="dtype"))
    ('keras axis=(1, 2)', 'dtype')
    """
    if normalization.preset is not None:
        return normalization.preset
    if normalization.method in ("dtype", "meanstd"):  # no axis to choose
        return normalization.method
    axis = normalization.axis
    words = f"({format_axis(axis, joiner=', ')})" if isinstance(axis, tuple) else format_axis(axis)
    return f"{normalization.method} axis={words}"


def every_axis(base: Normalization, ndim: int) -> list[Entry]:
    """Every axis choice of `base`'s method (a preset's method with its options), one entry each.

    Examples
    --------
    >>> [e.label for e in every_axis(Normalization(method="keras"), 3)][:3]
    ['keras axis=default (2)', 'keras axis=0', 'keras axis=1']
    """
    base = base.with_(preset=None)
    entries = []
    for axis in axis_choices(ndim, METHODS[base.method].default_axis):
        n = base.with_(axis=axis)
        text = label(n)
        if axis == "default":
            resolved = n.resolved_axis(ndim)
            text += f" ({format_axis(resolved if resolved is None else tuple(resolved))})"
        entries.append(Entry(text, n))
    return entries


def parse_spec(spec: str, roles: str, base: Normalization) -> list[Entry]:
    """The entries a comparison spec names (see the module's docstring), for an array with `roles`.

    ``"axes"`` means :func:`every_axis` of `base`.

    Raises
    ------
    ValueError
        For an unknown method or preset, an axis the array does not have, or an empty spec.

    Examples
    --------
    >>> spec = "keras:1,dtype,minmax:1,2,preset:torchvision.Normalize"
    >>> [e.label for e in parse_spec(spec, "NHW", Normalization())]
    ['keras axis=1', 'dtype', 'minmax axis=(1, 2)', 'torchvision.Normalize']
    >>> [e.label for e in parse_spec("zscore:none,sklearn.MinMaxScaler", "HW", Normalization())]
    ['zscore axis=none', 'sklearn.MinMaxScaler']
    """
    ndim = len(roles)
    if spec.strip().lower() == AXES_SPEC:
        return every_axis(base, ndim)
    groups: list[list[str]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if groups and _has_axes(groups[-1][0]) and _is_number(part):
            groups[-1].append(part)  # another axis of the entry before
        else:
            groups.append([part])
    if not groups:
        raise ValueError(f"names no normalization: {spec!r} (try 'axes' or 'keras:1,dtype')")
    entries = []
    for head, *more in groups:
        n = _entry(head, more, roles)
        if n.preset is None and n.axis != "default":
            try:
                normalize_axis(n.axis, ndim)
            except ValueError as exc:
                raise ValueError(f"{head}: {exc}") from None
        entries.append(Entry(label(n), n))
    return entries


def _is_number(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _has_axes(head: str) -> bool:
    """Whether `head` is ``METHOD:NUMBER``, which numbers after it continue."""
    name, _, axes = head.partition(":")
    return name.strip() in METHODS and _is_number(axes.strip())


def _entry(head: str, more: list[str], roles: str) -> Normalization:
    name, _, axes = head.partition(":")
    name = name.strip()
    if name == "preset":
        return from_preset(axes.strip(), roles)
    if name in PRESETS and not axes:
        return from_preset(name, roles)
    if name not in METHODS:
        raise ValueError(
            f"{head!r} is no method or preset: methods are {', '.join(METHODS)}; "
            "presets are written preset:NAME"
        )
    if not axes:
        return Normalization(method=name)
    text = ",".join([axes, *more]).lower()
    if text in ("none", "default"):
        return Normalization(method=name, axis=None if text == "none" else "default")
    if not all(_is_number(a) for a in text.split(",")):
        raise ValueError(f"{head}: axes are numbers (1 or 1,2), none or default")
    numbers = tuple(int(a) for a in text.split(","))
    return Normalization(method=name, axis=numbers[0] if len(numbers) == 1 else numbers)
