"""NormScope: see what an image normalization really does to your data.

The package's parts: :mod:`normscope.core` (normalization, pixel-rank diffing, loading; numpy,
no Qt), :mod:`normscope.gui` (the Qt window), :mod:`normscope.main` (the ``normscope`` command)
and ``normscope.resources`` (the bundled samples and icon).

For scripts and notebooks: :func:`normalize` an array as the window does, :func:`compare` an
original with any "after" array (yours, or a function's), :func:`view` them in the window.
Importing ``normscope`` imports neither numpy's heavier parts nor Qt: each function imports
what it needs when it runs.

Examples
--------
>>> import numpy as np, normscope
>>> x = np.array([[[0, 10], [40, 10]]], np.uint8)  # one 2 x 2 image: NHW
>>> normscope.normalize(x, axis=1)
array([[[0.        , 0.70710678],
        [1.        , 0.70710678]]])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from normscope.api import Comparison
    from normscope.gui.window import MainWindow

__all__ = ["Comparison", "__version__", "compare", "normalize", "view"]


def normalize(
    x: Any,
    method: str = "keras",
    *,
    axis: Any = "default",
    order: float = 2,
    preset: str | None = None,
    roles: str | None = None,
) -> np.ndarray:
    """Normalize `x` as NormScope's window does: the same array, bit for bit.

    Parameters
    ----------
    x : array_like
        An image or a batch of them; `roles` name its axes.
    method : str
        ``keras`` (``tf.keras.utils.normalize``, bit-exact), ``lp``, ``minmax``, ``dtype``,
        ``zscore``, ``percentile``, ``equalize`` or ``meanstd``.
    axis : int, tuple of int, None or "default"
        The axes each statistic is computed over, as in numpy and Keras (None: the whole
        array); ``"default"``: the method's own (-1 for keras).
    order : float
        The norm's order for ``keras`` and ``lp``: 1, 2 or ``inf``.
    preset : str, optional
        A library call instead of `method` (``"sklearn.normalize.l2"``,
        ``"torchvision.Normalize"``, ...); it fixes its own axis.
    roles : str, optional
        One letter per axis: N images, H rows, W columns, C channels (default: inferred,
        e.g. ``"NHW"`` for MNIST's 60000 x 28 x 28).

    Returns
    -------
    ndarray
        A new array; `x` is never changed.

    Raises
    ------
    ValueError
        For a method, preset, axis, order or roles that do not fit `x`, in one line.

    Examples
    --------
    >>> import numpy as np, normscope
    >>> x = np.array([[3, 0], [4, 10]], np.uint8)
    >>> normscope.normalize(x, axis=0)  # each column divided by its L2 norm
    array([[0.6, 0. ],
           [0.8, 1. ]])
    >>> normscope.normalize(x, "minmax", axis=None)
    array([[0.3, 0. ],
           [0.4, 1. ]])
    """
    from normscope.api import as_loaded
    from normscope.core.normalize import Normalization, from_preset

    loaded = as_loaded(x, roles)
    if preset is not None:
        if axis != "default":
            raise ValueError("axis cannot be combined with preset: a preset fixes its axis")
        normalization = from_preset(preset, loaded.roles)
    else:
        normalization = Normalization(method=method, axis=axis, order=order)
    return normalization.apply(loaded.array, roles=loaded.roles)


def compare(
    before: Any,
    after: Any,
    *,
    roles: str | None = None,
    after_roles: str | None = None,
    scope: str | None = None,
    index: int | None = None,
) -> Comparison:
    """Compare the ranks of `before`'s pixels with those of `after`, any normalization of it.

    Parameters
    ----------
    before : array_like
        The original: an image or a batch.
    after : array_like or callable
        What a normalization made of it, in the same shape (or the same axes in another
        order: `after_roles`); or a function, called with a copy of `before`, that returns it
        (``lambda a: tf.keras.utils.normalize(a, axis=1)``).
    roles : str, optional
        `before`'s axis roles (default: inferred).
    after_roles : str, optional
        `after`'s roles when its axes are ordered differently, e.g. ``"CHW"`` from
        ``ToTensor()`` of an HWC image.
    scope : str, optional
        Where pairs are counted: ``image`` (each image of a batch, the default), ``all``,
        ``channel``, ``row`` or ``column``.
    index : int, optional
        The image of a batch the verdict and the picture show (default: the first).

    Returns
    -------
    Comparison
        Frozen: ``.verdict``, ``.pairs``, ``.spearman``, ``.kendall_tau_b``,
        ``.rank_preserving``, ``.preserved_within``, ``.displacement``, ``.report``;
        ``.to_json()``, ``.save(path)`` (the comparison picture); in Jupyter it shows its
        verdict table and picture.

    Raises
    ------
    normscope.core.pairing.PairError
        When `after` does not fit `before` (shape, values that are not numbers, NaN where
        `before` has a number), in one line.

    Examples
    --------
    The MNIST tutorial's call divides each column of each image by its norm:

    >>> import normscope
    >>> from normscope.core.loading import load
    >>> x = load("sample:digits").array  # 64 MNIST digits, 28 x 28
    >>> c = normscope.compare(x, lambda a: normscope.normalize(a, axis=1))
    >>> print(c.verdict.kept_line())
    Ranks kept within: whole image ✗  row ✗  column ✓
    >>> c.rank_preserving, c.pairs["discordant"] > 0
    (False, True)

    Scaling the whole array keeps every rank:

    >>> c = normscope.compare(x, x / 255.0)
    >>> c.rank_preserving, c.spearman
    (True, 1.0)
    """
    from normscope.api import Comparison, after_of, as_loaded

    loaded = as_loaded(before, roles)
    return Comparison.of(loaded, after_of(loaded, after, after_roles), scope=scope, index=index)


def view(
    before: Any,
    after: Any = None,
    *,
    roles: str | None = None,
    after_roles: str | None = None,
    block: bool | None = None,
    **options: Any,
) -> MainWindow:
    """Open the inspector window on arrays in memory, like ``napari.view_image``.

    From a plain script the call blocks until the window is closed; in IPython or Jupyter
    after ``%gui qt`` (or inside a running Qt application) it returns at once, and the window
    it returns keeps answering: ``w.set_options(axis=2)``.

    Parameters
    ----------
    before : array_like
        The original.
    after : array_like or callable, optional
        Its normalization made elsewhere (as in :func:`compare`); without it, the window
        normalizes `before` with the method in `options` (or the last one used).
    roles, after_roles : str, optional
        As in :func:`compare`.
    block : bool, optional
        Run Qt's event loop until the window closes; default: when no loop runs yet.
    **options
        ``method``, ``preset``, ``axis``, ``order``, ``index``, ``channel``, ``scope``,
        as :meth:`normscope.gui.window.MainWindow.set_options` takes them.

    Returns
    -------
    normscope.gui.window.MainWindow
    """
    from normscope.api import after_of, application, as_loaded, qt_loop_runs

    loaded = as_loaded(before, roles)
    given = None if after is None else after_of(loaded, after, after_roles)
    app = application()
    from normscope.gui.window import MainWindow

    window = MainWindow()
    window.open_array(loaded.array, roles=loaded.roles, name=loaded.name)
    if options:
        window.set_options(**options)
    if given is not None:
        window.model.set_after(given)
    window.show()
    if block if block is not None else not qt_loop_runs():
        app.exec()
    return window


def __getattr__(name: str) -> Any:
    if name == "Comparison":  # the class compare() returns, imported when first asked for
        from normscope.api import Comparison

        return Comparison
    if name == "__version__":  # importlib.metadata scans the installed distributions: on demand
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("normscope")
        except PackageNotFoundError:  # run from a source tree that is not installed
            return "0+unknown"
    raise AttributeError(f"module 'normscope' has no attribute {name!r}")
