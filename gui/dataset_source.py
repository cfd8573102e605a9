"""Browse a dataset lazily: one image decoded at a time, its neighbours prefetched.

:class:`DatasetBrowser` keeps a :class:`~normscope.core.dataset.Dataset` (a folder listed
without decoding, a memory-mapped ``.npy``) for an :class:`~normscope.gui.model.InspectorModel`.
:meth:`DatasetBrowser.list` opens a dataset on the decoding thread (listing 100,000 files
takes a while; the window stays responsive and says so). When the model's index changes the
browser puts the decoded image in the model at once if it is in its bounded cache, else asks
its decoding thread for it; meanwhile the thread decodes the neighbours the user is likely to
step to next. A file that cannot be read is remembered with
its reason, which :attr:`DatasetBrowser.error` holds while it is the image on show.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from normscope.core.dataset import Dataset, FolderDataset, open_dataset
from normscope.core.loading import Loaded, LoadError
from normscope.gui.model import InspectorModel

CACHE_IMAGES = 64  # decoded images kept, at most…
CACHE_BYTES = 192 << 20  # …and at most this many bytes of them
AHEAD = (1, -1, 2, 3, -2)  # the neighbours decoded before they are asked for, in this order
COLOUR_WORDS = {0: "grey", 1: "grey", 2: "grey + alpha", 3: "RGB", 4: "RGBA"}  # by channels


def describe(image: np.ndarray) -> str:
    """``"500×375 RGB"``: an image's width × height and colours.

    Examples
    --------
    >>> describe(np.zeros((375, 500, 3), np.uint8)), describe(np.zeros((4, 5), np.uint16))
    ('500×375 RGB', '5×4 grey')
    """
    h, w = image.shape[:2]
    channels = image.shape[2] if image.ndim == 3 else 0
    colours = COLOUR_WORDS.get(channels, f"{channels} channels")
    return f"{w}×{h} {colours}"


class _Cache:
    """Decoded images (or the reasons they could not be read) by index, least recent out first,
    bounded by count and bytes. Shared by the GUI and decoding threads."""

    def __init__(self, images: int, nbytes: int) -> None:
        self.images, self.nbytes = images, nbytes
        self._items: OrderedDict[int, np.ndarray | str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, i: int) -> np.ndarray | str | None:
        with self._lock:
            item = self._items.get(i)
            if item is not None:
                self._items.move_to_end(i)
            return item

    def __contains__(self, i: int) -> bool:
        with self._lock:
            return i in self._items

    def put(self, i: int, item: np.ndarray | str) -> None:
        with self._lock:
            if i in self._items:
                return
            self._items[i] = item
            self._bytes += item.nbytes if isinstance(item, np.ndarray) else 0
            while len(self._items) > 1 and (
                len(self._items) > self.images or self._bytes > self.nbytes
            ):
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes if isinstance(old, np.ndarray) else 0

    def __len__(self) -> int:
        return len(self._items)


class DatasetBrowser(QObject):
    """Puts `model`'s current image of a lazily read dataset into the model.

    Signals
    -------
    shownChanged()
        Another image is on show, or could not be read (:attr:`error` says why).
    opened()
        A dataset asked for with :meth:`list` is open (:attr:`dataset`).
    failed(reason)
        A dataset asked for with :meth:`list` cannot be opened: the one-line reason.
    """

    shownChanged = Signal()
    opened = Signal()
    failed = Signal(str)
    _decoded = Signal(int)  # from the decoding thread
    _listed = Signal(int, object, int)  # from the decoding thread: (asked, dataset|error, index)

    def __init__(
        self,
        model: InspectorModel,
        parent: QObject | None = None,
        *,
        cache_images: int = CACHE_IMAGES,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.dataset: Dataset | None = None
        self.shown = -1  # the index of the image on show (or whose error is)
        self.error: str | None = None  # why the image on show could not be read
        self.cache = _Cache(cache_images, cache_bytes)
        self._cache_limits = (cache_images, cache_bytes)
        self._wanted: list[int] = []  # what the thread decodes next, the first first
        self._asked = 0  # counts the datasets asked for: a listing asked before the last is stale
        self._to_list: tuple[int, str, int] | None = None  # (asked, source, index) to open
        self.listing: str | None = None  # the source being listed
        self._wake = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="normscope-decode", daemon=True)
        self._thread.start()
        self._decoded.connect(self._on_decoded)
        self._listed.connect(self._on_listed)
        model.indexChanged.connect(self._request)

    # --- public ------------------------------------------------------------------------------
    def list(self, source: str | os.PathLike, index: int = 0) -> None:
        """Open `source` (a folder, an ``.npy``) as a dataset on the decoding thread, then
        browse it from image `index`; :attr:`opened` or :attr:`failed` tells how it went.
        Opening anything else before it is listed drops it."""
        with self._wake:
            self._asked += 1
            self._to_list = (self._asked, os.fspath(source), index)
            self._wanted = []
            self._wake.notify()
        self.listing = os.fspath(source)

    def open(self, dataset: Dataset, index: int = 0) -> None:
        """Browse `dataset` from image `index` (the first when it is out of range)."""
        index = index if 0 <= index < len(dataset) else 0
        with self._wake:
            self._asked += 1
            self._to_list = None
            self._wanted = []
            self.dataset = dataset
            self.cache = _Cache(*self._cache_limits)
        self.shown, self.error = -1, None
        self.model.set_dataset(dataset, index)
        self._request(index)

    def close(self) -> None:
        """Stop browsing (another file is opened)."""
        self.listing = None
        with self._wake:
            self._asked += 1
            self._to_list = None
            self._wanted = []
            self.dataset = None
        self.shown, self.error = -1, None
        self.model.set_dataset(None)

    def shutdown(self) -> None:
        """Stop the decoding thread and wait for it (at most one image's decoding)."""
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join()

    def name(self, i: int) -> str:
        """Image `i`'s file relative to the dataset's folder, or its place in an array."""
        ds = self.dataset
        if isinstance(ds, FolderDataset):
            return Path(ds.path(i)).relative_to(ds.root).as_posix()
        return f"{Path(ds.source).name}[{i}]"

    def status_text(self) -> str:
        """``image 1,234 of 50,000 · class "cat" · cat/0001.jpg · 500×375 RGB`` (1-based)."""
        ds, i = self.dataset, self.model.index
        if ds is None:
            return ""
        parts = [f"image {i + 1:,} of {len(ds):,}"]
        label = ds.label(i)
        if label is not None:
            parts.append(f'class "{label}"')
        parts.append(self.name(i))
        if self.shown != i:
            parts.append("reading…")
        elif self.error is not None:
            parts.append("unreadable")
        elif self.model.loaded is not None:
            parts.append(describe(self.model.loaded.array))
        return " · ".join(parts)

    def is_idle(self) -> bool:
        """Whether the image asked for is on show (or its error is)."""
        return self.dataset is None or self.shown == self.model.index

    # --- asking ------------------------------------------------------------------------------
    def _request(self, index: int) -> None:
        ds = self.dataset
        if ds is None:
            return
        item = self.cache.get(index)
        if item is not None:
            self._show(index, item)
        order = [index, *(index + d for d in AHEAD)]
        with self._wake:
            self._wanted = [i for i in order if 0 <= i < len(ds) and i not in self.cache]
            self._wake.notify()

    def _on_listed(self, asked: int, result: Dataset | LoadError, index: int) -> None:
        if asked != self._asked:
            return  # something else was opened since
        self.listing = None
        if isinstance(result, LoadError):
            self.failed.emit(str(result))
        else:
            self.open(result, index)
            self.opened.emit()

    def _on_decoded(self, index: int) -> None:
        if self.dataset is not None and index == self.model.index and self.shown != index:
            item = self.cache.get(index)
            if item is not None:
                self._show(index, item)

    def _show(self, index: int, item: np.ndarray | str) -> None:
        self.shown = index
        if isinstance(item, str):
            self.error = item
            self.model.set_dataset_error(index)
        else:
            self.error = None
            roles = "HWC" if item.ndim == 3 else "HW"
            ds = self.dataset
            loaded = Loaded(item, roles, ds.path(index), self.name(index))
            self.model.show_dataset_image(loaded, index)
        self.shownChanged.emit()

    # --- the decoding thread -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stop and not self._wanted and self._to_list is None:
                    self._wake.wait()
                if self._stop:
                    return
                to_list, self._to_list = self._to_list, None
                if to_list is None:
                    index = self._wanted.pop(0)
                    ds, cache = self.dataset, self.cache
            if to_list is not None:
                asked, source, index = to_list
                try:
                    listed: Dataset | LoadError = open_dataset(source)
                except LoadError as exc:
                    listed = exc
                self._listed.emit(asked, listed, index)
                continue
            if ds is None or index in cache:
                continue
            try:
                item: np.ndarray | str = ds.read(index)
            except Exception as exc:  # any reason a file cannot be read is shown, not raised
                item = str(exc) or type(exc).__name__
            cache.put(index, item)
            self._decoded.emit(index)


LAZY_NPY_BYTES = 256 << 20  # a larger .npy is browsed memory-mapped, not loaded


def opens_lazily(source: str | os.PathLike) -> bool:
    """Whether `source` opens as a dataset read on demand: a folder, or a large ``.npy``."""
    text = os.fspath(source)
    if text.startswith("sample:"):
        return False
    path = Path(text)
    if path.is_dir():
        return True
    return path.suffix.lower() == ".npy" and path.is_file() and path.stat().st_size > LAZY_NPY_BYTES
