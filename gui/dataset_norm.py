"""Normalizations over a dataset's N axis: its statistics computed in the background, cached.

:class:`DatasetNorm` watches an :class:`~normscope.gui.model.InspectorModel` browsing a dataset
lazily. When the normalization asks for the dataset's statistics (the N button), it runs
:func:`core.dataset_norm.dataset_batch_stats` on a thread of its own, reports its progress,
can be cancelled, and puts the result in the model; results are kept per (dataset,
statistics), so going back to a normalization, or stepping through the images, never waits.
It also reads a folder's image headers once, so that the choices needing images of one size
(a statistic per pixel position) are refused on a mixed-size folder before any pass.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from normscope.core.batchstats import BatchStats
from normscope.core.dataset import Dataset
from normscope.core.dataset_norm import (
    Cancelled,
    Progress,
    dataset_batch_stats,
    image_shapes,
    same_size_reason,
)
from normscope.gui.model import BatchPending, BatchRequest, InspectorModel

log = logging.getLogger("normscope")


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
    _progress = Signal(object, object)  # from the thread: (token, Progress)
    _done = Signal()  # from the thread: its outcome is in

    _surveyed = Signal(object, object)  # (dataset, reason or None)

    def __init__(self, model: InspectorModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._cache: dict[tuple[int, tuple[str, str]], BatchStats] = {}
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._running: tuple[int, tuple[str, str]] | None = None  # its dataset and key
        self._request: BatchRequest | None = None
        self._outcome: tuple[tuple, object] | None = None  # the pass's key and result, once in
        self._stopped: tuple[int, tuple[str, str]] | None = None  # cancelled or failed: not again
        self._survey_cancel = threading.Event()
        self.words = ""  # what the running pass does and how far it got
        self.passes = 0  # passes started (tests: a cached choice starts none)
        self._progress.connect(self._on_progress)
        self._done.connect(self._on_done)
        self._surveyed.connect(self._on_surveyed)
        model.optionsChanged.connect(self.update)
        model.loadedChanged.connect(self.update)
        model.datasetChanged.connect(self._on_dataset)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

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
        if self._running == key:
            return  # on its way
        outcome = self._stop()  # another pass gives way (its statistics kept if they are in)
        if outcome is not None and isinstance(outcome[1], BatchStats):
            self._cache[outcome[0]] = outcome[1]
        self._start(m.dataset, request, key)

    def cancel(self) -> None:
        """Cancel: stop the running pass (within one image or task) and wait for it; the
        model then says it was cancelled, at once."""
        outcome = self._stop()
        if outcome is not None:
            self._finish(*outcome)

    def shutdown(self) -> None:
        """Stop everything: the window is closing."""
        self._survey_cancel.set()
        self._stop()

    def _stop(self) -> tuple[tuple, object] | None:
        """Stop the running pass, wait for it, and take its outcome (None: no pass)."""
        self._cancel.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return None
        thread.join()
        self._running = None
        self.runningChanged.emit(False)
        outcome, self._outcome = self._outcome, None
        return outcome

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the running pass (tests); True when it has stopped."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    # --- the pass ----------------------------------------------------------------------------
    def _start(self, dataset: Dataset, request: BatchRequest, key: tuple) -> None:
        self._cancel = threading.Event()
        self._running, self._request = key, request
        self.passes += 1
        self.words = f"{request.words()} 0 of {len(dataset):,} images"
        self.model.set_batch(None, None, self.words)
        cancel = self._cancel

        def run() -> None:
            try:
                result: object = dataset_batch_stats(
                    dataset,
                    request.over,
                    method=request.method,
                    progress=lambda p: self._progress.emit(key, p),
                    cancel=cancel,
                )
            except Exception as exc:  # said in the window; logged below if not a cancel
                result = exc
            self._outcome = (key, result)
            self._done.emit()

        self._thread = threading.Thread(target=run, name="normscope-dataset-norm", daemon=True)
        self._thread.start()
        self.runningChanged.emit(True)

    def _on_progress(self, key: tuple, p: Progress) -> None:
        if key != self._running or self._request is None:
            return
        # the streamed pass reads every image twice: say images, not reads
        n = len(self.model.dataset) if self.model.dataset is not None else p.images_total
        done = p.images_done if p.images_total == n else p.images_done * n // p.images_total
        self.words = f"{self._request.words()} {done:,} of {n:,} images"
        self.model.batch_wait = self.words
        self.progressed.emit(done, n)

    def _on_done(self) -> None:
        thread = self._thread
        if thread is None or self._outcome is None:
            return  # stopped, and its outcome taken, before this came
        thread.join()
        self._thread, self._running = None, None
        self.runningChanged.emit(False)
        outcome, self._outcome = self._outcome, None
        self._finish(*outcome)

    def _finish(self, key: tuple, result: object) -> None:
        """Put a pass's outcome in the model: its statistics, or why there are none."""
        m = self.model
        if key[0] != id(m.dataset):
            return  # another dataset since
        self._stopped = None if isinstance(result, BatchStats) else key
        if isinstance(result, BatchStats):
            self._cache[key] = result
            m.set_batch(key[1], result)
            return
        if isinstance(result, Cancelled):
            words = f"cancelled after {result.progress.images_done:,} images"
        else:
            if not isinstance(result, ValueError):
                log.error("dataset statistics failed", exc_info=result)  # type: ignore[arg-type]
            words = str(result)
        m.set_batch(None, None, f"no dataset statistics: {words}")

    # --- image sizes -------------------------------------------------------------------------
    def _on_dataset(self) -> None:
        self._survey_cancel.set()
        self._stop()
        dataset = self.model.dataset
        if dataset is None:
            self._cache.clear()
            return
        self._survey_cancel = threading.Event()
        cancel = self._survey_cancel

        def survey() -> None:
            try:
                reason = same_size_reason(image_shapes(dataset, cancel=cancel), dataset)
            except Exception:  # unreadable headers: the pass itself will say why
                return
            self._surveyed.emit(dataset, reason)

        threading.Thread(target=survey, name="normscope-sizes", daemon=True).start()

    def _on_surveyed(self, dataset: Dataset, reason: str | None) -> None:
        if dataset is self.model.dataset:
            self.model.set_mixed_sizes(reason)
