"""The process around the work: quitting, signals, output-side errors and Qt's log lines.

A crash or a signal shows only in the exit status, so every test here runs a child process.
The children are driven by small hooks (a line on stdout says where they are), never by
sleeping until something has probably happened.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180


def child_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")  # normscope as this process has it
    env["NORMSCOPE_SETTINGS_DIR"] = str(tmp_path / "settings")
    env.pop("PYTHONWARNINGS", None)
    return env


def child_code(hook: str, argv: tuple[str, ...]) -> str:
    """``python -m normscope ARGV`` (run as ``__main__``, as a user runs it) after `hook`."""
    run = (
        f"sys.argv = ['normscope', *{list(argv)!r}]\n"
        "runpy.run_module('normscope', run_name='__main__', alter_sys=True)"
    )
    return f"import runpy\nimport sys\n{textwrap.dedent(hook)}\n{run}"


def run_main(tmp_path: Path, hook: str, *argv: str, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m normscope ARGV`` in a child after `hook` (Python source) has patched it."""
    return subprocess.run(
        [sys.executable, "-c", child_code(hook, argv)],
        cwd=ROOT,
        env=child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        **kwargs,
    )


def start_main(tmp_path: Path, hook: str, *argv: str) -> subprocess.Popen:
    """Like :func:`run_main`, but running; the hook prints ``ready`` when the child is where
    the test wants it."""
    child = subprocess.Popen(
        [sys.executable, "-c", child_code(hook, argv)],
        cwd=ROOT,
        env=child_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline() == "ready\n", child.communicate(timeout=TIMEOUT)
    return child


# the window, once its first image is on show, runs `then` (Python source; `self` is it)
WHEN_SHOWN = """
from PySide6.QtCore import QTimer
from normscope.gui.window import MainWindow

def when_shown(self):
    if self.results.frame is None:
        QTimer.singleShot(10, lambda: when_shown(self))
    else:
        {then}

shown = MainWindow.show
MainWindow.show = lambda self: (shown(self), when_shown(self))
"""


def test_quit_action_exits_0_and_says_nothing(tmp_path: Path) -> None:
    """File > Quit segfaulted every time (exit 139): Qt destroyed the window from an atexit
    hook while a worker thread and the kernel warm-up still ran. Quitting as soon as the
    first image is shown catches both at work."""
    result = run_main(tmp_path, WHEN_SHOWN.format(then="self.quit_action.trigger()"))
    assert (result.returncode, result.stderr) == (0, "")
    assert (tmp_path / "settings" / "normscope.ini").exists()


# once the dataset's verdict and a statistics pass run in their worker processes, the N button
# is pressed (its pass needs the dataset's statistics: the verdict waits for them); once that
# pass runs too, in a third worker process, print their ids
WHEN_WORKING = """
from PySide6.QtCore import QTimer

def busy(self, asked=[], read=[]):
    if not asked:
        asked.append(self.dataset_statistics(sys.argv[1]))
    workers = (self.dataset_verdict.worker, asked[0]._worker, self.dataset_norm.worker)
    if len(asked) == 1 and self.dataset_verdict.running and all(w.alive for w in workers[:2]):
        asked.append(self.dataset_norm.progressed.connect(lambda *_: read.append(1)))
        self.model.set_options(choice="minmax", axis=())  # over N alone: a streamed pass
        self.controls.n_button.click()
    if not (read and self.dataset_norm.running and all(w.alive for w in workers)):
        QTimer.singleShot(10, lambda: busy(self))
    else:
        print(*(w.pid for w in workers), flush=True)
        {then}
"""


@pytest.mark.parametrize("how", ["quit", "sigterm"])
def test_quitting_while_workers_run_ends_them_and_says_nothing(tmp_path: Path, how: str) -> None:
    """The whole-dataset verdict, the N button's statistics and a statistics pass run in
    worker processes: quitting in the middle of them (Quit, or SIGTERM) ends them all, and
    nothing is printed."""
    folder = tmp_path / "folder"
    folder.mkdir()
    png = ROOT / "resources" / "photo.png"
    for i in range(300):
        (folder / f"{i:03d}.png").write_bytes(png.read_bytes())
    then = "self.quit_action.trigger()" if how == "quit" else "os.kill(os.getpid(), 15)"
    hook = "import os\n" + WHEN_WORKING.format(then=then) + WHEN_SHOWN.format(then="busy(self)")
    result = run_main(tmp_path, hook, str(folder))
    code, message = (0, "") if how == "quit" else (128 + 15, "normscope: terminated (SIGTERM)\n")
    assert (result.returncode, result.stderr) == (code, message)
    pids = [int(p) for p in result.stdout.split()]
    assert len(pids) == 3
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_pytest_run_with_a_window_exits_0(tmp_path: Path) -> None:
    """``pytest tests/test_window.py`` passed, then exited 139 as Python finalized."""
    test = tmp_path / "test_one_window.py"
    test.write_text(
        textwrap.dedent(
            """
            from normscope.gui.window import MainWindow

            def test_window(qtbot):
                w = MainWindow()
                qtbot.addWidget(w)
                w.show()
                assert w.open_source("sample:digits")
                qtbot.waitUntil(lambda: w.results.frame is not None, timeout=60_000)
                w.close()
            """
        )
    )
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)]
    result = subprocess.run(
        cmd, cwd=tmp_path, env=child_env(tmp_path), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("signum", "message"),
    [
        (signal.SIGINT, "normscope: interrupted\n"),
        (signal.SIGTERM, "normscope: terminated (SIGTERM)\n"),
    ],
)
def test_a_signal_closes_the_window_cleanly(tmp_path: Path, signum: int, message: str) -> None:
    """Ctrl+C in the terminal printed a KeyboardInterrupt traceback once Qt's loop woke up,
    if ever; now it closes the window as Quit does."""
    child = start_main(tmp_path, WHEN_SHOWN.format(then="print('ready', flush=True)"))
    child.send_signal(signum)
    _, err = child.communicate(timeout=TIMEOUT)
    assert (child.returncode, err) == (128 + signum, message)
    assert (tmp_path / "settings" / "normscope.ini").exists()  # as Quit does


