"""One property test for any op: forward against NumPy, backward against finite differences and PyTorch.

An ``OpSpec`` describes an op once; ``check_op`` draws inputs for it with
hypothesis and checks

1. the forward result against a NumPy reference (values and shape);
2. that the op leaves its inputs unchanged;
3. the backward pass with ``gradcheck`` (central differences, float64), and
   float32 gradients staying float32;
4. when a ``torch`` module is passed: the forward values, shape and dtype,
   and the input gradients, against PyTorch on the very same inputs.

The op is written once as ``fn(lib, *tensors, **kwargs)`` where ``lib`` is
``gradlab`` or ``torch``, so the same code runs on both libraries::

    from gradlab.testing import OpSpec, make_op_tests
    import numpy as np
    from hypothesis import strategies as st

    def softplus(lib, x, beta):
        return (1 + (x * beta).exp()).log() / beta

    SPECS = [
        OpSpec("softplus", softplus, ref=lambda x, beta: np.log1p(np.exp(x * beta)) / beta,
               kwargs={"beta": st.sampled_from([0.5, 1.0, 2.0])}),
    ]
    test_my_ops = make_op_tests(SPECS)            # pytest collects this
    # or, to cross-check against PyTorch where it is installed:
    # test_my_ops = make_op_tests(SPECS, torch=pytest.importorskip("torch"))

gradlab never imports torch itself: a test passes the module in.
"""
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import _dtype
from .._tensor import Tensor
from ..autograd import grad as autograd_grad
from ..autograd.gradcheck import gradcheck, gradgradcheck
from .strategies import broadcastable_shapes, shapes as shape_strategy

__all__ = ["OpSpec", "check_op", "check_gradgrad", "make_op_tests", "grid_floats"]

# forward tolerances by dtype: (rtol, atol)
TOLERANCES = {"float16": (1e-2, 1e-3), "float32": (1e-4, 1e-5), "float64": (1e-7, 1e-9)}


def grid_floats(low, high, step=1 / 32, avoid=(), margin=0.05):
    """Floats in ``[low, high]`` on a grid of ``step`` (exact in float32), keeping ``margin`` from ``avoid``.

    A grid keeps distinct values far apart compared with gradcheck's eps, so
    ties and kinks (``abs`` at 0, ``max`` between equal values) are never
    straddled by a finite difference.
    """
    values = st.integers(int(np.ceil(low / step)), int(np.floor(high / step))).map(lambda i: i * step)
    if avoid:
        values = values.filter(lambda v: all(abs(v - p) > margin for p in avoid))
    return values


@dataclass(repr=False)
class OpSpec:
    """How to call, draw inputs for, and check one op.

    name        test id
    fn          ``fn(lib, *tensors, **kwargs)``; ``lib`` is gradlab or torch
    ref         NumPy reference ``ref(*arrays, **kwargs)`` (None: no NumPy check)
    arity       number of tensor inputs
    shapes      a strategy of ``arity``-tuples of shapes, or a function of the
                drawn dtype returning one (default: broadcastable shapes for
                ``broadcast=True``, else one shape for all)
    domain      (low, high) for every input, or a list with one pair per input
    avoid       values the inputs keep away from (kinks, poles)
    elements    a strategy (or list of strategies, one per input) overriding domain
    unique      draw distinct values within each input (no ties)
    kwargs      dict of name -> strategy, or a function ``f(shapes)`` returning a
                strategy of dicts (for ``dim`` arguments that depend on rank)
    dtypes      float dtypes to test forward and backward in
    int_dtypes  integer dtypes to test forward in (no gradient)
    grad        check gradients (False for comparisons, argmax, ...)
    grad_inputs indices of the inputs to differentiate (default: all)
    torch       cross-check against PyTorch when a torch module is given
    mutates     the op changes its first input in place (skips the unchanged-inputs check)
    rtol, atol  override the forward tolerances (None: by dtype)
    """
    name: str
    fn: Callable
    ref: Optional[Callable] = None
    arity: int = 1
    shapes: Any = None
    broadcast: bool = True
    min_dims: int = 0
    max_dims: int = 3
    min_side: int = 1
    max_side: int = 4
    domain: Any = (-3.0, 3.0)
    avoid: Sequence[float] = ()
    elements: Any = None
    unique: bool = False
    kwargs: Any = field(default_factory=dict)
    dtypes: Sequence[str] = ("float32", "float64")
    int_dtypes: Sequence[str] = ()
    grad: bool = True
    grad_inputs: Optional[Sequence[int]] = None
    torch: bool = True
    mutates: bool = False
    rtol: Optional[float] = None
    atol: Optional[float] = None

    def __repr__(self):
        return f"OpSpec({self.name!r})"


