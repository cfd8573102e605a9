"""Hostile dtypes and numerics (issue 13): every dtype the loader accepts goes through every
method, the rank diff, the histograms and the display without a crash, a traceback, a
runaway allocation or a RuntimeWarning; what crashes is run in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from normscope import main
from normscope.core.display import display_levels, symmetric_levels, to_uint8
from normscope.core.dtypes import canonical, distinct_levels
from normscope.core.histogram import histogram, joint_histogram
from normscope.core.loading import load
from normscope.core.normalize import METHODS, Normalization, NormalizationError, normalize
from normscope.core.ranks import diagnose, rank_compare, rank_diff, rank_preserving
from normscope.core.report import build_report

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(13)
GiB = 1 << 30


def run_child(args: list[str], *, memory: int | None = None, timeout: float = 120):
    """Python from this tree in a child process (a crash must not take pytest down)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}  # normscope as this process has it

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit if memory else None,
    )


def methods(roles: str) -> list[Normalization]:
    out = []
    for m, info in METHODS.items():
        n = Normalization(method=m, axis=-1 if info.uses_axis else "default")
        out.append(n.with_(mean=(0.5,), std=(0.25,)) if m == "meanstd" and "C" not in roles else n)
    return out


# --- canonical ------------------------------------------------------------------------------


def test_canonical_gives_native_order_zero_one_bools_and_float64_for_longdouble() -> None:
    raw = np.array([0, 1, 2, 255, 128], np.uint8).view(bool)
    assert canonical(raw).view(np.uint8).tolist() == [0, 1, 1, 1, 1]
    big = np.array([-2, 300], ">i2")
    assert canonical(big).dtype == np.dtype("=i2") and canonical(big).tolist() == [-2, 300]
    wide = np.array([1.25, np.nan, -np.inf], np.longdouble)
    got = canonical(wide)
    assert got.dtype == np.float64 and got[0] == 1.25 and np.isnan(got[1]) and got[2] == -np.inf
    half = np.array([1.5], ">f2")
    assert canonical(half).dtype == np.float16 and canonical(half).dtype.isnative
    x = np.zeros((2, 3), np.uint16)
    assert canonical(x) is x


# --- 1. bools whose bytes are not 0 and 1 --------------------------------------------------


def test_one_bit_png_reports_every_pair(tmp_path: Path) -> None:
    path = tmp_path / "b.png"
    Image.fromarray(np.random.default_rng(0).random((40, 60)) > 0.5).save(path)
    done = run_child(["-m", "normscope", "report", str(path), "--json"])
    assert done.returncode == 0, done.stderr
    pairs = json.loads(done.stdout)["ranks"]["pairs"]
    assert pairs["total"] == 2400 * 2399 // 2 == 2_878_800


RAW_BOOL_SCRIPT = """
import numpy as np
from normscope.core.display import display_levels
from normscope.core.histogram import histogram, joint_histogram
from normscope.core.normalize import METHODS, Normalization
from normscope.core.ranks import diagnose, rank_compare, rank_diff, rank_preserving

rng = np.random.default_rng(1)
for shape, roles in (((30, 40), "HW"), ((3, 12, 10), "NHW"), ((9, 8, 3), "HWC")):
    raw = rng.integers(0, 256, shape).astype(np.uint8)
    raw[rng.random(shape) < 0.4] = 0
    bad = raw.view(bool)
    good = raw != 0
    for x, y in ((bad, good), (good, bad), (bad, bad)):
        want = rank_diff(good, good, roles=roles, scope="image" if "N" in roles else "all")
        got = rank_diff(x, y, roles=roles, scope="image" if "N" in roles else "all")
        assert got == want, (got, want)
        assert rank_compare(x, y, roles=roles)[1].partners.sum() == 0
        assert rank_preserving(x, y, roles=roles, scope="row")
        assert diagnose(x, y, roles=roles) == diagnose(good, good, roles=roles)
        assert joint_histogram(x, y).counts.tolist() == joint_histogram(good, good).counts.tolist()
    h = histogram(bad)
    assert h.counts.tolist() == [int((~good).sum()), int(good.sum())], h.counts
    assert display_levels(bad) == (0.0, 1.0)
    for m, info in METHODS.items():
        n = Normalization(method=m, axis=-1 if info.uses_axis else "default")
        if m == "meanstd" and "C" not in roles:
            n = n.with_(mean=(0.5,), std=(0.25,))
        np.testing.assert_array_equal(n.apply(bad, roles=roles), n.apply(good, roles=roles))
print("OK")
"""


