"""Safe file I/O: writes that destroy nothing, and the size a reader may trust a stream to have.

``atomic_write(path)`` chooses by what ``path`` names now:

* a FIFO, a character or block device, a socket, ``/dev/stdout`` through a
  pipe: it is opened and written into, as ``open(path, "wb")`` would, since
  replacing it would destroy it (``/dev/null`` as root) or fail;
* a regular file, or nothing yet: readers see the old file or the new one,
  never a torn mix.  The new content goes to a temporary file in the target's
  directory (``os.replace`` is atomic only within one file system), which is
  flushed and fsynced, then renamed over the target; the directory is fsynced
  so the rename survives a power cut.  A symlink is followed: its target gets
  the new file.  An existing file keeps its permission bits (and its owner
  where the writer may set it); a file that is not writable is refused as
  ``open`` would refuse it.  If anything fails the temporary file is removed.

A writer killed outright (SIGKILL, power loss) cannot remove its temporary
file.  The next write to the same target removes only those that are provably
stale: a writer holds an exclusive ``flock`` on its temporary file until it is
done, and the process id in the name must no longer run, so the live temporary
of a concurrent save is never touched.
"""
import contextlib
import errno
import os
import re
import secrets
import stat

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so no cleanup of other writers' files either
    fcntl = None

__all__ = ["atomic_write", "remaining_size"]

_PID_DIGITS = 10  # room kept for the pid in a temporary name, so its stem does not depend on the pid
_TEMPORARY_TAIL = re.compile(r"\.(\d+)\.[0-9a-f]{12}\.tmp")  # after ".<stem>": ".<pid>.<random>.tmp"


def remaining_size(f):
    """Bytes left in a seekable binary file object, or None when it cannot tell.

    Readers compare it with what a header claims before they allocate.
    """
    try:
        if not f.seekable():
            return None
        here = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        return None


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """``with atomic_write(path) as f: f.write(...)``; see the module docstring for what happens."""
    path = os.fsdecode(os.fspath(path))
    try:
        existing = os.stat(path)  # follows symlinks: what a write would reach
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        with open(path, mode) as out:  # a directory fails here, as open() would
            yield out
        return
    if existing is not None and not os.access(path, os.W_OK):
        raise PermissionError(errno.EACCES, f"{os.strerror(errno.EACCES)} (the file is not writable)", path)
    target = os.path.realpath(path)
    directory, name = os.path.split(target)
    stem = _stem(directory, name)
    tmp, fd = _create_temporary(directory, stem)
    try:
        if existing is not None:
            _keep_owner_and_mode(fd, existing)
        with os.fdopen(fd, mode) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)
    _remove_stale_temporaries(directory, stem)


def _stem(directory, name):
    """``name``, shortened so that ``.<stem>.<pid>.<12 hex>.tmp`` fits the file system's name limit."""
    try:
        name_max = os.pathconf(directory or ".", "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):
        name_max = 255
    room = name_max - len(".") - (1 + _PID_DIGITS) - len(".0123456789ab.tmp")
    stem = name
    while len(os.fsencode(stem)) > room:  # cut characters, not bytes, so the name stays decodable
        stem = stem[:-1]
    return stem


def _create_temporary(directory, stem):
    """A new file ``.<stem>.<pid>.<random>.tmp`` (mode from the umask, as ``open`` would give), locked."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{stem}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        if fcntl is not None:
            with contextlib.suppress(OSError):  # some network file systems have no locks; the pid still guards
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return tmp, fd


def _keep_owner_and_mode(fd, existing):
    """Give the temporary file the replaced file's owner (where allowed) and permission bits."""
    if hasattr(os, "fchown"):
        with contextlib.suppress(OSError):  # only root may give a file away; a group needs membership
            os.fchown(fd, existing.st_uid, existing.st_gid)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(existing.st_mode))  # after fchown, which may clear setuid bits


def _remove_stale_temporaries(directory, stem):
    """Delete ``.<stem>.<pid>.<random>.tmp`` files whose writer is provably gone: its pid does not
    run here and nobody holds the file's lock (a live writer on another host would).  Anything
    else, including any file whose state cannot be read, is left alone."""
    if fcntl is None:
        return
    prefix = f".{stem}"
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        match = _TEMPORARY_TAIL.fullmatch(entry, len(prefix)) if entry.startswith(prefix) else None
        if match and not _process_exists(int(match.group(1))):
            with contextlib.suppress(OSError):
                _remove_if_unlocked(os.path.join(directory, entry))


def _remove_if_unlocked(path):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError while a writer holds it
        if os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:  # still the file we locked
            os.unlink(path)
    finally:
        os.close(fd)


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # it exists and is someone else's; or no such pid at all
        return True
    return True


def _fsync_directory(directory):
    """Make the rename durable on POSIX; other systems cannot open a directory."""
    if os.name != "posix":
        return
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse; the rename itself already happened
        pass
    finally:
        os.close(fd)
