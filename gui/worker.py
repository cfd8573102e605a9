"""Run heavy work off the GUI thread, keeping only the newest request.

`LatestOnly` runs one job at a time on a thread of its own (a one-thread ``QThreadPool``),
so one queue's job never waits behind another's. A job submitted while
another runs waits as the single pending job; a newer submission replaces it. So dragging
the index slider across a 60,000-image batch runs at most two jobs, not 60,000, and every
result carries the generation it was asked for: the owner drops the ones that are stale.

A job is a generator function: each value it yields reaches the GUI thread at once
(``yielded``), so a quick first result (the verdict) can be drawn before a slow one (the
pair counts) is ready. A job superseded by a newer submission or :meth:`LatestOnly.cancel`
stops at its next yield, so its later stages never run; it may yield None between stages to
offer such a stop without sending anything.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

Job = Callable[[], Iterator[Any]]
BACKGROUND_NICE = 5  # how much less CPU priority a background queue's jobs get


def _run_in_background() -> None:
    """Lower this thread's CPU priority to the main thread's + BACKGROUND_NICE (Linux, where
    a nice value belongs to a thread, and threads it starts inherit it; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    me = threading.get_native_id()
    try:
        target = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + BACKGROUND_NICE)
        if os.getpriority(os.PRIO_PROCESS, me) < target:
            os.setpriority(os.PRIO_PROCESS, me, target)
    except OSError:  # refused (a sandbox, a container): the job runs at the usual priority
        pass


class _Relay(QObject):
    """Carries a job's results from the pool thread to the GUI thread (queued signals)."""

    yielded = Signal(int, object)
    failed = Signal(int, object)
    done = Signal(int)


class _Task(QRunnable):
    def __init__(
        self,
        generation: int,
        job: Job,
        relay: _Relay,
        current: Callable[[int], bool],
        background: bool,
    ) -> None:
        super().__init__()
        self._background = background
        self.setAutoDelete(True)
        self._generation = generation
        self._job = job
        self._relay = relay
        self._current = current

    def run(self) -> None:
        items = None
        try:
            if self._background:
                _run_in_background()
            items = self._job()
            for item in items:
                if not self._current(self._generation):
                    return  # superseded: nobody wants this or what would follow
                if item is not None and not self._emit(self._relay.yielded, item):
                    return  # the owner is gone
        except Exception as exc:  # reported to the GUI thread, never lost in the pool
            self._report(exc)
        finally:
            try:
                if hasattr(items, "close"):
                    items.close()  # a stopped generator runs its own clean-up now
            except Exception as exc:  # e.g. it ignored GeneratorExit
                self._report(exc)
            finally:
                self._emit(self._relay.done)  # whatever happened: the queue moves on

    def _report(self, exc: Exception) -> None:
        self._emit(self._relay.failed, exc)

    def _emit(self, signal, *args) -> bool:
        try:
            signal.emit(self._generation, *args)
        except RuntimeError:  # "Signal source has been deleted": the window closed
            return False
        return True


class LatestOnly(QObject):
    """A one-slot job queue: the running job goes on to its next yield (to its end if it is
    still the newest), then only the newest pending one follows. A `background` queue's
    jobs run at a lower CPU priority, so that an interactive queue's job (the image of a
    toggle) gets the cores first while they run.

    Signals
    -------
    result(generation, item)
        An item a job yielded. Compare `generation` with :attr:`generation` to drop stale ones.
    error(generation, exception)
        A job raised `exception` (with its traceback).
    busyChanged(bool)
        True while a job runs or waits.
    """

    result = Signal(int, object)
    error = Signal(int, object)
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, background: bool = False) -> None:
        super().__init__(parent)
        self.background = background
        self.generation = 0
        self._running = False
        self._pending: tuple[int, Job] | None = None
        self._relay = _Relay()
        self._pool = QThreadPool(self)  # a thread of its own: never behind another queue's job
        self._pool.setMaxThreadCount(1)
        self._relay.yielded.connect(self.result)
        self._relay.failed.connect(self.error)
        self._relay.done.connect(self._on_done)

    @property
    def busy(self) -> bool:
        return self._running or self._pending is not None

    def submit(self, job: Job) -> int:
        """Queue `job` as the newest request and return its generation."""
        self.generation += 1
        was_busy = self.busy
        self._pending = (self.generation, job)
        if not self._running:
            self._start_pending()
        if not was_busy:
            self.busyChanged.emit(True)
        return self.generation

    def is_current(self, generation: int) -> bool:
        return generation == self.generation

    def cancel(self) -> None:
        """Make every job asked so far stale: the pending one never starts, the running one
        stops at its next yield (:attr:`busy` until then)."""
        self.generation += 1
        self._pending = None  # there is one only while a job runs, so busy ends with that

    def wait(self) -> None:
        """Block until the running job, if any, has ended (after :meth:`cancel`: until it
        reaches its next yield). The window calls it as it closes, so that no job still
        runs Python while the interpreter finalizes."""
        self._pool.waitForDone()

    def _start_pending(self) -> None:
        assert self._pending is not None
        generation, job = self._pending
        self._pending = None
        self._running = True
        self._pool.start(_Task(generation, job, self._relay, self.is_current, self.background))

    @Slot(int)
    def _on_done(self, _generation: int) -> None:
        self._running = False
        if self._pending is not None:
            self._start_pending()
        else:
            self.busyChanged.emit(False)
