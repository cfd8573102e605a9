"""The rank diff against a brute force over every pair, and against scipy."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as st_h
from hypothesis.extra import numpy as hnp

from normscope.core.loading import load
from normscope.core.ranks import diagnose, rank_compare, rank_diff, rank_maps, rank_preserving
from normscope.core.roles import SCOPES, scope_axes


def keras(x, axis):
    n = np.atleast_1d(np.linalg.norm(x, 2, axis))
    n[n == 0] = 1
    return x / np.expand_dims(n, axis)


def brute(x: np.ndarray, y: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
    """Pair classes (concordant, discordant, broken, created, kept) and per-pixel partners."""
    x, y = x.ravel().astype(float), y.ravel().astype(float)
    ok = ~(np.isnan(x) | np.isnan(y))
    counts = [0, 0, 0, 0, 0]
    partners = np.zeros(x.size, np.int64)
    for i, j in itertools.combinations(np.flatnonzero(ok), 2):
        sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        if sx == 0 and sy == 0:
            counts[4] += 1
        elif sx == 0:
            counts[2] += 1
        elif sy == 0:
            counts[3] += 1
        elif sx == sy:
            counts[0] += 1
        else:
            counts[1] += 1
            partners[i] += 1
            partners[j] += 1
    return tuple(counts), partners


def groups(x: np.ndarray, axes: tuple[int, ...]):
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.moveaxis(x, kept + list(axes), range(x.ndim))
    return moved.reshape(int(np.prod([x.shape[i] for i in kept])), -1)


tie_heavy = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=5),
    elements=st_h.sampled_from([0.0, 1.0, 2.0, 3.0, np.nan]),
)


@settings(max_examples=60, deadline=None)
@given(tie_heavy, st_h.data())
def test_pair_counts_and_partners_match_brute_force(x, data) -> None:
    y = data.draw(
        hnp.arrays(np.float64, x.shape, elements=st_h.sampled_from([0.0, 0.5, 1.0, np.nan]))
    )
    roles = "HW" if x.ndim == 2 else "NHW"
    for scope in ("all", "row", "column") + (("image",) if x.ndim == 3 else ()):
        axes = scope_axes(scope, roles)
        d = rank_diff(x, y, scope=scope, roles=roles)
        maps = rank_maps(x, y, scope=scope, roles=roles)
        gx, gy, gp = groups(x, axes), groups(y, axes), groups(maps.partners, axes)
        total = [0, 0, 0, 0, 0]
        for rx, ry, rp in zip(gx, gy, gp, strict=True):
            counts, partners = brute(rx, ry)
            total = [a + b for a, b in zip(total, counts, strict=True)]
            np.testing.assert_array_equal(rp, partners)
        p = d.pairs
        assert [p.concordant, p.discordant, p.ties_broken, p.ties_created, p.ties_kept] == total
        assert p.total == sum(total)
        assert d.nan_pixels == int((np.isnan(x) | np.isnan(y)).sum())


@pytest.mark.parametrize("seed", range(4))
def test_rho_and_tau_match_scipy(seed) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 20, (6, 30)).astype(np.uint8)
    y = x + rng.normal(0, 4, x.shape)
    y[0] = np.round(y[0])  # ties in after too
    d = rank_diff(x, y, scope="row", roles="HW")
    rhos = [st.spearmanr(a, b)[0] for a, b in zip(x, y, strict=True)]
    taus = [st.kendalltau(a, b)[0] for a, b in zip(x, y, strict=True)]
    assert abs(d.spearman_mean - np.mean(rhos)) < 1e-12
    assert abs(d.spearman_min - min(rhos)) < 1e-12 and d.spearman_argmin == (int(np.argmin(rhos)),)
    assert abs(d.kendall_mean - np.mean(taus)) < 1e-12
    assert abs(d.kendall_min - min(taus)) < 1e-12
    whole = rank_diff(x, y, scope="all", roles="HW")
    assert abs(whole.spearman_mean - st.spearmanr(x.ravel(), y.ravel())[0]) < 1e-12
    assert abs(whole.kendall_mean - st.kendalltau(x.ravel(), y.ravel())[0]) < 1e-12


@pytest.mark.parametrize("scope", SCOPES)
def test_samples_against_scipy_in_every_scope(scope) -> None:
    for name, axis in (("digits", 1), ("photo", 0), ("gray16", 1)):
        loaded = load(f"sample:{name}")
        x, roles = loaded.array, loaded.roles
        axes = scope_axes(scope, roles)
        if axes is None:
            with pytest.raises(ValueError, match="does not fit"):
                rank_diff(x, x, scope=scope, roles=roles)
            continue
        y = keras(x, axis)
        d = rank_diff(x, y, scope=scope, roles=roles)
        gx, gy = groups(x, axes), groups(y, axes)
        with warnings.catch_warnings():  # blank columns are constant: scipy warns, gives NaN
            warnings.simplefilter("ignore", st.ConstantInputWarning)
            rhos = np.array([st.spearmanr(a, b)[0] for a, b in zip(gx, gy, strict=True)])
            taus = np.array([st.kendalltau(a, b)[0] for a, b in zip(gx, gy, strict=True)])
        assert d.undefined_groups == int(np.isnan(rhos).sum())
        assert abs(d.spearman_mean - np.nanmean(rhos)) < 1e-12
        assert abs(d.kendall_mean - np.nanmean(taus)) < 1e-12
        assert abs(d.spearman_min - np.nanmin(rhos)) < 1e-12


def test_tutorial_example_and_verdicts() -> None:
    x = np.array([[[1, 10], [0, 10]]], np.uint8)
    y = keras(x, 1)
    d = rank_diff(x, y, scope="image", roles="NHW")
    assert (d.pairs.discordant, d.pairs.total) == (2, 6)
    assert not d.rank_preserving and d.groups_with_inversions == 1
    col = rank_diff(x, y, scope="column", roles="NHW")
    assert col.rank_preserving and col.pairs.discordant == 0
    dg = diagnose(x, y, roles="NHW")
    assert dg.preserved == {
        "all": False,
        "image": False,
        "channel": None,
        "row": False,
        "column": True,
    }
    assert dg.summary() == "whole array ✗  image ✗  row ✗  column ✓"


def test_clipping_creates_ties_but_keeps_ranks() -> None:
    x = np.arange(100, dtype=np.uint8).reshape(10, 10)
    y = np.clip(x, 5, 90)
    d = rank_diff(x, y)
    assert d.rank_preserving and not d.strictly_rank_preserving
    assert d.pairs.ties_created == 15 + 45 and d.pairs.discordant == 0  # 0..5 and 90..99 merge
    m = rank_maps(x, x / 255.0)
    assert (m.displacement == 0).all() and (m.partners == 0).all()


def test_displacement_is_the_rank_shift_over_group_size() -> None:
    x = np.array([[1, 2, 3, 4]], np.uint8)
    y = np.array([[4.0, 3.0, 2.0, 1.0]])
    m = rank_maps(x, y, scope="row", roles="HW")
    np.testing.assert_allclose(m.displacement, [[0.75, 0.25, -0.25, -0.75]])
    assert m.displacement.dtype == np.float32 and m.partners.tolist() == [[3, 3, 3, 3]]
    assert m.ranks_at(0)[0].tolist() == [1, 2, 3, 4] and m.ranks_at(0)[1].tolist() == [4, 3, 2, 1]
    assert m.group_size.tolist() == [[4, 4, 4, 4]]
    x = np.array([[5, 5, 1], [5, 9, 9], [1, 0, 9]], np.uint8)  # per column, ties averaged
    y = x * np.array([1.0, -1.0, 2.0])
    m = rank_maps(x, y, scope="column", roles="HW")
    before, after = np.stack([m.ranks_at(i) for i in range(3)], axis=1)
    np.testing.assert_array_equal(before, np.stack([st.rankdata(c) for c in x.T], axis=1))
    np.testing.assert_array_equal(after, np.stack([st.rankdata(c) for c in y.T], axis=1))


def test_constant_single_pixel_and_empty_groups() -> None:
    d = rank_diff(np.full((3, 3), 7, np.uint8), np.full((3, 3), 0.5))
    assert d.undefined_groups == 1 and np.isnan(d.spearman_mean) and d.spearman_argmin is None
    assert d.pairs.ties_kept == 36 and d.strictly_rank_preserving
    one = rank_diff(np.ones((4, 1), np.uint8), np.ones((4, 1)), scope="row", roles="HW")
    assert one.pairs.total == 0 and one.groups == 4 and one.undefined_groups == 4
    nan = rank_diff(np.ones((2, 2)), np.full((2, 2), np.nan))
    assert nan.nan_pixels == 4 and nan.pairs.total == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="same shape"):
        rank_diff(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(TypeError, match="real numbers"):
        rank_diff(np.ones((2, 2), complex), np.ones((2, 2)))


def test_batch_diagnosis_names_the_worst_image() -> None:
    x = load("sample:digits").array
    y = keras(x, 1)
    dg = diagnose(x, y, roles="NHW")
    per_image = [rank_diff(x[i], y[i]).pairs.discordant for i in range(len(x))]
    assert dg.images_with_inversions == sum(1 for v in per_image if v)
    assert dg.worst_image == int(np.argmax(per_image))
    assert dg.preserved["column"] and not dg.preserved["row"]


@settings(max_examples=60, deadline=None)
@given(tie_heavy, st_h.data())
def test_fast_rank_preserving_check_agrees_with_pair_counts(x, data) -> None:
    x = np.nan_to_num(x, nan=2.0).astype(np.uint8)
    mono = data.draw(st_h.booleans())
    y = (
        (x * 0.5 + 1)
        if mono
        else data.draw(hnp.arrays(np.float64, x.shape, elements=st_h.sampled_from([0.0, 0.5, 1.0])))
    )
    roles = "HW" if x.ndim == 2 else "NHW"
    for scope in ("all", "row", "column"):
        want = rank_diff(x, y, scope=scope, roles=roles).rank_preserving
        assert rank_preserving(x, y, scope=scope, roles=roles) == want
        if mono:
            assert want


@pytest.mark.parametrize("dtype", ["int8", "int16", "uint16", "bool"])
def test_fast_check_handles_signed_and_wide_integers(dtype) -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(-100 if dtype.startswith("int") else 0, 100, (6, 40)).astype(dtype)
    for y in (x.astype(float) * 3 - 7, rng.random(x.shape)):
        for scope in ("all", "row", "column"):
            want = rank_diff(x, y, scope=scope, roles="HW").rank_preserving
            assert rank_preserving(x, y, scope=scope, roles="HW") == want


def both_engines(x: np.ndarray, y: np.ndarray, scope: str, roles: str) -> None:
    """The compiled and the numpy engine agree: counts and maps exactly, ρ and τ to 1e-12."""
    (dc, mc), (dn, mn) = (
        rank_compare(x, y, scope=scope, roles=roles, engine=e) for e in ("compiled", "numpy")
    )
    assert dc.pairs == dn.pairs and dc.groups_with_inversions == dn.groups_with_inversions
    assert dc.nan_pixels == dn.nan_pixels and dc.undefined_groups == dn.undefined_groups
    for a, b in ((dc.spearman_mean, dn.spearman_mean), (dc.kendall_mean, dn.kendall_mean)):
        assert (np.isnan(a) and np.isnan(b)) or abs(a - b) < 1e-12
    np.testing.assert_array_equal(mc.partners, mn.partners)
    np.testing.assert_array_equal(mc.displacement, mn.displacement)
    np.testing.assert_array_equal(mc.group_size, mn.group_size)
    for index in [(0,) * x.ndim, tuple(s - 1 for s in x.shape), tuple(s // 2 for s in x.shape)]:
        np.testing.assert_array_equal(mc.ranks_at(index), mn.ranks_at(index))


dtypes = st_h.sampled_from(["uint8", "int8", "uint16", "int32", "float32", "float64", "bool"])


@settings(max_examples=80, deadline=None)
@given(tie_heavy, dtypes, dtypes, st_h.data())
def test_compiled_and_numpy_engines_agree(x, before_dtype, after_dtype, data) -> None:
    y = data.draw(
        hnp.arrays(
            np.float64, x.shape, elements=st_h.sampled_from([0.0, -0.0, 0.5, 1.0, -2.0, np.nan])
        )
    )
    x = x if before_dtype.startswith("float") else np.nan_to_num(x, nan=1.0)
    y = y if after_dtype.startswith("float") else np.nan_to_num(y, nan=1.0)
    x, y = x.astype(before_dtype), y.astype(after_dtype)
    roles = "HW" if x.ndim == 2 else "NHW"
    for scope in ("all", "row", "column"):
        both_engines(x, y, scope, roles)


def test_engines_agree_where_float32_merges_float64_values() -> None:
    # distinct float64 values that round to one float32 (the compiled engine's sort key)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, (40, 50)).astype(np.uint8)
    base = np.float32(0.3) + np.zeros(x.shape)
    y = base + rng.integers(-3, 4, x.shape) * 1e-12 * (rng.random(x.shape) < 0.7)
    assert len(np.unique(y)) > len(np.unique(y.astype(np.float32)))
    both_engines(x, y, "all", "HW")
    both_engines(x, y, "row", "HW")
    maps = rank_maps(x, y, engine="compiled")
    after = np.stack([maps.ranks_at(i)[1] for i in range(len(x))])
    np.testing.assert_array_equal(after, st.rankdata(y.ravel()).reshape(y.shape))
    counts, partners = brute(x[:6], y[:6])
    d, m = rank_compare(x[:6], y[:6], engine="compiled")
    p = d.pairs
    assert (p.concordant, p.discordant, p.ties_broken, p.ties_created, p.ties_kept) == counts
    np.testing.assert_array_equal(m.partners.ravel(), partners)


@pytest.mark.parametrize("seed", range(2))
def test_engines_agree_on_big_groups_split_over_threads(seed) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (300, 400)).astype(np.uint8)  # 120,000 pixels: the row is cut
    y = keras(x, 1)
    y[rng.random(y.shape) < 0.01] = np.nan
    both_engines(x, y, "all", "HW")
    both_engines(x.astype(np.float32), y.astype(np.float32), "all", "HW")
    both_engines(x, y, "row", "HW")  # 300 groups: blocks of rows on threads


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="engine"):
        rank_diff(np.ones((2, 2)), np.ones((2, 2)), engine="fortran")


def test_one_thread_gives_the_same_answer() -> None:
    from normscope.core import engine

    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (1024, 1100)).astype(np.uint8)  # over 2**20: halves sorted apart
    y = keras(x, 0)
    d2, m2 = rank_compare(x, y)
    with engine.limit_threads(1):
        assert len(engine.row_parts(10)) == 1
        d1, m1 = rank_compare(x, y)
    assert len(engine.row_parts(10)) == min(engine.threads(), 10)
    assert d1.pairs == d2.pairs and d1.kendall_mean == d2.kendall_mean
    assert abs(d1.spearman_mean - d2.spearman_mean) < 1e-12  # sums split over threads
    np.testing.assert_array_equal(m1.partners, m2.partners)
    np.testing.assert_array_equal(m1.displacement, m2.displacement)


def test_one_images_scope_and_its_rank_shift_over_channels() -> None:
    from normscope.core.ranks import image_scope, shift_over_channels

    assert [image_scope(s) for s in (None, "image", "all", "row", (0,))] == [
        "all",
        "all",
        "all",
        "row",
        (0,),
    ]
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (6, 5, 3)).astype(np.uint8)
    y = x / np.linalg.norm(x.astype(np.float64), axis=0, keepdims=True)
    m = rank_maps(x, y, scope=image_scope("image"), roles="HWC")
    shift = shift_over_channels(m, "HWC")
    assert shift.dtype == np.float32 and shift.shape == (6, 5)
    np.testing.assert_array_equal(shift, m.displacement.mean(axis=-1, dtype=np.float32))
    gray = rank_maps(x[..., 0], y[..., 0], roles="HW")
    assert shift_over_channels(gray, "HW") is gray.displacement
