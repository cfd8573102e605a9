"""The comparison view (View > Compare, Ctrl+K): one tile per normalization, side by side.

"Every axis" fills the grid with each axis choice of the window's method; "Methods" with the
normalizations a spec names (the syntax of ``normscope export --compare``, see
:mod:`normscope.core.compare`). Each tile shows its normalized image at stated levels (its own
data range, as the main window's Normalized panel), a one-line verdict and its line of code.
Pan and zoom are linked across tiles; hovering a pixel shows its value in every tile; clicking
a tile makes it the window's normalization.

Tiles compute on a pool of two threads, the one under the cursor first; results asked for an
earlier grid are dropped. Each tile is computed by the main window's own pipeline
(:func:`compute_tile`), so it shows exactly what the single view shows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QEnterEvent, QMouseEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QRadioButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from normscope.core.compare import every_axis, parse_spec
from normscope.core.engine import limit_threads
from normscope.core.normalize import METHODS, PRESETS, Normalization
from normscope.core.ranks import Diagnosis, RankDiff, diagnose, rank_diff
from normscope.core.wording import VerdictWords, verdict_words
from normscope.gui.controller import one_line
from normscope.gui.layout import ElidedLabel, grid_columns
from normscope.gui.model import PRESET_PREFIX, InspectorModel, Options
from normscope.gui.panels import PictureItem, format_level
from normscope.gui.pipeline import Frame, FullResultCache, Look, frame_job

DEFAULT_SPEC = "keras:1,dtype,minmax:1,2,zscore"
THREADS = 2
SELECTED_STYLE = "Tile { border: 2px solid #1e64c8; }"
PLAIN_STYLE = "Tile { border: 2px solid transparent; }"


@dataclass(frozen=True)
class TileSpec:
    """One tile: its label and the window options that select its normalization."""

    label: str
    options: Options


@dataclass(frozen=True, eq=False)
class TileResult:
    """What a tile shows: the image normalized as the window does it, and its verdict."""

    frame: Frame
    diagnosis: Diagnosis
    diff: RankDiff
    words: VerdictWords


def compute_tile(
    array: np.ndarray, roles: str, normalization: Normalization, index: int, scope: str, look: Look
) -> TileResult:
    """A tile for image `index`, made by the steps of the window's own jobs (the frame job,
    then the diagnosis and the pair counts within `scope`), on one thread."""
    with limit_threads(1):
        frame = next(frame_job(array, roles, normalization, index, FullResultCache(), look))
        before, after = frame.original, frame.normalized
        diagnosis = diagnose(before, after, roles=frame.roles)
        within = "all" if scope == "image" else scope
        diff = rank_diff(before, after, scope=within, roles=frame.roles)
    return TileResult(frame, diagnosis, diff, verdict_words(diff, diagnosis.summary()))


def options_for(normalization: Normalization, current: Options) -> Options:
    """The window options that select `normalization`, the current ones' other settings kept
    (the axis buttons give tuples, so a single axis is written as one)."""
    if normalization.preset is not None:
        return replace(current, choice=PRESET_PREFIX + normalization.preset, axis="default")
    axis = normalization.axis
    if isinstance(axis, int):
        axis = (axis,)
    return replace(current, choice=normalization.method, axis=axis)


def tile_specs(model: InspectorModel, mode: str, spec: str) -> list[TileSpec]:
    """The tiles of `mode` (``"axes"`` or ``"methods"`` with `spec`) for what `model` has open.

    Raises
    ------
    ValueError
        When the spec names something unknown or an axis the array does not have.
    """
    if model.loaded is None:
        return []
    roles, base = model.roles, model.normalization
    entries = every_axis(base, len(roles)) if mode == "axes" else parse_spec(spec, roles, base)
    return [TileSpec(e.label, options_for(e.normalization, model.options)) for e in entries]


class _Relay(QObject):
    done = Signal(int, int, object)  # generation, tile, TileResult or exception


class _NextTile(QRunnable):
    """Runs whichever tile the pool hands out next when a thread is free (so a tile preferred
    after it was queued still runs first)."""

    def __init__(self, pool: TilePool) -> None:
        super().__init__()
        self.pool = pool

    def run(self) -> None:
        taken = self.pool._take()
        if taken is None:  # cancelled before a thread was free
            return
        generation, slot, job = taken
        try:
            result = job()
        except Exception as exc:  # shown in its tile
            result = exc
        try:
            self.pool._relay.done.emit(generation, slot, result)
        except RuntimeError:  # the view is gone
            pass


class TilePool(QObject):
    """Runs a grid's tile jobs on two threads, in the order given, a preferred one first.

    Signals
    -------
    done(slot, result)
        Tile `slot` of the newest grid is ready: a :class:`TileResult` or the exception.
    """

    done = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.generation = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(THREADS)
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)
        self._lock = threading.Lock()
        # in the order they will run: (generation, slot, job), not yet started
        self._queue: list[tuple[int, int, Callable[[], object]]] = []
        self._unfinished: set[tuple[int, int]] = set()

    def submit(self, jobs: list[Callable[[], object]], first: int | None = None) -> None:
        """Drop what is pending and run `jobs` (tile `first` before the others)."""
        self.cancel()
        order = sorted(range(len(jobs)), key=lambda slot: slot != first)
        with self._lock:
            self._queue = [(self.generation, slot, jobs[slot]) for slot in order]
            self._unfinished |= {(self.generation, slot) for slot in order}
        for _ in jobs:
            self._pool.start(_NextTile(self))

    def prefer(self, slot: int) -> None:
        """Run tile `slot` next, if it has not started."""
        with self._lock:
            for i, (generation, queued, _job) in enumerate(self._queue):
                if (generation, queued) == (self.generation, slot):
                    self._queue.insert(0, self._queue.pop(i))
                    break

    def cancel(self) -> None:
        """Make every tile asked so far stale; those not started never run."""
        with self._lock:
            for generation, slot, _job in self._queue:
                self._unfinished.discard((generation, slot))
            self._queue.clear()
            self.generation += 1

    @property
    def busy(self) -> bool:
        """Whether a tile asked for has not finished yet."""
        with self._lock:
            return bool(self._unfinished)

    def wait(self, msecs: int = -1) -> bool:
        """Block until every started tile is done (or `msecs` pass); whether they are."""
        return self._pool.waitForDone(msecs)

    def _take(self) -> tuple[int, int, Callable[[], object]] | None:
        with self._lock:
            return self._queue.pop(0) if self._queue else None

    def _on_done(self, generation: int, slot: int, result: object) -> None:
        with self._lock:
            self._unfinished.discard((generation, slot))
        if generation == self.generation:
            self.done.emit(slot, result)


class Tile(QFrame):
    """One normalization: label, image, verdict, code line and the hovered pixel's value."""

    clicked = Signal()
    entered = Signal()
    hovered = Signal(int, int)  # row, column

    def __init__(self, spec: TileSpec) -> None:
        super().__init__()
        self.spec = spec
        self.result: TileResult | Exception | None = None
        self.title = ElidedLabel(spec.label, Qt.TextElideMode.ElideRight)
        self.title.setStyleSheet("font-weight: bold")
        self.view = pg.GraphicsView(background="w")
        self.box = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setCentralItem(self.box)
        self.item = PictureItem()
        self.box.addItem(self.item)
        self.verdict = QLabel("computing…")  # wraps: up to four lines, none cut
        self.verdict.setWordWrap(True)
        self.verdict.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.verdict.setFixedHeight(4 * self.verdict.fontMetrics().lineSpacing() + 4)
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.code = ElidedLabel("")
        self.code.setStyleSheet("font-family: monospace")
        self.value = ElidedLabel("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        for label in (self.verdict, self.code, self.value):
            layout.addWidget(label)
        self.setStyleSheet(PLAIN_STYLE)
        self.setToolTip("click to make this the window's normalization")
        scene = self.view.scene()
        scene.sigMouseMoved.connect(self._moved)
        scene.sigMouseClicked.connect(self._scene_clicked)

    def show_result(self, result: TileResult | Exception) -> None:
        self.result = result
        if isinstance(result, Exception):
            self.item.clear()
            self.verdict.setText(f"cannot: {result}")
            return
        picture = result.frame.pictures[1]
        self.item.show_picture(picture)
        lo, hi = (format_level(v) for v in picture.levels)
        self.verdict.setText(f"levels {lo} … {hi} · {result.words.short_line()}")

    def set_code(self, code: str) -> None:
        self.code.set_full_text(code)

    def show_value(self, row: int, col: int) -> None:
        r = self.result
        if not isinstance(r, TileResult):
            self.value.set_full_text("")
            return
        image = r.frame.normalized
        if not (0 <= row < image.shape[0] and 0 <= col < image.shape[1]):
            self.value.set_full_text("")
            return
        value = ", ".join(format_level(float(v)) for v in np.ravel(image[row, col]))
        self.value.set_full_text(f"(row {row}, col {col}) = {value}")

    def _moved(self, pos: QPointF) -> None:
        p = self.box.mapSceneToView(pos)
        self.hovered.emit(int(np.floor(p.y())), int(np.floor(p.x())))

    def _scene_clicked(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()

    def enterEvent(self, event: QEnterEvent) -> None:
        self.entered.emit()
        super().enterEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # on its labels
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class CompareWindow(QWidget):
    """The grid of tiles for what `model` has open; it follows the model as it changes."""

    def __init__(self, model: InspectorModel, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("NormScope — Compare")
        self.model = model
        self.mode = "axes"
        self.tiles: list[Tile] = []
        self._key: tuple | None = None
        self._hovered_tile: int | None = None
        self.pool = TilePool(self)
        self.pool.done.connect(self._on_done)

        self.axes_button = QRadioButton("Every axis")
        self.methods_button = QRadioButton("Methods:")
        self.axes_button.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.axes_button)
        group.addButton(self.methods_button)
        self.spec = QLineEdit(DEFAULT_SPEC)
        self.spec.setToolTip(
            "methods and presets, separated by commas: METHOD, METHOD:AXES (1, 1,2, none), "
            "preset:NAME — e.g. keras:1,dtype,minmax:1,2,preset:torchvision.Normalize"
        )
        add = QToolButton()
        add.setText("Add")
        add.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(add)
        for name in (*METHODS, *(PRESET_PREFIX + p for p in PRESETS)):
            action = QAction(name, menu)
            action.triggered.connect(lambda _=False, n=name: self.add_entry(n))
            menu.addAction(action)
        add.setMenu(menu)
        self.message = ElidedLabel("")
        self.message.setStyleSheet("color: #b00020")
        bar = QHBoxLayout()
        for widget in (self.axes_button, self.methods_button):
            bar.addWidget(widget)
        bar.addWidget(self.spec, 1)
        bar.addWidget(add)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setSpacing(4)
        self.grid.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.message)
        layout.addWidget(self.grid_host, 1)

        self.axes_button.toggled.connect(self._on_mode)
        self.spec.editingFinished.connect(self.refresh)
        for signal in (
            model.loadedChanged,
            model.optionsChanged,
            model.indexChanged,
            model.channelChanged,
            model.scopeChanged,
            model.displayChanged,
        ):
            signal.connect(self.refresh)
        screen = self.screen().availableGeometry()
        self.resize(min(1280, int(screen.width() * 0.9)), min(860, int(screen.height() * 0.9)))

    # --- what to show ------------------------------------------------------------------------
    def set_mode(self, mode: str, spec: str | None = None) -> None:
        """``"axes"`` (every axis) or ``"methods"`` (with `spec`, if given)."""
        if spec is not None:
            self.spec.setText(spec)
        (self.axes_button if mode == "axes" else self.methods_button).setChecked(True)
        self.refresh()

    def add_entry(self, name: str) -> None:
        text = self.spec.text().strip().rstrip(",")
        self.spec.setText(f"{text},{name}" if text else name)
        self.set_mode("methods")

    def _on_mode(self) -> None:
        self.mode = "axes" if self.axes_button.isChecked() else "methods"
        self.refresh()

    def look(self) -> Look:
        d = self.model.display
        return Look(self.model.channel, d.colormap, d.original_levels, d.rank_view)

    def refresh(self) -> None:
        """Ask for the tiles of what is open now; nothing is asked again if nothing changed."""
        if not self.isVisible():
            self._key = None  # asked when shown
            return
        m = self.model
        try:
            specs = tile_specs(m, self.mode, self.spec.text())
        except ValueError as exc:
            self.message.set_full_text(str(exc))
            return
        self.message.set_full_text("")
        look = self.look()
        array = m.loaded.array if m.loaded is not None else None
        key = (tuple(specs), id(array), m.roles, m.index, m.scope, look)
        if key != self._key:
            self._key = key
            self._build(specs)
            roles, index, scope = m.roles, m.index, m.scope
            jobs = [
                lambda o=s.options: compute_tile(
                    array, roles, o.normalization(roles), index, scope, look
                )
                for s in specs
            ]
            self.pool.submit(jobs, first=self._hovered_tile)
        self._mark_selected()

    def _build(self, specs: list[TileSpec]) -> None:
        for tile in self.tiles:
            self.grid.removeWidget(tile)
            tile.deleteLater()
        self.tiles = []
        for k, spec in enumerate(specs):
            tile = Tile(spec)
            try:
                tile.set_code(spec.options.normalization(self.model.roles).code(self.model.roles))
            except ValueError as exc:
                tile.set_code(one_line(exc))
            if self.tiles:
                tile.box.setXLink(self.tiles[0].box)
                tile.box.setYLink(self.tiles[0].box)
            tile.clicked.connect(lambda k=k: self.choose(k))
            tile.entered.connect(lambda k=k: self._on_enter(k))
            tile.hovered.connect(self.show_pixel)
            self.tiles.append(tile)
        self._place()

    def _place(self) -> None:
        if not self.tiles:
            return
        shape = self._image_shape()
        text_h = 7 * self.fontMetrics().lineSpacing() + 20
        host = self.grid_host.size()
        cols = grid_columns(len(self.tiles), host.width(), host.height(), shape, text_h)
        for k, tile in enumerate(self.tiles):
            self.grid.removeWidget(tile)
            self.grid.addWidget(tile, k // cols, k % cols)

    def _image_shape(self) -> tuple[int, ...]:
        m = self.model
        if m.loaded is None:
            return (1, 1)
        shape = [s for s, r in zip(m.loaded.array.shape, m.roles, strict=True) if r in "HW"]
        return tuple(shape) if len(shape) == 2 else (1, 1)

    def _mark_selected(self) -> None:
        for tile in self.tiles:
            selected = tile.spec.options == self.model.options
            tile.setStyleSheet(SELECTED_STYLE if selected else PLAIN_STYLE)

    # --- results and the mouse -----------------------------------------------------------------
    def _on_done(self, slot: int, result: object) -> None:
        if slot >= len(self.tiles):
            return
        tile = self.tiles[slot]
        first = all(t.result is None for t in self.tiles)
        tile.show_result(result)  # type: ignore[arg-type]
        if first and isinstance(result, TileResult):
            tile.box.autoRange(padding=0.02)

    @property
    def complete(self) -> bool:
        """Whether every tile of the grid on show has its result."""
        return bool(self.tiles) and all(t.result is not None for t in self.tiles)

    def _on_enter(self, slot: int) -> None:
        self._hovered_tile = slot
        self.pool.prefer(slot)

    def show_pixel(self, row: int, col: int) -> None:
        """Show pixel (row, col)'s normalized value in every tile."""
        for tile in self.tiles:
            tile.show_value(row, col)

    def choose(self, slot: int) -> None:
        """Make tile `slot`'s normalization the window's."""
        options = self.tiles[slot].spec.options
        self.model.set_options(choice=options.choice, axis=options.axis)

    # --- window events -------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place()

    def stop(self) -> None:
        """Close, drop what is pending and wait for the running tiles (the window closes)."""
        self.close()
        self.pool.cancel()
        self.pool.wait()