# ---- drawing inputs ---------------------------------------------------------------------------
def _shapes_strategy(spec, dtype):
    if spec.shapes is not None:
        return spec.shapes(dtype) if callable(spec.shapes) else spec.shapes
    bounds = dict(min_dims=spec.min_dims, max_dims=spec.max_dims, min_side=spec.min_side, max_side=spec.max_side)
    if spec.arity > 1 and spec.broadcast:
        return broadcastable_shapes(spec.arity, **bounds)
    return shape_strategy(**bounds).map(lambda s: (s,) * spec.arity)


def _element_strategy(spec, i, np_dtype):
    """The strategy for input ``i``'s values, built once per spec (hypothesis validates each new strategy)."""
    cache = spec.__dict__.setdefault("_element_cache", {})
    key = (i, np_dtype.kind)
    if key not in cache:
        cache[key] = _make_element_strategy(spec, i, np_dtype)
    return cache[key]


def _make_element_strategy(spec, i, np_dtype):
    if spec.elements is not None:
        elements = spec.elements[i] if isinstance(spec.elements, (list, tuple)) else spec.elements
        if np_dtype.kind in "iu":  # float elements round to integers (keeping away from ``avoid``)
            elements = elements.map(lambda v: int(np.floor(v)))
            return elements.filter(lambda v: v not in spec.avoid) if spec.avoid else elements
        return elements
    low, high = spec.domain[i] if isinstance(spec.domain, list) else spec.domain
    if np_dtype.kind == "b":
        return st.booleans()
    if np_dtype.kind in "iu":
        if spec.unique:  # enough distinct integers for any drawn shape
            low, high = min(low, -100), max(high, 100)
        ints = st.integers(int(np.ceil(low)), int(np.floor(high)))
        return ints.filter(lambda v: v not in spec.avoid) if spec.avoid else ints
    return grid_floats(low, high, avoid=spec.avoid)


def _draw_inputs(spec, data):
    dtype = data.draw(st.sampled_from(list(spec.dtypes) + list(spec.int_dtypes)), label="dtype")
    np_dtype = _dtype.to_numpy_dtype(dtype)
    cache = spec.__dict__.setdefault("_shapes_cache", {})
    if dtype not in cache:
        cache[dtype] = _shapes_strategy(spec, dtype)
    shapes = data.draw(cache[dtype], label="shapes")
    arrays = [data.draw(hnp.arrays(np_dtype, shape, elements=_element_strategy(spec, i, np_dtype),
                                   unique=spec.unique), label=f"input {i}")
              for i, shape in enumerate(shapes)]
    kwargs = spec.kwargs(shapes) if callable(spec.kwargs) else st.fixed_dictionaries(spec.kwargs)
    return dtype, arrays, data.draw(kwargs, label="kwargs")


