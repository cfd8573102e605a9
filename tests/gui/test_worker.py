"""The one-slot job queue: newest request wins, errors arrive, nothing piles up."""

from __future__ import annotations

import os
import sys
import threading
import traceback

import pytest

from normscope.gui.worker import BACKGROUND_NICE, LatestOnly


def test_only_the_running_and_the_newest_jobs_run(qtbot) -> None:
    runner = LatestOnly()
    gate = threading.Event()
    ran: list[int] = []
    results: list[tuple[int, object]] = []
    runner.result.connect(lambda g, item: results.append((g, item)))

    def job(i: int):
        def run():
            if i == 0:
                gate.wait(10)
            ran.append(i)
            yield f"first {i}"
            yield f"second {i}"

        return run

    with qtbot.waitSignal(runner.busyChanged, check_params_cb=lambda busy: busy):
        runner.submit(job(0))
    for i in range(1, 30):
        runner.submit(job(i))
    assert runner.busy
    with qtbot.waitSignal(runner.busyChanged, timeout=10_000, check_params_cb=lambda b: not b):
        gate.set()
    assert ran == [0, 29]  # 1..28 were replaced while 0 ran
    current = [item for g, item in results if runner.is_current(g)]
    assert current == ["first 29", "second 29"]
    assert runner.generation == 30


def test_errors_reach_the_gui_thread_with_their_story(qtbot) -> None:
    runner = LatestOnly()

    def broken():
        yield 1
        raise ValueError("axis 5 is out of range")

    with qtbot.waitSignal(runner.error, timeout=10_000) as blocker:
        generation = runner.submit(broken)
    got, exc = blocker.args
    assert got == generation and isinstance(exc, ValueError)
    assert str(exc) == "axis 5 is out of range"
    assert "broken" in "".join(traceback.format_tb(exc.__traceback__))  # where it was raised
    qtbot.waitUntil(lambda: not runner.busy)


def test_a_superseded_job_stops_at_its_next_result(qtbot) -> None:
    runner = LatestOnly()
    gate = threading.Event()
    stages: list[str] = []
    results: list[object] = []
    runner.result.connect(lambda _g, item: results.append(item))

    def slow():
        stages.append("normalize")
        gate.wait(10)
        yield "image"
        stages.append("rank statistics")  # seconds on a big image: not for a stale request
        yield "statistics"

    runner.submit(slow)
    qtbot.waitUntil(lambda: stages == ["normalize"])
    runner.submit(lambda: iter(["newer image"]))
    gate.set()
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    assert stages == ["normalize"]
    assert results == ["newer image"]


def test_cancel_drops_the_pending_job_and_the_running_ones_results(qtbot) -> None:
    runner = LatestOnly()
    gate = threading.Event()
    started: list[str] = []
    results: list[object] = []
    runner.result.connect(lambda _g, item: results.append(item))

    def job(name: str):
        started.append(name)
        gate.wait(10)
        yield name

    runner.submit(lambda: job("running"))
    runner.submit(lambda: job("pending"))
    qtbot.waitUntil(lambda: started == ["running"])
    runner.cancel()
    assert runner.busy  # until the running job has stopped
    gate.set()
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    assert started == ["running"] and results == []


def test_a_job_that_will_not_close_still_frees_its_queue(qtbot) -> None:
    runner = LatestOnly()
    gate = threading.Event()
    errors: list[Exception] = []
    runner.error.connect(lambda _g, exc: errors.append(exc))

    def stubborn():
        gate.wait(10)
        refused = False
        while True:
            try:
                yield "again"
            except GeneratorExit:
                if refused:
                    return  # the second time (when it is garbage): it closes
                refused = True  # yields on the first time: close() raises RuntimeError

    runner.submit(stubborn)
    runner.cancel()
    gate.set()
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    assert errors and isinstance(errors[0], RuntimeError)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a per-thread nice is Linux's")
def test_background_jobs_yield_the_cores_to_interactive_ones(qtbot) -> None:
    def priority():
        yield os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    niceness: dict[str, int] = {}
    for name, runner in (("image", LatestOnly()), ("statistics", LatestOnly(background=True))):
        runner.result.connect(lambda _g, value, name=name: niceness.__setitem__(name, value))
        runner.submit(priority)
        qtbot.waitUntil(lambda runner=runner: not runner.busy)
    base = os.getpriority(os.PRIO_PROCESS, os.getpid())
    assert niceness == {"image": base, "statistics": min(19, base + BACKGROUND_NICE)}


def test_a_refused_priority_change_costs_no_result(qtbot, monkeypatch) -> None:
    def refused(*_args):
        raise PermissionError("setpriority is not allowed here")

    monkeypatch.setattr(os, "setpriority", refused)
    monkeypatch.setattr(os, "getpriority", lambda *_args: 0)
    runner = LatestOnly(background=True)
    results: list[object] = []
    runner.result.connect(lambda _g, item: results.append(item))
    runner.submit(lambda: iter(["counts"]))
    qtbot.waitUntil(lambda: not runner.busy)
    assert results == ["counts"]
