"""The strategy selector: which engine serves a file, and why.

The rules follow the aiomisc advice that hybridio automates -- random-access
chunk I/O on regular files to kernel AIO; compressed, non-seekable and
non-regular files, network filesystems and platforms without kernel AIO to the
thread engine -- plus what was measured here:

* Linux AIO on a buffered fd runs synchronously inside ``io_submit``, and
  io_uring serves page-cached reads inside ``io_uring_enter``; so per request
  the router still bounds the work (``max_chunk``), serves cached ranges inline
  (``inline_max``) and sends whole-file-sized reads to ONE thread call
  (``thread_read_min``).  Those thresholds come from the tuning profile.
* caio's pure-Python pool is one thread hop per operation, worse than the
  buffered thread engine, so when it is all that works AUTO picks threads.
* Opening costs a few microseconds inline on a local filesystem and ~95 us as
  a thread hop; network filesystems and FIFOs may block on open, so those are
  opened in a thread.

:func:`choose` is pure policy over facts it gathers quickly (``stat``, the
mount table, the kernel probe); ``hybridio.explain()`` returns the same
:class:`Decision` for users.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from typing import Any, Final, Literal

from . import _settings as settings
from ._compression import Compression, member_named
from ._engines import kernel
from ._engines.inline import unsupported_reason
from ._facts import NETWORK_FILESYSTEMS as NETWORK_FILESYSTEMS
from ._facts import FileFacts as FileFacts
from ._facts import _parse_mountinfo as _parse_mountinfo
from ._facts import filesystem_type as filesystem_type
from ._facts import gather_facts as gather_facts
from ._facts import remote_filesystem as remote_filesystem
from ._modes import FileMode
from ._profile import TuningProfile, resolve_profile

__all__ = (
    "NETWORK_FILESYSTEMS",
    "Access",
    "Decision",
    "FileFacts",
    "Plan",
    "Strategy",
    "choose",
    "filesystem_type",
    "gather_facts",
    "plan",
    "remote_filesystem",
)

Access = Literal["auto", "random", "sequential"]
ACCESS_VALUES: Final = ("auto", "random", "sequential")


class Strategy(enum.Enum):
    """Which engine serves a file: chosen by the rules (AUTO) or forced.

    Attributes:
        AUTO: The rules decide (see [which strategy when](../strategies.md)).
        KERNEL: Kernel AIO through caio, with inline page-cache reads; only
            for seekable regular files without compression (else ValueError).
        THREAD: Buffered blocking I/O in the library's thread pool.
    """

    AUTO = "auto"
    KERNEL = "kernel"
    THREAD = "thread"

    @classmethod
    def _missing_(cls, value: object) -> Strategy | None:
        return member_named(cls, value.lower()) if isinstance(value, str) else None


@dataclasses.dataclass(frozen=True)
class Decision:
    """What serves a file and why, in plain sentences (``str(decision)``).

    Returned by [`explain()`][hybridio.explain] and kept as ``f.decision`` on
    every opened file; ``to_dict()`` is the JSON form ``hybridio explain
    --json`` prints.

    Attributes:
        strategy: The engine: ``Strategy.KERNEL`` or ``Strategy.THREAD``.
        backend: The kernel backend reads use (None on the thread engine).
        write_backend: The kernel backend writes and syncs use, when it differs.
        compression: The resolved compression (``AUTO`` never appears here).
        file_kind: ``"regular file"``, ``"FIFO"``, ``"character device"``,
            ``"directory"``, ``"missing"`` (not created yet), ...
        filesystem: The filesystem type (``"ext4"``, ``"tmpfs"``, ``"nfs4"``), if known.
        access: The access hint: ``"auto"``, ``"random"`` or ``"sequential"``.
        inline: Whether page-cache reads are tried inline (RWF_NOWAIT). A
            filesystem that refuses the flag turns it off at the first read.
        open_in_thread: Whether the open itself runs in a worker thread.
        read_ahead: The read-ahead buffer in bytes.
        thresholds: The tuning profile's routing numbers in force.
        skipped_backends: Kernel backends passed over, with the reason each one was.
        reasons: The rules that decided, as sentences.
        profile_source: Where the thresholds come from (a file path or "builtin").
    """

    strategy: Strategy
    backend: str | None
    write_backend: str | None
    compression: Compression
    file_kind: str
    filesystem: str | None
    access: str
    inline: bool
    open_in_thread: bool
    read_ahead: int
    thresholds: dict[str, Any]
    skipped_backends: dict[str, str]
    reasons: tuple[str, ...]
    profile_source: str
    #: The file and mode asked about (set by ``explain()``; None on a plan's own).
    path: str | int | None = None
    mode: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the decision."""
        data = dataclasses.asdict(self)
        data["strategy"] = self.strategy.value
        data["compression"] = self.compression.value
        data["reasons"] = list(self.reasons)
        return data

    def __str__(self) -> str:
        engine = "kernel engine" if self.strategy is Strategy.KERNEL else "thread engine"
        lines = []
        if self.path is not None:
            lines.append(f"path: {self.path} (mode {self.mode!r})")
        lines.append(f"strategy: {self.strategy.value} ({engine})")
        if self.backend:
            lines.append(f"kernel backend: {self.backend}")
            if self.write_backend and self.write_backend != self.backend:
                lines.append(f"kernel backend for writes and syncs: {self.write_backend}")
        for name, reason in self.skipped_backends.items():
            lines.append(f"  skipped {name}: {reason}")
        lines.append(f"file: {self.file_kind} on {self.filesystem or 'an unknown filesystem'}")
        lines.append(f"compression: {self.compression.value}; access: {self.access}")
        lines.append(f"inline page-cache reads: {'on' if self.inline else 'off'}")
        lines.append(f"open: {'in a thread' if self.open_in_thread else 'inline'}")
        lines.append(f"read-ahead: {self.read_ahead} bytes")
        lines.append(f"profile: {self.profile_source}")
        lines.append("thresholds: " + ", ".join(f"{k}={v}" for k, v in self.thresholds.items()))
        lines.append("why:")
        lines.extend(f"  - {reason}" for reason in self.reasons)
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True, eq=False)
class Plan:
    """Everything the layers need for one open, decided once: engines and numbers.

    ``None`` for a limit means "no limit".  Plans are cached by what they depend
    on (see :func:`plan`); the reasons are written only when asked for
    (:meth:`decision`), not on every open.
    """

    strategy: Strategy
    #: The kernel backend serving reads, or "threads" for the thread engine.
    backend: str
    #: The kernel backend for writes and syncs (None: the thread engine).
    write_backend: str | None
    #: Whether the backend was forced (``backend=``/``HYBRIDIO_BACKEND``).
    forced: bool
    compression: Compression
    access: str
    inline: bool
    inline_reason: str | None
    open_in_thread: bool
    read_ahead: int
    inline_max: int
    inline_batch_max: int
    max_chunk: int
    thread_read_min: int | None
    sync_submit_max: int | None
    max_requests: int
    sqpoll: bool
    submit_mode: str
    sqpoll_depth: int
    miss_sqpoll: bool
    sqpoll_read_min: int
    prefetch_min: int
    prefetch_depth: int
    stream_chunk: int
    truncate_in_thread_min: int
    skipped: tuple[tuple[str, str], ...]
    facts: FileFacts
    requested: Strategy
    profile: TuningProfile

    @functools.cached_property
    def _decision(self) -> Decision:
        return Decision(
            strategy=self.strategy,
            backend=self.backend,
            write_backend=self.write_backend,
            compression=self.compression,
            file_kind=self.facts.kind,
            filesystem=self.facts.filesystem,
            access=self.access,
            inline=self.inline,
            open_in_thread=self.open_in_thread,
            read_ahead=self.read_ahead,
            thresholds=self.profile.thresholds(),
            skipped_backends=dict(self.skipped),
            reasons=tuple(_reasons(self)),
            profile_source=self.profile.source,
        )

    def decision(self) -> Decision:
        """The plan as a :class:`Decision`, with its reasons in plain sentences."""
        return self._decision

    def replanned(self) -> Plan:
        """The plan for the same request after probe results changed (a planned
        backend failed to start and was marked unavailable)."""
        return plan(
            self.facts,
            compression=self.compression,
            strategy=self.requested,
            access=self.access,
            profile=self.profile,
        )


