"""Dataset statistics against their oracles: Python fractions on small data, numpy float64
over the concatenated pixels on real images (scikit-image's photos and LFW faces,
scikit-learn's digits), numpy's percentiles bit for bit; conversions, refusals, skipped files,
the cache, cancelling, and a real dask.distributed cluster losing a worker."""

from __future__ import annotations

import gzip
import os
import signal
import struct
import sys
import threading
import time
from decimal import Decimal, localcontext
from fractions import Fraction

import imageio.v3 as iio
import numpy as np
import pytest
import skimage.data
from sklearn.datasets import load_digits

from normscope.core import stats as stats_module
from normscope.core.dataset import ArrayDataset, FolderDataset
from normscope.core.stats import (
    DEFAULT_PERCENTILES,
    Cancelled,
    StatsError,
    dataset_stats,
    merge,
)

QS = (*DEFAULT_PERCENTILES, 0.0, 12.5, 33.3, 100.0)
RNG = np.random.default_rng(15)


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def oracle_std(values: np.ndarray, ddof: int = 0, divisor: int = 1) -> float:
    """The correctly rounded standard deviation, from exact integers and 60-digit decimals."""
    v = values.astype(object)
    n, s, q = len(v), int(v.sum()), int((v * v).sum())
    var = Fraction(q * n - s * s, n * (n - ddof) * divisor * divisor)
    with localcontext() as ctx:
        ctx.prec = 60
        return float((Decimal(var.numerator) / Decimal(var.denominator)).sqrt())


def as_rgb(a: np.ndarray) -> np.ndarray:
    """torchvision's default loader: grey repeated into RGB, alpha dropped."""
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2)
    return a[..., :3]


# --- real photos in a folder -------------------------------------------------------------------

PHOTOS = {
    "colour/astronaut.png": skimage.data.astronaut(),
    "colour/coffee.png": skimage.data.coffee(),
    "colour/sub/chelsea.png": skimage.data.chelsea(),
    "grey/camera.png": skimage.data.camera(),
    "grey/coins.png": skimage.data.coins(),
    "logo/logo.png": skimage.data.logo(),  # RGBA
}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for name, a in PHOTOS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(root / name, a)
    return root


@pytest.fixture(scope="module")
def photo_stats(photos):
    return dataset_stats(photos, percentiles=QS)


def test_real_photos_match_numpy_over_the_concatenation(photo_stats) -> None:
    s = photo_stats
    images = [as_rgb(PHOTOS[n]) for n in sorted(PHOTOS, key=lambda n: FOLDER_ORDER.index(n))]
    pixels = np.concatenate([a.reshape(-1, 3) for a in images])
    assert (s.images, s.dtype, s.scale, len(s.channels)) == (6, "uint8", 255.0, 3)
    assert s.by_channels == (2, 0, 3, 1) and s.converted == 3  # 2 grey, 1 RGBA
    assert s.classes == ("colour", "grey", "logo") and s.skipped == ()
    for c, ch in enumerate(s.channels):
        x = pixels[:, c]
        f = x.astype(np.float64)
        assert ch.count == len(x) and ch.sum == int(x.sum(dtype=np.int64))
        # exact: correctly rounded, hence also within 1e-12 of numpy's float64
        assert ch.raw.mean == float(Fraction(ch.sum, len(x)))
        assert ch.raw.std == oracle_std(x) and ch.raw.std_sample == oracle_std(x, 1)
        assert ch.unit.mean == float(Fraction(ch.sum, len(x) * 255))
        assert ch.unit.std == oracle_std(x, divisor=255)
        assert rel(ch.raw.mean, f.mean()) < 1e-12 and rel(ch.raw.std, f.std()) < 1e-12
        assert rel(ch.unit.std, (f / 255).std()) < 1e-12
        assert (ch.raw.min, ch.raw.max) == (x.min(), x.max())
        np.testing.assert_array_equal(ch.histogram, np.bincount(x, minlength=256))
        # numpy's percentiles, bit for bit, on both scales
        assert [v for _, v in ch.raw.percentiles] == np.percentile(x, QS).tolist()
        assert [v for _, v in ch.unit.percentiles] == np.percentile(f / 255, QS).tolist()
    assert s.overall.raw.mean == float(Fraction(int(pixels.sum(dtype=np.int64)), pixels.size))
    assert [v for _, v in s.overall.raw.percentiles] == np.percentile(pixels, QS).tolist()


