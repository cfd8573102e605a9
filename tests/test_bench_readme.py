"""``python -m bench --readme [NAME ...]`` rewrites the README's measured tables between their
markers (``<!-- bench:NAME -->``), each made by ``bench_NAME.readme()``."""

from __future__ import annotations

import pytest

from bench.__main__ import README, SECTIONS, markers, write_readme
from bench.bench_commands import readme_table


def test_the_table_goes_between_its_markers_and_nowhere_else(tmp_path):
    readme = tmp_path / "README.md"
    start, end = markers("commands")
    other_start, other_end = markers("window")
    readme.write_text(
        f"before\n{start}\nold table\n{end}\nmiddle\n{other_start}\nkept\n{other_end}\nafter\n"
    )
    numbers = dict(ours=1.0, scipy=20.0, ratio=20.0, startup=0.4, python=0.1, peak_x=9.0, load=2.5)
    write_readme("commands", readme_table(numbers), readme)
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith(f"{other_end}\nafter\n")
    assert "old table" not in text and "\nkept\n" in text
    assert "| report against scipy | x20.0 faster | ≥ x15 ✓ |" in text
    assert "| start-up: the same command on a 16x16 PNG | 0.40 s | ≤ 0.3 s ✗ |" in text
    write_readme("commands", readme_table(numbers), readme)  # again: one table, not two
    assert readme.read_text().count("| whole command |") == 1


def test_a_section_without_markers_is_refused_and_the_readme_left_alone(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(ValueError, match="bench:window"):
        write_readme("window", "table", readme)
    assert readme.read_text() == "no markers here\n"


@pytest.mark.parametrize("name", SECTIONS)
def test_the_readme_has_each_sections_markers_once(name):
    text = README.read_text()
    start, end = markers(name)
    assert text.count(start) == 1 and text.count(end) == 1
    assert text.index(start) < text.index(end)


def test_the_window_table_says_each_toggles_median_slowest_and_target():
    from bench.bench_window import readme_table

    cases = [
        dict(
            words="Keras, rows ↔ columns",
            image=60.4,
            slowest=125.2,
            verdict=410.0,
            block=35.0,
            load=1.5,
        ),
        dict(
            words="z-score, per channel ↔ whole image",
            image=99.0,
            slowest=171.0,
            verdict=420.0,
            block=52.4,
            load=2.24,
        ),
    ]
    table = readme_table(cases)
    lines = table.splitlines()
    assert "load average 1.5–2.2" in lines[0] and "`python -m bench --readme window`" in lines[0]
    assert "| Keras, rows ↔ columns | 60 ms | 125 ms | ≤ 150 ms ✓ | 410 ms | 35 ms |" in lines
    slow = "| z-score, per channel ↔ whole image | 99 ms | 171 ms | ≤ 150 ms ✗ | 420 ms | 52 ms |"
    assert slow in lines


def test_window_and_browse_are_readme_sections():
    assert {"window", "browse"} <= set(SECTIONS)


def test_the_browse_table_marks_each_number_against_its_target():
    from bench.bench_browse import readme_table

    stepped = dict(
        first_s=0.5, step_median_ms=60.0, step_max_ms=250.0, blocked_ms=90.0, blocked_cpu_ms=41.0
    )
    rows = {
        "100,000 PNGs": (
            {**stepped, "peak_rss_mb": 310.0, "load": 2.0},
            {"walk_gap_ms": 15.0, "load": 2.5},
        )
    }
    table = readme_table(rows)
    assert "load average up to 2.5" in table
    assert (
        "| 100,000 PNGs | 0.50 s ✓ | 60 ms ✓ / 250 ms ✗ | 90 ms ✓ (the GUI thread computing "
        "41 ms of it) / 15 ms ✓ | 310 MB ✓ |" in table
    )
    assert "| target | ≤ 1.5 s | ≤ 100 ms / ≤ 200 ms | ≤ 100 ms / ≤ 100 ms | ≤ 600 MB |" in table


def test_the_normalize_table_has_a_row_a_method_a_column_a_case_and_its_target():
    from bench.bench_normalize import readme_table

    def result(case, method, ratio, out):
        return dict(case=case, method=method, seconds=0.1, ratio=ratio, out=out, load=1.5)

    table = readme_table(
        [
            result("4096x4096 uint8", "keras", 1.6, "float64"),
            result("4096x4096 uint8", "meanstd", 0.75, "float32"),
            result("4096x4096 uint8", "zscore", 20.0, "float64"),
            result("60000x28x28 uint8", "keras", 9.0, "float64"),
            result("60000x28x28 uint8", "meanstd", 3.9, "float32"),
            result("60000x28x28 uint8", "zscore", 30.0, "float64"),
        ]
    )
    lines = table.splitlines()
    assert "load average up to 1.5" in lines[0] and "--readme normalize" in lines[0]
    assert "| method | 4096x4096 uint8 | 60000x28x28 uint8 | target |" in lines
    assert "| keras (float64 out) | x1.60 | x9.00 | ≤ x8 of the proxy ✗ |" in lines
    assert "| meanstd (float32 out) | x0.75 | x3.90 | ≤ x4 of the proxy ✓ |" in lines
    assert "| zscore (float64 out) | x20.00 | x30.00 | no stated target |" in lines


def test_the_ranks_table_checks_each_bound_and_the_ratio_to_scipy():
    from bench.bench_ranks import readme_table

    cases = [
        dict(label="4096x4096 keras axis 1", scope="all", full=0.8, stats=0.6, scipy=12.0,
             bound=1.0, faster=8.0),
        dict(label="60000x28x28 keras axis 1", scope="image", full=3.5, stats=3.0, scipy=None,
             bound=3.0, faster=None),
    ]  # fmt: skip
    lines = readme_table(dict(first=(0.4, 0.5, 0.001), cases=cases, load=2.0)).splitlines()
    big, batch, fresh = lines[-3:]
    assert "0.80 s (statistics alone 0.60 s); scipy's two calls 12.0 s, x15.0 slower" in big
    assert big.endswith("| < 1 s, ≥ x8 ✓ |")
    assert batch.endswith("| 3.50 s (statistics alone 3.00 s) | < 3 s ✗ |")
    assert fresh.endswith("| 0.40 s, 0.50 s | measured, as asked |")


def test_the_loading_table_marks_the_ratio_to_np_load():
    from bench.bench_loading import readme_table

    table = readme_table(dict(ours=0.021, base=0.02, ratio=1.05, load=0.5))
    assert table.splitlines()[-1] == (
        "| `load()` of a 60000x28x28 `.npy` against `np.load`, medians of 7 "
        "| 21 ms against 20 ms: x1.05 | ≤ x1.2 ✓ |"
    )
