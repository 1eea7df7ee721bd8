"""Numerical gradient checks: compare backward with central differences in float64.

``gradcheck(fn, inputs)`` builds the full Jacobian both ways (one backward per
output element, two forwards per input element).  ``fast_mode=True`` instead
compares one random direction: u^T J v computed by backward against the
finite difference of fn along v, which costs two forwards and one backward.
``gradgradcheck`` applies gradcheck to the gradient itself (create_graph).
"""
import numpy as np

from .._tensor import Tensor
from . import grad_mode

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _diff_inputs(inputs):
    return [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _outputs(fn, inputs):
    with grad_mode.enable_grad():
        out = fn(*inputs)
    return [o for o in _as_tuple(out) if isinstance(o, Tensor) and o._data.dtype.kind == "f"]


def _numerical_jacobians(fn, inputs, eps):
    """J[k][i] = d out_k / d input_i by central differences (out_k flattened rows)."""
    idx = _diff_inputs(inputs)
    with grad_mode.no_grad():
        outs = _outputs(fn, inputs)
    jac = [[np.zeros((o._data.size, inputs[i]._data.size)) for i in idx] for o in outs]
    for col, i in enumerate(idx):
        x = inputs[i]._data
        flat = x.reshape(-1) if x.flags.c_contiguous else None
        if flat is None:
            raise GradcheckError("gradcheck expects contiguous inputs")
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            with grad_mode.no_grad():
                plus = [o._data.astype(np.float64).reshape(-1).copy() for o in _outputs(fn, inputs)]
            flat[j] = orig - eps
            with grad_mode.no_grad():
                minus = [o._data.astype(np.float64).reshape(-1).copy() for o in _outputs(fn, inputs)]
            flat[j] = orig
            for k in range(len(outs)):
                if plus[k].size != outs[k]._data.size or minus[k].size != outs[k]._data.size:
                    raise GradcheckError(
                        f"output {k} changed size (from {outs[k]._data.size} to {plus[k].size} or {minus[k].size} "
                        f"elements) when element {j} of input {i} moved by +-{eps}: the function is not "
                        "differentiable there (its output shape depends on the input values)")
                jac[k][col][:, j] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def _analytical_jacobians(fn, inputs):
    from . import grad as autograd_grad
    idx = _diff_inputs(inputs)
    outs = _outputs(fn, inputs)
    jac = [[np.zeros((o._data.size, inputs[i]._data.size)) for i in idx] for o in outs]
    for k, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for r in range(o._data.size):
            g = np.zeros(o._data.size, dtype=o._data.dtype)
            g[r] = 1
            grads = autograd_grad(o, [inputs[i] for i in idx], Tensor._wrap(g.reshape(o._data.shape)),
                                  retain_graph=True, allow_unused=True)
            for col, gi in enumerate(grads):
                if gi is not None:
                    jac[k][col][r, :] = gi._data.astype(np.float64).reshape(-1)
    return jac


def _check_inputs(inputs, op):
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad and t._data.dtype != np.float64:
            import warnings
            warnings.warn(f"{op}: input of dtype {t.dtype} is not float64; finite differences in low precision "
                          "are unreliable. Use .double() inputs.", stacklevel=3)
    if not _diff_inputs(inputs):
        raise ValueError(f"{op} expects at least one input tensor to require gradient, but none of them have "
                         "requires_grad=True.")


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, fast_mode=False,
              nondet_tol=0.0, check_undefined_grad=False, **unused):
    """True when ``func``'s backward matches central differences at ``inputs``."""
    inputs = _as_tuple(inputs)
    _check_inputs(inputs, "gradcheck")
    try:
        if fast_mode:
            _fast_check(func, inputs, eps, atol, rtol)
        else:
            numerical = _numerical_jacobians(func, inputs, eps)
            analytical = _analytical_jacobians(func, inputs)
            for k, (num_k, ana_k) in enumerate(zip(numerical, analytical)):
                for col, (n, a) in enumerate(zip(num_k, ana_k)):
                    if not np.allclose(a, n, rtol=rtol, atol=atol):
                        worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(a - n)), a.shape))
                        raise GradcheckError(
                            f"Jacobian mismatch for output {k} with respect to input {_diff_inputs(inputs)[col]},\n"
                            f"numerical:{n}\nanalytical:{a}\n(largest difference at {worst}: "
                            f"numerical {n[worst]:.6g} vs analytical {a[worst]:.6g})")
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _fast_check(func, inputs, eps, atol, rtol):
    """Compare u^T J v by backward and by a finite difference along a random v."""
    from . import grad as autograd_grad
    rng = np.random.default_rng(0)
    idx = _diff_inputs(inputs)
    vs = [rng.standard_normal(inputs[i]._data.shape) for i in idx]
    outs = _outputs(func, inputs)
    us = [rng.standard_normal(o._data.shape) for o in outs]

    def shifted(sign):
        saved = [inputs[i]._data.copy() for i in idx]
        for i, v in zip(idx, vs):
            inputs[i]._data += sign * eps * v
        with grad_mode.no_grad():
            res = [o._data.astype(np.float64) for o in _outputs(func, inputs)]
        for i, s in zip(idx, saved):
            inputs[i]._data[...] = s
        return res
    plus, minus = shifted(1), shifted(-1)
    numerical = sum(float(np.sum(u * (p - m) / (2 * eps))) for u, p, m in zip(us, plus, minus))
    diff_outs = [(o, u) for o, u in zip(outs, us) if o.requires_grad]
    analytical = 0.0
    if diff_outs:
        grads = autograd_grad([o for o, _ in diff_outs], [inputs[i] for i in idx],
                              [Tensor._wrap(u.astype(o._data.dtype)) for o, u in diff_outs], allow_unused=True)
        analytical = sum(float(np.sum(g._data * v)) for g, v in zip(grads, vs) if g is not None)
    if not np.isclose(analytical, numerical, rtol=rtol, atol=atol):
        raise GradcheckError(f"fast gradcheck: u^T J v differs: analytical {analytical:.8g} vs numerical "
                             f"{numerical:.8g}")


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
                  fast_mode=False, **unused):
    """gradcheck of the map (inputs, grad_outputs) -> d(func)/d(inputs) . grad_outputs."""
    from . import grad as autograd_grad
    inputs = _as_tuple(inputs)
    _check_inputs(inputs, "gradgradcheck")
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(1)
        grad_outputs = [Tensor._wrap(rng.standard_normal(o._data.shape).astype(o._data.dtype)).requires_grad_()
                        for o in outs]
    grad_outputs = list(_as_tuple(grad_outputs))
    n = len(inputs)
    idx = _diff_inputs(inputs)

    def first_grads(*args):
        ins, gos = args[:n], args[n:]
        out = [o for o in _as_tuple(func(*ins)) if isinstance(o, Tensor) and o.requires_grad]
        grads = autograd_grad(out, [ins[i] for i in idx], list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)
    return gradcheck(first_grads, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, fast_mode=fast_mode)
