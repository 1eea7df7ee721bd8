"""Reading by index, from gradlab/ops/index.py: getitem (basic, advanced, masks), setitem with autograd
through the assignment, index_select, gather, take, masked_select, nonzero, one_hot, histc, bucketize,
searchsorted, unique_consecutive.
"""
import numpy as np
from hypothesis import strategies as st

from gradlab.testing import OpSpec
from gradlab.testing.strategies import shapes as shape_strategy
from ._common import SMALL, _dim, _gather_case, _take


# ---- indexing: get ------------------------------------------------------------------------------
@st.composite
def _basic_index(draw, shape):
    """A basic index for ``shape``: ints, positive-step slices, None and Ellipsis."""
    parts = []
    for n in shape[:draw(st.integers(0, len(shape)))]:
        choice = draw(st.sampled_from(["int", "slice", "full"]))
        if choice == "int" and n > 0:
            parts.append(draw(st.integers(-n, n - 1)))
        elif choice == "slice":
            start = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            parts.append(slice(start, stop, draw(st.one_of(st.none(), st.integers(1, 3)))))
        else:
            parts.append(slice(None))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if draw(st.booleans()):  # after the indexed axes, so that each part still indexes the axis it was drawn for
        parts.append(Ellipsis)
    if len(parts) == 1 and draw(st.booleans()):
        return parts[0]
    return tuple(parts)


def _int_array(n, shape=None, unique=False):
    """Index arrays into an axis of size ``n`` (negative indices included)."""
    from hypothesis.extra import numpy as hnp
    shape = shape if shape is not None else shape_strategy(min_dims=1, max_dims=2, max_side=3 if not unique else n)
    elements = st.integers(0, n - 1) if unique else st.integers(-n, n - 1)
    return hnp.arrays(np.int64, shape, elements=elements, unique=unique)


def _bool_mask(shape):
    from hypothesis.extra import numpy as hnp
    return hnp.arrays(np.bool_, shape)


def _leading_mask(shapes):
    shape = shapes[0]
    return st.integers(1, len(shape)).flatmap(lambda k: st.fixed_dictionaries({"mask": _bool_mask(shape[:k])}))


# ---- indexing: set, with autograd through the assignment ----------------------------------------
def _set_scalar_mask(lib, x, mask):
    y = x * 1
    y[_take(lib, mask)] = 1.0
    return y


def _np_set_scalar_mask(x, mask):
    y = x.copy()
    y[mask] = 1.0
    return y


def _set_tensor_value_mask(lib, x, v, mask):
    y = x * 2
    y[_take(lib, mask)] = v
    return y


def _np_set_tensor_value_mask(x, v, mask):
    y = np.array(x * 2)
    y[mask] = v
    return y


def _set_basic(lib, x, z, idx):
    y = x * 1
    y[idx] = z[idx] * 3
    return y


def _np_set_basic(x, z, idx):
    y = x.copy()
    y[idx] = z[idx] * 3
    return y


def _set_advanced(lib, x, z, i):
    y = x * 1
    y[_take(lib, i)] = z[_take(lib, i)] ** 2
    return y


def _np_set_advanced(x, z, i):
    y = x.copy()
    y[i] = z[i] ** 2
    return y


def _set_into_constant(lib, x, mask):
    y = lib.zeros(x.shape, dtype=x.dtype)
    m = _take(lib, mask)
    y[m] = x[m] * 2
    return y


def _np_set_into_constant(x, mask):
    y = np.zeros_like(x)
    y[mask] = x[mask] * 2
    return y


def _augmented_view(lib, x):
    y = x * 1
    y[:, 0] += y[:, 1]
    y[0] *= 2
    return y


def _np_augmented_view(x):
    y = x.copy()
    y[:, 0] += y[:, 1]
    y[0] *= 2
    return y


def _same_shape_mask(shapes):
    return st.fixed_dictionaries({"mask": _bool_mask(shapes[0])})


# ---- where, masked_fill, one_hot ------------------------------------------------------------------
def _one_hot(lib, x, num_classes):
    if lib.__name__ == "gradlab":
        from gradlab.ops.index import one_hot
    else:
        one_hot = lib.nn.functional.one_hot
    return one_hot(x, num_classes)


