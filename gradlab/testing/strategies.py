"""Hypothesis strategies for property-testing ops and layers.

Every strategy here draws small inputs on purpose: numeric gradient checks
cost two forward passes per input element, so a test stays fast while
hypothesis still explores ranks 0-4, sides of 1 (broadcasting) and odd sizes.

Example::

    from hypothesis import given
    import gradlab
    from gradlab.testing import shapes, tensors

    @given(tensors(dtype=gradlab.float64, shape=shapes(max_dims=3)))
    def test_double_neg(x):
        assert gradlab.equal(-(-x), x)
"""
from collections import namedtuple

import numpy as np
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

from .. import _dtype
from .._tensor import Tensor

__all__ = ["shapes", "broadcastable_shapes", "arrays", "tensors", "dtypes", "conv_geometries",
           "pool_geometries", "ConvGeometry", "PoolGeometry", "conv_output_size", "pool_output_size"]

FLOAT_DTYPES = ("float32", "float64")
INT_DTYPES = ("int32", "int64")


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    """Shapes (tuples of ints) with ``min_dims..max_dims`` axes of ``min_side..max_side`` each.

    >>> shapes(min_dims=1, max_dims=2).example()  # doctest: +SKIP
    (3, 1)
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=5):
    """Tuples of ``num_shapes`` shapes that broadcast together (sides of 1 and missing leading axes).

    >>> broadcastable_shapes(2, max_dims=3).example()  # doctest: +SKIP
    ((2, 1, 3), (4, 3))
    """
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                             min_side=min_side, max_side=max_side).map(lambda r: r.input_shapes)


def dtypes(kinds=FLOAT_DTYPES):
    """One of the named gradlab dtypes, e.g. ``dtypes(("float32", "float64", "int64"))``."""
    return st.sampled_from([getattr(_dtype, name) for name in kinds])


def _resolve(value):
    """A strategy for ``value``: strategies pass through, plain values become ``st.just``."""
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def _elements(np_dtype, elements, min_value, max_value):
    if elements is not None:
        return elements
    if np_dtype.kind == "b":
        return st.booleans()
    if np_dtype.kind in "iu":
        info = np.iinfo(np_dtype)
        lo = -10 if min_value is None else int(min_value)
        hi = 10 if max_value is None else int(max_value)
        return st.integers(max(lo, int(info.min)), min(hi, int(info.max)))
    lo = -10.0 if min_value is None else float(min_value)
    hi = 10.0 if max_value is None else float(max_value)
    width = 32 if np_dtype.itemsize <= 4 else 64
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=width)


@st.composite
def arrays(draw, dtype="float64", shape=None, elements=None, min_value=None, max_value=None, unique=False):
    """NumPy arrays of a gradlab/NumPy ``dtype`` (or a strategy of them) and ``shape`` (or a strategy)."""
    np_dtype = _dtype.to_numpy_dtype(draw(_resolve(dtype)))
    shape = draw(_resolve(shape) if shape is not None else shapes())
    return draw(hnp.arrays(np_dtype, shape, elements=_elements(np_dtype, elements, min_value, max_value),
                           unique=unique))


@st.composite
def tensors(draw, dtype="float32", shape=None, elements=None, min_value=None, max_value=None,
            requires_grad=False, unique=False):
    """gradlab Tensors of ``dtype`` and ``shape`` (values, strategies, or None for any small shape).

    ``elements`` is a hypothesis strategy for the values; otherwise they lie in
    ``[min_value, max_value]`` (default [-10, 10]).  ``requires_grad=True``
    makes a leaf that records a graph (float dtypes only); ``unique=True``
    draws distinct values (no ties for max/min/sort).

    >>> from hypothesis import given
    >>> @given(tensors(dtype="float64", shape=(3,), min_value=0.1, max_value=2, requires_grad=True))
    ... def test_log_grad(x):
    ...     assert gradlab.testing.gradcheck(gradlab.log, (x,))
    """
    array = draw(arrays(dtype, shape, elements, min_value, max_value, unique))
    t = Tensor._wrap(array)
    if draw(_resolve(requires_grad)):
        t.requires_grad_()
    return t


# ---- convolution and pooling geometries ---------------------------------------------------------
ConvGeometry = namedtuple("ConvGeometry", "N C_in C_out H W kernel stride padding dilation groups")
PoolGeometry = namedtuple("PoolGeometry", "N C H W kernel stride padding dilation ceil_mode")


def conv_output_size(size, kernel, stride, padding, dilation):
    """One spatial side of a convolution's output, as PyTorch's formula."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_output_size(size, kernel, stride, padding, dilation=1, ceil_mode=False):
    """One spatial side of a pooling output, as PyTorch: with ceil_mode the last window must start inside."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pair(draw, low, high):
    return (draw(st.integers(low, high)), draw(st.integers(low, high)))


@st.composite
def conv_geometries(draw, max_batch=2, max_channels=3, max_groups=2, max_side=8, max_kernel=3, max_stride=2,
                    max_padding=2, max_dilation=2):
    """Valid ``Conv2d`` settings whose output is non-empty, as a ``ConvGeometry``.

    ``kernel``, ``stride``, ``padding`` and ``dilation`` are (h, w) pairs;
    ``C_in`` and ``C_out`` are multiples of ``groups``.

    >>> from hypothesis import given, settings
    >>> @settings(deadline=None)  # the first call of a kernel can be slow
    ... @given(conv_geometries())
    ... def test_conv_shape(g):
    ...     x = gradlab.randn(g.N, g.C_in, g.H, g.W)
    ...     conv = gradlab.nn.Conv2d(g.C_in, g.C_out, g.kernel, g.stride, g.padding, g.dilation, g.groups)
    ...     assert conv(x).shape[:2] == (g.N, g.C_out)
    """
    groups = draw(st.integers(1, max_groups))
    c_in = groups * draw(st.integers(1, max_channels))
    c_out = groups * draw(st.integers(1, max_channels))
    kernel = _pair(draw, 1, max_kernel)
    stride = _pair(draw, 1, max_stride)
    dilation = _pair(draw, 1, max_dilation)
    padding = _pair(draw, 0, max_padding)
    sides = []
    for k, s, p, d in zip(kernel, stride, padding, dilation):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)  # the dilated kernel must fit in the padded input
        assume(smallest <= max_side)
        sides.append(draw(st.integers(smallest, max_side)))
    geometry = ConvGeometry(draw(st.integers(1, max_batch)), c_in, c_out, sides[0], sides[1], kernel, stride,
                            padding, dilation, groups)
    assert all(conv_output_size(n, k, s, p, d) >= 1 for n, k, s, p, d in
               zip(sides, kernel, stride, padding, dilation))
    return geometry


@st.composite
def pool_geometries(draw, max_batch=2, max_channels=3, max_side=8, max_kernel=3, max_stride=3, dilation=True,
                    ceil_mode=True):
    """Valid ``MaxPool2d`` / ``AvgPool2d`` settings with a non-empty output, as a ``PoolGeometry``.

    Padding is at most half the kernel, as PyTorch requires; pass
    ``dilation=False`` for AvgPool2d (which has none) and ``ceil_mode=False``
    to draw only floor-mode geometries.  ``stride`` defaults to the kernel in
    PyTorch; here it is drawn independently.

    >>> from hypothesis import given, settings
    >>> @settings(deadline=None)
    ... @given(pool_geometries(dilation=False))
    ... def test_avg_pool_shape(g):
    ...     x = gradlab.randn(g.N, g.C, g.H, g.W)
    ...     y = gradlab.nn.functional.avg_pool2d(x, g.kernel, g.stride, g.padding, g.ceil_mode)
    ...     assert y.shape[:2] == (g.N, g.C)
    """
    kernel = _pair(draw, 1, max_kernel)
    stride = _pair(draw, 1, max_stride)
    dil = _pair(draw, 1, 2) if dilation else (1, 1)
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    ceil = draw(st.booleans()) if ceil_mode else False
    sides = []
    for k, p, d in zip(kernel, padding, dil):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)
        assume(smallest <= max_side)
        sides.append(draw(st.integers(smallest, max_side)))
    outs = [pool_output_size(n, k, s, p, d, ceil) for n, k, s, p, d in zip(sides, kernel, stride, padding, dil)]
    assume(all(o >= 1 for o in outs))
    return PoolGeometry(draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels)), sides[0], sides[1],
                        kernel, stride, padding, dil, ceil)
