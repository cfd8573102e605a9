"""core/ must work where Qt cannot even be imported (napari's "headless" check)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QT_NAMES = {"PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "qtpy", "superqt"}

BLOCKED_RUN = f"""
import sys

class BlockQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {sorted(QT_NAMES)!r}:
            raise ImportError("Qt is not available here: " + name)

sys.meta_path.insert(0, BlockQt())
import pkgutil, importlib
import normscope.core
for mod in pkgutil.iter_modules(normscope.core.__path__):
    importlib.import_module("normscope.core." + mod.name)

from normscope.core.loading import load
from normscope.core.normalize import Normalization
from normscope.core.ranks import diagnose, rank_diff

x = load("sample:digits").array
y = Normalization(method="keras", axis=1).apply(x, roles="NHW")
d = rank_diff(x, y, scope="column", roles="NHW")
assert d.rank_preserving and d.pairs.discordant == 0, d
assert diagnose(x, y, roles="NHW").preserved["image"] is False
loaded_qt = sorted(m for m in sys.modules if m.split(".")[0] in {sorted(QT_NAMES)!r})
assert not loaded_qt, loaded_qt
print("core works without Qt")
"""


def test_core_runs_with_qt_unimportable() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "core works without Qt" in result.stdout


def test_no_core_module_imports_qt() -> None:
    offenders = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in QT_NAMES]
    assert not offenders


WITHOUT_NUMBA = """
import sys

class BlockNumba:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("numba", "llvmlite"):
            raise ImportError("numba is not installed here")

sys.meta_path.insert(0, BlockNumba())
import pytest
from normscope.core.loading import load
from normscope.core.normalize import Normalization
from normscope.core.ranks import rank_compare, rank_diff

x = load("sample:digits").array
y = Normalization(method="keras", axis=1).apply(x, roles="NHW")
d, m = rank_compare(x, y, scope="image", roles="NHW")
print(d.pairs.discordant, int(m.partners.sum()))
with pytest.raises(ImportError, match="numba"):
    rank_diff(x, y, roles="NHW", engine="compiled")
assert "numba" not in sys.modules
"""


def test_rank_diff_falls_back_to_numpy_without_numba() -> None:
    from normscope.core.loading import load
    from normscope.core.normalize import Normalization
    from normscope.core.ranks import rank_compare

    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_NUMBA], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    x = load("sample:digits").array
    y = Normalization(method="keras", axis=1).apply(x, roles="NHW")
    d, m = rank_compare(x, y, scope="image", roles="NHW", engine="compiled")
    assert result.stdout.split() == [str(d.pairs.discordant), str(int(m.partners.sum()))]
