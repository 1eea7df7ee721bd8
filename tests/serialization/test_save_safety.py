"""gradlab.save never destroys or corrupts what it writes to (issue 18, class 1).

Atomic replacement under SIGKILL, special files written into, permissions and
owners kept, concurrent saves to names sharing a prefix, threads mutating the
tensors during a save, names at the file system's limit, ints of any size and
subclasses of the base types.  What is promised is in docs/serialization.md.
"""
import enum
import errno
import fcntl
import io
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from gradlab.serialization import SerializationError, writer
from gradlab.utils import _atomic
from serialization_cases import load_bytes, roundtrip, saved_bytes

HELPERS = os.path.dirname(os.path.abspath(__file__))
SMALL = {"w": gradlab.arange(6, dtype=gradlab.float32).reshape(2, 3), "step": 3}
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ============================================================================ atomic replacement
def _names(directory):
    return sorted(os.listdir(directory))


def test_save_to_a_path_leaves_only_the_file_with_the_umask_mode(tmp_path):
    target = tmp_path / "ckpt.gl"
    gradlab.save(SMALL, target)
    gradlab.save({"again": 1}, str(target))
    assert _names(tmp_path) == ["ckpt.gl"]
    assert gradlab.load(target) == {"again": 1}
    with open(tmp_path / "reference", "wb"):
        pass
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE((tmp_path / "reference").stat().st_mode)


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch, failing):
    target = tmp_path / "ckpt.gl"
    gradlab.save({"version": "old"}, target)

    def boom(*args, **kwargs):
        raise OSError(f"simulated {failing} failure")

    if failing == "write":  # fail half-way through the data
        monkeypatch.setattr(writer, "_write_file", lambda out, encoded: (out.write(b"GRA"), boom()))
    else:
        monkeypatch.setattr(_atomic.os, failing, boom)
    with pytest.raises(OSError, match="simulated"):
        gradlab.save({"version": "new", "w": gradlab.ones(1000)}, target)
    monkeypatch.undo()
    assert _names(tmp_path) == ["ckpt.gl"]
    assert gradlab.load(target) == {"version": "old"}


def test_an_unsaveable_object_does_not_touch_the_file(tmp_path):
    target = tmp_path / "ckpt.gl"
    gradlab.save({"version": "old"}, target)
    before = target.stat().st_mtime_ns
    with pytest.raises(TypeError):
        gradlab.save({"version": "new", "bad": object()}, target)
    assert _names(tmp_path) == ["ckpt.gl"] and target.stat().st_mtime_ns == before


def test_saving_into_a_missing_directory_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        gradlab.save(1, tmp_path / "missing" / "x.gl")
    assert _names(tmp_path) == []


def test_saving_through_a_symlink_replaces_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "ckpt.gl"
    gradlab.save("old", target)
    link = tmp_path / "link.gl"
    link.symlink_to(target)
    gradlab.save("new", link)
    assert link.is_symlink() and gradlab.load(target) == "new"
    assert _names(tmp_path / "real") == ["ckpt.gl"]


def _generation(path):
    """Load a checkpoint written by save_loop.py and check every part names one generation."""
    ckpt = gradlab.load(path)
    g = ckpt["generation"]
    assert set(ckpt) == {"generation", "weights", "steps", "history"}
    assert ckpt["weights"].shape == (1 << 20,) and bool((ckpt["weights"] == g).all())
    np.testing.assert_array_equal(ckpt["steps"].numpy(), np.arange(g, g + 1000))
    assert ckpt["history"] == [float(g)] * (g % 7)
    return g


