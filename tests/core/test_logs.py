"""Where the log goes: the platform's log folder, or NORMSCOPE_LOG_DIR."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from normscope.core import logs


@pytest.mark.parametrize(
    ("platform", "env", "folder"),
    [
        ("linux", {}, "home/.local/state/normscope"),
        ("linux", {"XDG_STATE_HOME": "state"}, "state/normscope"),
        ("darwin", {}, "home/Library/Logs/NormScope"),
        ("win32", {"LOCALAPPDATA": "local"}, "local/NormScope/Logs"),
    ],
)
def test_the_platforms_log_folder(monkeypatch, tmp_path, platform, env, folder) -> None:
    monkeypatch.delenv("NORMSCOPE_LOG_DIR")
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "home")
    for key, value in env.items():
        monkeypatch.setenv(key, str(tmp_path / value))
    monkeypatch.setattr(sys, "platform", platform)
    assert logs.log_path() == tmp_path / folder / "normscope.log"


def test_configured_again_it_replaces_its_handlers(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NORMSCOPE_LOG_DIR", str(tmp_path / "made" / "here"))
    logger = logging.getLogger("normscope")
    before = list(logger.handlers)
    try:
        logs.configure_logging(verbose=True)
        logs.configure_logging()
        added = [h for h in logger.handlers if h not in before]
        assert [type(h).__name__ for h in added] == ["RotatingFileHandler", "NullHandler"]
        logger.error("something failed")
        assert "something failed" in (tmp_path / "made/here/normscope.log").read_text()
    finally:
        logs.configure_logging()
