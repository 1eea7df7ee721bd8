"""The optimizer-update kernels (gradlab/kernels/optim.py and gradlab_ext/optim.pyx).

The compiled twin must give the NumPy twin's bits for every option, in float32
and float64, on one thread or two, and update the arrays it is given in place;
the dispatcher sends arrays the compiled kernel does not take (another layout,
mixed dtypes) to the NumPy twin.  A few steps of whole optimizers are checked
against PyTorch's at sizes where the compiled kernel splits the work.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
import gradlab.kernels as K
from gradlab.kernels import optim as twin
from kernel_cases import requires_cython

# sizes around the kernel's chunk (512) and a few odd ones; 0-d and empty included
SHAPES = st.sampled_from([(), (0,), (1,), (7,), (511,), (512,), (513,), (3, 5), (2, 700), (1500,)])
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0]


def _arrays(rng, shape, dtype, specials):
    """param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq / a momentum buffer: a state mid-run."""
    p, g, m = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    v, vmax = (np.abs(rng.standard_normal(shape)).astype(dtype) for _ in range(2))
    if specials and g.size:
        g.flat[rng.integers(0, g.size, 2)] = rng.choice(SPECIALS, 2)
    return [np.array(a, dtype=dtype, order="C") for a in (p, g, m, v, vmax)]


def _compiled():
    return K._COMPILED["optim"]     # the build the dispatcher runs: baseline or x86-64-v3


@contextlib.contextmanager
def threads_forced(n):
    """n threads, each tensor split over them whatever its size."""
    compiled = _compiled()
    old_threads, old = K.get_num_threads(), compiled._tune(parallel_min_elems=0)
    K.set_num_threads(n)
    try:
        yield
    finally:
        compiled._tune(**old)
        K.set_num_threads(old_threads)


ADAM_OPTIONS = st.fixed_dictionaries({
    "lr": st.sampled_from([1e-3, 0.05, 0.7]), "beta1": st.sampled_from([0.0, 0.3, 0.9]),
    "beta2": st.sampled_from([0.0, 0.5, 0.999]), "eps": st.sampled_from([1e-8, 1e-3]),
    "weight_decay": st.sampled_from([0.0, 0.01, 0.3]), "decoupled": st.booleans(),
    "maximize": st.booleans(), "amsgrad": st.booleans()})
SGD_OPTIONS = st.fixed_dictionaries({
    "lr": st.sampled_from([1e-3, 0.1]), "momentum": st.sampled_from([0.0, 0.5, 0.9]),
    "dampening": st.sampled_from([0.0, 0.3]), "nesterov": st.booleans(),
    "weight_decay": st.sampled_from([0.0, 0.1]), "maximize": st.booleans()})


def _adam(fn, arrays, o, steps):
    p, g, m, v, vmax = arrays
    for step in range(1, steps + 1):
        fn(p, np.asarray(g * step, dtype=g.dtype), m, v, vmax if o["amsgrad"] else None, float(step), o["lr"],
           o["beta1"], o["beta2"], o["eps"], o["weight_decay"], o["decoupled"], o["maximize"])


def _sgd(fn, arrays, o, steps):
    p, g, b = arrays[0], arrays[1], arrays[2]
    buf = b if o["momentum"] else None
    nesterov = o["nesterov"] and o["momentum"] > 0 and o["dampening"] == 0
    for step in range(steps):
        fn(p, np.asarray(g * (step + 1), dtype=g.dtype), buf, o["lr"], o["momentum"], o["dampening"], nesterov,
           o["weight_decay"], o["maximize"], step == 0)


@requires_cython
@settings(deadline=None)
@given(o=ADAM_OPTIONS, shape=SHAPES, dtype=st.sampled_from([np.float32, np.float64]),
       threads=st.sampled_from([1, 2]), specials=st.booleans(), seed=st.integers(0, 2 ** 31))
def test_adam_twins_agree_bit_for_bit(o, shape, dtype, threads, specials, seed):
    ours = _arrays(np.random.default_rng(seed), shape, dtype, specials)
    ref = [a.copy() for a in ours]
    with threads_forced(threads):
        _adam(_compiled().adam_step, ours, o, 3)
    with np.errstate(all="ignore"):          # the NaN and inf cases
        _adam(twin.adam_step, ref, o, 3)
    for name, a, b in zip(("param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"), ours, ref):
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert a.dtype == dtype and a.shape == shape


@requires_cython
@settings(deadline=None)
@given(o=SGD_OPTIONS, shape=SHAPES, dtype=st.sampled_from([np.float32, np.float64]),
       threads=st.sampled_from([1, 2]), specials=st.booleans(), seed=st.integers(0, 2 ** 31))
def test_sgd_twins_agree_bit_for_bit(o, shape, dtype, threads, specials, seed):
    ours = _arrays(np.random.default_rng(seed), shape, dtype, specials)
    ref = [a.copy() for a in ours]
    with threads_forced(threads):
        _sgd(_compiled().sgd_step, ours, o, 3)
    with np.errstate(all="ignore"):
        _sgd(twin.sgd_step, ref, o, 3)
    for name, a, b in zip(("param", "grad", "momentum_buffer"), ours, ref):
        np.testing.assert_array_equal(a, b, err_msg=name)


@requires_cython
def test_one_and_two_threads_give_the_same_bits_on_a_large_tensor():
    compiled = _compiled()
    old = K.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            K.set_num_threads(threads)
            arrays = _arrays(np.random.default_rng(0), (300_001,), np.float32, False)
            for step in (1.0, 2.0):
                compiled.adam_step(*arrays[:4], arrays[4], step, 1e-3, 0.9, 0.999, 1e-8, 0.01, True, False)
            compiled.sgd_step(arrays[0], arrays[1], arrays[2], 0.1, 0.9, 0.0, True, 0.0, False, False)
            results.append(arrays)
    finally:
        K.set_num_threads(old)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", K.available_backends())
def test_updates_are_in_place_and_return_nothing(backend):
    p, g, m, v, vmax = _arrays(np.random.default_rng(1), (4, 5), np.float32, False)
    before = [a.copy() for a in (p, m, v, vmax)]
    with K.use_backend(backend):
        assert K.adam_step(p, g, m, v, vmax, 1.0, 0.1, 0.9, 0.999, 1e-8) is None
    for old, new in zip(before, (p, m, v)):
        assert not np.array_equal(old, new)      # the given arrays changed: no copies were updated
    np.testing.assert_array_equal(vmax, np.maximum(before[3], v))
    b = np.zeros_like(p)
    before = p.copy()
    with K.use_backend(backend):
        assert K.sgd_step(p, g, b, 0.1, momentum=0.9, first=True) is None
    np.testing.assert_array_equal(b, g)
    np.testing.assert_array_equal(p, before - np.float32(0.1) * g)


def test_adam_twin_is_pytorchs_formula_on_one_step():
    """The first step from zero state moves each coordinate by lr * g / (|g| + eps) (bias-corrected)."""
    p, g = np.array([1.0, -2.0, 0.5]), np.array([0.3, -4.0, 0.0])
    m, v = np.zeros(3), np.zeros(3)
    twin.adam_step(p, g, m, v, None, 1.0, 0.1, 0.9, 0.999, 1e-8, 0.0, False, False)
    np.testing.assert_allclose(p, [1.0, -2.0, 0.5] - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(m, 0.1 * g, rtol=1e-12)
    np.testing.assert_allclose(v, 0.001 * g * g, rtol=1e-12)


@pytest.mark.parametrize("layout", ["transposed", "strided", "mixed dtypes"])
def test_arrays_the_compiled_kernel_does_not_take_go_to_the_twin(layout):
    rng = np.random.default_rng(2)
    base = _arrays(rng, (6, 8), np.float64, False)
    if layout == "transposed":
        arrays = [a.T for a in base]
    elif layout == "strided":
        arrays = [np.repeat(a, 2, axis=1)[:, ::2] for a in base]
    else:
        arrays = [base[0], base[1].astype(np.float32)] + base[2:]
    expected = [np.array(a, dtype=np.float64) for a in arrays]
    K.adam_step(*arrays[:4], arrays[4], 2.0, 0.01, 0.9, 0.99, 1e-8, 0.1, False, True)
    twin.adam_step(*expected[:4], expected[4], 2.0, 0.01, 0.9, 0.99, 1e-8, 0.1, False, True)
    for a, b in zip(arrays, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6 if layout == "mixed dtypes" else 0, atol=0)
    K.sgd_step(arrays[0], arrays[1], arrays[2], 0.1, 0.9, 0.0, True, 0.0, False, False)
    twin.sgd_step(expected[0], expected[1], expected[2], 0.1, 0.9, 0.0, True, 0.0, False, False)
    np.testing.assert_allclose(arrays[0], expected[0], rtol=1e-6 if layout == "mixed dtypes" else 0, atol=0)


@requires_cython
def test_the_compiled_kernel_refuses_what_it_cannot_update_naming_the_problem():
    compiled = _compiled()
    p, g, m, v, _ = _arrays(np.random.default_rng(3), (4, 6), np.float32, False)
    args = (1.0, 0.1, 0.9, 0.999, 1e-8, 0.0, False, False)
    with pytest.raises(ValueError, match="adam_step: exp_avg must be C-contiguous"):
        compiled.adam_step(p, g, np.asfortranarray(m), v, None, *args)
    with pytest.raises(TypeError, match="adam_step: grad has dtype float64, expected float32"):
        compiled.adam_step(p, g.astype(np.float64), m, v, None, *args)
    with pytest.raises(ValueError, match=r"adam_step: exp_avg_sq has shape \(24,\), expected \(4, 6\)"):
        compiled.adam_step(p, g, m, v.reshape(-1), None, *args)
    with pytest.raises(TypeError, match="adam_step: param has dtype int64"):
        compiled.adam_step(np.zeros((4, 6), np.int64), g, m, v, None, *args)
    with pytest.raises(TypeError, match="sgd_step: param must be a numpy array, got list"):
        compiled.sgd_step([1.0], g, None, 0.1, 0.0, 0.0, False, 0.0, False, False)
    frozen = p.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="sgd_step: param is read-only"):
        compiled.sgd_step(frozen, g, None, 0.1, 0.0, 0.0, False, 0.0, False, False)


# ---- whole optimizers against PyTorch, float32, at sizes the compiled kernel splits --------------
TORCH_CASES = {
    "adam": lambda O, ps: O.Adam(ps, lr=1e-2),
    "adam-amsgrad-wd-maximize": lambda O, ps: O.Adam(ps, lr=1e-2, amsgrad=True, weight_decay=0.1, maximize=True),
    "adamw": lambda O, ps: O.AdamW(ps, lr=1e-2, betas=(0.8, 0.95)),
    "adamw-amsgrad": lambda O, ps: O.AdamW(ps, lr=1e-2, amsgrad=True, weight_decay=0.3),
    "sgd": lambda O, ps: O.SGD(ps, lr=0.1, weight_decay=0.01),
    "sgd-momentum-dampening": lambda O, ps: O.SGD(ps, lr=0.1, momentum=0.9, dampening=0.2),
    "sgd-nesterov-maximize": lambda O, ps: O.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, maximize=True),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", TORCH_CASES)
def test_optimizers_follow_pytorch_for_several_steps(name, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    shapes = [(256, 300), (300,), (3, 1)]     # 76,800 elements: split over the threads
    starts = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(4)]

    def run(T):
        params = [T.tensor(a, dtype=getattr(T, dtype), requires_grad=True) for a in starts]
        opt = TORCH_CASES[name](T.optim, params)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = T.tensor(g, dtype=getattr(T, dtype))
            opt.step()
        return [np.array(p.detach().numpy(), dtype=np.float64) for p in params]

    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    for ours, theirs in zip(run(gradlab), run(torch)):
        np.testing.assert_allclose(ours, theirs, **tol)
