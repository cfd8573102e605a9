"""Settings come back with the type they were stored with."""

from __future__ import annotations

from PySide6.QtCore import QByteArray

from normscope.gui.settings import MAX_RECENT, Settings


def test_round_trip_with_types(qapp, tmp_path) -> None:
    s = Settings(tmp_path)
    assert (s.method, s.axis, s.colormap, s.log_histogram) == ("keras", "1", "gray", True)
    assert s.recent_files == [] and s.last_folder == "" and s.geometry.isEmpty()
    s.method, s.axis, s.colormap, s.log_histogram = "preset:cv2.NORM_L2", "1,2", "viridis", False
    s.last_folder = str(tmp_path)
    s.geometry = QByteArray(b"\x01\x02")
    for i in range(MAX_RECENT + 3):
        s.add_recent(f"file{i}.png")
    s.add_recent("file5.png")
    s.sync()
    again = Settings(tmp_path)
    assert again.log_histogram is False  # a bool, not the string 'false'
    assert (again.method, again.axis, again.colormap) == ("preset:cv2.NORM_L2", "1,2", "viridis")
    assert again.geometry == QByteArray(b"\x01\x02")
    assert again.recent_files[0] == "file5.png" and len(again.recent_files) == MAX_RECENT
    assert again.recent_files.count("file5.png") == 1
    assert again.path.parent == tmp_path


def test_environment_folder_is_used(qapp, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NORMSCOPE_SETTINGS_DIR", str(tmp_path / "x"))
    assert Settings().path == tmp_path / "x" / "normscope.ini"


def test_browsed_positions_stay_in_memory_until_flushed(qapp, tmp_path) -> None:
    """Stepping through a dataset moves its position at every image; writing the settings
    file (and syncing it to disk) at every step was the GUI thread's to wait for."""
    s = Settings(tmp_path)
    for i in range(50):
        s.set_dataset_position("/data/cats", i)
    qapp.processEvents()  # QSettings writes what it was given when its events run
    assert s.dataset_position("/data/cats") == 49
    assert Settings(tmp_path).dataset_position("/data/cats") == 0  # nothing written yet
    s.flush_positions()
    s.sync()
    assert Settings(tmp_path).dataset_position("/data/cats") == 49