# ---- comparing results -----------------------------------------------------------------------
def _flatten(out):
    """The tensors of an op's result (a tensor, or nested tuples/lists of them)."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten(o)]
    return [out]


def _values(t):
    if isinstance(t, Tensor):
        return t._data
    if hasattr(t, "detach"):  # a torch tensor
        return t.detach().numpy()
    return np.asarray(t)


def _assert_close(actual, expected, what, spec, dtype_name):
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{spec.name}: {what}: shape {actual.shape} != expected {expected.shape}")
    if actual.dtype.kind in "biu" and expected.dtype.kind in "biu":
        if not np.array_equal(actual, expected):
            raise AssertionError(f"{spec.name}: {what}: values differ\nactual:\n{actual}\nexpected:\n{expected}")
        return
    rtol, atol = TOLERANCES.get(dtype_name, TOLERANCES["float32"])
    rtol = spec.rtol if spec.rtol is not None else rtol
    atol = spec.atol if spec.atol is not None else atol
    a64, e64 = actual.astype(np.float64), expected.astype(np.float64)
    if not np.allclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True):
        with np.errstate(invalid="ignore"):
            worst = np.nanmax(np.abs(a64 - e64)) if a64.size else 0
        raise AssertionError(f"{spec.name}: {what}: values differ (largest difference {worst:.3g}, "
                             f"rtol={rtol}, atol={atol})\nactual:\n{actual}\nexpected:\n{expected}")


def _compare_outputs(spec, outs, expected, what, dtype_name):
    outs, expected = _flatten(outs), _flatten(expected)
    if len(outs) != len(expected):
        raise AssertionError(f"{spec.name}: {what}: {len(outs)} outputs, expected {len(expected)}")
    for k, (o, e) in enumerate(zip(outs, expected)):
        _assert_close(_values(o), _values(e), f"{what}, output {k}", spec, dtype_name)


def _torch_dtype_name(t):
    return str(t.dtype).split(".")[-1]


# ---- the checks --------------------------------------------------------------------------------
def _check_forward(spec, dtype, arrays, kwargs, torch):
    import gradlab
    inputs = [gradlab.from_numpy(a.copy()) for a in arrays]
    out = spec.fn(gradlab, *inputs, **kwargs)
    if not spec.mutates:
        for i, (t, a) in enumerate(zip(inputs, arrays)):
            if not np.array_equal(t._data, a, equal_nan=True):
                raise AssertionError(f"{spec.name}: the op changed its input {i}")
    if spec.ref is not None:
        _compare_outputs(spec, out, spec.ref(*[a.copy() for a in arrays], **kwargs), "forward vs NumPy", dtype)
    if torch is not None and spec.torch:
        t_out = spec.fn(torch, *[torch.from_numpy(a.copy()) for a in arrays], **kwargs)
        _compare_outputs(spec, out, t_out, "forward vs torch", dtype)
        for k, (o, t) in enumerate(zip(_flatten(out), _flatten(t_out))):
            if isinstance(o, Tensor) and o.dtype.name != _torch_dtype_name(t):
                raise AssertionError(f"{spec.name}: output {k} has dtype {o.dtype}, torch gives {t.dtype} "
                                     f"(inputs {[str(a.dtype) for a in arrays]}, kwargs {kwargs})")


def _grad_positions(spec):
    return list(spec.grad_inputs) if spec.grad_inputs is not None else list(range(spec.arity))


def _check_backward(spec, arrays, kwargs, torch, data):
    import gradlab
    positions = _grad_positions(spec)
    inputs = [gradlab.from_numpy(a.astype(np.float64)) for a in arrays]
    for i in positions:
        inputs[i].requires_grad_()

    def fn(*xs):
        return spec.fn(gradlab, *xs, **kwargs)
    gradcheck(fn, tuple(inputs), fast_mode=sum(a.size for a in arrays) > 40)
    _check_grad_dtypes(spec, arrays, kwargs)
    if torch is None or not spec.torch:
        return
    outs = [o for o in _flatten(fn(*inputs)) if isinstance(o, Tensor) and o.requires_grad]
    if not outs:
        return
    # output gradients from one drawn seed (drawing them element by element is slow): multiples of 1/32 in [-2, 2]
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="grad_output seed"))
    seeds = [np.asarray(rng.integers(-64, 65, o._data.shape) / 32) for o in outs]
    if data.draw(st.booleans(), label="column-major grad_output"):
        seeds = [np.asfortranarray(s) if s.ndim > 1 else s for s in seeds]  # backward must not assume C-contiguous gradients
    grads = autograd_grad(outs, [inputs[i] for i in positions], [gradlab.from_numpy(s) for s in seeds],
                          allow_unused=True)
    t_inputs = [torch.from_numpy(a.astype(np.float64)) for a in arrays]
    for i in positions:
        t_inputs[i].requires_grad_()
    t_outs = [o for o in _flatten(spec.fn(torch, *t_inputs, **kwargs))
              if hasattr(o, "requires_grad") and o.requires_grad]
    t_grads = torch.autograd.grad(t_outs, [t_inputs[i] for i in positions], [torch.from_numpy(s) for s in seeds],
                                  allow_unused=True)
    for i, g, tg in zip(positions, grads, t_grads):
        g = np.zeros(arrays[i].shape) if g is None else g._data
        tg = np.zeros(arrays[i].shape) if tg is None else tg.numpy(force=True)  # (force: a ZeroTensor, as sgn's)
        _assert_close(g, tg, f"gradient of input {i} vs torch", spec, "float64")


def _check_grad_dtypes(spec, arrays, kwargs):
    """Gradients of float32 inputs are float32 tensors of the inputs' shapes (no silent float64)."""
    import gradlab
    positions = _grad_positions(spec)
    inputs = [gradlab.from_numpy(a.astype(np.float32)) for a in arrays]
    for i in positions:
        inputs[i].requires_grad_()
    outs = [o for o in _flatten(spec.fn(gradlab, *inputs, **kwargs)) if isinstance(o, Tensor) and o.requires_grad]
    if not outs:
        return
    # an expanded (stride-0) gradient, as sum() sends back: backward must not assume contiguous gradients
    grads = autograd_grad(outs, [inputs[i] for i in positions],
                          [gradlab.ones((), dtype=o.dtype).expand(o._data.shape) for o in outs], allow_unused=True)
    for i, g in zip(positions, grads):
        if g is not None and (g.dtype != gradlab.float32 or g._data.shape != arrays[i].shape):
            raise AssertionError(f"{spec.name}: the gradient of float32 input {i} (shape {arrays[i].shape}) is "
                                 f"{g.dtype} of shape {tuple(g._data.shape)}")


