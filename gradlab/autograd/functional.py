"""Higher-level differentiation of whole functions (as ``torch.autograd.functional``).

    vjp(f, x, v)       v^T J          one backward pass
    jvp(f, x, v)       J v            the "double-vjp trick": g -> J^T g is linear in g, so
                                      differentiating it with respect to g (at any g) gives J v
    jacobian(f, x)     J              one backward pass per output element
    hessian(f, x)      H              the jacobian of the jacobian
    vhp(f, x, v)       v^T H          backward through the gradient
    hvp(f, x, v)       H v            the double-vjp trick on the gradient

Everything is built on ``gradlab.autograd.grad``, so ``create_graph=True``
returns results that can be differentiated again.  A tuple of inputs (or of
outputs) gives a tuple of results; ``jacobian`` of tuple outputs and tuple
inputs gives ``result[i][j]`` = d output_i / d input_j of shape
``output_i.shape + input_j.shape``.
"""
from .._tensor import Tensor
from .. import _creation
from ..ops import shape as _shape
from . import grad as _autograd_grad_fn
from .grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


# ---- packing arguments as tuples and back -----------------------------------------------------
def _as_tuple(inp, arg_name, fn_name):
    """(whether inp was a tuple, inp as a tuple of Tensors), with PyTorch's error for anything else."""
    is_tuple = isinstance(inp, tuple)
    items = inp if is_tuple else (inp,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but "
                            f"the {where} has type {type(el)}.")
    return is_tuple, items


def _unpack(result, was_tuple):
    """Undo _as_tuple; was_tuple may be a pair (outer, inner) for the nested results of jacobian/hessian."""
    if isinstance(was_tuple, tuple):
        outer, inner = was_tuple
        if not inner:
            result = tuple(el[0] for el in result)
        return result if outer else result[0]
    return result if was_tuple else result[0]


def _prepare_inputs(inputs, create_graph, need_graph):
    """Fresh tensor objects for the inputs, so that the gradient is taken with respect to exactly these.

    With create_graph a differentiable view keeps the link to the caller's tensors (so the result can
    be differentiated with respect to them); otherwise a detached leaf cuts it.
    """
    return tuple(inp.view_as(inp) if create_graph and inp.requires_grad else inp.detach().requires_grad_(need_graph)
                 for inp in inputs)


def _finish(tensors, create_graph):
    """Detach the results unless the caller asked for a graph (nested tuples allowed)."""
    if isinstance(tensors[0], Tensor):
        return tensors if create_graph else tuple(t.detach() for t in tensors)
    return tuple(_finish(t, create_graph) for t in tensors)


def _validate_v(v, other, other_is_tuple):
    if len(other) != len(v):
        if other_is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.size() != el_other.size():
            prefix = f"Entry {idx} in " if other_is_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {el_other.size()} but got {el_v.size()}.")


# ---- checks of strict mode ----------------------------------------------------------------------
_NOT_DIFFERENTIABLE = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The outputs must be "
               "computed in a differentiable manner from the input when running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of the user-provided "
                   "function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided function with respect "
                "to input {i} is independent of the input. This is not allowed in strict mode. You should ensure "
                "that your function is twice differentiable and that the jacobian depends on the inputs (this "
                "would be violated by a linear function for example).",
    "hessian": "The hessian of the user-provided function with respect to input {i} is independent of the input. "
               "This is not allowed in strict mode. You should ensure that your function is thrice differentiable "
               "and that the hessian depends on the inputs.",
}

_UNUSED = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in "
            "strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when "
                  "using the double backward trick to compute forward mode gradients. This is not allowed in "
                  "strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed "
                   "in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the "
                         "grad_jacobian. This is not allowed in strict mode as it prevents from using the double "
                         "backward trick to replace forward mode AD.",
}


