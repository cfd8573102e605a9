"""What a whole ``normscope report`` process loads: numba only for data big enough to pay for it
(and not for the reports counted from cells, :mod:`core._cells`)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from normscope.core import engine

CHECK = """
import sys
from normscope.main import main
status = main(["report", sys.argv[1], "--json"])
print(status, sorted(m for m in ("numba", "scipy", "PySide6", "pyqtgraph") if m in sys.modules))
"""


def _modules_after_report(path: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CHECK, path], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_a_small_report_loads_no_numba_no_qt_no_scipy():
    assert _modules_after_report("sample:digits") == "0 []"


def test_a_big_report_counted_from_cells_loads_no_numba(tmp_path):
    path = tmp_path / "big.npy"  # keras of uint8: counted from (group, level) cells
    np.save(path, np.zeros((1, engine.SMALL), np.uint8))
    assert _modules_after_report(str(path)) == "0 []"


def test_a_big_report_counted_by_pixels_loads_numba_but_no_qt(tmp_path):
    path = tmp_path / "big.npy"  # float data: counted pixel by pixel
    np.save(path, np.zeros((1, engine.SMALL), np.float32))
    assert "numba" in _modules_after_report(str(path))
    assert "PySide6" not in _modules_after_report(str(path))


def test_kernels_for_small_data_hold_numba_back_on_this_thread_only():
    with engine.kernels_for(engine.SMALL - 1):
        if "numba" not in sys.modules:
            assert engine.kernels() is None
    with engine.kernels_for(engine.SMALL):
        assert engine.kernels() is not None
