"""The command line: report, normalize, export; one-line errors and exit statuses."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from normscope.core.display import to_uint8
from normscope.core.histogram import histogram
from normscope.core.loading import load
from normscope.core.logs import configure_logging, log_path
from normscope.core.normalize import Normalization, from_preset
from normscope.core.ranks import diagnose, rank_compare, rank_diff
from normscope.core.report import build_comparison, build_report, default_export_name
from normscope.gui import app
from normscope.main import STOP_SIGNALS, main

DIGITS = load("sample:digits")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_json_equals_core(capsys) -> None:
    code, out, err = run(
        capsys, "report", "sample:digits", "--method", "keras", "--axis", "1", "--json"
    )
    assert code == 0 and err == ""
    r = json.loads(out)
    y = Normalization(method="keras", axis=1).apply(DIGITS.array, roles="NHW")
    d = rank_diff(DIGITS.array, y, scope="image", roles="NHW")
    assert r["input"] == {
        "path": "sample:digits",
        "shape": [64, 28, 28],
        "dtype": "uint8",
        "roles": "NHW",
        "index": None,
        "nonfinite_groups": 0,
    }
    assert r["normalization"]["axis"] == [1] and r["normalization"]["method"] == "keras"
    assert r["normalization"]["code"] == "x = tf.keras.utils.normalize(x, axis=1, order=2)"
    assert r["output"]["dtype"] == "float64" and r["output"]["max"] == float(y.max())
    assert r["ranks"]["scope"] == "image" and r["ranks"]["groups"] == 64
    assert r["ranks"]["pairs"]["discordant"] == d.pairs.discordant
    assert r["ranks"]["spearman"]["mean"] == d.spearman_mean
    assert r["ranks"]["kendall_tau_b"]["min"] == d.kendall_min
    diag = diagnose(DIGITS.array, y, roles="NHW")
    assert r["preserved_within"] == diag.preserved
    assert r["batch"] == {
        "images": 64,
        "images_with_inversions": diag.images_with_inversions,
        "worst_image": diag.worst_image,
    }
    assert r == build_report(DIGITS, Normalization(method="keras", axis=1))


def test_report_text_and_defaults(capsys) -> None:
    code, out, _ = run(capsys, "report", "sample:photo")
    assert code == 0
    assert "keras, axis 2 (C)" in out and "ranks kept within:" in out and "scope all" in out
    code, out, _ = run(capsys, "report", "sample:digits", "--axis", "1")
    y = Normalization(method="keras", axis=1).apply(DIGITS.array, roles="NHW")
    diag = diagnose(DIGITS.array, y, roles="NHW")
    assert "keras, axis 1 (H)" in out
    assert (
        f"batch: {diag.images_with_inversions} of 64 images have pairs flipped within the "
        f"image; the most in image {diag.worst_image}"
    ) in out
    code, out, _ = run(capsys, "report", "sample:digits", "--axis", "1,2")
    assert "keras, axes 1, 2 (H, W)" in out
    code, out, _ = run(capsys, "report", "sample:gray16", "--method", "minmax", "--axis", "none")
    assert code == 0 and "rank preserving: True, strictly: True" in out


@pytest.mark.parametrize(
    "options",
    [
        ["--method", "lp", "--order", "inf", "--axis", "1,2"],
        ["--method", "zscore", "--axis", "0", "--scope", "column"],
        ["--preset", "sklearn.StandardScaler"],
        ["--method", "percentile", "--axis", "-1", "--index", "3"],
        ["--method", "minmax", "--scope", "row", "--roles", "NHW"],
    ],
)
def test_options(capsys, options) -> None:
    code, out, err = run(capsys, "report", "sample:digits", *options, "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["ranks"]["pairs"]["total"] == sum(
        r["ranks"]["pairs"][k]
        for k in ("concordant", "discordant", "ties_broken", "ties_created", "ties_kept")
    )
    if "--index" in options:  # a report on one image: no batch figures
        assert r["input"]["index"] == 3 and r["ranks"]["groups"] == 1 and r["batch"] is None


def test_nonfinite_groups_are_counted(capsys, tmp_path) -> None:
    x = np.arange(24, dtype=np.float64).reshape(4, 6)
    x[1, 2] = np.nan
    x[3, 0] = np.inf
    np.save(tmp_path / "nan.npy", x)
    code, out, _ = run(capsys, "report", str(tmp_path / "nan.npy"), "--axis", "1", "--json")
    r = json.loads(out)
    assert code == 0 and r["input"]["nonfinite_groups"] == 2  # two rows hold NaN or inf
    # NaN spreads over row 1; inf / inf is NaN in row 3: those pixels leave every pair
    assert r["ranks"]["nan_pixels"] == 7 and r["output"]["nonfinite"] == 7
    code, out, _ = run(capsys, "report", str(tmp_path / "nan.npy"), "--axis", "1")
    assert "2 groups hold NaN or inf" in out and "7 NaN pixels are left out of every pair" in out
    np.save(tmp_path / "flat.npy", np.full((4, 6), 7, np.uint8))
    code, out, _ = run(capsys, "report", str(tmp_path / "flat.npy"), "--method", "minmax")
    assert "Spearman ρ n/a (constant), Kendall τ-b n/a (constant)" in out


def test_pixel_limit_can_be_lowered_and_raised(capsys) -> None:
    code, _, err = run(capsys, "report", "sample:photo", "--max-pixels", "1000")
    assert code == 1 and "over the limit of 1,000" in err
    assert run(capsys, "report", "sample:photo", "--max-pixels", "200000")[0] == 0


def test_npz_key(capsys, tmp_path) -> None:
    np.savez(tmp_path / "m.npz", a=np.ones((3, 4, 5)), b=np.arange(20.0).reshape(4, 5))
    code, out, _ = run(capsys, "report", str(tmp_path / "m.npz"), "--key", "b", "--json")
    assert code == 0 and json.loads(out)["input"]["shape"] == [4, 5]


@pytest.mark.parametrize("suffix", [".npy", ".tiff", ".png"])
def test_normalize_writes_the_array(capsys, tmp_path, suffix) -> None:
    out = tmp_path / f"y{suffix}"
    args = ["normalize", "sample:gray16", "--method", "keras", "--axis", "1", "-o", str(out)]
    code, _, err = run(capsys, *args)
    assert code == 0, err
    want = Normalization(method="keras", axis=1).apply(load("sample:gray16").array, roles="HW")
    if suffix == ".npy":
        got = np.load(out, allow_pickle=False)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)  # bit-exact round trip
    elif suffix == ".tiff":
        np.testing.assert_array_equal(tifffile.imread(out), want)
    else:
        view = iio.imread(out)
        assert view.dtype == np.uint16 and view.max() == 65535
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left behind
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's private 0600


def test_the_comparison_names_the_scope_of_its_counts() -> None:
    keras = Normalization(method="keras", axis=1)
    whole = build_comparison(DIGITS, keras, index=0)
    assert whole.verdict.inverted_line() == (
        "Within the whole image: 2.07% of pixel pairs inverted (6,368 of 306,936)"
    )
    columns = build_comparison(DIGITS, keras, index=0, scope="column")
    assert "Within each column: 0.00% of pixel pairs inverted (0 of " in columns.verdict.line()


def test_a_comparison_can_show_one_channel() -> None:
    photo = load("sample:photo")
    keras = Normalization(method="keras", axis=1)
    comp = build_comparison(photo, keras, channel=1)
    after = keras.apply(photo.array, roles="HWC")
    np.testing.assert_array_equal(comp.original, photo.array[..., 1])
    np.testing.assert_array_equal(comp.normalized, after[..., 1])
    np.testing.assert_array_equal(comp.hist_original.counts, histogram(photo.array[..., 1]).counts)
    _, maps = rank_compare(photo.array, after, scope="all", roles="HWC")
    np.testing.assert_array_equal(comp.displacement, maps.displacement[..., 1])
    every = build_comparison(photo, keras)  # the verdict counts every channel either way
    assert comp.verdict == every.verdict and "channel 1" in comp.caption[0]
    with pytest.raises(ValueError, match="channel 3"):
        build_comparison(photo, keras, channel=3)


def test_normalize_one_image_of_a_batch(capsys, tmp_path) -> None:
    out = tmp_path / "one.npy"
    code, _, _ = run(capsys, "normalize", "sample:digits", "--preset", "sklearn.MinMaxScaler",
                     "--index", "5", "-o", str(out))  # fmt: skip
    assert code == 0
    want = from_preset("sklearn.MinMaxScaler", "NHW").apply(DIGITS.array, roles="NHW")[5]
    np.testing.assert_array_equal(np.load(out), want)


def test_export_writes_the_three_panels(capsys, tmp_path) -> None:
    out = tmp_path / "cmp.png"
    args = ["export", "sample:digits", "--method", "keras", "--axis", "1", "--index", "2"]
    code, _, err = run(capsys, *args, "-o", str(out))
    assert code == 0, err
    picture = iio.imread(out)
    from normscope.gui.export import comparison_layout, panel_rgb

    comp = build_comparison(DIGITS, Normalization(method="keras", axis=1), index=2)
    lay = comparison_layout(comp)
    assert picture.shape[:2] == (lay.size[1], lay.size[0]) and lay.zoom == 12
    for which, rect in enumerate(lay.panels):
        block = picture[
            rect.top() : rect.top() + rect.height(), rect.left() : rect.left() + rect.width()
        ]
        want = np.repeat(np.repeat(panel_rgb(comp, which), lay.zoom, 0), lay.zoom, 1)
        np.testing.assert_array_equal(block[..., :3], want)
    before = to_uint8(DIGITS.array[2], (0, 255))
    np.testing.assert_array_equal(panel_rgb(comp, 0)[..., 0], before)


def test_default_export_names() -> None:
    assert default_export_name("digits", Normalization(method="keras", axis=1)) == (
        "digits_keras_axis1.png"
    )
    n = from_preset("sklearn.normalize.l2", "NHW")
    assert default_export_name("x.npy", n, ".json") == "x_sklearn.normalize.l2_axis1-2.json"


def test_bad_input_exits_1_with_one_line(capsys, tmp_path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"nope")
    code, out, err = run(capsys, "report", str(bad))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "broken.png" in err and err.startswith("normscope: ")
    code, _, err = run(capsys, "report", "sample:digits", "--method", "keras", "--axis", "none")
    assert code == 1 and "axis=None" in err and err.count("\n") == 1


def test_bad_usage_exits_2(capsys, tmp_path) -> None:
    assert run(capsys, "report", "sample:digits", "--method", "nope")[0] == 2
    assert (
        run(capsys, "report", "sample:digits", "--method", "keras", "--preset", "cv2.NORM_L2")[0]
        == 2
    )
    assert run(capsys, "report", "sample:digits", "--axis", "a,b")[0] == 2
    code, _, err = run(capsys, "report", "sample:photo", "--index", "1")
    assert code == 2 and "batch" in err
    code, _, err = run(capsys, "normalize", "sample:digits", "-o", str(tmp_path / "x.bmp"))
    assert code == 2 and "x.bmp" in err
    code, _, err = run(capsys, "report", "sample:digits", "--preset", "cv2.NORM_L2", "--axis", "1")
    assert code == 2 and "preset" in err


def test_export_refuses_to_overwrite_the_input(capsys, tmp_path) -> None:
    src = tmp_path / "in.png"
    iio.imwrite(src, np.arange(64, dtype=np.uint8).reshape(8, 8))
    before = src.read_bytes()
    code, _, err = run(capsys, "export", str(src), "-o", str(src))
    assert code == 2 and "input" in err and src.read_bytes() == before


def test_help_lists_every_command(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("report", "normalize", "export"):
        assert word in out
    assert "usage: normscope [PATH]" in out  # the window's form too


def test_export_without_any_display(tmp_path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    out = tmp_path / "headless.png"
    cmd = [
        sys.executable,
        "-m",
        "normscope",
        "export",
        "sample:digits",
        "--axis",
        "1",
        "-o",
        str(out),
    ]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert iio.imread(out).shape[0] > 400


def test_window_without_display_says_so(tmp_path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    cmd = [sys.executable, "-m", "normscope", "sample:digits"]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "no display found" in result.stderr
    assert "QT_QPA_PLATFORM=offscreen" in result.stderr


@pytest.fixture
def quiet_log():
    """Leave the log as a run without --verbose does: no handler keeps a captured stderr."""
    yield
    configure_logging()


def test_failures_are_logged_with_their_story(capsys, quiet_log) -> None:
    bad = ("report", "sample:digits", "--method", "keras", "--axis", "none")
    code, _, err = run(capsys, *bad)
    assert code == 1 and err.count("\n") == 1  # the screen gets one line, the log the story
    logged = log_path().read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in logged and "axis=None" in logged
    for argv in ((*bad, "--verbose"), ("--verbose", *bad)):  # --verbose: on stderr too
        code, _, err = run(capsys, *argv)
        assert code == 1 and "Traceback (most recent call last)" in err
        assert err.splitlines()[-1].startswith("normscope: ") and "axis=None" in err


def test_verbose_is_an_option_of_the_window_and_every_command(
    capsys, monkeypatch, quiet_log
) -> None:
    opened: list[object] = []
    monkeypatch.setattr(app, "run_window", lambda *a, **k: opened.append((a, k)) or 0)
    assert main(["--verbose", "sample:photo", "--index", "0"]) == 0
    assert opened == [(("sample:photo",), {"key": None, "index": 0, "close_on": STOP_SIGNALS})]
    stream = [
        h for h in logging.getLogger("normscope").handlers if type(h).__name__ == "StreamHandler"
    ]
    assert stream, "--verbose logs to stderr"
    for command in ("report", "normalize", "export"):
        assert main([command, "--help"]) == 0
        assert "--verbose" in capsys.readouterr().out