def _np_one_hot(x, num_classes):
    n = num_classes if num_classes != -1 else (int(x.max()) + 1 if x.size else 0)
    return (x[..., None] == np.arange(n)).astype(np.int64)


def _np_gather(x, dim, index):
    region = tuple(slice(None) if k == dim else slice(0, s) for k, s in enumerate(index.shape))
    return np.take_along_axis(x[region], index, dim)


# ---- indexing ----------------------------------------------------------------------------------------------
@st.composite
def _take_case(draw, shapes):
    n = int(np.prod(shapes[0]))
    shape = draw(shape_strategy(max_dims=2, max_side=3))
    return {"index": np.array(draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(shape)),
                                            max_size=int(np.prod(shape))))).reshape(shape).astype(np.int64)}


def _np_take(x, index):
    return x.reshape(-1)[index]


def _np_unique_consecutive(x, dim):
    if dim is None:
        flat = x.reshape(-1)
        keep = np.r_[True, flat[1:] != flat[:-1]] if flat.size else np.zeros(0, bool)
        return flat[keep], (np.cumsum(keep) - 1).reshape(x.shape), np.diff(np.r_[np.flatnonzero(keep), flat.size])
    rows = [np.take(x, i, axis=dim) for i in range(x.shape[dim])]
    keep = [i == 0 or not np.array_equal(rows[i], rows[i - 1]) for i in range(len(rows))]
    return (np.compress(keep, x, axis=dim), np.cumsum(keep) - 1,
            np.diff(np.r_[np.flatnonzero(keep), len(rows)]))


@st.composite
def _histc_case(draw, shapes):
    low = draw(st.integers(-12, 4)) / 4
    return {"bins": draw(st.sampled_from([1, 2, 4, 8])), "min": low, "max": low + draw(st.sampled_from([1, 2, 4]))}


def _np_histc(x, bins, min, max):
    return np.histogram(x.astype(np.float64), bins, (min, max))[0].astype(x.dtype)


def _boundaries(lib, b):
    return lib.from_numpy(np.sort(b))


