"""The whole-dataset verdict, walked: which images of a dataset flip pixel pairs, and how many.

:func:`walk` reads the images one by one, normalizes each alone and counts the pixel pairs
whose order flipped within the image (:func:`core.ranks.rank_diff`), into a :class:`Tally`
that can be resumed. It follows the job convention of :mod:`core.jobs` (``progress`` and
``cancel`` keywords), so a window runs it in a worker process, off its own interpreter lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from normscope.core.dataset import Dataset
from normscope.core.engine import limit_threads
from normscope.core.normalize import Normalization
from normscope.core.ranks import rank_diff

__all__ = ["REPORT_EVERY_S", "Tally", "walk"]

#: Partial counts are reported at most this often (seconds).
REPORT_EVERY_S = 0.1


@dataclass
class Tally:
    """How far a walk got and what it found.

    Examples
    --------
    >>> print(Tally(50_000, checked=3_200, flipping=3_100, worst=16, worst_pairs=812).words())
    3,200 of 50,000 images checked: 3,100 flip pairs within the image · the most: image 17
    (812 pairs)
    """

    total: int
    checked: int = 0  # images walked, read or not
    flipping: int = 0  # images with at least one pixel pair flipped
    worst: int | None = None  # the image with the most flipped pairs
    worst_pairs: int = 0
    unreadable: int = 0
    failed: int = 0  # images the normalization refused
    reason: str | None = None  # the first refusal's reason
    seconds: float = 0.0
    done: bool = False

    def words(self) -> str:
        """``"3,200 of 50,000 images checked: 3,100 flip pairs · the most: image 17"``."""
        head = "all" if self.done else f"{self.checked:,} of"
        text = (
            f"{head} {self.total:,} images checked: {self.flipping:,} flip pairs within the image"
        )
        if self.worst is not None:
            text += f" · the most: image {self.worst + 1:,} ({self.worst_pairs:,} pairs)"
        if self.unreadable:
            text += f" · {self.unreadable:,} unreadable"
        if self.failed:
            text += f" · {self.failed:,} not normalized ({self.reason})"
        return text


def walk(
    dataset: Dataset,
    normalization: Normalization,
    tally: Tally | None = None,
    *,
    progress: Callable[[Tally], None] | None = None,
    cancel: threading.Event | None = None,
) -> Tally:
    """Count the images of `dataset` that flip pixel pairs under `normalization`.

    Parameters
    ----------
    dataset : Dataset
    normalization : Normalization
        Applied to each image alone (``HW`` or ``HWC``).
    tally : Tally, optional
        Where an earlier walk stopped: the walk goes on from there (it is updated in place).
    progress : callable, optional
        Called with a copy of the tally at most every :data:`REPORT_EVERY_S` seconds.
    cancel : threading.Event, optional
        Set it to stop the walk between two images.

    Returns
    -------
    Tally
        `tally` (or a new one), ``done`` when every image was checked. Uses one thread.

    Examples
    --------
    >>> from normscope.core.dataset import open_dataset
    >>> t = walk(open_dataset("sample:digits"), Normalization(method="keras", axis=1))
    >>> t.done, t.checked, t.flipping, t.worst is not None
    (True, 64, 64, True)
    """
    tally = Tally(len(dataset)) if tally is None else tally
    t0, last = time.monotonic() - tally.seconds, 0.0
    with limit_threads(1):
        while tally.checked < tally.total and not (cancel is not None and cancel.is_set()):
            _check(dataset, normalization, tally, tally.checked)
            tally.checked += 1
            now = time.monotonic()
            tally.seconds = now - t0
            if progress is not None and now - last >= REPORT_EVERY_S:
                last = now
                progress(replace(tally))
    tally.done = tally.checked == tally.total
    return tally


def _check(dataset: Dataset, normalization: Normalization, tally: Tally, i: int) -> None:
    """Count image `i` into `tally`."""
    try:
        before = dataset.read(i)
    except Exception:  # the browser shows why; here it only counts
        tally.unreadable += 1
        return
    roles = "HWC" if before.ndim == 3 else "HW"
    try:
        after = normalization.apply(before, roles=roles)
        diff = rank_diff(before[np.newaxis], after[np.newaxis], scope="image", roles="N" + roles)
        pairs = diff.pairs.discordant
    except (ValueError, ArithmeticError) as exc:
        tally.failed += 1
        tally.reason = tally.reason or str(exc)
        return
    if pairs:
        tally.flipping += 1
        if pairs > tally.worst_pairs:
            tally.worst, tally.worst_pairs = i, int(pairs)
