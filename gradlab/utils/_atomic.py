"""Atomic file writes: readers see the old file or the new one, never a torn mix.

The new content goes to a temporary file in the target's directory
(``os.replace`` is atomic only within one file system), which is flushed and
fsynced, then renamed over the target; the directory is fsynced so the rename
survives a power cut.  If anything fails the temporary file is removed.
"""
import contextlib
import os
import secrets

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """``with atomic_write(path) as f: f.write(...)``; a symlink's target gets the new file."""
    path = os.path.realpath(os.fsdecode(os.fspath(path)))
    directory, name = os.path.split(path)
    tmp, fd = _create_temporary(directory, name)
    try:
        with os.fdopen(fd, mode) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _create_temporary(directory, name):
    """A new file ``.name.<random>.tmp`` (mode from the umask, as ``open`` would give)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue


def _fsync_directory(directory):
    """Make the rename durable on POSIX; other systems cannot open a directory."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse; the rename itself already happened
        pass
    finally:
        os.close(fd)
