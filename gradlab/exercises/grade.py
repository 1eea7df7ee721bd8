"""Grade one exercise file in this (child) process: ``python -m gradlab.exercises.grade NAME PATH``.
Prints one JSON line: {"status": ..., "detail": ...}."""
import importlib.util
import json
import sys


def grade(name, path):
    from .catalog import BY_NAME
    from .checks import NotStarted, Wrong
    spec = importlib.util.spec_from_file_location(f"exercise_{name}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        return "wrong", f"the file does not import: {type(exc).__name__}: {exc}"
    fn = getattr(module, name, None)
    if not callable(fn):
        return "wrong", f"{path} defines no function {name}"
    try:
        BY_NAME[name].check(fn)
    except NotStarted:
        return "not started", ""
    except Wrong as exc:
        return "wrong", str(exc)
    return "passed", ""


if __name__ == "__main__":
    status, detail = grade(sys.argv[1], sys.argv[2])
    print(json.dumps({"status": status, "detail": detail}))
