"""The Python API's parts: the :class:`Comparison` that :func:`normscope.compare` returns, and
what :func:`normscope.normalize`, :func:`normscope.compare` and :func:`normscope.view` (in the
package's ``__init__``) share.

The numbers come from core (:func:`~normscope.core.report.build_report` and
:func:`~normscope.core.report.build_comparison`, on an
:class:`~normscope.core.pairing.AfterArray` for an after array made elsewhere), so they are the
command line's and the window's. Qt is imported only to draw the comparison picture (offscreen
when there is no display) and to open the window.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from normscope.core.loading import Loaded
from normscope.core.pairing import AfterArray
from normscope.core.report import Comparison as Picture
from normscope.core.report import build_comparison, build_report
from normscope.core.roles import check_roles, infer_roles
from normscope.core.wording import VerdictWords, coefficient_text

__all__ = ["Comparison"]

BEFORE = "before"  # what the pictures and reports call an array given in memory


def as_loaded(before: object, roles: str | None) -> Loaded:
    x = np.asarray(before)
    if x.dtype.kind not in "uifb":
        raise TypeError(f"{BEFORE} holds {x.dtype} values: give an array of real numbers")
    roles = check_roles(roles, x.ndim) if roles is not None else infer_roles(x.shape)
    return Loaded(array=x, roles=roles, source=f"<{BEFORE}>", name=BEFORE)


def after_of(loaded: Loaded, after: object, after_roles: str | None) -> AfterArray:
    """`after` (an array, or a function applied to the original) paired with `loaded`."""
    label = "an array"
    if callable(after):
        label = f"the function {getattr(after, '__qualname__', type(after).__name__)}"
        after = after(loaded.array.copy())  # the function may change its argument in place
    return AfterArray.pair(loaded.array, after, loaded.roles, after_roles=after_roles, label=label)


@dataclass(frozen=True, eq=False)
class Comparison:
    """What a normalization did to the ranks of an array's pixels: the result of
    :func:`normscope.compare`.

    The counts and coefficients are over the whole array, within the rank scope (each image
    of a batch, by default); the verdict, the displacement map and the picture are of one
    image (`index`, the first by default), within that image.

    Attributes
    ----------
    verdict : VerdictWords
        The verdict on the image pictured, in words: ``verdict.line()``, ``verdict.lines()``.
    pairs : Mapping[str, int]
        Pixel-pair counts: ``total``, ``concordant``, ``discordant``, ``ties_broken``,
        ``ties_created``, ``ties_kept``.
    spearman, kendall_tau_b : float or None
        The mean Spearman ρ and Kendall τ-b over the groups (None where undefined).
    rank_preserving : bool or None
        No pair flipped and no tie broken anywhere (None when NaN left no pair).
    preserved_within : Mapping[str, bool or None]
        Whether ranks are kept within ``all``, ``image``, ``channel``, ``row``, ``column``.
    displacement : ndarray
        The pictured image's signed rank shift per pixel (read-only).
    index : int or None
        The image of the batch pictured (None for one image).
    report : Mapping
        Everything ``normscope report --json`` prints for the same pair.
    """

    verdict: VerdictWords
    pairs: Mapping[str, int]
    spearman: float | None
    kendall_tau_b: float | None
    rank_preserving: bool | None
    preserved_within: Mapping[str, bool | None]
    displacement: np.ndarray = field(repr=False)
    index: int | None
    report: Mapping[str, Any] = field(repr=False)
    picture: Picture = field(repr=False)

    @classmethod
    def of(
        cls, loaded: Loaded, after: AfterArray, *, scope: str | None, index: int | None
    ) -> Comparison:
        """The comparison of `loaded` with `after`, from core's report and picture."""
        report = build_report(loaded, after, scope=scope)
        picture = build_comparison(loaded, after, scope=scope, index=index)
        ranks = report["ranks"]
        if index is None and "N" in loaded.roles:
            index = 0
        displacement = picture.displacement.view()
        displacement.flags.writeable = False
        return cls(
            verdict=picture.verdict,
            pairs=MappingProxyType(dict(ranks["pairs"])),
            spearman=ranks["spearman"]["mean"],
            kendall_tau_b=ranks["kendall_tau_b"]["mean"],
            rank_preserving=ranks["rank_preserving"],
            preserved_within=MappingProxyType(dict(report["preserved_within"])),
            displacement=displacement,
            index=index,
            report=MappingProxyType(report),
            picture=picture,
        )

    def to_json(self, **kwargs: Any) -> str:
        """The report as JSON, as ``normscope report --json`` prints it; `kwargs` go to
        :func:`json.dumps` (``indent=2``, say)."""
        return json.dumps(dict(self.report), ensure_ascii=False, **kwargs)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the comparison picture (``.png``, ``.jpg``, ``.tiff``), as ``normscope
        export`` draws it; no display needed."""
        from normscope.gui.export import render_comparison, save_image

        application()
        return save_image(render_comparison(self.picture), path)

    @functools.cached_property
    def png(self) -> bytes:
        """The comparison picture, encoded as PNG."""
        from PySide6.QtCore import QBuffer, QIODevice

        from normscope.gui.export import render_comparison

        application()
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        render_comparison(self.picture).save(buffer, "PNG")
        return bytes(buffer.data().data())

    def _repr_png_(self) -> bytes:
        return self.png

    def _repr_html_(self) -> str:
        r = self.report
        p = self.pairs
        share = p["discordant"] / p["total"] if p["total"] else 0.0
        image = "Verdict" if self.index is None else f"Verdict, image {self.index}"
        rows = [
            (image, self.verdict.kept_line()),
            ("", self.verdict.inverted_line()),
            ("", self.verdict.coefficients_line()),
            ("Normalization", r["normalization"]["description"]),
            (
                f"All images, scope {r['ranks']['scope']}" if self.index is not None else "",
                f"{share:.2%} of {p['total']:,} pixel pairs inverted; Spearman ρ "
                f"{coefficient_text(self.spearman)}, Kendall τ-b "
                f"{coefficient_text(self.kendall_tau_b)}; rank preserving: "
                f"{self.rank_preserving}",
            ),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        png = base64.b64encode(self.png).decode("ascii")
        return (
            f"<table class='normscope-verdict'>{body}</table>"
            f"<img alt='comparison picture' src='data:image/png;base64,{png}'/>"
        )


def application():
    from normscope.gui.app import application

    return application()


def qt_loop_runs() -> bool:
    """Whether a Qt event loop already runs: IPython's ``%gui qt``, or an application's."""
    from PySide6.QtCore import QThread

    shell = None
    if "IPython" in sys.modules:
        from IPython import get_ipython

        shell = get_ipython()
    return bool(getattr(shell, "active_eventloop", None)) or QThread.currentThread().loopLevel() > 0