def _stream_only(facts: FileFacts, compression: Compression) -> str | None:
    # Kernel AIO must never see FIFOs, devices or /proc files (aiofile#14).
    if compression not in (Compression.NONE, Compression.AUTO):
        return f"{compression.value} streams are (de)compressed in the thread engine"
    if facts.kind not in ("regular file", "missing", "directory"):
        return f"a {facts.kind} is not seekable random-access storage; kernel AIO must not see it"
    if facts.proc:
        return "/proc and /sys files are generated on read; kernel AIO must not see them"
    return None


def _route(
    facts: FileFacts, strategy: Strategy, forced: str | None, stream_only: str | None
) -> tuple[Strategy, str | None, dict[str, str]] | None:
    """The strategy, the kernel backend (None: none was asked for) and the
    backends skipped on the way; None when no backend works."""
    if stream_only or strategy is Strategy.THREAD:
        return Strategy.THREAD, None, {}
    if forced:
        reason = kernel.probe(forced)
        if reason is not None:
            raise kernel.BackendUnavailableError(
                f"kernel backend {forced!r} is unavailable: {reason}"
            )
        return Strategy.KERNEL, forced, {}
    chosen, skipped = kernel.pick_backend()
    if chosen is None:
        return None
    if strategy is not Strategy.KERNEL and (
        remote_filesystem(facts.filesystem) or chosen == "python"
    ):
        return Strategy.THREAD, chosen, skipped
    return Strategy.KERNEL, chosen, skipped


