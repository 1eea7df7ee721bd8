"""The two CPU builds of the compiled kernels (gradlab/kernels/__init__.py, setup.py): which one is
imported, and that the x86-64-v3 build computes what the baseline build computes."""
import contextlib
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

import gradlab.kernels as K
from kernel_cases import requires_cython, tol

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cpu_check(answer, calls):
    def supports_v3():
        calls.append(1)
        return answer
    return supports_v3


# ---------------------------------------------------------------------------
# The decision, with the CPU check mocked
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("setting", [None, "", "auto", " AUTO "])
def test_v3_only_when_the_cpu_says_so(setting):
    calls = []
    assert K.choose_cpu_build(setting, _cpu_check(True, calls)) == ("v3", "this CPU has AVX2 and FMA")
    assert K.choose_cpu_build(setting, _cpu_check(False, calls)) == ("baseline", "this CPU lacks AVX2 or FMA")
    assert calls == [1, 1]
    assert K.choose_cpu_build(setting, None) == ("baseline", "no x86-64-v3 build")


@pytest.mark.parametrize("setting", ["baseline", "Baseline", " baseline\n"])
def test_gradlab_cpu_baseline_wins_without_asking_the_cpu(setting):
    calls = []
    assert K.choose_cpu_build(setting, _cpu_check(True, calls)) == ("baseline", "GRADLAB_CPU=baseline")
    assert calls == []


def test_an_unknown_setting_warns_and_still_asks_the_cpu():
    calls = []
    with pytest.warns(RuntimeWarning, match="GRADLAB_CPU='v4'"):
        assert K.choose_cpu_build("v4", _cpu_check(False, calls))[0] == "baseline"
    with pytest.warns(RuntimeWarning):      # no way to force v3 past the check: that could be SIGILL
        assert K.choose_cpu_build("v3", _cpu_check(False, calls))[0] == "baseline"
    assert calls == [1, 1]


# ---------------------------------------------------------------------------
# The import, in fresh processes
# ---------------------------------------------------------------------------

