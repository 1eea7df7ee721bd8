"""The op registry: each op is declared once, with a decorator at its definition.

    @op(inplace=True, operator="__mul__ __rmul__", alias="multiply")
    def mul(a, b):
        ...

declares ``mul`` as the Tensor methods ``mul`` and ``multiply``, the in-place
methods ``mul_`` and ``multiply_``, the operators ``a * b`` and ``2 * a``, and
the functions ``gradlab.mul`` and ``gradlab.multiply``.  ``install`` attaches
every declared name to Tensor once the op files are imported; ``gradlab.*`` is
built from ``functions()``; ``docs/ops.md`` is written by ``op_index()``
(``python -m gradlab.ops > docs/ops.md``), and a test keeps it current.

Each argument takes True (the op's own name, plus its aliases), False, or
a space-separated list of names:

* ``method``: Tensor methods (default True);
* ``function``: ``gradlab.*`` functions (default True);
* ``inplace``: in-place methods, ``name_`` for True (default False);
* ``operator``: Python operators called as ``op(a, b)`` (``__mul__``);
  those named ``__r...__`` are called reflected, ``op(b, a)``, unless
  ``reflect=False`` (for an op such as ``rsub`` that is written reflected);
* ``alias``: other names for the same op (``multiply``), added wherever
  the op's own name is (True);
* ``nn``: also a ``gradlab.nn.functional`` function (True, or names);
* ``prop``: read-only Tensor properties computed by the op (``x.T``);
* ``inplace_by``: what makes the in-place methods from the op, when the
  usual way (compute out of place, then write into ``a``) is not right.

Methods and functions take PyTorch's keyword names (``input``, ``other``) for
the op's own (``a``, ``b``), and the NumPy names PyTorch also takes
(``NUMPY_KEYWORDS``: ``x.sum(axis=1, keepdims=True)``).  The names are
translated only in a call that uses one; any other call of an op that has
such names pays one Python call and one test of its keywords.
"""
import functools
import inspect
import os
import re

__all__ = ["op", "OpInfo", "OPS", "NUMPY_KEYWORDS", "keyword_names", "with_keyword_names", "renamed",
           "take_keyword_names", "install", "functions", "op_index"]

# The NumPy names PyTorch's argument parser takes for its own (torch/csrc/utils/python_arg_parser.cpp)
NUMPY_KEYWORDS = {"axis": "dim", "keepdims": "keepdim", "x": "input", "a": "input", "x1": "input", "x2": "other"}


class OpInfo:
    """One declared op: the function and every name it is reached by."""

    __slots__ = ("fn", "methods", "inplace", "operators", "functions", "nn", "props", "reflect", "inplace_by")

    def __init__(self, fn, methods, inplace, operators, functions, nn, props, reflect, inplace_by):
        self.fn, self.methods, self.inplace, self.operators = fn, methods, inplace, operators
        self.functions, self.nn, self.props, self.reflect, self.inplace_by = functions, nn, props, reflect, inplace_by

    @property
    def name(self):
        return self.fn.__name__.lstrip("_")

    def __repr__(self):
        return f"<op {self.name} from {self.fn.__module__}>"


OPS = []  # every declared op, in the order the op files declare them


def _names(value, own, suffix=""):
    if value is True:
        return tuple(n + suffix for n in own)
    if not value:
        return ()
    return tuple(value.split())


def op(method=True, function=True, inplace=False, operator="", alias="", nn=False, prop="", reflect=True,
       inplace_by=None):
    """Declare the decorated function an op (see the module docstring)."""
    def declare(fn):
        own = (fn.__name__.lstrip("_"),) + tuple(alias.split())
        OPS.append(OpInfo(fn, _names(method, own), _names(inplace, own, "_"), _names(operator, own),
                          _names(function, own), _names(nn, own), _names(prop, own), reflect, inplace_by))
        return fn
    return declare


def _reflected(fn):
    def reflected(a, b):
        return fn(b, a)
    reflected.__name__ = reflected.__qualname__ = fn.__name__
    return reflected


def keyword_names(fn, method=False):
    """``{name a caller may use: fn's parameter}``, for PyTorch's and NumPy's names of fn's parameters.

    PyTorch calls the tensors ``input`` and ``other`` where an op says ``a``
    (or ``x``) and ``b``; ``where(condition, a, b)`` names its tensors ``input``
    and ``other``.  A method's ``input`` is the tensor it is called on, so it
    takes no name for it.
    """
    if not inspect.isfunction(fn):  # a class (an error type) in a namespace of functions
        return {}
    params = list(inspect.signature(fn).parameters)
    if not params:
        return {}
    if params[0] == "condition":
        names = {"input": "a", "other": "b"}
    else:
        names = {"input": params[0]} if params[0] in ("a", "x", "input") else {}
        if len(params) > 1 and params[1] in ("b", "other"):
            names["other"] = params[1]
    names.update((p, p) for p in ("dim", "keepdim") if p in params)
    names.update((alias, names[theirs]) for alias, theirs in NUMPY_KEYWORDS.items() if theirs in names)
    if method:
        names = {k: v for k, v in names.items() if v != names.get("input")}
    return {k: v for k, v in names.items() if k not in params}


