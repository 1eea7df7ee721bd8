"""A fork server of save loops, for the SIGKILL test in tests/serialization/test_serialization.py.

    python save_loop.py

Each line read from stdin, ``PATH FIRST_GENERATION MODE``, forks a child that
saves generation FIRST_GENERATION, FIRST_GENERATION + 1, ... of
``checkpoint(g)`` to PATH until it is killed, printing ``saved g`` after each
save returns.  MODE is ``atomic`` (``gradlab.save`` to the path) or
``in-place`` (a plain ``open(path, "wb")`` and write: the control that shows
the test can catch a torn file).

The server prints ``started PID`` after forking and ``ended PID`` once the
child is dead, so the reader knows it has seen every ``saved`` line; the last
one names the last generation that certainly completed, and the file must
then hold that generation or the next.  Forking from one warm process makes a
kill cost milliseconds instead of a fresh interpreter start.

Every line goes out in one ``os.write``: ``print`` may write the text and its
newline separately (it does under ``python -u`` / PYTHONUNBUFFERED), and a
kill between the two, or the other process writing in between, would glue two
lines together.  The child also waits until ``started`` is out before saving,
so that line always comes first.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import numpy as np  # noqa: E402

import gradlab  # noqa: E402
from gradlab import serialization  # noqa: E402

N = 1 << 20  # one million float32 values: a 4 MiB tensor per checkpoint


def checkpoint(generation):
    """A checkpoint whose every part names its generation, so a mix of two is visible."""
    return {
        "generation": generation,
        "weights": gradlab.from_numpy(np.full(N, generation, dtype=np.float32)),
        "steps": gradlab.from_numpy(np.arange(generation, generation + 1000, dtype=np.int64)),
        "history": [float(generation)] * (generation % 7),
    }


def save_in_place(obj, path):
    with open(path, "wb") as f:
        serialization.save(obj, f)


def say(line):
    os.write(sys.stdout.fileno(), f"{line}\n".encode())


def save_forever(path, generation, mode):
    save = save_in_place if mode == "in-place" else gradlab.save
    while True:
        save(checkpoint(generation), path)
        say(f"saved {generation}")
        generation += 1


def main():
    say("ready")
    for line in sys.stdin:
        path, first, mode = line.split()
        go_read, go_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns to this loop
            try:
                os.close(go_write)
                os.read(go_read, 1)
                save_forever(path, int(first), mode)
            finally:
                os._exit(1)
        os.close(go_read)
        say(f"started {pid}")
        try:
            os.write(go_write, b"g")
        except BrokenPipeError:     # the test's kill came before the go: the child never saved
            pass
        os.close(go_write)
        os.waitpid(pid, 0)
        say(f"ended {pid}")


if __name__ == "__main__":
    main()
