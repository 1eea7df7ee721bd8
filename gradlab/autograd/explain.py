"""``explain``: backward, shown step by step.

    trace = gradlab.autograd.explain(loss)     # runs loss.backward() and returns what it did
    print(trace)                               # a notebook shows it as a table

For every node the engine runs, in the engine's order, the trace lists the
node's name, the gradient that arrived, the rule its backward applies, the
gradient it sends to each input, and every addition into a leaf's ``.grad``.
The rule is the one-line formula each op declares as the docstring of its
backward closure (``def backward(g): \"\"\"grad_a = g * b; grad_b = g * a\"\"\"``),
so it costs nothing at run time.  A trace of a long graph lists the first
``limit`` steps and says how many it left out.

``check=True`` also checks each node's backward against finite differences in
float64.  For a node ``y = f(x_1, ..., x_n)`` that received the gradient ``v``,
its backward must return ``grad_i = J_i^T v``, the derivative of
``phi(x) = <v, f(x)>`` with respect to ``x_i``.  ``phi`` is evaluated on
float64 copies of the inputs moved by ``+-h`` along single coordinates (all
of them for a small input, a random sample for a large one) and along two
random directions ``u``, and ``(phi(x + hu) - phi(x - hu)) / 2h`` must match
``<grad_i, u>``.  At a kink (relu at 0, a tie in a max) the two one-sided
differences disagree; there the backward passes when it lies between them (it
chose a subgradient).  Each evaluation starts from the same random state, so
that dropout draws one mask.

That needs each node's forward, which a graph does not keep.  Where it comes from:

* a custom ``autograd.Function``: its node's backward closure holds the class
  and the arguments (``function._backward_of``), so ``cls.apply`` is re-run;
* a built-in op: give ``explain`` a function that runs the forward
  (``explain(lambda: model(x).sum(), check=True)``), or run the forward inside
  ``record_forwards()``.  While that is on, a profile hook (``sys.setprofile``,
  as the profiler uses) sees every call of an op function (a public function
  of ``gradlab/ops/`` or ``gradlab/nn/functional/``) and, when the call returns
  a tensor whose node it made, keeps ``(function, arguments)`` in
  ``node.metadata["forward"]``.  The innermost op call that returns a node is
  the one that made it.  Nothing is kept, and nothing costs, when it is off.

A node whose forward is unknown, or whose input was changed in place after the
op ran, is listed as not checked.
"""
import html
import os
import sys

import numpy as np

from .. import random as _random
from .._tensor import Tensor
from . import engine, grad_mode
from .graph import Node

