"""Fixtures of the window's tests: a window shown with fresh settings, empty or on the digits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from windows import wait_ready

from normscope.gui.settings import Settings
from normscope.gui.window import MainWindow


@pytest.fixture
def empty_window(qtbot, tmp_path: Path) -> MainWindow:
    """A shown window with fresh settings and nothing open."""
    w = MainWindow(Settings(tmp_path / "settings"))
    qtbot.addWidget(w)
    with qtbot.waitExposed(w):
        w.show()
    return w


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:
    """A shown window on the digits, its results in, at keras' own axis (-1): the tests
    toggle away from it."""
    settings = Settings(tmp_path / "settings")
    settings.axis = "default"
    w = MainWindow(settings)
    qtbot.addWidget(w)
    with qtbot.waitExposed(w):
        w.show()
    assert w.open_source("sample:digits")
    wait_ready(w)
    yield w
    w.close()