def _write_backend(chosen: str, prof: TuningProfile) -> str:
    """The backend for writes and syncs when reads go to *chosen* (profile's choice)."""
    wanted = prof.write_backend
    if wanted == "auto":
        # Linux AIO copies a buffered write inside io_submit; io_uring punts it.
        return "linux" if chosen == "uring" and kernel.probe("linux") is None else chosen
    if wanted != "same" and kernel.probe(wanted) is None:
        return wanted
    return chosen


#: The plan's numbers that are the profile's, unchanged.
_AS_PROFILED: Final = (
    "inline_max", "inline_batch_max", "max_chunk", "max_requests", "sqpoll", "submit_mode",
    "sqpoll_depth", "miss_sqpoll", "sqpoll_read_min", "prefetch_min", "prefetch_depth",
    "stream_chunk", "truncate_in_thread_min",
)  # fmt: skip


def _decide(
    facts: FileFacts,
    compression: Compression,
    strategy: Strategy,
    access: str,
    backend: str | None,
    prof: TuningProfile,
) -> Plan | None:
    """The pure rules: facts and request in, a plan out (None: no backend works)."""
    stream_only = _stream_only(facts, compression)
    forced = backend or kernel.requested_backend()
    if (strategy is Strategy.KERNEL or backend is not None) and stream_only:
        what = f"backend={backend!r}" if backend else "strategy=KERNEL"
        raise ValueError(f"{what} is impossible here: {stream_only}")
    routed = _route(facts, strategy, forced, stream_only)
    if routed is None:
        return None
    final, chosen, skipped = routed
    literal = strategy is Strategy.KERNEL
    inline_reason = None
    write_backend: str | None = None
    read_ahead = prof.stream_chunk
    if final is Strategy.KERNEL:
        assert chosen is not None
        inline_reason = unsupported_reason(None)
        write_backend = chosen if forced else _write_backend(chosen, prof)
        read_ahead = {
            "sequential": prof.sequential_read_ahead,
            "random": prof.random_read_ahead,
        }.get(access, prof.read_ahead)
    return Plan(
        strategy=final,
        backend=chosen if final is Strategy.KERNEL and chosen else "threads",
        write_backend=write_backend,
        forced=bool(forced),
        compression=compression,
        access=access,
        inline=final is Strategy.KERNEL and inline_reason is None,
        inline_reason=inline_reason,
        open_in_thread=(
            not prof.open_inline or final is Strategy.THREAD or remote_filesystem(facts.filesystem)
        ),
        read_ahead=read_ahead,
        # strategy=KERNEL is taken literally: no read leaves the kernel engine.
        thread_read_min=None if literal else prof.thread_read_min,
        sync_submit_max=None if literal else prof.sync_submit_max,
        **{name: getattr(prof, name) for name in _AS_PROFILED},
        skipped=tuple(skipped.items()),
        facts=facts,
        requested=strategy,
        profile=prof,
    )


def _reasons(p: Plan) -> list[str]:
    """The plan's reasons as sentences (only built when someone asks)."""
    reasons = _why_strategy(p)
    if p.strategy is Strategy.KERNEL:
        reasons += _kernel_reasons(p)
    if p.access != "auto":
        reasons.append(f"access={p.access!r}: read-ahead of {p.read_ahead} bytes")
    return reasons


