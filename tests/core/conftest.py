"""core's tests. With ``NORMSCOPE_BLOCK_QT=1``, as ``make test`` runs them, no Qt binding,
shiboken6 or pyqtgraph can even be imported: every test here proves core works without Qt."""

from __future__ import annotations

import os
import sys

QT_NAMES = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "qtpy", "superqt")


class _BlockQt:
    """A meta-path finder that refuses every Qt module."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] in QT_NAMES:
            raise ImportError(f"Qt is blocked in core's tests: {name}")


if os.environ.get("NORMSCOPE_BLOCK_QT") == "1":
    loaded = sorted(m for m in sys.modules if m.partition(".")[0] in QT_NAMES)
    if loaded:
        raise RuntimeError(f"Qt was imported before core's tests could block it: {loaded}")
    sys.meta_path.insert(0, _BlockQt())
