"""Comparison specs: every axis choice, and the list a user writes on the command line."""

from __future__ import annotations

import pytest

from normscope.core.compare import axis_choices, every_axis, parse_spec
from normscope.core.normalize import Normalization, from_preset


def test_every_axis_of_a_batch_lists_each_axis_each_pair_the_whole_array_and_the_default() -> None:
    entries = every_axis(Normalization(method="minmax", axis=1), 3)
    axes = [e.normalization.axis for e in entries]
    assert axes == ["default", 0, 1, 2, (0, 1), (0, 2), (1, 2)]  # minmax's default: None
    assert all(e.normalization.method == "minmax" for e in entries)
    assert entries[0].label == "minmax axis=default (none)"


def test_a_preset_compares_the_axes_of_its_method() -> None:
    entries = every_axis(from_preset("sklearn.MinMaxScaler", "NHW"), 3)
    assert {e.normalization.preset for e in entries} == {None}
    assert {e.normalization.method for e in entries} == {"minmax"}


def test_axis_choices_never_repeat_the_default() -> None:
    assert axis_choices(3, (1, 2)) == ["default", 0, 1, 2, (0, 1), (0, 2), None]


def test_the_spec_of_the_issue() -> None:
    spec = "keras:1,dtype,minmax:1,2,preset:torchvision.Normalize"
    entries = parse_spec(spec, "HWC", Normalization())
    n = [e.normalization for e in entries]
    assert n[0] == Normalization(method="keras", axis=1)
    assert n[1] == Normalization(method="dtype")
    assert n[2] == Normalization(method="minmax", axis=(1, 2))
    assert n[3] == from_preset("torchvision.Normalize", "HWC")


def test_axes_means_every_axis_of_the_base() -> None:
    base = Normalization(method="zscore")
    assert parse_spec(" AXES ", "HW", base) == every_axis(base, 2)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("kras:1", "no method or preset"),
        ("keras:5", "keras:5"),
        ("minmax:x", "axes are numbers"),
        (" , ", "names no normalization"),
        ("preset:nope", "unknown preset"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_spec(spec, "HW", Normalization())
