"""What results say, in words: one vocabulary for the command line, the window and pictures.

Every place that tells a user about a rank comparison takes its words from here, so a
constant image reads "Spearman ρ n/a (constant)" on the command line, in the window and in an
exported picture alike. The window may style the parts (bold, colour); it does not re-word them.
Axis choices are turned into text and back here too: settings, file names and the command
line all spell them the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from normscope.core.ranks import RankDiff

__all__ = [
    "SCOPE_WORDS",
    "UNDEFINED",
    "VerdictWords",
    "axis_words",
    "coefficient_text",
    "format_axis",
    "parse_axis",
    "verdict_words",
    "within",
]

#: Where one image's pairs were compared, for each named rank scope ("all" is the whole image).
SCOPE_WORDS = {
    "all": "the whole image",
    "image": "each image",
    "channel": "each channel",
    "row": "each row",
    "column": "each column",
}
#: A coefficient that no group has: every group was constant.
UNDEFINED = "n/a (constant)"
#: Between the parts of a verdict on one line.
SEPARATOR = "  |  "


def coefficient_text(value: float | None) -> str:
    """A mean Spearman ρ or Kendall τ-b: 4 decimals, or "n/a (constant)" where no group has one.

    No group has one when it is NaN in a result, None in a JSON report.

    Examples
    --------
    >>> coefficient_text(0.98551), coefficient_text(float("nan")), coefficient_text(None)
    ('0.9855', 'n/a (constant)', 'n/a (constant)')
    """
    return UNDEFINED if value is None or math.isnan(value) else f"{value:.4f}"


def within(diff: RankDiff) -> str:
    """Where the pairs of `diff` were counted, in words: ``"each column"``.

    Examples
    --------
    >>> import numpy as np
    >>> from normscope.core.ranks import rank_diff
    >>> x = np.array([[1, 2], [3, 4]])
    >>> within(rank_diff(x, x, scope="column", roles="HW"))
    'each column'
    """
    named = isinstance(diff.scope, str) and diff.scope in SCOPE_WORDS
    return SCOPE_WORDS[str(diff.scope)] if named else f"axes {diff.axes}"


@dataclass(frozen=True)
class VerdictWords:
    """The verdict on one image as its parts, each already in words.

    ``lines()`` gives the three lines of an exported picture, ``line()`` the one line of a
    plain-text report; a view that styles the verdict reads the parts.
    """

    kept: str  #: where ranks are kept, e.g. "column ✓  row ✗  whole image ✗"
    scope: str  #: where the pairs below were counted, e.g. "each column"
    share: str  #: the share of pairs inverted, e.g. "1.25%"
    inverted: str  #: "(discordant of total)", e.g. "(12 of 960)"
    rho: str
    tau: str
    ties: str  #: "ties broken 0, created 3"

    def kept_line(self) -> str:
        """``"Ranks kept within: column ✓  row ✗"``."""
        return f"Ranks kept within: {self.kept}"

    def inverted_line(self, share: str | None = None) -> str:
        """``"Within each column: 1.25% of pixel pairs inverted (12 of 960)"``.

        `share` replaces the share's text (a styled version of it).
        """
        return f"Within {self.scope}: {share or self.share} of pixel pairs inverted {self.inverted}"

    def coefficients_line(self, separator: str = SEPARATOR) -> str:
        """``"Spearman ρ 0.9855  |  Kendall τ-b 0.9420  |  ties broken 0, created 3"``."""
        return separator.join((f"Spearman ρ {self.rho}", f"Kendall τ-b {self.tau}", self.ties))

    def lines(self) -> tuple[str, str, str]:
        """Where ranks are kept; the inverted pairs; the coefficients and ties."""
        return self.kept_line(), self.inverted_line(), self.coefficients_line()

    def line(self) -> str:
        """The whole verdict on one line."""
        return SEPARATOR.join(self.lines())

    def short_line(self) -> str:
        """The verdict of a comparison tile: where ranks are kept, the flipped pairs and ρ.

        For example ``"kept: column ✓  row ✗ · 1.25% pairs flipped · ρ 0.9855"``.
        """
        return f"kept: {self.kept} · {self.share} pairs flipped · ρ {self.rho}"


def verdict_words(diff: RankDiff, kept: str) -> VerdictWords:
    """The words for `diff`, with `kept` the summary of where ranks are kept.

    See :meth:`normscope.core.ranks.Diagnosis.summary` for `kept`.

    Examples
    --------
    >>> import numpy as np
    >>> from normscope.core.ranks import diagnose, rank_diff
    >>> x = np.array([[1, 2], [3, 4]])
    >>> y = np.array([[2, 1], [3, 4]])
    >>> words = verdict_words(rank_diff(x, y, roles="HW"), diagnose(x, y, roles="HW").summary())
    >>> print(words.inverted_line())
    Within the whole image: 16.67% of pixel pairs inverted (1 of 6)
    >>> print(words.coefficients_line())
    Spearman ρ 0.8000  |  Kendall τ-b 0.6667  |  ties broken 0, created 0
    >>> print(words.short_line())
    kept: whole image ✗  row ✗  column ✓ · 16.67% pairs flipped · ρ 0.8000
    """
    p = diff.pairs
    share = p.discordant / p.total if p.total else 0.0
    return VerdictWords(
        kept=kept,
        scope=within(diff),
        share=f"{share:.2%}",
        inverted=f"({p.discordant:,} of {p.total:,})",
        rho=coefficient_text(diff.spearman_mean),
        tau=coefficient_text(diff.kendall_mean),
        ties=f"ties broken {p.ties_broken:,}, created {p.ties_created:,}",
    )


# --- axes ----------------------------------------------------------------------------------


def format_axis(axis: int | tuple[int, ...] | str | None, *, joiner: str = ",") -> str:
    """An axis choice as text: ``"default"``, ``"none"`` (the whole array), ``"1"`` or ``"1,2"``.

    :func:`parse_axis` reads it back. File names join with ``"-"``.

    Examples
    --------
    >>> format_axis((1, 2)), format_axis(None), format_axis("default"), format_axis(1, joiner="-")
    ('1,2', 'none', 'default', '1')
    """
    if axis == "default":
        return "default"
    if axis is None:
        return "none"
    if isinstance(axis, int):
        return str(axis)
    return joiner.join(str(a) for a in axis)


def parse_axis(text: str) -> int | tuple[int, ...] | str | None:
    """Read an axis choice: ``"1"``, ``"1,2"``, ``"-1"``, ``"none"`` or ``"default"``.

    Raises
    ------
    ValueError
        For anything else, with what it takes.

    Examples
    --------
    >>> parse_axis("1"), parse_axis(" 1, 2 "), parse_axis("None"), parse_axis("default")
    (1, (1, 2), None, 'default')
    """
    t = text.strip().lower()
    if t in ("none", "default"):
        return None if t == "none" else "default"
    try:
        parts = tuple(int(p) for p in t.split(",") if p.strip())
    except ValueError:
        raise ValueError(f"takes 1, 1,2, -1, none or default, not {text!r}") from None
    if not parts:
        raise ValueError("needs at least one axis, or none")
    return parts[0] if len(parts) == 1 else parts


def axis_words(axis: tuple[int, ...] | None, roles: str) -> str:
    """The reduced axes with their roles.

    For example ``"axis 1 (H)"``, ``"axes 1, 2 (H, W)"``, or ``"the whole array"``.

    Examples
    --------
    >>> axis_words((1,), "NHW"), axis_words((1, 2), "NHW"), axis_words(None, "HW")
    ('axis 1 (H)', 'axes 1, 2 (H, W)', 'the whole array')
    """
    if axis is None:
        return "the whole array"
    numbers, letters = ", ".join(map(str, axis)), ", ".join(roles[a] for a in axis)
    return f"{'axis' if len(axis) == 1 else 'axes'} {numbers} ({letters})"