FOLDER_ORDER = [
    "colour/astronaut.png",
    "colour/coffee.png",
    "colour/sub/chelsea.png",
    "grey/camera.png",
    "grey/coins.png",
    "logo/logo.png",
]


def test_usual_snippets_are_reported_with_their_error(photo_stats) -> None:
    images = [as_rgb(PHOTOS[n]).reshape(-1, 3) / 255 for n in FOLDER_ORDER]
    means = np.mean([a.mean(axis=0) for a in images], axis=0)
    stds = np.mean([a.std(axis=0) for a in images], axis=0)
    snip = photo_stats.snippet()
    np.testing.assert_allclose(snip["mean_of_image_means"], means, rtol=1e-12)
    np.testing.assert_allclose(snip["mean_of_image_stds"], stds, rtol=1e-9)
    err = (stds - np.array(photo_stats.std)) / np.array(photo_stats.std)
    np.testing.assert_allclose(snip["std_error"], err, rtol=1e-9)
    assert all(abs(e) > 0.01 for e in snip["std_error"])  # the images differ in size
    code = photo_stats.code()
    assert code["torchvision"].startswith("transforms.Normalize(mean=(0.")
    assert "max_pixel_value=255)" in code["albumentations"]
    assert code["keras"].startswith("keras.layers.Normalization(axis=-1, mean=(")


def test_the_numpy_engine_equals_the_compiled_one(photos, photo_stats, monkeypatch) -> None:
    x16 = RNG.integers(0, 65536, (7, 9, 11), np.uint16)
    compiled16 = dataset_stats(x16)
    monkeypatch.setattr(stats_module._engine, "kernels", lambda: None)
    plain = dataset_stats(photos, percentiles=QS)
    assert without_engine(plain.to_dict()) == without_engine(photo_stats.to_dict())
    assert without_engine(dataset_stats(x16).to_dict()) == without_engine(compiled16.to_dict())


# --- digits, faces, 16-bit -------------------------------------------------------------------


def test_digits_equal_fractions_from_an_idx_gz(tmp_path) -> None:
    x = load_digits().images.astype(np.uint8) * 15  # 0..240, 1797 images of 8 x 8
    head = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", *x.shape)
    with gzip.open(tmp_path / "digits-idx3-ubyte.gz", "wb") as f:
        f.write(head + x.tobytes())
    s = dataset_stats(tmp_path / "digits-idx3-ubyte.gz", chunk_bytes=4096)
    assert s.engine["tasks"] == 29 and s.images == 1797 and s.kind == "array"
    v = x.ravel()
    n, total = v.size, int(v.sum(dtype=np.int64))
    (ch,) = s.channels
    assert (ch.count, ch.sum) == (n, total)
    assert ch.unit.mean == float(Fraction(total, n * 255))
    assert ch.unit.std == oracle_std(v, divisor=255)
    assert ch.unit.std_sample == oracle_std(v, 1, divisor=255)
    assert s.code()["torchvision"] == (
        f"transforms.Normalize(mean=({ch.unit.mean:.6g},), std=({ch.unit.std:.6g},))"
    )


def test_small_uint16_data_equals_fractions() -> None:
    x = RNG.integers(0, 65536, (5, 4, 3, 2), np.uint16)
    s = dataset_stats(x)
    for c, ch in enumerate(s.channels):
        v = x[..., c].ravel()
        assert ch.raw.mean == float(Fraction(int(v.sum(dtype=np.int64)), v.size))
        assert ch.raw.std == oracle_std(v) and ch.unit.std == oracle_std(v, divisor=65535)
        assert [q for _, q in ch.unit.percentiles] == np.percentile(v / 65535, QS[:5]).tolist()