def _check_requires_grad(tensors, kind, strict):
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is "
                               "not allowed in strict mode.")
        if not t.requires_grad:
            raise RuntimeError(_NOT_DIFFERENTIABLE[kind].format(i=i))


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    """Zeros (shaped as refs[i]) where a gradient is None; in strict mode, an error instead."""
    result = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_UNUSED[stage].format(i=i))
            g = _creation.zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of input {i}. This is "
                               "not allowed in strict mode when create_graph=True.")
        result.append(g)
    return tuple(result)


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """autograd.grad that skips outputs not requiring grad and gives None for unused inputs."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(out, g) for out, g in zip(outputs, grad_outputs) if out is not None and out.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gs = zip(*pairs)
    return _autograd_grad_fn(outs, inputs, gs, retain_graph=retain_graph, create_graph=create_graph,
                             allow_unused=True)


def _single_scalar_output(outputs, is_tuple, fn_name):
    if is_tuple or not isinstance(outputs[0], Tensor):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].nelement() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single "
                           "element")


def _prepare_v(v, like, like_is_tuple, fn_name, create_graph, none_message):
    """v as a tuple checked against `like`; None is allowed only when `like` is one single-element tensor."""
    if v is not None:
        _, v = _as_tuple(v, "v", fn_name)
        v = _prepare_inputs(v, create_graph, need_graph=False)
        _validate_v(v, like, like_is_tuple)
        return v
    if len(like) != 1 or like[0].nelement() != 1:
        raise RuntimeError(none_message)
    return None


_V_NONE_OUTPUT = ("The vector v can only be None if the user-provided function returns a single Tensor with a "
                  "single element.")
_V_NONE_INPUT = ("The vector v can only be None if the input to the user-provided function is a single Tensor "
                 "with a single element.")


def _vector_backward(of, wrt, v, like, strict, create_graph, stage):
    """v^T d(of)/d(wrt), the last backward pass of vjp, jvp, vhp and hvp (zeros shaped as ``like`` where unused)."""
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(of, wrt, v, create_graph=create_graph)
        return _fill_in_zeros(grads, like, strict, create_graph, stage)


def _pack(outputs, outputs_tuple, result, result_tuple, create_graph):
    """(outputs, result), each a tensor or a tuple as the user gave its counterpart."""
    return _unpack(_finish(outputs, create_graph), outputs_tuple), _unpack(_finish(result, create_graph), result_tuple)


# ---- the public functions -----------------------------------------------------------------------
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product, one backward pass from the outputs."""
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        v = _prepare_v(v, outputs, outputs_tuple, "vjp", create_graph, _V_NONE_OUTPUT)
    result = _vector_backward(outputs, inputs, v, inputs, strict, create_graph, "back")
    return _pack(outputs, outputs_tuple, result, inputs_tuple, create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product by the double-vjp trick.

    u = J^T g is linear in g, so d(u . v)/dg = J v whatever g is; g = 0 is used.
    """
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        v = _prepare_v(v, inputs, inputs_tuple, "jvp", create_graph, _V_NONE_INPUT)
        outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        dummy = tuple(_creation.zeros_like(out, requires_grad=True) for out in outputs)
        grad_inputs = _grad(outputs, inputs, dummy, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    result = _vector_backward(grad_inputs, dummy, v, outputs, strict, create_graph, "back_trick")
    return _pack(outputs, outputs_tuple, result, outputs_tuple, create_graph)


def _jacobian_of_output(out, out_index, inputs, create_graph, strict):
    """d out / d input_j for every input j: one backward pass per element of out, rows stacked."""
    rows = [[] for _ in inputs]
    flat = out.reshape(-1)
    for k in range(out.nelement()):
        grads = _grad((flat[k],), inputs, retain_graph=True, create_graph=create_graph)
        for j, (g, inp) in enumerate(zip(grads, inputs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"Output {out_index} of the user-provided function is independent of input "
                                       f"{j}. This is not allowed in strict mode.")
                g = _creation.zeros_like(inp)
            elif strict and create_graph and not g.requires_grad:
                raise RuntimeError(f"The jacobian of the user-provided function is independent of input "
                                   f"{out_index}. This is not allowed in strict mode when create_graph=True.")
            rows[j].append(g)
    return tuple(_shape.stack(rows_j, 0).view(tuple(out.shape) + tuple(inp.shape)) if rows_j
                 else _creation.zeros(tuple(out.shape) + tuple(inp.shape), dtype=inp.dtype)
                 for rows_j, inp in zip(rows, inputs))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs (reverse mode, one backward pass per output element).

    ``vectorize`` is accepted for compatibility and changes nothing: the rows are computed one by one.
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        raise NotImplementedError('jacobian: gradlab has reverse-mode autograd only; use strategy="reverse-mode"')
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                               "supported together. Please either set `strict=False` or `vectorize=False`.")
        result = tuple(_jacobian_of_output(out, i, inputs, create_graph, strict) for i, out in enumerate(outputs))
        return _unpack(_finish(result, create_graph), (outputs_tuple, inputs_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar func: the jacobian of its (differentiable) jacobian.

    A tuple of inputs gives ``result[i][j]`` = d^2 f / d input_i d input_j.
    """
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar_func(*inp):
        out = func(*inp)
        out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict)
        _single_scalar_output(t_out, out_tuple, "hessian")
        return out.squeeze()

    def jac_func(*inp):
        jac = jacobian(scalar_func, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    result = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    return _unpack(result, (inputs_tuple, inputs_tuple))


def _scalar_and_gradient(func, inputs, v, create_graph, strict, fn_name):
    """What vhp and hvp start with (under enable_grad): the inputs and v checked, func's scalar output and its
    gradient with a graph.  Returns (inputs tuple, inputs, v, outputs tuple, outputs, gradient)."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
    v = _prepare_v(v, inputs, inputs_tuple, fn_name, create_graph, _V_NONE_INPUT)
    outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", fn_name)
    _check_requires_grad(outputs, "outputs", strict)
    _single_scalar_output(outputs, outputs_tuple, fn_name)
    jac = _grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict)
    return inputs_tuple, inputs, v, outputs_tuple, outputs, jac


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): backward through the gradient of a scalar func."""
    with enable_grad():
        inputs_tuple, inputs, v, outputs_tuple, outputs, jac = _scalar_and_gradient(func, inputs, v, create_graph,
                                                                                  strict, "vhp")
    result = _vector_backward(jac, inputs, v, inputs, strict, create_graph, "double_back")
    return _pack(outputs, outputs_tuple, result, inputs_tuple, create_graph)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): the double-vjp trick applied to the gradient (H is symmetric, so H v = (v^T H)^T)."""
    with enable_grad():
        inputs_tuple, inputs, v, outputs_tuple, outputs, jac = _scalar_and_gradient(func, inputs, v, create_graph,
                                                                                  strict, "hvp")
        dummy = tuple(_creation.zeros_like(inp, requires_grad=True) for inp in inputs)
        double_back = _grad(jac, inputs, dummy, create_graph=True)
        _check_requires_grad(jac, "hessian", strict)
    result = _vector_backward(double_back, dummy, v, inputs, strict, create_graph, "double_back_trick")
    return _pack(outputs, outputs_tuple, result, inputs_tuple, create_graph)