__all__ = ["explain", "record_forwards", "Trace"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_OP_DIRS = (os.path.join(_PACKAGE_DIR, "ops") + os.sep, os.path.join(_PACKAGE_DIR, "nn", "functional") + os.sep)
NO_FORMULA = "(no formula declared)"


def explain(output, check=False, grad_output=None, accumulate=True, retain_graph=False, params=None, limit=200):
    """Run the backward of ``output`` and return a ``Trace`` of every step (see the module docstring).

    ``output`` is a Tensor (a scalar, or give ``grad_output``) or a function of no arguments that returns
    one; a function's forward is recorded (``record_forwards``), so that ``check=True`` can check every node.
    ``accumulate=False`` leaves every ``.grad`` untouched.  ``params`` (``dict(model.named_parameters())``)
    names the leaves.  ``limit`` is the number of steps listed (None: all).
    """
    if callable(output) and not isinstance(output, Tensor):
        with record_forwards():
            output = output()
    root = _root(output)
    from . import _root_grads
    root_grad = _root_grads([output], None if grad_output is None else [grad_output])[0]
    if engine.tracing[0] is not None:
        raise RuntimeError("explain: another explain is running; explain calls do not nest")
    trace = Trace(output, check, accumulate, params, limit)
    leaves = _leaves(root)
    trace._had_grad = {id(t) for t in leaves if t._grad is not None}
    if accumulate:
        leaves = None
    engine.tracing[0] = trace
    try:
        # the graph is kept until the trace has read every node's rule and forward; released below
        engine.run_backward([output], [root_grad], retain_graph=True, inputs=leaves)
    finally:
        engine.tracing[0] = None
        if not retain_graph:
            for node in trace._ran:
                node.release()
        trace._ran = []
    if check:
        trace._check_all()
    return trace


def _root(output):
    """The node ``output`` was made by; a clear error for a tensor without one."""
    if not isinstance(output, Tensor):
        raise TypeError(f"explain: expected a Tensor (or a function returning one), got {type(output).__name__}")
    if output.grad_fn is not None:
        return output.grad_fn
    shape = tuple(output._data.shape)
    if output._requires_grad:
        raise RuntimeError(f"explain: the output (shape {shape}) is a leaf that requires grad: no op made it, so "
                           "there is no backward to show. Explain a result computed from it, e.g. (x * 2).sum()")
    raise RuntimeError(f"explain: the output (shape {shape}) has no graph: it does not require grad. Compute it, "
                       "outside no_grad, from a tensor made with requires_grad=True (or a model's parameters)")


def _leaves(root):
    """Every leaf that requires grad reachable from ``root`` (an iterative walk: no recursion limit)."""
    leaves, seen, stack = {}, {root}, [root]
    while stack:
        for edge in stack.pop().edges:
            if edge is None:
                continue
            target = edge[0]
            if type(target) is Node:
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
            else:
                leaves[id(target)] = target
    return list(leaves.values())


# ---- the trace ------------------------------------------------------------------------------------

class Trace:
    """What one backward did, step by step: ``str(trace)`` lists it, a notebook shows it as a table.

    ``steps`` holds one dict per listed step (``kind`` "node" or "leaf"); ``n_nodes`` and ``n_leaves``
    count all of them, listed or not.  After ``check=True``, ``wrong`` is the first step whose backward
    disagreed with finite differences (None when all checked nodes passed), and ``ok`` says so.
    """

    def __init__(self, output, check, accumulate, params, limit):
        self.check, self.accumulate, self.limit = check, accumulate, limit
        self.steps = []
        self.n_nodes = self.n_leaves = 0
        self.wrong = None
        self._ran = []
        self._had_grad = set()
        self._labels = {}
        self._counts = [0, 0]  # nodes, leaves labelled so far
        self._names = {id(t): name for name, t in (params or {}).items()}
        made_by = output.grad_fn.name() if output.grad_fn is not None else "?"
        self.title = f"backward of {_summary(output, numbers=False)} made by {made_by}"

    @property
    def ok(self):
        return self.wrong is None

    def _label(self, target):
        label = self._labels.get(id(target))
        if label is None:
            if type(target) is Node:
                self._counts[0] += 1
                label = f"{target.name()} #{self._counts[0]}"
            else:
                self._counts[1] += 1
                name = self._names.get(id(target))
                label = name if name is not None else f"#{self._counts[1]} {tuple(target._data.shape)}"
            self._labels[id(target)] = label
        return label

    def _listing(self):
        return self.limit is None or len(self.steps) < self.limit

    # the engine calls these two (engine.tracing)
    def node(self, node, g, in_grads):
        self.n_nodes += 1
        self._ran.append(node)
        if not self._listing():
            return
        grads = g if node.n_outputs > 1 else (g,)
        label = self._label(node)
        sends = []
        for i, (edge, ig) in enumerate(zip(node.edges, in_grads)):
            if edge is not None and ig is not None:
                target = edge[0]
                to = self._label(target) if type(target) is Node else "leaf " + self._label(target)
                sends.append((i, to, _summary(ig)))
        step = {"kind": "node", "label": label, "name": node.name(), "formula": formula(node),
                "received": [_summary(x) if x is not None else "none" for x in grads], "sends": sends}
        if self.check:
            step["_check"] = (node, _forward_of(node), grads, in_grads)
        self.steps.append(step)

    def leaf(self, tensor, g):
        self.n_leaves += 1
        if not self._listing():
            return
        summed = self.accumulate and id(tensor) in self._had_grad  # (else .grad is now just g)
        self.steps.append({"kind": "leaf", "label": self._label(tensor), "added": _summary(g),
                           "grad": _summary(tensor._grad) if summed else None})

    def _check_all(self):
        for n, step in enumerate(self.steps, 1):
            if step["kind"] == "node":
                node, forward, grads, in_grads = step.pop("_check")
                step["check"] = result = _check_node(node, forward, grads, in_grads)
                if result["ok"] is False and self.wrong is None:
                    self.wrong = dict(step, step=n)

    # ---- showing it --------------------------------------------------------------------------------
    def _header(self):
        additions = f"{self.n_leaves} addition{'' if self.n_leaves == 1 else 's'} into a leaf's gradient"
        lines = [f"explain: {self.title}: {self.n_nodes} nodes and {additions}, "
                 "in the engine's order" + ("" if self.accumulate else " (accumulate=False: .grad untouched)")]
        if self.check:
            checked = [s["check"] for s in self.steps if s["kind"] == "node"]
            done = sum(1 for c in checked if c["ok"] is not None)
            lines.append(f"check: {done} of {len(checked)} listed nodes checked against float64 finite differences")
            if self.wrong is not None:
                lines.append(f"WRONG BACKWARD: step {self.wrong['step']}, {self.wrong['label']}: "
                             f"{self.wrong['check']['text']}")
            elif done:
                lines.append("all checked backwards agree with finite differences")
        return lines

    def _footer(self):
        shown = len(self.steps)
        total = self.n_nodes + self.n_leaves
        if shown < total:
            return [f"... {total - shown} more steps not listed (the first {shown} of {total} are; "
                    "explain(..., limit=None) lists all)"]
        return []

    def __str__(self):
        lines = self._header()
        for n, s in enumerate(self.steps, 1):
            if s["kind"] == "leaf":
                verb = ".grad +=" if self.accumulate else "gets (not added: accumulate=False)"
                lines.append(f"{n:>4}  leaf {s['label']}: {verb} {s['added']}")
                if s["grad"] is not None:
                    lines.append(f"        .grad is now {s['grad']}")
                continue
            lines.append(f"{n:>4}  {s['label']}")
            for k, r in enumerate(s["received"]):
                lines.append(f"        got g{k if len(s['received']) > 1 else ''}: {r}")
            lines.append(f"        rule: {s['formula']}")
            for i, target, summary in s["sends"]:
                lines.append(f"        input {i} -> {target}: {summary}")
            if not s["sends"]:
                lines.append("        sends nothing (no input needs a gradient)")
            if "check" in s:
                lines.append(f"        check: {s['check']['text']}")
        return "\n".join(lines + self._footer())

    def __repr__(self):
        return f"<Trace: {self.title}, {len(self.steps)} steps listed{'' if self.ok else ', WRONG backward'}>"

    def _repr_html_(self):
        e = html.escape
        rows = []
        for n, s in enumerate(self.steps, 1):
            if s["kind"] == "leaf":
                now = f"<br>.grad now {e(s['grad'])}" if s["grad"] is not None else ""
                rows.append(f"<tr><td>{n}</td><td><b>leaf {e(s['label'])}</b></td><td>{e(s['added'])}</td>"
                            f"<td>.grad += g</td><td>{now}</td><td></td></tr>")
                continue
            sends = "<br>".join(f"input {i} &rarr; {e(t)}: {e(x)}" for i, t, x in s["sends"])
            check = s.get("check", {}).get("text", "")
            style = ' style="color:#b00"' if s.get("check", {}).get("ok") is False else ""
            rows.append(f"<tr><td>{n}</td><td><b>{e(s['label'])}</b></td><td>{'<br>'.join(map(e, s['received']))}"
                        f"</td><td><code>{e(s['formula'])}</code></td><td>{sends}</td><td{style}>{e(check)}</td></tr>")
        head = "<br>".join(e(x) for x in self._header())
        foot = "".join(f"<p>{e(x)}</p>" for x in self._footer())
        return (f"<div><p>{head}</p><table><tr><th>#</th><th>node</th><th>got</th><th>rule</th><th>sends</th>"
                f"<th>check</th></tr>{''.join(rows)}</table>{foot}</div>")


def formula(node):
    """The rule a node's backward applies: its closure's docstring (a Function's: its ``backward``'s)."""
    fn = node.backward_fn
    if fn is None:
        return NO_FORMULA
    doc = fn.__doc__
    if doc is None:
        cells = _closure(fn)
        if "ctx" in cells and "cls" in cells:  # an autograd.Function (function._backward_of)
            doc = cells["cls"].backward.__doc__
        elif callable(cells.get("fn")):  # an op with several outputs (record._taking_tuple)
            doc = cells["fn"].__doc__
    return " ".join(doc.split()) if doc else NO_FORMULA


def _closure(fn):
    code = getattr(fn, "__code__", None)
    if code is None or not fn.__closure__:
        return {}
    return {name: cell.cell_contents for name, cell in zip(code.co_freevars, fn.__closure__)}


def _summary(t, numbers=True):
    """``(64, 10) float32 [0.0156, -0.0141, 0.0156, 0.0156, ...] norm 0.125``: shape, dtype, a few numbers."""
    a = t._data
    text = f"{tuple(a.shape)} {a.dtype.name}"
    if not numbers:
        return text
    flat = a.reshape(-1)
    head = ", ".join(f"{x:.4g}" for x in flat[:4].tolist()) + (", ..." if a.size > 4 else "")
    text += f" [{head}]"
    if a.size > 4 and a.dtype.kind == "f":
        with np.errstate(all="ignore"):
            text += f" norm {float(np.linalg.norm(flat.astype(np.float64))):.4g}"
    return text



# ---- where a node's forward comes from -----------------------------------------------------------

class _Forward:
    """What re-running a node's forward takes: the function, its arguments, and what to compare against.

    ``positions[k]`` is where output k of the node is among the Tensors the function returns, ``outputs[k]``
    that output's values when the op ran, ``versions`` the tensor arguments' versions then, and ``rng`` the
    random state then (None: unknown), so that dropout draws the same mask again.
    """

    __slots__ = ("fn", "args", "kwargs", "positions", "outputs", "versions", "rng")

    def __init__(self, fn, args, kwargs, positions, outputs, versions, rng):
        self.fn, self.args, self.kwargs, self.positions = fn, args, kwargs, positions
        self.outputs, self.versions, self.rng = outputs, versions, rng


class record_forwards:
    """Within this block, every op's node keeps its forward (function and arguments), for ``explain(check=True)``.

    It uses ``sys.setprofile`` (see the module docstring), so it cannot run together with the profiler.
    """

    def __enter__(self):
        if sys.getprofile() is not None:
            raise RuntimeError("record_forwards: a profile hook (the profiler?) is already running on this thread")
        self._calls = []
        sys.setprofile(self._event)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)
        return False

    def _event(self, frame, event, arg):
        if event == "call":
            fn = _op_function(frame)
            if fn is not None:
                self._calls.append((frame, fn, _arguments(frame), _random.default_generator.rng.bit_generator.state))
        elif event == "return" and self._calls and self._calls[-1][0] is frame:
            _, fn, arguments, rng = self._calls.pop()
            if arg is not None:
                _keep_forward(fn, arguments, rng, arg)


