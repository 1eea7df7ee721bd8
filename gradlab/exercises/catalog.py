"""The exercises: each a function to write on NumPy arrays, the text its stub starts with, and its check.

A check plugs the learner's function into gradlab where it belongs (as an op's backward inside an
``autograd.Function``, as the im2col kernel, as an optimizer step), draws inputs with hypothesis and
compares with what gradlab computes; backward answers must then pass ``gradcheck`` as well.
"""
import numpy as np
from hypothesis import strategies as st

import gradlab
import gradlab.nn.functional as F
from gradlab.kernels import conv as conv_twin
from gradlab.ops._common import sum_to as gradlab_sum_to
from gradlab.testing import arrays, broadcastable_shapes, shapes

from .checks import Wrong, compare, compare_all, for_all

EXAMPLES = 40  # per exercise; hypothesis shrinks a failure to the smallest input it can find


class Exercise:
    def __init__(self, name, title, task, signature, check):
        self.name, self.title, self.task, self.signature, self.check = name, title, task, signature, check

    def stub(self):
        """The file a learner starts from: the task, the signature, a body that raises NotImplementedError."""
        return (f'"""{self.title}\n\n{self.task.strip()}\n"""\nimport numpy as np\n\n\n'
                f"def {self.signature}:\n    raise NotImplementedError\n")


def _t(a):
    return gradlab.tensor(a, dtype=gradlab.float64, requires_grad=True)


def _expected_grads(forward, inputs, g):
    """d(<forward(inputs), g>)/d inputs, by gradlab's own (gradchecked) backward."""
    ts = [_t(a) for a in inputs]
    return [x.detach().numpy() for x in gradlab.autograd.grad(forward(*ts), ts, gradlab.tensor(g))]


def _plugged(forward, backward):
    """``forward`` (on tensors) as an autograd.Function whose backward is the learner's, on arrays."""
    class Plugged(gradlab.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            ctx.save_for_backward(*xs)
            return gradlab.tensor(forward(*[gradlab.tensor(x.detach().numpy()) for x in xs]).numpy())

        @staticmethod
        def backward(ctx, g):
            grads = backward(g.detach().numpy(), *[x.detach().numpy() for x in ctx.saved_tensors])
            return tuple(gradlab.tensor(np.asarray(a)) for a in grads)
    return Plugged.apply


def _backward_exercise(name, title, task, signature, names, forward, draw):
    def check(fn):
        def run(case):
            inputs, g = case["inputs"], case["g"]
            for probe, which in ((g, "the drawn g"), (np.ones_like(g), "g = ones")):  # a zero g hides mistakes
                try:
                    compare_all(names, _expected_grads(forward, inputs, probe), fn(probe, *inputs))
                except Wrong as exc:
                    raise Wrong(f"{exc} (with {which})") from None
            plugged = _plugged(forward, lambda g, *xs: tuple(fn(g, *xs)))
            if not gradlab.autograd.gradcheck(plugged, tuple(_t(a) for a in inputs), raise_exception=False):
                raise Wrong("gradcheck failed on this input")
        for_all(draw, run, EXAMPLES)
    return Exercise(name, title, task, signature, check)


# ---- inputs -------------------------------------------------------------------------------------------
FLOATS = dict(min_value=-3.0, max_value=3.0)


@st.composite
def same_shape(draw, n, away_from_zero=(), shape=None):
    """n arrays of one shape (those listed in ``away_from_zero`` kept away from 0) and an output gradient."""
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=4)) if shape is None else shape
    inputs = []
    for i in range(n):
        a = draw(arrays("float64", shape, **FLOATS))
        if i in away_from_zero:
            a = np.where(np.abs(a) < 0.5, 0.5 + np.abs(a), a)
        inputs.append(a)
    return {"inputs": inputs, "g": draw(arrays("float64", shape, **FLOATS))}


