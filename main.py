"""NormScope's entry point: the window, or a report, a normalized array or a picture, headless.

normscope [PATH]                                   open the window on PATH (or the digits)
normscope report PATH [OPTIONS] [--json]           print the verdict and metrics
normscope normalize PATH [OPTIONS] -o OUT          write the normalized array
normscope export PATH [OPTIONS] -o OUT.png         write the comparison picture
normscope report|export PATH --after AFTER ...     the same for an after array made elsewhere
normscope export PATH --compare SPEC -o OUT.png    write a grid of normalizations side by side
normscope stats PATH [--json] [STATS OPTIONS]      exact mean, std and levels of a dataset

Failures are logged with their tracebacks to a file in the platform's log folder
(``normscope.core.logs.log_path``); ``--verbose`` logs to stderr too.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

COMMANDS = ("report", "normalize", "export", "stats")
EXIT_INTERRUPTED = 130
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
# Ctrl+C, kill, a closed terminal (no SIGHUP on Windows): exit 128 + the signal
STOP_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)
)

VERBOSE = "--verbose"
VERBOSE_HELP = "log to stderr too (the log file has every failure with its traceback)"


class UsageError(Exception):
    """Options that do not make sense together (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage on one line, as every other error is (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"normscope: {message} (see {self.prog} --help)\n")


def _parse_axis(text: str) -> int | tuple[int, ...] | str | None:
    from normscope.core.wording import parse_axis

    try:
        return parse_axis(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parse_order(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:  # NaN too
        raise argparse.ArgumentTypeError(f"takes a number above 0 or inf, not {text!r}")
    return value


def _parse_index(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"takes the number of an image, 0 for the first, not {text!r}"
        )
    return value


def _parse_max_pixels(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"takes a whole number above 0, not {text!r}")
    return value


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _parse_size(text: str) -> int:
    """Bytes from ``1048576``, ``512M``, ``2G``, ``1.5GiB`` or ``64kb`` (units of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    value = int(float(match[1]) * _UNITS[match[2]]) if match else 0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"takes a size above 0 such as 512M, 2G or 1048576, not {text!r}"
        )
    return value


def _add_options(p: argparse.ArgumentParser) -> None:
    from normscope.core.loading import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, format_bytes
    from normscope.core.normalize import METHODS, PRESETS
    from normscope.core.roles import SCOPES

    p.add_argument("path", help="an image, .npy, .npz, MNIST IDX file, folder, or sample:NAME")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--method", choices=list(METHODS), help="normalization method (default keras)"
    )
    which.add_argument(
        "--preset",
        choices=list(PRESETS),
        metavar="NAME",
        help="a library call: " + ", ".join(PRESETS),
    )
    p.add_argument(
        "--axis",
        type=_parse_axis,
        default="default",
        metavar="AXES",
        help="axes reduced over: 1 | 1,2 | -1 | none (default: the method's)",
    )
    p.add_argument(
        "--order", type=_parse_order, default=2.0, help="norm order: 1, 2 or inf (above 0)"
    )
    p.add_argument(
        "--scope", choices=list(SCOPES), help="rank scope (default: image for a batch, all for one)"
    )
    p.add_argument("--index", type=_parse_index, help="one image of a batch (0 for the first)")
    p.add_argument("--key", help="the array of an .npz file (default x_train or the first)")
    p.add_argument("--roles", help="axis roles such as NHW or HWC (default: inferred)")
    p.add_argument(VERBOSE, action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    p.add_argument(
        "--max-pixels",
        type=_parse_max_pixels,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"refuse files that declare more values than this (default {DEFAULT_MAX_PIXELS:,})",
    )
    p.add_argument(
        "--max-bytes",
        type=_parse_size,
        default=DEFAULT_MAX_BYTES,
        metavar="SIZE",
        help="refuse files whose array would take more bytes than this: 512M, 2G, 1.5GiB or "
        f"a number of bytes (default {format_bytes(DEFAULT_MAX_BYTES)}); both limits are checked "
        "from the file's header, before reading it",
    )


def _add_after(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--after",
        metavar="AFTER",
        help="compare PATH with this array, normalized elsewhere (same shape, or the same axes "
        "in another order: see --after-roles); instead of --method or --preset",
    )
    p.add_argument(
        "--after-roles",
        metavar="ROLES",
        help="the axis roles of AFTER when they differ from PATH's, e.g. CHW from ToTensor()",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="normscope",
        usage="%(prog)s [PATH] [--key NAME] [--index N]\n"
        "       %(prog)s {report,normalize,export,stats} PATH [options]",
        description="See what an image normalization really does to your data. "
        "With no command the inspector window opens (on PATH, or on the bundled digits).",
        epilog="Exit status: 0 success, 1 bad input or an unwritable output (the file and the "
        "reason on one line), 2 bad usage, 128 + the signal after Ctrl+C (130), SIGTERM or SIGHUP.",
    )
    parser.add_argument(VERBOSE, action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="{report,normalize,export,stats}")
    rep = sub.add_parser("report", prog="normscope report", help="print the verdict and metrics")
    _add_options(rep)
    _add_after(rep)
    rep.add_argument("--json", action="store_true", help="print one JSON object")
    norm = sub.add_parser(
        "normalize",
        prog="normscope normalize",
        help="write the normalized array (.npy, .tiff, .png)",
    )
    _add_options(norm)
    norm.add_argument("-o", "--output", required=True, help=".npy (exact), .tif/.tiff (exact "
                      "float), or .png (16-bit view of the output's own range)")  # fmt: skip
    exp = sub.add_parser(
        "export", prog="normscope export", help="write the comparison picture (no display needed)"
    )
    _add_options(exp)
    _add_after(exp)
    exp.add_argument("-o", "--output", required=True, help=".png, .jpg or .tiff")
    exp.add_argument(
        "--compare",
        metavar="SPEC",
        help="write a grid of normalizations side by side instead, one tile each with its "
        "verdict and code line: 'axes' for every axis choice of --method (each axis, each "
        "pair, none, the default), or entries separated by commas: METHOD, METHOD:AXES "
        "(1 | 1,2 | none; numbers after a comma add axes to the entry) or preset:NAME, e.g. "
        "keras:1,dtype,minmax:1,2,preset:torchvision.Normalize",
    )
    _add_stats_parser(sub)
    return parser


def _parse_percentiles(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(p) for p in text.replace(",", " ").split())
    except ValueError:
        values = ()
    if not values or not all(0 <= v <= 100 for v in values):
        raise argparse.ArgumentTypeError(
            f"takes numbers from 0 to 100 such as 0.5,25,75, not {text!r}"
        )
    return values


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"takes a positive whole number, not {text!r}")
    return value


def _add_stats_parser(sub) -> None:
    from normscope.core.loading import DEFAULT_MAX_PIXELS
    from normscope.core.stats import DEFAULT_PERCENTILES, default_cache_dir

    st = sub.add_parser(
        "stats",
        prog="normscope stats",
        help="exact per-channel mean, std and levels of a whole dataset",
        description="Exact per-channel statistics of a folder (ImageFolder layout), .npy "
        "(memory-mapped), .npz or MNIST IDX file, on dask: the local cores, or a "
        "dask.distributed scheduler. Ctrl+C stops (exit 130); the same command resumes.",
    )
    st.add_argument("path", help="a folder of images, .npy, .npz, MNIST IDX file or sample:NAME")
    st.add_argument("--json", action="store_true", help="print one JSON object")
    st.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="HOST:PORT of a dask.distributed scheduler (default $DASK_SCHEDULER_ADDRESS, "
        "else the local cores)",
    )
    st.add_argument(
        "--percentiles",
        type=_parse_percentiles,
        default=(),
        metavar="Q,…",
        help=f"more percentiles, besides {', '.join(f'{q:g}' for q in DEFAULT_PERCENTILES)}",
    )
    st.add_argument("--strict", action="store_true", help="exit 1 if any file is unreadable")
    st.add_argument("--limit", type=_positive, metavar="N", help="only the first N images")
    st.add_argument(
        "--unit",
        action="store_true",
        help="allow 8- and 16-bit images mixed: statistics on the unit scale only",
    )
    cache = st.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache",
        metavar="DIR",
        type=Path,
        default=default_cache_dir(),
        help="keep finished parts here, to resume (default %(default)s)",
    )
    cache.add_argument("--no-cache", action="store_true", help="keep nothing")
    st.add_argument("--key", help="the array of an .npz file (default x_train or the first)")
    st.add_argument("--roles", help="axis roles of an array such as NHW or NHWC")
    st.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse images that declare more values than this (default {DEFAULT_MAX_PIXELS:,})",
    )


def _window_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="normscope", add_help=False)
    p.add_argument("path", nargs="?")
    p.add_argument("--key")
    p.add_argument("--index", type=_parse_index)
    p.add_argument(VERBOSE, action="store_true")
    return p


def _normalization(args: argparse.Namespace, loaded):
    """The Normalization the options ask for, or the :class:`AfterArray` of ``--after``."""
    from normscope.core.normalize import Normalization, from_preset

    roles = loaded.roles
    if getattr(args, "after", None) is not None:
        return _after(args, loaded)
    if getattr(args, "after_roles", None) is not None:
        raise UsageError("--after-roles needs --after")
    if args.preset:
        if args.axis != "default":
            raise UsageError("--axis cannot be combined with --preset: a preset fixes its axis")
        return from_preset(args.preset, roles)
    return Normalization(method=args.method or "keras", axis=args.axis, order=args.order)


def _after(args: argparse.Namespace, loaded):
    from normscope.core.loading import load
    from normscope.core.pairing import AfterArray

    given = {"--method": args.method, "--preset": args.preset}
    given["--axis"] = None if args.axis == "default" else args.axis
    given["--order"] = None if args.order == 2.0 else args.order
    clash = [name for name, value in given.items() if value is not None]
    if clash:
        raise UsageError(f"--after cannot be combined with {clash[0]}: the after array is made")
    _progress(f"opening {args.after}")
    after = load(args.after, key=args.key, max_pixels=args.max_pixels, max_bytes=args.max_bytes)
    return AfterArray.pair(
        loaded.array, after.array, loaded.roles, after_roles=args.after_roles, path=after.source
    )


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        print(f"normscope: {message}…", file=sys.stderr, flush=True)


def _ensure_gui_app():
    from normscope.gui.app import application

    return application()


def _check_options(args: argparse.Namespace, shape: tuple[int, ...], roles: str) -> None:
    """Refuse --axis, --scope and --index values that do not fit the array, before any work."""
    from normscope.core.roles import normalize_axis, scope_axes

    if args.axis != "default":
        try:
            normalize_axis(args.axis, len(shape))
        except ValueError as exc:
            raise UsageError(f"--axis: {exc}") from None
    # export compares one image: "image" and "all" both mean the whole of it
    export_whole = args.command == "export" and args.scope in ("image", "all")
    scope_roles = roles.replace("N", "") if args.command == "export" else roles
    if args.scope is not None and not export_whole and scope_axes(args.scope, scope_roles) is None:
        raise UsageError(f"--scope {args.scope} does not fit an array with roles {scope_roles}")
    if args.index is None:
        return
    if "N" not in roles:
        raise UsageError("--index needs a batch (an array with an N axis)")
    size = shape[roles.index("N")]
    if args.index >= size:
        raise UsageError(
            f"--index {args.index} is out of range: the batch has {size} images (0 to {size - 1})"
        )


def _run(args: argparse.Namespace) -> int:
    from normscope.core.loading import load
    from normscope.core.roles import check_roles

    if not args.path:
        raise UsageError("PATH is empty: name a file, a folder or sample:NAME")
    if args.command == "stats":
        return _run_stats(args)

    _progress(f"opening {args.path}")
    loaded = load(args.path, key=args.key, max_pixels=args.max_pixels, max_bytes=args.max_bytes)
    if args.roles is not None:
        try:
            roles = check_roles(args.roles, loaded.array.ndim)
        except ValueError as exc:
            raise UsageError(f"--roles: {exc}") from None
        loaded = dataclasses.replace(loaded, roles=roles)
    _check_options(args, loaded.array.shape, loaded.roles)
    normalization = _normalization(args, loaded)
    if args.command == "report":
        from normscope.core.engine import kernels_for
        from normscope.core.report import build_report

        _progress("normalizing and diffing ranks")
        with kernels_for(loaded.array.size):  # no numba to load for a small array
            report = build_report(loaded, normalization, scope=args.scope, index=args.index)
        if args.json:
            print(json.dumps(report, ensure_ascii=False))
        else:
            _print_report(report)
        return 0
    out = Path(args.output)
    from_file = not loaded.source.startswith("sample:")
    if from_file and out.exists() and out.resolve() == Path(loaded.source).resolve():
        raise UsageError(f"{out.name}: refusing to overwrite the input file")
    if args.command == "normalize":
        from normscope.core.report import NORMALIZED_SUFFIXES as allowed
    else:
        _ensure_gui_app()
        from normscope.gui.export import IMAGE_FORMATS as allowed
    if out.suffix.lower() not in allowed:
        raise UsageError(f"{out.name}: {args.command} writes {', '.join(allowed)} files")
    if not out.parent.exists():
        raise UsageError(f"{out}: the folder {out.parent} does not exist")
    if args.command == "normalize":
        _progress("normalizing")
        y = normalization.apply(loaded.array, roles=loaded.roles)
        if args.index is not None:
            import numpy as np

            y = np.take(y, args.index, axis=loaded.roles.index("N"))
        from normscope.core.report import write_normalized

        write_normalized(y, out)
        return 0
    from normscope.core.report import build_comparison
    from normscope.gui.export import render_comparison, save_image

    if args.compare is not None:
        grid = _compare_grid(args, loaded, normalization)
        save_image(grid, out, protect=loaded.source if from_file else None)
        return 0
    _progress("building the comparison")
    comp = build_comparison(loaded, normalization, index=args.index, scope=args.scope)
    save_image(render_comparison(comp), out, protect=loaded.source if from_file else None)
    return 0


def _compare_grid(args: argparse.Namespace, loaded, normalization):
    """The picture of ``export --compare``: one tile per normalization the spec names."""
    from normscope.core.compare import parse_spec
    from normscope.gui.grid_export import grid_tiles, render_grid

    try:
        entries = parse_spec(args.compare, loaded.roles, normalization)
    except ValueError as exc:
        raise UsageError(f"--compare: {exc}") from None
    _progress(f"comparing {len(entries)} normalizations")
    tiles = grid_tiles(loaded, entries, index=args.index, scope=args.scope)
    where = loaded.name + (f", image {args.index or 0}" if "N" in loaded.roles else "")
    return render_grid(tiles, f"{where}: {len(entries)} normalizations compared")


def _print_report(r: dict) -> None:
    from normscope.core.wording import coefficient_text

    inp, norm, out, ranks = r["input"], r["normalization"], r["output"], r["ranks"]
    p = ranks["pairs"]
    share = p["discordant"] / p["total"] if p["total"] else 0.0
    kept = [s for s, ok in r["preserved_within"].items() if ok]
    lost = [s for s, ok in r["preserved_within"].items() if ok is False]
    rho, tau = (coefficient_text(ranks[k]["mean"]) for k in ("spearman", "kendall_tau_b"))
    lines = [
        f"{inp['path']}: {' x '.join(map(str, inp['shape']))} {inp['dtype']} ({inp['roles']})",
        *_normalization_lines(norm, inp["roles"]),
        f"output: {out['dtype']}, min {out['min']}, max {out['max']}, mean {out['mean']}",
        f"ranks kept within: {', '.join(kept) or 'nothing'}; not within: {', '.join(lost) or '-'}",
        f"scope {ranks['scope']}: {ranks['groups']:,} groups, {ranks['groups_with_inversions']:,} "
        f"with inversions; {share:.2%} of {p['total']:,} pairs inverted",
        f"  concordant {p['concordant']:,}, discordant {p['discordant']:,}, ties broken "
        f"{p['ties_broken']:,}, created {p['ties_created']:,}, kept {p['ties_kept']:,}",
        f"  Spearman ρ {rho}, Kendall τ-b {tau}",
        "rank preserving: n/a (no pair of pixels to compare)"
        if ranks["rank_preserving"] is None
        else f"rank preserving: {ranks['rank_preserving']}, "
        f"strictly: {ranks['strictly_rank_preserving']}",
    ]
    if inp["nonfinite_groups"]:
        lines.insert(1, f"  {inp['nonfinite_groups']:,} groups hold NaN or inf")
    if ranks["nan_pixels"]:
        lines.append(f"  {ranks['nan_pixels']:,} NaN pixels are left out of every pair")
    if r["batch"]:
        b = r["batch"]
        worst = "" if b["worst_image"] is None else f"; the most in image {b['worst_image']}"
        lines.append(
            f"batch: {b['images_with_inversions']:,} of {b['images']:,} images have pairs "
            f"flipped within the image{worst}"
        )
    print("\n".join(lines))


def _run_stats(args: argparse.Namespace) -> int:
    from normscope.core.stats import DEFAULT_PERCENTILES, Cancelled, dataset_stats

    percentiles = tuple(dict.fromkeys((*DEFAULT_PERCENTILES, *args.percentiles)))
    cache = None if args.no_cache else args.cache
    last = []
    with _StatsProgress() as show:

        def progress(p) -> None:
            last[:] = [p]
            show(p)

        try:
            stats = dataset_stats(
                args.path,
                unit=args.unit,
                percentiles=percentiles,
                scheduler=args.scheduler,
                limit=args.limit,
                cache=cache,
                progress=progress,
                key=args.key,
                roles=args.roles,
                max_pixels=args.max_pixels,
            )
        except (Interrupted, KeyboardInterrupt, Cancelled) as exc:
            p = last[0] if last else None
            done = f"{p.images_done:,} of {p.images_total:,} images" if p else "0 images"
            kept = f"; finished parts are kept in {cache}: run it again to resume" if cache else ""
            print(f"normscope: stopped after {done}{kept}", file=sys.stderr)
            return 128 + exc.signum if isinstance(exc, Interrupted) else EXIT_INTERRUPTED
    if stats.skipped and args.strict:
        for path, reason in stats.skipped:
            print(f"normscope: {path}: {reason}", file=sys.stderr)
        print(f"normscope: {len(stats.skipped):,} unreadable files (--strict)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(stats.to_dict(), ensure_ascii=False))
    else:
        print(_stats_text(stats))
    return 0


class _StatsProgress:
    """A rich progress bar on stderr when it is a terminal (images, pixels per second, time
    left); nothing otherwise."""

    def __enter__(self):
        if not sys.stderr.isatty():
            return lambda p: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("images"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("stats", total=None, rate="")

        def show(p) -> None:
            rate = ""
            if p.seconds > 0:
                rate = (
                    f"{p.images_done / p.seconds:,.0f} img/s, "
                    f"{p.pixels / p.seconds / 1e6:,.1f} Mpx/s"
                )
            self.bar.update(task, completed=p.images_done, total=p.images_total, rate=rate)

        return show

    def __exit__(self, *exc) -> None:
        if hasattr(self, "bar"):
            self.bar.stop()


def _stats_text(s) -> str:
    d = s.to_dict()
    names = [c.name for c in s.channels]
    if len(s.channels) > 1:
        names.append("all")
    cols = [*s.channels, s.overall][: len(names)]
    converted = f"; {s.converted:,} converted to {'RGB' if len(s.channels) == 3 else 'grey'}"
    lines = [
        f"{s.source}: {s.kind}, {s.images:,} image{'s' * (s.images != 1)}"
        + (f" in {len(s.classes):,} classes" if s.classes else "")
        + f", {s.dtype}, {len(s.channels)} channel{'s' * (len(s.channels) > 1)}"
        + (converted if s.converted else ""),
    ]
    if s.skipped:
        first, reason = s.skipped[0]
        lines.append(
            f"skipped {len(s.skipped):,} unreadable files (every path in --json), "
            f"e.g. {first}: {reason}"
        )

    def table(scale: str, title: str) -> None:
        if any(getattr(c, scale) is None for c in cols):
            return
        lines.append(f"{title:<14}" + "".join(f"{n:>14}" for n in names))
        rows = [
            ("mean", "mean"),
            ("std", "std"),
            ("std (ddof 1)", "std_sample"),
            ("min", "min"),
            ("max", "max"),
        ]
        for label, attr in rows:
            lines.append(
                f"  {label:<12}"
                + "".join(f"{_num(getattr(getattr(c, scale), attr)):>14}" for c in cols)
            )
        for i, (q, _) in enumerate(getattr(cols[0], scale).percentiles or ()):
            lines.append(
                f"  {f'p{q:g}':<12}"
                + "".join(f"{_num(getattr(c, scale).percentiles[i][1]):>14}" for c in cols)
            )

    table("raw", "raw scale")
    table("unit", f"unit (/{s.scale:g})")
    snip = d["snippet"]
    lines.append("usual per-image snippet (unit scale):")
    for label, key, err in (
        ("mean of image means", "mean_of_image_means", "mean_error"),
        ("mean of image stds", "mean_of_image_stds", "std_error"),
    ):
        values = ", ".join(f"{v:.6g}" for v in snip[key])
        errors = ", ".join("n/a" if e is None else f"{e:+.2%}" for e in snip[err])
        lines.append(f"  {label}: {values}  (off by {errors})")
    lines += [f"{k}: {v}" for k, v in d["code"].items()]
    e = s.engine
    lines.append(
        f"engine: {e['scheduler']}, {e['workers']} workers, {e['tasks']:,} tasks "
        f"({e['cached']:,} cached), {e['seconds']:.1f} s"
    )
    return "\n".join(lines)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.6g}"


def _normalization_lines(norm: dict, roles: str) -> list[str]:
    if "code" not in norm:  # an after array made elsewhere: no method, no line of code
        return [f"normalization: {norm['description']}"]
    return [
        f"normalization: {norm['preset'] or norm['method']}{_axes(norm, roles)}",
        f"  {norm['description']}",
        f"  {norm['code']}",
    ]


def _axes(norm: dict, roles: str) -> str:
    """``, axis 1 (H)``, ``, axes 1, 2 (H, W)``, ``, the whole array``, or nothing for a
    method without an axis."""
    from normscope.core.normalize import METHODS
    from normscope.core.wording import axis_words

    if not METHODS[norm["method"]].uses_axis:
        return ""
    return ", " + axis_words(None if norm["axis"] is None else tuple(norm["axis"]), roles)


class Interrupted(BaseException):
    """A stop signal arrived (Ctrl+C, SIGTERM, SIGHUP): unwind, so that every ``finally`` runs
    (a half-written output's temporary file is removed), then exit 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        if self.signum == signal.SIGINT:
            return "interrupted"
        return f"terminated ({signal.Signals(self.signum).name})"


def _interrupt(signum: int, _frame: object) -> None:
    for s in STOP_SIGNALS:  # a second Ctrl+C must not cut short the clean-up this starts
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """Inside the block the stop signals raise :class:`Interrupted`; the previous handlers
    are back after it."""
    before = {s: signal.signal(s, _interrupt) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, previous in before.items():
            signal.signal(s, previous)


def main(argv: list[str] | None = None) -> int:
    """Run NormScope with command-line arguments; return the exit status (128 + the signal
    after Ctrl+C, SIGTERM or SIGHUP)."""
    try:
        with _stop_signals_interrupt():
            return _main(argv)
    except Interrupted as exc:
        print(f"normscope: {exc}", file=sys.stderr)
        return 128 + exc.signum


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    from normscope.core.logs import configure_logging

    log = configure_logging(verbose=VERBOSE in argv)
    first = next((a for a in argv if a != VERBOSE), None)
    if first not in (*COMMANDS, "-h", "--help"):
        args, rest = _window_parser().parse_known_args(argv)
        if rest:
            build_parser().print_usage(sys.stderr)
            print(f"normscope: error: unrecognized arguments: {' '.join(rest)}", file=sys.stderr)
            return EXIT_USAGE
        from normscope.gui.app import run_window

        return run_window(args.path, key=args.key, index=args.index, close_on=STOP_SIGNALS)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    from normscope.core.loading import LoadError
    from normscope.core.normalize import NormalizationError
    from normscope.core.pairing import PairError
    from normscope.core.report import WriteError

    try:
        return _run(args)
    except UsageError as exc:
        log.debug("bad usage", exc_info=True)
        print(f"normscope: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (LoadError, WriteError, PairError) as exc:  # they name their file
        log.info("cannot open or write %s", args.path, exc_info=True)
        print(f"normscope: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (NormalizationError, IndexError, ValueError, OSError) as exc:
        log.error("%s %s failed", args.command, args.path, exc_info=True)
        print(f"normscope: {Path(args.path).name}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    raise SystemExit(main())
