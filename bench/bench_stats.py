"""Dataset statistics (issue 15): ``dataset_stats`` on a 20,000-file photo folder and on a
4 GB memory-mapped ``.npy``, against baselines run in the same process on the same cores.

Targets:

* folder: the whole statistics pass <= 1.3x the time of only decoding every file (the same
  decoder, ``FolderDataset.read`` = ``core.loading.load``, in the same tasks on the same dask
  threads), and >= 3x faster than the two-pass per-image loop people copy;
* ``.npy``: <= 2x the time of one ``np.add.reduce`` pass over the same memmap, from the page
  cache;
* peak memory (max RSS of the whole ``normscope stats`` command, in a subprocess) <= 400 MB
  for both.

The data is made once from scikit-image's bundled photographs (``bench.data``) and kept
under ``$NORMSCOPE_BENCH_DATA`` (default ``/work/bench-data``). ``NORMSCOPE_BENCH_FILES=N``
times the folder on its first N files only (the two-pass loop is slow).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

from bench.data import photo_folder, photo_npy
from bench.timing import interleaved, row
from normscope.core.dataset import Dataset, FolderDataset
from normscope.core.stats import _file_groups, dataset_stats


def _decode(dataset: Dataset, indices: list[int]) -> int:
    """Decode images `indices` and keep nothing: the floor of any statistics pass."""
    pixels = 0
    for i in indices:
        pixels += dataset.read(i).size
    return pixels


def decode_only(dataset: FolderDataset, n: int) -> int:
    """Every file decoded once, in the statistics pass's own tasks, on the same threads."""
    import dask
    from dask import delayed

    tasks = [delayed(_decode)(dataset, g) for g in _file_groups(dataset, n)]
    return sum(dask.compute(*tasks, scheduler="threads", num_workers=os.cpu_count()))


def usual_two_pass_loop(dataset: Dataset, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The loop people copy: ``ToTensor()`` (RGB, float32 / 255) image by image, one pass
    for the mean and one for the std (of per-image values), on one core."""

    def tensor(i: int) -> np.ndarray:
        a = dataset.read(i)
        a = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3]
        return a.astype(np.float32) / 255

    mean = np.zeros(3)
    for i in range(n):
        mean += tensor(i).mean(axis=(0, 1))
    mean /= n
    var = np.zeros(3)
    for i in range(n):
        var += ((tensor(i) - mean.astype(np.float32)) ** 2).mean(axis=(0, 1))
    return mean, np.sqrt(var / n)


# A fork of this process starts with its memory counted in the child's max RSS (Linux keeps
# the larger of the forked and the exec'd peaks), and this process maps the 4 GB .npy: so a
# small launcher process starts the command and reports its max RSS.
_LAUNCH = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def command_max_rss(*argv: str) -> tuple[float, float]:
    """Wall time (s) and max RSS (MB) of ``python -m normscope stats ARGV`` run to the end."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCH, sys.executable, "-m", "normscope", "stats", *argv,
         "--no-cache", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    seconds = time.perf_counter() - t0
    code, kilobytes = map(int, out.split())
    if code:
        raise RuntimeError(f"normscope stats {' '.join(argv)} exited {code}")
    return seconds, kilobytes / 1024


def bench_folder() -> None:
    root = photo_folder()
    dataset = FolderDataset(root)
    n = min(len(dataset), int(os.environ.get("NORMSCOPE_BENCH_FILES", len(dataset))))
    decode_only(dataset, n)  # the page cache holds every file from here on
    t, base, ratio = interleaved(
        lambda: dataset_stats(dataset, limit=n), lambda: decode_only(dataset, n), reps=2, warmup=0
    )
    print(row(f"stats of {n:,} JPEG/PNG files", t, ratio, "target <= x1.3 of decoding"))
    print(row("  decoding only (same decoder, tasks, cores)", base))
    t0 = time.perf_counter()
    usual_two_pass_loop(dataset, n)
    loop = time.perf_counter() - t0
    print(row("  the usual two-pass per-image loop", loop, loop / t, "target >= x3 (loop/stats)"))
    seconds, rss = command_max_rss(str(root), *(["--limit", str(n)] if n < len(dataset) else []))
    print(row(f"  normscope stats folder: max RSS {rss:,.0f} MB", seconds, None, "<= 400 MB"))


def bench_npy() -> None:
    path = photo_npy()
    mapped = np.load(path, mmap_mode="r")
    gb = mapped.nbytes / 1e9
    t, base, ratio = interleaved(
        lambda: dataset_stats(path), lambda: np.add.reduce(mapped, axis=None), reps=3
    )
    print(row(f"stats of a {gb:.1f} GB uint8 .npy {mapped.shape}", t, ratio,
              "target <= x2 of np.add.reduce"))  # fmt: skip
    print(row("  np.add.reduce over the memmap (page cache)", base))
    seconds, rss = command_max_rss(str(path))
    print(row(f"  normscope stats .npy: max RSS {rss:,.0f} MB", seconds, None, "<= 400 MB"))


def main() -> None:
    bench_npy()
    bench_folder()


if __name__ == "__main__":
    main()
