"""The whole-dataset verdict, streamed: how many images of a lazily read dataset flip pixel
pairs under a normalization, and which flips the most.

:class:`DatasetVerdict` walks the dataset on a thread of its own (one core, so the image on
show keeps the other), image by image: read, normalize alone, count the pixel pairs whose
order flipped within the image (:func:`core.ranks.rank_diff`). Partial counts arrive as they
come; Cancel stops the walk between two images. Each normalization's tally is kept, so a
normalization seen before shows its counts at once and an interrupted walk resumes where it
stopped.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from normscope.core.dataset import Dataset
from normscope.core.engine import limit_threads
from normscope.core.normalize import Normalization
from normscope.core.ranks import rank_diff

REPORT_EVERY_S = 0.1  # partial counts are sent at most this often
PAUSE_S = 0.005  # between two images the walk leaves the interpreter to the GUI thread


@dataclass
class Tally:
    """How far a walk got and what it found (mutated by the walking thread only)."""

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


def _key(dataset: Dataset, normalization: Normalization) -> tuple[int, str]:
    return id(dataset), repr(normalization)


class DatasetVerdict(QObject):
    """Streams the verdict of `normalization` over `dataset`; one walk at a time.

    Signals
    -------
    progressed(tally)
        New partial counts (a :class:`Tally` copy), or the last ones when `tally.done`.
    runningChanged(bool)
    """

    progressed = Signal(object)
    runningChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tallies: dict[tuple[int, str], Tally] = {}
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self.tally: Tally | None = None  # the walk's on show
        self._closed = False
        self.progressed.connect(self._keep)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, dataset: Dataset, normalization: Normalization) -> None:
        """Walk `dataset` under `normalization`, or resume its walk, or show its finished one."""
        self.stop()
        if self._closed:
            return
        key = _key(dataset, normalization)
        tally = self._tallies.setdefault(key, Tally(len(dataset)))
        self.tally = tally
        self.progressed.emit(replace(tally))
        if tally.done:
            return
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=self._walk,
            args=(dataset, normalization, tally, self._cancel),
            name="normscope-dataset-verdict",
            daemon=True,
        )
        self._thread.start()
        self.runningChanged.emit(True)

    def stop(self) -> None:
        """Cancel the walk (between two images) and wait for it; its counts are kept."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self.runningChanged.emit(False)

    def shutdown(self) -> None:
        """Stop for good: the window is closing."""
        self._closed = True
        self.stop()

    def forget(self) -> None:
        """Stop, and drop every tally (another dataset is open)."""
        self.stop()
        self._tallies.clear()
        self.tally = None

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the walk (tests); True when it has stopped."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _keep(self, tally: Tally) -> None:
        if tally.done and self._thread is not None and not self._thread.is_alive():
            self._thread = None
            self.runningChanged.emit(False)

    def _walk(
        self,
        dataset: Dataset,
        normalization: Normalization,
        tally: Tally,
        cancel: threading.Event,
    ) -> None:
        t0, last = time.monotonic() - tally.seconds, 0.0
        with limit_threads(1):
            while tally.checked < tally.total and not cancel.is_set():
                _check(dataset, normalization, tally, tally.checked)
                tally.checked += 1
                cancel.wait(PAUSE_S)
                now = time.monotonic()
                tally.seconds = now - t0
                if now - last >= REPORT_EVERY_S:
                    last = now
                    self.progressed.emit(replace(tally))
        tally.done = tally.checked == tally.total
        self.progressed.emit(replace(tally))


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
