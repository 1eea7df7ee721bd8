"""Exercises that rebuild gradlab's core, graded on the spot by gradlab's own property tests.

    gradlab exercises list             one line per exercise
    gradlab exercises new DIR          a stub file per exercise (never overwriting a learner's file)
    gradlab exercises check DIR [NAME ...]

Each stub states its task and shapes and raises NotImplementedError.  ``check`` grades every file in
DIR in a child process with a time limit (a learner's code that hangs or crashes is reported, never
taking the command down): hypothesis draws inputs, the answer is compared with gradlab's own, and a
wrong answer is shown with the smallest failing input, the first wrong index and both values.
Needs hypothesis (``pip install gradlab[test]``).
"""
import json
import os
import subprocess
import sys

__all__ = ["names", "new", "check", "main", "TIME_LIMIT"]

TIME_LIMIT = 120.0  # seconds per exercise


def _catalog():
    from . import catalog
    return catalog


def names():
    """``[(name, title), ...]`` in order, from small to large."""
    return [(e.name, e.title) for e in _catalog().EXERCISES]


def new(directory):
    """Write the stub files into ``directory``; return (written, kept) file names (kept: already there)."""
    os.makedirs(directory, exist_ok=True)
    written, kept = [], []
    for exercise in _catalog().EXERCISES:
        path = os.path.join(directory, exercise.name + ".py")
        try:
            with open(path, "x") as f:  # "x": never overwrite a learner's work
                f.write(exercise.stub())
            written.append(path)
        except FileExistsError:
            kept.append(path)
    return written, kept


def check(directory, selected=None, time_limit=TIME_LIMIT):
    """Grade the files in ``directory``: ``[(name, status, detail), ...]``, status one of
    "passed", "not started", "wrong", "missing", "timed out", "crashed"."""
    known = [n for n, _ in names()]
    selected = list(selected or known)
    unknown = [n for n in selected if n not in known]
    if unknown:
        raise ValueError(f"no exercise named {', '.join(unknown)}; `gradlab exercises list` names them")
    results = []
    for name in selected:
        path = os.path.join(directory, name + ".py")
        if not os.path.isfile(path):
            results.append((name, "missing", f"no file {path} (`gradlab exercises new {directory}` writes it)"))
            continue
        results.append(_grade_in_child(name, path, time_limit))
    return results


def _grade_in_child(name, path, time_limit):
    command = [sys.executable, "-m", "gradlab.exercises.grade", name, os.path.abspath(path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=time_limit)
    except subprocess.TimeoutExpired:
        return name, "timed out", f"stopped after {time_limit:g} s"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return name, "crashed", tail
    result = json.loads(lines[-1])
    return name, result["status"], result["detail"]


def main(argv):
    """``gradlab exercises ...``; returns the exit status."""
    import argparse
    parser = argparse.ArgumentParser(prog="gradlab exercises", description="Rebuild gradlab's core, graded.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    sub.add_parser("list", help="name the exercises")
    p_new = sub.add_parser("new", help="write one stub file per exercise into DIR")
    p_new.add_argument("dir", metavar="DIR")
    p_check = sub.add_parser("check", help="grade the files in DIR")
    p_check.add_argument("dir", metavar="DIR")
    p_check.add_argument("names", nargs="*", metavar="NAME")
    p_check.add_argument("--time-limit", type=float, default=TIME_LIMIT, help="seconds per exercise")
    args = parser.parse_args(argv)
    if args.action == "list":
        for name, title in names():
            print(f"{name:34s} {title}")
        return 0
    if args.action == "new":
        written, kept = new(args.dir)
        for path in written:
            print(f"wrote {path}")
        for path in kept:
            print(f"kept  {path} (already there)")
        return 0
    if not os.path.isdir(args.dir):
        parser.error(f"no folder {args.dir}")
    try:
        results = check(args.dir, args.names, args.time_limit)
    except ValueError as exc:
        parser.error(str(exc))
    for name, status, detail in results:
        print(f"{name:34s} {status}")
        if status not in ("passed", "not started") and detail:
            print("    " + detail.replace("\n", "\n    "))
    attempted = [s for _, s, _ in results if s not in ("not started", "missing")]
    return 0 if attempted and all(s == "passed" for s in attempted) else 1
