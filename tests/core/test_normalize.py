"""Normalization methods and presets against the libraries people call, and their properties."""

from __future__ import annotations

import math

import albumentations as A
import cv2
import numpy as np
import pytest
import sklearn.preprocessing as skp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from skimage import exposure
from skimage.util import img_as_float

from normscope.core.loading import load
from normscope.core.normalize import (
    METHODS,
    PRESETS,
    Normalization,
    NormalizationError,
    count_nonfinite_groups,
    from_preset,
    normalize,
)

RNG = np.random.default_rng(7)
DTYPES = ["uint8", "uint16", "int8", "int16", "int32", "float16", "float32", "float64", "bool"]
SHAPES = {"HW": (12, 9), "HWC": (10, 8, 3), "NHW": (4, 7, 6), "NHWC": (3, 6, 5, 3)}


def random_array(shape, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return RNG.random(shape) > 0.5
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -1000), min(info.max, 1000)
        return RNG.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    return (RNG.standard_normal(shape) * 50).astype(dtype)


def keras_formula(x, axis=-1, order=2):
    """Keras 2 / tf-keras np_utils.normalize, verbatim."""
    l2 = np.atleast_1d(np.linalg.norm(x, order, axis))
    l2[l2 == 0] = 1
    return x / np.expand_dims(l2, axis)


# --- keras ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("roles", sorted(SHAPES))
def test_keras_is_bit_exact_on_every_axis(dtype, roles) -> None:
    x = random_array(SHAPES[roles], dtype)
    for axis in [*range(-x.ndim, x.ndim), (0, 1), (x.ndim - 2, x.ndim - 1)]:
        for order in (1, 2, np.inf):
            n = Normalization(method="keras", axis=axis, order=order)
            try:
                with np.errstate(all="ignore"):
                    want = keras_formula(x, axis, order)
            except (TypeError, ValueError) as exc:  # what Keras rejects, NormScope rejects
                with pytest.raises(NormalizationError, match=str(exc)[:20]):
                    n.apply(x, roles=roles)
                continue
            got = n.apply(x, roles=roles)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


def test_keras_worked_examples_from_the_reference() -> None:
    x = np.array([[[1, 10], [0, 10]]], np.uint8)
    y = normalize(x, "keras", axis=1)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, [[[1.0, 0.70710678], [0.0, 0.70710678]]], atol=1e-8)
    y = normalize(np.array([[[0, 3], [4, 4]]], np.uint8), "keras", axis=1)
    np.testing.assert_allclose(y, [[[0, 0.6], [1.0, 0.8]]])
    y = normalize(np.array([[[1.0, 2.0], [3.0, 4.0]]]), "keras", axis=(1, 2))
    np.testing.assert_allclose(y * 5.464986, [[[1, 2], [3, 4]]], rtol=1e-6)  # σmax, not Frobenius


def test_keras_rejections_are_clear() -> None:
    x = np.ones((2, 3, 4), np.uint8)
    with pytest.raises(NormalizationError, match="axis=None"):
        normalize(x, "keras", axis=None)
    with pytest.raises(NormalizationError, match="2 axes"):
        normalize(x, "keras", axis=(0, 1, 2))


def test_keras3_axis0_note() -> None:
    square = Normalization(method="keras", axis=0).describe((2, 2), "HW")
    assert "Keras 3" in square and "silently" in square
    other = Normalization(method="keras", axis=0).describe((5, 28, 28), "NHW")
    assert "ValueError" in other
    assert "Keras 3" not in Normalization(method="keras", axis=1).describe((5, 28, 28), "NHW")


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=9)))
def test_keras_axis1_gives_unit_columns_and_is_idempotent(x) -> None:
    y = normalize(x, "keras", axis=1)
    norms = np.linalg.norm(y, axis=1)
    nonzero = np.linalg.norm(x.astype(float), axis=1) > 0
    np.testing.assert_allclose(norms[nonzero], 1.0, rtol=1e-12)
    assert (norms[~nonzero] == 0).all()
    np.testing.assert_allclose(normalize(y, "keras", axis=1), y, rtol=1e-15, atol=0)


# --- the other methods ---------------------------------------------------------------------


