"""Safe file I/O: atomic writes, and the size a reader may trust a stream to have.

Atomic writes: readers see the old file or the new one, never a torn mix.

The new content goes to a temporary file in the target's directory
(``os.replace`` is atomic only within one file system), which is flushed and
fsynced, then renamed over the target; the directory is fsynced so the rename
survives a power cut.  If anything fails the temporary file is removed.

A writer killed outright (SIGKILL, power loss) cannot remove its temporary
file.  Temporary names carry the writer's process id, so the next successful
write to the same target removes those whose writer no longer runs.
"""
import contextlib
import os
import secrets

__all__ = ["atomic_write", "remaining_size"]


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
    _remove_stale_temporaries(directory, name)


def _create_temporary(directory, name):
    """A new file ``.name.<pid>.<random>.tmp`` (mode from the umask, as ``open`` would give)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue


def _remove_stale_temporaries(directory, name):
    """Delete ``.name.<pid>.<random>.tmp`` files left by writers that no longer run (POSIX only:
    elsewhere a process cannot be probed this way).  Other live writers' files are left alone."""
    if os.name != "posix":
        return
    prefix = f".{name}."
    with contextlib.suppress(OSError):
        for entry in os.listdir(directory):
            if not (entry.startswith(prefix) and entry.endswith(".tmp")):
                continue
            pid = entry[len(prefix):-len(".tmp")].split(".")[0]
            if pid.isdigit() and not _process_exists(int(pid)):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, entry))


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # it exists, and belongs to someone else
        return True
    return True


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
