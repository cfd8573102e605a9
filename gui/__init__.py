"""NormScope's Qt window. Everything it shows is computed by :mod:`core`; this package draws.

Importing it configures pyqtgraph once: it binds to PySide6 whatever other Qt binding is
installed, and shows numpy (row, column) images upright (``imageAxisOrder='row-major'``),
not transposed as pyqtgraph's default would.
"""

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
