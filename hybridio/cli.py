"""``python -m hybridio`` / ``hybridio``: info | explain | calibrate | bench.

Exit codes: 0 success, 1 a runtime failure (one line on stderr, no traceback),
2 bad arguments (argparse's message).  The commands themselves are in
``hybridio._cli_commands``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO, TypeAlias

from ._cli_commands import SOURCE_URL as SOURCE_URL
from ._cli_commands import CommandError as CommandError
from ._cli_commands import cmd_bench as cmd_bench
from ._cli_commands import cmd_calibrate as cmd_calibrate
from ._cli_commands import cmd_explain as cmd_explain
from ._cli_commands import cmd_info as cmd_info
from ._cli_commands import dist_version
from ._cli_commands import gather_info as gather_info

__all__ = ("main",)

PROG = "hybridio"


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
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="hybridio: async file I/O routed to the engine that serves it best.",
        epilog="info, explain and calibrate take --json. Exit status: 0 success, 1 a runtime "
        "failure (one line on stderr), 2 bad arguments. Docs: " + SOURCE_URL + "/tree/main/docs",
    )
    parser.add_argument(
        "--version", action="version", version=f"hybridio {dist_version('hybridio')}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_command in (_add_info, _add_explain, _add_calibrate):
        command = add_command(sub)
        command.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_bench(sub)
    return parser


# The subcommands' parsers, each added to the ``add_subparsers()`` action.
_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_info(sub: _Commands) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "info",
        help="platform, kernel backends, zstd, inline reads, profile in use",
        description="What hybridio can use here: kernel backends (and why any is not "
        "available), zstd, io_uring SQPOLL, inline page-cache reads on DIRECTORY's "
        "filesystem (probed with a temporary file there), the tuning profile.",
    )
    p.add_argument(
        "directory",
        metavar="DIR",
        nargs="?",
        default=".",
        help="the directory whose filesystem is probed (default: the current one)",
    )
    return p


def _add_explain(sub: _Commands) -> argparse.ArgumentParser:
    from ._compression import Compression
    from ._engines.kernel import BACKEND_NAMES

    p = sub.add_parser(
        "explain",
        help="which engine would serve PATH, and why",
        description="What async_open(PATH, MODE, ...) would use and why; the options are "
        "async_open's keyword arguments, with the same defaults.",
    )
    p.set_defaults(subparser=p)
    p.add_argument("path", metavar="PATH", help="the file async_open() would open")
    p.add_argument(
        "mode", metavar="MODE", nargs="?", default="r", help="as for open() (default: r)"
    )
    # async_open's keyword arguments: (option, choices, default, help).
    keywords: list[tuple[str, Sequence[str], str | None, str]] = [
        (
            "--access",
            ("auto", "random", "sequential"),
            "auto",
            "the access pattern hint: sizes the read-ahead (default: auto)",
        ),
        (
            "--compression",
            [c.value for c in Compression],
            None,
            "compress or decompress on the fly; auto: by magic bytes, then suffix (default: none)",
        ),
        (
            "--strategy",
            ("auto", "kernel", "thread"),
            "auto",
            "force an engine instead of the rules (default: auto)",
        ),
        (
            "--backend",
            BACKEND_NAMES,
            None,
            "force a kernel backend (default: the first that works, or HYBRIDIO_BACKEND)",
        ),
    ]
    for option, choices, default, text in keywords:
        p.add_argument(option, choices=choices, default=default, help=text)
    return p


def _add_calibrate(sub: _Commands) -> argparse.ArgumentParser:
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
    return p


def _add_bench(sub: _Commands) -> None:
    p = sub.add_parser(
        "bench",
        help="run the benchmark suite (source checkout only)",
        add_help=False,
        prefix_chars="\0",  # every argument, -h included, belongs to the suite
    )
    p.add_argument(
        "bench_args",
        metavar="ARGS",
        nargs=argparse.REMAINDER,
        help="passed to python -m benchmarks (try: bench --help)",
    )


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    # Users of the command need the message, not the library's source line; the
    # library's own messages already start with "hybridio: ".
    text = str(message)
    if text.startswith(f"{PROG}: "):
        text = text[len(PROG) + 2 :]
    (file or sys.stderr).write(f"{PROG}: warning: {text}\n")


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
                return cmd_explain(args, args.subparser)
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
