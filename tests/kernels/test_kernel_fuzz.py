"""Hypothesis fuzz of kernel geometry at overflow scale, against both backends and PyTorch.

Sizes and geometry values are drawn from small ints and from overflow-scale
values (2**31, 2**32, 2**62, 2**63 - 1), with zero-size dims.  Each call runs
in a child process (fuzz_worker.py) on the compiled and the NumPy kernels:
they must give the same result or raise the same exception type, and never
crash (a SIGSEGV fails the case instead of killing pytest).  Where both give
a result and PyTorch does too, it must be PyTorch's.

CI runs a short profile; GRADLAB_SLOW=1 runs the long one (slow marker).
"""
import json
import os
import select
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HUGE = [2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1]
TIMEOUT = 120          # seconds for one case (both backends and PyTorch)
SHORT = dict(max_examples=150, deadline=None, derandomize=True, database=None,
             suppress_health_check=list(HealthCheck))
LONG = dict(max_examples=1500, deadline=None, database=None, suppress_health_check=list(HealthCheck))

# a size: mostly small, sometimes zero, sometimes overflow-scale
size = st.one_of(st.integers(0, 4), st.integers(0, 4), st.sampled_from(HUGE))
positive = st.one_of(st.integers(1, 4), st.integers(1, 4), st.sampled_from(HUGE))
nonneg = st.one_of(st.integers(0, 2), st.integers(0, 2), st.sampled_from(HUGE))


class Worker:
    """One fuzz_worker.py child, restarted after a crash."""

    def __init__(self):
        self.proc = None

    def start(self):
        env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fuzz_worker.py")], cwd=REPO, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)

    def ask(self, case):
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write(json.dumps(case) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            code = self.proc.returncode
            self.proc = None
            pytest.fail(f"kernel call {'crashed (exit code ' + str(code) + ')' if ready else 'hung'}: {case}")
        return json.loads(line)

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.stop()


def check(worker, case):
    verdict = worker.ask(case)
    if verdict.get("skip"):
        return
    assert verdict["same"], f"the backends disagree on {case}: {verdict}"
    for backend in ("cython", "numpy"):
        result = verdict[backend]
        if result and result[0] == "err":
            assert result[1] in ("ValueError", "TypeError", "RuntimeError"), (case, verdict)
            assert case["op"] in result[2], f"the error does not name {case['op']}: {result}"
    torch_says = verdict["torch"]
    assert torch_says in ("match", "refused", "n/a") or "too large for the kernels" in torch_says, (case, verdict)


@st.composite
def conv_cases(draw):
    op = draw(st.sampled_from(["conv2d_forward", "conv2d_backward", "conv2d_input_grad", "conv2d_weight_grad",
                               "im2col", "col2im"]))
    n, c, h, w = (draw(size) for _ in range(4))
    groups = draw(st.one_of(st.just(1), st.integers(1, 3), st.sampled_from(HUGE)))
    cout = draw(size)
    kh, kw = draw(positive), draw(positive)
    args = dict(stride=(draw(positive), draw(positive)), padding=(draw(nonneg), draw(nonneg)),
                dilation=(draw(positive), draw(positive)))
    seed = draw(st.integers(0, 2**16))
    cg = draw(st.one_of(st.just(c // groups if groups else 0), size))
    weight = (cout, cg, kh, kw)
    # an output shape from the geometry (when it fits), else anything
    spans = [s + 2 * p - d * (k - 1) - 1 for s, p, d, k in zip((h, w), args["padding"], args["dilation"], (kh, kw))]
    ho, wo = (sp // st_ + 1 if sp >= 0 else draw(size) for sp, st_ in zip(spans, args["stride"]))
    if op in ("im2col", "col2im"):
        args["kernel_size"] = (kh, kw)
        if op == "im2col":
            return dict(op=op, arrays={"x": (n, c, h, w)}, args=args, seed=seed)
        args["input_shape"] = (n, c, h, w)
        return dict(op=op, arrays={"cols": (n, c * kh * kw, ho * wo)}, args=args, seed=seed)
    args["groups"] = groups
    if op == "conv2d_forward":
        arrays = {"x": (n, c, h, w), "w": weight}
        if draw(st.booleans()):
            arrays["b"] = (cout,)
        return dict(op=op, arrays=arrays, args=args, seed=seed)
    grad = (n, cout, ho, wo)
    if op == "conv2d_backward":
        return dict(op=op, arrays={"grad_out": grad, "x": (n, c, h, w), "w": weight}, args=args, seed=seed)
    if op == "conv2d_input_grad":
        args["input_shape"] = (n, c, h, w)
        return dict(op=op, arrays={"grad_out": grad, "w": weight}, args=args, seed=seed)
    args["weight_shape"] = weight
    return dict(op=op, arrays={"grad_out": grad, "x": (n, c, h, w)}, args=args, seed=seed)


@st.composite
def pool_cases(draw):
    op = draw(st.sampled_from(["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
                               "avg_pool2d_backward"]))
    shape = tuple(draw(size) for _ in range(4))
    k = (draw(positive), draw(positive))
    args = dict(kernel_size=k, stride=draw(st.one_of(st.none(), st.tuples(positive, positive))),
                padding=(draw(nonneg), draw(nonneg)), ceil_mode=draw(st.booleans()))
    seed = draw(st.integers(0, 2**16))
    stride = args["stride"] or k
    outs = []
    for s, kk, p, ss in zip(shape[2:], k, args["padding"], stride):
        span = s + 2 * p - (kk - 1) - 1 + ((ss - 1) if args["ceil_mode"] else 0)
        o = span // ss + 1 if span >= 0 else 1
        if args["ceil_mode"] and span >= 0 and (o - 1) * ss >= s + p:
            o -= 1
        outs.append(o)
    grad = shape[:2] + tuple(outs)
    if op.startswith("max"):
        args["dilation"] = (draw(positive), draw(positive))
        if op == "max_pool2d_forward":
            args["return_indices"] = True
            return dict(op=op, arrays={"x": shape}, args=args, seed=seed)
        if 0 in grad or max(grad) > 64:     # indices need a real grad_out
            grad = (1, 1, 1, 1)
        return dict(op="max_pool2d_backward", arrays={"grad_out": grad}, indices=True,
                    args={"input_shape": shape if max(shape) < 2**31 else (1, 1, 1, 1)}, seed=seed)
    args["count_include_pad"] = draw(st.booleans())
    args["divisor_override"] = draw(st.one_of(st.none(), st.none(), st.sampled_from([1, 3, -2, 2**31, 2**62,
                                                                                       2**63 - 1, 2**63])))
    if op == "avg_pool2d_forward":
        return dict(op=op, arrays={"x": shape}, args=args, seed=seed)
    args["input_shape"] = shape
    return dict(op=op, arrays={"grad_out": grad}, args=args, seed=seed)


@settings(**SHORT)
@given(case=conv_cases())
def test_conv_geometry_fuzz(worker, case):
    check(worker, case)


@settings(**SHORT)
@given(case=pool_cases())
def test_pool_geometry_fuzz(worker, case):
    check(worker, case)


@pytest.mark.slow
@settings(**LONG)
@given(case=conv_cases())
def test_conv_geometry_fuzz_long(worker, case):
    check(worker, case)


@pytest.mark.slow
@settings(**LONG)
@given(case=pool_cases())
def test_pool_geometry_fuzz_long(worker, case):
    check(worker, case)
