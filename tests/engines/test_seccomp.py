"""io_uring blocked the way a container's seccomp profile blocks it (RELIABILITY F5).

Docker's default profile (moby/moby#46762) and many Kubernetes runtimes make
``io_uring_setup`` fail with ENOSYS or EPERM.  Each case runs in a child process
that installs a seccomp filter *before* ``import hybridio`` (caio's io_uring
extension probes the kernel when it is imported), so no global sysctl is
touched and the test process keeps its io_uring.

This module must not import hybridio at the top: the child imports it to get
:func:`install_uring_filter` and only then imports the library.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import platform
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# <linux/audit.h>: the arch the syscall number belongs to (seccomp_data.arch).
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# io_uring_setup/enter/register: 425-427 in the generic table, which x86_64 and
# aarch64 share for every syscall added since 5.1 (asm-generic/unistd.h).
_URING_SYSCALLS = (425, 426, 427)

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
# Classic BPF opcodes (<linux/filter.h>).
_LD_W_ABS = 0x00 | 0x00 | 0x20
_JEQ_K = 0x05 | 0x10 | 0x00
_RET_K = 0x06 | 0x00


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def uring_filter_program(arch: int, err: int) -> bytes:
    """A seccomp BPF program: io_uring syscalls of *arch* fail with *err*, all else runs."""
    n = len(_URING_SYSCALLS)
    prog = [
        _insn(_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _insn(_JEQ_K, 0, n + 1, arch),  # another ABI: allow
        _insn(_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    for i, nr in enumerate(_URING_SYSCALLS):
        # match -> the ERRNO return (just after the list); else next compare,
        # and after the last one the ALLOW return.
        prog.append(_insn(_JEQ_K, n - 1 - i, 1 if i == n - 1 else 0, nr))
    prog.append(_insn(_RET_K, 0, 0, _SECCOMP_RET_ERRNO | (err & 0xFFFF)))
    prog.append(_insn(_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
    return b"".join(prog)


def install_uring_filter(err: int) -> None:
    """Make io_uring_setup/enter/register fail with *err* in this process from now on.

    Call it before any thread starts (a filter covers the calling thread and
    the threads it creates later).
    """
    arch = _AUDIT_ARCH[platform.machine()]
    program = uring_filter_program(arch, err)
    filt = ctypes.create_string_buffer(program, len(program))

    class SockFprog(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

    fprog = SockFprog(len(program) // 8, ctypes.addressof(filt))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
    # prctl is variadic, but PR_SET_NO_NEW_PRIVS insists that the unused
    # arguments are 0: pass all five.
    # No new privileges: lets an unprivileged process install a filter, as a
    # container runtime does for its payload.
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="seccomp is Linux-only"),
    pytest.mark.skipif(
        platform.machine() not in _AUDIT_ARCH, reason=f"no seccomp arch id for {platform.machine()}"
    ),
]

_CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from tests.engines.test_seccomp import install_uring_filter
    install_uring_filter({err})

    import asyncio, hashlib, json, os
    import hybridio

    def raw_setup_errno():
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        params = ctypes.create_string_buffer(120)
        fd = libc.syscall(425, 8, params)
        if fd >= 0:
            os.close(fd)
            return 0
        return ctypes.get_errno()

    async def main(path, data):
        out = {{"setup_errno": raw_setup_errno()}}
        out["backends"] = [
            [b.name, b.available, b.reason, b.selected] for b in hybridio.backends()
        ]
        async with hybridio.async_open(path, "w+b", strategy="kernel") as f:
            out["write_backend"] = f.backend
            await f.write(data[: len(data) // 2])
            await f.write_at(len(data) // 2, data[len(data) // 2 :])
            await f.seek(0)
            whole = await f.read()
            parts = await f.read_many([(i, 4096) for i in range(0, len(data), 4096)])
            out["sha_read"] = hashlib.sha256(whole).hexdigest()
            out["sha_many"] = hashlib.sha256(b"".join(parts)).hexdigest()
        async with hybridio.async_open(path, "rb") as f:
            out["read_backend"] = f.backend
            out["sha_stream"] = hashlib.sha256(await f.read()).hexdigest()
        try:
            await hybridio.async_open(path, "rb", backend="uring")
        except hybridio.BackendUnavailableError as exc:
            out["forced"] = str(exc)
        else:
            out["forced"] = None
        return out

    data = bytes.fromhex(sys.argv[2])
    print(json.dumps(asyncio.run(main(sys.argv[1], data * 64))))
    """
)


