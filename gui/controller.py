"""Between the model and the window: what is asked of the workers, and what came back.

:class:`InspectorController` watches an :class:`~normscope.gui.model.InspectorModel`, asks its
four job queues (the image on show, its rank statistics, its histograms, the whole batch's
verdict) for what the model's state needs, drops the answers that are stale, and keeps what
arrived in one frozen :class:`Results` record, replaced as a whole whenever any part of it
changes. A view (the window, or a fake in the tests) connects to its signals and reads
:attr:`InspectorController.results`; it never sees a queue or a timer.

A failed job's exception travels as the object it was, is logged with its traceback to the
``normscope`` logger, and lands in the record (or in :attr:`InspectorController.frameFailed`);
the view says it in one line with :func:`one_line`.
"""

from __future__ import annotations

import functools
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from normscope.core.ranks import image_scope
from normscope.gui.model import BatchPending, InspectorModel
from normscope.gui.pipeline import (
    BatchStats,
    Frame,
    FrameHistograms,
    FrameStats,
    FrameVerdict,
    FullResultCache,
    Look,
    batch_job,
    frame_job,
    frame_pictures,
    histogram_job,
    rank_picture,
    stats_job,
)
from normscope.gui.worker import LatestOnly

BATCH_DELAY_MS = 300  # the whole-batch verdict waits until the controls are still this long
DRAW_MS = 15  # results arriving within this many ms are drawn in one go (an image: at once)
STALE_AFTER_MS = 250  # results slower than this fade what they will replace until they come

log = logging.getLogger("normscope")


def one_line(exc: BaseException) -> str:
    """``"ValueError: axis 5 is out of range"``: an exception as the window says it.

    Examples
    --------
    >>> one_line(ValueError("axis 5\\nis out of range"))
    'ValueError: axis 5 is out of range'
    """
    return " ".join("".join(traceback.format_exception_only(exc)).split())


@dataclass(frozen=True)
class Results:
    """Everything computed for what is open, and why a part is missing when it failed.

    Never changed in place: the controller replaces the whole record.
    """

    generation: int = 0  # the request for the image on show these results answer
    frame: Frame | None = None
    verdict: FrameVerdict | None = None
    stats: FrameStats | None = None
    hists: FrameHistograms | None = None
    batch: BatchStats | None = None
    stats_error: Exception | None = None  # why the image on show has no statistics
    hists_error: Exception | None = None  # or no histograms
    batch_error: Exception | None = None  # or the batch no verdict


