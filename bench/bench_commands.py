"""Whole processes, as a user runs them: ``normscope report`` against scipy, start-up, peak memory.

On a 4096x4096 uint8 PNG, ``normscope report big.png --method keras --axis 1 --scope all
--json`` against a script that loads the same PNG, normalizes it the same way and calls
``scipy.stats.spearmanr`` and ``scipy.stats.kendalltau``: each a fresh process, timed from
its start to its exit, interleaved so that a busy machine slows both alike. The start-up is
the same command on a 16x16 PNG, next to a process that only imports numpy (the floor on
this machine at this load); peak memory is
the process's maximum resident set (``os.wait4``), as a multiple of the input's bytes.
Targets: >= 15x faster than scipy, start-up <= 0.3 s, peak memory <= 8x the input.

The children run as a user's processes do: without ``PYTHONDONTWRITEBYTECODE`` (some sandboxes
and CI images set it, and then every process compiles its sources again, about 70 ms), after
one warm run of each command has written the bytecode and put the files in the page cache.

The input is made in a child process too: Linux counts the parent's peak resident set in a
child's ``ru_maxrss`` (subprocess spawns with vfork, and execve keeps the shared memory's
high-water mark), so a parent that once held the generator's float temporaries (~450 MB)
would set a floor under every peak measured here.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.timing import markdown, meets

ARGS = ["--method", "keras", "--axis", "1", "--scope", "all", "--json"]

SCIPY = """
import sys
import imageio.v3 as iio
import numpy as np
from scipy import stats
x = iio.imread(sys.argv[1])
norm = np.linalg.norm(x, 2, axis=1, keepdims=True)
y = x / np.where(norm == 0, 1, norm)
b, a = x.ravel(), y.ravel()
print(stats.spearmanr(b, a).statistic, stats.kendalltau(b, a).statistic)
"""


#: The children's environment: a user's, which writes and reuses bytecode.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


MAKE = """
import sys
import imageio.v3 as iio
from bench.data import gray_4096
x = gray_4096()
iio.imwrite(sys.argv[1], x)
iio.imwrite(sys.argv[2], x[:16, :16])
"""
INPUT_BYTES = 4096 * 4096  # uint8


def run(argv: list[str]) -> tuple[float, int]:
    """Wall seconds of a whole process and its peak resident set in bytes."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{argv[:4]} failed: {proc.stderr.read().decode()[-500:]}")
    proc.stderr.close()
    return seconds, usage.ru_maxrss * 1024


def measure(reps: int = 3) -> dict[str, float]:
    """The medians over `reps` interleaved runs; see the module's docstring."""
    ours = [sys.executable, "-m", "normscope", "report"]
    with tempfile.TemporaryDirectory() as folder:
        big, small = Path(folder, "big.png"), Path(folder, "small.png")
        root = Path(__file__).resolve().parent.parent  # where `bench` imports from
        subprocess.run([sys.executable, "-c", MAKE, str(big), str(small)], check=True, cwd=root)
        script = Path(folder, "scipy_ranks.py")
        script.write_text(SCIPY)
        load = os.getloadavg()[0]
        # one warm run of each: bytecode written, files in the page cache, as for a user
        run([*ours, str(small), *ARGS])
        run([sys.executable, str(script), str(small)])
        keys = ("ours", "scipy", "ratio", "startup", "python")
        rows: dict[str, list[float]] = {k: [] for k in keys}
        peak = []
        for _ in range(reps):
            theirs, _ = run([sys.executable, str(script), str(big)])
            mine, rss = run([*ours, str(big), *ARGS])
            rows["startup"].append(run([*ours, str(small), *ARGS])[0])
            rows["python"].append(run([sys.executable, "-c", "import numpy"])[0])
            rows["ours"].append(mine)
            rows["scipy"].append(theirs)
            rows["ratio"].append(theirs / mine)
            peak.append(rss)
        load = max(load, os.getloadavg()[0])
    out = {k: statistics.median(v) for k, v in rows.items()}
    out["peak_x"] = statistics.median(peak) / INPUT_BYTES
    out["input_mib"] = INPUT_BYTES / 2**20
    out["load"] = load
    return out


def main(reps: int = 3) -> dict[str, float]:
    m = measure(reps)
    print(
        f"load average up to {m['load']:.1f} on {os.cpu_count()} cores; medians of {reps}\n"
        f"normscope report 4096x4096 PNG (whole process)  {m['ours']:7.2f} s\n"
        f"scipy spearmanr + kendalltau (whole process)    {m['scipy']:7.2f} s\n"
        f"  normscope is x{m['ratio']:.1f} faster (target >= x15)\n"
        f"start-up: the same command on a 16x16 PNG       {m['startup']:7.2f} s (target <= 0.3 s)\n"
        f"  python -c 'import numpy' alone                {m['python']:7.2f} s\n"
        f"peak memory of normscope report                 x{m['peak_x']:.1f} the input's "
        f"{m['input_mib']:.0f} MiB (target <= x8)",
        flush=True,
    )
    return m


def readme_table(m: dict[str, float], reps: int = 3) -> str:
    """The README's table of these numbers (``python -m bench --readme`` writes it)."""
    rows = [
        ("`normscope report` 4096x4096 PNG, whole process", f"{m['ours']:.2f} s", ""),
        ("scipy `spearmanr` + `kendalltau`, whole process", f"{m['scipy']:.2f} s", ""),
        ("report against scipy", f"x{m['ratio']:.1f} faster", meets(m["ratio"] >= 15, "≥ x15")),
        (
            "start-up: the same command on a 16x16 PNG",
            f"{m['startup']:.2f} s",
            meets(m["startup"] <= 0.3, "≤ 0.3 s"),
        ),
        (
            "peak memory of the report (max RSS / input bytes)",
            f"x{m['peak_x']:.1f}",
            meets(m["peak_x"] <= 8, "≤ x8"),
        ),
    ]
    what = f"medians of {reps} interleaved runs"
    return markdown("commands", what, m["load"], ("whole command", "result", "target"), rows)


def readme(reps: int = 3) -> str:
    """Measure, print and return the README's table (``python -m bench --readme commands``)."""
    return readme_table(main(reps), reps)


if __name__ == "__main__":
    main()
