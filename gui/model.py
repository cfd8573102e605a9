"""The window's state: what is open and how it is normalized and shown. No widgets here.

Widgets write fields through the setters; each setter emits a signal only when the value
really changes, and the window redraws from the signal. So a widget updated from the model
(with its own signals blocked) never echoes back into the model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, Signal

from normscope.core.dataset import Dataset
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
        return self.options.normalization(self.roles)

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
        self.datasetChanged.emit()

    def show_dataset_image(self, loaded: Loaded, index: int) -> None:
        """The dataset's image `index`, decoded, is the one on show."""
        self.shown = index
        self.set_loaded(loaded, index=index)

    def set_dataset_error(self, index: int) -> None:
        """The dataset's image `index` could not be read (the browser says why)."""
        self.shown = index
        self.datasetChanged.emit()