@st.composite
def matmul_inputs(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    a, b = draw(arrays("float64", (n, k), **FLOATS)), draw(arrays("float64", (k, m), **FLOATS))
    return {"inputs": [a, b], "g": draw(arrays("float64", (n, m), **FLOATS))}


@st.composite
def sum_to_inputs(draw):
    small, big = draw(broadcastable_shapes(2, min_dims=0, max_dims=3, max_side=4))
    target = np.broadcast_shapes(small, big)
    return {"g": draw(arrays("float64", target, **FLOATS)), "shape": small}


@st.composite
def conv_inputs(draw):
    n, cin, cout, k = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    h, w = draw(st.integers(k, 6)), draw(st.integers(k, 6))
    x = draw(arrays("float64", (n, cin, h, w), **FLOATS))
    wt = draw(arrays("float64", (cout, cin, k, k), **FLOATS))
    ho, wo = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    g = draw(arrays("float64", (n, cout, ho, wo), **FLOATS))
    return {"x": x, "w": wt, "g": g, "stride": stride, "padding": padding}


@st.composite
def pool_inputs(draw):
    n, c, k = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    h, w = draw(st.integers(k, 6)), draw(st.integers(k, 6))
    size = n * c * h * w
    x = draw(st.permutations(range(size))).__iter__()  # distinct values: no ties inside a window
    x = np.array(list(x), dtype=np.float64).reshape(n, c, h, w) / size
    ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
    return {"x": x, "g": draw(arrays("float64", (n, c, ho, wo), **FLOATS)), "kernel_size": k, "stride": stride}


# ---- checks that are not a backward ------------------------------------------------------------------
def _check_sum_to(fn):
    for_all(sum_to_inputs(), lambda c: compare("sum_to", gradlab_sum_to(gradlab.tensor(c["g"]), c["shape"]).numpy(),
                                                fn(c["g"], c["shape"])), EXAMPLES)


def _check_softmax_ce(fn):
    @st.composite
    def cases(draw):
        n, k = draw(st.integers(1, 5)), draw(st.integers(2, 5))
        return {"logits": draw(arrays("float64", (n, k), min_value=-5.0, max_value=5.0)),
                "targets": np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64)}

    def run(c):
        logits = _t(c["logits"])
        loss = F.cross_entropy(logits, gradlab.tensor(c["targets"]))
        loss.backward()
        compare("grad_logits", logits.grad.numpy(), fn(c["logits"], c["targets"]))
    for_all(cases(), run, EXAMPLES)