def test_wait_returns_once_the_running_job_stops(qtbot) -> None:
    """The window waits for its jobs as it closes: the wait must let them take the GIL."""
    from normscope.gui.worker import LatestOnly

    queue = LatestOnly()
    started = threading.Event()
    steps = []

    def job():
        started.set()
        for step in range(10**9):  # pure Python: it needs the GIL to go on
            steps.append(step)
            if step % 1000 == 0:
                yield None

    queue.submit(job)
    assert started.wait(TIMEOUT)
    queue.cancel()
    queue.wait()
    assert not queue._pool.activeThreadCount() and 0 < len(steps) < 10**9


# the child stops inside loading until a signal comes
WHILE_LOADING = """
import time
import normscope.core.loading

load = normscope.core.loading.load

def slow_load(*args, **kwargs):
    print("ready", flush=True)
    time.sleep(TIMEOUT)
    return load(*args, **kwargs)

normscope.core.loading.load = slow_load
""".replace("TIMEOUT", str(TIMEOUT))


@pytest.mark.parametrize("command", ["report", "normalize", "export"])
def test_sigint_exits_130_with_one_line(tmp_path: Path, command: str) -> None:
    out = ["-o", str(tmp_path / ("out.npy" if command == "normalize" else "out.png"))]
    child = start_main(
        tmp_path, WHILE_LOADING, command, "sample:digits", *(out if command != "report" else [])
    )
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=TIMEOUT)
    assert (child.returncode, err) == (130, "normscope: interrupted\n")


# the child stops halfway through writing the normalized array (its temporary file exists)
WHILE_WRITING = """
import time
import numpy as np

def half_save(file, array, allow_pickle=True):
    file.write(b"half an array")
    file.flush()
    print("ready", flush=True)
    time.sleep(TIMEOUT)

np.save = half_save
""".replace("TIMEOUT", str(TIMEOUT))


