"""The child process of ``test_dtypes.py::test_every_dtype_through_core_and_cli``.

Run as ``python tests/fuzz_dtypes_child.py EXAMPLES SEED``: a hypothesis loop draws arrays of
every dtype the loader accepts (integers of 1 to 8 bytes in both byte orders, bool with any
byte, float16/32/64 in both orders, longdouble, extremes, NaN and infinities, constants, tiny
shapes) and runs each through every method, a few presets, the rank diff, the histograms and
the display levels in-process, and through ``main.main`` (``report`` with every method and a
preset, ``normalize`` to a PNG view, ``export``) on a ``.npy`` it writes. It prints one line
per problem (``FAIL ...`` for an uncaught exception, a warning, or a command that does not
end in exit 0 or a one-line exit 1) and ``DONE <examples>`` at the end. A crash (a signal)
shows in the parent as a negative return code.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as seed_
from hypothesis import strategies as st

from normscope import main
from normscope.core.display import display_levels, symmetric_levels, to_uint8
from normscope.core.histogram import histogram, joint_histogram
from normscope.core.normalize import METHODS, Normalization, NormalizationError, from_preset
from normscope.core.ranks import diagnose, rank_compare, rank_diff, rank_preserving
from normscope.core.roles import infer_roles

INTS = [f"{o}{k}{n}" for o in "<>" for k in "ui" for n in (1, 2, 4, 8)]
FLOATS = [f"{o}f{n}" for o in "<>" for n in (2, 4, 8)]
LONG = [np.dtype(np.longdouble), np.dtype(np.longdouble).newbyteorder(">")]
SHAPES = [(1, 1), (1, 3), (2, 2), (3, 4), (2, 3, 3), (4, 5, 3), (2, 2, 3, 3)]
PRESETS = ["skimage.equalize_hist", "cv2.NORM_MINMAX", "sklearn.StandardScaler", "keras.normalize"]

problems: list[str] = []


def _values(dtype: np.dtype, n: int, draw: Callable) -> np.ndarray:
    """`n` values of `dtype`, drawn from its extremes, special values and random bytes."""
    if dtype.kind == "b":
        return np.array(draw(st.lists(st.integers(0, 255), min_size=n, max_size=n)), np.uint8)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        special = [info.min, info.max, 0, 1, info.max - 1, info.min + 1]
        ints = st.one_of(st.sampled_from(special), st.integers(int(info.min), int(info.max)))
        return np.array(draw(st.lists(ints, min_size=n, max_size=n)), dtype)
    special = [0.0, -0.0, 1.0, np.nan, np.inf, -np.inf, 1e16, -1e300, 1e300, 5e-324, 65504.0]
    floats = st.one_of(st.sampled_from(special), st.floats(allow_nan=True, allow_infinity=True))
    with np.errstate(over="ignore"):
        v = np.array(draw(st.lists(floats, min_size=n, max_size=n)), np.float64).astype(dtype)
    if dtype.itemsize > 8 and draw(st.booleans()):  # beyond float64's range
        with np.errstate(over="ignore", invalid="ignore"):
            v = v * np.longdouble("1e4000")
    return v


@st.composite
def arrays(draw: Callable) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(["|b1", *INTS, *FLOATS, *LONG])))
    shape = draw(st.sampled_from(SHAPES))
    n = int(np.prod(shape))
    v = _values(dtype, n, draw)
    if draw(st.integers(0, 5)) == 0:
        v[:] = v[0]  # constant
    a = v.view(bool) if dtype.kind == "b" else v.astype(dtype)
    return a.reshape(shape)


def _check(label: str, fn: Callable[[], object]) -> object:
    """Run `fn`; a NormalizationError is a clean refusal, anything else uncaught a problem."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return fn()
        except NormalizationError:
            return None
        except Exception as exc:
            text = str(exc).splitlines()[0] if str(exc) else ""
            problems.append(f"FAIL {label}: {type(exc).__name__}: {text}")
            return None
        finally:
            for w in caught:
                where = f"{Path(w.filename).name}:{w.lineno}"
                problems.append(f"FAIL {label}: {w.category.__name__}: {w.message} ({where})")


def _core(x: np.ndarray, tag: str) -> None:
    roles = infer_roles(x.shape)
    calls = []
    for method in METHODS:
        n = Normalization(method=method, axis=-1 if METHODS[method].uses_axis else "default")
        if method == "meanstd" and "C" not in roles:
            n = n.with_(mean=(0.5,), std=(0.25,))
        calls.append((method, n))
    calls += [(p, from_preset(p, roles)) for p in PRESETS]
    _check(f"{tag} histogram", lambda: histogram(x))
    _check(f"{tag} display_levels", lambda: (display_levels(x), display_levels(x, mode="dtype")))
    for name, n in calls:
        y = _check(f"{tag} {name} apply", lambda n=n: n.apply(x, roles=roles))
        if not isinstance(y, np.ndarray):
            continue
        label = f"{tag} {name}"
        _check(f"{label} rank_diff", lambda y=y: rank_diff(x, y, roles=roles))
        maps = _check(f"{label} rank_compare", lambda y=y: rank_compare(x, y, roles=roles))
        _check(f"{label} rank_preserving", lambda y=y: rank_preserving(x, y, roles=roles))
        _check(f"{label} diagnose", lambda y=y: diagnose(x, y, roles=roles))
        _check(f"{label} joint_histogram", lambda y=y: joint_histogram(x, y))
        _check(f"{label} to_uint8", lambda y=y: to_uint8(y, display_levels(y)))
        if maps is not None:
            shift = maps[1].displacement
            _check(f"{label} symmetric_levels", lambda s=shift: symmetric_levels(s))


def _cli(x: np.ndarray, tag: str, folder: Path) -> None:
    path = folder / "case.npy"
    np.save(path, x)
    runs = [["report", str(path), "--json", "--method", method] for method in METHODS]
    runs.append(["report", str(path), "--preset", "skimage.equalize_hist"])
    runs.append(["normalize", str(path), "--method", "dtype", "-o", str(folder / "out.png")])
    runs.append(["export", str(path), "--method", "minmax", "-o", str(folder / "out.png")])
    for args in runs:
        method = args[-1] if args[0] == "report" else args[0]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _check(f"{tag} cli {method}", lambda a=args: main.main(a))
        lines = err.getvalue().strip().splitlines()
        if code == 0 or (code == 1 and len(lines) == 1):
            continue
        if code is not None:
            problems.append(f"FAIL {tag} cli {method}: exit {code}: {' / '.join(lines)[:200]}")


def run(examples: int, seed: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="normscope-fuzz-"))
    count = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(arrays())
    def one(x: np.ndarray) -> None:
        nonlocal count
        count += 1
        tag = f"{x.dtype.str}{list(x.shape)}"
        before = len(problems)
        _core(x, tag)
        _cli(x, tag, folder)
        for line in problems[before:]:
            print(f"{line}  data={x.view(np.uint8).ravel().tolist()[:48]}", flush=True)

    seed_(seed)(one)()
    print(f"DONE {count}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(int(sys.argv[1]), int(sys.argv[2])))