def check_op(spec, data, torch=None):
    """Check ``spec`` on one set of inputs drawn from hypothesis' ``data`` (``st.data()``).

    Pass the ``torch`` module to cross-check values, dtypes and gradients
    against PyTorch.
    """
    dtype, arrays, kwargs = _draw_inputs(spec, data)
    _check_forward(spec, dtype, arrays, kwargs, torch)
    if spec.grad and _dtype.to_numpy_dtype(dtype).kind == "f":
        _check_backward(spec, arrays, kwargs, torch, data)


def check_gradgrad(spec, data):
    """Second derivatives of ``spec``: ``gradgradcheck`` on float64 inputs drawn from ``data``."""
    import gradlab
    _, arrays, kwargs = _draw_inputs(spec, data)
    inputs = [gradlab.from_numpy(a.astype(np.float64)) for a in arrays]
    for i in _grad_positions(spec):
        inputs[i].requires_grad_()
    gradgradcheck(lambda *xs: spec.fn(gradlab, *xs, **kwargs), tuple(inputs),
                  fast_mode=sum(a.size for a in arrays) > 12)


def make_op_tests(specs, torch=None, gradgrad=False):
    """A pytest test function, parametrized over ``specs``, that runs ``check_op`` under hypothesis.

    With ``gradgrad=True`` it runs ``check_gradgrad`` (second derivatives) instead.

    Assign it to a ``test_*`` name in a test module::

        test_ops = make_op_tests(SPECS, torch=torch_or_None)
    """
    import pytest
    from hypothesis import HealthCheck, given, settings

    # gradient checks take longer than hypothesis' default deadline; other settings come from the profile
    @pytest.mark.parametrize("spec", list(specs), ids=[s.name for s in specs])
    @settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def test_op(spec, data):
        if gradgrad:
            check_gradgrad(spec, data)
        else:
            check_op(spec, data, torch=torch)
    return test_op
