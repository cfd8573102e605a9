"""The window's state: what is open and how it is normalized and shown. No widgets here.

Widgets write fields through the setters; each setter emits a signal only when the value
really changes, and the window redraws from the signal. So a widget updated from the model
(with its own signals blocked) never echoes back into the model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, Signal

from normscope.core.batchstats import BatchStats
from normscope.core.dataset import Dataset
from normscope.core.dataset_norm import supported, uses_dataset_stats
from normscope.core.loading import Loaded
from normscope.core.normalize import METHODS, Normalization, from_preset
from normscope.core.pairing import AfterArray
from normscope.core.report import After
from normscope.core.roles import check_roles

PRESET_PREFIX = "preset:"


@dataclass(frozen=True)
class Display:
    """How the panels are drawn; changing it recomputes nothing."""

    colormap: str = "gray"
    log_histogram: bool = True
    linked: bool = True
    rank_view: str = "displacement"  # or "partners": pixels that changed order with any other
    original_levels: str = "dtype"  # "dtype" range for integer data, or the "data" range


@dataclass(frozen=True)
class Options:
    """The normalization the user chose: a method or ``"preset:NAME"``, with its options."""

    choice: str = "keras"
    axis: Any = "default"
    order: float = 2
    percentiles: tuple[float, float] = (2.0, 98.0)
    feature_range: tuple[float, float] = (0.0, 1.0)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    over_n: bool = False  # a dataset's N axis too: its statistics come from the whole dataset

    @property
    def preset(self) -> str | None:
        return self.choice[len(PRESET_PREFIX) :] if self.choice.startswith(PRESET_PREFIX) else None

    def normalization(self, roles: str) -> Normalization:
        """The core :class:`Normalization` these options mean for an array with `roles`."""
        if self.preset is not None:
            return from_preset(self.preset, roles)
        if self.choice not in METHODS:
            raise ValueError(f"unknown method {self.choice!r}")
        kwargs: dict[str, Any] = {
            "method": self.choice,
            "axis": self.axis,
            "order": self.order,
            "percentiles": self.percentiles,
            "feature_range": self.feature_range,
        }
        if self.mean is not None:
            kwargs["mean"] = self.mean
        if self.std is not None:
            kwargs["std"] = self.std
        return Normalization(**kwargs)


class BatchPending(ValueError):
    """The dataset's statistics a normalization over N needs are not in yet (or cannot be had):
    the words say how far they got, or why not."""


#: The statistics a method over N takes from a dataset, in the words of "computing …".
STAT_WORDS = {"zscore": "mean and std", "minmax": "minimum and maximum"}


@dataclass(frozen=True)
class BatchRequest:
    """The dataset statistics a normalization over N needs: one pass serves every method
    with the same key (z-score and min-max over N,H,W share :func:`dataset_stats`)."""

    method: str
    over: str  # the reduced axes' roles: "NHW", "NHWC" (whole dataset), "N", "NC"…
    order: float

    @property
    def key(self) -> tuple[str, str]:
        if self.method in STAT_WORDS and uses_dataset_stats(self.over):
            return ("stats", self.over)
        return ("stream", self.over)

    @property
    def per_pixel(self) -> bool:
        """Whether a statistic is kept per row, column or pixel: images must have one size."""
        return not ("H" in self.over and "W" in self.over)

    def words(self) -> str:
        stat = STAT_WORDS.get(self.method, "norms")
        per = " per pixel position" if self.over in ("N", "NC") else ""
        return f"computing the dataset's {stat}{per} over {','.join(self.over)}…"


class InspectorModel(QObject):
    """Observable state of one inspector window."""

    loadedChanged = Signal()
    optionsChanged = Signal()
    indexChanged = Signal(int)
    channelChanged = Signal(object)  # int, or None for all channels
    scopeChanged = Signal(str)
    displayChanged = Signal()
    datasetChanged = Signal()  # a dataset is browsed lazily (gui.dataset_source), or no more

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loaded: Loaded | None = None
        self.options = Options()
        self.after: AfterArray | None = None  # an after array made elsewhere, or None
        self.index = 0
        self.channel: int | None = None  # None: all channels (the colour composite)
        self.scope = "image"
        self.display = Display()
        self.dataset: Dataset | None = None  # browsed lazily: `loaded` is its image `index`
        self.shown = -1  # the dataset's image in `loaded` (-1: none yet)
        self.batch: BatchStats | None = None  # the dataset statistics of batch_request, if in
        self.batch_wait = ""  # while they are not: how far their pass got, or why not
        self.mixed_sizes: str | None = None  # why a statistic per pixel cannot be had
        self._batch_key: tuple[str, str] | None = None

    # --- derived ---------------------------------------------------------------------------
    @property
    def roles(self) -> str:
        return self.loaded.roles if self.loaded is not None else ""

    @property
    def is_batch(self) -> bool:
        return "N" in self.roles

    @property
    def batch_size(self) -> int:
        if self.dataset is not None:
            return len(self.dataset)
        return self.loaded.array.shape[self.roles.index("N")] if self.is_batch else 1

    @property
    def normalization(self) -> After:
        """The after array paired with the image (File > Open Normalized), or the
        normalization the options ask for."""
        if self.after is not None:
            return self.after
        norm = self.options.normalization(self.roles)
        if self.batch_request is None:
            return norm
        wait = self.batch_pending()
        if wait is not None:
            raise BatchPending(wait)
        axes = norm.resolved_axis(len(self.roles))
        n_axes = None if axes is None else (0, *(a + 1 for a in axes))
        return norm.with_(axis=n_axes, batch=self.batch)

    def batch_pending(self) -> str | None:
        """Why the normalization over N cannot be applied yet, or at all (how far its
        statistics' pass got, or why they cannot be had); None when it can."""
        try:
            request = self.batch_request
        except BatchPending as exc:
            return str(exc)
        except ValueError:
            return None  # not about the dataset: the normalization itself says it
        if request is None or (self.batch is not None and self._batch_key == request.key):
            return None
        return self.batch_wait or request.words()

    @property
    def batch_request(self) -> BatchRequest | None:
        """The dataset statistics the chosen normalization over N needs (None: not over N).

        Raises
        ------
        BatchPending
            When the method cannot go over N, with the reason.
        """
        o = self.options
        if self.dataset is None or not o.over_n or self.loaded is None or self.after is not None:
            return None
        roles = self.roles
        norm = o.normalization(roles)
        if o.preset is not None or not METHODS[norm.method].uses_axis:
            return None  # its own axes, or none: each image alone (the N button is off)
        axes = norm.resolved_axis(len(roles))
        # a grey image's H and W ask what a colour image's do (its dataset's statistics per
        # channel if it has colour images: core refuses them for this image, not the others)
        over = "NHWC" if axes is None else "N" + "".join(roles[a] for a in axes)
        over = "".join(r for r in "NHWC" if r in over)
        reason = supported(norm.method, over, norm.order)
        if reason is not None:
            raise BatchPending(reason)
        request = BatchRequest(norm.method, over, norm.order)
        if request.per_pixel and self.mixed_sizes is not None:
            raise BatchPending(self.mixed_sizes)
        return request

    # --- setters ---------------------------------------------------------------------------
    def set_loaded(self, loaded: Loaded, *, index: int = 0) -> None:
        self.loaded = loaded
        self.after = None  # it was the after of the array before
        self.index = index
        self.channel = None
        axis = self.options.axis
        if isinstance(axis, tuple) and any(a >= loaded.array.ndim for a in axis):
            self.options = replace(self.options, axis="default")  # that axis is not in this array
        if self.scope == "channel" and "C" not in loaded.roles:
            self.scope = "image"
        self.loadedChanged.emit()

    def set_roles(self, roles: str) -> None:
        """Read the open array's axes differently, e.g. ``"CHW"`` for a channels-first image.

        Raises
        ------
        ValueError
            When the roles do not fit the array (the state is unchanged).
        """
        if self.loaded is None:
            return
        roles = check_roles(roles, self.loaded.array.ndim)
        if roles != self.loaded.roles:
            self.set_loaded(replace(self.loaded, roles=roles))

    def set_after(self, after: AfterArray) -> None:
        """Show `after` (paired with the open array) until a method is picked again."""
        self.after = after
        self.optionsChanged.emit()

    def set_options(self, **changes: Any) -> None:
        """Change the normalization's options; picking a method (`choice`, even the one
        chosen before) drops an after array made elsewhere."""
        new = replace(self.options, **changes)
        if new != self.options or ("choice" in changes and self.after is not None):
            self.options = new
            self.after = None
            self.optionsChanged.emit()

    def set_index(self, index: int) -> None:
        index = max(0, min(int(index), self.batch_size - 1))
        if index != self.index:
            self.index = index
            self.indexChanged.emit(index)

    def set_channel(self, channel: int | None) -> None:
        if channel != self.channel:
            self.channel = channel
            self.channelChanged.emit(channel)

    def set_scope(self, scope: str) -> None:
        if scope != self.scope:
            self.scope = scope
            self.scopeChanged.emit(scope)

    def set_display(self, **changes: Any) -> None:
        new = replace(self.display, **changes)
        if new != self.display:
            self.display = new
            self.displayChanged.emit()

    # --- a dataset browsed lazily (gui.dataset_source) -------------------------------------
    @property
    def browsable(self) -> bool:
        """Whether there are other images to step to (a batch, or a dataset)."""
        return self.is_batch or self.dataset is not None

    def set_dataset(self, dataset: Dataset | None, index: int = 0) -> None:
        """Browse `dataset` (None: no more) from image `index`, which is not decoded yet."""
        self.dataset, self.shown = dataset, -1
        self.index = index if dataset is not None else 0
        self.batch, self._batch_key, self.batch_wait, self.mixed_sizes = None, None, "", None
        if dataset is None and self.options.over_n:  # no N axis to reduce over
            axis = None if self.options.axis == () else self.options.axis
            self.options = replace(self.options, over_n=False, axis=axis)
        self.datasetChanged.emit()

    def set_batch(
        self, key: tuple[str, str] | None, batch: BatchStats | None, wait: str = ""
    ) -> None:
        """The dataset statistics for `key` are in (`batch`), or `wait` says how far or why not."""
        self.batch, self._batch_key, self.batch_wait = batch, key, wait
        self.optionsChanged.emit()

    def set_mixed_sizes(self, reason: str | None) -> None:
        """Why a statistic per pixel position cannot be had on this dataset (None: it can)."""
        if reason != self.mixed_sizes:
            self.mixed_sizes = reason
            self.optionsChanged.emit()

    def show_dataset_image(self, loaded: Loaded, index: int) -> None:
        """The dataset's image `index`, decoded, is the one on show."""
        self.shown = index
        self.set_loaded(loaded, index=index)

    def set_dataset_error(self, index: int) -> None:
        """The dataset's image `index` could not be read (the browser says why)."""
        self.shown = index
        self.datasetChanged.emit()
