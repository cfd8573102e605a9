"""``normscope report/export BEFORE --after AFTER``: an after array made elsewhere."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from normscope.core.loading import load
from normscope.core.normalize import Normalization
from normscope.core.pairing import AfterArray
from normscope.core.report import build_comparison, build_report
from normscope.main import main

DIGITS = load("sample:digits")
KERAS = Normalization(method="keras", axis=1)


@pytest.fixture
def after_file(tmp_path):
    path = tmp_path / "after.npy"
    np.save(path, KERAS.apply(DIGITS.array, roles="NHW"))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_json_of_a_file_pair_equals_core(capsys, after_file) -> None:
    code, out, err = run(capsys, "report", "sample:digits", "--after", str(after_file), "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["normalization"] == {
        "method": "file",
        "path": str(after_file),
        "description": "from file: after.npy",
    }
    given = AfterArray.pair(DIGITS.array, np.load(after_file), "NHW", path=str(after_file))
    assert r == build_report(DIGITS, given)
    method = build_report(DIGITS, KERAS)  # the same numbers as the method itself
    assert r["ranks"] == method["ranks"] and r["batch"] == method["batch"]


def test_report_text_says_where_the_after_came_from(capsys, after_file) -> None:
    code, out, _ = run(capsys, "report", "sample:digits", "--after", str(after_file))
    assert code == 0
    assert "normalization: from file: after.npy" in out and "tf.keras" not in out


def test_after_roles_explain_a_channels_first_after(capsys, tmp_path) -> None:
    photo = load("sample:photo")
    after = tmp_path / "tensor.npy"
    np.save(after, np.moveaxis(photo.array, -1, 0).astype(np.float32) / 255)  # ToTensor()
    argv = ["report", "sample:photo", "--after", str(after), "--json"]
    code, _, err = run(capsys, *argv)
    assert code == 1 and "give its axis roles" in err and err.count("\n") == 1
    code, out, err = run(capsys, *argv, "--after-roles", "CHW")
    assert code == 0, err
    assert json.loads(out)["ranks"]["rank_preserving"] is True


def test_export_of_a_file_pair_draws_the_core_comparison(capsys, tmp_path, after_file) -> None:
    out = tmp_path / "cmp.png"
    argv = ["export", "sample:digits", "--after", str(after_file), "--index", "2", "-o", str(out)]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    from normscope.gui.export import render_comparison

    given = AfterArray.pair(DIGITS.array, np.load(after_file), "NHW", path=str(after_file))
    want = render_comparison(build_comparison(DIGITS, given, index=2))
    picture = iio.imread(out)
    assert picture.shape[:2] == (want.height(), want.width())


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--method", "zscore"], 2, "--after cannot be combined with --method"),
        (["--axis", "1"], 2, "--after cannot be combined with --axis"),
        (["--after-roles"], 2, "expected one argument"),
    ],
)
def test_after_refuses_a_method_too(capsys, after_file, extra, code, message) -> None:
    got, _, err = run(capsys, "report", "sample:digits", "--after", str(after_file), *extra)
    assert got == code and message in err and err.count("\n") == 1


def test_mismatched_after_exits_1_with_one_line(capsys, tmp_path) -> None:
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((64, 28, 27)))
    code, _, err = run(capsys, "report", "sample:digits", "--after", str(bad))
    assert code == 1
    assert err == "normscope: bad.npy is 64 x 28 x 27 but the original is 64 x 28 x 28 (NHW)\n"
    code, _, err = run(capsys, "report", "sample:digits", "--after", str(tmp_path / "no.npy"))
    assert code == 1 and "no.npy" in err and err.count("\n") == 1