_op_functions = {}  # code object -> the op function it is, or None: each code object is examined once


def _op_function(frame):
    code = frame.f_code
    fn = _op_functions.get(code, False)
    if fn is False:
        fn = None
        if (os.path.abspath(code.co_filename).startswith(_OP_DIRS) and not code.co_name.startswith(("_", "<"))
                and getattr(code, "co_qualname", code.co_name) == code.co_name):
            candidate = frame.f_globals.get(code.co_name)
            if getattr(candidate, "__code__", None) is code:
                fn = candidate
        _op_functions[code] = fn
    return fn


def _arguments(frame):
    """The call's arguments as (positional, keyword, [(tensor, version)]): read before the body runs."""
    code, values = frame.f_code, frame.f_locals
    names = code.co_varnames
    n_pos, n_kw = code.co_argcount, code.co_kwonlyargcount
    args = [values[n] for n in names[:n_pos]]
    kwargs = {n: values[n] for n in names[n_pos:n_pos + n_kw]}
    extra = n_pos + n_kw
    if code.co_flags & 0x04:  # *args
        args += list(values[names[extra]])
        extra += 1
    if code.co_flags & 0x08:  # **kwargs
        kwargs.update(values[names[extra]])
    versions = [(t, t._version_counter[0]) for _, t in _tensor_slots(args, kwargs)]
    return args, kwargs, versions


