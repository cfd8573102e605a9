"""Where NormScope writes its log, and how the ``normscope`` command sets it up.

Failures are logged with their tracebacks to ``logging.getLogger("normscope")``; the command
line (:func:`configure_logging`) sends them to a file in the platform's log folder, and to
stderr too with ``--verbose``. Tests (and anyone who wants the log elsewhere) point the folder
elsewhere with the ``NORMSCOPE_LOG_DIR`` environment variable.
"""

from __future__ import annotations

import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOGGER = "normscope"
LOG_BYTES = 1_000_000  # a full log is kept as normscope.log.1 and a new one started
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_installed: list[logging.Handler] = []  # the handlers configure_logging added


def log_path() -> Path:
    r"""The log file: ``$NORMSCOPE_LOG_DIR/normscope.log``, else the platform's log folder.

    That is ``$XDG_STATE_HOME/normscope`` (``~/.local/state/normscope``) on Linux,
    ``~/Library/Logs/NormScope`` on macOS and ``%LOCALAPPDATA%\NormScope\Logs`` on Windows.

    Examples
    --------
    >>> log_path().name
    'normscope.log'
    """
    folder = os.environ.get("NORMSCOPE_LOG_DIR")
    if folder:
        return Path(folder) / "normscope.log"
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return base / "NormScope" / "Logs" / "normscope.log"
    if sys.platform == "darwin":
        return home / "Library" / "Logs" / "NormScope" / "normscope.log"
    state = os.environ.get("XDG_STATE_HOME") or home / ".local" / "state"
    return Path(state) / "normscope" / "normscope.log"


def configure_logging(*, verbose: bool = False) -> logging.Logger:
    """Send the ``normscope`` logger's records to :func:`log_path`, and to stderr when `verbose`.

    The file gets warnings and worse (every record when `verbose`). Called again, it replaces the
    handlers it added before. A log folder that cannot be made costs the file, nothing else.
    """
    logger = logging.getLogger(LOGGER)
    while _installed:
        handler = _installed.pop()
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handlers: list[logging.Handler] = []
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            RotatingFileHandler(
                path, maxBytes=LOG_BYTES, backupCount=1, encoding="utf-8", delay=True
            )
        )
    except OSError:
        pass  # a read-only home: no log file
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    else:
        handlers.append(logging.NullHandler())  # not Python's last resort: stderr stays quiet
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
        _installed.append(handler)
    return logger
