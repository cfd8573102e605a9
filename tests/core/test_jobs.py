"""core.jobs.Worker: jobs in a worker process, progress, cancel, stale ends, a clean end."""

from __future__ import annotations

import os
import threading
import time

import pytest

from normscope.core.jobs import Worker
from normscope.core.stats import Cancelled, Progress


def count(n: int, *, progress, cancel: threading.Event) -> int:
    """Count to `n`, one step every 10 ms, saying each; stop when cancelled."""
    i = 0
    while i < n and not cancel.is_set():
        i += 1
        progress(i)
        time.sleep(0.01)
    return i


def pid(*, progress, cancel) -> int:
    return os.getpid()


def die(*, progress, cancel) -> None:
    os._exit(3)


def refuse(*, progress, cancel) -> None:
    raise ValueError("no, and here is why")


@pytest.fixture
def said():
    messages: list[tuple[int, str, object]] = []
    worker = Worker(lambda *m: messages.append(m), name="normscope-test-worker")
    yield worker, messages
    worker.shutdown()
    assert not worker.alive


def test_a_job_runs_in_another_process_and_says_how_far_it_got(said) -> None:
    worker, messages = said
    job = worker.submit(pid)
    assert worker.wait(job, 120)[1:] == ("done", worker.pid)
    assert worker.pid != os.getpid()
    job = worker.submit(count, 3)
    assert worker.wait(job, 60) == (job, "done", 3)
    assert [m[2] for m in messages if m[0] == job] == [1, 2, 3, 3]


def test_cancel_stops_the_running_job_and_skips_the_queued_ones(said) -> None:
    worker, messages = said
    first = worker.submit(count, 10_000)
    second = worker.submit(count, 10_000)
    deadline = time.monotonic() + 120
    while not any(m[0] == first and m[1] == "progress" for m in messages):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    worker.cancel()
    end = worker.wait(first, 30)
    assert end[1] == "done" and 0 < end[2] < 10_000
    assert worker.wait(second, 30) == (second, "done", 0)  # cancelled before it started
    third = worker.submit(count, 2)  # a job after the cancel runs
    assert worker.wait(third, 30) == (third, "done", 2)


def test_errors_arrive_as_exceptions_with_their_traceback(said) -> None:
    worker, _ = said
    kind, (exc, text) = worker.wait(worker.submit(refuse), 120)[1:]
    assert kind == "error" and isinstance(exc, ValueError) and str(exc) == "no, and here is why"
    assert "refuse" in text
    lock = threading.Lock()  # cannot be pickled: refused by the sender, not lost
    kind, (exc, _text) = worker.wait(worker.submit(count, lock), 30)[1:]
    assert kind == "error" and "pickle" in str(exc)


def test_a_worker_that_dies_ends_its_jobs_and_a_new_one_starts(said) -> None:
    worker, _ = said
    job = worker.submit(die)
    kind, (exc, _text) = worker.wait(job, 120)[1:]
    assert kind == "error" and "exited (3)" in str(exc)
    job = worker.submit(count, 1)
    assert worker.wait(job, 120) == (job, "done", 1)


def test_shutdown_ends_a_running_job_and_the_process(said) -> None:
    worker, messages = said
    job = worker.submit(count, 10_000)
    deadline = time.monotonic() + 120
    while not messages:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process = worker.pid
    t0 = time.monotonic()
    worker.shutdown()
    assert time.monotonic() - t0 < 5 and not worker.alive
    assert messages[-1][:2] == (job, "done")
    with pytest.raises(ProcessLookupError):
        os.kill(process, 0)
    with pytest.raises(RuntimeError, match="shut down"):
        worker.submit(count, 1)


def stopped(*, progress, cancel) -> None:
    raise Cancelled(Progress(2, 5, 0, 1, 0, 0, 0.0))


def test_a_cancelled_pass_arrives_as_cancelled_with_how_far_it_got(said) -> None:
    worker, _ = said
    kind, (exc, _text) = worker.wait(worker.submit(stopped), 120)[1:]
    assert kind == "error" and isinstance(exc, Cancelled), exc
    assert exc.progress.images_done == 2 and str(exc) == "stopped after 2 of 5 images"


def test_the_process_starts_off_the_calling_thread(said, monkeypatch) -> None:
    """Spawning a process (and multiprocessing's resource tracker) takes the caller 15-40 ms:
    a window's event loop would stall on its first job; submit only queues."""
    from multiprocessing.context import SpawnProcess

    worker, _ = said
    started_on, start = [], SpawnProcess.start

    def record(process) -> None:
        started_on.append(threading.current_thread())
        start(process)

    monkeypatch.setattr(SpawnProcess, "start", record)
    job = worker.submit(pid)
    assert worker.wait(job, 120)[1:] == ("done", worker.pid)
    assert started_on and threading.main_thread() not in started_on


def test_a_process_that_cannot_start_ends_its_jobs_and_the_next_submit_tries_again(
    said, monkeypatch
) -> None:
    from multiprocessing.context import SpawnProcess

    worker, _ = said
    start = SpawnProcess.start
    monkeypatch.setattr(SpawnProcess, "start", lambda p: (_ for _ in ()).throw(OSError("no")))
    first, second = worker.submit(pid), worker.submit(pid)
    for job in (first, second):
        kind, (exc, _text) = worker.wait(job, 60)[1:]
        assert kind == "error" and isinstance(exc, OSError) and str(exc) == "no"
    monkeypatch.setattr(SpawnProcess, "start", start)
    job = worker.submit(pid)
    assert worker.wait(job, 120)[1:] == ("done", worker.pid)


def test_shutdown_while_the_process_starts_leaves_none_behind(said) -> None:
    worker, messages = said
    job = worker.submit(count, 10_000)
    worker.shutdown()  # at once: the process may not be up yet
    assert not worker.alive
    assert [m[:2] for m in messages if m[1] != "progress"] in ([(job, "done")], [(job, "error")])
