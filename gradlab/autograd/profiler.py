"""A per-op profiler: where the time of a forward and a backward pass goes.

    with gradlab.autograd.profiler.profile() as prof:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))

What is timed, as in ``torch.autograd.profiler``:

* forward: every call of an op, that is of a public function in
  ``gradlab/ops/`` or ``gradlab.nn.functional`` (``conv2d``, ``relu``,
  ``cross_entropy``...), found with ``sys.setprofile``, which tells us about
  every Python call and return on this thread.  An op that calls another op
  is its parent: the child's time is the parent's "CPU total" but not its
  "self CPU".  (``nn.functional.conv2d`` calling ``ops.conv.conv2d`` counts
  once: a call nested in an op of the same name is part of it.)
* backward: every node the engine runs, under its ``grad_fn`` name
  (``ConvolutionBackward0``...).  The ops a backward formula calls are part of
  its own time, not listed apart.
* optimizer steps (``Optimizer.step#Adam.step``) and the blocks you name
  with ``record_function("label")``.

While it runs, every call of a compiled or NumPy kernel (``gradlab.kernels``)
reports its floating-point operations to the event it ran in: the table's
GFLOP/s column is a row's kernel flops over its self time, and Backend says
which kernels ran (``cython`` or ``numpy``).

Times are wall-clock on the thread that entered the profiler, so work done
by the kernels' other threads shows up in the op that waited for it.
Profiling adds a little time to every Python call (the setprofile hook), so
small ops look slower than they are; compare ops with each other, not with
an unprofiled run.
"""
import json
import os
import sys
import threading
import time
from collections import OrderedDict

from .. import debug