def test_float_faces_merge_with_chan_to_1e12() -> None:
    faces = skimage.data.lfw_subset()  # 200 x 25 x 25 float64 in [0, 1]
    s = dataset_stats(faces, chunk_bytes=faces[0].nbytes * 3 * 7)  # 7 faces a task
    assert s.engine["tasks"] == 29 and s.dtype == "float64" and s.scale == 1.0
    (ch,) = s.channels
    assert ch.histogram is None and ch.sum is None and ch.raw.percentiles is None
    assert rel(ch.raw.mean, faces.mean()) < 1e-12 and rel(ch.raw.std, faces.std()) < 1e-12
    assert rel(ch.raw.std_sample, faces.std(ddof=1)) < 1e-12
    assert (ch.raw.min, ch.raw.max) == (faces.min(), faces.max())
    holes = faces.astype(np.float32)
    holes[3, 4, 5], holes[100, 0, 0] = np.nan, np.inf
    s = dataset_stats(holes, chunk_bytes=holes[0].nbytes * 3 * 10)
    (ch,) = s.channels
    ok = holes[np.isfinite(holes)].astype(np.float64)
    assert ch.nonfinite == 2 and ch.count == ok.size
    assert rel(ch.raw.mean, ok.mean()) < 1e-12 and rel(ch.raw.std, ok.std()) < 1e-12


def test_8_and_16_bit_mixed_are_refused_unless_unit(tmp_path) -> None:
    cam = skimage.data.camera()
    deep = skimage.data.coins().astype(np.uint16) * 257 + RNG.integers(0, 200, (303, 384))
    deep = deep.astype(np.uint16)
    iio.imwrite(tmp_path / "a8.png", cam)
    iio.imwrite(tmp_path / "b16.png", deep)
    with pytest.raises(StatsError, match=r"8-bit images such as uint8 \(.*a8.png\) and 16-bit"):
        dataset_stats(tmp_path)
    s = dataset_stats(tmp_path, unit=True, percentiles=QS)
    unit = np.concatenate([cam.ravel() / 255, deep.ravel() / 65535])
    (ch,) = s.channels
    assert ch.raw is None and ch.sum is None and s.dtype == "uint16+uint8"
    assert rel(ch.unit.mean, unit.mean()) < 1e-12 and rel(ch.unit.std, unit.std()) < 1e-12
    assert [v for _, v in ch.unit.percentiles] == np.percentile(unit, QS).tolist()
    assert "# on x / 65535" in s.code()["keras"]


def test_unreadable_files_are_skipped_and_listed(tmp_path) -> None:
    iio.imwrite(tmp_path / "a.png", skimage.data.coins())
    iio.imwrite(tmp_path / "b.png", skimage.data.camera()[:100])
    good = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.jpg").write_text("hello")
    (tmp_path / "empty.png").write_bytes(b"")
    s = dataset_stats(tmp_path)
    assert (s.images, s.listed) == (2, 5)
    skipped = dict(s.skipped)
    assert sorted(os.path.basename(p) for p in skipped) == ["cut.png", "empty.png", "text.jpg"]
    assert "empty (0 bytes)" in skipped[str(tmp_path / "empty.png")]
    assert s.to_dict()["skipped"]["count"] == 3
    for bad in ("a.png", "b.png"):
        (tmp_path / bad).unlink()
    with pytest.raises(StatsError, match=r"no image could be read \(3 skipped\)"):
        dataset_stats(tmp_path)


def test_merge_repeats_grey_into_rgb_and_empty_is_neutral() -> None:
    grey = stats_module.block_partial(np.array([[[7], [9]]], np.uint8), "g")
    rgb = stats_module.block_partial(np.array([[[1, 2, 3]]], np.uint8), "c")
    both = merge(grey, stats_module.Partial(), rgb)
    assert both.channels == 3 and both.images == 2
    assert both.levels8[:, [1, 2, 3, 7, 9]].tolist() == [[1, 0, 0, 1, 1], [0, 1, 0, 1, 1],
                                                          [0, 0, 1, 1, 1]]  # fmt: skip
    assert merge(rgb, grey).levels8.tolist() == both.levels8.tolist()


# --- cache, cancel ---------------------------------------------------------------------------


