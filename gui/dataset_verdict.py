"""The whole-dataset verdict, streamed: how many images of a lazily read dataset flip pixel
pairs under a normalization, and which flips the most.

:class:`DatasetVerdict` runs :func:`core.walk.walk` in a worker process of its own
(:class:`core.jobs.Worker`): the walk never holds this process's interpreter lock, so the
window's event loop is never blocked by it. Partial counts arrive as they come; Cancel stops the
walk between two images; the counts of a walk that was stopped or superseded are kept for its
normalization and never shown under another's. Each normalization's tally is kept, so a
normalization seen before shows its counts at once and an interrupted walk resumes where it
stopped. A walk that fails (the worker process died, the disk went away) keeps its counts so
far and says why (:attr:`DatasetVerdict.error`); asked for again, it resumes.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, Signal

from normscope.core.dataset import Dataset
from normscope.core.jobs import Worker
from normscope.core.normalize import Normalization
from normscope.core.walk import Tally, walk

__all__ = ["DatasetVerdict", "Tally"]

log = logging.getLogger("normscope")


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
    _said = Signal(int, str, object)  # from the worker's reader thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tallies: dict[tuple[int, str], Tally] = {}
        self._walks: dict[int, tuple[int, str]] = {}  # job → its tally's key, while it runs
        self._job = 0  # the walk on show while it runs (0: none)
        self.tally: Tally | None = None  # the walk's on show
        self._shown: tuple[int, str] | None = None  # its key
        self._errors: dict[tuple[int, str], str] = {}  # why a walk failed, by its tally's key
        self._closed = False
        self.worker = Worker(self._said.emit, name="normscope-dataset-verdict")
        self._said.connect(self._on_said)

    @property
    def running(self) -> bool:
        return self._job != 0

    @property
    def error(self) -> str | None:
        """Why the walk on show failed (``"OSError: ..."``), or None."""
        return None if self._shown is None else self._errors.get(self._shown)

    def start(self, dataset: Dataset, normalization: Normalization) -> None:
        """Walk `dataset` under `normalization`, or resume its walk, or show its finished one."""
        self.stop()
        if self._closed:
            return
        key = _key(dataset, normalization)
        tally = self._tallies.setdefault(key, Tally(len(dataset)))
        self.tally, self._shown = tally, key
        self._errors.pop(key, None)  # a failed walk is tried again
        self.progressed.emit(replace(tally))
        if tally.done:
            return
        self._job = self.worker.submit(walk, dataset, normalization, tally)
        self._walks[self._job] = key
        self.runningChanged.emit(True)

    def stop(self) -> None:
        """Cancel the walk (it stops between two images; its last counts are kept when they
        arrive). Returns at once."""
        if self._job:
            self._job = 0
            self.worker.cancel()
            self.runningChanged.emit(False)

    def shutdown(self) -> None:
        """Stop for good and end the worker process: the window is closing."""
        self._closed = True
        self.stop()
        self.worker.shutdown()

    def forget(self) -> None:
        """Stop, and drop every tally (another dataset is open)."""
        self.stop()
        self._tallies.clear()
        self._walks.clear()
        self._errors.clear()
        self.tally = self._shown = None

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the walks asked for have ended and their last counts are kept (tests);
        True when they have."""
        if not self._walks:
            return True
        job = max(self._walks)
        message = self.worker.wait(job, timeout)
        if message is not None:
            self._on_said(*message)
        return not self._walks

    def _on_said(self, job: int, kind: str, payload: Any) -> None:
        key = self._walks.get(job)
        if key is None:
            return  # a forgotten dataset's walk, or an end already taken by join()
        if kind == "error":
            exc, text = payload
            log.error("the whole-dataset verdict failed: %s\n%s", exc, text)
            self._errors[key] = f"{type(exc).__name__}: {exc}"
        else:
            self._tallies[key] = payload
        if kind != "progress":
            del self._walks[job]
        if key == self._shown:
            self.tally = self._tallies[key]
            self.progressed.emit(replace(self.tally))
        if job == self._job and kind != "progress":
            self._job = 0
            self.runningChanged.emit(False)
