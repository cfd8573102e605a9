"""File > Dataset Statistics: :func:`core.stats.dataset_stats` in the background, in a dialog.

The pass runs in a worker process of its own (:class:`core.jobs.Worker`: the window's event loop
is never blocked by it) with a progress bar and Cancel; the result shows the
per-channel mean and std with the code lines to copy, and "Use for mean/std" hands the
numbers to the window for the mean/std normalization of the image on show.
"""

from __future__ import annotations

import html
import logging
import os
from typing import Any

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

from normscope.core.jobs import Worker
from normscope.core.stats import Cancelled, DatasetStats, Progress, dataset_stats

log = logging.getLogger("normscope")


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
    _said = Signal(int, str, object)  # from the worker's reader thread

    def __init__(self, source: str | os.PathLike, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = os.fspath(source)
        self.stats: DatasetStats | None = None
        self.error: str | None = None
        self._worker = Worker(self._said.emit, name="normscope-stats")
        self._job = 0  # the pass (0: not started)
        self._over = False  # its end has been shown
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
        self._said.connect(self._on_said)

    def start(self) -> None:
        """Start the pass in the worker process."""
        self._job = self._worker.submit(dataset_stats, self.source)

    def cancel(self) -> None:
        """Stop the pass (it stops within one task) or close the dialog when it is over."""
        if self._job and not self._over:
            self._worker.cancel()
            self.label.setText("Cancelling…")
        else:
            self.reject()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the pass has ended and its end is shown (tests); True when it has."""
        if self._job and not self._over:
            message = self._worker.wait(self._job, timeout)
            if message is not None:
                self._on_said(*message)
        return self._over or not self._job

    def shutdown(self) -> None:
        """Stop the pass and end the worker process (the window is closing)."""
        self._worker.shutdown()

    def _on_said(self, job: int, kind: str, payload: Any) -> None:
        if job != self._job or self._over:
            return
        if kind == "progress":
            self._on_progress(payload)
            return
        self._over = True
        if kind == "error":
            exc, text = payload
            if not isinstance(exc, Cancelled):
                log.info("dataset statistics of %s failed:\n%s", self.source, text)
            payload = exc
        self._on_done(payload)

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
        self._worker.shutdown(wait=False)  # closing stops a pass still running
        super().done(code)
