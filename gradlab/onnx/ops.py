"""The converters: one gradlab function -> the ONNX nodes that compute the same thing.

Each converter takes the tracer ``g``, the tensor ``out`` the call returned, and
then the arguments of the function it converts, with that function's names and
defaults (``F.max_pool2d(input, kernel_size, stride=None, ...)``), so the
traced call's arguments bind to it as they bound to the function.  Keys are
op names from the registry (``"add"`` is ``a + b``, ``a.add(b)``,
``gradlab.add`` and ``a += b``) and ``"F.<name>"`` for
``gradlab.nn.functional``.  A converter calls ``g.value(x)`` for the ONNX
name of an input and ``g.node(OpType, inputs, out, **attributes)`` to emit.
"""
import numpy as np

__all__ = ["CONVERTERS"]

CONVERTERS = {}


def converts(*keys):
    def register(fn):
        for key in keys:
            CONVERTERS[key] = fn
        return fn
    return register


def _pair(v):
    return tuple(int(i) for i in v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _axis(dim, ndim):
    return int(dim) + ndim if int(dim) < 0 else int(dim)


def _ints(g, values):
    return g.constant(np.asarray(values, dtype=np.int64), "shape")


# ---- elementwise ----

@converts("add")
def add(g, out, a, b, alpha=1):
    _binary(g, out, "Add", a, b, alpha)


@converts("sub")
def sub(g, out, a, b, alpha=1):
    _binary(g, out, "Sub", a, b, alpha)


@converts("mul")
def mul(g, out, a, b):
    _binary(g, out, "Mul", a, b)


@converts("div")
def div(g, out, a, b, rounding_mode=None):
    if rounding_mode is not None:
        raise g.refuse(f"rounding_mode={rounding_mode!r} is not exported (only true division)")
    _binary(g, out, "Div", a, b)


def _binary(g, out, op_type, a, b, alpha=1):
    # numbers take the dtype of the result, as gradlab's promotion gives it
    first, second = g.value(a, like=out), g.value(b, like=out)
    if alpha != 1:
        second = g.node("Mul", [second, g.value(alpha, like=out)])
    g.node(op_type, [first, second], out)


@converts("matmul", "matmul_operator")
def matmul(g, out, a, b):
    g.node("MatMul", [g.value(a), g.value(b)], out)


@converts("relu", "F.relu")
def relu(g, out, input, inplace=False):
    g.node("Relu", [g.value(input)], out)


@converts("sigmoid", "F.sigmoid")
def sigmoid(g, out, input):
    g.node("Sigmoid", [g.value(input)], out)


@converts("tanh", "F.tanh")
def tanh(g, out, input):
    g.node("Tanh", [g.value(input)], out)


@converts("softmax", "log_softmax")
def softmax(g, out, x, dim, dtype=None):
    if dtype is not None:
        raise g.refuse("dtype= is not exported (convert the input first)")
    g.node("LogSoftmax" if g.call.endswith("log_softmax") else "Softmax", [g.value(x)], out, axis=int(dim))


@converts("F.softmax", "F.log_softmax")
def functional_softmax(g, out, input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:  # PyTorch's implicit dim, as F chose it
        dim = 0 if input.ndim in (0, 1, 3) else 1
    softmax(g, out, input, dim, dtype)


# ---- layers ----

@converts("F.linear")
def linear(g, out, input, weight, bias=None):
    x, w = g.value(input), g.value(weight)
    if input.ndim == 2:
        inputs = [x, w] + ([g.value(bias)] if bias is not None else [])
        g.node("Gemm", inputs, out, transB=1)
        return
    product = g.node("MatMul", [x, g.node("Transpose", [w], perm=[1, 0])], None if bias is not None else out)
    if bias is not None:
        g.node("Add", [product, g.value(bias)], out)


@converts("F.conv2d")
def conv2d(g, out, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    if input.ndim != 4:
        raise g.refuse(f"only (N, C, H, W) inputs are exported, got shape {list(input.shape)}")
    kernel, dilation = tuple(weight.shape[2:]), _pair(dilation)
    if isinstance(padding, str):  # 'same': dilation*(k-1) in all, the odd one at the end, as PyTorch
        totals = [d * (k - 1) if padding == "same" else 0 for k, d in zip(kernel, dilation)]
        pads = [t // 2 for t in totals] + [t - t // 2 for t in totals]
    else:
        pads = list(_pair(padding)) * 2
    inputs = [g.value(input), g.value(weight)] + ([g.value(bias)] if bias is not None else [])
    g.node("Conv", inputs, out, kernel_shape=list(kernel), strides=list(_pair(stride)), pads=pads,
           dilations=list(dilation), group=int(groups))


@converts("F.max_pool2d")
def max_pool2d(g, out, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    if return_indices:
        raise g.refuse("return_indices=True is not exported")
    kernel, strides, pads = _pool_geometry(input, out, kernel_size, stride, padding, dilation)
    g.node("MaxPool", [g.value(input)], out, kernel_shape=kernel, strides=strides, pads=pads,
           dilations=list(_pair(dilation)))


@converts("F.avg_pool2d")
def avg_pool2d(g, out, input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    if divisor_override is not None:
        raise g.refuse(f"divisor_override={divisor_override} is not exported")
    kernel, strides, pads = _pool_geometry(input, out, kernel_size, stride, padding, 1)
    if count_include_pad and pads[2:] != pads[:2]:
        # PyTorch's divisor counts the padding but not the ceil_mode overhang: no ONNX attribute says that
        raise g.refuse("ceil_mode=True with count_include_pad=True, where the last window overhangs the "
                       "padding, is not exported (use count_include_pad=False, or a size that divides)")
    g.node("AveragePool", [g.value(input)], out, kernel_shape=kernel, strides=strides, pads=pads,
           count_include_pad=int(bool(count_include_pad)))


def _pool_geometry(input, out, kernel_size, stride, padding, dilation):
    """kernel, strides and pads; ceil_mode becomes extra padding at the end, so that the output has PyTorch's size.

    (Runtimes differ on where ceil_mode's last window may start; explicit pads leave nothing to interpret.
    MaxPool ignores padding, and AveragePool without count_include_pad does not count it.)
    """
    kernel = _pair(kernel_size)
    strides = kernel if stride is None or stride == [] or stride == () else _pair(stride)
    begin, dilation = _pair(padding), _pair(dilation)
    end = [max(p, (o - 1) * s + d * (k - 1) + 1 - n - p)
           for n, o, k, s, p, d in zip(input.shape[-2:], out.shape[-2:], kernel, strides, begin, dilation)]
    return list(kernel), list(strides), list(begin) + end


@converts("F.adaptive_avg_pool2d")
def adaptive_avg_pool2d(g, out, input, output_size):
    if tuple(out.shape[-2:]) == (1, 1):
        g.node("GlobalAveragePool", [g.value(input)], out)
        return
    (h, w), (oh, ow) = input.shape[-2:], out.shape[-2:]
    if h % oh or w % ow:  # bins of unequal sizes have no one ONNX pool
        raise g.refuse(f"output size {(oh, ow)} does not divide the input's {(h, w)}")
    kernel = [h // oh, w // ow]
    g.node("AveragePool", [g.value(input)], out, kernel_shape=kernel, strides=kernel)


@converts("F.batch_norm")
def batch_norm(g, out, input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    if training or running_mean is None or running_var is None:
        raise g.refuse("batch statistics (training, or no running statistics) are not exported; "
                       "BatchNorm is exported in eval mode with its running_mean and running_var")
    channels = input.shape[1]
    dtype = input._data.dtype
    scale = g.value(weight) if weight is not None else g.constant(np.ones(channels, dtype), "ones")
    shift = g.value(bias) if bias is not None else g.constant(np.zeros(channels, dtype), "zeros")
    g.node("BatchNormalization", [g.value(input), scale, shift, g.value(running_mean), g.value(running_var)],
           out, epsilon=float(eps))


@converts("F.dropout", "F.dropout2d", "F.alpha_dropout", "F.feature_alpha_dropout")
def dropout(g, out, input, p=0.5, training=True, inplace=False):
    if training and p > 0:
        raise g.refuse("dropout while training is random; export traces in eval mode")
    g.node("Identity", [g.value(input)], out)


# ---- shapes ----

@converts("view", "reshape")
def reshape(g, out, input, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    shape = [int(s) for s in shape]
    # x.view(x.size(0), -1): the batch size is a number by now; 0 ("as the input") keeps the file batch-free
    if shape and input.ndim and shape[0] == input.shape[0] and out.shape[0] == input.shape[0]:
        shape[0] = 0
    g.node("Reshape", [g.value(input), _ints(g, shape)], out)


@converts("flatten", "F.flatten")
def flatten(g, out, input, start_dim=0, end_dim=-1):
    ndim = input.ndim
    start, end = _axis(start_dim, max(ndim, 1)), _axis(end_dim, max(ndim, 1))
    if start == 1 and end == ndim - 1:
        g.node("Flatten", [g.value(input)], out, axis=1)
        return
    # dims before start_dim are copied (0), the flattened run is -1, the ones after keep their sizes
    shape = [0] * start + [-1] + [int(s) for s in input.shape[end + 1:]]
    g.node("Reshape", [g.value(input), _ints(g, shape)], out)


@converts("squeeze")
def squeeze(g, out, input, dim=None):
    if dim is None:
        axes = [i for i, s in enumerate(input.shape) if s == 1]
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = [_axis(d, input.ndim) for d in dims if input.shape[_axis(d, input.ndim)] == 1]
    g.node("Squeeze", [g.value(input), _ints(g, axes)], out)


@converts("cat")
def cat(g, out, tensors, dim=0):
    g.node("Concat", [g.value(t, like=out) for t in tensors], out, axis=int(dim))


@converts("mean")
def mean(g, out, input, dim=None, keepdim=False, dtype=None):
    if dtype is not None:
        raise g.refuse("dtype= is not exported (convert the input first)")
    if dim is None:
        axes, keepdim = list(range(input.ndim)), False
    else:
        axes = [_axis(d, input.ndim) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))]
    if g.opset >= 18:  # axes became an input in opset 18
        g.node("ReduceMean", [g.value(input), _ints(g, axes)], out, keepdims=int(bool(keepdim)))
    else:
        g.node("ReduceMean", [g.value(input)], out, axes=axes, keepdims=int(bool(keepdim)))
