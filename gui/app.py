"""Start the window, or say clearly why it cannot start."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

NO_DISPLAY = (
    "normscope: no display found (DISPLAY is not set or its X server is not running); "
    "run headless with QT_QPA_PLATFORM=offscreen, or write the comparison with "
    "'normscope export sample:digits -o comparison.png'"
)

# Qt log lines that say nothing is wrong, dropped so that a run that worked prints nothing:
# the offscreen platform has no window manager ("This plugin does not support
# propagateSizeHints()", "... raise()", "... grabbing the keyboard"); Qt notes that it
# looked up a font family the system lacks, then used another; and a repaint already queued
# when a stop signal closes the window reaches it after its native window is gone, and is
# dropped ("QBackingStore::flush() called for ... which does not have a handle")
HARMLESS_QT_MESSAGES = (
    "This plugin does not support ",
    "Populating font family aliases took ",
    "QBackingStore::flush() called for ",
)


def quiet_harmless_qt_messages() -> None:
    """Drop :data:`HARMLESS_QT_MESSAGES` from Qt's log; print every other line as Qt would."""
    from PySide6.QtCore import qFormatLogMessage, qInstallMessageHandler

    def handler(mode, context, message: str) -> None:
        if not message.startswith(HARMLESS_QT_MESSAGES):
            print(qFormatLogMessage(mode, context, message), file=sys.stderr, flush=True)

    qInstallMessageHandler(handler)


def application():
    """The running QApplication, or a new one: offscreen when there is no display (for
    pictures drawn headless), quiet about :data:`HARMLESS_QT_MESSAGES`."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    quiet_harmless_qt_messages()
    return QApplication.instance() or QApplication(["normscope"])


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
    source: str | None = None,
    *,
    key: str | None = None,
    index: int | None = None,
    close_on: tuple[int, ...] = (),
) -> int:
    """Open the inspector on `source` (default: the bundled digits) and run until it closes.

    Each signal in `close_on` (e.g. SIGINT for Ctrl+C) closes the window as File > Quit
    does; once the window is gone, the signal goes on to the handler there was before.

    Returns the process exit status: 0 after a normal close, 1 when there is no display.
    """
    if not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 1
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    from normscope.core.warmup import warm_up_in_background
    from normscope.gui.window import APP_NAME, MainWindow

    quiet_harmless_qt_messages()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    # load (or, on a first run, compile) every kernel in the background rather than one by
    # one on the first image's path and at the first toggles: numpy computes until they are in
    warm = warm_up_in_background()
    window = MainWindow()
    window.show()
    if window.open_source(source or "sample:digits", key=key) and index is not None:
        window.model.set_index(index)
    stopped: list[int] = []

    def close(signum: int, _frame: object) -> None:
        stopped.append(signum)
        window.close()
        app.quit()  # also leaves a dialog's loop

    before = {s: signal.signal(s, close) for s in close_on}
    try:
        with _python_wakes_on_signals():
            status = app.exec()
    finally:
        # in order, while Python is whole (left to Qt's exit hook, the window was destroyed
        # as the interpreter finalized: a segfault on every quit): the window's jobs, the
        # window, then the warm-up (its thread pools refuse work once Python shuts down)
        window.stop_work()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        warm.join()
        for s, handler in before.items():
            signal.signal(s, handler)
    if stopped:
        signal.raise_signal(stopped[0])
    return status


@contextlib.contextmanager
def _python_wakes_on_signals() -> Iterator[None]:
    """Run Python's signal handlers while Qt's event loop waits, at once: Qt runs no Python
    code until its next event, so a signal also writes a byte to a socket whose notifier is
    that event (``signal.set_wakeup_fd``, the standard way to wake a foreign event loop)."""
    from PySide6.QtCore import QSocketNotifier

    receive, send = socket.socketpair()
    for end in (receive, send):
        end.setblocking(False)
    notifier = QSocketNotifier(receive.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(lambda: receive.recv(512))  # the handlers run as this does
    previous = signal.set_wakeup_fd(send.fileno())
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        notifier.setEnabled(False)
        receive.close()
        send.close()
