"""Run every ``bench/bench_*.py`` module's ``main()`` in turn, or the ones named on the line.

python -m bench              # all of them
python -m bench normalize    # bench/bench_normalize.py only
python -m bench --readme     # bench_commands, its numbers written into README.md's table
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- bench:commands -->", "<!-- /bench:commands -->"


def write_readme(table: str, readme: Path = README) -> None:
    """Put `table` between the README's markers, in place of what was there."""
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table}\n{END}{tail}")


def main(argv: list[str]) -> None:
    if argv == ["--readme"]:
        from bench import bench_commands

        write_readme(bench_commands.readme_table(bench_commands.main()))
        print(f"wrote the measured table into {README}")
        return
    names = sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    for name in argv or names:
        print(f"\n=== bench_{name} ===", flush=True)
        importlib.import_module(f"bench.bench_{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
