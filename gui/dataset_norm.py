"""Normalizations over a dataset's N axis: its statistics computed in the background, cached.

:class:`DatasetNorm` watches an :class:`~normscope.gui.model.InspectorModel` browsing a dataset
lazily. When the normalization asks for the dataset's statistics (the N button), it runs
:func:`core.dataset_norm.dataset_batch_stats` in a worker process of its own
(:class:`core.jobs.Worker`: the pass never holds this process's interpreter lock, so the
window's event loop is never blocked by it), reports its progress, can be cancelled, and puts
the result in the model; results are kept per (dataset, statistics), also those of a pass that
ended after another choice replaced it, so going back to a normalization, or stepping through
the images, never waits. It also reads a folder's image headers once, in a worker process of
their own (:attr:`DatasetNorm.sizes`: on a thread, reading 100,000 headers held the lock
against the window's paints), so that the choices needing images of one size (a statistic per
pixel position) are refused on a mixed-size folder before any pass.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from normscope.core.batchstats import BatchStats
from normscope.core.dataset import Dataset
from normscope.core.dataset_norm import (
    Cancelled,
    Progress,
    dataset_batch_stats,
    sizes_reason,
)
from normscope.core.jobs import Worker
from normscope.gui.model import BatchPending, BatchRequest, InspectorModel

log = logging.getLogger("normscope")
#: The header survey starts this long after a dataset opens: its worker's start-up (~0.2 s of a
#: core) must not delay the first image (on a 2-core machine it did, by ~0.15 s)
SURVEY_DELAY_MS = 300


class DatasetNorm(QObject):
    """Computes the dataset statistics `model`'s normalization over N needs, one pass at a time.

    Signals
    -------
    progressed(done, total)
        Images read so far by the running pass (the words are :attr:`words`).
    runningChanged(bool)
    """

    progressed = Signal(int, int)
    runningChanged = Signal(bool)
    _said = Signal(int, str, object)  # from the worker's reader thread
    _sized = Signal(int, str, object)  # from the header survey's worker's reader thread

    def __init__(self, model: InspectorModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._cache: dict[tuple[int, tuple[str, str]], BatchStats] = {}
        self._passes: dict[int, tuple[int, tuple[str, str]]] = {}  # job → its key, until it ends
        self._job = 0  # the pass on show while it runs (0: none)
        self._running: tuple[int, tuple[str, str]] | None = None  # its dataset and key
        self._request: BatchRequest | None = None
        self._done = 0  # images it has read
        self._stopped: tuple[int, tuple[str, str]] | None = None  # cancelled or failed: not again
        self._survey: tuple[int, Dataset] | None = None  # the survey running: its job, dataset
        self._closed = False
        self.words = ""  # what the running pass does and how far it got
        self.passes = 0  # passes started (tests: a cached choice starts none)
        self.worker = Worker(self._said.emit, name="normscope-dataset-norm")
        self.sizes = Worker(self._sized.emit, name="normscope-sizes")  # the header survey
        self._survey_timer = QTimer(self)
        self._survey_timer.setSingleShot(True)
        self._survey_timer.setInterval(SURVEY_DELAY_MS)
        self._survey_timer.timeout.connect(self._start_survey)
        self._said.connect(self._on_said)
        self._sized.connect(self._on_sized)
        model.optionsChanged.connect(self.update)
        model.loadedChanged.connect(self.update)
        model.datasetChanged.connect(self._on_dataset)

    @property
    def running(self) -> bool:
        return self._job != 0

    @property
    def surveying(self) -> bool:
        """Whether the dataset's image sizes are still to be read, or being read."""
        return self._survey is not None or self._survey_timer.isActive()

    def update(self) -> None:
        """Start, or take from the cache, the statistics the model's normalization needs."""
        m = self.model
        try:
            request = m.batch_request
        except BatchPending:
            return  # the frame says why
        if request is None or m.dataset is None:
            self._stopped = None  # choosing it again tries again
            return
        key = (id(m.dataset), request.key)
        if key == self._stopped:
            return  # the model says why; another choice first
        if m.batch is not None and m.batch is self._cache.get(key):
            return  # in use already
        cached = self._cache.get(key)
        if cached is not None:
            m.set_batch(request.key, cached)
            return
        if self._running == key or self._closed:
            return  # on its way, or the window is closing
        self._stop()  # another pass gives way (its statistics are kept if they come in)
        self._start(m.dataset, request, key)

    def cancel(self) -> None:
        """Cancel: stop the running pass (within one image or task); the model says it was
        cancelled at once."""
        key = self._running
        if self._stop() and key is not None:
            self._finish(key, f"cancelled after {self._done:,} images")

    def shutdown(self) -> None:
        """Stop everything and end the worker process: the window is closing."""
        self._closed = True
        self._survey = None
        self._survey_timer.stop()
        self._stop()
        self.worker.shutdown()
        self.sizes.shutdown()

    def _stop(self) -> bool:
        """Stop the running pass, at once (its end, when it comes, is only cached); True when
        there was one."""
        if not self._job:
            return False
        self._job, self._running = 0, None
        self.worker.cancel()
        self.runningChanged.emit(False)
        return True

    # --- the pass ----------------------------------------------------------------------------
    def _start(self, dataset: Dataset, request: BatchRequest, key: tuple) -> None:
        self._running, self._request, self._done = key, request, 0
        self.passes += 1
        self.words = f"{request.words()} 0 of {len(dataset):,} images"
        self.model.set_batch(None, None, self.words)
        job = self.worker.submit(
            partial(dataset_batch_stats, method=request.method), dataset, request.over
        )
        self._job, self._passes[job] = job, key
        self.runningChanged.emit(True)

    def _on_said(self, job: int, kind: str, payload: Any) -> None:
        key = self._passes.get(job)
        if key is None:
            return  # a pass of the last dataset
        if kind == "progress":
            if job == self._job:
                self._on_progress(payload)
            return
        del self._passes[job]
        result: BatchStats | str = payload
        if kind == "error":
            exc, text = payload
            if not isinstance(exc, (Cancelled, ValueError)):
                log.error("dataset statistics failed:\n%s", text)
            result = str(exc)
        else:
            self._cache[key] = payload
        if job != self._job:
            return  # stopped or superseded: its statistics are kept, nothing else shown
        self._job, self._running = 0, None
        self.runningChanged.emit(False)
        self._finish(key, result)

    def _on_progress(self, p: Progress) -> None:
        if self._request is None:
            return
        # the streamed pass reads every image twice: say images, not reads
        n = len(self.model.dataset) if self.model.dataset is not None else p.images_total
        done = p.images_done if p.images_total == n else p.images_done * n // p.images_total
        self._done = done
        self.words = f"{self._request.words()} {done:,} of {n:,} images"
        self.model.batch_wait = self.words
        self.progressed.emit(done, n)

    def _finish(self, key: tuple, result: BatchStats | str) -> None:
        """Put a pass's outcome in the model: its statistics, or why there are none."""
        m = self.model
        if key[0] != id(m.dataset):
            return  # another dataset since
        self._stopped = None if isinstance(result, BatchStats) else key
        if isinstance(result, BatchStats):
            m.set_batch(key[1], result)
        else:
            m.set_batch(None, None, f"no dataset statistics: {result}")

    # --- image sizes -------------------------------------------------------------------------
    def _on_dataset(self) -> None:
        if self._survey is not None:
            self._survey = None
            self.sizes.cancel()
        self._stop()
        self._passes.clear()  # the last dataset's passes: their ends are dropped
        dataset = self.model.dataset
        if dataset is None:
            self._survey_timer.stop()
            self._cache.clear()
            return
        self._survey_timer.start()

    def _start_survey(self) -> None:
        dataset = self.model.dataset
        if dataset is not None and not self._closed:
            self._survey = (self.sizes.submit(sizes_reason, dataset), dataset)

    def _on_sized(self, job: int, kind: str, payload: Any) -> None:
        if self._survey is None or job != self._survey[0] or kind == "progress":
            return  # a survey of the last dataset
        dataset, self._survey = self._survey[1], None
        if kind == "done" and dataset is self.model.dataset:
            self.model.set_mixed_sizes(payload)
        # an error: unreadable headers (the pass itself will say why)
