"""``python -m bench --readme`` rewrites the README's measured table between its markers."""

from __future__ import annotations

from bench.__main__ import END, README, START, write_readme
from bench.bench_commands import readme_table


def test_the_table_goes_between_the_markers_and_nowhere_else(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{START}\nold table\n{END}\nafter\n")
    numbers = dict(ours=1.0, scipy=20.0, ratio=20.0, startup=0.4, python=0.1, peak_x=9.0, load=2.5)
    write_readme(readme_table(numbers), readme)
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith(f"{END}\nafter\n")
    assert "old table" not in text
    assert "| report against scipy | x20.0 faster | ≥ x15 ✓ |" in text
    assert "| start-up: the same command on a 16x16 PNG | 0.40 s | ≤ 0.3 s ✗ |" in text
    write_readme(readme_table(numbers), readme)  # again: one table, not two
    assert readme.read_text().count("| whole command |") == 1


def test_the_readme_has_the_markers():
    text = README.read_text()
    assert text.count(START) == 1 and text.count(END) == 1