@pytest.fixture
def save_server():
    """tests/serialization/save_loop.py: forks save loops on request (see its docstring)."""
    server = subprocess.Popen([sys.executable, os.path.join(HELPERS, "save_loop.py")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if server.stdout.readline().strip() != "ready":
            server.kill()
            pytest.fail(f"save_loop.py did not start:\n{server.communicate()[1]}")
        yield server
    finally:
        server.stdin.close()  # ends its loop
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _server_line(server):
    line = server.stdout.readline()
    if not line:
        pytest.fail(f"save_loop.py died:\n{server.stderr.read()}")
    parts = line.split()
    if len(parts) != 2 or not parts[1].isdigit():
        pytest.fail(f"save_loop.py printed {line!r}; expected 'WORD NUMBER'")
    return parts[0], int(parts[1])


def _kill_rounds(server, path, rounds, mode):
    """Start a save loop on ``path``, SIGKILL it at a random moment, ``rounds`` times.

    Each round first saves generation 1000 * round itself (the old file), timing
    it, and kills the loop within four such save times, so kills land both
    inside the first save and after some saves completed.  Yields (path, the
    last generation the loop reported saved) after each kill.
    """
    sys.path.insert(0, HELPERS)
    try:
        from save_loop import checkpoint
    finally:
        sys.path.remove(HELPERS)
    rng = random.Random(1234)
    for r in range(rounds):
        start = 1000 * r
        began = time.perf_counter()
        gradlab.save(checkpoint(start), path)
        save_seconds = time.perf_counter() - began
        server.stdin.write(f"{path} {start + 1} {mode}\n")
        server.stdin.flush()
        word, pid = _server_line(server)
        assert word == "started"
        try:
            time.sleep(rng.uniform(0.0, 4 * save_seconds))
        finally:
            os.kill(pid, signal.SIGKILL)
        saved = []
        while True:
            word, number = _server_line(server)
            if word == "ended":
                break
            saved.append(number)
        yield path, (saved[-1] if saved else start)


def test_sigkill_at_random_moments_leaves_the_old_or_the_new_checkpoint(tmp_path, save_server):
    leftovers = completed = 0
    for path, last_saved in _kill_rounds(save_server, tmp_path / "ckpt.gl", rounds=40, mode="atomic"):
        completed += last_saved % 1000 != 0
        g = _generation(path)
        assert g in (last_saved, last_saved + 1), f"found generation {g} after {last_saved} was saved"
        strays = [name for name in os.listdir(tmp_path) if name != "ckpt.gl"]
        assert all(name.startswith(".ckpt.gl.") and name.endswith(".tmp") for name in strays), strays
        leftovers += bool(strays)   # a killed save cannot clean up after itself; the next save does
    # the kills landed both inside a save (it left its temporary) and after completed saves
    assert leftovers >= 1 and completed >= 1
    gradlab.save({"final": 1}, tmp_path / "ckpt.gl")
    assert _names(tmp_path) == ["ckpt.gl"]


def test_a_save_removes_temporaries_of_dead_writers_only(tmp_path):
    target = tmp_path / "ckpt.gl"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = [f".ckpt.gl.{dead.pid}.0123456789ab.tmp", f".ckpt.gl.{alive.pid}.0123456789ab.tmp",
                 ".ckpt.gl.notapid.tmp", ".other.gl.1.0123456789ab.tmp"]
        for name in names:
            (tmp_path / name).write_bytes(b"partial")
        gradlab.save({"a": 1}, target)
        assert _names(tmp_path) == sorted(["ckpt.gl"] + names[1:])
    finally:
        alive.kill()
        alive.wait()


def test_the_kill_test_catches_a_writer_that_is_not_atomic(tmp_path, save_server):
    """The control: the same kills against a plain in-place write do leave broken files."""
    broken = 0
    for path, _ in _kill_rounds(save_server, tmp_path / "ckpt.gl", rounds=15, mode="in-place"):
        try:
            _generation(path)
        except SerializationError:
            broken += 1
    assert broken >= 1


# ============================================================================ special files
def test_saving_to_a_fifo_writes_into_it(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    gradlab.save(SMALL, fifo)
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert _names(tmp_path) == ["pipe"]
    assert load_bytes(received[0])["step"] == 3


@pytest.mark.parametrize("through_symlink", [False, True])
def test_saving_to_dev_null_keeps_the_device(tmp_path, through_symlink):
    before = os.stat("/dev/null")
    path = "/dev/null"
    if through_symlink:
        os.symlink("/dev/null", tmp_path / "null")
        path = tmp_path / "null"
    gradlab.save({"w": gradlab.ones(1000)}, path)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_saving_to_dev_stdout_through_a_pipe(tmp_path):
    code = "import gradlab; gradlab.save({'w': gradlab.arange(5000), 's': 'x'}, '/dev/stdout')"
    done = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    loaded = load_bytes(done.stdout)
    assert loaded["s"] == "x" and loaded["w"].tolist() == list(range(5000))


def test_saving_to_a_directory_fails_and_keeps_it(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        gradlab.save(1, tmp_path / "d")
    assert (tmp_path / "d").is_dir() and _names(tmp_path) == ["d"]


# ============================================================================ permissions, links
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o660, 0o755, 0o700])
def test_saving_over_a_file_keeps_its_permission_bits(tmp_path, mode):
    target = tmp_path / "ckpt.gl"
    gradlab.save("old", target)
    os.chmod(target, mode)
    gradlab.save("new", target)
    assert stat.S_IMODE(target.stat().st_mode) == mode and gradlab.load(target) == "new"


@pytest.mark.skipif(IS_ROOT, reason="root may write any file")
def test_a_read_only_file_is_refused_and_kept(tmp_path):
    target = tmp_path / "ckpt.gl"
    gradlab.save("old", target)
    os.chmod(target, 0o444)
    with pytest.raises(PermissionError) as error:
        gradlab.save("new", target)
    assert error.value.errno == errno.EACCES and error.value.filename == str(target)
    assert gradlab.load(target) == "old" and _names(tmp_path) == ["ckpt.gl"]


def test_a_hard_linked_file_is_replaced_and_its_other_names_keep_the_old_content(tmp_path):
    target, other = tmp_path / "ckpt.gl", tmp_path / "backup.gl"
    gradlab.save("old", target)
    os.link(target, other)
    gradlab.save("new", target)
    assert gradlab.load(target) == "new" and gradlab.load(other) == "old"
    assert target.stat().st_nlink == 1


def test_a_dangling_symlink_gets_its_target_created(tmp_path):
    link = tmp_path / "link.gl"
    link.symlink_to(tmp_path / "real.gl")
    gradlab.save("new", link)
    assert link.is_symlink() and gradlab.load(tmp_path / "real.gl") == "new"


# ============================================================================ concurrent saves
_SAVE_LOOP = """
import sys, gradlab
directory, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    gradlab.save({"name": name, "i": i, "w": gradlab.full((20000,), float(i))}, directory + "/" + name)
print("done", flush=True)
"""


def test_concurrent_saves_to_names_sharing_a_prefix_all_succeed(tmp_path):
    """``ckpt`` and ``ckpt.<digits>``: one save's cleanup must never take the other's live temporary."""
    names = ["ckpt", "ckpt.4000000", f"ckpt.{os.getpid()}", "ckpt.1.0123456789ab", "ckpt.1.0123456789ab.tmp"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [subprocess.Popen([sys.executable, "-c", _SAVE_LOOP, str(tmp_path), name, "60"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for name in names]
    for name, proc in zip(names, writers):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out.strip() == b"done", f"saving {name} failed:\n{err.decode()}"
    for name in names:
        loaded = gradlab.load(tmp_path / name)
        assert loaded["name"] == name and loaded["i"] == 59
    assert _names(tmp_path) == sorted(names)


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_locked_temporary_of_a_dead_pid_is_kept(tmp_path):
    """A writer on another host has a pid that does not run here: its lock still protects its file."""
    live = tmp_path / f".ckpt.gl.{_dead_pid()}.0123456789ab.tmp"
    live.write_bytes(b"partial")
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        gradlab.save("x", tmp_path / "ckpt.gl")
        assert live.exists()
    gradlab.save("x", tmp_path / "ckpt.gl")  # the lock is gone: now it is provably stale
    assert not live.exists()


_NAME_PARTS = st.sampled_from(["ckpt", ".", "1", "4000000", "0123456789ab", "tmp", "gl", "-", "é"])


@given(names=st.lists(st.lists(_NAME_PARTS, min_size=1, max_size=5).map("".join), min_size=2, max_size=5,
                      unique=True),
       locked=st.lists(st.booleans(), min_size=5, max_size=5), pick=st.integers(0, 4))
@settings(max_examples=60)
def test_hypothesis_cleanup_removes_only_unlocked_temporaries_of_its_own_target(tmp_path_factory, names, locked,
                                                                               pick):
    names = [n for n in names if n not in (".", "..")]
    if not names:
        return
    directory = tmp_path_factory.mktemp("saves")
    dead = _dead_pid()
    temporaries = {}
    held = []
    try:
        for name, lock in zip(names, locked):
            path = directory / f".{_atomic._stem(str(directory), name)}.{dead}.0123456789ab.tmp"
            path.write_bytes(b"partial")
            if lock:
                f = open(path, "rb")
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                held.append(f)
            temporaries[name] = (path, lock)
        target = names[pick % len(names)]
        gradlab.save(1, directory / target)
        for name, (path, lock) in temporaries.items():
            removed = not path.exists()
            assert removed == (name == target and not lock), (name, target, lock)
    finally:
        for f in held:
            f.close()


# ============================================================================ threads mutating during a save
@pytest.mark.parametrize("to", ["path", "stream"])
def test_saving_while_another_thread_updates_the_tensors_writes_loadable_files(tmp_path, to):
    weights = {"w": gradlab.zeros(1 << 20), "b": gradlab.zeros(1000)}
    stop = threading.Event()

    def train():
        while not stop.is_set():
            for t in weights.values():
                t._data += 1.0  # in place, as an optimizer step does

    trainer = threading.Thread(target=train)
    trainer.start()
    try:
        for i in range(12):
            if to == "path":
                gradlab.save(weights, tmp_path / "ckpt.gl")
                loaded = gradlab.load(tmp_path / "ckpt.gl")
            else:
                loaded = load_bytes(saved_bytes(weights))
            assert loaded["w"].shape == (1 << 20,)
    finally:
        stop.set()
        trainer.join()


def test_a_pipe_save_checksums_a_private_copy(monkeypatch):
    """A write-only stream cannot be patched afterwards: the bytes are copied, hashed, then written,
    so a tensor changed between hashing and writing changes nothing that is written."""
    t = gradlab.zeros(100)
    sink = io.BytesIO()

    class Pipe:
        def write(self, b):
            t._data[:] = 7.0  # another thread's update, landing mid-save
            return sink.write(b)

    gradlab.save({"t": t}, Pipe())
    assert load_bytes(sink.getvalue())["t"].tolist() == [0.0] * 100


# ============================================================================ names, ints, subclasses
@pytest.mark.parametrize("name", ["n" * 255, "é" * 127 + "x", "n" * 230 + ".gl"])
def test_names_at_the_file_system_limit(tmp_path, name):
    try:
        limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    except OSError:
        limit = 255
    if len(os.fsencode(name)) > limit:
        pytest.skip(f"this file system allows {limit}-byte names")
    gradlab.save("old", tmp_path / name)
    stale = tmp_path / f".{_atomic._stem(str(tmp_path), name)}.{_dead_pid()}.0123456789ab.tmp"
    stale.write_bytes(b"partial")
    gradlab.save("new", tmp_path / name)
    assert gradlab.load(tmp_path / name) == "new" and _names(tmp_path) == [name]


@given(st.integers() | st.integers(min_value=1 << 62, max_value=1 << 70).map(lambda x: x * (1 << 20)))
def test_hypothesis_ints_of_any_size_roundtrip(n):
    assert roundtrip({"n": n, "neg": -n})["n"] == n


@pytest.mark.parametrize("make", [lambda: 10 ** 5000, lambda: -(10 ** 5000) + 1, lambda: 1 << 100_000,
                                  lambda: 1 << 63, lambda: -(1 << 63) - 1],
                         ids=["10**5000", "-10**5000+1", "2**100000", "2**63", "-2**63-1"])
def test_huge_ints_roundtrip(make):
    n = make()
    back = roundtrip([n])[0]
    assert type(back) is int and back == n


class LyingStr(str):
    def __str__(self):
        return "lie"

    __repr__ = __format__ = lambda self, *a: "lie"


class LyingInt(int):
    def __int__(self):
        return 0

    __index__ = __int__
    __str__ = __repr__ = lambda self: "0"


class LyingFloat(float):
    def __float__(self):
        return 0.0

    __str__ = __repr__ = lambda self: "0.0"


class Color(enum.IntEnum):
    RED = 7


@pytest.mark.parametrize("value, expected", [
    (LyingStr("truth"), "truth"), (LyingInt(12), 12), (LyingFloat(2.5), 2.5), (Color.RED, 7),
    (np.float64(0.1), 0.1), (LyingInt(1 << 80), 1 << 80)])
def test_subclasses_of_int_float_str_save_their_base_value(value, expected):
    back = roundtrip({value: [value]})
    ((key, items),) = back.items()
    assert type(key) is type(expected) and key == expected and items == [expected] and type(items[0]) is type(expected)


@pytest.mark.parametrize("value", [type("MyDict", (dict,), {})(a=1), type("MyList", (list,), {})([1]),
                                   type("MyTuple", (tuple,), {})((1,))])
def test_container_subclasses_are_refused_before_writing(tmp_path, value):
    target = tmp_path / "ckpt.gl"
    gradlab.save("old", target)
    with pytest.raises(TypeError, match=f"cannot save .*{type(value).__name__} at obj"):
        gradlab.save(value, target)
    assert gradlab.load(target) == "old"


def test_a_header_over_the_limit_is_refused_before_writing(tmp_path, monkeypatch):
    target = tmp_path / "ckpt.gl"
    gradlab.save("old", target)
    monkeypatch.setattr(writer, "MAX_HEADER_NBYTES", 1000)
    with pytest.raises(ValueError, match="header, over the format's limit of 1000 bytes"):
        gradlab.save(list(range(1000)), target)
    assert gradlab.load(target) == "old" and _names(tmp_path) == ["ckpt.gl"]

