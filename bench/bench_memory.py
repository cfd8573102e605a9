"""Peak memory of whole commands, as a multiple of the input array's bytes.

Each case runs in a fresh subprocess (``python -m normscope report F --json``, ``... export F -o
out.png``, and the jobs the window runs for one image, offscreen), and its maximum resident
set size is read with ``os.wait4``. A process that only imports the same modules (and loads
the compiled kernels, and for the picture makes the Qt application) is measured in the same
run; its peak is subtracted, and what remains is divided by the input's bytes.

Targets (issue 13): at most 8x the array's bytes for uint8 input and 4x for float64.

python -m bench.bench_memory            # 64 MiB inputs
python -m bench.bench_memory 16         # 16 MiB inputs
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
TARGET = {"uint8": 8.0, "float64": 4.0}
OPTIONS = {"default": [], "keras axis 1": ["--method", "keras", "--axis", "1"]}

# what each kind of child imports and loads before it touches the input
_SETUP = {
    "report": "import normscope.main, normscope.core.loading, normscope.core.report; "
    "from normscope.core import engine; engine.kernels()",
    "export": "import normscope.main, normscope.core.loading, normscope.core.report, "
    "normscope.gui.export; from normscope.core import engine; engine.kernels(); "
    "normscope.main._ensure_gui_app()",
    "window": "import normscope.core.loading, normscope.gui.pipeline; "
    "from normscope.core import engine; engine.kernels(); "
    "from PySide6.QtWidgets import QApplication; QApplication(['normscope'])",
}

# the window's jobs for image 0 of the input, as gui.window runs them (one after another here),
# keeping every result alive as the window does
_WINDOW = """
import sys
from normscope.core.loading import load
from normscope.core.normalize import Normalization
from normscope.gui.pipeline import (
    FullResultCache, Look, batch_job, frame_job, histogram_job, stats_job
)
loaded = load(sys.argv[1])
args = sys.argv[2:]
normalization = Normalization(method="keras", axis=int(args[3]) if args else "default")
cache, look, roles = FullResultCache(), Look(), loaded.roles
frame = list(frame_job(loaded.array, roles, normalization, 0, cache, look))[-1]
stats = list(stats_job(frame, "image", look))
hists = list(histogram_job(frame, -1))
batch = list(batch_job(loaded.array, roles, normalization, cache)) if "N" in roles else None
"""


def inputs(mib: int) -> dict[str, tuple[int, ...]]:
    """The cases: name -> shape, for inputs of `mib` MiB (uint8 and float64, batch and image)."""
    side = math.isqrt(mib * MIB)  # uint8 image: side x side bytes
    n8, n64 = mib * MIB // (256 * 256), mib * MIB // (8 * 256 * 256)
    return {
        "uint8 batch": (n8, 256, 256),
        "uint8 image": (side, side),
        "float64 batch": (n64, 256, 256),
        "float64 image": (side // 4, side // 2),
    }


def make_input(shape: tuple[int, ...], dtype: str, folder: Path) -> Path:
    """Write a deterministic image-like array of `shape` and `dtype` as .npy, return its path."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    x[..., ::7] //= 3  # some structure: faint columns
    path = folder / f"{dtype}_{'x'.join(map(str, shape))}.npy"
    np.save(path, x if dtype == "uint8" else x / 255.0)
    return path


# Runs the command and prints its exit status and peak RSS (KiB). It stands between this
# process and the command because Linux counts a parent's own peak RSS in its child's
# ru_maxrss (subprocess spawns with vfork, and execve keeps the shared memory's high-water
# mark): measured from a big process (pytest), every child would peak at least as high. This
# small process (no numpy) is the command's parent instead.
_MEASURE = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "_, s, u = os.wait4(p.pid, 0); print(os.waitstatus_to_exitcode(s), u.ru_maxrss)"
)


def peak_rss(argv: list[str]) -> int:
    """Maximum resident set size in bytes of a subprocess running `argv` (which must succeed)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv], cwd=ROOT, env=env, capture_output=True, text=True
    )
    status, kib = out.stdout.split()
    if int(status) != 0 or out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {status}: {out.stderr[-500:]}")
    return int(kib) * 1024  # KiB on Linux


def command(kind: str, path: Path, options: list[str], out: Path) -> list[str]:
    """The child's command line for `kind` ("report", "export", "window") on `path`."""
    if kind == "report":
        return [sys.executable, "-m", "normscope", "report", str(path), "--json", *options]
    if kind == "export":
        return [sys.executable, "-m", "normscope", "export", str(path), "-o", str(out), *options]
    return [sys.executable, "-c", _SETUP["window"] + "\n" + _WINDOW, str(path), *options]


def baseline(kind: str) -> int:
    """Peak RSS of a process that only imports what a `kind` child imports."""
    return peak_rss([sys.executable, "-c", _SETUP[kind]])


def multiple(kind: str, path: Path, options: list[str], base: int) -> float:
    """Peak RSS of the `kind` child on `path` above `base`, in units of the input's bytes."""
    nbytes = np.load(path, mmap_mode="r").nbytes
    with tempfile.TemporaryDirectory() as folder:
        peak = peak_rss(command(kind, path, options, Path(folder) / "out.png"))
    return (peak - base) / nbytes


def main(mib: int = 64) -> None:
    kinds = ("report", "export", "window")
    bases = {kind: baseline(kind) for kind in kinds}
    print("baselines: " + ", ".join(f"{k} {v / MIB:.0f} MiB" for k, v in bases.items()))
    with tempfile.TemporaryDirectory() as folder:
        for name, shape in inputs(mib).items():
            dtype = name.split()[0]
            path = make_input(shape, dtype, Path(folder))
            for kind in kinds:
                for label, options in OPTIONS.items():
                    m = multiple(kind, path, options, bases[kind])
                    ok = "✓" if m <= TARGET[dtype] else "✗"
                    what = f"{kind} {name} {'x'.join(map(str, shape))}, {label}"
                    print(f"{what:<52} x{m:6.2f}  target <= x{TARGET[dtype]:g} {ok}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 64)