@pytest.mark.parametrize("err", [errno.ENOSYS, errno.EPERM], ids=["ENOSYS", "EPERM"])
def test_uring_blocked_by_seccomp_falls_back_to_linux_aio(tmp_path: Path, err: int) -> None:
    pattern = os.urandom(16 << 10)
    script = _CHILD.format(root=str(ROOT), err=err)
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "f"), pattern.hex()],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HYBRIDIO_BACKEND": ""},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["setup_errno"] == err  # the filter is what the library met
    infos = {name: (ok, reason, sel) for name, ok, reason, sel in out["backends"]}
    ok, reason, _ = infos["uring"]
    assert not ok
    # caio's words: "... (ENOSYS) ... seccomp ..." or "...: Operation not permitted".
    assert reason and (errno.errorcode[err] in reason or os.strerror(err) in reason), reason
    assert infos["linux"][0] and infos["linux"][2]  # available and the one selected
    assert out["write_backend"] == "linux"
    assert out["read_backend"] == "linux"
    expected = hashlib.sha256(pattern * 64).hexdigest()
    assert out["sha_read"] == out["sha_many"] == out["sha_stream"] == expected
    assert (tmp_path / "f").read_bytes() == pattern * 64  # the same bytes as a normal run
    assert out["forced"] is not None, "backend='uring' must raise BackendUnavailableError"
    assert "uring" in out["forced"] and reason in out["forced"]


def test_filter_blocks_only_io_uring(tmp_path: Path) -> None:
    """The filter itself: io_uring_setup fails with the errno, other syscalls run."""
    script = textwrap.dedent(
        f"""
        import ctypes, os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from tests.engines.test_seccomp import install_uring_filter
        install_uring_filter(95)  # EOPNOTSUPP: distinct from anything the kernel says
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.syscall(425, 8, ctypes.create_string_buffer(120))
        wrote = open({str(tmp_path / "x")!r}, "w").write("ok")
        print(fd, ctypes.get_errno(), os.getpid() > 0, wrote)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    ).stdout.split()
    assert out == ["-1", "95", "True", "2"]


_SUBSET = (
    "layers/test_binary.py",
    "oracle/test_binary_equivalence.py",
    "layers/test_batch.py",
    "properties/test_cancel.py",
    "properties/test_load.py",
)


def test_suite_subset_passes_without_io_uring(tmp_path: Path) -> None:
    """The binary-equivalence and load tests, run where io_uring is blocked.

    The conftest's backend matrix then skips "uring" with the seccomp reason,
    and the auto-selected default must be Linux AIO with identical results.
    """
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from tests.engines.test_seccomp import install_uring_filter
        install_uring_filter({errno.ENOSYS})
        import pytest
        sys.exit(pytest.main(sys.argv[1:]))
        """
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error::ResourceWarning",
            "--rootdir",
            str(ROOT),
            "--basetemp",
            str(tmp_path / "t"),
            # The caio thread pools run in the main suite already; "nul" is the
            # open path-error wording another change fixes (not seccomp's).
            "-k",
            "not thread and not python and not nul and not uvloop",
            *(str(ROOT / "tests" / name) for name in _SUBSET),
            "-rs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "HYBRIDIO_BACKEND": ""},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
    assert (
        "uring unavailable here: ImportError: io_uring_setup failed: syscall not available (ENOSYS)"
        in done.stdout
    ), done.stdout[-2000:]