def _why_strategy(p: Plan) -> list[str]:
    stream_only = _stream_only(p.facts, p.compression)
    if stream_only:
        return [stream_only]
    if p.requested is Strategy.THREAD:
        return ["strategy=THREAD was requested"]
    reasons = []
    if p.forced:
        reasons.append(f"backend {p.backend!r} was forced (backend= or HYBRIDIO_BACKEND)")
    if p.requested is Strategy.KERNEL:
        reasons.append("strategy=KERNEL was requested")
    elif p.forced:
        pass
    elif remote_filesystem(p.facts.filesystem):
        reasons.append(
            f"{p.facts.filesystem} may block on a network or a userspace daemon: blocking "
            "calls belong in threads, and kernel AIO on it is buffered (synchronous) anyway"
        )
    elif p.strategy is Strategy.THREAD:
        reasons.append(
            "no native kernel AIO works here (only caio's Python pool, one thread hop "
            "per operation): the buffered thread engine serves streams better"
        )
    else:
        reasons.append(
            "a regular file: positional and chunk I/O go to kernel AIO "
            f"({p.backend}), cached ranges are read inline"
        )
    return reasons


def _kernel_reasons(p: Plan) -> list[str]:
    prof = p.profile
    reasons = [
        f"reads up to {p.inline_max} bytes try the page cache inline "
        "(preadv2 RWF_NOWAIT) and only suspend on a miss"
        if p.inline
        else f"inline page-cache reads are off: {p.inline_reason}"
    ]
    if p.requested is Strategy.KERNEL:
        reasons.append(
            f"strategy=KERNEL: every request stays in the kernel engine, cut at "
            f"{p.max_chunk} bytes (AUTO would send reads of "
            f"{prof.thread_read_min} bytes or more to one thread call)"
        )
    else:
        reasons.append(
            f"reads of {p.thread_read_min} bytes or more are one pread in a thread; "
            f"kernel requests are cut at {p.max_chunk} bytes, so one submission holds "
            "the loop briefly"
        )
    if p.write_backend != p.backend:
        reasons.append(
            "writes and syncs go to Linux AIO: it copies a buffered write inside "
            "io_submit, where io_uring hands it to a worker thread"
            if prof.write_backend == "auto"
            else f"writes and syncs go to {p.write_backend}, as the profile says"
        )
    if not p.open_in_thread:
        reasons.append("opened in the loop thread: a local open costs microseconds")
    return reasons


# Plans by what they depend on.  Bounded: a key holds a device number, so a
# process touching many filesystems cannot grow it without end.
_PLAN_CACHE_MAX: Final = 512
_plans: dict[tuple[Any, ...], Plan] = {}


def _forget_plans() -> None:
    _plans.clear()


settings.on_reload(_forget_plans)


def plan(
    facts: FileFacts,
    *,
    compression: Compression = Compression.NONE,
    strategy: Strategy = Strategy.AUTO,
    access: str = "auto",
    backend: str | None = None,
    profile: TuningProfile,
) -> Plan:
    """The cached plan for *facts* and the request (see :func:`_decide`).

    Raises ValueError for an impossible request (KERNEL for a compressed file
    or a FIFO) and BackendUnavailableError for a forced backend that cannot run.
    """
    # Enum members by identity: an Enum's __hash__ is Python code, run on
    # every open otherwise (members are singletons, so this is exact).
    key = (
        facts,
        id(compression),
        id(strategy),
        access,
        backend,
        id(profile),
        settings.current().generation,
        kernel.probe_generation(),
    )
    found = _plans.get(key)
    if found is not None and found.profile is profile:
        return found
    made = _decide(facts, compression, strategy, access, backend, profile)
    if made is None:  # pragma: no cover - caio's Python pool always works
        raise kernel.BackendUnavailableError("no kernel backend works here")
    if len(_plans) >= _PLAN_CACHE_MAX:
        _plans.clear()
    _plans[key] = made
    return made


def choose(
    file: Any,
    fmode: FileMode,
    *,
    compression: Compression = Compression.NONE,
    strategy: Strategy = Strategy.AUTO,
    access: str = "auto",
    backend: str | None = None,
    profile: TuningProfile | None = None,
) -> Decision:
    """Decide the engine for opening *file* with *fmode*, with the reasons.

    An explicit strategy or backend always wins over the rules; an impossible
    one (KERNEL for a compressed file or a FIFO) raises ValueError with the
    reason.  A forced backend that cannot run raises BackendUnavailableError.
    """
    prof = profile if profile is not None else resolve_profile()
    if access not in ACCESS_VALUES:
        raise ValueError(f"access must be one of {ACCESS_VALUES}, not {access!r}")
    facts, _ = gather_facts(file)
    found = plan(
        facts,
        compression=compression,
        strategy=strategy,
        access=access,
        backend=backend,
        profile=prof,
    )
    if isinstance(file, int) and found.strategy is Strategy.KERNEL:
        why_not = unsupported_reason(file)
        if why_not is not None:
            found = dataclasses.replace(found, inline=False, inline_reason=why_not)
    return found.decision()
