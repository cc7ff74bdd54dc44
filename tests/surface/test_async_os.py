"""hybridio.os / os.path / tempfile / Path / wrap against the stdlib they wrap (issue 10)."""

from __future__ import annotations

import asyncio
import io
import os
import pathlib
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import pytest

import hybridio
from hybridio import _batched
from hybridio import os as hos


@pytest.fixture
def tree(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "f1.txt").write_text("one")
    (tmp_path / "a" / "b" / "f2.bin").write_bytes(b"\0" * 10)
    (tmp_path / "c").mkdir()
    (tmp_path / "top.txt").write_text("top")
    (tmp_path / "link_to_a").symlink_to(tmp_path / "a")
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    return tmp_path


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as exc:
        return "raised", (type(exc), exc.args)


async def _aoutcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", await fn()
    except Exception as exc:
        return "raised", (type(exc), exc.args)


QUERIES = [
    "stat",
    "lstat",
    "listdir",
    "readlink",
    "path.exists",
    "path.lexists",
    "path.isfile",
    "path.isdir",
    "path.islink",
    "path.ismount",
    "path.getsize",
    "path.realpath",
    "path.abspath",
]


def _resolve(module: Any, name: str) -> Any:
    for part in name.split("."):
        module = getattr(module, part)
    return module


@pytest.mark.parametrize("name", QUERIES)
@pytest.mark.parametrize("target", ["top.txt", "a", "link_to_a", "broken", "missing", b"a", 0])
async def test_queries_match_os(
    tree: pathlib.Path, monkeypatch: pytest.MonkeyPatch, name: str, target: Any
) -> None:
    monkeypatch.chdir(tree)
    if target == 0:
        target = os.open(".", os.O_RDONLY)
    try:
        ours = await _aoutcome(lambda: _resolve(hos, name)(target))
        theirs = _outcome(lambda: _resolve(os, name)(target))
    finally:
        if isinstance(target, int):
            os.close(target)
    if name in {"stat", "lstat"} and ours[0] == theirs[0] == "ok":
        ours = ("ok", tuple(ours[1])[:7])  # atime can move between the two calls
        theirs = ("ok", tuple(theirs[1])[:7])
    assert ours == theirs


MUTATIONS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("mkdir", ("new",), {}),
    ("mkdir", ("a",), {}),
    ("mkdir", ("x/y",), {}),
    ("makedirs", ("x/y/z",), {}),
    ("makedirs", ("a",), {"exist_ok": True}),
    ("makedirs", ("a",), {}),
    ("rmdir", ("c",), {}),
    ("rmdir", ("a",), {}),
    ("removedirs", ("c",), {}),
    ("remove", ("top.txt",), {}),
    ("remove", ("a",), {}),
    ("unlink", ("missing",), {}),
    ("rename", ("top.txt", "moved.txt"), {}),
    ("rename", ("missing", "moved.txt"), {}),
    ("renames", ("top.txt", "deep/er/moved.txt"), {}),
    ("replace", ("top.txt", "a/f1.txt"), {}),
    ("replace", ("c", "top.txt"), {}),
    ("link", ("top.txt", "hard"), {}),
    ("link", ("top.txt", "a/f1.txt"), {}),
    ("symlink", ("top.txt", "sym"), {}),
    ("symlink", ("top.txt", "a"), {}),
    ("access", ("top.txt", os.R_OK), {}),
    ("access", ("missing", os.F_OK), {}),
    ("statvfs", (".",), {}),
    ("getcwd", (), {}),
    ("mkdir", (1.5,), {}),
]