def _tensor_slots(args, kwargs):
    """``[(where, tensor)]`` for every Tensor argument, one level into lists (``cat([a, b])``)."""
    slots = []
    for key, value in list(enumerate(args)) + list(kwargs.items()):
        if isinstance(value, Tensor):
            slots.append(((key,), value))
        elif isinstance(value, (list, tuple)):
            slots += [((key, j), v) for j, v in enumerate(value) if isinstance(v, Tensor)]
    return slots


def _tensors(result):
    items = result if isinstance(result, (tuple, list)) else [result]
    return [t for t in items if isinstance(t, Tensor)]


def _keep_forward(fn, arguments, rng, result):
    """Keep ``fn`` and its arguments on the node ``result`` came from, if this call made it."""
    args, kwargs, versions = arguments
    node, positions, outputs = None, {}, {}
    for pos, t in enumerate(_tensors(result)):
        if t.grad_fn is not None and (node is None or t.grad_fn is node):
            node = t.grad_fn
            if t._out_nr not in positions:
                positions[t._out_nr], outputs[t._out_nr] = pos, t._data
    if node is None or "forward" in (node._metadata or ()) or any(t.grad_fn is node for t, _ in versions):
        return  # no node, made by an inner op call, or an input passed through
    changed = any(t._version_counter[0] != v for t, v in versions)
    node.metadata["forward"] = "in-place" if changed else _Forward(fn, args, kwargs, positions, outputs,
                                                                   versions, rng)


