"""Crafted and unusual inputs (issue 13, input side): limits that hold, images read as viewers
show them, and bad command-line values refused as bad usage with one line."""

from __future__ import annotations

import gzip
import io
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from normscope.core.loading import DEFAULT_MAX_BYTES, LoadError, load
from normscope.main import main

ROOT = Path(__file__).resolve().parent.parent


def npy_header(descr: object, shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def npz_with(path: Path, member: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", member)
    return path


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_bytes(width: int, height: int, depth: int, colour: int, rows: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


# --- 1. npz members with subarray and void dtypes -------------------------------------------


def test_subarray_dtypes_count_toward_the_pixel_limit(tmp_path: Path) -> None:
    # shape (2, 2) of 100 x 100 blocks: 40,000 values once numpy expands the subarray
    member = npy_header(("|u1", (100, 100)), (2, 2))
    member += bytes(40_000)
    (tmp_path / "sub.npy").write_bytes(member)
    for path in (npz_with(tmp_path / "sub.npz", member), tmp_path / "sub.npy"):
        with pytest.raises(LoadError, match="40,000 values, over the limit of 1,000"):
            load(path, max_pixels=1000)


def test_void_and_structured_members_are_refused_before_inflating(tmp_path: Path) -> None:
    # the headers declare raw bytes (512 MiB) or records, and no payload follows: refused from
    # the header alone, not by numpy failing after inflating
    for descr in ("|V536870912", [("a", "|u1"), ("b", "<f4")]):
        member = npy_header(descr, (1, 1))
        path = npz_with(tmp_path / "void.npz", member)
        with pytest.raises(LoadError, match="NormScope needs real numbers"):
            load(path)
        (tmp_path / "void.npy").write_bytes(member)
        with pytest.raises(LoadError, match="NormScope needs real numbers"):
            load(tmp_path / "void.npy")


# --- 2. Pillow's own limit never applies ----------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".jpg", ".gif"])
def test_pillow_limit_never_overrides_ours(tmp_path: Path, monkeypatch, suffix: str) -> None:
    path = tmp_path / f"a{suffix}"
    Image.fromarray(np.zeros((40, 30, 3), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow would refuse 1,200 pixels
    assert load(path).array.shape[:2] == (40, 30)
    with pytest.raises(LoadError, match="over the limit of 500; raise the pixel limit"):
        load(path, max_pixels=500)
    assert Image.MAX_IMAGE_PIXELS == 100  # restored


def test_pillow_limit_is_restored_after_concurrent_loads(tmp_path: Path, monkeypatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    paths = []
    for i in range(8):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((30, 40), i, np.uint8)).save(paths[-1])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with ThreadPoolExecutor(4) as pool:
        arrays = list(pool.map(lambda p: load(p).array, paths * 4))
    assert [int(a[0, 0]) for a in arrays] == list(range(8)) * 4
    assert Image.MAX_IMAGE_PIXELS == 100


# --- 3. a limit in bytes --------------------------------------------------------------------


def test_the_byte_limit_is_checked_from_headers(tmp_path: Path) -> None:
    assert DEFAULT_MAX_BYTES == 1 << 30
    # a 2^28-value float64 array declared by a tiny file: 2 GiB once read
    bomb = tmp_path / "bomb.npy"
    bomb.write_bytes(npy_header("<f8", (1 << 14, 1 << 14)))
    with pytest.raises(LoadError, match=r"2\.0 GiB, over the limit of 1\.0 GiB"):
        load(bomb)
    npz = npz_with(tmp_path / "bomb.npz", npy_header("<f8", (1 << 14, 1 << 14)))
    with pytest.raises(LoadError, match=r"over the limit of 1\.0 GiB"):
        load(npz)
    idx = tmp_path / "bomb-idx3-ubyte.gz"
    idx.write_bytes(gzip.compress(bytes([0, 0, 0x08, 2]) + struct.pack(">2I", 16384, 16384)))
    with pytest.raises(LoadError, match=r"256\.0 MiB, over the limit of 1\.0 MiB"):
        load(idx, max_bytes=1 << 20)
    small = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    for suffix, write in ((".npy", np.save), (".tif", tifffile.imwrite), (".png", iio.imwrite)):
        path = tmp_path / f"small{suffix}"
        write(path, small)
        with pytest.raises(LoadError, match=r"8\.0 KiB, over the limit of 7\.8 KiB"):
            load(path, max_bytes=8000)
        assert load(path, max_bytes=8192).array.dtype == np.uint16
    jpg = tmp_path / "small.jpg"
    iio.imwrite(jpg, np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(LoadError, match=r"12\.0 KiB, over the limit of 9\.8 KiB"):
        load(jpg, max_bytes=10_000)
    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(3):
        iio.imwrite(folder / f"{i}.png", np.zeros((64, 64), np.uint8))
    with pytest.raises(LoadError, match="folder: declares 3 x 64 x 64"):
        load(folder, max_bytes=10_000)
    assert load(folder, max_bytes=3 * 4096).array.shape == (3, 64, 64)


def test_palette_images_count_the_channels_they_open_with(tmp_path: Path) -> None:
    path = tmp_path / "palette.gif"
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(path)
    with Image.open(path) as im:
        assert im.mode == "P"
    with pytest.raises(LoadError, match="declares 10 x 10 x 3 = 300 values"):
        load(path, max_pixels=299)
    assert load(path, max_pixels=300).array.shape == (10, 10, 3)


def test_tiff_pages_of_different_types_stack_as_numpy_would(tmp_path: Path) -> None:
    path = tmp_path / "mixed.tif"
    tifffile.imwrite(path, np.full((4, 5), 200, np.uint8))
    tifffile.imwrite(path, np.full((4, 5), -3, np.int16), append=True)
    a = load(path).array
    assert a.dtype == np.int16 and a.shape == (2, 4, 5)
    assert a[0, 0, 0] == 200 and a[1, 0, 0] == -3


def test_cli_byte_limit(tmp_path: Path, capsys) -> None:
    code = main(["report", "sample:photo", "--max-bytes", "1K"])
    err = capsys.readouterr().err
    assert code == 1 and "over the limit of 1.0 KiB" in err and err.count("\n") == 1
    assert main(["report", "sample:photo", "--max-bytes", "2M"]) == 0
    for good in ("512M", "2G", "1048576", "1.5GiB", "64kb"):
        assert main(["report", "sample:digits", "--max-bytes", good]) == 0, good
    for bad in ("0", "-5", "lots", "1X", "nan"):
        assert main(["report", "sample:digits", "--max-bytes", bad]) == 2, bad
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--max-bytes" in err
    main(["report", "--help"])
    out = capsys.readouterr().out
    out = " ".join(out.split())
    assert "--max-bytes" in out and "--max-pixels" in out and "default 1.0 GiB" in out


def test_readme_documents_both_limits() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "--max-bytes" in readme and "--max-pixels" in readme


# --- 4. images as a viewer shows them -------------------------------------------------------


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (20, 10), (0, 255, 0, 0)).save(path)
    a = load(path).array
    with Image.open(path) as im:
        expected = np.asarray(im.convert("RGB"))
    assert a.shape == (10, 20, 3)
    np.testing.assert_array_equal(a, expected)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(np.zeros((10, 20, 3), np.uint8)).save(path, exif=exif.tobytes())
    assert load(path).array.shape == (20, 10, 3)


def test_a_multi_picture_jpeg_opens_its_first_picture(tmp_path: Path) -> None:
    path = tmp_path / "camera.jpg"  # an MPO, as cameras write: a photo and a smaller preview
    first = Image.fromarray(np.full((16, 24, 3), 200, np.uint8))
    first.save(path, format="MPO", save_all=True, append_images=[first.resize((12, 8))])
    with Image.open(path) as im:
        assert im.n_frames == 2
    assert load(path).array.shape == (16, 24, 3)


@pytest.mark.parametrize("suffix", [".png", ".webp", ".gif"])
def test_every_animation_frame_is_read(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"anim{suffix}"
    frames = [Image.fromarray(np.full((8, 6, 3), v, np.uint8)) for v in (10, 100, 200)]
    frames[0].save(path, save_all=True, append_images=frames[1:], lossless=True)
    a = load(path).array
    assert a.shape[:3] == (3, 8, 6)
    assert [int(f[0, 0, 0]) for f in a] == [10, 100, 200]


# --- 5. 16-bit grey+alpha PNG ---------------------------------------------------------------


def test_sixteen_bit_grey_alpha_png_is_refused_in_the_right_words(tmp_path: Path) -> None:
    pixels = np.array([[[1000 * (i + j), 65535] for j in range(5)] for i in range(4)], ">u2")
    rows = b"".join(b"\x00" + row.tobytes() for row in pixels)
    path = tmp_path / "la16.png"
    path.write_bytes(png_bytes(5, 4, 16, 4, rows))
    with pytest.raises(LoadError) as info:
        load(path)
    assert "16-bit grey+alpha PNG" in str(info.value) and "colour" not in str(info.value)
    rgb = tmp_path / "rgb16.png"
    rgb.write_bytes(png_bytes(1, 1, 16, 2, b"\x00" + bytes(6)))
    with pytest.raises(LoadError, match="16-bit colour PNG"):
        load(rgb)


# --- 6, 7. names in errors; the empty path --------------------------------------------------


def test_sample_errors_name_the_sample() -> None:
    with pytest.raises(LoadError) as info:
        load("sample:digits", max_pixels=10)
    assert str(info.value).startswith("sample:digits: ") and "digits.npy" not in str(info.value)
    assert info.value.path == "sample:digits"


def test_an_empty_path_is_refused(capsys) -> None:
    with pytest.raises(LoadError, match="empty"):
        load("")
    for command in ("report", "export"):
        argv = [command, ""] + (["-o", "x.png"] if command == "export" else [])
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "empty" in err


# --- 8. tifffile's log lines ----------------------------------------------------------------


def test_a_successful_tiff_load_prints_nothing(tmp_path: Path) -> None:
    path = tmp_path / "odd.tif"
    a = np.arange(64, dtype=np.uint8).reshape(8, 8)
    # an ASCII SubfileType: tifffile logs "invalid subfiletype" and reads the image anyway
    tifffile.imwrite(path, a, subfiletype=None, extratags=[(254, 2, 0, "x", True)])
    code = (
        "from normscope.core.loading import load; import sys; print(load(sys.argv[1]).array.sum())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.strip() == str(a.sum())
    assert result.stderr == ""


def test_tifffile_log_lines_join_a_fatal_reason(tmp_path: Path, monkeypatch) -> None:
    import logging

    path = tmp_path / "x.tif"
    tifffile.imwrite(path, np.zeros((4, 4), np.uint8))

    def broken(self, *args, **kwargs):
        logging.getLogger("tifffile").warning("strip 0 is corrupt")
        raise ValueError("decoding failed")

    monkeypatch.setattr(tifffile.TiffPage, "asarray", broken)
    with pytest.raises(LoadError) as info:
        load(path)
    assert str(info.value) == (
        "x.tif: cannot be read as .tif: decoding failed (tifffile: strip 0 is corrupt)"
    )


# --- 9. option values -----------------------------------------------------------------------

BAD_USAGE = {
    "axis out of range": ["report", "sample:digits", "--axis", "5"],
    "axis twice": ["report", "sample:digits", "--method", "minmax", "--axis", "1,1"],
    "roles too short": ["report", "sample:digits", "--roles", "HW"],
    "roles bad letter": ["report", "sample:digits", "--roles", "NHX"],
    "scope without a channel": ["report", "sample:digits", "--scope", "channel"],
    "scope without a batch": ["report", "sample:photo", "--scope", "image"],
    "export scope": ["export", "sample:digits", "--scope", "channel", "-o", "OUT.png"],
    "max-pixels zero": ["report", "sample:digits", "--max-pixels", "0"],
    "max-pixels negative": ["report", "sample:digits", "--max-pixels", "-3"],
    "max-pixels not an integer": ["report", "sample:digits", "--max-pixels", "1.5"],
    "order nan": ["report", "sample:digits", "--order", "nan"],
    "order zero": ["report", "sample:digits", "--order", "0"],
    "order negative": ["report", "sample:digits", "--order", "-2"],
    "order minus inf": ["report", "sample:digits", "--order", "-inf"],
    "report index -1": ["report", "sample:digits", "--index", "-1"],
    "report index 64": ["report", "sample:digits", "--index", "64"],
    "export index -1": ["export", "sample:digits", "--index", "-1", "-o", "OUT.png"],
    "export index 64": ["export", "sample:digits", "--index", "64", "-o", "OUT.png"],
    "normalize index -1": ["normalize", "sample:digits", "--index", "-1", "-o", "OUT.npy"],
    "normalize index 64": ["normalize", "sample:digits", "--index", "64", "-o", "OUT.npy"],
    "normalize index huge": ["normalize", "sample:digits", "--index", "10" * 10, "-o", "OUT.npy"],
    "normalize index 1e20": ["normalize", "sample:digits", "--index", "1e20", "-o", "OUT.npy"],
}


@pytest.mark.parametrize("case", sorted(BAD_USAGE))
def test_bad_option_values_are_bad_usage(tmp_path: Path, capsys, case: str) -> None:
    argv = [str(tmp_path / a.lower()) if a.startswith("OUT") else a for a in BAD_USAGE[case]]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == "" and err.count("\n") == 1 and err.startswith("normscope")
    assert list(tmp_path.iterdir()) == []


def test_index_errors_read_the_same_in_every_command(tmp_path: Path, capsys) -> None:
    for index in ("-1", "64"):
        errors = set()
        for command, out in (("report", None), ("normalize", "o.npy"), ("export", "o.png")):
            extra = [] if out is None else ["-o", str(tmp_path / out)]
            assert main([command, "sample:digits", "--index", index, *extra]) == 2
            errors.add(capsys.readouterr().err.split(" (see ")[0])
        assert len(errors) == 1, errors


def test_the_window_refuses_a_negative_index_too(capsys) -> None:
    try:
        code = main(["sample:digits", "--index", "-1"])
    except SystemExit as exc:  # argparse's own exit, before any window
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'-1'" in err


def test_the_index_out_of_range_is_checked_before_normalizing(capsys, monkeypatch) -> None:
    from normscope.core.normalize import Normalization

    def fail(*args, **kwargs):
        raise AssertionError("normalized before checking the index")

    monkeypatch.setattr(Normalization, "apply", fail)
    assert main(["report", "sample:digits", "--index", "64"]) == 2
    assert "64" in capsys.readouterr().err


def test_big_index_in_a_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "o.npy"
    cmd = [
        sys.executable,
        "-m",
        "normscope",
        "normalize",
        "sample:digits",
        "--index",
        "1" + "0" * 20,
    ]
    result = subprocess.run(
        [*cmd, "-o", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


OPTION_VALUES = st.one_of(
    st.sampled_from(
        "0 -1 1 2 3 5 inf -inf nan 1e20 100000000000000000000 1,2 0,0 1,2,3 none default 1.5 "
        "NHW hwn HW NHWC all image channel row column 512M 0K 2G x_train".split()
    ),
    st.text(max_size=5),
)
OPTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["--axis", "--order", "--index", "--roles", "--scope", "--max-pixels", "--max-bytes"]
        ),
        OPTION_VALUES,
    ),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(["sample:digits", "sample:photo"]), OPTIONS)
def test_any_option_values_give_an_answer_or_one_line(capsys, source: str, options) -> None:
    argv = ["report", source, *(f"{name}={value}" for name, value in options)]
    code = main(argv)  # an exception escaping main() fails the test
    out, err = capsys.readouterr()
    if code == 0:
        assert err == "" and out
    else:
        assert code in (1, 2) and out == "" and err.count("\n") == 1, (argv, err)