def renamed(name, kwargs, names):
    """kwargs with the keyword ``names`` translated; a parameter given twice is refused as Python would."""
    out = {}
    for k, v in kwargs.items():
        k = names.get(k, k)
        if k in out:
            raise TypeError(f"{name}() got multiple values for argument '{k}'")
        out[k] = v
    return out


def with_keyword_names(fn, names, name=None):
    """fn taking the keyword ``names`` (from ``keyword_names``) too; fn itself when there are none."""
    if not names:
        return fn
    name = name or fn.__name__

    @functools.wraps(fn)
    def renaming(*args, **kwargs):
        if kwargs and not names.keys().isdisjoint(kwargs):
            kwargs = renamed(name, kwargs, names)
        return fn(*args, **kwargs)
    renaming.__name__ = renaming.__qualname__ = name
    return renaming


def take_keyword_names(namespace, names):
    """Make each function ``names`` lists in ``namespace`` (a module's globals) take PyTorch's and NumPy's names."""
    for name in names:
        namespace[name] = with_keyword_names(namespace[name], keyword_names(namespace[name]))


def install(tensor_class, make_inplace):
    """Attach every declared method, in-place method and operator to ``tensor_class``."""
    for info in OPS:
        method = with_keyword_names(info.fn, keyword_names(info.fn, method=True), info.name)
        for name in info.methods:
            setattr(tensor_class, name, method)
        for name in info.props:
            setattr(tensor_class, name, property(info.fn))
        for name in info.inplace:
            inplace = (info.inplace_by or make_inplace)(method)
            inplace.__name__ = inplace.__qualname__ = name
            setattr(tensor_class, name, inplace)
        for name in info.operators:
            reflected = info.reflect and name.startswith("__r")
            setattr(tensor_class, name, _reflected(info.fn) if reflected else info.fn)


def functions(kind="functions"):
    """``{name: fn}`` of every op declared as a ``gradlab.*`` function (``kind="nn"``: nn.functional)."""
    return {name: info.fn for info in OPS for name in getattr(info, kind)}


# ---- the index, docs/ops.md -------------------------------------------------------------------
_GRAD_FN = re.compile(r'"([A-Z]\w*Backward\w*)"')
_KERNEL = re.compile(r"\bkernels\.(\w+)")


_HELPER = re.compile(r"\b(_\w+)\(")


def _source(fn):
    """fn's source, with that of the module's private helpers it calls (where its record call often is)."""
    source = inspect.getsource(fn)
    module = inspect.getmodule(fn)
    for name in dict.fromkeys(_HELPER.findall(source)):
        helper = getattr(module, name, None)
        if inspect.isfunction(helper) and helper.__module__ == fn.__module__:
            source += inspect.getsource(helper)
    return source


def _row(info):
    fn = info.fn
    source = _source(fn)
    path = os.path.relpath(inspect.getsourcefile(fn), os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    grad_fns = ", ".join(dict.fromkeys(_GRAD_FN.findall(source))) or "-"
    kernel = ", ".join(dict.fromkeys(k for k in _KERNEL.findall(source) if not k.startswith("_"))) or "-"

    def cell(names):
        return " ".join(f"`{n}`" for n in names) or "-"
    where = f"`{path}`"
    return (f"| `{info.name}` | {where} | {grad_fns} | {cell(info.methods + info.props + info.operators)} | "
            f"{cell(info.inplace)} | {cell(info.functions + tuple('nn.functional.' + n for n in info.nn))} | "
            f"{kernel} |")


def op_index():
    """The op index as Markdown: one row per declared op (what docs/ops.md holds)."""
    lines = ["# The ops", "",
             "Every op gradlab declares, generated from the registry (`gradlab/ops/registry.py`) by",
             "`python -m gradlab.ops > docs/ops.md`; `tests/ops/test_registry.py` fails when it is stale.",
             "The grad_fn column names the graph nodes the op records (`-`: none of its own; it is made of",
             "other ops, or has no gradient); the kernel column, the functions of `gradlab.kernels` it calls",
             "(a Cython kernel with a NumPy twin).", "",
             "| op | defined at | grad_fn | method / operator | in-place | function | kernel |",
             "|---|---|---|---|---|---|---|"]
    rows = sorted(OPS, key=lambda i: (inspect.getsourcefile(i.fn), i.fn.__code__.co_firstlineno))
    lines += [_row(info) for info in rows]
    return "\n".join(lines) + "\n"