def small_folder(root, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        h, w = RNG.integers(5, 20, 2)
        a = RNG.integers(0, 256, (h, w) if i % 4 == 0 else (h, w, 3), np.uint8)
        (root / f"c{i % 3}").mkdir(parents=True, exist_ok=True)
        iio.imwrite(root / f"c{i % 3}" / f"{i:04d}.png", a)


def without_engine(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "engine"}


def test_cache_resumes_and_reads_only_new_files(tmp_path, monkeypatch) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    small_folder(data, 120)
    first = dataset_stats(data, cache=cache)
    assert first.engine["cached"] == 0 and first.engine["tasks"] > 3
    reads = []
    real_read = FolderDataset.read
    monkeypatch.setattr(
        FolderDataset, "read", lambda self, i: reads.append(i) or real_read(self, i)
    )
    again = dataset_stats(data, cache=cache)
    assert reads == [] and again.engine["cached"] == again.engine["tasks"]
    assert without_engine(again.to_dict()) == without_engine(first.to_dict())
    small_folder(data, 3, start=500)
    grown = dataset_stats(data, cache=cache)
    assert 0 < len(reads) < 100  # the groups the new files fell in, of 123 files
    assert grown.engine["cached"] >= grown.engine["tasks"] - 3 and grown.images == 123
    assert without_engine(grown.to_dict()) == without_engine(dataset_stats(data).to_dict())


def test_cancel_stops_and_a_rerun_resumes(tmp_path) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    small_folder(data, 80)
    stop = threading.Event()
    seen = []

    def progress(p) -> None:
        seen.append(p)
        if p.tasks_done >= 2:
            stop.set()

    with pytest.raises(Cancelled) as info:
        dataset_stats(data, cache=cache, progress=progress, cancel=stop)
    got = info.value.progress
    assert 2 <= got.tasks_done < got.tasks_total and got.images_total == 80
    assert "stopped after" in str(info.value)
    resumed = dataset_stats(data, cache=cache)
    assert resumed.engine["cached"] >= 2
    assert without_engine(resumed.to_dict()) == without_engine(dataset_stats(data).to_dict())
    assert seen[0].tasks_done == 0 and seen[-1].seconds >= seen[0].seconds


def test_limit_takes_the_first_images() -> None:
    x = RNG.integers(0, 256, (30, 4, 4), np.uint8)
    s = dataset_stats(x, limit=10)
    assert s.images == 10 and s.channels[0].sum == int(x[:10].sum(dtype=np.int64))


# --- a real cluster ----------------------------------------------------------------------------


class SlowFaces(ArrayDataset):
    """Faces read 30 ms a range, so that a worker can be killed while tasks run."""

    def read_range(self, start: int, stop: int) -> np.ndarray:
        time.sleep(0.03)
        return super().read_range(start, stop)


def test_a_local_cluster_gives_the_same_bits_even_losing_a_worker(
    photos, photo_stats, monkeypatch
) -> None:
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    faces = (skimage.data.lfw_subset() * 255).astype(np.uint8)
    floats = skimage.data.lfw_subset()
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        address = cluster.scheduler_address
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address.removeprefix("tcp://"))
        remote = dataset_stats(photos, percentiles=QS)  # HOST:PORT from the environment
        assert remote.engine["scheduler"] == address and remote.engine["workers"] == 2
        assert without_engine(remote.to_dict()) == without_engine(photo_stats.to_dict())
        monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
        chunk = faces[0].nbytes * 4  # 50 tasks
        assert without_engine(dataset_stats(floats, scheduler=address, chunk_bytes=chunk * 24)
                              .to_dict()) == without_engine(
            dataset_stats(floats, chunk_bytes=chunk * 24).to_dict())  # fmt: skip
        local = dataset_stats(SlowFaces(faces), chunk_bytes=chunk)
        pids = list(client.run(os.getpid).values())
        killed = []

        def kill(p) -> None:
            if p.tasks_done == 4 and not killed:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(p)

        lost = dataset_stats(SlowFaces(faces), chunk_bytes=chunk, scheduler=address, progress=kill)
        assert killed and killed[0].tasks_done < killed[0].tasks_total
        assert lost.images == 200 and lost.engine["tasks"] == local.engine["tasks"] == 50
        assert without_engine(lost.to_dict()) == without_engine(local.to_dict())


def test_a_memmapped_npy_equals_the_array_in_memory(tmp_path) -> None:
    x = np.stack([skimage.data.astronaut()[i : i + 64, :64] for i in range(0, 448, 16)])
    np.save(tmp_path / "crops.npy", x)
    mapped = dataset_stats(tmp_path / "crops.npy", chunk_bytes=5 * x[0].nbytes)
    assert mapped.kind == "npy" and mapped.engine["tasks"] == 6
    memory = dataset_stats(x)
    ours, theirs = (*mapped.channels, mapped.overall), (*memory.channels, memory.overall)
    assert [c.to_dict() for c in ours] == [c.to_dict() for c in theirs]
    # the snippet's float sums follow the chunks; the exact statistics do not
    np.testing.assert_allclose(mapped.snippet_stds, memory.snippet_stds, rtol=1e-13)