def _import_report(setting, prelude=""):
    code = (prelude + "import warnings\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    import gradlab.kernels as K\n"
            "from gradlab import debug\n"
            "print(K.get_backend(), K.cpu_build(), K._COMPILED['conv'].__name__, len(caught), sep='|')\n"
            "print(K._CPU_WHY)\n"
            "print(debug.reason('cython'))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("GRADLAB_CPU", "GRADLAB_BACKEND")}
    if setting is not None:
        env["GRADLAB_CPU"] = setting
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def _v3_available():
    try:
        from gradlab_ext.v3._cpu import supports_v3
    except ImportError:
        return False
    return supports_v3()


requires_v3 = pytest.mark.skipif(not (K._COMPILED and _v3_available()),
                                 reason="no x86-64-v3 build, or this CPU cannot run it")


@requires_cython
def test_gradlab_cpu_baseline_imports_the_baseline_modules():
    head, why, reason = _import_report("baseline")
    assert head == "cython|baseline|gradlab_ext.conv|0"
    assert why == "GRADLAB_CPU=baseline"
    assert reason == "compiled baseline"


@requires_v3
def test_the_default_is_v3_on_a_cpu_that_has_it():
    head, why, reason = _import_report(None)
    assert head == "cython|x86-64-v3|gradlab_ext.v3.conv|0"
    assert why == "this CPU has AVX2 and FMA"
    assert reason == "compiled x86-64-v3"


@requires_v3
def test_a_v3_module_that_does_not_import_means_baseline_for_all_silently():
    head, why, _ = _import_report(None, "import sys\nsys.modules['gradlab_ext.v3.norm'] = None\n")
    assert head == "cython|baseline|gradlab_ext.conv|0"
    assert why.startswith("x86-64-v3 build unusable (") and "gradlab_ext.v3.norm" in why


# ---------------------------------------------------------------------------
# Both builds compute the same results (within the twins' tolerances)
# ---------------------------------------------------------------------------

def _build(package):
    return {name: importlib.import_module(f"{package}.{name}") for name in K.FAMILIES}


@contextlib.contextmanager
def _use_build(modules):
    """Run the dispatcher on these compiled modules."""
    previous, saved = K.get_backend(), K._BACKENDS["cython"]
    K._BACKENDS["cython"] = modules
    try:
        K.set_backend("cython")
        yield
    finally:
        K._BACKENDS["cython"] = saved
        K.set_backend(previous)


def _randn(rng, dtype, *shape):
    return rng.standard_normal(shape).astype(dtype)


def _kernel_results(dtype):
    """A few kernels of every family on fixed inputs; a list of arrays."""
    rng = np.random.default_rng(16)
    x, w, b = _randn(rng, dtype, 4, 3, 12, 12), _randn(rng, dtype, 5, 3, 3, 3), _randn(rng, dtype, 5)
    y = K.conv2d_forward(x, w, b, stride=1, padding=1)
    grads = K.conv2d_backward(_randn(rng, dtype, *y.shape), x, w, 1, 1, 1, 1)
    pooled, idx = K.max_pool2d_forward(K.relu_forward(y), 2, return_indices=True)
    avg = K.avg_pool2d_forward(y, 3, 2, 1)
    h = _randn(rng, dtype, 6, 33)
    ln = K.layer_norm_forward(h, _randn(rng, dtype, 33), _randn(rng, dtype, 33), 1e-5)
    ln_grads = K.layer_norm_backward(_randn(rng, dtype, 6, 33), h, ln[1], ln[2], None, True, False, False)
    bn = K.batch_norm_forward(_randn(rng, dtype, 4, 3, 20), None, None, 1e-5)
    scores = _randn(rng, dtype, 2, 7, 9)
    att = K.attention_softmax_forward(scores, 0.5, False, None)
    results = [y, *[g for g in grads if g is not None], pooled, idx, avg, *ln[:1], *ln_grads[:1], bn[0],
               K.softmax_forward(h), K.log_softmax_forward(h), att,
               K.attention_softmax_backward(_randn(rng, dtype, *att.shape), att, 0.5),
               K.matmul(h, _randn(rng, dtype, 33, 17))]
    lstm = K.lstm_forward(_randn(rng, dtype, 5, 2, 4 * 8), _randn(rng, dtype, 2, 8), _randn(rng, dtype, 2, 8),
                          _randn(rng, dtype, 4 * 8, 8), _randn(rng, dtype, 4 * 8), False)
    results += list(lstm[:2])
    return results


def _optimizer_results(dtype):
    rng = np.random.default_rng(17)
    p, g, m, v = (_randn(rng, dtype, 1000) for _ in range(4))
    v = np.abs(v)
    for step in (1, 2, 3):
        K.adam_step(p, g, m, v, None, step, 1e-3, 0.9, 0.999, 1e-8, 0.01, True)
    q, buf = _randn(rng, dtype, 1000), np.zeros(1000, dtype)
    K.sgd_step(q, g, buf, 0.1, 0.9, 0.0, True, 1e-4, False, True)
    return [p, m, v, q, buf]


@requires_v3
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_both_builds_agree(dtype):
    with _use_build(_build("gradlab_ext")):
        base = _kernel_results(dtype)
    with _use_build(_build("gradlab_ext.v3")):
        v3 = _kernel_results(dtype)
        assert K._conv.__name__ == "gradlab_ext.v3.conv"
    assert len(base) == len(v3)
    for i, (a, b) in enumerate(zip(base, v3)):
        assert a.dtype == b.dtype and a.shape == b.shape, i
        # FMA contraction and 8-wide sums change last bits, as the twins' summation orders do
        np.testing.assert_allclose(a, b, err_msg=f"result {i}", **tol(dtype))


@requires_v3
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizer_steps_are_the_same_bits_in_both_builds(dtype):
    # optim.pyx is compiled without FMA contraction (-ffp-contract=off) to round as its NumPy twin does
    with _use_build(_build("gradlab_ext")):
        base = _optimizer_results(dtype)
    with _use_build(_build("gradlab_ext.v3")):
        v3 = _optimizer_results(dtype)
    for a, b in zip(base, v3):
        np.testing.assert_array_equal(a, b)
