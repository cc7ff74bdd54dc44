"""The commands of ``python -m hybridio`` (info, explain, calibrate, bench).

``hybridio.cli`` builds the parser and runs these; each ``cmd_*`` takes the
parsed arguments and returns the exit status, or raises :class:`CommandError`
for a runtime failure reported as one line.
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
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = (
    "SOURCE_URL",
    "CommandError",
    "cmd_bench",
    "cmd_calibrate",
    "cmd_explain",
    "cmd_info",
    "dist_version",
    "gather_info",
)

SOURCE_URL = "https://github.com/hybridio/hybridio"


class CommandError(Exception):
    """A runtime failure reported as one line on stderr, exit status 1."""


def dist_version(dist: str) -> str:
    """The installed version of the distribution *dist*, or "not installed"."""
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


def _zstd_available() -> dict[str, Any]:
    """Whether ``Compression.ZSTD`` works here (the optional ``zstandard`` package)."""
    from ._compression import _zstandard

    try:
        module = _zstandard()
    except ImportError as exc:
        return {"available": False, "detail": str(exc)}
    version = getattr(module, "__version__", None) or dist_version("zstandard")
    return {"available": True, "detail": f"zstandard {version}"}


def gather_info(directory: str = ".") -> dict[str, Any]:
    """Everything ``info`` reports, as a JSON-ready dict.

    The filesystem and the inline-read probe are those of *directory* (a file
    there is created, read and removed): RWF_NOWAIT support is a property of
    the filesystem, so a tmpfs directory can say "do not work" where the
    current directory says "work".
    """
    from ._engines import kernel
    from ._profile import resolve_profile

    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        raise CommandError(
            _open_error(errno.ENOTDIR if os.path.exists(directory) else errno.ENOENT, directory)
        )
    profile = resolve_profile()
    return {
        "hybridio": dist_version("hybridio"),
        "platform": platform.platform(),
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "caio": dist_version("caio"),
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
        "zstd": _zstd_available(),
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
    zstd = info["zstd"]
    w(f"zstd:        {'available' if zstd['available'] else 'not available'} ({zstd['detail']})\n")
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
    info = gather_info(args.directory)
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_info(info, sys.stdout)
    return 0


# -- explain ------------------------------------------------------------------------------


def _open_error(code: int, path: object) -> str:
    """The message builtin ``open()`` gives for *code* on *path*."""
    return str(OSError(code, os.strerror(code), path))


def _existence(path: str, fmode: Any) -> str | None:
    """What ``open(path, mode)`` would do about the file itself, as a note.

    Raises CommandError with ``open()``'s own message where the open would
    fail (a missing file to read, a directory, ``x`` on an existing file).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if not (fmode.writing or fmode.appending or fmode.creating):
            raise CommandError(_open_error(errno.ENOENT, path)) from None
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise CommandError(_open_error(errno.ENOENT, path)) from None
        return f"{path} does not exist yet: mode {fmode.mode!r} creates it"
    except OSError as exc:
        raise CommandError(_open_error(exc.errno or errno.EIO, path)) from None
    if stat.S_ISDIR(st.st_mode):
        raise CommandError(_open_error(errno.EISDIR, path))
    if fmode.creating:
        raise CommandError(_open_error(errno.EEXIST, path))
    return None


def _compression_hint(path: str, fmode: Any, asked: str | None) -> tuple[str | None, str | None]:
    """(the format *path* looks like, a hint) when no compression was asked for."""
    from ._compression import Compression, resolve

    if asked is not None:
        return None, None
    try:
        found = resolve(Compression.AUTO, path, fmode)
    except (OSError, ValueError):
        return None, None
    if found is Compression.NONE:
        return None, None
    hint = (
        f"{path} looks {found.value}-compressed; as asked (no compression) it is served as "
        f"raw bytes: --compression auto (async_open(..., compression='auto')) "
        f"{'decompresses' if fmode.readable else 'compresses'} it"
    )
    return found.value, hint


def cmd_explain(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print what ``async_open(PATH, MODE, ...)`` would use, and why.

    *parser* is the ``explain`` subcommand's own parser: a bad mode or an
    impossible combination is reported with its usage line.
    """
    import hybridio

    from ._modes import parse_mode

    kwargs: dict[str, Any] = {"access": args.access, "strategy": args.strategy}
    if args.compression is not None:
        kwargs["compression"] = args.compression
    if args.backend is not None:
        kwargs["backend"] = args.backend
    try:
        fmode = parse_mode(args.mode)
        decision = hybridio.explain(args.path, args.mode, **kwargs)
    except (ValueError, TypeError) as exc:
        # A bad mode or combination is an argument error, as argparse's are.
        parser.error(str(exc))
    notes = [n for n in [_existence(args.path, fmode)] if n]
    detected, hint = _compression_hint(args.path, fmode, args.compression)
    if hint:
        notes.append(hint)
    inline_probe = None
    if decision.inline:
        # RWF_NOWAIT support belongs to the filesystem: probe the one the file is on.
        inline_probe = _inline_check(os.path.dirname(os.path.abspath(args.path)))
        if inline_probe["works"] is False:
            notes.append(
                "inline page-cache reads are planned but this filesystem refuses them "
                f"({inline_probe['detail']}): reads go to the kernel engine instead"
            )
    if args.json:
        data = {"path": args.path, "mode": args.mode, **decision.to_dict()}
        data["detected_compression"] = detected
        data["inline_probe"] = inline_probe
        data["notes"] = notes
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(f"{args.path} ({args.mode}):\n{decision}\n")
        for note in notes:
            sys.stdout.write(f"note: {note}\n")
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


def _is_hybridio_checkout(root: Path) -> bool:
    """*root* is a source checkout of hybridio itself, with its benchmark suite.

    A ``benchmarks/`` package alone proves nothing (many projects have one):
    the checkout's pyproject.toml must name the hybridio project, and its
    benchmark package must be the one that measures hybridio.
    """
    bench = root / "benchmarks"
    if not ((bench / "__main__.py").is_file() and (bench / "__init__.py").is_file()):
        return False
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
        suite = (bench / "__init__.py").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    named = any(line.replace(" ", "") == 'name="hybridio"' for line in pyproject.splitlines())
    return named and "hybridio" in suite and (root / "hybridio" / "__init__.py").is_file()


def _benchmarks_root() -> Path | None:
    """The hybridio source checkout holding its ``benchmarks`` suite, if any.

    The current directory counts only when it is a hybridio checkout; the
    checkout this package was imported from (an editable install) also does.
    """
    for root in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if _is_hybridio_checkout(root):
            return root
    return None


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark suite of a source checkout with the remaining arguments."""
    root = _benchmarks_root()
    if root is None:
        raise CommandError(
            "the benchmark suite ships with the source, not the package; get a source checkout: "
            f"git clone {SOURCE_URL} && cd hybridio && make bench "
            "(or python -m hybridio bench inside that checkout)"
        )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    bench_args = list(args.bench_args)
    if bench_args[:1] == ["--"]:
        bench_args = bench_args[1:]
    proc = subprocess.run([sys.executable, "-m", "benchmarks", *bench_args], cwd=root, env=env)
    return proc.returncode
