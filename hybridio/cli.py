"""``python -m hybridio`` / ``hybridio``: info | explain | calibrate | bench.

Exit codes: 0 success, 1 a runtime failure (one line on stderr, no traceback),
2 bad arguments (argparse's message).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = ("main",)

PROG = "hybridio"


class CommandError(Exception):
    """A runtime failure reported as one line on stderr, exit status 1."""


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _size(value: Any) -> str:
    from ._calibrate import format_size

    if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
        return str(value)
    return f"{value} ({format_size(value)})"


# -- info ---------------------------------------------------------------------------------


def _inline_check(directory: str) -> dict[str, Any]:
    """Whether a RWF_NOWAIT read works on a fresh file in *directory*."""
    from ._engines.inline import InlineReader, unsupported_reason

    try:
        # Not a `with`: failing to create the file is a different answer.
        tmp = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115
    except OSError as exc:
        return {"works": None, "detail": f"cannot create a test file here: {exc.strerror or exc}"}
    with tmp:
        fd = tmp.fileno()
        os.write(fd, b"x" * 4096)
        reason = unsupported_reason(fd)
        if reason is not None:
            return {"works": False, "detail": reason}
        try:
            os.preadv(fd, [bytearray(4096)], 0, os.RWF_NOWAIT)
        except BlockingIOError:
            # EAGAIN means the flag is understood; the page just was not cached.
            return {"works": True, "detail": "RWF_NOWAIT accepted (the page was not cached)"}
        except OSError as exc:
            name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
            return {"works": False, "detail": f"preadv2(RWF_NOWAIT) failed: {name}: {exc.strerror}"}
        reader = InlineReader(fd)
        data = reader.read(4096, 0)
        if not reader.enabled:
            return {"works": False, "detail": reader.reason}
        if data != b"x" * 4096:
            return {"works": False, "detail": "the inline read returned the wrong bytes"}
        return {"works": True, "detail": "a cached 4 KiB read was served inline"}


def _filesystem(directory: str) -> str:
    try:
        from ._selector import filesystem_type
    except ImportError:
        return "unknown"
    return filesystem_type(directory) or "unknown"


def _sqpoll_allowed() -> bool | None:
    try:
        module = importlib.import_module("caio.linux_uring")
    except ImportError:
        return None
    allowed = getattr(module, "SQPOLL_ALLOWED", None)
    return None if allowed is None else bool(allowed)


def gather_info(directory: str = ".") -> dict[str, Any]:
    """Everything ``info`` reports, as a JSON-ready dict."""
    from ._engines import kernel
    from ._profile import resolve_profile

    directory = os.path.abspath(directory)
    profile = resolve_profile()
    return {
        "hybridio": _version("hybridio"),
        "platform": platform.platform(),
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "caio": _version("caio"),
        "backends": [
            {
                "name": b.name,
                "available": b.available,
                "selected": b.selected,
                "reason": b.reason,
            }
            for b in kernel.backends()
        ],
        "forced_backend": kernel.requested_backend(),
        "sqpoll": {
            "allowed": _sqpoll_allowed(),
            "used": kernel.sqpoll_requested() or profile.sqpoll,
            "env": kernel.sqpoll_requested(),
            "profile": profile.sqpoll,
        },
        "directory": directory,
        "filesystem": _filesystem(directory),
        "inline": _inline_check(directory),
        "profile": {
            "source": profile.source,
            "origin": profile.origin,
            "thresholds": profile.thresholds(),
        },
    }


def _print_info(info: dict[str, Any], out: TextIO) -> None:
    w = out.write
    w(f"hybridio {info['hybridio']}\n")
    w(f"platform:    {info['platform']}\n")
    w(f"kernel:      {info['kernel']}\n")
    w(f"python:      {info['python']} ({info['executable']})\n")
    w(f"caio:        {info['caio']}\n")
    forced = info["forced_backend"]
    w("kernel backends" + (f" (HYBRIDIO_BACKEND={forced})" if forced else "") + ":\n")
    for b in info["backends"]:
        state = "available" if b["available"] else f"unavailable: {b['reason']}"
        mark = "  <- selected" if b["selected"] else ""
        w(f"  {b['name']:<7} {state}{mark}\n")
    allowed = info["sqpoll"]["allowed"]
    allowed_text = {True: "allowed", False: "not allowed", None: "unknown (no io_uring)"}[allowed]
    sq = info["sqpoll"]
    why = "HYBRIDIO_SQPOLL=1" if sq["env"] else "the profile" if sq["profile"] else ""
    used = f"on ({why})" if sq["used"] else "off (HYBRIDIO_SQPOLL=1 turns it on)"
    w(f"io_uring SQPOLL: {allowed_text} by the kernel; hybridio: {used}\n")
    w(f"directory:   {info['directory']}\n")
    w(f"filesystem:  {info['filesystem']}\n")
    inline = info["inline"]
    verdict = {True: "work", False: "do not work", None: "untested"}[inline["works"]]
    w(f"inline reads (RWF_NOWAIT): {verdict} here: {inline['detail']}\n")
    prof = info["profile"]
    w(f"profile:     {prof['source']}\n")
    if prof["origin"]:
        w(f"  origin:    {prof['origin']}\n")
    for key, value in prof["thresholds"].items():
        w(f"  {key:<22} {_size(value)}\n")


def cmd_info(args: argparse.Namespace) -> int:
    """Print the platform, backends, inline support and the profile in force."""
    info = gather_info(".")
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_info(info, sys.stdout)
    return 0


# -- explain ------------------------------------------------------------------------------


def cmd_explain(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print what ``async_open(PATH, MODE, ...)`` would use, and why."""
    import hybridio

    explain = getattr(hybridio, "explain", None)
    if explain is None:
        raise CommandError("this hybridio has no explain() yet")
    kwargs: dict[str, Any] = {"access": args.access, "strategy": args.strategy}
    if args.compression is not None:
        kwargs["compression"] = args.compression
    if args.backend is not None:
        kwargs["backend"] = args.backend
    try:
        decision = explain(args.path, args.mode, **kwargs)
    except (ValueError, TypeError) as exc:
        # A bad mode or combination is an argument error, as argparse's are.
        parser.error(str(exc))
    if args.json:
        json.dump(decision.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(f"{args.path} ({args.mode}):\n{decision}\n")
    return 0


# -- calibrate ------------------------------------------------------------------------------


class _ProgressLine:
    """One stderr line per step; redrawn in place on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, index: int, total: int, label: str) -> None:
        width = 20
        filled = width * (index - 1) // max(total, 1)
        bar = "#" * filled + "." * (width - filled)
        line = f"[{bar}] {index:>3}/{total} {label}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        """End the in-place line."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _table(cells: Sequence[Any], title: str, out: TextIO) -> None:
    from ._calibrate import format_size

    if not cells:
        return
    out.write(f"\n{title}\n")
    head = (
        f"{'engine':<20} {'cache':<5} {'size':>7} {'inflight':>8} {'MB/s':>9} "
        f"{'ops':>8} {'stall p50':>10} {'p90':>8} {'max':>8} {'loop lag':>9}\n"
    )
    out.write(head)
    out.write("-" * (len(head) - 1) + "\n")
    for c in cells:
        extra = f"  hit {c.hit_rate:.0%}" if c.hit_rate is not None else ""
        if c.note:
            extra += f"  ({c.note})"
        out.write(
            f"{c.engine:<20} {c.cache:<5} {format_size(c.size):>7} {c.concurrency:>8} "
            f"{c.mb_s:>9.1f} {c.ops:>8} {c.stall_p50_ms:>8.3f}ms {c.stall_p90_ms:>6.3f}ms "
            f"{c.stall_max_ms:>6.2f}ms {c.lag_max_ms:>7.2f}ms{extra}\n"
        )


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Measure the engines here and write a tuning profile."""
    from ._calibrate import run_calibration
    from ._profile import load_profile, profile_path

    directory = Path(args.dir)
    if not directory.is_dir():
        raise CommandError(f"--dir {args.dir}: not a directory")
    output = Path(args.output) if args.output else profile_path()
    progress = _ProgressLine(sys.stderr)
    try:
        result = run_calibration(
            directory, quick=args.quick, budget_ms=args.budget_ms, progress=progress
        )
    finally:
        progress.done()
    profile = result.profile
    profile.save(output)
    saved = load_profile(output)  # what the library will read, validated
    if args.json:
        data = {
            "output": os.fspath(output),
            "origin": saved.origin,
            "thresholds": saved.thresholds(),
            "reasons": result.reasons,
            "measurements": dict(saved.measurements),
        }
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    out = sys.stdout
    facts = result.facts
    out.write(f"calibrated: {profile.origin}\n")
    out.write(
        f"test file: {facts['file_size'] >> 20} MiB on {facts['filesystem']}; "
        f"cold-cache eviction: {facts.get('eviction', 'n/a')}; "
        f"stall budget {facts['budget_ms']:g} ms (p{facts['stall_percentile']} per op)\n"
    )
    _table(result.cells, "random reads", out)
    _table(result.large, "whole large reads (thread_read_min)", out)
    _table(result.read_ahead, "sequential stream reads, 16 KiB at a time (read-ahead)", out)
    _table(result.submission, "io_uring submission (submit_mode, SQPOLL)", out)
    out.write("\nthresholds:\n")
    for key, value in saved.thresholds().items():
        reason = result.reasons.get(key, "not calibrated: the default")
        out.write(f"  {key:<22} {_size(value):<22} {reason}\n")
    out.write(f"\nwrote {output}\n")
    return 0


# -- bench ----------------------------------------------------------------------------------


def _benchmarks_root() -> Path | None:
    """The source checkout holding the ``benchmarks`` package, if any."""
    candidates = [Path.cwd(), Path(__file__).resolve().parent.parent]
    for root in candidates:
        if (root / "benchmarks" / "__main__.py").is_file() and (
            root / "benchmarks" / "__init__.py"
        ).is_file():
            return root
    spec = importlib.util.find_spec("benchmarks")
    if spec is not None and spec.origin and spec.submodule_search_locations:
        root = Path(spec.origin).parent.parent
        if (root / "benchmarks" / "__main__.py").is_file():
            return root
    return None


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark suite of a source checkout with the remaining arguments."""
    root = _benchmarks_root()
    if root is None:
        raise CommandError(
            "the benchmark suite ships with the source, not the package: "
            "run it from a source checkout (make bench, or python -m hybridio bench there)"
        )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    bench_args = list(args.bench_args)
    if bench_args[:1] == ["--"]:
        bench_args = bench_args[1:]
    proc = subprocess.run([sys.executable, "-m", "benchmarks", *bench_args], cwd=root, env=env)
    return proc.returncode


# -- the parser -----------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m hybridio``."""
    from ._compression import Compression
    from ._engines.kernel import BACKEND_NAMES

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="hybridio: async file I/O routed to the engine that serves it best.",
    )
    parser.add_argument("--version", action="version", version=f"hybridio {_version('hybridio')}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("info", help="platform, kernel backends, inline reads, profile in use")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("explain", help="which engine would serve PATH, and why")
    p.add_argument("path", metavar="PATH")
    p.add_argument("mode", metavar="MODE", nargs="?", default="rb", help="as for open() (rb)")
    p.add_argument("--access", choices=("auto", "random", "sequential"), default="auto")
    p.add_argument("--compression", choices=[c.value for c in Compression], default=None)
    p.add_argument("--strategy", choices=("auto", "kernel", "thread"), default="auto")
    p.add_argument("--backend", choices=BACKEND_NAMES, default=None)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("calibrate", help="measure the engines here, write a tuning profile")
    p.add_argument("--quick", action="store_true", help="fewer sizes and levels (< 1 minute)")
    p.add_argument("--dir", default=".", help="where the temporary test file goes (.)")
    p.add_argument("--output", default=None, help="profile file (default: the user profile)")
    p.add_argument(
        "--budget-ms",
        type=_positive_float,
        default=1.0,
        help="the most one operation may hold the event loop (1 ms)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser(
        "bench",
        help="run the benchmark suite (source checkout only)",
        add_help=False,
        prefix_chars="\0",  # every argument, -h included, belongs to the suite
    )
    p.add_argument("bench_args", nargs=argparse.REMAINDER)
    return parser


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    # Users of the command need the message, not the library's source line.
    (file or sys.stderr).write(f"{PROG}: warning: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from ._settings import reload_settings

    reload_settings()  # the environment as this command sees it
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            if args.command == "info":
                return cmd_info(args)
            if args.command == "explain":
                return cmd_explain(args, parser)
            if args.command == "calibrate":
                return cmd_calibrate(args)
            return cmd_bench(args)
        except CommandError as exc:
            sys.stderr.write(f"{PROG}: error: {exc}\n")
            return 1
        except KeyboardInterrupt:
            sys.stderr.write(f"{PROG}: interrupted\n")
            return 130
        except BrokenPipeError:
            # `hybridio info | head`: not an error worth a message.
            try:
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit flush
            except OSError:
                pass
            return 1
        except Exception as exc:
            # Anything else is still one line: the command line is no debugger.
            sys.stderr.write(f"{PROG}: error: {_one_line(exc)}\n")
            return 1


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if isinstance(exc, (OSError, CommandError)):
        return first or type(exc).__name__
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
