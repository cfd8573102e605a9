"""``normscope export PATH --compare SPEC -o grid.png``: the comparison grid, headless."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np

from normscope.core.compare import parse_spec
from normscope.core.loading import load
from normscope.core.normalize import Normalization
from normscope.main import main

DIGITS = load("sample:digits")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_compare_writes_every_tile_at_data_resolution(capsys, tmp_path) -> None:
    from normscope.gui.export import panel_rgb
    from normscope.gui.grid_export import grid_tiles, render_grid

    out = tmp_path / "grid.png"
    spec = "keras:1,dtype,minmax:1,2,preset:sklearn.MinMaxScaler"
    argv = ["export", "sample:digits", "--compare", spec, "--index", "3", "-o", str(out)]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    picture = iio.imread(out)[..., :3]
    tiles = grid_tiles(DIGITS, parse_spec(spec, "NHW", Normalization()), index=3)
    assert picture.shape[:2] == (render_grid(tiles, "").height(), render_grid(tiles, "").width())
    for tile in tiles:  # each normalized image is in the picture, 12 screen pixels a pixel
        want = np.repeat(np.repeat(panel_rgb(tile.comparison, 1), 12, 0), 12, 1)
        hits = np.argwhere(np.all(picture == want[0, 0], axis=-1))
        assert any(
            np.array_equal(picture[y : y + 336, x : x + 336], want) for y, x in hits[:5000]
        ), tile.label


def test_export_compare_axes_tiles_every_axis_and_says_which_fail(capsys, tmp_path) -> None:
    out = tmp_path / "axes.png"
    code, _, err = run(capsys, "export", "sample:digits", "--compare", "axes", "-o", str(out))
    assert code == 0, err
    assert iio.imread(out).shape[1] > 3 * 336  # several tiles a row


def test_a_bad_spec_is_bad_usage(capsys, tmp_path) -> None:
    argv = ["export", "sample:digits", "--compare", "kras:1", "-o", str(tmp_path / "x.png")]
    code, _, err = run(capsys, *argv)
    assert code == 2 and "--compare" in err and "kras" in err


def test_help_explains_the_spec(capsys) -> None:
    code, out, _ = run(capsys, "export", "--help")
    assert code == 0 and "--compare SPEC" in out and "preset:NAME" in out
