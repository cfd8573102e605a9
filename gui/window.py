"""NormScope's main window: original, normalized and rank change side by side."""

from __future__ import annotations

import gc
import html
import json
import os
import sys
from dataclasses import fields
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QIcon,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from normscope.core.loading import SAMPLES, Loaded, LoadError, load
from normscope.core.logs import log_path
from normscope.core.pairing import AfterArray, PairError, guess_after_roles
from normscope.core.report import (
    WriteError,
    build_comparison,
    build_report,
    default_export_name,
    write_atomically,
    write_normalized,
)
from normscope.core.roles import as_displayed, check_roles, infer_roles
from normscope.core.wording import format_axis, parse_axis, verdict_words
from normscope.gui.compare import CompareWindow
from normscope.gui.controller import InspectorController, Results, one_line
from normscope.gui.controls import ControlPanel
from normscope.gui.dataset_norm import DatasetNorm
from normscope.gui.dataset_source import DatasetBrowser, opens_lazily
from normscope.gui.dataset_verdict import DatasetVerdict, Tally
from normscope.gui.export import render_comparison, save_image
from normscope.gui.layout import PanelLayout
from normscope.gui.model import PRESET_PREFIX, BatchPending, InspectorModel, Options
from normscope.gui.panels import (
    HistogramPanel,
    ImagePanel,
    JointPanel,
    format_level,
    shared_drawings,
)
from normscope.gui.pipeline import Look, original_picture
from normscope.gui.settings import Settings
from normscope.gui.stats_dialog import StatsDialog

APP_NAME = "NormScope"
STALE_OPACITY = 0.35
#: How soon another thread hands the interpreter lock back to the window's (Python: 5 ms).
SWITCH_INTERVAL_S = 0.001
#: A browsed dataset's position is written to the settings once browsing pauses this long.
POSITION_SAVE_MS = 1000
FIRST_SIZE = 0.9  # of the screen's width and height, the first time the window opens
#: The Open dialog's file filter: every format :func:`core.loading.load` reads.
OPEN_FILTER = (
    "Images and arrays (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.gif *.webp *.npy *.npz "
    "*-ubyte *-ubyte.gz *.idx *.idx.gz);;"
    "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.gif *.webp);;"
    "NumPy arrays (*.npy *.npz);;MNIST IDX (*-ubyte *-ubyte.gz *.idx *.idx.gz);;All files (*)"
)


def error_html(what: str, message: str) -> str:
    """An error line for the verdict or batch bar."""
    return f"<span style='color:#b00020'><b>{what}:</b> {html.escape(message)}</span>"


