"""NormScope's core: normalization, pixel-rank diffing and loading, in pure numpy.

Nothing here imports Qt or pyqtgraph; ``tests/test_core_without_qt.py`` proves it.
"""

from normscope.core.roles import SCOPES, check_roles, infer_roles, normalize_axis, scope_axes

__all__ = ["SCOPES", "check_roles", "infer_roles", "normalize_axis", "scope_axes"]