def _snapshot(root: pathlib.Path) -> list[tuple[str, str]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in sorted(dirnames + filenames):
            p = pathlib.Path(dirpath, n)
            kind = "link" if p.is_symlink() else "dir" if p.is_dir() else p.read_text()
            out.append((str(p.relative_to(root)), kind))
    return sorted(out)


@pytest.mark.parametrize(("name", "args", "kwargs"), MUTATIONS, ids=lambda v: str(v))
async def test_mutations_match_os(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    results = []
    for which, module in (("ours", hos), ("stdlib", os)):
        root = tmp_path / which
        root.mkdir()
        (root / "a").mkdir()
        (root / "a" / "f1.txt").write_text("one")
        (root / "c").mkdir()
        (root / "top.txt").write_text("top")
        monkeypatch.chdir(root)
        fn = getattr(module, name)
        if module is hos:
            outcome = await _aoutcome(lambda fn=fn: fn(*args, **kwargs))
        else:
            outcome = _outcome(lambda fn=fn: fn(*args, **kwargs))
        if name in {"statvfs", "getcwd"} and outcome[0] == "ok":
            outcome = ("ok", type(outcome[1]))
        if outcome[0] == "raised":
            # The message names the paths, which differ between the two roots.
            outcome = ("raised", outcome[1][0])
        results.append((outcome, _snapshot(root)))
    assert results[0] == results[1]


async def test_sendfile_copies_like_os(tmp_path: pathlib.Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(bytes(range(256)) * 40)
    with open(src, "rb") as fin, open(tmp_path / "dst", "wb") as fout:
        sent = await hos.sendfile(fout.fileno(), fin.fileno(), 100, 5000)
    assert sent == 5000
    assert (tmp_path / "dst").read_bytes() == src.read_bytes()[100:5100]


@pytest.mark.parametrize("topdown", [True, False])
@pytest.mark.parametrize("followlinks", [False, True])
async def test_walk_matches_os_walk(tree: pathlib.Path, topdown: bool, followlinks: bool) -> None:
    ours = [t async for t in hos.walk(tree, topdown=topdown, followlinks=followlinks)]
    assert ours == list(os.walk(tree, topdown=topdown, followlinks=followlinks))
    ours_b = [t async for t in hos.walk(bytes(tree), topdown=topdown)]
    assert ours_b == list(os.walk(bytes(tree), topdown=topdown))


async def test_walk_prunes_and_reports_errors_like_os_walk(tree: pathlib.Path) -> None:
    expected = []
    for dirpath, dirnames, filenames in os.walk(tree):
        expected.append((dirpath, list(dirnames), filenames))
        dirnames[:] = [d for d in dirnames if d != "a"]
    ours = []
    async for dirpath, dirnames, filenames in hos.walk(tree):
        ours.append((dirpath, list(dirnames), filenames))
        dirnames[:] = [d for d in dirnames if d != "a"]
    assert ours == expected
    errors_os: list[OSError] = []
    errors_ours: list[OSError] = []
    assert list(os.walk(tree / "missing", onerror=errors_os.append)) == []
    assert [t async for t in hos.walk(tree / "missing", onerror=errors_ours.append)] == []
    assert [type(e) for e in errors_ours] == [type(e) for e in errors_os] == [FileNotFoundError]


class _HopCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any) -> None:
        self.hops = 0
        real = module.run_in_thread

        async def counting(*args: Any, **kwargs: Any) -> Any:
            self.hops += 1
            return await real(*args, **kwargs)

        monkeypatch.setattr(module, "run_in_thread", counting)


async def test_scandir_streams_in_batches_not_one_hop_per_entry(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def make_tree() -> None:
        for i in range(2500):
            (tmp_path / f"f{i:04d}").touch()

    await asyncio.to_thread(make_tree)  # setup, not the loop's business
    counter = _HopCounter(monkeypatch, _batched)
    async with hos.scandir(tmp_path) as it:
        names = sorted([e.name async for e in it])
    with os.scandir(tmp_path) as sit:
        assert names == sorted(e.name for e in sit)
    # 1024 entries per hop: 3 hops, the last one short (so it closes itself).
    assert counter.hops == 3
    counter.hops = 0
    ours = sorted([p.name async for p in hybridio.Path(tmp_path).iterdir()])
    assert ours == names
    assert counter.hops == 3


async def test_walk_is_one_hop_per_directory(
    tree: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = _HopCounter(monkeypatch, hos)
    triples = [t async for t in hos.walk(tree)]
    assert counter.hops == len(triples) + 1  # + the link_to_a entry checked and skipped


async def test_scandir_errors_match_os_scandir(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        os.scandir(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        async with hos.scandir(tmp_path / "missing"):
            pass
    with pytest.raises(FileNotFoundError):
        async for _ in hos.scandir(tmp_path / "missing"):
            pass
    (tmp_path / "file").touch()
    with pytest.raises(NotADirectoryError):
        async for _ in hos.scandir(tmp_path / "file"):
            pass
    with pytest.raises(ValueError, match="batch"):
        hos.scandir(tmp_path, batch=0)


async def test_scandir_closed_early_releases_the_directory(tmp_path: pathlib.Path) -> None:
    for i in range(10):
        (tmp_path / str(i)).touch()
    fds_before = len(os.listdir("/proc/self/fd"))
    async with hos.scandir(tmp_path, batch=2) as it:
        async for _ in it:
            break
        assert len(os.listdir("/proc/self/fd")) == fds_before + 1
    assert len(os.listdir("/proc/self/fd")) == fds_before


# -- Path ----------------------------------------------------------------------

PATH_QUERIES = [
    "exists",
    "is_dir",
    "is_file",
    "is_symlink",
    "is_mount",
    "is_fifo",
    "is_socket",
    "stat",
    "lstat",
    "readlink",
    "resolve",
    "absolute",
    "read_bytes",
    "read_text",
    "owner",
    "group",
]


@pytest.mark.parametrize("method", PATH_QUERIES)
@pytest.mark.parametrize("target", ["top.txt", "a", "link_to_a", "broken", "missing"])
async def test_path_methods_match_pathlib(
    tree: pathlib.Path, monkeypatch: pytest.MonkeyPatch, method: str, target: str
) -> None:
    monkeypatch.chdir(tree)
    ours = await _aoutcome(lambda: getattr(hybridio.Path(target), method)())
    theirs = _outcome(lambda: getattr(pathlib.Path(target), method)())
    if ours[0] == "ok" and isinstance(ours[1], hybridio.Path):
        ours = ("ok", ours[1].as_pathlib())
    if method in {"stat", "lstat"} and ours[0] == theirs[0] == "ok":
        ours, theirs = ("ok", tuple(ours[1])[:7]), ("ok", tuple(theirs[1])[:7])
    assert ours == theirs


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("mkdir", ()),
        ("mkdir", (0o777, True, True)),
        ("rmdir", ()),
        ("unlink", ()),
        ("unlink", (True,)),
        ("touch", ()),
        ("touch", (0o666, False)),
        ("write_text", ("hé",)),
        ("write_bytes", (b"\0\1",)),
        ("write_bytes", ("not bytes",)),
        ("rename", ("renamed",)),
        ("replace", ("a/f1.txt",)),
        ("symlink_to", ("top.txt",)),
        ("hardlink_to", ("top.txt",)),
        ("chmod", (0o600,)),
    ],
    ids=str,
)
@pytest.mark.parametrize("target", ["top.txt", "a", "missing"])
async def test_path_mutations_match_pathlib(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    args: tuple[Any, ...],
    target: str,
) -> None:
    results = []
    for which, cls in (("ours", hybridio.Path), ("stdlib", pathlib.Path)):
        root = tmp_path / which
        root.mkdir()
        (root / "a").mkdir()
        (root / "a" / "f1.txt").write_text("one")
        (root / "top.txt").write_text("top")
        monkeypatch.chdir(root)
        call = getattr(cls(target), method)
        if cls is hybridio.Path:
            outcome = await _aoutcome(lambda call=call: call(*args))
        else:
            outcome = _outcome(lambda call=call: call(*args))
        if outcome[0] == "ok" and isinstance(outcome[1], (hybridio.Path, pathlib.Path)):
            outcome = ("ok", str(outcome[1]))
        if outcome[0] == "raised":
            outcome = ("raised", outcome[1][0])
        results.append((outcome, _snapshot(root)))
    assert results[0] == results[1]


@pytest.mark.parametrize("pattern", ["*", "*.txt", "**/*", "a/*", "*/f*", "nomatch*"])
async def test_glob_and_rglob_match_pathlib(tree: pathlib.Path, pattern: str) -> None:
    ours = sorted([p.as_pathlib() async for p in hybridio.Path(tree).glob(pattern)])
    assert ours == sorted(tree.glob(pattern))
    if not pattern.startswith("**"):
        ours = sorted([p.as_pathlib() async for p in hybridio.Path(tree).rglob(pattern)])
        assert ours == sorted(tree.rglob(pattern))


async def test_iterdir_errors_match_pathlib(tree: pathlib.Path) -> None:
    for target, exc in (("missing", FileNotFoundError), ("top.txt", NotADirectoryError)):
        with pytest.raises(exc):
            list((tree / target).iterdir())
        with pytest.raises(exc):
            [p async for p in hybridio.Path(tree / target).iterdir()]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="pathlib.Path.walk is 3.12+")
@pytest.mark.parametrize("top_down", [True, False])
@pytest.mark.parametrize("follow_symlinks", [False, True])
async def test_path_walk_matches_pathlib(
    tree: pathlib.Path, top_down: bool, follow_symlinks: bool
) -> None:
    ours = [
        (p.as_pathlib(), d, f)
        async for p, d, f in hybridio.Path(tree).walk(top_down, None, follow_symlinks)
    ]
    expected = list(tree.walk(top_down=top_down, follow_symlinks=follow_symlinks))
    assert ours == expected


def test_pure_path_operations_match_pathlib() -> None:
    p, q = hybridio.Path("/x/y.tar.gz"), pathlib.Path("/x/y.tar.gz")
    assert str(p / "z") == str(q / "z")
    assert str("rel" / hybridio.Path("z")) == "rel/z"
    assert (p.name, p.suffix, p.suffixes, p.stem, p.parts, p.anchor) == (
        q.name,
        q.suffix,
        q.suffixes,
        q.stem,
        q.parts,
        q.anchor,
    )
    assert [x.as_pathlib() for x in p.parents] == list(q.parents)
    assert p.with_suffix(".zip").as_pathlib() == q.with_suffix(".zip")
    assert p.relative_to("/x").as_pathlib() == q.relative_to("/x")
    assert os.fspath(p) == os.fspath(q)
    assert p == hybridio.Path("/x", "y.tar.gz")
    assert hash(p) == hash(hybridio.Path("/x/y.tar.gz"))
    assert p != q
    with pytest.raises(ValueError, match=r"relative|subpath"):
        p.relative_to("/other")
    with pytest.raises(ValueError, match="suffix"):
        p.with_suffix("bad")


async def test_path_open_is_async_open(tmp_path: pathlib.Path) -> None:
    p = hybridio.Path(tmp_path) / "f.txt"
    async with p.open("w") as f:
        assert isinstance(f, hybridio.AsyncTextIO)
        await f.write("héllo\n")
    assert await p.read_text() == (tmp_path / "f.txt").read_text()
    async with p.open("rb") as b:
        assert await b.read() == "héllo\n".encode()


# -- tempfile --------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["w+b", "w+", "a+", "r+b", "wb"])
async def test_temporary_file_behaves_like_stdlib(mode: str, tmp_path: pathlib.Path) -> None:
    data: Any = b"abc\n" if "b" in mode else "abc\n"
    with tempfile.TemporaryFile(mode, dir=tmp_path) as ref:
        ref.write(data)
        ref.seek(0)
        expected = _outcome(ref.read)
    async with hybridio.tempfile.TemporaryFile(mode, dir=tmp_path) as f:
        await f.write(data)
        await f.seek(0)
        ours = await _aoutcome(f.read)
        assert isinstance(f.name, int)
    assert f.closed
    assert ours[0] == expected[0]
    if ours[0] == "ok":
        assert ours == expected
    else:
        assert ours[1][0] is expected[1][0]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("delete_on_close", [True, False])
async def test_named_temporary_file_deletes_like_stdlib(
    tmp_path: pathlib.Path, delete_on_close: bool
) -> None:
    async with hybridio.tempfile.NamedTemporaryFile(
        "w+", dir=tmp_path, prefix="p", suffix=".s", delete_on_close=delete_on_close
    ) as f:
        await f.write("x")
        await f.flush()
        name = f.name
        assert pathlib.Path(name).read_text() == "x"
        assert os.path.basename(name).startswith("p") and name.endswith(".s")
        await f.close()
        assert os.path.exists(name) is not delete_on_close
    assert not os.path.exists(name)
    async with hybridio.tempfile.NamedTemporaryFile(dir=tmp_path, delete=False) as kept:
        await kept.write(b"k")
    assert pathlib.Path(kept.name).read_bytes() == b"k"


async def test_spooled_and_directory_and_mk_functions(tmp_path: pathlib.Path) -> None:
    async with hybridio.tempfile.SpooledTemporaryFile(4, "w+b", dir=tmp_path) as s:
        await s.write(b"abcdefgh")
        assert isinstance(s.wrapped, tempfile.SpooledTemporaryFile)
        await s.seek(0)
        assert await s.read() == b"abcdefgh"
    async with hybridio.tempfile.TemporaryDirectory(prefix="d", dir=tmp_path) as d:
        assert os.path.isdir(d) and os.path.basename(d).startswith("d")
    assert not os.path.exists(d)
    fd, name = await hybridio.tempfile.mkstemp(dir=tmp_path)
    os.close(fd)
    assert os.path.isfile(name)
    assert os.path.isdir(await hybridio.tempfile.mkdtemp(dir=tmp_path))
    with pytest.raises(FileNotFoundError):
        await hybridio.tempfile.mkstemp(dir=tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        tempfile.mkstemp(dir=tmp_path / "missing")
    with pytest.raises(ValueError, match="mode"):
        await hybridio.tempfile.TemporaryFile("rw")


# -- wrap / stdio / iter_chunked --------------------------------------------------


@pytest.mark.parametrize("entity", [int, [1, 2], lambda x: x, io.FileIO, 3])
def test_wrap_rejects_what_is_not_a_file(entity: Any) -> None:
    with pytest.raises(TypeError):
        hybridio.wrap(entity)


async def test_wrapped_file_matches_the_file_it_wraps(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "lines"
    p.write_bytes(b"".join(b"line %d\n" % i for i in range(5000)))
    with open(p, "rb") as ref, open(p, "rb") as raw:
        f = hybridio.wrap(raw)
        assert isinstance(f, hybridio.AsyncWrappedBinaryIO)
        assert [line async for line in f] == list(ref)
        await f.seek(0)
        assert await f.readline() == b"line 0\n"
        async for _ in f:
            break
        # Lines prefetched by iteration are given back: tell/read continue
        # right after the last line seen, as on the file itself.
        assert await f.tell() == len(b"line 0\nline 1\n")
        assert await f.read(7) == b"line 2\n"
        assert await f.peek(1) == raw.peek(1)
    with open(p, encoding="ascii") as t:
        w = hybridio.wrap(t)
        assert isinstance(w, hybridio.AsyncWrappedTextIO)
        assert await w.readline() == "line 0\n"
        assert w.encoding == "ascii"
        await w.close()
        assert w.closed
        with pytest.raises(ValueError, match="closed file"):
            await w.read()


async def test_stdio_follows_sys_streams(capsys: pytest.CaptureFixture[str]) -> None:
    await hybridio.stdout.write("out")
    await hybridio.stderr.write("err")
    await hybridio.stdout.flush()
    assert capsys.readouterr() == ("out", "err")
    with pytest.raises(OSError, match="reading from stdin while output is captured"):
        await hybridio.stdin.read()


async def test_iter_chunked_yields_reads_until_empty(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(bytes(range(256)) * 10)
    async with hybridio.async_open(p, "rb") as f:
        chunks = [c async for c in hybridio.iter_chunked(f, 1000)]
    assert [len(c) for c in chunks] == [1000, 1000, 560]
    assert b"".join(chunks) == p.read_bytes()
    with pytest.raises(ValueError, match="size"):
        [c async for c in hybridio.iter_chunked(f, 0)]


async def test_scandir_cancelled_mid_fetch_loses_no_entry(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import threading

    for i in range(5):
        (tmp_path / f"f{i}").touch()
    inside, release = threading.Event(), threading.Event()
    real_fetch = _batched.BatchedIterator._fetch

    def slow_fetch(self: Any) -> Any:
        inside.set()
        assert release.wait(10)
        return real_fetch(self)

    monkeypatch.setattr(_batched.BatchedIterator, "_fetch", slow_fetch)
    it = hos.scandir(tmp_path, batch=2)
    task = asyncio.ensure_future(it.__anext__())
    assert await asyncio.to_thread(inside.wait, 10)
    task.cancel()
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    monkeypatch.setattr(_batched.BatchedIterator, "_fetch", real_fetch)
    names = sorted([e.name async for e in it])
    assert names == sorted(os.listdir(tmp_path))


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize(
    "ops",
    [
        [("read", 5), ("readline", -1), ("read", -1)],
        [("readline", 3), ("readline", -1), ("readlines", 20)],
        [("readlines", -1)],
        [("read", 100000)],
        [("tell",), ("read", 7), ("tell",)],
        [("seek", 0, 1), ("read", 3)],
        [("write", 2)],
    ],
    ids=str,
)
async def test_wrapped_reads_after_partial_iteration_match_line_by_line_reads(
    tmp_path: pathlib.Path, binary: bool, ops: list[tuple[Any, ...]]
) -> None:
    data = b"".join(b"line %d\n" % i for i in range(3000))
    p_ref, p_ours = tmp_path / "ref", tmp_path / "ours"
    p_ref.write_bytes(data)
    p_ours.write_bytes(data)
    mode = "rb+" if binary else "r+"
    with open(p_ref, mode) as ref, open(p_ours, mode) as raw:
        f = hybridio.wrap(raw)
        async for _ in f:
            break  # the wrapper prefetched many lines, the caller saw one
        ref.readline()
        for op in ops:
            name, *args = op
            if name == "write":
                args = [b"XY" if binary else "XY"]
            expected = _outcome(lambda name=name, args=args: getattr(ref, name)(*args))
            ours = await _aoutcome(lambda name=name, args=args: getattr(f, name)(*args))
            assert ours == expected, op
    assert p_ours.read_bytes() == p_ref.read_bytes()


@pytest.mark.parametrize("mode", ["a+", "ab+"])
async def test_named_temporary_file_in_append_mode_appends_like_stdlib(
    tmp_path: pathlib.Path, mode: str
) -> None:
    data: Any = b"ab" if "b" in mode else "ab"
    with tempfile.NamedTemporaryFile(mode, dir=tmp_path) as ref:
        ref.write(data)
        ref.seek(0)
        ref.write(data)
        ref.seek(0)
        expected = ref.read()
    async with hybridio.tempfile.NamedTemporaryFile(mode, dir=tmp_path) as f:
        await f.write(data)
        await f.seek(0)
        await f.write(data)
        await f.seek(0)
        assert await f.read() == expected


def test_issue_10_names_are_exported() -> None:
    for name in ("os", "tempfile", "Path", "wrap", "iter_chunked", "stdin", "stdout_bytes"):
        assert name in hybridio.__all__
        assert getattr(hybridio, name) is not None
    assert hybridio.os.path.exists is not None
    assert isinstance(hybridio.__all__, tuple)


async def test_a_temporary_file_awaited_by_two_tasks_is_one_file() -> None:
    import asyncio

    opening = hybridio.tempfile.TemporaryFile()
    first, second = await asyncio.gather(opening, opening)
    assert first is second  # one fd, as async_open's rule
    await first.close()


async def test_temporary_file_errors_surface_unmasked_and_a_directory_exits_twice() -> None:
    with pytest.raises(LookupError):
        async with hybridio.tempfile.NamedTemporaryFile("w+", encoding="no-such-codec"):
            pass
    with pytest.raises(LookupError):
        async with hybridio.tempfile.TemporaryFile("w+", encoding="no-such-codec"):
            pass
    cm = hybridio.tempfile.TemporaryDirectory()
    async with cm as name:
        assert os.path.isdir(name)
    await cm.__aexit__(None, None, None)  # a second exit is a no-op
    assert not os.path.exists(name)
