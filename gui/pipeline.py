"""What the window computes for the image on show, as jobs for :class:`gui.worker.LatestOnly`.

The jobs call core and make the panels' pictures (QImages, no widget), so they are safe on a
pool thread. A frame job makes the normalized image (drawn at once); a stats job and a
histogram job, asked when that image arrives, its rank statistics and the histograms of what
its panels show. A small image (a dataset's, stepped through) comes with its histograms and
counts made in its frame job: they cost less than the paints they would take apart. Each
comes with its pictures ready for the :class:`Look` the window had when it asked; the window
makes them again itself only when the look has changed since.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from normscope.core.display import display_levels, symmetric_levels
from normscope.core.engine import limit_threads
from normscope.core.histogram import Histogram, JointHistogram, histogram, joint_histogram
from normscope.core.ranks import (
    Diagnosis,
    RankDiff,
    RankMaps,
    diagnose,
    image_scope,
    rank_compare,
    shift_over_channels,
)
from normscope.core.report import After, tally_ranks
from normscope.core.roles import as_displayed
from normscope.gui.panels import DIVERGING, PARTNERS, Picture, format_level, make_picture

RANK_BINS = 101  # bins of the rank panel's histogram
# values of an image whose histograms (a few ms) and rank counts are made in its frame job,
# so that it is drawn whole in one paint, not in two or three
HISTS_WITH_FRAME = 1 << 18
COUNTS_WITH_FRAME = 1 << 14
# values of an image computed on one thread: parallel kernels cost more than they save on a
# small image, and far more on a busy machine, where each waits for its slowest thread
# (a 46x37 RGB image's frame job: 2.2 ms on one thread, 11.7 ms (slowest 242) on two)
ONE_THREAD = 1 << 18
# bytes of a whole-array result up to which the one it replaced is kept, to be written over by
# the next (a 2048x2048 RGB float64 image's 100 MB: no new pages to fault in at each toggle)
SPARE_BYTES = 1 << 28


@dataclass(frozen=True)
class Look:
    """What decides how the image panels draw: the channel (None: all) and display options."""

    channel: int | None = None
    colormap: str = "gray"
    original_levels: str = "dtype"  # "dtype" or "data", see core.display.display_levels
    rank_view: str = "displacement"  # or "partners"

    def same_images(self, other: Look) -> bool:
        """Whether the original and normalized pictures made for this look serve `other`."""
        return replace(self, rank_view=other.rank_view) == other

    def same_rank(self, other: Look) -> bool:
        """Whether the rank panel's picture made for this look serves `other`."""
        return (self.channel, self.rank_view) == (other.channel, other.rank_view)


def channel_view(image: np.ndarray, roles: str, channel: int | None) -> np.ndarray:
    """What a panel draws of one image: a channel, the RGB composite, or the gray image."""
    if "C" not in roles:
        return image
    if channel is not None:
        return image[..., channel]
    if image.shape[-1] == 3:
        return image
    return image[..., :3] if image.shape[-1] > 3 else image[..., 0]


def original_picture(original: np.ndarray, roles: str, look: Look) -> Picture:
    """The original's picture for `look`: in its dtype or its data range."""
    before = channel_view(original, roles, look.channel)
    return make_picture(before, display_levels(before, mode=look.original_levels), look.colormap)


def frame_pictures(
    original: np.ndarray,
    normalized: np.ndarray,
    roles: str,
    look: Look,
    *,
    reuse: Picture | None = None,
) -> tuple[Picture, Picture]:
    """The original and normalized pictures: the original in its dtype or data range (or
    `reuse`, the picture already made of it), the normalized in its own data range."""
    if reuse is None:
        reuse = original_picture(original, roles, look)
    after = channel_view(normalized, roles, look.channel)
    return reuse, make_picture(after, display_levels(after, mode="data"), look.colormap)


@dataclass(frozen=True)
class RankView:
    """What the rank panel shows: its picture, caption, and the histogram of the same data."""

    picture: Picture
    caption: str
    histogram: Histogram


def rank_picture(
    maps: RankMaps, roles: str, shift_levels: tuple[float, float], look: Look
) -> RankView:
    """The rank panel for `look`: each pixel's signed rank shift (the mean over channels for
    colour) on a diverging map, or how many pixels it changed order with (the sum over
    channels, as float32: exact below 2**24, and pictured here, where pyqtgraph would render
    integers only on the GUI thread); with the histogram of what it shows."""
    every = "C" in roles and look.channel is None
    if look.rank_view == "partners":
        partners = maps.partners
        shown = partners.sum(axis=-1) if every else channel_view(partners, roles, look.channel)
        shown = shown.astype(np.float32)
        levels = (0.0, float(shown.max(initial=0)) or 1.0)
        caption = (
            f"levels 0 … {format_level(levels[1])} · "
            f"{np.count_nonzero(shown):,} pixels changed order"
        )
        picture = make_picture(shown, levels, PARTNERS)
    else:
        shown = (
            shift_over_channels(maps, roles)
            if every
            else channel_view(maps.displacement, roles, look.channel)
        )
        caption = f"levels ±{format_level(shift_levels[1])}"
        picture = make_picture(shown, shift_levels, DIVERGING)
    return RankView(picture, caption, histogram(shown, bins=RANK_BINS))