class InspectorController(QObject):
    """Computes what `model` asks for off the GUI thread and keeps the newest results.

    Signals
    -------
    cleared()
        A new array is open: every result is gone.
    changed(images)
        Results arrived or were dropped (those arriving within ``DRAW_MS`` together; a new
        image at once), or the channel changed; `images`: the image panels must be drawn again too.
    slow()
        Results asked ``STALE_AFTER_MS`` ago are still missing: fade what they replace.
    frameFailed(exception)
        The image on show cannot be normalized; the record holds no image.
    batchChanged()
        The batch's verdict was asked again, arrived or failed.
    busyChanged(bool)
        True while any job runs or waits.
    """

    cleared = Signal()
    changed = Signal(bool)
    slow = Signal()
    frameFailed = Signal(object)
    batchChanged = Signal()
    busyChanged = Signal(bool)

    def __init__(self, model: InspectorModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._results = Results()
        self._generation = 0
        self._images_new = False  # the record's image has not been drawn yet
        self._busy = False
        self._cache = FullResultCache()
        self._frames = LatestOnly(self)  # the image on show, normalized
        # its rank statistics, asked when the image arrives; the histograms of what the
        # image panels show; the whole batch's verdict: all give way to the next image
        self._stats = LatestOnly(self, background=True)
        self._hists = LatestOnly(self, background=True)
        self._batches = LatestOnly(self, background=True)
        handlers: dict[LatestOnly, Callable[[Any], None]] = {
            self._frames: self._on_frame,
            self._stats: self._on_stats,
            self._hists: self._on_histograms,
            self._batches: self._on_batch,
        }
        self._queues = tuple(handlers)
        for queue, handler in handlers.items():
            queue.result.connect(functools.partial(self._on_result, queue, handler))
            queue.error.connect(functools.partial(self._on_error, queue))
            queue.busyChanged.connect(self._update_busy)
        self._draw_timer = self._timer(DRAW_MS, self._emit_changed)
        self._stale_timer = self._timer(STALE_AFTER_MS, self.slow.emit)
        self._batch_timer = self._timer(BATCH_DELAY_MS, self._submit_batch)
        self._timers = (self._draw_timer, self._stale_timer, self._batch_timer)
        model.loadedChanged.connect(self._on_loaded)
        model.optionsChanged.connect(self._recompute_all)
        model.indexChanged.connect(self._recompute_frame)
        model.scopeChanged.connect(self._on_scope_changed)
        model.channelChanged.connect(self._on_channel_changed)

    def _timer(self, interval_ms: int, slot: Callable[[], None]) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(interval_ms)
        timer.timeout.connect(slot)
        return timer

    # --- public ------------------------------------------------------------------------------
    @property
    def results(self) -> Results:
        """The newest results for what is open (a frozen record)."""
        return self._results

    @property
    def generation(self) -> int:
        """How many times the image on show has been asked for: ``results.generation`` equals
        it once the newest request has been answered."""
        return self._generation

    @property
    def overdue(self) -> bool:
        """Whether missing results have been waited for longer than ``STALE_AFTER_MS`` (or
        were never asked): what they will replace should look stale."""
        return not self._stale_timer.isActive()

    def look(self) -> Look:
        """How the image panels draw now: what the jobs make their pictures for."""
        d = self.model.display
        return Look(self.model.channel, d.colormap, d.original_levels, d.rank_view)

    def restyle(self) -> Results:
        """The results with pictures for :meth:`look`, made again here (on the GUI thread)
        only where the look changed since the jobs made them; the record is replaced."""
        r, look = self._results, self.look()
        frame, stats = r.frame, r.stats
        if frame is None:
            return r
        if not frame.look.same_images(look):
            reuse = frame.original_picture(frame.source, look)
            pictures = frame_pictures(
                frame.original, frame.normalized, frame.roles, look, reuse=reuse
            )
            frame = replace(frame, look=look, pictures=pictures)
        elif frame.look != look:
            frame = replace(frame, look=look)  # the same pictures serve it
        if stats is not None and not stats.look.same_rank(look):
            rank = rank_picture(stats.maps, frame.roles, stats.shift_levels, look)
            stats = replace(stats, look=look, rank=rank)
        elif stats is not None and stats.look != look:
            stats = replace(stats, look=look)  # the same picture serves it
        if frame is not r.frame or stats is not r.stats:
            self._results = replace(r, frame=frame, stats=stats)
        return self._results

    def is_idle(self) -> bool:
        """True when nothing asked is on its way and every result has been handed on."""
        busy_timers = self._batch_timer.isActive() or self._draw_timer.isActive()
        return not busy_timers and not any(queue.busy for queue in self._queues)

    def join(self, timeout: float | None = None) -> bool:
        """Process events until :meth:`is_idle` (for tests and scripts); False on `timeout`
        (seconds) first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_idle():
            if deadline is not None and time.monotonic() > deadline:
                return False
            QCoreApplication.processEvents()
            time.sleep(0.002)
        return True

    def shutdown(self) -> None:
        """Stop the timers, drop every job asked and wait for the running ones to stop (at
        their next yield). Results that were on their way are never delivered."""
        for timer in self._timers:
            timer.stop()
        for queue in self._queues:
            queue.cancel()
        for queue in self._queues:
            queue.wait()

    # --- asking ------------------------------------------------------------------------------
    def _on_loaded(self) -> None:
        self._results = Results(generation=self._generation)
        self._images_new = False
        self.cleared.emit()
        self._recompute_all()

    def _recompute_all(self) -> None:
        self._results = replace(self._results, batch=None, batch_error=None)
        self.batchChanged.emit()
        self._recompute_frame()
        if self.model.loaded is not None and self.model.is_batch:
            self._batch_timer.start()  # restarted by every change: a burst starts one job

    def _submit_batch(self) -> None:
        loaded = self.model.loaded
        if loaded is None or not self.model.is_batch:
            return
        try:
            normalization = self.model.normalization
        except ValueError:
            return  # _recompute_frame reports it
        args = (loaded.array, loaded.roles, normalization, self._cache)
        self._batches.submit(lambda: batch_job(*args))

    def _recompute_frame(self) -> None:
        self._stats.cancel()  # the image on show is about to change: its statistics and
        self._hists.cancel()  # histograms are stale
        m = self.model
        if m.loaded is None:
            return
        if m.dataset is not None and m.shown != m.index:
            return  # the dataset's image is still being read: its arrival asks again
        self._generation += 1
        try:
            normalization = m.normalization
        except ValueError as exc:
            self._frames.cancel()  # an image asked before must not arrive in its place
            self._fail(self._frames, exc)
            return
        index = m.index if m.dataset is None else 0  # a dataset's image comes alone
        args = (m.loaded.array, m.roles, normalization, index, self._cache, self.look())
        previous = self._results.frame  # its original picture is reused when the image is the same
        self._frames.submit(lambda: frame_job(*args, previous, m.scope))

    def _recompute_stats(self) -> None:
        self._stale_timer.start()
        r = self._results
        if r.frame is not None:  # the image on show (a newer one asks again when it comes)
            args = (r.frame, self.model.scope, self.look(), r.verdict)
            self._stats.submit(lambda: stats_job(*args))

    def _recompute_histograms(self) -> None:
        r, channel = self._results, self.model.channel
        if r.frame is None:
            return
        if r.hists is not None and r.hists.channel == channel:
            self._hists.cancel()  # back to the channel on show: another's are not wanted
            return
        self._results = replace(r, hists_error=None)
        self._stale_timer.start()
        frame = r.frame
        self._hists.submit(lambda: histogram_job(frame, channel))

    def _on_scope_changed(self) -> None:
        # the counts on show are the old scope's; where ranks are kept is not
        self._results = replace(self._results, stats=None, stats_error=None)
        self._recompute_stats()
        self.changed.emit(False)

    def _on_channel_changed(self) -> None:
        self.changed.emit(True)  # the panels show the new channel at once
        self._recompute_histograms()

    # --- answers -----------------------------------------------------------------------------
    def _on_result(
        self, queue: LatestOnly, handler: Callable[[Any], None], generation: int, item: Any
    ) -> None:
        if queue.is_current(generation):  # else stale: the user has moved on
            handler(item)

    def _new_image(self, frame: Frame | None) -> Results:
        """The record for a new image on show (`frame`, or none): the batch's verdict stays."""
        r = self._results
        return Results(self._generation, frame=frame, batch=r.batch, batch_error=r.batch_error)

    def _on_frame(self, item: Frame) -> None:
        r = self._results = self._new_image(item)
        # a small image's histograms and counts came with it, if still for the channel and
        # scope on show (they may have changed while it was made)
        if item.hists is not None and item.hists.channel == self.model.channel:
            r = replace(r, hists=item.hists)
        counted = item.stats is not None
        if counted and item.stats.diff.scope == image_scope(self.model.scope):
            r = replace(r, verdict=item.verdict, stats=item.stats)
        self._results = r
        self._images_new = True
        self._stale_timer.start()  # its statistics are asked next: what they replace stays
        self._draw_timer.stop()  # the image is what the user waits for: drawn now, with what
        self._emit_changed()  # else came meanwhile, before its statistics take the cores
        if r.stats is None:
            self._recompute_stats()
        self._recompute_histograms()  # none asked when those on show are for the channel
        if r.stats is not None and r.hists is not None:
            self._stale_timer.stop()  # nothing missing

    def _on_stats(self, item: FrameVerdict | FrameStats) -> None:
        if isinstance(item, FrameVerdict):
            self._results = replace(self._results, verdict=item)
        else:
            self._results = replace(self._results, stats=item, stats_error=None)
        self._schedule_changed()

    def _on_histograms(self, item: FrameHistograms) -> None:
        if item.channel == self.model.channel:
            self._results = replace(self._results, hists=item, hists_error=None)
            self._schedule_changed()

    def _on_batch(self, item: BatchStats) -> None:
        self._results = replace(self._results, batch=item, batch_error=None)
        self.batchChanged.emit()

    def _on_error(self, queue: LatestOnly, generation: int, exc: Exception) -> None:
        if queue.is_current(generation):
            self._fail(queue, exc)
        else:
            log.debug("a stale job failed", exc_info=exc)

    def _fail(self, queue: LatestOnly, exc: Exception) -> None:
        what = {
            self._frames: "normalizing",
            self._stats: "comparing ranks",
            self._hists: "counting histograms",
            self._batches: "checking the whole batch",
        }[queue]
        m = self.model
        name = m.loaded.name if m.loaded is not None else "nothing"
        if not isinstance(exc, BatchPending):  # the dataset's statistics on their way: no fault
            log.error("%s, image %d: %s failed", name, m.index, what, exc_info=exc)
        r = self._results
        if queue is self._frames:
            self._results = self._new_image(None)
            self.frameFailed.emit(exc)
        elif queue is self._stats:  # the images on show are right; their counts failed
            self._results = replace(r, stats=None, stats_error=exc)
            self._schedule_changed()
        elif queue is self._hists:
            self._results = replace(r, hists=None, hists_error=exc)
            self._schedule_changed()
        else:
            self._results = replace(r, batch=None, batch_error=exc)
            self.batchChanged.emit()

    def _schedule_changed(self) -> None:
        if not self._draw_timer.isActive():  # results that come together are drawn together
            self._draw_timer.start()

    def _emit_changed(self) -> None:
        images, self._images_new = self._images_new, False
        self.changed.emit(images)

    def _update_busy(self, _busy: bool = False) -> None:
        busy = any(queue.busy for queue in self._queues)
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)