def _forward_of(node):
    """The node's ``_Forward``, "in-place", or None when it is unknown (read while the node still has its closure)."""
    kept = (node._metadata or {}).get("forward")
    if kept is not None:
        return kept
    cells = _closure(node.backward_fn) if node.backward_fn is not None else {}
    if "ctx" in cells and "cls" in cells:  # an autograd.Function: function._backward_of's closure
        args = list(cells["args"])
        outs = cells.get("tensor_outs", ())
        versions = [(t, v) for t, v in node.saved if any(t is a for a in args)]
        return _Forward(cells["cls"].apply, args, {}, {k: k for k in range(node.n_outputs)},
                        {k: o._data for k, o in enumerate(outs)}, versions, None)
    return None


# ---- the check ------------------------------------------------------------------------------------

_SAMPLE = 24      # coordinates checked per input when it has more than _ALL
_ALL = 32         # inputs of up to this many elements are checked at every coordinate
_DIRECTIONS = 2   # random directions checked per input


def _check_node(node, forward, grads, in_grads):
    """``{"ok": True/False/None, "text": ...}``: whether ``node``'s backward matched finite differences."""
    if forward is None:
        return _skip("its forward is unknown (explain a function, or run the forward inside record_forwards())")
    if forward == "in-place":
        return _skip("an in-place op (its inputs' values before it are gone)")
    if any(t._version_counter[0] != v for t, v in forward.versions):
        return _skip("an input was changed in place after the op")
    slots = _tensor_slots(forward.args, forward.kwargs)
    targets = []
    for i, (edge, ig) in enumerate(zip(node.edges, in_grads)):
        if edge is None or ig is None or ig._data.dtype.kind != "f":
            continue
        where = next((w for w, t in slots if (t.grad_fn if t.grad_fn is not None else t) is edge[0]
                      and (t._out_nr if t.grad_fn is not None else 0) == edge[1]), None)
        if where is not None and ig._data.shape == _at(slots, where)._data.shape:
            targets.append((i, where, ig))
    if not targets:
        return _skip("no input gradient could be matched to the op's arguments")
    base = {w: (t._data.astype(np.float64) if t._data.dtype.kind == "f" else t._data) for w, t in slots}
    vs = {nr: g._data.astype(np.float64) for nr, g in enumerate(grads) if g is not None}
    phi = _Phi(forward, base, vs)
    try:
        center = phi({})
        if center is None:
            return _skip("its forward does not compute in float64")
        if not phi.reproduced:
            return _skip("re-running its forward does not give its output again (is it random?)")
        return _compare(phi, center, base, targets)
    except Exception as exc:  # noqa: BLE001  (a forward that cannot run on float64 copies: say so, go on)
        return _skip(f"its forward failed on float64 copies ({type(exc).__name__}: {exc})")
    finally:
        phi.restore()