@pytest.mark.parametrize("method", [m for m in METHODS if m != "keras"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_method_states_and_keeps_its_output_dtype(method, dtype) -> None:
    x = random_array((3, 8, 9, 3), dtype)
    axis = (1, 2) if METHODS[method].uses_axis else "default"
    y = Normalization(method=method, axis=axis).apply(x, roles="NHWC")
    assert y.shape == x.shape
    if method == "meanstd":
        assert y.dtype == np.float32
    elif method == "dtype" and x.dtype.kind == "f":
        assert y.dtype == x.dtype
    elif method == "dtype":
        assert y.dtype == np.float64
    else:
        assert y.dtype == (np.float32 if dtype in ("float16", "float32") else np.float64)


def test_lp_flattens_several_axes_into_one_vector() -> None:
    x = RNG.integers(0, 255, (3, 5, 4)).astype(np.uint8)
    for order in (1, 2, np.inf):
        y = normalize(x, "lp", axis=(1, 2), order=order)
        flat = x.reshape(3, -1).astype(float)
        want = flat / np.linalg.norm(flat, order, axis=1, keepdims=True)
        np.testing.assert_allclose(y.reshape(3, -1), want, rtol=1e-14)
    assert (normalize(np.zeros((2, 2)), "lp", axis=1) == 0).all()


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, (4, 6), elements=st.floats(-1e6, 1e6)))
def test_minmax_spans_zero_to_one_per_group(x) -> None:
    y = normalize(x, "minmax", axis=1)
    for row, out in zip(x, y, strict=True):
        if np.ptp(row) > 0:
            assert out.min() == 0.0 and abs(out.max() - 1.0) < 1e-12
        else:
            assert (out == 0).all()  # a constant group maps to the low end


def test_minmax_target_range_and_sklearn_minmax_scale() -> None:
    x = np.array([[0, 5, 10], [2, 2, 2]])
    np.testing.assert_array_equal(normalize(x, "minmax", axis=1), [[0, 0.5, 1], [0, 0, 0]])
    y = normalize(x, "minmax", axis=1, feature_range=(-1.0, 1.0))
    np.testing.assert_array_equal(y, [[-1, 0, 1], [-1, -1, -1]])


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int8", "int16", "bool", "float32"])
def test_dtype_method_matches_img_as_float(dtype) -> None:
    x = random_array((9, 7), dtype)
    np.testing.assert_array_equal(normalize(x, "dtype"), img_as_float(x))


def test_zscore_is_standard_scaler_over_the_batch_axis() -> None:
    x = RNG.integers(0, 255, (20, 4, 5)).astype(np.uint8)
    y = normalize(x, "zscore", axis=0)
    want = skp.StandardScaler().fit_transform(x.reshape(20, -1).astype(float)).reshape(x.shape)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    assert (normalize(np.full((3, 3), 7.0), "zscore", axis=None) == 0).all()


