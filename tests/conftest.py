"""Test configuration shared by every test.

Qt runs offscreen unless the caller chose a platform, settings and the log go to temporary
folders, and a test that leaves a top-level window open fails.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.fixture(autouse=True)
def _no_leaked_windows(request: pytest.FixtureRequest):
    """Fail any test that leaves a visible top-level widget behind (ndv's _catch_qt_leaks)."""
    yield
    if "qapp" not in request.fixturenames and "qtbot" not in request.fixturenames:
        return
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    app.processEvents()
    left = [w for w in app.topLevelWidgets() if w.isVisible()]
    for w in left:
        w.close()
        w.deleteLater()
    app.processEvents()
    if left:
        names = ", ".join(f"{type(w).__name__}({w.windowTitle()!r})" for w in left)
        pytest.fail(f"test left top-level windows open: {names}")


@pytest.fixture(autouse=True)
def _settings_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point QSettings at a fresh folder so tests never read or write the user's settings."""
    monkeypatch.setenv("NORMSCOPE_SETTINGS_DIR", str(tmp_path_factory.mktemp("settings")))


@pytest.fixture(autouse=True)
def _log_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point the log file at a fresh folder so tests never write the user's log."""
    monkeypatch.setenv("NORMSCOPE_LOG_DIR", str(tmp_path_factory.mktemp("log")))
