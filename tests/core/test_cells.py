"""A report counted from a table of (level, group) cells says what the pixel-by-pixel report says.

For per-group normalizations of 8/16-bit integers and bools (:mod:`core._cells`): the same
integer counts, the same Kendall τ-b (made from them), the same output range and verdicts; the
Spearman ρ and the output mean to 1e-12 (the other engines sum floats in their own orders).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from normscope.core import _cells, report
from normscope.core.loading import Loaded
from normscope.core.normalize import Normalization, from_preset
from normscope.core.ranks import diagnose, rank_diff
from normscope.core.roles import scope_axes

RNG = np.random.default_rng(19)


def _data(dtype: str, shape: tuple[int, ...], kind: str) -> np.ndarray:
    if dtype == "bool":
        return RNG.random(shape) < (0.0 if kind == "constant" else 0.3)
    top = 255 if dtype == "uint8" else 65535
    if kind == "constant":
        return np.full(shape, top // 3, dtype)
    if kind == "few levels":
        return (RNG.integers(0, 6, shape) * (top // 7)).astype(dtype)
    x = RNG.integers(0, top + 1, shape).astype(dtype)
    x[..., 0] = 0  # a zero in every row: zero norms and minima
    return x


NORMALIZATIONS = [
    Normalization(method="keras", axis=1),
    Normalization(method="keras", axis=0),
    Normalization(method="keras", axis="default"),
    Normalization(method="keras", axis=-1, order=1),
    Normalization(method="keras", axis=0, order=math.inf),
    Normalization(method="lp", axis=None, order=2),
    Normalization(method="lp", axis=(0, 1), order=1),
    Normalization(method="lp", axis=1, order=math.inf),
    Normalization(method="minmax", axis=None),
    Normalization(method="minmax", axis=0),
    Normalization(method="minmax", axis=(0, 1), feature_range=(-1.0, 1.0)),
    Normalization(method="dtype"),
]
LAYOUTS = [((23, 19), "HW"), ((11, 9, 3), "HWC"), ((4, 7, 6), "NHW")]
SCOPES = ["all", "image", "channel", "row", "column"]


def _both(
    monkeypatch: pytest.MonkeyPatch, x: np.ndarray, roles: str, n: Normalization, scope: str
) -> tuple[dict, dict]:
    """The report through the cells (every table size allowed) and pixel by pixel."""
    loaded = Loaded(array=x, roles=roles, source="x.npy", name="x.npy")
    monkeypatch.setattr(_cells, "MIN_VALUES", 0)
    monkeypatch.setattr(_cells, "CELLS_PER_VALUE", math.inf)
    taken: list[object] = []
    real = _cells.cell_report

    def spy(*args: object, **kwargs: object) -> object:
        taken.append(found := real(*args, **kwargs))  # type: ignore[arg-type]
        return found

    monkeypatch.setattr(report, "cell_report", spy)
    fast = report.build_report(loaded, n, scope=scope)
    assert taken and taken[0] is not None, "the cells were not used"
    monkeypatch.setattr(report, "cell_report", lambda *a, **k: None)
    return fast, report.build_report(loaded, n, scope=scope)


def assert_same_report(fast: dict, slow: dict) -> None:
    """Equal, but for the float sums: Spearman's ρ and the output mean (to 1e-12)."""
    for key in ("input", "normalization", "preserved_within", "batch"):
        assert fast[key] == slow[key], key
    f, s = dict(fast["output"]), dict(slow["output"])
    assert f.pop("mean") == pytest.approx(s.pop("mean"), rel=1e-12, abs=1e-300)
    assert f == s
    f, s = dict(fast["ranks"]), dict(slow["ranks"])
    for stat in ("mean", "min"):
        got, want = f["spearman"][stat], s["spearman"][stat]
        assert got == (None if want is None else pytest.approx(want, rel=1e-12, abs=1e-15))
    del f["spearman"], s["spearman"]
    assert f == s


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "bool"])
@pytest.mark.parametrize("kind", ["random", "few levels", "constant"])
@pytest.mark.parametrize(("shape", "roles"), LAYOUTS, ids=lambda v: str(v))
@pytest.mark.parametrize("n", NORMALIZATIONS, ids=lambda n: f"{n.method}-{n.axis}-{n.order}")
def test_the_cells_report_what_the_pixels_report(
    monkeypatch: pytest.MonkeyPatch,
    dtype: str,
    kind: str,
    shape: tuple[int, ...],
    roles: str,
    n: Normalization,
) -> None:
    x = _data(dtype, shape, kind)
    for scope in SCOPES:
        if scope_axes(scope, roles) is not None:
            assert_same_report(*_both(monkeypatch, x, roles, n, scope))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "bool"])