SPECS = [
    OpSpec("getitem_basic", lambda lib, x, idx: x[idx], lambda x, idx: x[idx], max_dims=4,
           kwargs=lambda shapes: st.fixed_dictionaries({"idx": _basic_index(shapes[0])}), int_dtypes=("int64",)),
    OpSpec("getitem_int_tensor", lambda lib, x, i: x[_take(lib, i)], lambda x, i: x[i], min_dims=1,
           kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][0])})),
    OpSpec("getitem_list", lambda lib, x, i: x[list(i)], lambda x, i: x[list(i)], min_dims=1,
           kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][0], shape=(3,))})),
    OpSpec("getitem_two_tensors", lambda lib, x, i, j: x[_take(lib, i), _take(lib, j)],
           lambda x, i, j: x[i, j], min_dims=2, max_dims=3,
           kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][0], shape=(2, 3)),
                                                        "j": _int_array(shapes[0][1], shape=(3,))})),
    OpSpec("getitem_slice_then_tensor", lambda lib, x, i: x[:, _take(lib, i)], lambda x, i: x[:, i],
           min_dims=2, kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][1])})),
    OpSpec("getitem_bool_mask", lambda lib, x, mask: x[_take(lib, mask)], lambda x, mask: x[mask], min_dims=1,
           kwargs=_leading_mask, int_dtypes=("int64",)),
    OpSpec("getitem_comparison_mask", lambda lib, x: x[x > 0.5], lambda x: x[x > 0.5], avoid=(0.5,)),
    OpSpec("index_select", lambda lib, x, i: x.index_select(0, _take(lib, i).reshape(-1)),
           lambda x, i: x[i.reshape(-1)], min_dims=1,
           kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][0], unique=False).map(
               lambda a: np.where(a < 0, a + shapes[0][0], a))})),
    OpSpec("setitem_mask_scalar", _set_scalar_mask, _np_set_scalar_mask, kwargs=_same_shape_mask,
           int_dtypes=("int64",)),
    OpSpec("setitem_mask_tensor_value", _set_tensor_value_mask, _np_set_tensor_value_mask, arity=2,
           shapes=shape_strategy(max_dims=3, max_side=4).map(lambda s: (s, ())), kwargs=_same_shape_mask),
    OpSpec("setitem_basic_tensor_value", _set_basic, _np_set_basic, arity=2, broadcast=False, max_dims=3,
           kwargs=lambda shapes: st.fixed_dictionaries({"idx": _basic_index(shapes[0])})),
    OpSpec("setitem_advanced_unique", _set_advanced, _np_set_advanced, arity=2, broadcast=False, min_dims=1,
           kwargs=lambda shapes: st.fixed_dictionaries({"i": _int_array(shapes[0][0], unique=True, shape=st.integers(
               1, shapes[0][0]).map(lambda k: (k,)))})),
    OpSpec("setitem_into_constant", _set_into_constant, _np_set_into_constant, kwargs=_same_shape_mask),
    OpSpec("setitem_augmented_view", _augmented_view, _np_augmented_view, min_dims=2, max_dims=3, min_side=2),
    OpSpec("one_hot", _one_hot, _np_one_hot, dtypes=(), int_dtypes=("int64",), domain=(0, 4),
           kwargs={"num_classes": st.sampled_from([-1, 5, 7])}),
    OpSpec("gather", lambda lib, x, dim, index: x.gather(dim, _take(lib, index)), _np_gather, min_dims=1,
           kwargs=_gather_case, int_dtypes=("int64",)),
    OpSpec("masked_select", lambda lib, x, y: x.masked_select(y > 0), lambda x, y: np.broadcast_arrays(x, y)[0][
        np.broadcast_arrays(x, y)[1] > 0], arity=2, avoid=(0,), grad_inputs=(0,)),
    OpSpec("nonzero", lambda lib, x: (x > 0).nonzero(), lambda x: np.argwhere(x > 0), grad=False),
    OpSpec("take", lambda lib, x, index: x.take(lib.from_numpy(index)), _np_take, kwargs=_take_case,
           int_dtypes=("int64",)),
    OpSpec("argwhere", lambda lib, x: lib.argwhere(x > 0), lambda x: np.argwhere(x > 0), grad=False),
    OpSpec("unique_consecutive", lambda lib, x, dim: lib.unique_consecutive(x, True, True, dim),
           _np_unique_consecutive, elements=st.sampled_from([0.0, 1.0, 2.5]), grad=False, int_dtypes=("int64",),
           kwargs=lambda shapes: st.fixed_dictionaries({"dim": st.one_of(st.none(), _dim(len(shapes[0])))
                                                        if shapes[0] else st.none()})),
    OpSpec("histc", lambda lib, x, bins, min, max: x.histc(bins, min, max), _np_histc, grad=False,
           kwargs=_histc_case),
    OpSpec("bucketize", lambda lib, x, b, right: lib.bucketize(x, _boundaries(lib, b), right=right),
           lambda x, b, right: np.searchsorted(np.sort(b), x, "right" if right else "left"), grad=False,
           elements=st.integers(-8, 8).map(lambda i: i / 4),
           kwargs={"b": st.lists(st.integers(-8, 8).map(lambda i: i / 4), max_size=5).map(np.array),
                   "right": st.booleans()}),
    OpSpec("searchsorted_rows", lambda lib, s, v, side: lib.searchsorted(s.sort().values, v, side=side),
           lambda s, v, side: np.stack([np.searchsorted(r, w, side) for r, w in zip(
               np.sort(s, -1).reshape(-1, s.shape[-1]), v.reshape(-1, v.shape[-1]))]).reshape(v.shape),
           arity=2, broadcast=False, grad=False, elements=st.integers(-8, 8).map(lambda i: i / 4),
           shapes=st.tuples(shape_strategy(min_dims=1, max_dims=3, max_side=4), st.integers(1, 4)).map(
               lambda p: (p[0], p[0][:-1] + (p[1],))),
           kwargs={"side": st.sampled_from(["left", "right"])}),
]

GRADGRAD_SPECS = [
    OpSpec("getitem", lambda lib, x, idx: (x * x)[idx], kwargs=lambda shapes: st.fixed_dictionaries(
        {"idx": _basic_index(shapes[0])}), **SMALL),
    OpSpec("getitem_advanced", lambda lib, x: (x * x)[lib.tensor([0, 0, -1])], min_dims=1, **SMALL),
]
