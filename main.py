"""NormScope's entry point: the window, or a report, a normalized array or a picture, headless.

normscope [PATH]                                   open the window on PATH (or the digits)
normscope report PATH [OPTIONS] [--json]           print the verdict and metrics
normscope normalize PATH [OPTIONS] -o OUT          write the normalized array
normscope export PATH [OPTIONS] -o OUT.png         write the comparison picture

Failures are logged with their tracebacks to a file in the platform's log folder
(``normscope.core.logs.log_path``); ``--verbose`` logs to stderr too.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

COMMANDS = ("report", "normalize", "export")
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="normscope",
        usage="%(prog)s [PATH] [--key NAME] [--index N]\n"
        "       %(prog)s {report,normalize,export} PATH [options]",
        description="See what an image normalization really does to your data. "
        "With no command the inspector window opens (on PATH, or on the bundled digits).",
        epilog="Exit status: 0 success, 1 bad input or an unwritable output (the file and the "
        "reason on one line), 2 bad usage, 128 + the signal after Ctrl+C (130), SIGTERM or SIGHUP.",
    )
    parser.add_argument(VERBOSE, action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="{report,normalize,export}")
    rep = sub.add_parser("report", prog="normscope report", help="print the verdict and metrics")
    _add_options(rep)
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
    exp.add_argument("-o", "--output", required=True, help=".png, .jpg or .tiff")
    return parser


def _window_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="normscope", add_help=False)
    p.add_argument("path", nargs="?")
    p.add_argument("--key")
    p.add_argument("--index", type=_parse_index)
    p.add_argument(VERBOSE, action="store_true")
    return p


def _normalization(args: argparse.Namespace, roles: str):
    from normscope.core.normalize import Normalization, from_preset

    if args.preset:
        if args.axis != "default":
            raise UsageError("--axis cannot be combined with --preset: a preset fixes its axis")
        return from_preset(args.preset, roles)
    return Normalization(method=args.method or "keras", axis=args.axis, order=args.order)


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        print(f"normscope: {message}…", file=sys.stderr, flush=True)


def _ensure_gui_app():
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from normscope.gui.app import quiet_harmless_qt_messages

    quiet_harmless_qt_messages()
    return QApplication.instance() or QApplication(["normscope"])


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
    _progress(f"opening {args.path}")
    loaded = load(args.path, key=args.key, max_pixels=args.max_pixels, max_bytes=args.max_bytes)
    if args.roles is not None:
        try:
            roles = check_roles(args.roles, loaded.array.ndim)
        except ValueError as exc:
            raise UsageError(f"--roles: {exc}") from None
        loaded = dataclasses.replace(loaded, roles=roles)
    _check_options(args, loaded.array.shape, loaded.roles)
    normalization = _normalization(args, loaded.roles)
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

    _progress("building the comparison")
    comp = build_comparison(loaded, normalization, index=args.index, scope=args.scope)
    save_image(render_comparison(comp), out, protect=loaded.source if from_file else None)
    return 0


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
        f"normalization: {norm['preset'] or norm['method']}{_axes(norm, inp['roles'])}",
        f"  {norm['description']}",
        f"  {norm['code']}",
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
    from normscope.core.report import WriteError

    try:
        return _run(args)
    except UsageError as exc:
        log.debug("bad usage", exc_info=True)
        print(f"normscope: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (LoadError, WriteError) as exc:  # they name their file
        log.info("cannot open or write %s", args.path, exc_info=True)
        print(f"normscope: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (NormalizationError, IndexError, ValueError, OSError) as exc:
        log.error("%s %s failed", args.command, args.path, exc_info=True)
        print(f"normscope: {Path(args.path).name}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    raise SystemExit(main())
