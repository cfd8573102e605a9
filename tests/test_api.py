"""The Python API (normscope.normalize, compare, view): the same numbers as the command line,
core and the window for the same input."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

import normscope
from normscope.core.loading import load
from normscope.core.normalize import Normalization
from normscope.core.pairing import PairError
from normscope.main import main

DIGITS = load("sample:digits")
PHOTO = load("sample:photo")


def cli(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_import_is_light() -> None:
    code = "import sys, normscope; print(sorted({'numpy', 'PySide6'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"axis": 1}, {"method": "zscore", "axis": (1, 2)}, {"preset": "sklearn.normalize.l2"}],
)
def test_normalize_is_the_commands_array(capsys, tmp_path, kwargs) -> None:
    out = tmp_path / "y.npy"
    argv = [f"--{k}={v if not isinstance(v, tuple) else ','.join(map(str, v))}"
            for k, v in kwargs.items()]  # fmt: skip
    cli(capsys, "normalize", "sample:digits", *argv, "-o", str(out))
    y = normscope.normalize(DIGITS.array, **kwargs)
    assert y.dtype == np.load(out).dtype
    np.testing.assert_array_equal(y, np.load(out))


def test_normalize_refuses_axis_with_a_preset() -> None:
    with pytest.raises(ValueError, match="axis cannot be combined with preset"):
        normscope.normalize(DIGITS.array, preset="sklearn.normalize.l2", axis=1)


def test_compare_is_the_commands_report(capsys, tmp_path) -> None:
    y = normscope.normalize(DIGITS.array, axis=1)
    np.save(tmp_path / "after.npy", y)
    r = json.loads(cli(capsys, "report", "sample:digits", "--after", str(tmp_path / "after.npy"),
                       "--json"))  # fmt: skip
    c = normscope.compare(DIGITS.array, y)
    mine = json.loads(c.to_json())
    assert mine["normalization"] == {"method": "array", "path": None,
                                     "description": "from an array"}  # fmt: skip
    for key in ("output", "ranks", "preserved_within", "batch"):
        assert mine[key] == r[key], key
    assert c.pairs == r["ranks"]["pairs"] and c.spearman == r["ranks"]["spearman"]["mean"]
    assert c.kendall_tau_b == r["ranks"]["kendall_tau_b"]["mean"]
    assert c.rank_preserving is False and dict(c.preserved_within) == r["preserved_within"]
    # the same numbers as the method computed by NormScope itself
    method = json.loads(cli(capsys, "report", "sample:digits", "--axis", "1", "--json"))
    assert mine["ranks"] == method["ranks"]


def test_after_may_be_a_function_of_before() -> None:
    seen = []

    def scale(a: np.ndarray) -> np.ndarray:
        seen.append(a)
        a /= 2  # it may change its argument: the original is a copy
        return a

    x = DIGITS.array.astype(np.float64)
    c = normscope.compare(x, scale)
    assert seen[0] is not x and x.max() == DIGITS.array.max()
    assert c.rank_preserving is True
    assert c.report["normalization"]["description"] == "from the function " + scale.__qualname__


def test_comparison_is_frozen() -> None:
    c = normscope.compare(DIGITS.array, DIGITS.array / 255.0)
    assert isinstance(c, normscope.Comparison)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.spearman = 0.0
    with pytest.raises(TypeError):
        c.pairs["total"] = 0
    with pytest.raises(ValueError, match="read-only"):
        c.displacement[0, 0] = 1


def test_after_roles_and_mismatches() -> None:
    tensor = np.moveaxis(PHOTO.array, -1, 0).astype(np.float32) / 255  # ToTensor()
    assert normscope.compare(PHOTO.array, tensor, after_roles="CHW").rank_preserving is True
    with pytest.raises(PairError, match="give its axis roles"):
        normscope.compare(PHOTO.array, tensor)


def test_pictures_are_the_commands(capsys, tmp_path) -> None:
    y = normscope.normalize(DIGITS.array, axis=1)
    np.save(tmp_path / "after.npy", y)
    cli(capsys, "export", "sample:digits", "--after", str(tmp_path / "after.npy"), "--index", "4",
        "-o", str(tmp_path / "cli.png"))  # fmt: skip
    c = normscope.compare(DIGITS.array, y, index=4)
    c.save(tmp_path / "api.png")
    a, b = iio.imread(tmp_path / "api.png"), iio.imread(tmp_path / "cli.png")
    assert a.shape == b.shape
    from normscope.gui.export import comparison_layout

    rows = comparison_layout(c.picture).text_top  # above the captions, which name the after
    np.testing.assert_array_equal(a[:rows], b[:rows])
    png = c._repr_png_()
    assert png.startswith(b"\x89PNG") and iio.imread(png).shape == a.shape
    page = c._repr_html_()
    assert "data:image/png;base64," in page and c.verdict.kept_line() in page


def test_view_shows_what_compare_says(qtbot) -> None:
    y = normscope.normalize(DIGITS.array, axis=1)
    w = normscope.view(DIGITS.array, y, block=False)
    qtbot.addWidget(w)
    assert w.controller.join(timeout=20)
    stats = w.results.stats.diff
    c = normscope.compare(DIGITS.array[:1], y[:1], scope="all")
    assert stats.pairs.discordant == c.pairs["discordant"]
    assert stats.spearman_mean == c.spearman
    assert w.controls.description.text() == "from an array"
    np.testing.assert_array_equal(w.normalized.item.image, y[0])
    w.set_options(method="keras", axis=2)  # the window keeps answering
    assert w.controller.join(timeout=20)
    np.testing.assert_array_equal(
        w.normalized.item.image, normscope.normalize(DIGITS.array, axis=2)[0]
    )
    assert w.model.normalization == Normalization(method="keras", axis=2)
    w.close()


def test_view_normalizes_bit_exact_to_normalize(qtbot) -> None:
    w = normscope.view(PHOTO.array, method="zscore", axis=(0, 1), block=False)
    qtbot.addWidget(w)
    assert w.controller.join(timeout=20)
    y = normscope.normalize(PHOTO.array, "zscore", axis=(0, 1))
    np.testing.assert_array_equal(w.results.frame.normalized, y)
    w.close()


SCRIPT = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import normscope
from normscope.core.loading import load
from normscope.gui.window import MainWindow

x = load("sample:digits").array
QApplication(["script"])


def close_when_ready():
    w = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
    if w.results.stats is None:
        QTimer.singleShot(50, close_when_ready)
        return
    print("shown", w.controls.description.text(), flush=True)
    w.close()


QTimer.singleShot(0, close_when_ready)
w = normscope.view(x, x / 255.0)
print("returned after the close", type(w).__name__, w.isVisible())
"""


def test_view_blocks_a_plain_script_until_the_window_closes(tmp_path) -> None:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "shown from an array",
        "returned after the close MainWindow False",
    ]


def test_view_does_not_block_under_ipythons_qt_loop(monkeypatch, qapp) -> None:
    import IPython

    from normscope.api import qt_loop_runs

    class Shell:
        active_eventloop: str | None = None

    shell = Shell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    assert not qt_loop_runs()  # a plain script, or IPython without %gui qt: view blocks
    shell.active_eventloop = "qt"  # after %gui qt
    assert qt_loop_runs()
