"""Start the window, or say clearly why it cannot start."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

NO_DISPLAY = (
    "normscope: no display found (DISPLAY is not set or its X server is not running); "
    "run headless with QT_QPA_PLATFORM=offscreen, or write the comparison with "
    "'normscope export sample:digits -o comparison.png'"
)


def has_display(env: dict[str, str] | None = None) -> bool:
    """Whether Qt can open a window here, without letting Qt abort to find out.

    True when a Qt platform is chosen explicitly (``QT_QPA_PLATFORM``), on Windows and macOS,
    with a Wayland display, or with an X display whose local socket exists.

    Examples
    --------
    >>> has_display({"QT_QPA_PLATFORM": "offscreen"})
    True
    >>> sys.platform != "linux" or has_display({}) is False
    True
    """
    env = os.environ if env is None else env
    if env.get("QT_QPA_PLATFORM") or sys.platform in ("win32", "darwin"):
        return True
    if env.get("WAYLAND_DISPLAY"):
        return True
    display = env.get("DISPLAY", "")
    if not display:
        return False
    host, _, number = display.rpartition(":")
    if host in ("", "unix"):  # a local display: its socket must exist
        return Path(f"/tmp/.X11-unix/X{number.split('.')[0]}").exists()
    return True  # a remote display: let Qt try


def run_window(
    source: str | None = None, *, key: str | None = None, index: int | None = None
) -> int:
    """Open the inspector on `source` (default: the bundled digits) and run until it closes.

    Returns the process exit status: 0 after a normal close, 1 when there is no display.
    """
    if not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from normscope.core.warmup import warm_up
    from normscope.gui.window import APP_NAME, MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    window = MainWindow()
    window.show()
    if window.open_source(source or "sample:digits", key=key) and index is not None:
        window.model.set_index(index)
    # load every compiled kernel now, while the first image is computed, rather than one by
    # one at the user's first toggles (loading holds the GIL, so it would stall them)
    threading.Thread(target=warm_up, name="normscope-warm-up", daemon=True).start()
    return app.exec()
