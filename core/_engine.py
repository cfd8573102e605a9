"""Whether the compiled kernels (:mod:`core._kernels`, numba) can be used here."""

from __future__ import annotations

import functools
from types import ModuleType


@functools.cache
def kernels() -> ModuleType | None:
    """The compiled kernels, or None when numba is not installed (numpy paths run then)."""
    try:
        from core import _kernels
    except ImportError:
        return None
    return _kernels
