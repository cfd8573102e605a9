"""NormScope's Qt window. Everything it shows is computed by :mod:`core`; this package draws.

Importing it configures pyqtgraph once: it binds to PySide6 whatever other Qt binding is
installed, and shows numpy (row, column) images upright (``imageAxisOrder='row-major'``),
not transposed as pyqtgraph's default would. It also keeps Qt's painting on the GUI thread
(``QT_NO_GUI_THREADPOOL``).
"""

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
# Qt's raster engine hands every fill of 96 spans or more (an image drawn scaled, a filled
# histogram) to a pool of threads and waits for them: on 2 cores shared with a dataset walk
# the hand-offs cost more than the fills. Read by Qt once, when it first paints.
os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")

import pyqtgraph as pg

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
