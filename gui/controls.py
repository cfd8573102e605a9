"""The control panel: method or preset, reduced axes, options, image index, display.

Widgets write the model; the model's signals refresh the widgets with their own signals
blocked (``QSignalBlocker``), so nothing echoes back.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from normscope.core.normalize import IMAGENET_MEAN, IMAGENET_STD, METHODS, PRESETS
from normscope.core.pairing import AfterArray
from normscope.core.roles import ROLE_WORDS
from normscope.gui.model import PRESET_PREFIX, BatchPending, InspectorModel
from normscope.gui.panels import COLORMAPS

ORDERS = (("1", 1.0), ("2", 2.0), ("∞", float(np.inf)))
ROLE_CHOICES = {2: ["HW"], 3: ["NHW", "HWC", "CHW"], 4: ["NHWC", "NCHW"]}
SCOPE_LABELS = {
    "image": "whole image",
    "channel": "each channel",
    "row": "each row",
    "column": "each column",
}


def axis_label(role: str, size: int) -> str:
    """Button text for one axis, e.g. ``"H  28 rows"`` or ``"N  60,000 images"``."""
    plural, singular = ROLE_WORDS[role]
    return f"{role}  {size:,} {singular if size == 1 else plural}"


def _parse_floats(text: str) -> tuple[float, ...] | None:
    try:
        values = tuple(float(v) for v in text.replace(";", ",").split(",") if v.strip())
    except ValueError:
        return None
    return values or None


class ControlPanel(QWidget):
    """Every control of the inspector, bound to one :class:`InspectorModel`.

    Signals
    -------
    rolesRejected(str)
        Typed axis roles that do not fit the array, with the reason.
    """

    rolesRejected = Signal(str)

    def __init__(self, model: InspectorModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        outer = QVBoxLayout(self)

        # --- normalization ---------------------------------------------------------------
        norm = QGroupBox("Normalization")
        form = QFormLayout(norm)
        self.method = QComboBox()
        self.method.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.method.setMinimumContentsLength(18)
        for name, info in METHODS.items():
            self.method.addItem(info.label, name)
        self.method.insertSeparator(self.method.count())
        for name, preset in PRESETS.items():
            self.method.addItem(preset.label, PRESET_PREFIX + name)
        form.addRow("Method", self.method)

        self.axes_box = QWidget()
        self.axes_layout = QGridLayout(self.axes_box)
        self.axes_layout.setContentsMargins(0, 0, 0, 0)
        self.axis_buttons: list[QPushButton] = []
        self._built: tuple | None = None  # the axes the buttons and choices were made for
        self.axis_group = QButtonGroup(self)
        self.axis_group.setExclusive(False)
        self.whole = QPushButton("whole array")
        self.whole.setCheckable(True)
        self.n_button = QPushButton()  # a dataset's N axis: statistics of the whole dataset
        self.n_button.setCheckable(True)
        self.n_button.setVisible(False)
        form.addRow("Over axes", self.axes_box)

        self.order = QComboBox()
        for text, value in ORDERS:
            self.order.addItem(text, value)
        form.addRow("Norm order", self.order)

        self.p_low, self.p_high = QDoubleSpinBox(), QDoubleSpinBox()
        for box in (self.p_low, self.p_high):
            box.setRange(0.0, 100.0)
            box.setDecimals(2)
            box.setSingleStep(0.5)
            box.setKeyboardTracking(False)
        pct = QHBoxLayout()
        pct.addWidget(self.p_low)
        pct.addWidget(self.p_high)
        form.addRow("Percentiles", pct)

        self.mean = QLineEdit()
        self.std = QLineEdit()
        self.mean.setPlaceholderText(", ".join(f"{v:g}" for v in IMAGENET_MEAN))
        self.std.setPlaceholderText(", ".join(f"{v:g}" for v in IMAGENET_STD))
        form.addRow("Mean", self.mean)
        form.addRow("Std", self.std)

        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lines = 3  # room kept for the usual description, so the rows below keep still
        self.description.setMinimumHeight(lines * self.description.fontMetrics().lineSpacing())
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        form.addRow(self.description)
        self.code = QLabel()  # a row of its own, wrapped: the whole line shows
        self.code.setWordWrap(True)
        self.code.setTextFormat(Qt.TextFormat.PlainText)
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code.setStyleSheet("font-family: monospace;")
        self.code.setMinimumHeight(2 * self.code.fontMetrics().lineSpacing())
        self.code.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.copy_code = QToolButton()
        self.copy_code.setText("Copy")
        self.copy_code.setToolTip("Copy the equivalent line of code")
        form.addRow("Code", self.copy_code)
        form.addRow(self.code)
        outer.addWidget(norm)

        # --- what is on show -------------------------------------------------------------
        show = QGroupBox("Image")
        form2 = QFormLayout(show)
        idx = QHBoxLayout()
        self.index_slider = QSlider(Qt.Orientation.Horizontal)
        self.index_spin = QSpinBox()
        idx.addWidget(self.index_slider, 1)
        idx.addWidget(self.index_spin)
        form2.addRow("Index", idx)
        self.roles = QComboBox()
        self.roles.setEditable(True)
        self.roles.setToolTip(
            "one letter per axis: N images, H rows, W columns, C channels (e.g. CHW)"
        )
        form2.addRow("Axis roles", self.roles)
        self.channel = QComboBox()
        form2.addRow("Channel", self.channel)
        self.scope = QComboBox()
        form2.addRow("Rank scope", self.scope)
        outer.addWidget(show)

        # --- display ---------------------------------------------------------------------
        disp = QGroupBox("Display")
        form3 = QFormLayout(disp)
        self.colormap = QComboBox()
        self.colormap.addItems(COLORMAPS)
        form3.addRow("Colour map", self.colormap)
        self.original_levels = QComboBox()
        self.original_levels.addItem("dtype range", "dtype")
        self.original_levels.addItem("data range", "data")
        form3.addRow("Original levels", self.original_levels)
        self.rank_view = QComboBox()
        self.rank_view.addItem("rank shift (after − before)", "displacement")
        self.rank_view.addItem("pixels that changed order", "partners")
        form3.addRow("Rank panel", self.rank_view)
        self.log_hist = QCheckBox("log counts")
        self.linked = QCheckBox("link pan and zoom")
        form3.addRow(self.log_hist)
        form3.addRow(self.linked)
        outer.addWidget(disp)
        outer.addStretch(1)

        self._connect()
        model.loadedChanged.connect(self._rebuild)
        model.optionsChanged.connect(self.refresh)
        model.indexChanged.connect(self.refresh)
        model.channelChanged.connect(self.refresh)
        model.scopeChanged.connect(self.refresh)
        model.displayChanged.connect(self.refresh)
        model.datasetChanged.connect(self._rebuild)
        self._rebuild()

    # --- widget -> model -------------------------------------------------------------------
    def _connect(self) -> None:
        m = self.model
        self.method.currentIndexChanged.connect(
            lambda _i: m.set_options(choice=self.method.currentData())
        )
        self.axis_group.buttonToggled.connect(self._axes_toggled)
        self.whole.toggled.connect(self._whole_toggled)
        self.n_button.toggled.connect(self._n_toggled)
        self.order.currentIndexChanged.connect(
            lambda _i: m.set_options(order=self.order.currentData())
        )
        self.p_low.valueChanged.connect(self._percentiles_changed)
        self.p_high.valueChanged.connect(self._percentiles_changed)
        self.mean.editingFinished.connect(
            lambda: m.set_options(mean=_parse_floats(self.mean.text()))
        )
        self.std.editingFinished.connect(lambda: m.set_options(std=_parse_floats(self.std.text())))
        self.copy_code.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.code.text())
        )
        self.roles.lineEdit().editingFinished.connect(self._roles_edited)
        self.roles.activated.connect(lambda _i: self._roles_edited())
        self.index_slider.valueChanged.connect(m.set_index)
        self.index_spin.valueChanged.connect(m.set_index)
        self.channel.currentIndexChanged.connect(
            lambda _i: m.set_channel(self.channel.currentData())
        )
        self.scope.currentIndexChanged.connect(lambda _i: m.set_scope(self.scope.currentData()))
        self.colormap.currentTextChanged.connect(lambda t: m.set_display(colormap=t))
        self.original_levels.currentIndexChanged.connect(
            lambda _i: m.set_display(original_levels=self.original_levels.currentData())
        )
        self.rank_view.currentIndexChanged.connect(
            lambda _i: m.set_display(rank_view=self.rank_view.currentData())
        )
        self.log_hist.toggled.connect(lambda on: m.set_display(log_histogram=on))
        self.linked.toggled.connect(lambda on: m.set_display(linked=on))

    def _axes_toggled(self, _button: QPushButton, _checked: bool) -> None:
        axes = tuple(i for i, b in enumerate(self.axis_buttons) if b.isChecked())
        over_n = self.model.options.over_n  # then no other axis is N alone, not the whole
        self.model.set_options(axis=axes if axes or over_n else None)

    def _whole_toggled(self, checked: bool) -> None:
        if checked:
            self.model.set_options(axis=None)
        else:  # leaving "whole array" returns to the method's own default axis
            self.model.set_options(axis="default")

    def _n_toggled(self, checked: bool) -> None:
        m = self.model
        axis = m.options.axis
        if checked and m.mixed_sizes is not None and axis is not None and m.loaded is not None:
            # over N alone keeps a statistic per pixel position: not on images of many sizes
            axes = m.options.normalization(m.roles).resolved_axis(len(m.roles))
            hw = {m.roles.index("H"), m.roles.index("W")}
            axis = None if axes is None else tuple(sorted(set(axes) | hw))
            if axis == tuple(range(len(m.roles))):
                axis = None
        if not checked and axis == ():
            axis = None  # N alone, without N: the whole image
        m.set_options(over_n=checked, axis=axis)

    def _roles_edited(self) -> None:
        try:
            self.model.set_roles(self.roles.currentText().strip())
        except ValueError as exc:
            self.rolesRejected.emit(str(exc))
            self.refresh()

    def _percentiles_changed(self, _value: float) -> None:
        self.model.set_options(percentiles=(self.p_low.value(), self.p_high.value()))

    # --- model -> widget -------------------------------------------------------------------
    def _rebuild(self) -> None:
        """New array: one button per axis, index range, channels, scopes. An array with the
        same axes as the last (the next image of a dataset, of another size) only relabels
        the axis buttons: rebuilding laid out and repainted the whole panel at every step."""
        loaded, roles = self.model.loaded, self.model.roles
        built = None if loaded is None else (self.model.dataset is not None, loaded.roles, roles)
        if built is not None and "C" in roles:
            built += (loaded.array.shape[roles.index("C")],)  # the channel choices
        if built is not None and built == self._built:
            for b, role, size in zip(
                self.axis_buttons, loaded.roles, loaded.array.shape, strict=True
            ):
                b.setText(axis_label(role, size))
            self.refresh()
            return
        self._built = built
        for b in self.axis_buttons:
            self.axis_group.removeButton(b)
            self.axes_layout.removeWidget(b)
            b.hide()  # at once: Qt deletes it later, when its event loop next runs
            b.deleteLater()
        self.axis_buttons = []
        self.axes_layout.removeWidget(self.whole)
        self.axes_layout.removeWidget(self.n_button)
        loaded = self.model.loaded
        first = 0
        if self.model.dataset is not None:  # its N axis first, as in a batch
            self.axes_layout.addWidget(self.n_button, 0, 0)
            first = 1
        if loaded is not None:
            for i, (role, size) in enumerate(zip(loaded.roles, loaded.array.shape, strict=True)):
                b = QPushButton(axis_label(role, size))
                b.setCheckable(True)
                b.setToolTip(f"axis {i}: reduce over the {ROLE_WORDS[role][0]}")
                self.axis_group.addButton(b, i)
                self.axes_layout.addWidget(b, (i + first) // 2, (i + first) % 2)
                self.axis_buttons.append(b)
        n = len(self.axis_buttons) + first
        self.axes_layout.addWidget(self.whole, n // 2, n % 2)
        with QSignalBlocker(self.channel), QSignalBlocker(self.scope), QSignalBlocker(self.roles):
            self.channel.clear()
            self.scope.clear()
            self.roles.clear()
            roles = self.model.roles
            if loaded is not None:
                self.roles.addItems(ROLE_CHOICES.get(loaded.array.ndim, [roles]))
            if "C" in roles:
                self.channel.addItem("all (colour)", None)  # the first item: all channels
                for c in range(loaded.array.shape[roles.index("C")]):
                    self.channel.addItem(f"channel {c}", c)
            for scope, text in SCOPE_LABELS.items():
                if scope != "channel" or "C" in roles:
                    self.scope.addItem(text, scope)
        self.refresh()

    def refresh(self) -> None:
        """Show the model's state, with every widget's signals blocked."""
        m = self.model
        widgets = [
            self.method, self.order, self.p_low, self.p_high, self.index_slider,
            self.index_spin, self.channel, self.scope, self.colormap, self.original_levels,
            self.rank_view, self.log_hist, self.linked, self.whole, self.axis_group, self.roles,
            self.n_button, *self.axis_buttons,
        ]  # fmt: skip
        blockers = [QSignalBlocker(w) for w in widgets]
        try:
            self._refresh_unblocked(m)
        finally:
            del blockers

    def _show_after(self, after: AfterArray, m: InspectorModel) -> None:
        # no method on show: picking any one, the last one too, leaves the after array
        self.method.setPlaceholderText(after.describe(m.loaded.array.shape, m.roles))
        self.method.setCurrentIndex(-1)
        for b in (*self.axis_buttons, self.whole):
            b.setChecked(False)
        for w in (*self.axis_buttons, self.whole, self.order, self.p_low, self.p_high):
            w.setEnabled(False)
        for w in (self.mean, self.std):
            w.setEnabled(False)
        self.description.setText(after.describe(m.loaded.array.shape, m.roles))
        self.code.setText("")
        self.copy_code.setEnabled(False)

    def _refresh_unblocked(self, m: InspectorModel) -> None:
        opts = m.options
        self.method.setCurrentIndex(self.method.findData(opts.choice))
        self.order.setCurrentIndex(self.order.findData(float(opts.order)))
        self.p_low.setValue(opts.percentiles[0])
        self.p_high.setValue(opts.percentiles[1])
        self.mean.setText("" if opts.mean is None else ", ".join(f"{v:g}" for v in opts.mean))
        self.std.setText("" if opts.std is None else ", ".join(f"{v:g}" for v in opts.std))
        n = m.batch_size
        self.index_slider.setRange(0, n - 1)
        self.index_spin.setRange(0, n - 1)
        self.index_slider.setValue(m.index)
        self.index_spin.setValue(m.index)
        for w in (self.index_slider, self.index_spin):
            w.setEnabled(m.browsable)
        self.roles.setCurrentText(m.roles)
        self.channel.setEnabled("C" in m.roles)
        self.channel.setCurrentIndex(
            0 if m.channel is None else max(self.channel.findData(m.channel), 0)
        )
        self.scope.setCurrentIndex(max(self.scope.findData(m.scope), 0))
        d = m.display
        self.colormap.setCurrentText(d.colormap)
        self.original_levels.setCurrentIndex(self.original_levels.findData(d.original_levels))
        self.rank_view.setCurrentIndex(self.rank_view.findData(d.rank_view))
        self.log_hist.setChecked(d.log_histogram)
        self.linked.setChecked(d.linked)
        self._refresh_n(m)
        if m.loaded is None:
            return
        pending = None
        try:
            norm = m.normalization
        except BatchPending as exc:  # the dataset's statistics are on their way, or refused
            pending = str(exc)
            norm = opts.normalization(m.roles)
        except ValueError as exc:
            self.description.setText(str(exc))
            return
        if isinstance(norm, AfterArray):  # made elsewhere: no axes, options or code
            self._show_after(norm, m)
            return
        info = METHODS[norm.method]
        base = opts.normalization(m.roles)  # over the image's own axes (without N)
        axis = base.resolved_axis(len(m.roles)) if info.uses_axis else None
        fixed = opts.preset is not None or not info.uses_axis
        size_locked = opts.over_n and m.mixed_sizes is not None
        for i, b in enumerate(self.axis_buttons):
            b.setChecked(axis is not None and i in axis)
            locked = size_locked and m.roles[i] in "HW"
            b.setEnabled(not fixed and not locked)
            tip = f"axis {i}: reduce over the {ROLE_WORDS[m.roles[i]][0]}"
            b.setToolTip(f"{tip}\nkept on: {m.mixed_sizes}" if locked else tip)
        self.whole.setChecked(info.uses_axis and axis is None)
        self.whole.setEnabled(not fixed)
        self.order.setEnabled(info.uses_order and opts.preset is None)
        for w in (self.p_low, self.p_high):
            w.setEnabled(norm.method == "percentile" and opts.preset is None)
        for w in (self.mean, self.std):
            w.setEnabled(norm.method == "meanstd" and opts.preset is None)
        text = pending or norm.describe(m.loaded.array.shape, m.roles)
        if opts.over_n and m.mixed_sizes is not None:
            text += f" (over N alone is not offered: {m.mixed_sizes.partition('; ')[2]})"
        self.description.setText(text)
        self.code.setText(norm.code(m.roles) if pending is None else "")
        self.copy_code.setEnabled(pending is None)

    def _refresh_n(self, m: InspectorModel) -> None:
        """The dataset's N button: shown while a dataset is browsed, with why over N alone is
        refused on images of many sizes."""
        ds = m.dataset
        self.n_button.setVisible(ds is not None)
        if ds is None:
            return
        self.n_button.setText(axis_label("N", len(ds)))
        choice = m.options.choice
        usable = m.after is None and choice in METHODS and METHODS[choice].uses_axis
        self.n_button.setChecked(m.options.over_n and usable)
        self.n_button.setEnabled(usable)
        tip = (
            "axis N: the whole dataset's statistics (computed once in the background, then "
            "used for every image)"
        )
        if m.mixed_sizes is not None:
            tip += (
                f"\nover N alone or N with C (a statistic per pixel position) is not "
                f"offered: {m.mixed_sizes}"
            )
        self.n_button.setToolTip(tip)
