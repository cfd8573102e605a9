"""Every setting NormScope keeps between runs, in one typed place.

Values live in a ``QSettings`` INI file. Each is read with a default **and** a type, so
booleans never come back as the string ``'true'``. Tests (and anyone who wants a clean
profile) point the folder elsewhere with the ``NORMSCOPE_SETTINGS_DIR`` environment variable.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

MAX_RECENT = 10
T = TypeVar("T")


class _Value(Generic[T]):
    """One typed setting: read with its default and type, written as given."""

    def __init__(self, key: str, default: T, kind: type) -> None:
        self.key, self.default, self.kind = key, default, kind

    def __get__(self, settings: Settings, owner: type | None = None) -> T:
        return settings._q.value(self.key, self.default, type=self.kind)

    def __set__(self, settings: Settings, value: T) -> None:
        settings._q.setValue(self.key, self.kind(value))


class Settings:
    """Typed access to NormScope's persistent settings."""

    last_folder = _Value("files/last_folder", "", str)
    geometry = _Value("window/geometry", QByteArray(), QByteArray)
    splitter_state = _Value("window/splitter", QByteArray(), QByteArray)
    #: The last method, or ``"preset:NAME"`` for a library preset.
    method = _Value("view/method", "keras", str)
    #: The last axis as typed on the command line: ``"default"``, ``"none"`` or ``"1,2"``;
    #: the first run opens on the tutorial's call, ``tf.keras.utils.normalize(x, axis=1)``.
    axis = _Value("view/axis", "1", str)
    colormap = _Value("view/colormap", "gray", str)
    log_histogram = _Value("view/log_histogram", True, bool)

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        folder = (
            folder
            or os.environ.get("NORMSCOPE_SETTINGS_DIR")
            or QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)
        )
        self.path = Path(folder) / "normscope.ini"
        self._q = QSettings(str(self.path), QSettings.Format.IniFormat)
        self._positions: dict[str, int] = {}  # browsed, not written yet (by settings key)

    def sync(self) -> None:
        """Write everything, browsed positions included, to the file now."""
        self.flush_positions()
        self._q.sync()

    @property
    def recent_files(self) -> list[str]:
        value: Any = self._q.value("files/recent", [], type=list)
        return [str(v) for v in value][:MAX_RECENT]

    def add_recent(self, source: str) -> None:
        files = [source] + [f for f in self.recent_files if f != source]
        self._q.setValue("files/recent", files[:MAX_RECENT])

    # --- datasets: where browsing stopped -------------------------------------------------
    def dataset_position(self, source: str) -> int:
        """The image last shown of the dataset at `source` (0 when never opened)."""
        key = _key(source)
        if key in self._positions:
            return self._positions[key]
        return self._q.value(f"datasets/{key}", 0, type=int)

    def set_dataset_position(self, source: str, index: int) -> None:
        """Remember `index` in memory: stepping moves it at every image, and writing the file
        each time was the GUI thread's to wait for. :meth:`flush_positions` writes it."""
        self._positions[_key(source)] = int(index)

    def flush_positions(self) -> None:
        """Hand the browsed positions to the file (written when Qt's events next run)."""
        for key, index in self._positions.items():
            self._q.setValue(f"datasets/{key}", index)
        self._positions.clear()


def _key(source: str) -> str:
    """A settings key for a path (any characters): its SHA-1."""
    return hashlib.sha1(source.encode()).hexdigest()