__all__ = ["profile", "record_function", "FunctionEventAvg", "EventList", "timed_backward"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_OP_FILES = {os.path.join(_PACKAGE_DIR, "nn", "functional.py")}
_OP_DIR = os.path.join(_PACKAGE_DIR, "ops") + os.sep

# What watches backward nodes in this process: the running profile, or gradlab.set_debug(2)'s
# tracer; the engine tests this once per node, optimizers and record_function once per step or block.
active = [None]


_op_names = {}    # code object -> the op it implements, or None: each function is examined once


def _op_name(code):
    """The op a code object implements, or None when it is not an op."""
    name = _op_names.get(code, False)
    if name is False:
        name = None
        path = code.co_filename
        if (path in _OP_FILES or (path.startswith(_OP_DIR) and not path.endswith("_common.py"))) \
                and not code.co_name.startswith(("_", "<")) \
                and getattr(code, "co_qualname", code.co_name) == code.co_name:
            name = code.co_name   # a public module-level function (not a closure; Python < 3.11 cannot tell)
        _op_names[code] = name
    return name


class _Open:
    """An event that has started and not yet ended."""
    __slots__ = ("name", "start", "children", "frame", "opaque", "flops", "backend")

    def __init__(self, name, frame, opaque):
        self.name, self.frame, self.opaque = name, frame, opaque
        self.children = 0.0
        self.flops, self.backend = 0, ""
        self.start = time.perf_counter()


class profile:
    """Record the time of every op, backward node and optimizer step run inside the block."""

    def __init__(self, enabled=True, use_cuda=False, record_shapes=False, profile_memory=False,
                 with_stack=False, use_device=None):
        if use_cuda or use_device not in (None, "cpu"):
            raise RuntimeError("profile: gradlab runs on the CPU only; use_cuda/use_device are not available")
        self.enabled = enabled
        # (name, start, duration, self duration, depth, kernel flops, kernel backend): in order of ending
        self.events = []
        self._stack = []
        self._thread = None
        self._previous = None
        self._t0 = None
        self._outer = None    # set_debug(2)'s node tracer, set aside while the profile runs

    # -- entering and leaving ------------------------------------------------------------------
    def __enter__(self):
        if not self.enabled:
            return self
        if isinstance(active[0], profile):
            raise RuntimeError("profile: a profiler is already running; profilers do not nest")
        self._thread = threading.get_ident()
        self._t0 = time.perf_counter()
        self._outer, active[0] = active[0], self
        debug.listen(self._on_kernel)
        self._previous = sys.getprofile()
        sys.setprofile(self._on_python_event)
        return self

    def __exit__(self, *exc):
        if not self.enabled:
            return False
        sys.setprofile(self._previous)
        debug.listen(None)
        active[0], self._outer = self._outer, None
        while self._stack:                # events left open by an exception
            self._close(self._stack[-1])
        return False

    # -- recording -----------------------------------------------------------------------------
    def _on_python_event(self, frame, event, arg):
        if event == "call":
            name = _op_name(frame.f_code)
            if name is None:
                return
            stack = self._stack
            if stack and (stack[-1].opaque or stack[-1].name == name):
                return                    # inside a backward node, or the same op one level down
            stack.append(_Open(name, frame, False))
        elif event == "return":
            stack = self._stack
            if stack and stack[-1].frame is frame:
                self._close(stack[-1])

    def run_node(self, node, fn, g):
        """``fn(g)``, a node's backward, timed under the node's name (the engine calls this)."""
        event = self.push(node.name(), opaque=True)
        try:
            return fn(g) if self._outer is None else self._outer.run_node(node, fn, g)
        finally:
            self.pop(event)

    def _on_kernel(self, name, backend, flops, seconds):
        """A kernel ran: its flops count for the innermost event open on this thread."""
        if self._stack and threading.get_ident() == self._thread:
            event = self._stack[-1]
            event.flops += flops
            event.backend = backend

    def push(self, name, opaque=False):
        """Start an event (``opaque``: no events are recorded inside it)."""
        event = _Open(name, None, opaque)
        if threading.get_ident() == self._thread:
            self._stack.append(event)
        return event

    def pop(self, event):
        """End an event started with ``push``."""
        if self._stack and self._stack[-1] is event:
            self._close(event)

    def _close(self, event):
        end = time.perf_counter()
        self._stack.pop()
        duration = end - event.start
        if self._stack:
            self._stack[-1].children += duration
        self.events.append((event.name, event.start - self._t0, duration, duration - event.children,
                            len(self._stack), event.flops, event.backend))

    # -- reading -------------------------------------------------------------------------------
    def key_averages(self):
        """One row per name: calls, self and total time (an EventList, see its ``table``)."""
        rows = OrderedDict()
        for name, _, duration, self_duration, _, flops, backend in self.events:
            row = rows.get(name)
            if row is None:
                row = rows[name] = FunctionEventAvg(name)
            row.count += 1
            row.cpu_time_total += duration * 1e6
            row.self_cpu_time_total += self_duration * 1e6
            row.flops += flops
            if backend and backend not in row.backend.split("+"):
                row.backend = f"{row.backend}+{backend}" if row.backend else backend
        return EventList(rows.values())

    def table(self, sort_by="self_cpu_time_total", row_limit=100):
        return self.key_averages().table(sort_by=sort_by, row_limit=row_limit)

    @property
    def self_cpu_time_total(self):
        """Microseconds recorded in all events, each counted once."""
        return sum(e[3] for e in self.events) * 1e6

    def export_chrome_trace(self, path):
        """Write the events as a Chrome trace (open it in chrome://tracing or ui.perfetto.dev)."""
        trace = [{"name": name, "ph": "X", "ts": round(start * 1e6, 3), "dur": round(duration * 1e6, 3),
                  "pid": os.getpid(), "tid": self._thread, "cat": "backward" if name.endswith(
                      ("Backward0", "Backward1")) else "cpu_op", "args": {"depth": depth}}
                 for name, start, duration, _, depth, _, _ in self.events]
        with open(path, "w") as f:
            json.dump({"traceEvents": trace, "displayTimeUnit": "ms"}, f)

    def __str__(self):
        return self.table()


def timed_backward(node, fn, g):
    """``fn(g)``, a node's backward, run by what watches nodes (the engine calls this when one does)."""
    return active[0].run_node(node, fn, g)


def set_node_tracer(tracer):
    """Let ``tracer.run_node(node, fn, g)`` see every backward node (gradlab.set_debug(2)); None stops.

    A running profile keeps its place and hands each node on to the tracer."""
    if isinstance(active[0], profile):
        active[0]._outer = tracer
    else:
        active[0] = tracer


class record_function:
    """Name a block of code so that the profiler times it (a context manager or a decorator)."""

    def __init__(self, name):
        self.name = name
        self._event = None

    def __enter__(self):
        prof = active[0]
        self._event = prof.push(self.name) if prof is not None else None
        return self

    def __exit__(self, *exc):
        prof = active[0]
        if prof is not None and self._event is not None:
            prof.pop(self._event)
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with record_function(self.name):
                return fn(*args, **kwargs)
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper


class FunctionEventAvg:
    """The totals of every event with one name (times in microseconds, as PyTorch)."""

    def __init__(self, key):
        self.key = key
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.flops = 0        # of the kernels run inside these events (a multiply-add is 2)
        self.backend = ""     # which kernels ran: "cython", "numpy", both joined by "+", or ""

    @property
    def gflops_per_second(self):
        """The kernels' floating-point operations over the self time (0 when no kernel computed)."""
        return self.flops / self.self_cpu_time_total / 1e3 if self.self_cpu_time_total else 0.0

    @property
    def cpu_time(self):
        """Average total time of one call."""
        return self.cpu_time_total / max(self.count, 1)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={_fmt(self.self_cpu_time_total)} "
                f"cpu_time={_fmt(self.cpu_time)} count={self.count}>")


