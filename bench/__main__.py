"""Run every ``bench/bench_*.py`` module's ``main()`` in turn, or the ones named on the line.

python -m bench                      # all of them
python -m bench normalize            # bench/bench_normalize.py only
python -m bench --readme             # bench_commands, its numbers written into README.md
python -m bench --readme window ...  # the named sections (see SECTIONS), each measured by
                                     # bench_NAME.readme() and written between its markers
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
# the README's generated tables: each ``<!-- bench:NAME -->`` ... ``<!-- /bench:NAME -->``
SECTIONS = ("commands", "loading", "normalize", "ranks", "window", "browse")


def markers(name: str) -> tuple[str, str]:
    """The README's start and end markers of section `name`."""
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def write_readme(name: str, table: str, readme: Path = README) -> None:
    """Put `table` between section `name`'s markers, in place of what was there."""
    start, end = markers(name)
    text = readme.read_text()
    if text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"{readme} needs one {start} and one {end}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{table}\n{end}{tail}")


def main(argv: list[str]) -> None:
    if argv[:1] == ["--readme"]:
        for name in argv[1:] or ["commands"]:
            if name not in SECTIONS:
                sys.exit(f"bench: no README section {name!r} (one of {', '.join(SECTIONS)})")
            write_readme(name, importlib.import_module(f"bench.bench_{name}").readme())
            print(f"wrote the {name} table into {README}", flush=True)
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