def test_percentile_clips_then_stretches() -> None:
    x = np.arange(100, dtype=np.float64).reshape(10, 10)
    y = normalize(x, "percentile", axis=None, percentiles=(2.0, 98.0))
    lo, hi = np.percentile(x, (2, 98))
    np.testing.assert_allclose(y, (np.clip(x, lo, hi) - lo) / (hi - lo))
    assert (y == 0).sum() == 2 and (y == 1).sum() == 2  # ties created at both ends


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
def test_equalize_matches_skimage(dtype) -> None:
    x = random_array((16, 12), dtype)
    if x.dtype.kind == "u":
        x = x.astype(dtype)
    got = normalize(x, "equalize", axis=None)
    want = exposure.equalize_hist(x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    grouped = normalize(x[None], "equalize", axis=(1, 2))
    np.testing.assert_array_equal(grouped[0], want)


def test_equalize_reference_examples() -> None:
    x = np.array([[0, 0, 1, 2], [2, 2, 100, 200]], np.uint8)
    want = [[0.25, 0.25, 0.375, 0.75], [0.75, 0.75, 0.875, 1.0]]
    np.testing.assert_allclose(normalize(x, "equalize", axis=None), want)


def test_meanstd_uses_the_channel_axis_and_refuses_mismatches() -> None:
    x = RNG.integers(0, 255, (5, 4, 3)).astype(np.uint8)
    y = normalize(x, "meanstd", roles="HWC")
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    np.testing.assert_array_equal(y, (x.astype(np.float32) / np.float32(255) - mean) / std)
    with pytest.raises(NormalizationError, match="no channel axis"):
        normalize(x[..., 0], "meanstd", roles="HW")
    with pytest.raises(NormalizationError, match="zero"):
        normalize(x, "meanstd", roles="HWC", mean=(0.5,), std=(0.0,))


def test_nan_propagates_within_its_group_only() -> None:
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    for method in ("keras", "lp", "minmax", "zscore", "percentile", "equalize"):
        axis = 1
        y = normalize(x, method, axis=axis)
        assert np.isnan(y[0]).all() or np.isnan(y[0, 1]), method
        assert np.isfinite(y[1]).all(), method
    assert count_nonfinite_groups(x, axis=1) == 1
    assert count_nonfinite_groups(np.array([[np.inf, 1.0]]), axis=None) == 1


@pytest.mark.parametrize("method", list(METHODS))
def test_empty_and_constant_inputs(method) -> None:
    roles = "HWC" if method == "meanstd" else "HW"
    shape = (0, 4, 3) if method == "meanstd" else (0, 4)
    empty = np.zeros(shape, np.uint8)
    axis = "default" if not METHODS[method].uses_axis or method == "keras" else None
    assert Normalization(method=method, axis=axis).apply(empty, roles=roles).shape == shape
    const = np.full((4, 4, 3) if method == "meanstd" else (4, 4), 9, np.uint8)
    y = Normalization(method=method, axis=axis).apply(const, roles=roles)
    assert np.isfinite(y).all()


# --- presets ------------------------------------------------------------------------------------


def sk_matrix(x):
    return x.reshape(len(x), -1)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
def test_sklearn_normalize_bit_exact(norm, dtype) -> None:
    x = random_array((6, 5, 4), dtype)
    got = from_preset(f"sklearn.normalize.{norm}", "NHW").apply(x, roles="NHW")
    want = skp.normalize(sk_matrix(x), norm=norm).reshape(x.shape)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    image = random_array((7, 9), dtype)  # one 2-D image: scikit-learn sees rows as samples
    got = from_preset(f"sklearn.normalize.{norm}", "HW").apply(image, roles="HW")
    np.testing.assert_array_equal(got, skp.normalize(image, norm=norm))


def test_sklearn_tiny_norm_threshold() -> None:
    x = np.array([[1e-6, 0.0]], np.float32)  # below 10*eps(float32): left unchanged
    np.testing.assert_array_equal(from_preset("sklearn.normalize.l2", "HW").apply(x), x)
    x = np.array([[1e-5, 0.0]], np.float32)
    np.testing.assert_array_equal(from_preset("sklearn.normalize.l2", "HW").apply(x), [[1, 0]])


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
def test_sklearn_scalers_bit_exact(dtype) -> None:
    x = random_array((12, 5, 4), dtype)
    x[:, 0, 0] = x[0, 0, 0]  # a constant pixel position, like MNIST's border
    m = sk_matrix(x)
    cases = {
        "sklearn.MinMaxScaler": skp.MinMaxScaler().fit_transform(m),
        "sklearn.StandardScaler": skp.StandardScaler().fit_transform(m),
        "sklearn.minmax_scale": skp.minmax_scale(m, axis=1),
    }
    for name, want in cases.items():
        got = from_preset(name, "NHW").apply(x, roles="NHW")
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want.reshape(x.shape), err_msg=name)


def test_torchvision_preset_scales_only_uint8() -> None:
    x = RNG.integers(0, 255, (6, 5, 3)).astype(np.uint8)
    n = from_preset("torchvision.Normalize", "HWC")
    want = (x.astype(np.float32) / np.float32(255) - np.float32([0.485, 0.456, 0.406])) / (
        np.float32([0.229, 0.224, 0.225])
    )
    np.testing.assert_array_equal(n.apply(x, roles="HWC"), want)
    u16 = x.astype(np.uint16)  # ToTensor does not scale uint16: values stay in 0..255
    assert n.apply(u16, roles="HWC").max() > 100


ALBU_MODES = ["standard", "image", "image_per_channel", "min_max", "min_max_per_channel"]