def test_bools_with_any_byte_mean_what_numpy_reads() -> None:
    done = run_child(["-c", RAW_BOOL_SCRIPT])
    assert done.returncode == 0 and done.stdout.strip() == "OK", done.stderr[-2000:]


# --- 2. big-endian arrays -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [">u2", ">i2", ">u4", ">i4", ">u8", ">i8", ">f2", ">f4", ">f8"])
def test_big_endian_arrays_give_the_native_results(dtype: str) -> None:
    native = RNG.integers(0, 200, (2, 6, 5)).astype(np.dtype(dtype).newbyteorder("="))
    big = native.astype(dtype)
    for n in methods("NHW"):
        want = n.apply(native, roles="NHW")
        got = n.apply(big, roles="NHW")
        assert got.dtype == want.dtype and got.dtype.isnative, n.method
        np.testing.assert_array_equal(got, want)
        assert rank_diff(big, got, roles="NHW") == rank_diff(native, want, roles="NHW")
        assert diagnose(big, got, roles="NHW") == diagnose(native, want, roles="NHW")
    assert histogram(big).counts.tolist() == histogram(native).counts.tolist()
    assert display_levels(big, mode="dtype") == display_levels(native, mode="dtype")
    assert display_levels(big) == display_levels(native)


# --- 3. equalize over any integer range ----------------------------------------------------


def test_equalize_of_a_huge_integer_range_stays_small(tmp_path: Path) -> None:
    x = np.zeros((28, 28), np.int32)
    x[0, 0], x[-1, -1] = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    path = tmp_path / "wide.npy"
    np.save(path, x)
    assert path.stat().st_size < 6 * 1024
    done = run_child(
        ["-m", "normscope", "report", str(path), "--method", "equalize", "--json"], memory=3 * GiB
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["output"]["max"] == 1.0


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_equalize_takes_the_extremes_of_64_bit_integers(dtype) -> None:
    info = np.iinfo(dtype)
    x = np.array([[info.min, 7], [7, info.max]], dtype)
    np.testing.assert_array_equal(normalize(x, "equalize", axis=None), [[0.25, 0.75], [0.75, 1]])
    np.testing.assert_array_equal(normalize(x, "equalize", axis=1), [[0.5, 1], [0.5, 1]])


def dense_equalize(g: np.ndarray) -> np.ndarray:
    """The dense-histogram equalization NormScope used to do (scikit-image's semantics)."""
    lo, hi = int(g.min()), int(g.max())
    hist = np.bincount((g.astype(np.int64) - lo).ravel(), minlength=hi - lo + 1)
    cdf = hist.cumsum()
    return np.interp(g, np.arange(lo, hi + 1), cdf / float(cdf[-1]))


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint32, np.int64, bool])
def test_equalize_of_integers_is_the_dense_histogram_bit_for_bit(dtype) -> None:
    low = 0 if np.dtype(dtype).kind in "ub" else -3000
    x = RNG.integers(low, low + 6000, (3, 40, 30)).astype(dtype)
    want = dense_equalize(x.ravel()).reshape(x.shape)
    np.testing.assert_array_equal(normalize(x, "equalize", axis=None), want)
    per_image = np.stack([dense_equalize(i.ravel()).reshape(i.shape) for i in x])
    np.testing.assert_array_equal(normalize(x, "equalize", axis=(1, 2)), per_image)