def _check_topological_order(fn):
    @st.composite
    def graphs(draw):
        return draw(st.lists(st.tuples(st.sampled_from(["mul", "add", "exp", "sum", "sin"]),
                                       st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=12))

    def run(steps):
        values = [_t(np.full(2, 0.5)), _t(np.full(2, 1.5))]
        for kind, i, j in steps:
            a, b = values[i % len(values)], values[j % len(values)]
            values.append({"mul": lambda: a * b, "add": lambda: a + b, "exp": lambda: a.exp(),
                           "sum": lambda: a.sum() * b, "sin": lambda: a.sin()}[kind]())
        root = values[-1].grad_fn
        reachable, stack = set(), [root]
        while stack:
            node = stack.pop()
            if node in reachable:
                continue
            reachable.add(node)
            stack += [n for n, _ in node.next_functions if n is not None and type(n).__name__ != "AccumulateGrad"]
        order = fn(root)
        if not isinstance(order, (list, tuple)):
            raise Wrong(f"returned {type(order).__name__}, expected a list of nodes")
        if set(order) != reachable or len(order) != len(reachable):
            raise Wrong(f"returned {len(order)} nodes ({len(set(order))} distinct); the graph has "
                        f"{len(reachable)} nodes (leaves' AccumulateGrad not counted)")
        position = {node: i for i, node in enumerate(order)}
        for node in order:
            for nxt, _ in node.next_functions:
                if nxt in position and position[nxt] < position[node]:
                    raise Wrong(f"{nxt.name()} (position {position[nxt]}) comes before {node.name()} "
                                f"(position {position[node]}), which sends it a gradient")
    for_all(graphs(), run, EXAMPLES)


def _check_im2col(fn):
    def run(c):
        expected = conv_twin.im2col(c["x"], (c["w"].shape[2],) * 2, (c["stride"],) * 2, (c["padding"],) * 2)
        compare("cols", expected, fn(c["x"], c["w"].shape[2], c["w"].shape[3], c["stride"], c["padding"]))
    for_all(conv_inputs(), run, EXAMPLES)


def _check_conv_backward(fn):
    def run(c):
        x, w = _t(c["x"]), _t(c["w"])
        F.conv2d(x, w, stride=c["stride"], padding=c["padding"]).backward(gradlab.tensor(c["g"]))
        compare_all(("grad_x", "grad_w"), (x.grad.numpy(), w.grad.numpy()),
                    fn(c["g"], c["x"], c["w"], c["stride"], c["padding"]))
    for_all(conv_inputs(), run, EXAMPLES)


def _check_max_pool_backward(fn):
    def run(c):
        x = _t(c["x"])
        F.max_pool2d(x, c["kernel_size"], c["stride"]).backward(gradlab.tensor(c["g"]))
        compare("grad_x", x.grad.numpy(), fn(c["g"], c["x"], c["kernel_size"], c["stride"]))
    for_all(pool_inputs(), run, EXAMPLES)


@st.composite
def step_inputs(draw):
    shape = draw(shapes(min_dims=1, max_dims=2, max_side=4))
    return {"p": draw(arrays("float64", shape, **FLOATS)), "grad": draw(arrays("float64", shape, **FLOATS)),
            "buf": draw(arrays("float64", shape, **FLOATS)), "v": np.abs(draw(arrays("float64", shape, **FLOATS))),
            "t": draw(st.integers(1, 5)), "lr": draw(st.sampled_from([0.1, 0.01])),
            "momentum": draw(st.sampled_from([0.5, 0.9]))}


def _optimizer_step(opt_class, c, state, **options):
    """One step of a gradlab optimizer on parameter c["p"] with gradient c["grad"] and the given state."""
    p = gradlab.nn.Parameter(gradlab.tensor(c["p"].copy()))
    p.grad = gradlab.tensor(c["grad"].copy())
    opt = opt_class([p], lr=c["lr"], **options)
    opt.state[p] = state
    opt.step()
    return p.detach().numpy(), opt.state[p]


def _check_sgd_momentum(fn):
    def run(c):
        p, state = _optimizer_step(gradlab.optim.SGD, c, {"momentum_buffer": gradlab.tensor(c["buf"].copy())},
                                   momentum=c["momentum"])
        compare_all(("p", "buf"), (p, state["momentum_buffer"].numpy()),
                    fn(c["p"].copy(), c["grad"], c["buf"].copy(), c["lr"], c["momentum"]))
    for_all(step_inputs(), run, EXAMPLES)


def _check_adam(fn):
    def run(c):
        state = {"step": gradlab.tensor(float(c["t"] - 1)), "exp_avg": gradlab.tensor(c["buf"].copy()),
                 "exp_avg_sq": gradlab.tensor(c["v"].copy())}
        p, state = _optimizer_step(gradlab.optim.Adam, c, state, betas=(0.9, 0.999), eps=1e-8)
        compare_all(("p", "m", "v"), (p, state["exp_avg"].numpy(), state["exp_avg_sq"].numpy()),
                    fn(c["p"].copy(), c["grad"], c["buf"].copy(), c["v"].copy(), c["t"], c["lr"], 0.9, 0.999, 1e-8))
    for_all(step_inputs(), run, EXAMPLES)


# ---- the list, from small to large ---------------------------------------------------------------------
EXERCISES = [
    _backward_exercise(
        "mul_backward", "The backward of elementwise multiplication.", """
out = a * b, with a, b and out of one shape. Given g = dL/dout (that shape), return (dL/da, dL/db),
each of a's shape. gradlab's answer: gradlab/ops/arithmetic.py, mul.""",
        "mul_backward(g, a, b)", ("grad_a", "grad_b"), lambda a, b: a * b, same_shape(2)),
    _backward_exercise(
        "div_backward", "The backward of elementwise division.", """
out = a / b, with a, b and out of one shape (b has no zeros). Given g = dL/dout, return (dL/da, dL/db).""",
        "div_backward(g, a, b)", ("grad_a", "grad_b"), lambda a, b: a / b, same_shape(2, away_from_zero=(1,))),
    Exercise("sum_to", "Undo broadcasting: sum a gradient back to an input's shape.", """
An input of shape `shape` was broadcast to g's shape (NumPy's rules: missing leading dims, and dims of 1).
Return g summed to `shape`, so that it can be that input's gradient. gradlab's answer:
gradlab/ops/_common.py, sum_to.""", "sum_to(g, shape)", _check_sum_to),
    _backward_exercise(
        "matmul_backward", "The backward of a matrix product.", """
out = a @ b with a of shape (n, k) and b of shape (k, m). Given g = dL/dout of shape (n, m), return
(dL/da of shape (n, k), dL/db of shape (k, m)).""",
        "matmul_backward(g, a, b)", ("grad_a", "grad_b"), lambda a, b: a @ b, matmul_inputs()),
    _backward_exercise(
        "relu_backward", "The backward of ReLU.", """
out = max(x, 0) elementwise. Given g = dL/dout (x's shape), return (dL/dx,) as a one-element tuple.
At x == 0 the gradient is 0, as in PyTorch.""",
        "relu_backward(g, x)", ("grad_x",), lambda x: x.relu(), same_shape(1, away_from_zero=(0,))),
    _backward_exercise(
        "sigmoid_backward", "The backward of the sigmoid.", """
out = 1 / (1 + exp(-x)) elementwise. Given g = dL/dout (x's shape), return (dL/dx,) as a one-element tuple.
Hint: the derivative can be written with out alone.""",
        "sigmoid_backward(g, x)", ("grad_x",), lambda x: x.sigmoid(), same_shape(1)),
    Exercise("softmax_cross_entropy_backward", "Softmax and cross-entropy, differentiated together.", """
logits has shape (n, k); targets (n,) holds class indices in [0, k). The loss is the mean over the n rows
of -log(softmax(logits)[row, target]). Return dL/dlogits, of shape (n, k).""",
             "softmax_cross_entropy_backward(logits, targets)", _check_softmax_ce),
    Exercise("topological_order", "The order in which the backward engine may run the graph.", """
root is a graph node (a tensor's grad_fn). Each node's inputs are node.next_functions: (node, output_nr)
pairs, where node is None for a constant and an AccumulateGrad object for a leaf. Return a list of every node
reachable from root (AccumulateGrad objects excluded), each one before every node it sends a gradient to.
gradlab's engine (gradlab/autograd/engine.py) counts dependencies instead; any valid order passes.""",
             "topological_order(root)", _check_topological_order),
    Exercise("im2col", "im2col: every receptive field of an image as one column.", """
x has shape (N, C, H, W). For a kernel of kh x kw, `stride` and zero `padding` (the same on both sides and
both axes), return cols of shape (N, C*kh*kw, Ho*Wo) where row c*kh*kw + i*kw + j of cols[n] holds
x[n, c] seen through kernel tap (i, j) at every output position (row-major), 0 in the padding. Then a
convolution is one matrix product: w.reshape(Cout, -1) @ cols[n]. gradlab's twin: gradlab/kernels/conv.py.""",
             "im2col(x, kh, kw, stride, padding)", _check_im2col),
    Exercise("conv2d_backward", "The backward of a 2-D convolution.", """
out = conv2d(x, w, stride=stride, padding=padding) with x (N, Cin, H, W), w (Cout, Cin, k, k), no bias.
Given g = dL/dout of shape (N, Cout, Ho, Wo), return (dL/dx of x's shape, dL/dw of w's shape).
Hint: with cols = im2col(x), out[n] = w.reshape(Cout, -1) @ cols[n].""",
             "conv2d_backward(g, x, w, stride, padding)", _check_conv_backward),
    Exercise("max_pool2d_backward", "The backward of max pooling.", """
out = max_pool2d(x, kernel_size, stride) (no padding) with x of shape (N, C, H, W); the values in a window
are distinct. Given g = dL/dout, return dL/dx: each g value goes to the position of its window's maximum,
and a position that is the maximum of several windows receives the sum.""",
             "max_pool2d_backward(g, x, kernel_size, stride)", _check_max_pool_backward),
    Exercise("sgd_momentum", "One step of SGD with momentum.", """
As torch.optim.SGD(momentum=momentum, dampening=0): buf = momentum * buf + grad, then p = p - lr * buf.
Return (p, buf) after the step (arrays of p's shape).""",
             "sgd_momentum(p, grad, buf, lr, momentum)", _check_sgd_momentum),
    Exercise("adam", "One step of Adam.", """
Step number t (1 for the first step) of torch.optim.Adam: m = beta1*m + (1-beta1)*grad;
v = beta2*v + (1-beta2)*grad**2; m_hat = m / (1 - beta1**t); v_hat = v / (1 - beta2**t);
p = p - lr * m_hat / (sqrt(v_hat) + eps). Return (p, m, v) after the step.""",
             "adam(p, grad, m, v, t, lr, beta1, beta2, eps)", _check_adam),
]

BY_NAME = {e.name: e for e in EXERCISES}