def _compare(phi, center, base, targets):
    """The backward's ``<grad_i, u>`` against finite differences of phi along each probe ``u``."""
    rng = np.random.default_rng(0)
    worst_ratio = 0.0
    failed = {"index": [], "random": []}  # (error, input, label, backward, finite difference) of failing probes
    n_points = 0
    for i, where, ig in targets:
        x0 = base[where]
        a = ig._data.astype(np.float64)
        rtol = 1e-5 if ig._data.dtype == np.float64 else 2e-3
        scale = float(np.abs(a).max()) if a.size else 0.0
        for label, u, h in _probes(x0, rng):
            plus, minus = phi({where: x0 + h * u}), phi({where: x0 - h * u})
            noise = 1e3 * np.finfo(np.float64).eps * phi.magnitude / h
            fd = (plus - minus) / (2 * h)
            up, down = (plus - center) / h, (center - minus) / h
            analytic = float(np.vdot(a, u))
            tol = rtol * (abs(fd) + scale * max(1.0, float(np.abs(u).sum()) ** 0.5)) + noise + 1e-12
            err = abs(analytic - fd)
            if abs(up - down) > tol and min(up, down) - tol <= analytic <= max(up, down) + tol:
                err = 0.0  # a kink: any value between the one-sided slopes is a subgradient
            n_points += 1
            worst_ratio = max(worst_ratio, err / tol)
            if err > tol:
                failed[label.split()[0]].append((err, i, label, analytic, fd))
    if not failed["index"] and not failed["random"]:
        return {"ok": True, "text": f"ok ({n_points} probes; worst error {worst_ratio:.2g} x the tolerance)"}
    # the largest error at a single element names it; a direction only says that something is off
    _, i, label, analytic, fd = max(failed["index"] or failed["random"])
    return {"ok": False, "input": i, "index": label, "backward": analytic, "finite_difference": fd,
            "text": f"input {i} at {label}: backward gives {analytic:.6g}, finite differences give {fd:.6g}"}


def _skip(why):
    return {"ok": None, "text": "not checked: " + why}


def _at(slots, where):
    return next(t for w, t in slots if w == where)


def _probes(x0, rng):
    """``(label, u, h)``: single coordinates (``index (1, 2)``) and random directions along which to differentiate."""
    n = x0.size
    coords = range(n) if n <= _ALL else rng.choice(n, size=_SAMPLE, replace=False)
    for flat in coords:
        u = np.zeros(x0.shape)
        index = np.unravel_index(int(flat), x0.shape) if x0.ndim else ()
        u[index] = 1.0
        yield f"index {tuple(int(k) for k in index)}", u, 1e-5 * max(1.0, abs(float(x0[index])))
    if n > 1:
        for k in range(_DIRECTIONS):
            u = rng.choice([-1.0, 1.0], size=x0.shape)
            yield f"random direction {k + 1}", u, 1e-5 * max(1.0, float(np.abs(x0).max()))


class _Phi:
    """``phi(x) = sum over outputs of <v, f(x)>`` in float64, each call from the op's random state."""

    def __init__(self, forward, base, vs):
        self.forward, self.base, self.vs = forward, base, vs
        self.generator = _random.default_generator
        self.saved_state = self.generator.rng.bit_generator.state
        self.state = forward.rng if forward.rng is not None else self.saved_state
        self.magnitude = 0.0
        self.reproduced = True

    def __call__(self, changed):
        arrays = dict(self.base)
        arrays.update(changed)
        f = self.forward
        args = [_rebuilt(a, (k,), arrays) for k, a in enumerate(f.args)]
        kwargs = {k: _rebuilt(a, (k,), arrays) for k, a in f.kwargs.items()}
        self.generator.rng.bit_generator.state = self.state
        with grad_mode.no_grad(), np.errstate(all="ignore"):
            outs = _tensors(f.fn(*args, **kwargs))
        total, magnitude = 0.0, 0.0
        for nr, v in self.vs.items():
            y = outs[f.positions[nr]]._data
            if y.dtype.kind == "f" and y.dtype != np.float64:
                return None
            total += float(np.vdot(v, y))
            magnitude += float(np.vdot(np.abs(v), np.abs(y)))
            if not changed and nr in f.outputs:
                self.reproduced &= _close(y, f.outputs[nr])
        if not changed:
            self.magnitude = magnitude
        return total

    def restore(self):
        self.generator.rng.bit_generator.state = self.saved_state


def _close(y, original):
    """Whether the float64 re-run ``y`` matches the op's output, to the precision it was computed in."""
    if y.shape != original.shape:
        return False
    rtol = 1e-9 if original.dtype == np.float64 else 1e-3
    with np.errstate(all="ignore"):
        scale = float(np.nanmax(np.abs(original))) if original.size else 0.0
        return bool(np.allclose(y, original, rtol=rtol, atol=rtol * scale, equal_nan=True))


def _rebuilt(value, key, arrays):
    """An argument with its tensors replaced by fresh ones over ``arrays`` (float64 copies, maybe moved)."""
    if isinstance(value, Tensor):
        return Tensor._wrap(arrays[key])
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        return type(value)(Tensor._wrap(arrays[key + (j,)]) if isinstance(v, Tensor) else v
                           for j, v in enumerate(value))
    return value
