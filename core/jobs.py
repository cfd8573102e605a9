"""Long jobs in a worker process of their own, with progress, cancel and stale results dropped.

A job that walks a whole dataset holds the interpreter's lock for most of its time; on a
thread beside a window it blocks the window's event loop for hundreds of milliseconds at a
time. A :class:`Worker` runs such jobs in a process it spawns on its first job (the ``spawn``
start method: a fresh interpreter, safe beside Qt's threads; started on a thread of its own, so
:meth:`Worker.submit` returns at once), one job at a time, in the order they were submitted.
A job is a picklable function called in the worker as
``fn(*args, progress=callback, cancel=event)`` (the convention of
:func:`core.stats.dataset_stats`): it calls ``progress(payload)`` with picklable partial
results and stops soon after ``cancel.is_set()`` turns true.

What the worker says comes back, in order, to the ``on_message(job, kind, payload)`` callback
given to the :class:`Worker`, called on a reader thread of the calling process: ``kind`` is
``"progress"`` (the payload a job reported), ``"done"`` (the job's return value) or
``"error"`` (``(exception, traceback_text)``; an exception that cannot cross processes arrives
as a :class:`RuntimeError` with its text). Every job ends with exactly one ``"done"`` or
``"error"``, also a cancelled one, and also when the worker process dies (an ``"error"``).
:meth:`Worker.cancel` stops every job submitted so far; :meth:`Worker.shutdown` ends the
process and the reader thread (no process is left behind).

The worker ignores SIGINT (Ctrl+C in a terminal is the calling process's to handle) and runs at
a lower priority (``nice`` +5 on Unix), so the calling process gets the cores first.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["Worker"]

#: The worker's priority below the calling process's (Unix ``nice`` increment).
NICE = 5
#: How many of the last jobs' ends :meth:`Worker.wait` can return.
KEEP_ENDS = 16
#: Seconds :meth:`Worker.shutdown` waits for the worker to stop before it is terminated.
STOP_TIMEOUT_S = 10.0


class Worker:
    """A worker process that runs submitted jobs one at a time.

    Parameters
    ----------
    on_message : callable
        Called as ``on_message(job, kind, payload)`` on a reader thread (see the module's
        docstring); for a Qt window, a signal's ``emit``.
    name : str, optional
        The process's and the reader thread's name.

    Examples
    --------
    >>> from normscope.core.stats import dataset_stats
    >>> said = []
    >>> worker = Worker(lambda job, kind, payload: said.append((job, kind, payload)))
    >>> job = worker.submit(dataset_stats, "sample:digits")
    >>> job, kind, stats = worker.wait(job, timeout=120)
    >>> kind, stats.images, said[0][1], said[-1][1]
    ('done', 64, 'progress', 'done')
    >>> worker.shutdown()
    >>> worker.alive
    False
    """

    def __init__(
        self,
        on_message: Callable[[int, str, Any], None],
        *,
        name: str = "normscope-worker",
    ) -> None:
        self.name = name
        self._on_message = on_message
        self._lock = threading.Condition()
        self._jobs = 0  # the last job submitted
        self._ended = 0  # the last job whose end was read
        self._ends: dict[int, tuple[int, str, Any]] = {}  # the last ends read, by job
        self._process: Any = None  # a multiprocessing process (its type depends on the context)
        self._outbox: queue.Queue[tuple[Any, ...] | None] = queue.Queue()  # to the worker
        self._sender: threading.Thread | None = None
        self._reader: threading.Thread | None = None
        self._closed = False

    @property
    def alive(self) -> bool:
        """Whether the worker process is running."""
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        """The worker process's id (None before the first job)."""
        return None if self._process is None else int(self._process.pid)

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        """Run ``fn(*args, progress=..., cancel=...)`` in the worker after the jobs before it.

        Returns at once with the job's number (increasing from 1): the job is pickled and sent
        by a thread of its own (a worker that is still starting reads nothing yet), and one
        that cannot be sent ends with an ``"error"``.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name} was shut down")
            if self._gone():
                self._start()
            self._jobs += 1
            self._outbox.put(("run", self._jobs, fn, args))
            return self._jobs

    def cancel(self) -> None:
        """Stop every job submitted so far (a running one at its next check of `cancel`)."""
        with self._lock:
            if self._jobs > self._ended:
                self._outbox.put(("cancel", self._jobs))

    def wait(self, job: int, timeout: float | None = None) -> tuple[int, str, Any] | None:
        """Wait until `job` has ended, and return its last message.

        None on timeout, or for a job :data:`KEEP_ENDS` or more before the last one that ended.
        """
        with self._lock:
            self._lock.wait_for(
                lambda: job in self._ends or self._ended >= job + KEEP_ENDS, timeout
            )
            return self._ends.get(job)

    def shutdown(self, *, wait: bool = True) -> None:
        """Cancel the jobs and end the worker process.

        With `wait`, return when it has exited (terminated after :data:`STOP_TIMEOUT_S`).
        """
        with self._lock:
            closed, self._closed = self._closed, True
            sender = self._sender
        if sender is None:
            return
        if not closed:
            self.cancel()
            self._outbox.put(None)
        if not wait:
            return  # the sender and reader threads end, and reap the process, when it exits
        sender.join()  # the process started (or could not) and was told to end
        with self._lock:
            reader, process = self._reader, self._process
        if reader is None:
            return
        reader.join(STOP_TIMEOUT_S)
        if reader.is_alive():
            process.terminate()
            reader.join()

    # --- the calling process's side ----------------------------------------------------------
    def _gone(self) -> bool:
        """Whether the next job needs a new process (none started, or it has ended); locked.

        A process that could not start, or that has exited (its reader ended), is gone.
        """
        sender, reader = self._sender, self._reader
        return (
            sender is None
            or not sender.is_alive()
            or (reader is not None and not reader.is_alive())
        )

    def _start(self) -> None:
        """A new sender thread, which starts the process (called holding the lock).

        Spawning it (and multiprocessing's resource tracker) takes 15-40 ms, which a window's
        event loop would wait.
        """
        self._outbox.put(None)  # the last process's sender ends
        outbox: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
        self._outbox = outbox
        self._process = self._reader = None
        self._sender = threading.Thread(
            target=self._launch, args=(outbox,), name=f"{self.name}-sender", daemon=True
        )
        self._sender.start()

    def _launch(self, outbox: queue.Queue[tuple[Any, ...] | None]) -> None:
        """Start the worker process and its reader thread, then send it what `outbox` holds."""
        ctx = multiprocessing.get_context("spawn")
        try:
            tasks_out, tasks_in = ctx.Pipe(duplex=False)  # (receiving end, sending end)
            results_out, results_in = ctx.Pipe(duplex=False)
            process = ctx.Process(
                target=_serve, args=(tasks_out, results_in), name=self.name, daemon=True
            )
            process.start()
        except Exception as exc:  # no process: out of processes, memory or descriptors
            self._refuse(outbox, exc)
            return
        tasks_out.close()  # the worker's ends: only it holds them now, so its exit reads as EOF
        results_in.close()
        reader = threading.Thread(
            target=self._read, args=(process, results_out), name=f"{self.name}-reader", daemon=True
        )
        with self._lock:
            self._process, self._reader = process, reader
            reader.start()
        self._send(tasks_in, outbox)

    def _refuse(self, outbox: queue.Queue[tuple[Any, ...] | None], exc: Exception) -> None:
        """End every job queued in `outbox` with `exc`: their process could not start."""
        with self._lock:
            if self._outbox is outbox:
                self._sender = None  # the next job starts another
            jobs = []
            while not outbox.empty():
                item = outbox.get_nowait()
                if item is not None and item[0] == "run":
                    jobs.append(item[1])
        for job in jobs:
            self._note((job, "error", _portable(exc)))

    def _send(self, tasks: Connection, outbox: queue.Queue[tuple[Any, ...] | None]) -> None:
        while True:
            item = outbox.get()
            try:
                tasks.send(item)
            except Exception as exc:  # a job that cannot be pickled, or a worker that is gone
                if item is not None and item[0] == "run":
                    self._note((item[1], "error", _portable(exc)))
            if item is None:
                break
        tasks.close()

    def _read(self, process: Any, results: Connection) -> None:
        while True:
            try:
                message = results.recv()
            except (EOFError, OSError):
                break
            self._note(message)
        results.close()
        process.join()
        with self._lock:  # the worker died (or was shut down) with jobs not ended
            orphans = range(self._ended + 1, self._jobs + 1)
        gone = RuntimeError(f"the worker process {self.name} exited ({process.exitcode})")
        for job in orphans:
            self._note((job, "error", (gone, "")))

    def _note(self, message: tuple[int, str, Any]) -> None:
        job, kind, _payload = message
        if kind != "progress":
            with self._lock:
                self._ended, self._ends[job] = max(self._ended, job), message
                self._ends.pop(job - KEEP_ENDS, None)
                self._lock.notify_all()
        self._on_message(*message)


# --- the worker process's side ---------------------------------------------------------------
def _serve(tasks: Connection, results: Connection) -> None:
    """The worker's main loop: run the jobs received on `tasks`, send what they say."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.nice(NICE)
    except (AttributeError, OSError):  # not on Windows; a refused nice costs nothing
        pass
    runs: queue.Queue[tuple[int, Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue()
    lock = threading.Lock()
    state = {"cancelled": 0}  # every job up to this one is cancelled
    running: list[tuple[int, threading.Event]] = []

    def receive() -> None:  # on a thread, so that a cancel arrives while a job runs
        while True:
            try:
                item = tasks.recv()
            except (EOFError, OSError):
                item = None
            if item is None:
                with lock:
                    state["cancelled"] = 1 << 62
                    for _job, event in running:
                        event.set()
                runs.put(None)
                return
            if item[0] == "cancel":
                with lock:
                    state["cancelled"] = max(state["cancelled"], item[1])
                    for job, event in running:
                        if job <= item[1]:
                            event.set()
            else:
                runs.put(item[1:])

    threading.Thread(target=receive, name="normscope-worker-receive", daemon=True).start()
    while (run := runs.get()) is not None:
        job, fn, args = run
        cancel = threading.Event()
        with lock:
            running[:] = [(job, cancel)]
            if job <= state["cancelled"]:
                cancel.set()

        def progress(payload: Any, job: int = job) -> None:
            results.send((job, "progress", payload))

        try:
            out = fn(*args, progress=progress, cancel=cancel)
            message: tuple[int, str, Any] = (job, "done", out)
        except Exception as exc:
            message = (job, "error", _portable(exc))
        try:
            results.send(message)
        except Exception as exc:  # a result that cannot be pickled
            results.send((job, "error", _portable(exc)))
    results.close()


def _portable(exc: Exception) -> tuple[Exception, str]:
    """`exc` as it can be sent to the calling process, with its traceback's text."""
    text = "".join(traceback.format_exception(exc))
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        exc = RuntimeError(str(exc) or type(exc).__name__)
    return exc, text