def test_percentile_level_tables_are_bounded_and_exact() -> None:
    from normscope.core.methods import _level_table_fits

    x = RNG.integers(0, 65536, (33000, 1, 130)).astype(np.uint16)
    x[0, 0, 0] = 65535
    assert not _level_table_fits(x, (0,))  # 130 tables of 65536 levels: numpy instead
    assert _level_table_fits(x[:100], (0,)) and _level_table_fits(x, (1, 2))
    v = x.astype(np.float64)
    lo, hi = np.percentile(v, (2, 98), axis=0, keepdims=True)
    want = (np.clip(v, lo, hi) - lo) / (hi - lo)
    np.testing.assert_array_equal(normalize(x, "percentile", axis=0), want)


@pytest.mark.parametrize(
    "values",
    [[1e16, 1e16], [-1.7e308, 1.7e308, 0.0], [1e16, 1e16 + 2, 1e16 + 4]],
)
def test_equalize_of_extreme_floats_is_a_cdf(values) -> None:
    y = normalize(np.array(values), "equalize", axis=None)
    assert np.isfinite(y).all() and y.max() == 1.0 and (np.diff(y[np.argsort(values)]) >= 0).all()


# --- 4. float128, and levels that never collapse --------------------------------------------


@pytest.mark.parametrize(
    ("name", "array", "method"),
    [
        ("wide.npy", np.linspace(0, 1, 48, dtype=np.longdouble).reshape(6, 8), "equalize"),
        ("wide.npy", np.linspace(0, 1, 48, dtype=np.longdouble).reshape(6, 8), "keras"),
        ("big.npy", np.full((6, 8), 1e16), "dtype"),
        ("huge.npy", np.full((6, 8), -1.7e308), "dtype"),
    ],
)
def test_export_of_extreme_floats_exits_0(tmp_path: Path, name, array, method) -> None:
    np.save(tmp_path / name, array)
    out = tmp_path / "out.png"
    done = run_child(
        ["-m", "normscope", "export", str(tmp_path / name), "--method", method, "-o", str(out)]
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.stat().st_size > 0


@pytest.mark.parametrize("value", [0.0, 2.0, 2.0**52, 1e16, -1e300, 1.7976931348623157e308, 5e-324])
def test_display_levels_are_distinct_finite_floats(value: float) -> None:
    x = np.full((3, 3), value)
    lo, hi = display_levels(x)
    assert np.isfinite([lo, hi]).all() and lo < hi
    assert to_uint8(x, (lo, hi)).dtype == np.uint8
    assert distinct_levels(value, value) == (lo, hi)


def test_to_uint8_takes_the_widest_and_the_narrowest_levels() -> None:
    assert to_uint8(np.array([-1e308, 0.0, 1e308]), (-1e308, 1e308)).tolist() == [0, 128, 255]
    assert to_uint8(np.array([0.0, 5e-324]), (0.0, 5e-324)).tolist() == [0, 255]
    with pytest.raises(ValueError, match="low < high"):
        to_uint8(np.zeros(2), (1.0, 1.0))
    assert symmetric_levels(np.array([1.7e308, -1.7e308])) == (-1.7e308, 1.7e308)


def test_histogram_of_the_widest_range_counts_every_value() -> None:
    x = np.array([-1.7e308, 0.0, 1.7e308, 1e16, 1e16])
    h = histogram(x)
    assert np.isfinite(h.edges).all() and h.counts.sum() == 5
    assert histogram(np.full(4, 1e16)).counts.tolist() == [4]
    assert joint_histogram(x, x).counts.sum() == 5


# --- 5. norm orders and verdicts without pairs ---------------------------------------------


@pytest.mark.parametrize("method", list(METHODS))
def test_a_nan_order_is_refused_in_a_sentence(method: str) -> None:
    with pytest.raises(NormalizationError, match="order is NaN"):
        Normalization(method=method, order=float("nan"))


@pytest.mark.parametrize(("axis", "order"), [((0, 1), 3), ((0, 1), 0), ((1, 2), 0.5)])
def test_keras_matrix_norms_take_numpys_matrix_orders_only(axis, order) -> None:
    with pytest.raises(NormalizationError, match="matrix norm"):
        Normalization(method="keras", axis=axis, order=order)


@pytest.mark.parametrize("order", [3, 0, -1, -np.inf, 0.5])
def test_keras_over_one_axis_is_np_linalg_norm_for_any_order(order) -> None:
    x = RNG.integers(0, 5, (2, 7, 6)).astype(np.uint8)
    with np.errstate(all="ignore"):
        norm = np.atleast_1d(np.linalg.norm(x, order, 1))
        norm[norm == 0] = 1
        want = x / np.expand_dims(norm, 1)
    np.testing.assert_array_equal(normalize(x, "keras", axis=1, order=order), want)


@pytest.mark.parametrize("order", [3, 0, -1])
def test_lp_takes_1_2_or_inf(order) -> None:
    with pytest.raises(NormalizationError, match="lp method takes order 1, 2 or inf"):
        Normalization(method="lp", order=order)


def test_cli_refuses_order_nan_in_one_line(tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "x.npy", RNG.integers(0, 255, (6, 7)).astype(np.uint8))
    # exit 1 from Normalization's refusal, or 2 where the option parser refuses it first
    assert main.main(["report", str(tmp_path / "x.npy"), "--order", "nan"]) in (1, 2)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nan" in err[0].lower()


def test_an_all_nan_output_is_not_called_rank_preserving(tmp_path: Path, capsys) -> None:
    x = RNG.integers(0, 255, (2, 5, 4)).astype(np.uint8)
    y = np.full(x.shape, np.nan)
    diff = rank_diff(x, y, roles="NHW")
    assert diff.pairs.total == 0 and diff.rank_preserving is None
    assert diff.strictly_rank_preserving is None
    assert rank_preserving(x, y, roles="NHW") is None
    assert rank_compare(x, y, roles="NHW")[0].rank_preserving is None
    assert set(diagnose(x, y, roles="NHW").preserved.values()) == {None}
    assert rank_diff(x[:1, :1, :1], x[:1, :1, :1]).rank_preserving is True  # no NaN: vacuous
    path = tmp_path / "nan.npy"
    np.save(path, np.full((5, 4), np.nan))
    report = build_report(load(path), Normalization(method="minmax"))
    assert report["ranks"]["rank_preserving"] is None
    assert main.main(["report", str(path), "--method", "minmax"]) == 0
    out = capsys.readouterr().out
    assert "rank preserving: n/a" in out and "rank preserving: True" not in out


# --- 6. no RuntimeWarning where the result is defined -----------------------------------------


def test_extreme_values_run_without_runtime_warnings(tmp_path: Path) -> None:
    # pytest turns warnings into errors: each call below warned before
    x = np.array([[np.inf, 1.0, 2.0], [-np.inf, np.inf, 0.0]])
    for method in ("zscore", "minmax"):
        normalize(x, method, axis=None)
    huge = np.array([[1e300, -1e300, 3.0], [1e39, 2.0, 0.0]])
    normalize(huge, "meanstd", mean=(0.5,), std=(0.25,))
    rank_diff(huge, huge * 2)
    normalize(np.array([[-60000.0, 60000.0, 1.0]], np.float16), "equalize", axis=None)
    path = tmp_path / "big.npy"
    np.save(path, np.full((4, 4), 1.7e308))
    report = build_report(load(path), Normalization(method="dtype"))
    assert report["output"]["mean"] == 1.7e308


# --- 7. every dtype through everything, in a child process ------------------------------------


def test_every_dtype_through_core_and_cli() -> None:
    """Hypothesis draws arrays of every dtype the loader accepts (see fuzz_dtypes_child.py);
    the child must end normally, having seen no uncaught exception, warning or bad exit."""
    child = str(Path(__file__).with_name("fuzz_dtypes_child.py"))
    done = run_child([child, "100", "13"], memory=4 * GiB, timeout=300)
    assert done.returncode >= 0, f"the child died of signal {-done.returncode}"
    problems = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert not problems, "\n".join(problems[:20])
    last = done.stdout.strip().splitlines()[-1:]
    assert done.returncode == 0 and last[0].startswith("DONE"), textwrap.shorten(done.stderr, 2000)
