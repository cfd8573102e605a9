"""NormScope: see what an image normalization really does to your data.

The package's parts: :mod:`normscope.core` (normalization, pixel-rank diffing, loading; numpy,
no Qt), :mod:`normscope.gui` (the Qt window), :mod:`normscope.main` (the ``normscope`` command)
and ``normscope.resources`` (the bundled samples and icon).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("normscope")
except PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