@pytest.mark.parametrize(("shape", "roles"), LAYOUTS, ids=lambda v: str(v))
@pytest.mark.parametrize("name", ["sklearn.normalize.l1", "sklearn.normalize.l2",
                                  "sklearn.normalize.max"])  # fmt: skip
def test_sklearn_normalize_is_reported_through_the_cells(
    monkeypatch: pytest.MonkeyPatch, dtype: str, shape: tuple[int, ...], roles: str, name: str
) -> None:
    x = _data(dtype, shape, "random")
    for scope in SCOPES:
        if scope_axes(scope, roles) is not None:
            assert_same_report(*_both(monkeypatch, x, roles, from_preset(name, roles), scope))


def test_a_big_image_is_reported_through_the_cells_by_default() -> None:
    x = (RNG.integers(0, 8, (512, 1024)) * 30).astype(np.uint8)
    x[::2] //= 2  # the column scope is checked pixel by pixel (too many cells), and fails
    loaded = Loaded(array=x, roles="HW", source="x.npy", name="x.npy")
    n = Normalization(method="keras", axis=1)
    assert _cells.cell_report(x, "HW", n, "all") is not None
    fast = report.build_report(loaded, n, scope="all")
    y = n.apply(x, roles="HW")
    d = rank_diff(x, y, scope="all", roles="HW")
    assert fast["ranks"]["pairs"]["discordant"] == d.pairs.discordant > 0
    assert fast["ranks"]["kendall_tau_b"]["mean"] == d.kendall_mean
    assert fast["preserved_within"] == diagnose(x, y, roles="HW").preserved
    assert fast["preserved_within"]["column"] is False


def test_a_column_kept_in_order_is_found_pixel_by_pixel() -> None:
    x = np.tile((np.arange(512) % 256).astype(np.uint8)[:, None], (1, 1100))
    n = Normalization(method="minmax", axis=1)  # every row one level: every column all zeros
    found = _cells.cell_report(x, "HW", n, "all")
    assert found is not None and found.diagnosis.preserved["column"] is True
    assert found.diagnosis == diagnose(x, n.apply(x, roles="HW"), roles="HW")


def test_other_methods_presets_floats_and_after_arrays_keep_the_pixels() -> None:
    x = RNG.integers(0, 256, (512, 512)).astype(np.uint8)
    assert _cells.cell_report(x, "HW", Normalization(method="zscore", axis=1), "all") is None
    assert _cells.cell_report(x, "HW", Normalization(method="equalize"), "all") is None
    keras3 = Normalization(method="keras", axis=(0, 1))  # a matrix norm
    assert _cells.cell_report(x, "HW", keras3, "all") is None
    assert _cells.cell_report(x / 255, "HW", Normalization(method="keras", axis=1), "all") is None
    scaler = from_preset("sklearn.MinMaxScaler", "HW")  # its own arithmetic
    assert _cells.cell_report(x, "HW", scaler, "all") is None


@pytest.mark.parametrize("seed", range(6))
def test_weighted_inversions_are_counted_pair_by_pair(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 60))
    levels = rng.integers(0, [2, 7, 256, 300, 65536, 3][seed], m)
    weights = rng.integers(1, 5, m)
    groups = np.sort(rng.integers(0, 3, m))
    got = _cells.weighted_inversions(groups, levels, weights, 3)
    want = np.zeros(3, np.int64)
    for i in range(m):
        for j in range(i + 1, m):
            if groups[i] == groups[j] and levels[i] > levels[j]:
                want[groups[i]] += weights[i] * weights[j]
    np.testing.assert_array_equal(got, want)