@dataclass(frozen=True)
class Frame:
    """The image on show, before and after, with their pictures for `look`."""

    original: np.ndarray
    normalized: np.ndarray
    roles: str  # the roles of one image: "HW" or "HWC"
    look: Look
    pictures: tuple[Picture, Picture]  # original, normalized
    source: tuple[np.ndarray, str, int]  # the array, its roles, the image index
    # what the other jobs bring, made with a small image (see frame_job), else None
    hists: FrameHistograms | None = None
    verdict: FrameVerdict | None = None
    stats: FrameStats | None = None

    def original_picture(self, source: tuple[np.ndarray, str, int], look: Look) -> Picture | None:
        """This frame's original picture if it shows image `source` as `look` would."""
        array, roles, index = self.source
        same = array is source[0] and (roles, index) == source[1:]
        return self.pictures[0] if same and self.look.same_images(look) else None


@dataclass(frozen=True)
class FrameVerdict:
    """Where ranks are kept in the image on show: quick, O(n)."""

    diagnosis: Diagnosis


@dataclass(frozen=True)
class FrameHistograms:
    """Exact histograms of what the image panels show of the image on show: `channel` (None:
    what the composite or gray panel shows), before, after, and after against before."""

    channel: int | None
    original: Histogram
    normalized: Histogram
    joint: JointHistogram


@dataclass(frozen=True)
class FrameStats:
    """Exact pair counts and the rank maps of the image on show: the slow part, with the
    rank panel's picture for `look`."""

    diff: RankDiff
    maps: RankMaps
    shift_levels: tuple[float, float]
    look: Look
    rank: RankView


@dataclass(frozen=True)
class BatchStats:
    """The whole batch: where ranks hold, how many images flip pairs, which is worst."""

    diagnosis: Diagnosis
    images: int


