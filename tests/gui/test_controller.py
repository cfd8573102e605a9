"""The controller driven with a real model and a fake view: no window, no widgets."""

from __future__ import annotations

import dataclasses
import logging
import threading
import traceback

import numpy as np
import pytest

from normscope.core import engine
from normscope.core.loading import Loaded, load
from normscope.core.normalize import Normalization
from normscope.core.ranks import diagnose, rank_compare
from normscope.gui import pipeline
from normscope.gui.controller import InspectorController, Results, one_line
from normscope.gui.model import InspectorModel
from normscope.gui.pipeline import Look

DIGITS = load("sample:digits")
BIG = Loaded(np.random.default_rng(0).integers(0, 256, (700, 700), np.uint8), "HW", "big", "big")


class FakeView:
    """What a view does with a controller: connect to its signals and read its results."""

    def __init__(self, controller: InspectorController) -> None:
        self.controller = controller
        self.events: list[str] = []
        self.drawn: list[Results] = []  # the record each draw read
        self.failures: list[Exception] = []
        controller.cleared.connect(lambda: self.events.append("cleared"))
        controller.changed.connect(self._draw)
        controller.slow.connect(lambda: self.events.append("slow"))
        controller.frameFailed.connect(self.failures.append)
        controller.batchChanged.connect(lambda: self.events.append("batch"))

    def _draw(self, images: bool) -> None:
        self.events.append("images" if images else "results")
        self.drawn.append(self.controller.restyle())


@pytest.fixture
def setup(qtbot):
    model = InspectorModel()
    controller = InspectorController(model)
    view = FakeView(controller)
    yield model, controller, view
    controller.shutdown()


def test_results_arrive_as_one_record(setup) -> None:
    model, controller, view = setup
    assert controller.is_idle() and controller.results == Results()
    model.set_loaded(DIGITS)
    assert not controller.is_idle()
    assert controller.join(timeout=20)
    r = controller.results
    keras = Normalization(method="keras").apply(DIGITS.array, roles="NHW")
    np.testing.assert_array_equal(r.frame.normalized, keras[0])
    assert r.verdict.diagnosis == diagnose(DIGITS.array[0], keras[0], roles="HW")
    assert r.stats.diff == rank_compare(DIGITS.array[0], keras[0], scope="all", roles="HW")[0]
    assert r.hists.channel is None and r.batch.images == 64
    assert r.generation == controller.generation == 1
    assert view.events[0] == "cleared" and "images" in view.events
    assert view.drawn[-1].stats is r.stats and view.drawn[-1].hists is r.hists  # all drawn
    assert view.events.count("batch") == 2  # asked (computing…), then arrived


def test_the_record_is_replaced_never_changed(setup) -> None:
    model, controller, view = setup
    model.set_loaded(DIGITS)
    assert controller.join(timeout=20)
    first = controller.results
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.stats = None  # type: ignore[misc]
    model.set_scope("row")
    assert controller.results is not first and controller.results.stats is None
    assert first.stats.diff.scope == "all"  # the record a view holds never changes under it
    assert view.events[-1] == "results"  # the old counts are taken down at once
    assert controller.join(timeout=20)
    assert controller.results.stats.diff.scope == "row"
    assert controller.results.frame is first.frame  # a scope changes the statistics only


def test_stale_responses_are_dropped(setup) -> None:
    model, controller, view = setup
    model.set_loaded(DIGITS)
    for index in range(1, 30):
        model.set_index(index)
    assert controller.join(timeout=20)
    r = controller.results
    assert r.generation == controller.generation == 30
    np.testing.assert_array_equal(r.frame.original, DIGITS.array[29])
    shown = [d.frame.source[2] for d in view.drawn if d.frame is not None]
    assert shown[-1] == 29 and len(shown) < 30  # at most the running and the newest
    assert all(d.stats is None or d.stats.maps.group_size.shape == (28, 28) for d in view.drawn)


def test_an_image_is_drawn_as_it_arrives_before_its_statistics_are_asked(
    setup, monkeypatch
) -> None:
    model, controller, view = setup
    for name in ("stats_job", "histogram_job"):  # on their queues' threads, once asked
        job = getattr(pipeline, name)
        monkeypatch.setattr(
            "normscope.gui.controller." + name,
            lambda *args, job=job, name=name: (view.events.append(name), (yield from job(*args))),
        )
    model.set_loaded(BIG)  # too big to be counted with its normalization
    assert controller.join(timeout=20)
    asked = [e for e in view.events if e in ("images", "stats_job", "histogram_job")]
    assert asked[0] == "images" and view.drawn[0].frame is not None  # no wait, no other result
    assert view.drawn[0].verdict is None and view.drawn[0].hists is None


