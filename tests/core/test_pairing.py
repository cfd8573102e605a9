"""Any before/after pair: the checks of one line each, and the same verdict as the method."""

from __future__ import annotations

import numpy as np
import pytest

from normscope.core.loading import load
from normscope.core.normalize import Normalization
from normscope.core.pairing import AfterArray, PairError, pair_after
from normscope.core.report import build_comparison, build_report


@pytest.fixture(scope="module")
def digits():
    return load("sample:digits")


@pytest.mark.parametrize(
    ("after", "after_roles", "message"),
    [
        (np.zeros((3, 4, 5)), None, "after is 3 x 4 x 5 but the original is 4 x 5 x 3 (HWC)"),
        (np.zeros((3, 4, 5)), "CWH", "after is 3 x 4 x 5 (CWH) but the original is 4 x 5 x 3"),
        (np.zeros((3, 4, 5)), "NHW", "roles NHW do not name the same axes"),
        (np.zeros((3, 4, 5)), "CH", "after_roles: roles 'CH' name 2 axes but the array has 3"),
        (np.zeros((4, 5, 3), complex), None, "after holds complex128 values"),
        (np.full((4, 5, 3), "a"), None, "after holds <U1 values"),
    ],
)
def test_mismatches_say_one_line(after, after_roles, message) -> None:
    before = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(PairError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        pair_after(before, after, "HWC", after_roles=after_roles)
    assert "\n" not in str(info.value)


def test_a_permuted_shape_hints_at_after_roles() -> None:
    with pytest.raises(PairError, match="give its axis roles"):
        pair_after(np.zeros((4, 5, 3)), np.zeros((3, 4, 5)), "HWC")


def test_nan_only_where_the_original_has_a_number() -> None:
    before = np.array([[np.nan, 1.0], [2.0, 3.0]])
    assert pair_after(before, before * 2, "HW") is not None  # NaN kept where it was: fine
    after = before.copy()
    after[1, 0] = np.nan
    with pytest.raises(PairError, match=r"NaN at 1 pixels .* the first at \(1, 0\)"):
        pair_after(before, after, "HW", name="after.npy")


def test_chw_after_is_put_in_the_originals_layout() -> None:
    x = np.random.default_rng(0).integers(0, 255, (2, 6, 7, 3), dtype=np.uint8)
    tensor = np.moveaxis(x, -1, 1).astype(np.float32) / 255  # ToTensor() of each image
    y = pair_after(x, tensor, "NHWC", after_roles="NCHW")
    np.testing.assert_array_equal(y, x.astype(np.float32) / 255)


@pytest.mark.parametrize(
    "normalization",
    [Normalization(method="keras", axis=1), Normalization(method="zscore", axis=(1, 2))],
)
def test_a_given_after_reports_what_the_method_does(digits, normalization) -> None:
    y = normalization.apply(digits.array, roles=digits.roles)
    given = AfterArray.pair(digits.array, y, digits.roles, path="/data/after.npy")
    method, pair = build_report(digits, normalization), build_report(digits, given)
    assert pair["normalization"] == {
        "method": "file",
        "path": "/data/after.npy",
        "description": "from file: after.npy",
    }
    for key in ("input", "output", "ranks", "preserved_within", "batch"):
        if key == "input":  # the file's groups: the method's axes do not apply
            method[key].pop("nonfinite_groups"), pair[key].pop("nonfinite_groups")
        assert pair[key] == method[key], key
    c_method = build_comparison(digits, normalization, index=3)
    c_pair = build_comparison(digits, given, index=3)
    assert c_pair.verdict == c_method.verdict
    np.testing.assert_array_equal(c_pair.displacement, c_method.displacement)
    assert c_pair.caption == ("digits, image 3 · from file: after.npy",)


def test_after_of_another_array_is_refused() -> None:
    given = AfterArray.pair(np.zeros((2, 2)), np.ones((2, 2)), "HW")
    with pytest.raises(PairError, match="not of 3 x 3"):
        given.apply(np.zeros((3, 3)))
