"""Module-level ops (``gradlab.exp(x)``, ``gradlab.cat([...])``), the same functions Tensor methods call,
taking PyTorch's ``input=`` / ``other=`` keywords and ``out=`` tensor."""
import functools
import inspect
import warnings

import numpy as np

from .ops import arrange, elementwise, index, inplace_update, linalg, reduce, renorm_put_resize, shape, special

_names = {
    elementwise: "add sub mul div pow remainder fmod maximum minimum eq ne lt le gt ge logical_and logical_or "
                 "logical_xor logical_not isnan isinf isfinite allclose isclose equal neg abs sign exp log log2 "
                 "log1p expm1 sqrt rsqrt reciprocal square sin cos tan tanh sigmoid relu clamp floor ceil trunc "
                 "frac round where masked_fill lerp clone floor_divide addcmul addcdiv nan_to_num rsub "
                 "asin acos atan atan2 sinh cosh log10 exp2 deg2rad rad2deg hypot logaddexp logaddexp2 float_power "
                 "ldexp fmax fmin gcd lcm heaviside sgn signbit isposinf isneginf clamp_min clamp_max bitwise_and "
                 "bitwise_or bitwise_xor bitwise_not asinh acosh atanh copysign positive",
    special: "erf erfc erfinv lgamma digamma polygamma logit xlogy sinc nansum nanmean",
    reduce: "sum mean prod max min amax amin argmax argmin var std var_mean std_mean norm logsumexp cumsum "
            "cumprod all any count_nonzero median aminmax cummax cummin logcumsumexp kthvalue mode msort nanmedian "
            "dist",
    shape: "reshape flatten unflatten squeeze unsqueeze permute transpose t broadcast_to cat concat "
           "concatenate stack hstack vstack flip narrow split chunk tensor_split unbind select movedim diag "
           "split_with_sizes diagonal tril triu tile roll repeat_interleave broadcast_tensors meshgrid hsplit vsplit "
           "dsplit adjoint moveaxis ravel fliplr flipud rot90 column_stack dstack diag_embed diagflat diff as_strided "
           "kron vander tril_indices triu_indices unravel_index",
    linalg: "matmul mm bmm dot mv outer inner ger addmm einsum trace addbmm addmv addr baddbmm vdot tensordot det "
            "logdet slogdet inverse matrix_power pinverse cov cross trapezoid trapz cdist block_diag",
    renorm_put_resize: "renorm put",
    arrange: "atleast_1d atleast_2d atleast_3d cartesian_prod combinations",
    index: "gather scatter scatter_add index_select masked_select nonzero take_along_dim index_add take argwhere "
           "bincount bucketize searchsorted histc index_copy index_fill index_put masked_scatter scatter_reduce "
           "select_scatter slice_scatter unique_consecutive",
}


def _write_out(name, result, out):
    """PyTorch's ``out=``: ``out`` takes the result's values (and, if it differs, its shape) and is returned."""
    if isinstance(result, tuple):  # max(x, dim, out=(values, indices)) and the like
        return tuple(_write_out(name, r, o) for r, o in zip(result, out))
    if result._requires_grad or out._requires_grad:
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if out._data.shape != result._data.shape:
        if out._data.size:
            warnings.warn(f"{name}(): an output with one or more elements was resized since it had shape "
                          f"{list(out._data.shape)}, which does not match the required output shape "
                          f"{list(result._data.shape)}.", UserWarning, stacklevel=3)
        out._data = np.empty(result._data.shape, out._data.dtype)
    return inplace_update(out, result)


def _as_pytorch_function(op):
    """``op`` called as PyTorch's module-level function: the tensors our ops call ``a`` and ``b`` may
    come as ``input=`` and ``other=``, and ``out=`` names a tensor to write the result into."""
    params = list(inspect.signature(op).parameters)
    renames = {"input": "a", "other": "b"} if params[0] in ("a", "condition") else {}

    @functools.wraps(op)
    def function(*args, out=None, **kwargs):
        for theirs, ours in renames.items():
            if theirs in kwargs:
                kwargs[ours] = kwargs.pop(theirs)
        result = op(*args, **kwargs)
        return result if out is None else _write_out(op.__name__, result, out)
    return function


__all__ = []
for _module, _ns in _names.items():
    for _n in _ns.split():
        globals()[_n] = _as_pytorch_function(getattr(_module, _n))
        __all__.append(_n)

multiply, divide, subtract, true_divide, clip, absolute, negative = mul, div, sub, div, clamp, abs, neg
swapaxes = swapdims = transpose
arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
__all__ += ["arcsin", "arccos", "arctan", "arctan2"]
arcsinh, arccosh, arctanh = asinh, acosh, atanh
__all__ += ["arcsinh", "arccosh", "arctanh"]
__all__ += ["multiply", "divide", "subtract", "true_divide", "clip", "absolute", "negative", "swapaxes",
            "swapdims", "numel", "sort", "argsort", "topk", "unique", "expand_copy", "is_floating_point", "softmax",
            "log_softmax"]


def numel(t):
    return t.numel()


def sort(t, dim=-1, descending=False, stable=None):
    return t.sort(dim, descending, stable=stable)


def argsort(t, dim=-1, descending=False, stable=False):
    return t.argsort(dim, descending)


def topk(t, k, dim=-1, largest=True, sorted=True):
    return t.topk(k, dim, largest, sorted)


def unique(t, sorted=True, return_inverse=False, return_counts=False, dim=None):
    return t.unique(sorted, return_inverse, return_counts, dim)


def expand_copy(t, size):
    return shape.expand_copy(t, size)


def is_floating_point(t):
    return t.is_floating_point()


def softmax(input, dim, dtype=None):
    """``gradlab.softmax`` as ``torch.softmax``: the same function as ``nn.functional.softmax``."""
    from .nn import functional
    return functional.softmax(input if dtype is None else input.to(dtype), dim)


def log_softmax(input, dim, dtype=None):
    from .nn import functional
    return functional.log_softmax(input if dtype is None else input.to(dtype), dim)


# gradlab.layer_norm, gradlab.selu, ... as torch's: the nn.functional functions of the same name and arguments
_NN_FUNCTIONS = ("layer_norm group_norm rms_norm prelu selu selu_ celu celu_ rrelu rrelu_ threshold threshold_ "
                 "hardshrink pdist cosine_similarity pairwise_distance")


def _nn_function(name):
    def function(*args, **kwargs):
        from .nn import functional
        return getattr(functional, name)(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    return function


for _n in _NN_FUNCTIONS.split():
    globals()[_n] = _nn_function(_n)
    __all__.append(_n)