@pytest.mark.parametrize("mode", ALBU_MODES)
@pytest.mark.parametrize("shape", [(9, 11, 3), (9, 11)])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_albumentations_presets(mode, shape, dtype) -> None:
    x = RNG.integers(0, 255, shape).astype(dtype)
    if dtype == "float32":
        x = x / np.float32(255)
    roles = "HWC" if len(shape) == 3 else "HW"
    want = A.Normalize(normalization=mode, p=1.0)(image=x)["image"]
    got = from_preset(f"albumentations.{mode}", roles).apply(x, roles=roles)
    assert got.shape == want.shape
    if dtype == "uint8":  # the LUT path: a table lookup, bit-exact (float64 for per-image modes)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    else:  # the float path runs through OpenCV's float32 arithmetic: agree to float32 precision
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


def test_albumentations_min_max_lut_quirk() -> None:
    x = np.array([[0, 10], [20, 255]], np.uint8)
    y = from_preset("albumentations.min_max", "HW").apply(x, roles="HW")
    assert y.dtype == np.float64 and 0.9999 < y.max() < 1.0


@pytest.mark.parametrize("kind", ["MINMAX", "L1", "L2", "INF"])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_cv2_presets(kind, dtype) -> None:
    x = RNG.integers(0, 255, (13, 17, 3)).astype(dtype)
    flag = getattr(cv2, f"NORM_{kind}")
    alpha, beta = (0, 1) if kind == "MINMAX" else (1, 0)
    want = cv2.normalize(x, None, alpha, beta, flag, dtype=cv2.CV_32F)
    got = from_preset(f"cv2.NORM_{kind}", "HWC").apply(x, roles="HWC")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)  # OpenCV scales in float32


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float64"])
def test_skimage_presets_bit_exact(dtype) -> None:
    x = random_array((10, 12), dtype)
    got = from_preset("skimage.rescale_intensity", "HW").apply(x, roles="HW")
    want = exposure.rescale_intensity(x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        from_preset("skimage.equalize_hist", "HW").apply(x, roles="HW"), exposure.equalize_hist(x)
    )
    np.testing.assert_array_equal(
        from_preset("skimage.rescale_intensity", "HW").apply(np.array([[51, 102, 153]], np.uint8)),
        [[0, 127, 255]],
    )


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_runs_on_every_sample_and_says_what_it_is(name) -> None:
    for sample in ("digits", "photo", "gray16"):
        loaded = load(f"sample:{sample}")
        n = from_preset(name, loaded.roles)
        try:
            y = n.apply(loaded.array, roles=loaded.roles)
        except NormalizationError as exc:  # e.g. three ImageNet constants on a gray image
            assert "channel" in str(exc)
            continue
        assert y.shape == loaded.array.shape
        assert PRESETS[name].label in n.describe(loaded.array.shape, loaded.roles)
        assert n.code(loaded.roles).startswith(("x = ", "X = "))


def test_descriptions_speak_the_users_words() -> None:
    n = Normalization(method="keras", axis=1)
    assert n.describe((60000, 28, 28), "NHW") == (
        "one L2 norm per image and column: 1,680,000 groups of 28 pixels; every column of "
        "every image is scaled by its own factor"
    )
    assert "across 60,000 images" in Normalization("zscore", axis=0).describe(
        (60000, 28, 28), "NHW"
    )
    assert "whole array" in Normalization("minmax", axis=None).describe((28, 28), "HW")
    assert n.code("NHW") == "x = tf.keras.utils.normalize(x, axis=1, order=2)"


COMPILED_CASES = [
    ("keras", {}),
    ("lp", {"order": 1}),
    ("lp", {"order": 2}),
    ("lp", {"order": math.inf}),
    ("minmax", {}),
    ("minmax", {"feature_range": (-1.0, 3.5)}),
    ("percentile", {}),
    ("percentile", {"percentiles": (0.0, 100.0)}),
    ("percentile", {"percentiles": (12.5, 62.3)}),
    ("equalize", {}),
    ("zscore", {}),
    ("meanstd", {"mean": (0.2, 0.4, 0.6), "std": (0.3, 0.2, 0.1)}),
    ("meanstd", {"mean": (0.5,), "std": (0.25,)}),
]