class MainWindow(QMainWindow):
    """The inspector. ``open_source`` opens anything :func:`core.loading.load` accepts."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        # a paint calls into Python dozens of times, each waiting up to the switch interval
        # (5 ms) while a reader, prefetch or statistics thread holds the interpreter lock
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self.settings = settings or Settings()
        self.model = InspectorModel(self)
        self.controller = InspectorController(self.model, self)  # computes; the window draws
        self.browser = DatasetBrowser(self.model, self)  # a dataset's images, read on demand
        self.dataset_norm = DatasetNorm(self.model, self)  # its statistics over N, when asked
        self._wait_drawn: Loaded | None = None  # the original drawn without its normalization
        self._hovered: tuple[int, int] | None = None  # (row, col) last under the cursor
        self.error_box: QMessageBox | None = None
        self.compare: CompareWindow | None = None  # View > Compare, made when first asked
        self.controls = ControlPanel(self.model)
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(360)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        alike = shared_drawings()  # the three show one range over one size
        self.original = ImagePanel(self.graphics, "Original", 0, 0, alike)
        self.normalized = ImagePanel(self.graphics, "Normalized", 0, 1, alike)
        self.rank = ImagePanel(self.graphics, "Rank change", 0, 2, alike)
        self.panels = (self.original, self.normalized, self.rank)
        self.histograms = tuple(HistogramPanel(self.graphics, 1, col) for col in range(3))
        self.joint = JointPanel(self.graphics, 0, 3)
        self.panel_layout = PanelLayout(  # placed by the image's shape and the space there is
            self.graphics,
            [p.plot for p in self.panels],
            [h.plot for h in self.histograms],
            self.joint.plot,
        )

        self.verdict = QLabel("Open an image, a batch or a sample to begin.")
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        # texts change on every toggle; sizes that do not change keep the plots from being
        # laid out (and their axes redrawn) again each time
        self.verdict.setFixedHeight(4 * self.verdict.fontMetrics().lineSpacing() + 4)
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.batch_label = QLabel()
        self.batch_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.batch_label.setWordWrap(True)  # in two lines of their own, so nothing moves
        self._batch_label_lines(2)
        self.jump = QPushButton("Jump to worst image")
        keep = self.jump.sizePolicy()
        keep.setRetainSizeWhenHidden(True)
        self.jump.setSizePolicy(keep)
        self.jump.setVisible(False)
        top = QHBoxLayout()
        top.addWidget(self.batch_label, 1)
        top.addWidget(self.jump)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.verdict)
        right_layout.addLayout(top)
        right_layout.addWidget(self.graphics, 1)

        self.splitter = QSplitter()
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.setCentralWidget(self.splitter)

        self.hover = QLabel()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(90)
        self.busy.setVisible(False)
        self.busy.setToolTip("computing: the normalized image, its rank statistics or the batch's")
        self.statusBar().addWidget(self.hover, 1)
        self.statusBar().addPermanentWidget(self.busy)
        self.where = QLabel()  # which image of a dataset is on show
        self.statusBar().addPermanentWidget(self.where)
        self._make_dataset_verdict()

        self._make_menus()
        self.setAcceptDrops(True)
        with as_file(files("normscope.resources") / "normscope.svg") as icon:
            self.setWindowIcon(QIcon(str(icon)))
        self._wire()
        self._restore_settings()
        self._update_title()

    # --- construction ------------------------------------------------------------------------
    def _make_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.open_action = self._action(
            file, "&Open…", QKeySequence.StandardKey.Open, self.open_dialog
        )
        self._action(file, "Open &Folder…", None, self.open_folder_dialog)
        self.open_after_action = self._action(
            file, "Open &Normalized…", "Ctrl+Shift+O", self.open_after_dialog
        )
        self.stats_action = self._action(
            file, "Dataset S&tatistics…", None, lambda: self.dataset_statistics_dialog(False)
        )
        self._action(
            file, "Dataset Statistics of a F&older…", None, lambda: self.dataset_statistics_dialog()
        )
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        samples = file.addMenu("Open &Sample")
        for name in SAMPLES:
            self._action(
                samples, name, None, lambda _=False, n=name: self.open_source(f"sample:{n}")
            )
        file.addSeparator()
        self.export_action = self._action(
            file, "&Export Comparison…", "Ctrl+E", lambda: self.export_comparison(on_screen=False)
        )
        self.export_screen_action = self._action(
            file,
            "Export Comparison &As on Screen…",
            "Ctrl+Shift+E",
            lambda: self.export_comparison(on_screen=True),
        )
        self.export_array_action = self._action(
            file, "Export Normalized &Array…", None, self.export_array
        )
        self.export_report_action = self._action(file, "Export &Report…", None, self.export_report)
        file.addSeparator()
        self.quit_action = self._action(file, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        edit = bar.addMenu("&Edit")
        self.copy_action = self._action(
            edit, "&Copy Comparison", "Ctrl+Shift+C", self.copy_comparison
        )
        self._action(edit, "Copy Code Line", None, self.controls.copy_code.click)
        view = bar.addMenu("&View")
        self._action(view, "Zoom to &Fit", "Ctrl+0", self.zoom_to_fit)
        self.compare_action = self._action(view, "&Compare…", "Ctrl+K", self.show_compare)
        self._action(view, "&Next Image", Qt.Key.Key_Right, lambda: self._step(1))
        self._action(view, "&Previous Image", Qt.Key.Key_Left, lambda: self._step(-1))
        help_menu = bar.addMenu("&Help")
        self.show_log_action = self._action(help_menu, "Show &Log", None, self.show_log)

    def _action(self, menu, text, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _wire(self) -> None:
        m, c = self.model, self.controller
        m.loadedChanged.connect(self._update_title)
        m.optionsChanged.connect(self._update_title)
        m.indexChanged.connect(self._update_title)
        m.displayChanged.connect(self._redraw)
        m.displayChanged.connect(self._link_views)
        c.cleared.connect(self._on_cleared)
        c.changed.connect(self._draw)
        c.slow.connect(self._fade_missing)
        c.frameFailed.connect(self._show_frame_error)
        c.batchChanged.connect(self._show_batch)
        c.busyChanged.connect(self.busy.setVisible)
        self.jump.clicked.connect(self.jump_to_worst)
        self.controls.rolesRejected.connect(self.show_error)
        self.browser.shownChanged.connect(self._on_dataset_shown)
        self.browser.opened.connect(self._on_dataset_opened)
        self.browser.failed.connect(self._on_dataset_failed)
        m.datasetChanged.connect(self._update_title)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._link_views()

    # --- opening -----------------------------------------------------------------------------
    def open_source(self, source: str | os.PathLike, *, key: str | None = None) -> bool:
        """Open a file, folder or ``sample:NAME``; on failure say why and keep the current image."""
        if opens_lazily(source):
            return self.open_dataset(source)
        try:
            loaded = load(source, key=key)
        except LoadError as exc:
            self.show_error(str(exc))
            return False
        self.browser.close()
        self.model.set_loaded(loaded)
        if not str(source).startswith("sample:"):
            path = Path(source).resolve()
            self.settings.last_folder = str(path if path.is_dir() else path.parent)
        self.settings.add_recent(loaded.source)
        return True

    def open_array(
        self, array: np.ndarray, *, roles: str | None = None, name: str = "array"
    ) -> None:
        """Show an array in memory (``normscope.view``); `roles` default to the inferred ones.

        Raises
        ------
        ValueError
            When `roles` do not fit the array, or it holds no real numbers.
        """
        x = np.asarray(array)
        if x.dtype.kind not in "uifb":
            raise ValueError(f"{name} holds {x.dtype} values: show an array of real numbers")
        roles = check_roles(roles, x.ndim) if roles is not None else infer_roles(x.shape)
        self.model.set_loaded(Loaded(array=x, roles=roles, source=f"<{name}>", name=name))

    def open_after(
        self, source: str | os.PathLike | np.ndarray, *, after_roles: str | None = None
    ) -> bool:
        """Pair a file (or an array) with the image on show, as its normalization made
        elsewhere (its axes in another order when only one order fits, or `after_roles`
        say so); on failure say why in one line and keep what is shown."""
        m = self.model
        if m.loaded is None:
            return False
        try:
            if isinstance(source, np.ndarray):
                path, array = None, source
            else:
                after = load(source)
                path, array = after.source, after.array
            if after_roles is None:  # CHW from ToTensor() of an HWC image, say
                after_roles = guess_after_roles(m.loaded.array.shape, m.roles, array.shape)
            paired = AfterArray.pair(
                m.loaded.array, array, m.roles, after_roles=after_roles, path=path
            )
        except (LoadError, PairError) as exc:
            self.show_error(str(exc))
            return False
        m.set_after(paired)
        return True

    def open_after_dialog(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self,
            "Open the normalized array of the image on show",
            self.settings.last_folder,
            OPEN_FILTER,
        )
        if path:
            self.open_after(path)

    def set_options(self, **options) -> None:
        """Drive the window from code: ``method``, ``preset``, ``axis``, ``order`` (and the
        other normalization options), ``index``, ``channel``, ``scope``, ``roles``.

        Raises
        ------
        TypeError
            For an option the window does not have.
        """
        m = self.model
        if "roles" in options:
            m.set_roles(options.pop("roles"))
        for name, setter in (("index", m.set_index), ("channel", m.set_channel)):
            if name in options:
                setter(options.pop(name))
        if "scope" in options:
            m.set_scope(options.pop("scope"))
        if "method" in options:
            options["choice"] = options.pop("method")
        if "preset" in options:
            options["choice"] = PRESET_PREFIX + options.pop("preset")
        unknown = set(options) - {f.name for f in fields(Options)}
        if unknown:
            raise TypeError(f"the window has no option {sorted(unknown)[0]!r}")
        if options:
            m.set_options(**options)

    def open_dialog(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Open image or array", self.settings.last_folder, OPEN_FILTER
        )
        if path:
            self.open_source(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open a folder of images (class subfolders too)", self.settings.last_folder
        )
        if path:
            self.open_source(path)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for source in self.settings.recent_files:
            self._action(
                self.recent_menu, source, None, lambda _=False, s=source: self.open_source(s)
            )
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    def show_error(self, message: str) -> None:
        """Say what went wrong in a window-modal box that does not block the event loop."""
        if self.error_box is not None:
            self.error_box.close()
        self.error_box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME, message, parent=self)
        self.error_box.open()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.open_after(paths[0])  # Shift: the normalized array of the image on show
            else:
                self.open_source(paths[0])

    def show_compare(self) -> CompareWindow:
        """View > Compare: the grid of normalizations side by side."""
        if self.compare is None:
            self.compare = CompareWindow(self.model, self)
        self.compare.show()
        self.compare.raise_()
        self.compare.activateWindow()
        return self.compare

    def show_log(self) -> None:
        """Help > Show Log: open the log file (failures with their tracebacks)."""
        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()  # an empty log opens too
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    # --- results -----------------------------------------------------------------------------
    @property
    def results(self) -> Results:
        """What the controller has computed for what is open (read only)."""
        return self.controller.results

    def _on_cleared(self) -> None:
        if self.model.dataset is not None and self.browser.error is None:
            return  # a step through a dataset: the next image replaces this one (and refits)
        for panel in self.panels:
            panel.clear()
        self._show_hovered()
        QTimer.singleShot(0, self.zoom_to_fit)

    def _show_frame_error(self, exc: Exception) -> None:
        self.normalized.clear()
        self.rank.clear()
        self.normalized.set_caption("")
        if isinstance(exc, BatchPending):  # nothing false meanwhile: what it waits for
            self._show_batch_wait()
        else:
            self._show_original_alone()
            self.verdict.setText(error_html("Cannot normalize", one_line(exc)))
        self._show_hovered()

    def _show_original_alone(self) -> None:
        """Draw the image on show (a dataset's, not a batch) in the original panel: it is
        true when its normalization is not (the last image's stays there otherwise)."""
        loaded = self.model.loaded
        if loaded is not None and "N" not in loaded.roles and self._wait_drawn is not loaded:
            self._wait_drawn = loaded
            image, roles = as_displayed(loaded.array, loaded.roles)
            self.panel_layout.set_shape(image.shape)
            self.original.show(original_picture(image, roles, self.look()))

    def _show_batch_wait(self) -> None:
        """While the dataset's statistics are computed (or were refused): say so in the
        normalized panel and the verdict bar."""
        words = self.model.batch_pending()
        if words is None:
            return  # they are in
        self._show_original_alone()
        self.normalized.set_caption(words)
        self.rank.set_caption("")
        self.verdict.setText(f"<b>Over the dataset's N axis</b>: {html.escape(words, quote=False)}")

    # --- drawing -----------------------------------------------------------------------------
    def _redraw(self) -> None:
        """Everything, after a display option changed."""
        self._draw(images=True)

    def look(self) -> Look:
        """How the image panels draw now: what the worker makes their pictures for."""
        return self.controller.look()

    def _draw(self, images: bool) -> None:
        """The results (`images`: and the image panels), with pictures for the look of now,
        on screen in one paint."""
        self._draw_results(images)
        # pyqtgraph settles the views' new ranges when a paint starts, which moves what it is
        # painting and asks for a second paint: settled now, the first paint draws it all
        self.graphics.scene().prepareForPaint()

    def _draw_results(self, images: bool) -> None:
        r = self.controller.restyle()
        if images and r.frame is not None:
            self.panel_layout.set_shape(r.frame.original.shape)
            self.original.show(r.frame.pictures[0])
            self.normalized.show(r.frame.pictures[1])
        self._show_hovered()
        if r.frame is None:
            return
        self._draw_rank(r)
        self.verdict.setText(self.verdict_text(r))
        h = r.hists
        if h is None or h.channel != self.model.channel:
            if self.controller.overdue:
                self._fade_missing()
            return  # on their way
        for plot in self._histogram_plots():
            plot.setOpacity(1.0)
        log = self.model.display.log_histogram
        self.histograms[0].show(h.original, self.original.levels, log)
        self.histograms[1].show(h.normalized, self.normalized.levels, log)
        self.joint.show(h.joint)

    def _histogram_plots(self) -> list[pg.PlotItem]:
        return [panel.plot for panel in (*self.histograms[:2], self.joint)]

    def _fade_missing(self) -> None:
        """Fade what still shows the last image's results once the new ones are slow to come:
        the rank map (and its caption says so) and the histograms."""
        r = self.controller.results
        if r.frame is None:
            return
        if r.stats is None and r.stats_error is None:
            self.rank.item.setOpacity(STALE_OPACITY)
            self.rank.set_caption("counting pixel pairs…")
        h = r.hists
        if h is None or h.channel != self.model.channel:
            for plot in self._histogram_plots():
                plot.setOpacity(STALE_OPACITY)

    def _draw_rank(self, r: Results) -> None:
        s = r.stats
        if s is None and r.stats_error is not None:
            self.rank.clear()
            self.rank.set_caption("")
            return
        if s is None:  # the last map stays in sight, faded if the new counts are slow
            if self.controller.overdue:
                self._fade_missing()
            return
        self.rank.item.setOpacity(1.0)
        self.rank.show(s.rank.picture)
        self.rank.set_caption(s.rank.caption)
        log = self.model.display.log_histogram
        self.histograms[2].show(s.rank.histogram, s.rank.picture.levels, log)

    def verdict_text(self, r: Results) -> str:
        """The verdict bar's words for the image on show."""
        v, s = r.verdict, r.stats
        head = f"<b>Ranks kept within:</b> {v.diagnosis.summary()}<br>" if v else ""
        if r.hists_error is not None:
            head += error_html("Cannot count the histograms", one_line(r.hists_error)) + "<br>"
        if s is None and r.stats_error is not None:
            return head + error_html("Cannot compare ranks", one_line(r.stats_error))
        if s is None:
            return head + ("Counting pixel pairs…" if v else "Checking where ranks are kept…")
        words = verdict_words(s.diff, v.diagnosis.summary() if v else "")
        return head + (
            f"{words.inverted_line(f'<b>{words.share}</b>')} · {words.coefficients_line(' · ')}"
        )

    def _show_batch(self) -> None:
        r = self.controller.results
        b = r.batch
        if self.model.dataset is not None:
            self._show_dataset_verdict()  # the dataset's line, not a batch's
            return
        self.jump.setVisible(b is not None and b.diagnosis.worst_image is not None)
        if not self.model.is_batch:
            self.batch_label.setText("")
        elif r.batch_error is not None:
            self.batch_label.setText(
                error_html("Cannot check the whole batch", one_line(r.batch_error))
            )
        elif b is None:
            self.batch_label.setText("Batch: computing…")
        else:
            dg = b.diagnosis
            self.batch_label.setText(
                f"<b>Whole batch</b> ({b.images:,} images): ranks kept within {dg.summary()} · "
                f"{dg.images_with_inversions:,} of {b.images:,} images have pairs flipped "
                "within the image"
                + (f" · the most: image {dg.worst_image}" if dg.worst_image is not None else "")
            )

    def jump_to_worst(self) -> None:
        tally = self.dataset_verdict.tally
        if self.model.dataset is not None and tally is not None and tally.worst is not None:
            self.model.set_index(tally.worst)
            return
        b = self.controller.results.batch
        if b is not None and b.diagnosis.worst_image is not None:
            self.model.set_index(b.diagnosis.worst_image)

    def _link_views(self) -> None:
        master = self.original.view if self.model.display.linked else None
        for panel in (self.normalized, self.rank):
            panel.view.setXLink(master)
            panel.view.setYLink(master)

    def zoom_to_fit(self) -> None:
        for panel in self.panels:
            panel.view.autoRange(padding=0.02)

    def _step(self, delta: int) -> None:
        self.model.set_index(self.model.index + delta)

    def _update_title(self) -> None:
        if self.browser.listing is not None:  # the window stays responsive and says why
            self.where.setText(f"listing {Path(self.browser.listing).name}…")
            return
        if self.model.dataset is not None:
            self._update_dataset_title()
            return
        self.where.setText("")
        loaded = self.model.loaded
        if loaded is None:
            self.setWindowTitle(APP_NAME)
            return
        title = f"{APP_NAME} — {loaded.name}"
        if self.model.is_batch:
            title += f" [image {self.model.index} of {self.model.batch_size:,}]"
        self.setWindowTitle(title)

    # --- hover -----------------------------------------------------------------------------
    def _on_mouse_moved(self, pos: QPointF) -> None:
        for panel in self.panels:
            if panel.plot.sceneBoundingRect().contains(pos):
                p = panel.view.mapSceneToView(pos)
                self._hovered = (int(np.floor(p.y())), int(np.floor(p.x())))
                self._show_hovered()
                return

    def _show_hovered(self) -> None:
        """The status line for the pixel last pointed at, as it is in the image on show now."""
        self.hover.setText(self.pixel_text(*self._hovered) if self._hovered else "")

    def pixel_text(self, row: int, col: int) -> str:
        """The status line for pixel (row, col) of the image on show, the same in every panel."""
        r = self.controller.results
        f = r.frame
        if f is None or not (0 <= row < f.original.shape[0] and 0 <= col < f.original.shape[1]):
            return ""

        def fmt(v: np.ndarray) -> str:
            return ", ".join(format_level(float(x)) for x in np.ravel(v))

        text = (
            f"(row {row}, col {col})  original {fmt(f.original[row, col])}"
            f"  →  normalized {fmt(f.normalized[row, col])}"
        )
        if r.stats is not None:
            m = r.stats.maps
            before, after = m.ranks_at((row, col))
            text += (
                f"   rank {fmt(before)} → {fmt(after)}"
                f" of {fmt(m.group_size[row, col])}"
                f"   order changed with {fmt(m.partners[row, col])} pixels"
            )
        return text

    # --- export ------------------------------------------------------------------------------
    def comparison_image(self, *, on_screen: bool = False) -> QImage:
        """The comparison picture: a grab of the panels, or composed at data resolution."""
        if on_screen:
            return self.splitter.widget(1).grab().toImage()
        m = self.model
        comp = build_comparison(  # as on show: its channel and the original's levels
            m.loaded,
            m.normalization,
            index=m.index,
            scope=m.scope,
            channel=m.channel,
            original_levels=m.display.original_levels,
        )
        return render_comparison(comp)

    def _save_path(self, title: str, suffix: str, name_filter: str) -> Path | None:
        """Ask where to save; never the input file; confirm before replacing a file."""
        m = self.model
        name = default_export_name(m.loaded.name, m.normalization, suffix)
        start = str(Path(self.settings.last_folder or ".") / name)
        path, _ = QFileDialog.getSaveFileName(
            self, title, start, name_filter, options=QFileDialog.Option.DontConfirmOverwrite
        )
        if not path:
            return None
        out = Path(path)
        if not out.suffix:
            out = out.with_suffix(suffix)
        source = m.loaded.source
        if not source.startswith("sample:") and out.resolve() == Path(source).resolve():
            self.show_error(f"{out.name}: that is the file you opened; choose another name")
            return None
        if out.exists():
            answer = QMessageBox.question(self, APP_NAME, f"{out.name} already exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return None
        return out

    def _export(self, title: str, suffix: str, name_filter: str, write) -> Path | None:
        if self.model.loaded is None:
            return None
        out = self._save_path(title, suffix, name_filter)
        if out is None:
            return None
        try:
            write(out)
        except WriteError as exc:  # it names the file
            self.show_error(str(exc))
            return None
        except (OSError, ValueError) as exc:
            self.show_error(f"{out.name}: {exc}")
            return None
        self.statusBar().showMessage(f"Saved {out}", 5000)
        return out

    def export_comparison(self, *, on_screen: bool = False) -> Path | None:
        """File > Export Comparison: PNG, JPEG or TIFF."""
        return self._export(
            "Export comparison",
            ".png",
            "PNG image (*.png);;JPEG image (*.jpg *.jpeg);;TIFF image (*.tif *.tiff)",
            lambda out: save_image(self.comparison_image(on_screen=on_screen), out),
        )

    def export_array(self) -> Path | None:
        """File > Export Normalized Array: .npy (exact) or a 16-bit PNG/TIFF view."""
        m = self.model

        def write(out: Path) -> None:
            write_normalized(m.normalization.apply(m.loaded.array, roles=m.roles), out)

        return self._export(
            "Export normalized array",
            ".npy",
            "NumPy array, exact (*.npy);;TIFF, exact (*.tif *.tiff);;16-bit PNG view (*.png)",
            write,
        )

    def export_report(self) -> Path | None:
        """File > Export Report: the JSON report of ``normscope report --json``."""
        m = self.model

        def write(out: Path) -> None:
            report = build_report(m.loaded, m.normalization, scope=m.scope if m.is_batch else None)
            text = json.dumps(report, ensure_ascii=False, indent=2)
            write_atomically(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

        return self._export("Export report", ".json", "JSON report (*.json)", write)

    def copy_comparison(self) -> None:
        """Edit > Copy Comparison: the data-resolution picture on the clipboard."""
        if self.model.loaded is not None:
            QGuiApplication.clipboard().setImage(self.comparison_image())

    # --- settings ----------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        if not s.geometry.isEmpty():
            self.restoreGeometry(s.geometry)
        else:
            screen = self.screen().availableGeometry()  # the first time: most of the screen
            self.resize(int(screen.width() * FIRST_SIZE), int(screen.height() * FIRST_SIZE))
        if not s.splitter_state.isEmpty():
            self.splitter.restoreState(s.splitter_state)
        else:
            self.splitter.setSizes([430, 1070])
        self.model.set_display(colormap=s.colormap, log_histogram=s.log_histogram)
        try:
            axis = parse_axis(s.axis)
        except ValueError:
            axis = "default"
        # the axis buttons give tuples: an int read back is the same choice as theirs
        self.model.set_options(choice=s.method, axis=(axis,) if isinstance(axis, int) else axis)

    def save_settings(self) -> None:
        s = self.settings
        s.geometry = self.saveGeometry()
        s.splitter_state = self.splitter.saveState()
        s.colormap = self.model.display.colormap
        s.log_histogram = self.model.display.log_histogram
        s.method = self.model.options.choice
        s.axis = format_axis(self.model.options.axis)
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.hide()  # at once: the jobs below may take a moment to stop
        self.stop_work()
        super().closeEvent(event)

    def stop_work(self) -> None:
        """Stop the timers and the jobs: pending ones never start, running ones stop at their
        next yield (at most the stage they are in), and are waited for."""
        self.controller.shutdown()
        if self.compare is not None:
            self.compare.stop()
        self.browser.shutdown()
        self.dataset_norm.shutdown()
        self._verdict_timer.stop()
        self.dataset_verdict.shutdown()
        for dialog in self.findChildren(StatsDialog):
            dialog.shutdown()
        gc.unfreeze()  # what a dataset's opening kept for good is the collector's again

    # --- datasets browsed lazily -------------------------------------------------------------
    def open_dataset(self, source: str | os.PathLike) -> bool:
        """Open a folder or ``.npy`` as a dataset read on demand, at the image last shown.

        It is listed in the background (the window says "listing …" meanwhile); a source that
        cannot be opened as a dataset is refused in one line when that is known.
        """
        # Everything loaded so far lives as long as the window, and so will the file list:
        # keep them out of the cyclic collector's full passes, which walked every object of the
        # process and stalled the event loop 100–390 ms at a time while a dataset was listed,
        # browsed or walked. The window's close gives them back (stop_work).
        gc.freeze()
        path = Path(source).resolve()
        self.browser.list(source, self.settings.dataset_position(str(path)))
        self._update_title()
        return True

    def _on_dataset_opened(self) -> None:
        gc.freeze()  # the file list too (see open_dataset)
        source = self.browser.dataset.source
        path = Path(source).resolve()
        self.settings.last_folder = str(path if path.is_dir() else path.parent)
        self.settings.add_recent(source)

    def _on_dataset_failed(self, reason: str) -> None:
        self._update_title()
        self.show_error(reason)

    def _on_dataset_shown(self) -> None:
        b = self.browser
        self.settings.set_dataset_position(str(Path(b.dataset.source).resolve()), b.shown)
        self._position_timer.start()  # written once browsing pauses, and as the window closes
        if b.error is not None:  # in place of the image: why it cannot be read
            for panel in self.panels:
                panel.clear()
                panel.set_caption("")
            self.original.set_caption("unreadable")
            self.verdict.setText(error_html("Cannot read this image", b.error))
        for plot in (*self._histogram_plots(), self.histograms[2].plot):
            plot.setOpacity(0.0 if b.error is not None else 1.0)  # the last image's: hidden
        self._update_title()

    def _update_dataset_title(self) -> None:
        where = self.browser.status_text()
        self.where.setText(where)
        self.setWindowTitle(f"{APP_NAME} — {Path(self.model.dataset.source).name} [{where}]")

    def dataset_statistics_dialog(self, folder: bool = True) -> None:
        """File > Dataset Statistics: ask for a folder or file, then :meth:`dataset_statistics`."""
        if folder:
            path = QFileDialog.getExistingDirectory(
                self, "Dataset statistics of a folder", self.settings.last_folder
            )
        else:
            path, _filter = QFileDialog.getOpenFileName(
                self, "Dataset statistics of a file", self.settings.last_folder, OPEN_FILTER
            )
        if path:
            self.dataset_statistics(path)

    def dataset_statistics(self, source: str | os.PathLike) -> StatsDialog:
        """Compute `source`'s statistics in the background, in a dialog (shown, not exec'd)."""
        dialog = StatsDialog(source, self)
        dialog.useMeanStd.connect(self._use_mean_std)
        dialog.open()
        dialog.start()
        self.stats_dialog = dialog
        return dialog

    def _use_mean_std(self, mean: tuple, std: tuple) -> None:
        self.model.set_options(choice="meanstd", axis="default", mean=mean, std=std)

    # --- the whole dataset's verdict, streamed -----------------------------------------------
    def _progress_pair(
        self, label: str, tip: str, cancel_tip: str
    ) -> tuple[QProgressBar, QPushButton]:
        """A progress bar and its Cancel button in the status bar, hidden until a pass runs."""
        bar = QProgressBar()
        bar.setMaximumWidth(160)
        bar.setFormat(f"{label} %p%")
        bar.setToolTip(tip)
        cancel = QPushButton("Cancel")
        cancel.setToolTip(cancel_tip)
        for w in (bar, cancel):
            w.setVisible(False)
            self.statusBar().addPermanentWidget(w)
        return bar, cancel

    def _make_dataset_verdict(self) -> None:
        self.norm_progress, self.norm_cancel = self._progress_pair(
            "statistics",
            "the dataset's statistics for the normalization over N: images read",
            "stop computing the dataset's statistics (the window stays usable)",
        )
        self.norm_cancel.clicked.connect(self.dataset_norm.cancel)
        self.dataset_norm.progressed.connect(self._on_norm_progress)
        self.dataset_norm.runningChanged.connect(self._on_norm_running)
        self.dataset_verdict = DatasetVerdict(self)
        self._verdict_key: tuple | None = None  # the dataset and normalization it walks
        self.verdict_progress, self.verdict_cancel = self._progress_pair(
            "dataset",
            "the whole dataset's verdict: images checked",
            "stop checking the whole dataset (the counts so far stay)",
        )
        self._position_timer = QTimer(self)
        self._position_timer.setSingleShot(True)
        self._position_timer.setInterval(POSITION_SAVE_MS)
        self._position_timer.timeout.connect(self.settings.flush_positions)
        self._verdict_timer = QTimer(self)
        self._verdict_timer.setSingleShot(True)
        self._verdict_timer.setInterval(300)  # a burst of changes starts one walk
        self._verdict_timer.timeout.connect(self._start_dataset_verdict)
        self.verdict_cancel.clicked.connect(self.dataset_verdict.stop)
        self.dataset_verdict.progressed.connect(self._show_dataset_verdict)
        self.dataset_verdict.runningChanged.connect(self._on_verdict_running)
        self.model.datasetChanged.connect(self._verdict_timer.start)
        self.model.optionsChanged.connect(self._verdict_timer.start)
        self.controller.batchChanged.connect(self._show_dataset_verdict)

    def _start_dataset_verdict(self) -> None:
        m = self.model
        if m.dataset is None:
            self._verdict_key = None
            self.dataset_verdict.forget()
            return
        if m.loaded is None:
            self._verdict_timer.start()  # its first image is not read yet
            return
        try:
            normalization = m.normalization
        except ValueError:  # the frame says why; the counts on show were another call's
            self._verdict_key = None
            self.dataset_verdict.stop()
            self.dataset_verdict.tally = None
            self._show_dataset_verdict()
            return
        key = (id(m.dataset), repr(normalization))
        if key != self._verdict_key:
            self._verdict_key = key
            self.dataset_verdict.start(m.dataset, normalization)

    def _batch_label_lines(self, lines: int) -> None:
        """Keep `lines` lines for the batch's or dataset's words (a fixed height: the plots
        below are not laid out again when the words change)."""
        self.batch_label.setFixedHeight(lines * self.batch_label.fontMetrics().lineSpacing() + 4)

    def _batch_in_use(self) -> tuple[str, str] | None:
        """Which dataset statistics the normalization on show uses: in short, and with their
        numbers; None when it uses none."""
        try:
            norm = self.model.normalization
        except ValueError:
            return None
        batch = getattr(norm, "batch", None)
        if batch is None:
            return None
        return (
            f"{batch.words(norm.method, numbers=False)} ({batch.exact})",
            f"{batch.words(norm.method)}; {batch.exact}",
        )

    def _on_norm_progress(self, done: int, total: int) -> None:
        self.norm_progress.setRange(0, max(total, 1))
        self.norm_progress.setValue(done)
        if self.controller.results.frame is None:
            self._show_batch_wait()

    def _on_norm_running(self, running: bool) -> None:
        for w in (self.norm_progress, self.norm_cancel):
            w.setVisible(running)
        if not running and self.controller.results.frame is None:
            self._show_batch_wait()

    def _on_verdict_running(self, running: bool) -> None:
        self.verdict_cancel.setVisible(running)
        self._show_dataset_verdict()  # a stopped walk's last counts

    def _show_dataset_verdict(self, _snapshot: Tally | None = None) -> None:
        tally = self.dataset_verdict.tally  # the walk's on show (a stopped one's last word: not)
        if self.model.dataset is None:
            self.verdict_progress.setVisible(False)
            self._batch_label_lines(2)
            return
        self._batch_label_lines(3)  # the statistics in use, then the verdict's two
        batch = self._batch_in_use()
        short, numbers = batch if batch is not None else ("", "")
        self.batch_label.setToolTip(numbers)  # the line is short: the numbers are here
        lines = [f"<b>Statistics</b>: {html.escape(short, quote=False)}"] if short else []
        if tally is None:
            self.verdict_progress.setVisible(False)
            self.jump.setVisible(False)
            self.batch_label.setText("<br>".join(lines))
            return
        words, error = tally.words(), self.dataset_verdict.error
        if error is not None:
            words += f" · the walk failed: {error}"
        lines.append(f"<b>Whole dataset</b>: {html.escape(words)}")
        self.batch_label.setText("<br>".join(lines))
        self.jump.setVisible(tally.worst is not None)
        self.verdict_progress.setRange(0, max(tally.total, 1))
        self.verdict_progress.setValue(tally.checked)
        self.verdict_progress.setVisible(not tally.done and error is None)
