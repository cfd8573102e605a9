"""Opening the 60000x28x28 batch from .npy: ``core.loading.load`` against ``np.load``.

Target: no more than 20% slower than numpy's own loader (ratio <= 1.2).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.data import mnist_batch
from bench.timing import interleaved, row
from normscope.core.loading import load


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x_train.npy"
        np.save(path, mnist_batch())
        t, base, ratio = interleaved(lambda: load(path), lambda: np.load(path), reps=7)
        print(row("load(x_train.npy) 60000x28x28", t, ratio, "target <= x1.2 of np.load"))
        print(row("np.load(x_train.npy)", base))


if __name__ == "__main__":
    main()