class FullResultCache:
    """The normalized whole array, kept for the one (array, normalization) last asked for.

    Methods whose statistics span the batch axis (or the whole array) need every image
    normalized together; stepping through the batch then reuses this one result. The result
    it replaces (of at most :data:`SPARE_BYTES`) is kept as a spare, and the next result is
    written into it if by then nothing else holds it or any view of it. When there is no
    spare yet, one is made and its pages touched on a thread of its own while the first result
    is on show: a process's first big allocation costs several times what reusing one does
    (a 2048x2048 RGB min-max here: 180-290 ms against 23 ms), and the first toggle would pay it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._array: np.ndarray | None = None
        self._key: tuple[str, After] | None = None
        self._value: np.ndarray | None = None
        self._spare: np.ndarray | None = None
        self._readied = threading.Event()
        self._readied.set()  # no spare being made

    @property
    def spare(self) -> np.ndarray | None:
        """The array the next result will be written into if nothing holds it by then."""
        return self._spare

    def wait_spare(self, timeout: float | None = None) -> bool:
        """Wait until the spare being made, if any, is ready (tests); True when it is."""
        return self._readied.wait(timeout)

    def get(self, array: np.ndarray, roles: str, normalization: After) -> np.ndarray:
        key = (roles, normalization)
        with self._lock:
            if array is not self._array or self._key != key or self._value is None:
                old, self._value = self._value, None
                spare, self._spare = self._spare, None
                if not _only_here(spare):
                    spare = None  # still read elsewhere: left to its holders
                self._value = normalization.apply(array, roles=roles, out=spare)
                del spare
                self._array, self._key = array, key
                if old is not None and old.nbytes <= SPARE_BYTES:
                    self._spare = old
                elif self._spare is None and self._value.nbytes <= SPARE_BYTES:
                    self._readied.clear()
                    shape, dtype = self._value.shape, self._value.dtype
                    threading.Thread(
                        target=self._ready_spare, args=(shape, dtype), daemon=True
                    ).start()
            return self._value

    def _ready_spare(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        try:
            spare = np.empty(shape, dtype)
            spare.fill(0)  # its pages touched here, not by the first toggle
            with self._lock:
                if self._spare is None:
                    self._spare = spare
        finally:
            self._readied.set()


def _only_here(spare: np.ndarray | None) -> bool:
    """Whether the caller's one name is all that holds `spare` and its memory: no other name,
    and no other view of the array owning that memory (numpy's views hold that owner itself,
    as their ``base``; a result is often a reshaped view of it)."""
    # each: the caller's name (`spare`'s base: `spare`), this call's name, getrefcount's own
    if spare is None or sys.getrefcount(spare) > 3:
        return False
    owner = spare.base
    if owner is None:
        return True
    return isinstance(owner, np.ndarray) and owner.base is None and sys.getrefcount(owner) <= 3


def image_of(array: np.ndarray, roles: str, index: int) -> np.ndarray:
    """Image `index` of a batch (the array itself when there is no batch axis)."""
    return np.take(array, index, axis=roles.index("N")) if "N" in roles else array


def frame_job(
    array: np.ndarray,
    roles: str,
    normalization: After,
    index: int,
    cache: FullResultCache,
    look: Look,
    previous: Frame | None = None,
    scope: str | None = None,
) -> Iterator[Frame]:
    """Normalize image `index` as the whole call would and make its pictures for `look`.

    Yields one :class:`Frame`. The original's picture is taken from the `previous` frame when
    it shows the same image. With a `scope`, an image of at most :data:`HISTS_WITH_FRAME`
    values comes with its histograms (of `look`'s channel), and one of at most
    :data:`COUNTS_WITH_FRAME` also with its verdict and rank statistics within `scope`.
    """
    images = array.shape[roles.index("N")] if "N" in roles else 1
    with _threads_for(array.size // max(images, 1)):
        if normalization.needs_whole_array(roles):
            after = image_of(cache.get(array, roles, normalization), roles, index)
        else:
            n = roles.index("N")
            one = np.take(array, [index], axis=n)
            after = np.take(normalization.apply(one, roles=roles), 0, axis=n)
        before, _ = as_displayed(image_of(array, roles, index), roles.replace("N", ""))
        after, image_roles = as_displayed(after, roles.replace("N", ""))
        source = (array, roles, index)
        reuse = previous.original_picture(source, look) if previous is not None else None
        pictures = frame_pictures(before, after, image_roles, look, reuse=reuse)
        frame = Frame(before, after, image_roles, look, pictures, source)
        if scope is not None and before.size <= HISTS_WITH_FRAME:
            try:
                *_, hists = histogram_job(frame, look.channel)
                frame = replace(frame, hists=hists)
                if before.size <= COUNTS_WITH_FRAME:
                    verdict, _, stats = stats_job(frame, scope, look)
                    frame = replace(frame, verdict=verdict, stats=stats)
            except Exception:  # the image is right: their own jobs, asked for what is missing
                pass  # when it arrives, fail again and say why (and log it)
    yield frame


def _threads_for(values: int) -> contextlib.AbstractContextManager[None]:
    """One thread for an image of at most :data:`ONE_THREAD` `values`, else core's choice."""
    return limit_threads(1) if values <= ONE_THREAD else contextlib.nullcontext()


def stats_job(
    frame: Frame, scope: str, look: Look, verdict: FrameVerdict | None = None
) -> Iterator[FrameVerdict | FrameStats | None]:
    """Diff the ranks of `frame` within `scope` ("image", "row", "column", "channel").

    Yields the :class:`FrameVerdict` (O(n) checks; not when the `verdict` of
    this frame is given, as it does not depend on the scope) first, then the
    :class:`FrameStats` (exact pair counts and maps, the slow part), so each can be drawn as
    it arrives; and None after the counts, where a superseded job stops. A job of its own, so
    that a new image never waits for the last one's counts.
    """
    before, after, roles = frame.original, frame.normalized, frame.roles
    if verdict is None:
        yield FrameVerdict(diagnose(before, after, roles=roles))
    diff, maps = rank_compare(before, after, scope=image_scope(scope), roles=roles)
    yield None
    shift_levels = symmetric_levels(maps.displacement)
    yield FrameStats(
        diff=diff,
        maps=maps,
        shift_levels=shift_levels,
        look=look,
        rank=rank_picture(maps, roles, shift_levels, look),
    )


def histogram_job(frame: Frame, channel: int | None) -> Iterator[FrameHistograms | None]:
    """The histograms of what the image panels show of `frame` for `channel`: a job of its
    own, asked with the image and again when the channel changes (on a 2048x2048 RGB image
    they take the GUI thread's budget for a whole toggle). Yields None between them, where a
    superseded job stops."""
    before = channel_view(frame.original, frame.roles, channel)
    after = channel_view(frame.normalized, frame.roles, channel)
    original = histogram(before)
    yield None
    normalized = histogram(after)
    yield None
    yield FrameHistograms(channel, original, normalized, joint_histogram(before, after))


def batch_job(
    array: np.ndarray, roles: str, normalization: After, cache: FullResultCache
) -> Iterator[BatchStats]:
    """Diagnose the whole batch (only meaningful when `roles` has an N axis), on one thread:
    the other core stays with the image on show. Images normalized on their own are
    normalized a chunk at a time, never the whole batch at once."""
    with limit_threads(1):
        whole = None
        if normalization.needs_whole_array(roles):
            whole = cache.get(array, roles, normalization)
        diagnosis = tally_ranks(array, roles, normalization, normalized=whole).diagnosis()
    yield BatchStats(diagnosis, array.shape[roles.index("N")])
