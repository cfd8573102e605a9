"""File > Dataset Statistics: :func:`core.stats.dataset_stats` in the background, in a dialog.

The pass runs on its own thread with a progress bar and Cancel; the result shows the
per-channel mean and std with the code lines to copy, and "Use for mean/std" hands the
numbers to the window for the mean/std normalization of the image on show.
"""

from __future__ import annotations

import html
import os
import threading

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from normscope.core.stats import Cancelled, DatasetStats, Progress, dataset_stats


def summary_html(stats: DatasetStats) -> str:
    """The dialog's words for `stats`: what was read, and each channel's mean and std."""
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td>{c.unit.mean:.6g}</td><td>{c.unit.std:.6g}</td>"
        f"<td>{c.unit.min:.4g} … {c.unit.max:.4g}</td></tr>"
        for c in stats.channels
    )
    skipped = f" · {len(stats.skipped):,} unreadable, skipped" if stats.skipped else ""
    converted = f" · {stats.converted:,} converted to RGB" if stats.converted else ""
    return (
        f"<b>{html.escape(os.path.basename(stats.source) or stats.source)}</b>: "
        f"{stats.images:,} images ({stats.dtype}){converted}{skipped}<br>"
        "<table cellspacing=6><tr><th>channel</th><th>mean</th><th>std</th><th>range</th></tr>"
        f"{rows}</table><small>on the unit scale (÷ {stats.scale:g}, what ToTensor() gives); "
        "std is the population std of every pixel, not a mean of per-image stds</small>"
    )


class StatsDialog(QDialog):
    """The statistics of `source` (a folder or file), computed when :meth:`start` is called.

    Signals
    -------
    useMeanStd(mean, std)
        "Use for mean/std" was pressed: per-channel tuples on the unit scale.
    finished_ok()
        The statistics are in (:attr:`stats`).
    """

    useMeanStd = Signal(tuple, tuple)
    finished_ok = Signal()
    _progressed = Signal(object)  # from the statistics thread
    _done = Signal(object)

    def __init__(self, source: str | os.PathLike, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = os.fspath(source)
        self.stats: DatasetStats | None = None
        self.error: str | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.setWindowTitle(f"Dataset statistics — {os.path.basename(self.source)}")
        self.resize(720, 420)
        self.label = QLabel(f"Reading {html.escape(self.source)}…")
        self.label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setFormat("%v of %m images")
        self.code = QPlainTextEdit()
        self.code.setReadOnly(True)
        self.code.setVisible(False)
        buttons = QDialogButtonBox()
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.copy_button = QPushButton("Copy code")
        self.use_button = QPushButton("Use for mean/std")
        self.close_button = QPushButton("Close")
        for b in (self.copy_button, self.use_button, self.close_button):
            buttons.addButton(b, QDialogButtonBox.ButtonRole.ActionRole)
            b.setEnabled(False)
        self.use_button.setToolTip("Normalize the image on show with these means and stds")
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.progress)
        layout.addWidget(self.code, 1)
        layout.addWidget(buttons)
        self.cancel_button.clicked.connect(self.cancel)
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.code.toPlainText())
        )
        self.use_button.clicked.connect(self._use)
        self.close_button.clicked.connect(self.accept)
        self._progressed.connect(self._on_progress)
        self._done.connect(self._on_done)

    def start(self) -> None:
        """Start the pass on its own thread."""
        self._thread = threading.Thread(target=self._run, name="normscope-stats", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Stop the pass (it stops within one task) or close the dialog when it is over."""
        if self._thread is not None and self._thread.is_alive():
            self._cancel.set()
            self.label.setText("Cancelling…")
        else:
            self.reject()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread (tests); True when it has stopped."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def _run(self) -> None:
        try:
            result: object = dataset_stats(
                self.source, progress=self._progressed.emit, cancel=self._cancel
            )
        except Cancelled as exc:
            result = exc
        except Exception as exc:  # shown in the dialog: a bad file, a refused mix, …
            result = exc
        self._done.emit(result)

    def _on_progress(self, p: Progress) -> None:
        self.progress.setRange(0, max(p.images_total, 1))
        self.progress.setValue(p.images_done)
        rate = p.images_done / p.seconds if p.seconds > 0 else 0.0
        self.label.setText(
            f"Reading {html.escape(self.source)}: {p.images_done:,} of {p.images_total:,} "
            f"images ({rate:,.0f} per second)"
        )

    def _on_done(self, result: object) -> None:
        self.cancel_button.setEnabled(False)
        self.close_button.setEnabled(True)
        if isinstance(result, Cancelled):
            p = result.progress
            self.error = "cancelled"
            self.label.setText(
                f"Cancelled after {p.images_done:,} of {p.images_total:,} images: "
                "nothing to show (run it again to finish)"
            )
            return
        if isinstance(result, Exception):
            self.error = str(result)
            self.label.setText(f"<span style='color:#b00020'>{html.escape(self.error)}</span>")
            self.progress.setVisible(False)
            return
        assert isinstance(result, DatasetStats)
        self.stats = result
        self.progress.setRange(0, max(result.images, 1))
        self.progress.setValue(result.images)
        self.label.setText(summary_html(result))
        self.code.setPlainText("\n".join(result.code().values()))
        self.code.setVisible(True)
        self.copy_button.setEnabled(True)
        self.use_button.setEnabled(True)
        self.finished_ok.emit()

    def _use(self) -> None:
        if self.stats is not None:
            self.useMeanStd.emit(tuple(self.stats.mean), tuple(self.stats.std))

    def done(self, code: int) -> None:
        self._cancel.set()  # closing stops a pass still running
        super().done(code)
