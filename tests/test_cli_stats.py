"""``normscope stats``: the JSON keys, the text, exit statuses, --strict, --limit, the cache
and Ctrl+C (exit 130, then the same command resumes)."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from normscope.core import stats as stats_module
from normscope.core.stats import dataset_stats
from normscope.main import main

RNG = np.random.default_rng(130)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "data"
    for i in range(40):
        (root / f"k{i % 2}").mkdir(parents=True, exist_ok=True)
        shape = (9 + i % 5, 11) if i % 5 == 0 else (9 + i % 5, 11, 3)
        iio.imwrite(root / f"k{i % 2}" / f"{i:03d}.png", RNG.integers(0, 256, shape, np.uint8))
    return root


def test_json_has_the_documented_keys_and_core_values(capsys, folder) -> None:
    code, out, err = run(capsys, "stats", str(folder), "--json", "--no-cache",
                         "--percentiles", "5,95")  # fmt: skip
    assert code == 0 and err == ""
    r = json.loads(out)
    assert list(r) == ["dataset", "skipped", "channels", "overall", "snippet", "code", "engine"]
    assert list(r["dataset"]) == ["source", "kind", "listed", "images", "classes", "dtype",
                                  "scale", "channels", "channels_read", "converted"]  # fmt: skip
    assert r["dataset"]["images"] == 40 and r["dataset"]["classes"] == ["k0", "k1"]
    assert r["dataset"]["channels_read"] == {"1": 8, "2": 0, "3": 32, "4": 0}
    assert r["dataset"]["converted"] == 8 and r["skipped"] == {"count": 0, "files": []}
    ch = r["channels"][0]
    assert list(ch) == ["name", "count", "sum", "nonfinite", "raw", "unit", "histogram"]
    assert list(ch["raw"]) == ["mean", "std", "std_sample", "min", "max", "percentiles"]
    assert list(ch["raw"]["percentiles"]) == ["1", "2", "50", "98", "99", "5", "95"]
    core = dataset_stats(folder, percentiles=(1, 2, 50, 98, 99, 5, 95)).to_dict()
    assert {k: v for k, v in r.items() if k != "engine"} == {
        k: v for k, v in core.items() if k != "engine"
    }
    assert list(r["snippet"]) == ["mean_of_image_means", "mean_of_image_stds", "mean_error",
                                  "std_error"]  # fmt: skip
    assert list(r["code"]) == ["torchvision", "albumentations", "keras"]
    assert set(r["engine"]) == {"scheduler", "workers", "tasks", "cached", "seconds"}
    assert r["engine"]["scheduler"] == "threads"


def test_text_names_the_numbers_and_the_lines_to_paste(capsys, folder) -> None:
    code, out, _ = run(capsys, "stats", str(folder), "--no-cache", "--limit", "10")
    assert code == 0
    assert ", 10 images in 2 classes, uint8, 3 channels; 2 converted to RGB" in out
    assert "raw scale" in out and "unit (/255)" in out and "p99" in out
    assert "mean of image stds" in out and "transforms.Normalize(mean=(" in out
    assert "engine: threads" in out


def test_unreadable_files_listed_and_strict_exits_1(capsys, folder) -> None:
    (folder / "k0" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    code, out, _ = run(capsys, "stats", str(folder), "--no-cache")
    assert code == 0 and "skipped 1 unreadable files" in out and "bad.png" in out
    code, out, err = run(capsys, "stats", str(folder), "--no-cache", "--json")
    assert json.loads(out)["skipped"]["files"][0]["path"] == str(folder / "k0" / "bad.png")
    code, out, err = run(capsys, "stats", str(folder), "--no-cache", "--strict")
    assert code == 1 and out == "" and "bad.png" in err and "1 unreadable files (--strict)" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--percentiles", "101"],
        ["--percentiles", "a,b"],
        ["--limit", "0"],
        ["--cache", "x", "--no-cache"],
    ],
)
def test_bad_usage_exits_2(capsys, folder, argv) -> None:
    code, _, err = run(capsys, "stats", str(folder), *argv)
    assert code == 2 and err.startswith("normscope: ") and err.count("\n") == 1
    assert "(see normscope stats --help)" in err or "--no-cache" in err


def test_bad_input_exits_1(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "stats", str(tmp_path / "nothing"), "--no-cache")
    assert code == 1 and "no such file or folder" in err
    iio.imwrite(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    iio.imwrite(tmp_path / "b.png", np.zeros((4, 4), np.uint16))
    code, _, err = run(capsys, "stats", str(tmp_path), "--no-cache")
    assert code == 1 and "mixes 8-bit images" in err and "(--unit)" in err
    code, out, _ = run(capsys, "stats", str(tmp_path), "--no-cache", "--unit", "--json")
    assert code == 0 and json.loads(out)["channels"][0]["raw"] is None


def test_ctrl_c_exits_130_and_the_same_command_resumes(capsys, folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    real = stats_module.files_partial
    calls = []

    def interrupted(dataset, indices):
        calls.append(indices)
        if len(calls) == 8:
            raise KeyboardInterrupt
        return real(dataset, indices)

    monkeypatch.setattr(stats_module, "files_partial", interrupted)
    monkeypatch.setattr(stats_module, "GROUP", 2)  # about 20 tasks
    code, out, err = run(capsys, "stats", str(folder), "--cache", str(cache))
    assert code == 130 and out == ""
    assert "normscope: stopped after" in err and "of 40 images" in err and str(cache) in err
    monkeypatch.setattr(stats_module, "files_partial", real)
    code, out, _ = run(capsys, "stats", str(folder), "--cache", str(cache), "--json")
    engine = json.loads(out)["engine"]
    assert code == 0 and engine["cached"] >= 1 and json.loads(out)["dataset"]["images"] == 40
