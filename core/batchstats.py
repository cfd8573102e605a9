"""Batch statistics taken from outside the array: one image normalized as its dataset would be.

A :class:`BatchStats` holds the statistics of a normalization whose axes include the batch
axis N (z-score over N, H, W: the dataset's per-channel mean and std), computed over a whole
dataset that is never in memory (:mod:`core.dataset_norm` computes them). Given to a
:class:`~core.normalize.Normalization` as ``batch=``, it lets that normalization apply to ONE
image of the dataset exactly as the in-memory batch normalization treats that image, with the
statistics' shape broadcast against the image.

Arrays are kept on the raw scale, in float64, shaped like one image with its reduced axes set
to 1 (``(1, 1, 3)`` per channel of an RGB image, ``(28, 28)`` per pixel position over N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from normscope.core.methods import NormalizationError

__all__ = ["BATCH_METHODS", "BatchStats"]

#: The methods that can take their statistics from a whole dataset, and what they need.
BATCH_METHODS: dict[str, str] = {
    "zscore": "mean and std",
    "minmax": "minimum and maximum",
    "lp": "Lp norm",
    "keras": "L2 norm",
}


def _float_out(x: np.ndarray) -> np.dtype:
    return np.dtype(np.float32) if x.dtype in (np.float16, np.float32) else np.dtype(np.float64)


@dataclass(frozen=True, eq=False)
class BatchStats:
    """Statistics over axes including N of a dataset, for one image at a time.

    Compared and hashed by identity: a normalization holding them is the same call only with
    the same statistics object.

    Attributes
    ----------
    source : str
        The dataset's source (path or name).
    roles : str
        The dataset's axis roles, N first: ``"NHWC"`` for colour images (after the loader's
        conversion), ``"NHW"`` for grey ones.
    over : str
        The reduced axes' roles, N always among them: ``"NHW"`` (per channel), ``"NHWC"``
        (the whole dataset), ``"N"`` (per pixel position and channel), ``"NC"``…
    images : int
        Images the statistics come from (unreadable files left out).
    count : int
        Values behind each statistic.
    mean, std, low, high : ndarray
        Mean, population std (ddof 0), minimum and maximum, shaped like one image with its
        reduced axes set to 1.
    norms : dict of float to ndarray
        The L1, L2 and L∞ norms (order 1.0, 2.0, inf), when computed.
    exact : str
        How the statistics were computed, in words (shown beside them).
    scale : float
        The unit scale's divisor (255 for 8-bit data): the words show means and stds on it.

    Examples
    --------
    >>> b = BatchStats("toy", "NHW", "N", 2, 2, mean=np.array([[1.0, 2.0]]),
    ...                std=np.array([[1.0, 0.0]]), low=np.zeros((1, 2)), high=np.ones((1, 2)))
    >>> b.apply(np.array([[2, 2]], np.uint8), "zscore", roles="HW")
    array([[1., 0.]])
    """

    source: str
    roles: str
    over: str
    images: int
    count: int
    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray
    high: np.ndarray
    norms: dict[float, np.ndarray] | None = None
    exact: str = ""
    scale: float = 1.0

    def __repr__(self) -> str:
        """Short and stable: what the statistics are of, not their numbers."""
        return (
            f"BatchStats({self.source!r}, {self.roles} over {self.over}, "
            f"images={self.images}, id={id(self):#x})"
        )

    def words(self, method: str, *, numbers: bool = True) -> str:
        """Which statistics are in use and from how many images, in one sentence.

        Without `numbers`, the values are left out (a short line).

        >>> b = BatchStats("toy", "NHWC", "NHW", 50000, 9, mean=np.full((1, 1, 3), 127.5),
        ...                std=np.full((1, 1, 3), 51.0), low=np.zeros((1, 1, 3)),
        ...                high=np.full((1, 1, 3), 255.0), scale=255.0)
        >>> b.words("zscore")[:67]
        "z-score over N,H,W: the dataset's per-channel mean (0.5, 0.5, 0.5) "
        >>> b.words("zscore")[67:]
        'and std (0.2, 0.2, 0.2) on the unit scale (÷ 255), from 50,000 images'
        >>> b.words("minmax", numbers=False)
        "min-max over N,H,W: the dataset's per-channel minimum and maximum, from 50,000 images"
        """
        over = ",".join(self.over)
        label = {"zscore": "z-score", "minmax": "min-max", "lp": "Lp norm", "keras": "Keras"}
        head = f"{label.get(method, method)} over {over}: the dataset's"
        tail = f"from {self.images:,} images"
        if method in ("lp", "keras"):
            return f"{head} norms per {self._per()}, {tail}"
        names = ("mean", "std") if method == "zscore" else ("minimum", "maximum")
        values = (self.mean, self.std) if method == "zscore" else (self.low, self.high)
        if self.mean.size > 4:
            return f"{head} {names[0]} and {names[1]} per {self._per()}, {tail}"
        per = "per-channel " if self.mean.size > 1 else ""
        if not numbers:
            return f"{head} {per}{names[0]} and {names[1]}, {tail}"
        unit = self.scale != 1 and method == "zscore"

        def fmt(a: np.ndarray) -> str:
            return ", ".join(f"{v / (self.scale if unit else 1):.4g}" for v in a.ravel())

        scale = f" on the unit scale (÷ {self.scale:g})" if unit else ""
        pair = f"{names[0]} ({fmt(values[0])}) and {names[1]} ({fmt(values[1])})"
        return f"{head} {per}{pair}{scale}, {tail}"

    def _per(self) -> str:
        kept = [r for r in self.roles[1:] if r not in self.over]
        words = {"H": "row", "W": "column", "C": "channel"}
        if "H" in kept and "W" in kept:
            h, w = self.mean.shape[:2]
            return f"pixel position ({w}×{h})" + (" and channel" if "C" in kept else "")
        return " and ".join(words[r] for r in kept) or "dataset"

    def check(self, roles: str, over: str) -> None:
        """Refuse an image with axis `roles` (no N) asked over `over` that these do not fit.

        The whole of a grey image (``"NHW"`` of ``HW``) is the whole dataset (``"NHWC"``).

        Raises
        ------
        NormalizationError
            With the reason, in one sentence.
        """
        if "N" in roles or "N" not in over:
            raise NormalizationError(
                f"the dataset's statistics normalize one image (no N axis) over axes with N; "
                f"got an image {roles} over {over}"
            )
        if set(over) == set("N" + roles):
            over = "NHWC"
        if over != self.over and "C" not in roles and self.over == "NHW" and "C" in self.roles:
            raise NormalizationError(self._grey_words())
        if over != self.over:
            raise NormalizationError(
                f"the dataset's statistics are over {self.over}; this image is asked over {over}"
            )

    def _grey_words(self) -> str:
        return (
            "this image is grey but the dataset's statistics are per channel of its "
            f"{self.mean.shape[-1]} channels (torchvision's loader reads it as RGB)"
        )

    def _fits(self, x: np.ndarray, stat: np.ndarray) -> None:
        try:
            if np.broadcast_shapes(x.shape, stat.shape) != x.shape:
                raise ValueError
        except ValueError:
            shape = " × ".join(map(str, x.shape))
            if x.ndim == 3 and stat.ndim == 3 and x.shape[2] != stat.shape[2] != 1:
                why = (
                    f"the dataset's statistics are for {stat.shape[2]} channels "
                    "(torchvision's loader drops alpha and reads grey as RGB)"
                )
            else:
                kept = " × ".join(str(s) for s in stat.shape)
                why = f"the dataset's statistics over {self.over} are {kept} (another size)"
            raise NormalizationError(f"this image is {shape} but {why}") from None

    def apply(
        self,
        x: np.ndarray,
        method: str,
        *,
        roles: str,
        order: float = 2,
        feature_range: tuple[float, float] = (0.0, 1.0),
    ) -> np.ndarray:
        """Image `x` (axes `roles`, no N) normalized with these statistics by `method`.

        The arithmetic is :mod:`core.methods`' own, in the same order, so with the same
        statistics the result is the in-memory batch normalization's image, bit for bit.
        """
        if method not in BATCH_METHODS:
            raise NormalizationError(
                f"{method} cannot take its statistics from a dataset; over N it needs every "
                f"image in memory (use {', '.join(BATCH_METHODS)})"
            )
        if x.ndim == 2 and self.mean.ndim == 3:  # a grey image, statistics over channels
            if "C" not in self.over or self.mean.shape[-1] != 1:
                raise NormalizationError(self._grey_words())
            grey = x[..., np.newaxis]
            return self.apply(
                grey, method, roles=roles + "C", order=order, feature_range=feature_range
            )[..., 0]
        v = x.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            match method:
                case "zscore":
                    self._fits(v, self.mean)
                    v -= self.mean
                    np.divide(v, np.where(self.std == 0, 1.0, self.std), out=v)
                    np.copyto(v, 0.0, where=self.std == 0)
                    return v.astype(_float_out(x), copy=False)
                case "minmax":
                    self._fits(v, self.low)
                    a, b = feature_range
                    span = self.high - self.low
                    out: np.ndarray = (v - self.low) / np.where(span == 0, 1.0, span) * (b - a) + a
                    return out.astype(_float_out(x), copy=False)
            norm = self._norm(float(order))
            self._fits(v, norm)
            out = np.divide(v, np.where(norm == 0, 1.0, norm))
            if method == "keras":  # float64, or the input's float dtype (as Keras)
                return out.astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False)
            return out.astype(_float_out(x), copy=False)

    def _norm(self, order: float) -> np.ndarray:
        if self.norms is None or order not in self.norms:
            raise NormalizationError(
                f"the dataset's L{order:g} norms were not computed (orders 1, 2 and inf are)"
            )
        return self.norms[order]