_SORT_KEYS = ("self_cpu_time_total", "cpu_time_total", "cpu_time", "count")


class EventList(list):
    """A list of FunctionEventAvg rows that prints as PyTorch's profiler table."""

    def table(self, sort_by="self_cpu_time_total", row_limit=100, **ignored):
        if sort_by is None:
            rows = list(self)
        elif sort_by in _SORT_KEYS:
            rows = sorted(self, key=lambda r: getattr(r, sort_by), reverse=True)
        else:
            raise ValueError(f"table: sort_by must be one of {', '.join(_SORT_KEYS)} (or None), got {sort_by!r}")
        if row_limit is not None and row_limit >= 0:
            rows = rows[:row_limit]
        self_total = sum(r.self_cpu_time_total for r in self) or 1.0
        width = max([len("Name")] + [len(r.key) for r in rows]) + 2
        heads = ("Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "GFLOP/s", "Backend",
                 "# of Calls")
        rule = "-" * width + "  " + "  ".join("-" * 12 for _ in heads)
        lines = [rule, "Name".ljust(width) + "  " + "  ".join(h.rjust(12) for h in heads), rule]
        for r in rows:
            cells = (f"{100 * r.self_cpu_time_total / self_total:.2f}%", _fmt(r.self_cpu_time_total),
                     f"{100 * r.cpu_time_total / self_total:.2f}%", _fmt(r.cpu_time_total), _fmt(r.cpu_time),
                     f"{r.gflops_per_second:.2f}" if r.flops else "", r.backend, str(r.count))
            lines.append(r.key.ljust(width) + "  " + "  ".join(c.rjust(12) for c in cells))
        lines += [rule, f"Self CPU time total: {_fmt(self_total)}"]
        return "\n".join(lines) + "\n"

    def total_average(self):
        total = FunctionEventAvg("Total")
        for r in self:
            total.count += r.count
            total.cpu_time_total += r.cpu_time_total
            total.self_cpu_time_total += r.self_cpu_time_total
            total.flops += r.flops
        return total


def _fmt(us):
    """Microseconds as PyTorch prints them: us, ms or s."""
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"