@pytest.mark.parametrize(
    ("signum", "message"),
    [
        (signal.SIGTERM, "normscope: terminated (SIGTERM)\n"),
        (signal.SIGHUP, "normscope: terminated (SIGHUP)\n"),
        (signal.SIGINT, "normscope: interrupted\n"),
    ],
)
def test_a_signal_while_writing_leaves_no_temporary_file(
    tmp_path: Path, signum: int, message: str
) -> None:
    out = tmp_path / "out" / "digits.npy"
    out.parent.mkdir()
    child = start_main(tmp_path, WHILE_WRITING, "normalize", "sample:digits", "-o", str(out))
    assert [p.name[:11] for p in out.parent.iterdir()] == [".normscope-"]  # it is writing
    child.send_signal(signum)
    _, err = child.communicate(timeout=TIMEOUT)
    assert (child.returncode, err) == (128 + signum, message)
    assert list(out.parent.iterdir()) == []


# --- output-side errors: one line naming the output and the reason --------------------------
def one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert ".normscope-" not in result.stderr and "digits.npy" not in result.stderr
    return result.stderr


@pytest.mark.parametrize("command", ["normalize", "export"])
def test_an_output_in_a_folder_that_is_a_file(tmp_path: Path, command: str) -> None:
    (tmp_path / "notes.txt").write_text("not a folder")
    out = tmp_path / "notes.txt" / ("x.npy" if command == "normalize" else "x.png")
    result = run_main(tmp_path, "", command, "sample:digits", "-o", str(out))
    assert one_line(result) == f"normscope: {out}: cannot write: Not a directory\n"


@pytest.mark.parametrize("command", ["normalize", "export"])
def test_an_output_that_is_a_folder(tmp_path: Path, command: str) -> None:
    out = tmp_path / ("x.npy" if command == "normalize" else "x.png")
    out.mkdir()
    result = run_main(tmp_path, "", command, "sample:digits", "-o", str(out))
    assert one_line(result) == f"normscope: {out}: cannot write: it is a folder\n"
    assert not list(tmp_path.glob(".normscope-*")) and not list(out.iterdir())


def test_an_output_in_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes into any folder, but not into /sys (a read-only mount)
        folder = Path("/sys")
    try:
        (folder / "probe").touch()
    except OSError as exc:
        reason = exc.strerror
    else:
        pytest.skip(f"{folder} is writable here")
    out = folder / "x.npy"
    result = run_main(tmp_path, "", "normalize", "sample:digits", "-o", str(out))
    assert one_line(result) == f"normscope: {out}: cannot write: {reason}\n"


def _limit_file_size() -> None:  # the child can write 4 KiB per file, then gets EFBIG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


@pytest.mark.parametrize("command", ["normalize", "export"])
def test_an_output_that_does_not_fit(tmp_path: Path, command: str) -> None:
    """A full disk, as a file size limit: the reason is the system's, and nothing is left."""
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / ("x.npy" if command == "normalize" else "x.png")
    result = run_main(
        tmp_path, "", command, "sample:photo", "-o", str(out), preexec_fn=_limit_file_size
    )
    assert one_line(result).startswith(f"normscope: {out}: cannot write: ")
    assert list(folder.iterdir()) == []


# --- Qt's log lines -------------------------------------------------------------------------
def test_a_successful_export_prints_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    result = run_main(tmp_path, "", "export", "sample:photo", "-o", str(out))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert out.stat().st_size > 0


def test_only_known_harmless_qt_messages_are_dropped(tmp_path: Path) -> None:
    hook = """
    from PySide6.QtCore import qWarning
    from normscope.gui.app import quiet_harmless_qt_messages

    quiet_harmless_qt_messages()
    qWarning("This plugin does not support propagateSizeHints()")
    qWarning("something else went wrong")
    """
    result = run_main(tmp_path, hook, "--help")
    assert result.returncode == 0
    assert result.stderr == "something else went wrong\n"
