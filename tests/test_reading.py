"""docs/reading.md, the reading path: every `file:function` it names exists, and the core path is as long as
the page says and no longer than 1,000 lines."""
import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "reading.md").read_text()
REF = re.compile(r"`([\w/]+\.pyx?):([\w.]+)`")


def _definition(path, qualname):
    """The (first line, last line) of ``qualname`` in ``path`` (a .py file, or a .pyx by its def line)."""
    source = (ROOT / path).read_text()
    if path.endswith(".pyx"):
        match = re.search(rf"^(?:c?p?def)\s+(?:\w+\s+)?{re.escape(qualname)}\(", source, re.M)
        assert match, f"{path} defines no {qualname}"
        line = source[:match.start()].count("\n") + 1
        return line, line
    scope = ast.parse(source)
    for name in qualname.split("."):
        node = next((n for n in ast.iter_child_nodes(scope) if getattr(n, "name", None) == name), None)
        assert node is not None, f"{path} defines no {qualname}"
        scope = node
    first = min([scope.lineno] + [d.lineno for d in getattr(scope, "decorator_list", [])])
    return first, scope.end_lineno


def test_every_named_function_exists():
    refs = REF.findall(DOC)
    assert len(refs) > 30
    for path, qualname in refs:
        _definition(path, qualname)


def test_the_core_path_is_as_long_as_the_page_says():
    core = DOC.split("<!-- core path: start -->")[1].split("<!-- core path: end -->")[0]
    spans = {ref: _definition(*ref) for ref in REF.findall(core)}
    lines = sum(last - first + 1 for first, last in spans.values())
    stated = int(re.search(r"The core path is \*\*([\d,]+) lines\*\*", DOC).group(1).replace(",", ""))
    assert lines == stated, f"docs/reading.md says the core path is {stated} lines; it is {lines}"
    assert lines <= 1000
