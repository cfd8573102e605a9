"""Every setting NormScope keeps between runs, in one typed place.

Values live in a ``QSettings`` INI file. Each is read with a default **and** a type, so
booleans never come back as the string ``'true'``. Tests (and anyone who wants a clean
profile) point the folder elsewhere with the ``NORMSCOPE_SETTINGS_DIR`` environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

MAX_RECENT = 10


class Settings:
    """Typed access to NormScope's persistent settings."""

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        folder = (
            folder
            or os.environ.get("NORMSCOPE_SETTINGS_DIR")
            or QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)
        )
        self.path = Path(folder) / "normscope.ini"
        self._q = QSettings(str(self.path), QSettings.Format.IniFormat)

    def _get(self, key: str, default, typ):
        return self._q.value(key, default, type=typ)

    def sync(self) -> None:
        self._q.sync()

    # --- files -----------------------------------------------------------------------------
    @property
    def recent_files(self) -> list[str]:
        value = self._q.value("files/recent", [], type=list)
        return [str(v) for v in value][:MAX_RECENT]

    def add_recent(self, source: str) -> None:
        files = [source] + [f for f in self.recent_files if f != source]
        self._q.setValue("files/recent", files[:MAX_RECENT])

    @property
    def last_folder(self) -> str:
        return self._get("files/last_folder", "", str)

    @last_folder.setter
    def last_folder(self, value: str) -> None:
        self._q.setValue("files/last_folder", value)

    # --- window ----------------------------------------------------------------------------
    @property
    def geometry(self) -> QByteArray:
        return self._get("window/geometry", QByteArray(), QByteArray)

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._q.setValue("window/geometry", value)

    @property
    def splitter_state(self) -> QByteArray:
        return self._get("window/splitter", QByteArray(), QByteArray)

    @splitter_state.setter
    def splitter_state(self, value: QByteArray) -> None:
        self._q.setValue("window/splitter", value)

    # --- normalization and display -----------------------------------------------------------
    @property
    def method(self) -> str:
        """The last method, or ``"preset:NAME"`` for a library preset."""
        return self._get("view/method", "keras", str)

    @method.setter
    def method(self, value: str) -> None:
        self._q.setValue("view/method", value)

    @property
    def axis(self) -> str:
        """The last axis as typed on the command line: ``"default"``, ``"none"`` or ``"1,2"``."""
        return self._get("view/axis", "default", str)

    @axis.setter
    def axis(self, value: str) -> None:
        self._q.setValue("view/axis", value)

    @property
    def colormap(self) -> str:
        return self._get("view/colormap", "gray", str)

    @colormap.setter
    def colormap(self, value: str) -> None:
        self._q.setValue("view/colormap", value)

    @property
    def log_histogram(self) -> bool:
        return self._get("view/log_histogram", True, bool)

    @log_histogram.setter
    def log_histogram(self, value: bool) -> None:
        self._q.setValue("view/log_histogram", bool(value))