def test_a_small_image_comes_with_its_histograms_and_counts_drawn_in_one_go(setup) -> None:
    model, controller, view = setup
    model.set_loaded(DIGITS)  # 28x28 images: their other jobs would cost more than they take
    assert controller.join(timeout=20)
    first = view.drawn[0]
    assert first.verdict is not None and first.stats is not None and first.hists is not None
    assert "results" not in view.events  # nothing else to draw: one paint per image
    r = controller.results
    keras = Normalization(method="keras").apply(DIGITS.array, roles="NHW")
    assert r.stats.diff == rank_compare(DIGITS.array[0], keras[0], scope="all", roles="HW")[0]
    model.set_scope("row")  # what depends on the scope is counted again, by its own job
    assert controller.join(timeout=20) and controller.results.stats.diff.scope == "row"
    since = len(view.events)
    model.set_index(1)  # the next image comes with its counts for the scope of now
    assert controller.join(timeout=20)
    assert controller.results.stats.diff.scope == "row"
    assert view.events[since:] == ["images"]


def test_a_failed_job_travels_as_its_exception_and_is_logged(setup, monkeypatch, caplog) -> None:
    model, controller, view = setup

    def broken(*_args, **_kwargs):
        raise MemoryError("no room for the pair counts")

    monkeypatch.setattr(pipeline, "rank_compare", broken)
    with caplog.at_level(logging.ERROR, logger="normscope"):
        model.set_loaded(DIGITS)
        assert controller.join(timeout=20)
    r = controller.results
    assert isinstance(r.stats_error, MemoryError) and r.stats is None and r.frame is not None
    assert one_line(r.stats_error) == "MemoryError: no room for the pair counts"
    (record,) = [rec for rec in caplog.records if rec.exc_info]
    assert (
        record.name == "normscope"
        and record.getMessage() == "digits, image 0: comparing ranks failed"
    )
    story = "".join(traceback.format_exception(*record.exc_info))
    assert "in broken" in story and "stats_job" in story  # where it happened, not just what
    assert view.drawn[-1].stats_error is r.stats_error


def test_an_image_that_cannot_be_made_says_why(setup, caplog) -> None:
    model, controller, view = setup
    model.set_loaded(DIGITS)
    assert controller.join(timeout=20)
    with caplog.at_level(logging.ERROR, logger="normscope"):
        model.set_options(axis=None)  # keras with axis=None: Keras 2 raises, on the worker
        assert controller.join(timeout=20)
        assert isinstance(controller.results.batch_error, Exception)  # the batch's failed too
        model.set_options(choice="nonsense")  # refused before any job starts
    job, asked = view.failures
    assert isinstance(asked, ValueError) and "nonsense" in str(asked)
    assert isinstance(job, Exception) and job.__traceback__ is not None
    assert controller.results.frame is None and controller.results.stats is None
    logged = [rec.getMessage() for rec in caplog.records if rec.exc_info]
    assert len([m for m in logged if "normalizing failed" in m]) == 2


def test_join_gives_up_and_shutdown_waits_for_the_running_job(setup, monkeypatch) -> None:
    model, controller, view = setup
    gate, finished = threading.Event(), threading.Event()

    def held_at_gate(*args, **kwargs):
        gate.wait(10)
        finished.set()
        return rank_compare(*args, **kwargs)

    monkeypatch.setattr(pipeline, "rank_compare", held_at_gate)
    model.set_loaded(BIG)  # counted by a job of its own
    assert not controller.join(timeout=2)  # the counts are held
    assert controller.results.frame is not None and controller.results.stats is None
    threading.Timer(0.3, gate.set).start()
    controller.shutdown()
    assert finished.is_set()  # waited for: no thread outlives the controller's queues
    assert controller.overdue  # the timers are stopped
    drawn = len(view.drawn)
    assert controller.join(timeout=5)  # only the queues' bookkeeping was left to arrive
    assert len(view.drawn) == drawn and controller.results.stats is None  # no result did


def test_slow_results_are_announced(setup, monkeypatch) -> None:
    model, controller, view = setup
    gate = threading.Event()

    def held_at_gate(*args, real=pipeline.joint_histogram):
        gate.wait(10)
        return real(*args)

    monkeypatch.setattr(pipeline, "joint_histogram", held_at_gate)
    model.set_loaded(BIG)  # its histograms made by a job of their own
    assert not controller.join(timeout=1)
    assert "slow" in view.events and controller.overdue
    gate.set()
    assert controller.join(timeout=20) and controller.results.hists is not None


def test_a_small_image_is_computed_on_one_thread(monkeypatch) -> None:
    """On a busy machine each parallel kernel waits for its slowest thread: a 46x37 RGB
    image's frame job took 11.7 ms (slowest 242 ms) on two threads, 2.2 ms on one."""
    counted_on: list[int] = []

    def spy(*args, real=pipeline.rank_compare, **kwargs):
        counted_on.append(engine.threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "rank_compare", spy)
    before = engine.threads()
    keras = Normalization(method="keras")
    job = pipeline.frame_job(DIGITS.array, "NHW", keras, 0, pipeline.FullResultCache(), Look())
    assert next(job).stats is None and counted_on == []  # no scope: nothing counted
    job = pipeline.frame_job(
        DIGITS.array, "NHW", keras, 0, pipeline.FullResultCache(), Look(), None, "image"
    )
    frame = next(job)
    assert frame.stats is not None and counted_on == [1]
    assert engine.threads() == before  # this thread's own limit is back
