"""Reduction, shape, indexing and linear-algebra ops (specs in op_specs_arrays.py), and focused tests for what a
spec cannot say: in-place shape changes, apply_ / map_, storage facts, index helpers and error messages."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from gradlab.autograd import gradcheck, gradgradcheck
from gradlab.testing import make_op_tests
from op_specs_arrays import ARRAY_SPECS

torch = pytest.importorskip("torch")


def test_spec_names_are_unique():
    names = [s.name for s in ARRAY_SPECS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


test_array_op = make_op_tests(ARRAY_SPECS, torch=torch)


def _pair(values, dtype="float64", requires_grad=False):
    """The same values as a gradlab and a torch tensor."""
    array = np.array(values, dtype=dtype)
    g, t = gradlab.from_numpy(array.copy()), torch.from_numpy(array.copy())
    if requires_grad:
        g.requires_grad_()
        t.requires_grad_()
    return g, t


def _same(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-9)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]


def _grad_fn_name(t):
    return None if t.grad_fn is None else (t.grad_fn.name() if isinstance(t, gradlab.Tensor)
                                           else type(t.grad_fn).__name__)


# ---- in-place shape changes -------------------------------------------------------------------------------
INPLACE_SHAPE_CASES = {
    "t_": ((3, 4), lambda y: y.t_()),
    "transpose_": ((2, 3, 4), lambda y: y.transpose_(0, 2)),
    "swapaxes_": ((2, 3, 4), lambda y: y.swapaxes_(-1, 1)),
    "swapdims_": ((2, 3), lambda y: y.swapdims_(0, 1)),
    "squeeze_()": ((1, 3, 1, 2), lambda y: y.squeeze_()),
    "squeeze_(dim)": ((3, 1, 2), lambda y: y.squeeze_(1)),
    "squeeze_(dims)": ((1, 3, 1), lambda y: y.squeeze_((0, 2))),
    "unsqueeze_": ((3, 2), lambda y: y.unsqueeze_(-1)),
    "as_strided_": ((3, 4), lambda y: y.as_strided_((2, 3), (1, 2), 1)),
}


@pytest.mark.parametrize("case", sorted(INPLACE_SHAPE_CASES))
def test_inplace_shape_change_matches_torch(case):
    """Same object, new shape, one version bump, PyTorch's node, and PyTorch's gradient through it."""
    shape, change = INPLACE_SHAPE_CASES[case]
    values = np.random.default_rng(0).normal(size=shape)
    results = {}
    for lib in (gradlab, torch):
        leaf = lib.from_numpy(values.copy()).requires_grad_()
        y = leaf * 2
        before = y._version
        out = change(y)
        assert out is y
        weights = lib.from_numpy(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)))
        (y * weights).sum().backward()
        results[lib] = (tuple(y.shape), y._version - before, _grad_fn_name(y), leaf.grad.numpy(), y.stride(),
                        y.detach().numpy())
    ours, theirs = results[gradlab], results[torch]
    assert ours[:3] == theirs[:3]
    assert ours[4] == theirs[4]  # the strides of the new geometry (in elements)
    np.testing.assert_allclose(ours[5], theirs[5])
    np.testing.assert_allclose(ours[3], theirs[3])


def test_inplace_shape_change_of_a_leaf():
    leaf = gradlab.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.t_()
    with gradlab.no_grad():
        assert leaf.t_() is leaf  # allowed without grad mode, as in PyTorch
    assert leaf.shape == (3, 2) and leaf.requires_grad and leaf.grad_fn is None
    plain = gradlab.zeros(2, 3)
    plain.unsqueeze_(0)
    assert plain.shape == (1, 2, 3) and plain._version == 1


def test_inplace_shape_change_keeps_memory_and_makes_saved_values_stale():
    x = gradlab.arange(6.0).reshape(2, 3)
    alias = x.data  # shares memory, keeps its own shape (as PyTorch's .data)
    x.t_()
    x[0, 1] = 100.0
    assert alias[1, 0].item() == 100.0 and alias.shape == (2, 3)
    w = gradlab.ones(2, 3, requires_grad=True)
    y = w * 1
    z = (y * y).sum()  # mul saves y
    y.t_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_inplace_shape_change_of_a_view_routes_later_writes_to_the_base():
    for lib in (gradlab, torch):
        w = lib.from_numpy(np.arange(12.0).reshape(3, 4)).requires_grad_()
        base = w * 1
        view = base[1:]
        view.t_()
        view.mul_(lib.from_numpy(np.arange(8.0).reshape(4, 2)))
        base.sum().backward()
        if lib is gradlab:
            ours = (base.detach().numpy().copy(), w.grad.numpy().copy(), tuple(view.shape))
        else:
            theirs = (base.detach().numpy(), w.grad.numpy(), tuple(view.shape))
    np.testing.assert_allclose(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1])
    assert ours[2] == theirs[2]


def test_views_of_a_base_follow_its_inplace_shape_change():
    for lib in (gradlab, torch):
        w = lib.from_numpy(np.arange(6.0).reshape(2, 3)).requires_grad_()
        base = w * 1
        row = base[0]
        base.t_()
        row.mul_(10)  # the row is still row 0 of the (old) base: column 0 now
        (base * lib.from_numpy(np.arange(6.0).reshape(3, 2))).sum().backward()
        result = (base.detach().numpy().copy(), w.grad.numpy().copy())
        if lib is gradlab:
            ours = result
        else:
            theirs = result
    np.testing.assert_allclose(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1])


def test_inplace_shape_change_errors():
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        gradlab.zeros(2, 2, 2).t_()
    with pytest.raises(IndexError, match="Dimension out of range"):
        gradlab.zeros(2, 2).transpose_(0, 2)
    with pytest.raises(RuntimeError, match="out of bounds for storage"):
        gradlab.zeros(2, 2).as_strided_((3, 3), (1, 1))


# ---- apply_ and map_ ---------------------------------------------------------------------------------------
def test_apply_and_map_match_torch():
    for dtype, fn in (("float32", lambda v: v * 2 + 1), ("int64", lambda v: v * 2.7), ("bool", lambda v: not v)):
        g, t = _pair([[1, 0, 3], [4, 5, 0]], dtype)
        assert g.apply_(fn) is g
        t.apply_(fn)
        _same(g, t)
    g, t = _pair([[1.0, 2.0], [3.0, 4.0]])
    og, ot = _pair([10.0, 20.0])
    assert g.map_(og, lambda a, b: a * b - 1) is g
    t.map_(ot, lambda a, b: a * b - 1)
    _same(g, t)
    columns = gradlab.arange(6.0).reshape(2, 3).t()  # not contiguous: positions follow the tensor's own order
    columns.apply_(lambda v: v * 10)
    assert columns.tolist() == [[0.0, 30.0], [10.0, 40.0], [20.0, 50.0]]


def test_apply_and_map_see_python_numbers():
    seen = []
    gradlab.tensor([1, 2]).apply_(lambda v: seen.append(type(v)) or v)
    gradlab.tensor([1.5]).apply_(lambda v: seen.append(type(v)) or v)
    assert seen == [int, int, float]


def test_apply_and_map_refuse_tensors_that_require_grad():
    w = gradlab.ones(2, requires_grad=True)
    for call in (lambda: w.apply_(lambda v: v), lambda: (w * 1).apply_(lambda v: v),
                 lambda: w.map_(gradlab.ones(2), lambda a, b: a), lambda: gradlab.ones(2).map_(w, lambda a, b: a)):
        with pytest.raises(RuntimeError, match="Can't call (apply_|map_)\\(\\) on Variable that requires grad"):
            call()
    with gradlab.no_grad(), pytest.raises(RuntimeError, match="requires grad"):
        w.apply_(lambda v: v)  # as PyTorch: grad mode does not matter


def test_apply_and_map_errors():
    x = gradlab.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="must be real number, not NoneType"):
        x.apply_(lambda v: None)
    with pytest.raises(RuntimeError, match="without overflow"):
        gradlab.tensor([1, 2]).apply_(lambda v: 10 ** 30)
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        x.map_([1.0, 2.0], lambda a, b: a)
    with pytest.raises(TypeError, match="expected gradlab.FloatTensor"):
        x.map_(gradlab.tensor([1.0, 2.0], dtype=gradlab.float64), lambda a, b: a)
    with pytest.raises(RuntimeError, match="broadcast"):
        x.map_(gradlab.ones(3), lambda a, b: a)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        gradlab.ones(3).expand(2, 3).apply_(lambda v: v)


# ---- storage facts ------------------------------------------------------------------------------------------
def test_storage_offset_nbytes_itemsize_is_complex():
    for lib in (gradlab, torch):
        x = lib.arange(12.0).reshape(3, 4)
        facts = [(v.storage_offset(), v.nbytes, v.itemsize, v.is_complex())
                 for v in (x, x[1], x[:, 2], x[1:, ::2], x.t()[2], x.expand(2, 3, 4), x.double()[2, 3:])]
        if lib is gradlab:
            ours = facts
        else:
            theirs = facts
    assert ours == theirs


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_as_strided_of_views_reads_the_shared_storage(data):
    """as_strided counts from the start of the storage, also on a view that starts further in."""
    start = data.draw(st.integers(0, 5))
    size = data.draw(st.integers(1, 3))
    offset = data.draw(st.one_of(st.none(), st.integers(0, 12 - size)))
    results = []
    for lib in (gradlab, torch):
        base = lib.from_numpy(np.arange(12.0)).requires_grad_()
        view = (base * 1)[start:]
        out = view.as_strided((size,), (1,), offset)
        out.backward(lib.from_numpy(np.arange(1.0, size + 1)))
        results.append((out.detach().numpy().copy(), base.grad.numpy().copy(), view.storage_offset()))
    np.testing.assert_allclose(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]


def test_as_strided_over_expanded_and_overlapping_input():
    for lib in (gradlab, torch):
        x = lib.arange(4.0, dtype=lib.float64).requires_grad_()
        (x.expand(2, 4).as_strided((2,), (1,)).sum() + x.as_strided((3, 2), (1, 1)).sum()).backward()
        if lib is gradlab:
            ours = x.grad.numpy().copy()
        else:
            theirs = x.grad.numpy()
    np.testing.assert_allclose(ours, theirs)
    overlapping = gradlab.arange(6.0).as_strided((3, 3), (1, 1))
    with pytest.raises(RuntimeError, match="refers to a single memory location"):
        overlapping.add_(1)  # gradlab refuses writes where elements share memory


# ---- integer helpers: tril/triu_indices, unravel_index, bincount ---------------------------------------------
@settings(max_examples=20, deadline=None)
@given(st.integers(0, 5), st.integers(0, 5), st.integers(-6, 6))
def test_triangle_indices_match_torch(row, col, offset):
    for name in ("tril_indices", "triu_indices"):
        _same(getattr(gradlab, name)(row, col, offset), getattr(torch, name)(row, col, offset))
    _same(gradlab.tril_indices(row, col, offset, dtype=gradlab.int32),
          torch.tril_indices(row, col, offset, dtype=torch.int32))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 4), max_size=3), st.lists(st.integers(-30, 30), max_size=5),
       st.sampled_from(["int64", "int32"]))
def test_unravel_index_matches_torch(shape, flat, dtype):
    g, t = _pair(flat, dtype)
    ours, theirs = gradlab.unravel_index(g, tuple(shape)), torch.unravel_index(t, tuple(shape))
    assert len(ours) == len(theirs)
    for o, th in zip(ours, theirs):
        _same(o, th)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 6), max_size=8), st.integers(0, 9), st.sampled_from([None, "float32", "float64",
                                                                                     "int64"]))
def test_bincount_matches_torch(values, minlength, weights_dtype):
    g, t = _pair(values, "int64")
    if weights_dtype is None:
        _same(gradlab.bincount(g, minlength=minlength), torch.bincount(t, minlength=minlength))
        return
    wg, wt = _pair(np.arange(len(values)) * 0.5 + 1, weights_dtype)
    _same(g.bincount(wg, minlength), t.bincount(wt, minlength))


def test_index_helpers_errors():
    with pytest.raises(RuntimeError, match="1-d non-negative integral"):
        gradlab.bincount(gradlab.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="weights should be 1-d and have the same length"):
        gradlab.bincount(gradlab.tensor([1, 2]), gradlab.ones(3))
    with pytest.raises(TypeError, match="expected 'indices' to be integer dtype"):
        gradlab.unravel_index(gradlab.tensor([1.0]), (2, 3))
    with pytest.raises(RuntimeError, match="row must be non-negative"):
        gradlab.tril_indices(-1, 3)
    with pytest.raises(RuntimeError, match="boundaries tensor must be 1 dimension"):
        gradlab.bucketize(gradlab.tensor([1.0]), gradlab.ones(2, 2))
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        gradlab.searchsorted(gradlab.tensor([1.0, 3.0]), gradlab.tensor([1.0]), right=True, side="left")
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        gradlab.searchsorted(gradlab.ones(1, 2), gradlab.ones(2, 1))
    with pytest.raises(RuntimeError, match="range of \\[nan, nan\\] is not finite|not finite"):
        gradlab.histc(gradlab.tensor([1.0, float("nan")]))
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        gradlab.histc(gradlab.tensor([1.0]), bins=2, min=3, max=1)


def test_searchsorted_sorter_scalar_and_int32():
    s, st_ = _pair([5.0, 1.0, 3.0])
    v, vt = _pair([3.0, 4.0, 0.0])
    order, order_t = _pair([1, 2, 0], "int64")
    _same(gradlab.searchsorted(s, v, sorter=order), torch.searchsorted(st_, vt, sorter=order_t))
    _same(gradlab.searchsorted(s.sort().values, 3.0, right=True), torch.searchsorted(st_.sort().values, 3.0,
                                                                                     right=True))
    _same(gradlab.bucketize(v, s.sort().values, out_int32=True), torch.bucketize(vt, st_.sort().values,
                                                                                out_int32=True))


# ---- determinants and friends at the edges ----------------------------------------------------------------
def _cofactors(a):
    """The cofactor matrix, (-1)^(i+j) times the minor of a without row i and column j: d det(a) / da."""
    a = np.asarray(a)
    if a.ndim == 3:
        return np.stack([_cofactors(m) for m in a])
    n = len(a)
    if n == 1:
        return np.ones((1, 1))
    return np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) for j in range(n)]
                     for i in range(n)])


def test_det_gradient_at_singular_matrices():
    """At a singular matrix the gradient of det is still the cofactor matrix (det is a polynomial).

    PyTorch's answer there depends on the machine's LAPACK path (zeros for a rank-1 2 x 2 on some CPUs), so
    gradlab is checked against the cofactors, and against PyTorch only at a full-rank matrix.
    """
    singular = ([[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]],
                [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]], [[[0.0, 1.0], [0.0, 3.0]]])
    for values in singular + ([[2.0, 1.0, 0.5], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]],):
        g, t = _pair(values, requires_grad=True)
        assert gradcheck(gradlab.det, (g,))
        gradlab.det(g).backward()
        # the minors of these small integer matrices are exact in float64 up to one rounding
        np.testing.assert_allclose(g.grad.numpy(), _cofactors(values), rtol=1e-12, atol=1e-12)
    torch.det(t).backward()  # full rank: PyTorch's gradient is defined, det(a) * inverse(a)^T
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-10)


def test_det_logdet_inverse_second_derivatives():
    x = gradlab.from_numpy(np.random.default_rng(1).uniform(-1, 1, (2, 3, 3)) + 4 * np.eye(3)).requires_grad_()
    for fn in (gradlab.det, gradlab.logdet, gradlab.inverse, lambda a: a.pinverse(),
               lambda a: gradlab.matrix_power(a, -2), lambda a: gradlab.slogdet(a).logabsdet):
        assert gradgradcheck(fn, (x,))


def test_second_derivatives_of_scans_and_scatters():
    rng = np.random.default_rng(2)
    x = gradlab.from_numpy(rng.uniform(-2, 2, (3, 4))).requires_grad_()
    src = gradlab.from_numpy(rng.uniform(0.5, 2, (2, 4))).requires_grad_()
    index = gradlab.tensor([[0, 2, 1, 0], [2, 2, 0, 1]])
    checks = [
        (lambda a: a.logcumsumexp(1), (x,)),
        (lambda a: a.cummax(0).values, (x,)),
        (lambda a, s: a.scatter_reduce(0, index, s, "prod"), (x, src)),
        (lambda a, s: a.scatter_reduce(0, index, s, "mean", include_self=False), (x, src)),
        (lambda a: a.as_strided((2, 3), (1, 2), 1), (x,)),
        (lambda a: gradlab.dist(a, gradlab.full((4,), 0.1, dtype=gradlab.float64), 3), (x,)),
        (lambda a, s: a.masked_scatter(a > 0, s), (x, src)),
        (lambda a: a.take(gradlab.tensor([[0, -1], [5, 5]])), (x,)),
    ]
    for fn, inputs in checks:
        assert gradgradcheck(fn, inputs)


def test_linalg_errors_name_the_op():
    cases = [
        (lambda: gradlab.det(gradlab.ones(2, 3)), "linalg.det: A must be batches of square matrices"),
        (lambda: gradlab.det(gradlab.ones(2)), "at least 2 dimensions"),
        (lambda: gradlab.inverse(gradlab.ones(2, 2)), "linalg.inv: the input matrix is singular"),
        (lambda: gradlab.inverse(gradlab.eye(2, dtype=gradlab.int64)), "Expected a floating point"),
        (lambda: gradlab.addmv(gradlab.ones(2), gradlab.ones(3, 3), gradlab.ones(3)), "addmv: size mismatch"),
        (lambda: gradlab.addr(gradlab.ones(3, 3), gradlab.ones(3, 3), gradlab.ones(3)), "Expected 1-D argument vec1"),
        (lambda: gradlab.baddbmm(gradlab.ones(2, 3, 3), gradlab.ones(2, 3, 4), gradlab.ones(2, 5, 3)),
         "Expected size for first two dimensions of batch2"),
        (lambda: gradlab.addbmm(gradlab.ones(3, 3), gradlab.ones(2, 3, 4), gradlab.ones(3, 4, 3)),
         "must have same number of batches"),
        (lambda: gradlab.tensordot(gradlab.ones(3, 3), gradlab.ones(4, 2), 1), "contracted dimensions need to match"),
        (lambda: gradlab.tensordot(gradlab.ones(3, 3), gradlab.ones(3, 3), -1), "dims >= 0"),
        (lambda: gradlab.cross(gradlab.ones(2, 4), gradlab.ones(2, 4), dim=1), "dimension 1 must have length 3"),
        (lambda: gradlab.cov(gradlab.ones(2, 2, 2)), "two or fewer dimensions"),
        (lambda: gradlab.cov(gradlab.ones(1, 3), fweights=gradlab.ones(3)), "fweights to have integral dtype"),
        (lambda: gradlab.trapezoid(gradlab.ones(1, 3), gradlab.ones(2)), "one `x` value for each sample point"),
        (lambda: gradlab.matrix_power(gradlab.ones(2, 3), 2), "linalg.matrix_power: A must be batches of square"),
        (lambda: gradlab.vander(gradlab.ones(2, 2)), "x must be a one-dimensional tensor"),
        (lambda: gradlab.vdot(gradlab.ones(3), gradlab.ones(2)), "inconsistent tensor size"),
    ]
    for call, message in cases:
        with pytest.raises(RuntimeError, match=message.replace("(", "\\(").replace(")", "\\)")):
            call()


def test_shape_and_index_errors_as_torch():
    x = gradlab.arange(12.0).reshape(3, 4)
    cases = [
        (lambda: gradlab.fliplr(gradlab.ones(3)), RuntimeError, "Input must be >= 2-d"),
        (lambda: gradlab.rot90(x, 1, (0, 0)), RuntimeError, "expected rotation dims to be different"),
        (lambda: gradlab.rot90(x, 1, (0, 1, 2)), RuntimeError, "expected total rotation dims == 2"),
        (lambda: gradlab.diff(gradlab.tensor(1.0)), RuntimeError, "at least one-dimensional"),
        (lambda: gradlab.diff(x, prepend=gradlab.ones(3)), RuntimeError, "same dimension as input"),
        (lambda: gradlab.diff(x, -1), RuntimeError, "order must be non-negative"),
        (lambda: x.sum_to_size(2, 4), RuntimeError, "is not expandable to size"),
        (lambda: x.as_strided((4, 4), (4, 1)), RuntimeError, "out of bounds for storage of size 48"),
        (lambda: x.as_strided((2,), (-1,)), RuntimeError, "Negative strides are not supported"),
        (lambda: x.take(gradlab.tensor([12])), IndexError, "tried to access index 12 on a tensor of 12"),
        (lambda: x.take(gradlab.tensor([1], dtype=gradlab.int32)), RuntimeError, "Expected a long tensor for index"),
        (lambda: x.index_copy(0, gradlab.tensor([3]), gradlab.ones(1, 4)), IndexError, "out of bounds"),
        (lambda: x.index_copy(0, gradlab.tensor([1, 2]), gradlab.ones(2, 3)), RuntimeError, "same slice shapes"),
        (lambda: x.index_fill(1, gradlab.tensor([0]), gradlab.ones(1)), RuntimeError, "0-dimensional value tensor"),
        (lambda: x.index_put((gradlab.tensor([0]),), gradlab.tensor(1, dtype=gradlab.int64)), RuntimeError,
         "dtypes match"),
        (lambda: x.masked_scatter(x > 7, gradlab.ones(2)), RuntimeError, "Number of elements of source"),
        (lambda: x.masked_scatter(x, x), RuntimeError, "only supports boolean masks"),
        (lambda: x.scatter_reduce(0, gradlab.tensor([[0]]), x, "max"), RuntimeError, "reduce argument must be"),
        (lambda: x.scatter_reduce(0, gradlab.tensor([[3]]), x, "sum"), RuntimeError, "out of bounds"),
        (lambda: gradlab.select_scatter(x, gradlab.ones(3), 0, 1), RuntimeError, "expected src to have a size"),
        (lambda: x.kthvalue(5, 1), RuntimeError, "k out of range"),
        (lambda: gradlab.mode(gradlab.ones(0)), IndexError, "non-zero size"),
        (lambda: gradlab.aminmax(gradlab.ones(0)), RuntimeError, "cannot compute aminmax over an empty dimension"),
        (lambda: gradlab.logcumsumexp(gradlab.tensor([1, 2]), 0), RuntimeError, "floating point"),
        (lambda: gradlab.dist(gradlab.tensor([1]), gradlab.tensor([2])), RuntimeError, "floating point"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message.replace("(", "\\(").replace(")", "\\)").replace("[", "\\[")):
            call()


def test_odd_corners_match_torch():
    """n=0 diff is a copy, sum_to_size to the same shape is the tensor, cross without dim warns."""
    for lib in (gradlab, torch):
        x = lib.from_numpy(np.arange(12.0).reshape(3, 4)).requires_grad_()
        assert x.sum_to_size(3, 4) is x
        assert _grad_fn_name(lib.diff(x, 0)) == "CopyBackwards"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.cross(lib.ones(3, 3), lib.ones(3, 3))
        assert any("without specifying the dim arg is deprecated" in str(w.message) for w in caught)
    _same(gradlab.diff(gradlab.tensor([True, False, False])), torch.diff(torch.tensor([True, False, False])))
    _same(gradlab.matrix_power(gradlab.tensor([[1, 1], [0, 1]]), 3),
          torch.matrix_power(torch.tensor([[1, 1], [0, 1]]), 3))
    g, t = _pair([[1.0, 2.0], [3.0, float("nan")]])
    _same(gradlab.addmv(g[:, 1], gradlab.ones(2, 2, dtype=gradlab.float64), gradlab.ones(2, dtype=gradlab.float64),
                        beta=0),
          torch.addmv(t[:, 1], torch.ones(2, 2, dtype=torch.float64), torch.ones(2, dtype=torch.float64), beta=0))


def test_results_are_named_tuples_as_torch():
    x = gradlab.tensor([[3.0, 1.0, 2.0]])
    assert gradlab.aminmax(x).min.item() == 1.0 and x.aminmax().max.item() == 3.0
    for name in ("cummax", "cummin", "kthvalue", "mode", "nanmedian"):
        args = (1, 1) if name == "kthvalue" else (1,)
        result = getattr(x, name)(*args)
        assert type(result).__name__ == name and result.values is result[0] and result.indices is result[1]
    assert type(gradlab.slogdet(gradlab.eye(2))).__name__ == "slogdet"


def test_module_functions_take_out_and_keywords():
    x = gradlab.tensor([[1.0, 5.0], [3.0, 2.0]])
    values, indices = gradlab.empty(0), gradlab.empty(0, dtype=gradlab.int64)
    gradlab.cummax(x, 1, out=(values, indices))
    assert values.tolist() == [[1.0, 5.0], [3.0, 3.0]] and indices.tolist() == [[0, 1], [0, 0]]
    assert gradlab.dist(input=x, other=x * 0).item() == pytest.approx(float(np.sqrt(39.0)))
    assert gradlab.kron(input=x, other=gradlab.ones(1, 2)).shape == (2, 4)


@pytest.mark.parametrize("shape, dim", [((0,), 0), ((2, 0), 1), ((0, 3), 0), ((0, 3), 1)])
def test_logsumexp_of_empty_slices_is_minus_inf(shape, dim):
    ours, theirs = gradlab.zeros(*shape).logsumexp(dim), torch.zeros(*shape).logsumexp(dim)
    _same(ours, theirs)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_logsumexp_of_integers_is_in_the_default_float_dtype(dtype):
    g, t = _pair([[1, 0, 1], [0, 0, 1]], dtype=dtype)
    _same(g.logsumexp(1), t.logsumexp(1))


@pytest.mark.parametrize("x_shape, index, dim", [
    ((3, 4), [[0, 2]], 1),             # the index broadcasts over the rows
    ((3, 1), [[0], [0], [0]], 0),
    ((1, 4), [[0, 3], [1, 1], [2, 0]], 1),  # the input broadcasts over the index's rows
    ((3, 4), [0, 5, 11, 5], None),     # None: the flattened input
])
def test_take_along_dim_broadcasts_as_torch(x_shape, index, dim):
    values = np.random.default_rng(0).standard_normal(x_shape)
    g, t = _pair(values, requires_grad=True)
    ours = gradlab.take_along_dim(g, gradlab.tensor(index), dim)
    theirs = torch.take_along_dim(t, torch.tensor(index), dim)
    _same(ours, theirs)
    weights = np.arange(1.0, 1.0 + theirs.numel()).reshape(tuple(theirs.shape))
    (ours * gradlab.from_numpy(weights)).sum().backward()
    (theirs * torch.from_numpy(weights)).sum().backward()
    _same(g.grad, t.grad)
    _same(g.take_along_dim(gradlab.tensor(index), dim), theirs)


def test_flip_takes_dims_as_torch():
    g, t = _pair(np.arange(6.0).reshape(2, 3))
    for dims in ((0, 1), ((0, 1),), ([1],), (-1,)):
        _same(g.flip(*dims), t.flip(*dims))
    _same(gradlab.flip(g, dims=(1,)), torch.flip(t, dims=(1,)))


@pytest.mark.parametrize("start, length", [(-2, 2), (-5, 5), (5, 0), (0, 0), (1, 3)])
def test_narrow_takes_a_negative_start_from_the_end(start, length):
    g, t = _pair(np.arange(5.0), requires_grad=True)
    ours, theirs = g.narrow(0, start, length), t.narrow(0, start, length)
    _same(ours, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    _same(g.grad, t.grad)


@pytest.mark.parametrize("call", [
    lambda lib: lib.arange(5.0).narrow(0, 3, 3),          # past the end (gradlab returned 2 elements)
    lambda lib: lib.arange(5.0).narrow(0, -6, 1),
    lambda lib: lib.arange(5.0).narrow(0, 1, -1),
    lambda lib: lib.arange(3.0).tril(),                    # a vector (gradlab returned a matrix)
    lambda lib: lib.arange(3.0).triu(1),
    lambda lib: lib.ones(2, 3).index_select(0, lib.tensor([[0]])),  # gradlab flattened the index
    lambda lib: lib.ones(2, 3).scatter(0, lib.tensor([[0]]), lib.ones(1, 1, dtype=lib.int64)),  # gradlab cast src
    lambda lib: lib.ones(2, 3).scatter_add(0, lib.tensor([[0]]), lib.ones(1, 1, dtype=lib.float64)),
    lambda lib: lib.ones(2, 3).gather(1, lib.zeros(3, 1, dtype=lib.int64)),  # NumPy's broadcasting message
    lambda lib: lib.ones(5).chunk(0),                      # ZeroDivisionError
])
def test_bad_arguments_raise_as_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(gradlab)
    words = str(theirs.value).split()[1:3]  # (the first word may name another op: scatter_add's says scatter())
    assert all(word in str(ours.value) for word in words), (str(ours.value), str(theirs.value))