@pytest.mark.parametrize(("method", "options"), COMPILED_CASES)
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_compiled_paths_equal_numpy_to_the_bit(method, options, dtype, monkeypatch) -> None:
    from normscope.core import engine

    rng = np.random.default_rng(7)
    x = (rng.integers(0, 256, (5, 40, 33, 3)) * (257 if dtype == "uint16" else 1)).astype(dtype)
    x[0, :, :5] = 0  # constant stretches: zero norms, zero spans
    runs = [(x, "NHWC", axis) for axis in (None, 0, 1, 2, 3, (1, 2), (2, 3), (0, 2), -1)]
    if method == "meanstd":
        runs = [(x, "NHWC", None)] + (
            [(x[..., 0], "NHW", None)] if len(options["mean"]) == 1 else []
        )
    for data, roles, axis in runs:
        n = Normalization(method=method, axis=axis, **options)
        if method == "keras" and not isinstance(axis, int):
            continue
        fast = n.apply(data, roles=roles)
        with monkeypatch.context() as m:
            m.setattr(engine, "kernels", lambda: None)
            slow = n.apply(data, roles=roles)
        assert fast.dtype == slow.dtype
        np.testing.assert_array_equal(fast, slow, err_msg=f"{method} axis {axis}")


def test_presets_are_a_registry_with_named_fields() -> None:
    from normscope.core import presets

    assert PRESETS is presets.PRESETS  # one registry, re-exported by normalize
    for name, p in PRESETS.items():
        assert p.name == name and p.label and p.library and p.method in METHODS
        for roles in ("HW", "HWC", "NHW", "NHWC"):
            n = from_preset(name, roles)
            assert (n.method, n.axis, n.preset) == (p.method, p.axes(roles), name)
            assert n.code(roles) == p.code_for(roles) and "{" not in n.code(roles)


@pytest.mark.parametrize(
    ("method", "axis", "roles", "whole"),
    [
        ("keras", 1, "NHW", False),  # per image and column
        ("zscore", 0, "NHW", True),  # across the images
        ("minmax", None, "NHW", True),  # the whole array
        ("dtype", "default", "NHW", False),  # no axis: each pixel alone
        ("keras", 1, "HW", True),  # one image: the whole array
    ],
)
def test_needs_whole_array_is_the_normalizations_own(method, axis, roles, whole) -> None:
    assert Normalization(method=method, axis=axis).needs_whole_array(roles) is whole


@pytest.mark.parametrize(
    "call",
    [
        dict(method="keras", axis=0),
        dict(method="keras", axis=1),
        dict(method="lp", axis=(0, 1)),
        dict(method="minmax", axis=(0, 1)),
        dict(method="minmax", axis=None),
        dict(method="zscore", axis=0),
        dict(method="zscore", axis=(0, 1)),
        dict(method="zscore", axis=None),
    ],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_apply_into_a_spare_buffer_gives_the_bits_of_a_fresh_call(call, dtype) -> None:
    rng = np.random.default_rng(7)
    x = (rng.random((37, 23, 3)) * 200).astype(dtype)
    n = Normalization(**call)
    fresh = n.apply(x, roles="HWC")
    spare = np.full(x.shape, np.nan, fresh.dtype)
    into = n.apply(x, roles="HWC", out=spare)
    np.testing.assert_array_equal(into, fresh, strict=True)
    assert into.view(np.uint8).tobytes() == fresh.view(np.uint8).tobytes()  # -0.0, NaN bits
    if np.shares_memory(into, spare):
        assert into.base is spare or into is spare
    wrong = np.zeros((x.shape[0] + 1, *x.shape[1:]), fresh.dtype)
    again = n.apply(x, roles="HWC", out=wrong)  # a buffer that does not fit is left alone
    assert not np.shares_memory(again, wrong) and not wrong.any()
    np.testing.assert_array_equal(again, fresh, strict=True)


def test_apply_writes_into_a_fitting_buffer_on_the_compiled_path() -> None:
    from normscope.core import engine

    if engine.kernels() is None:
        pytest.skip("only the compiled kernels write into a spare, and numba is not installed")
    x = np.arange(48 * 5 * 3, dtype=np.uint8).reshape(48, 5, 3)
    spare = np.empty(x.shape, np.float64)
    for call in (dict(method="keras", axis=0), dict(method="zscore", axis=(0, 1))):
        out = Normalization(**call).apply(x, roles="HWC", out=spare)
        assert np.shares_memory(out, spare)
