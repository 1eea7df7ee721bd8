"""gradlab.set_debug / GRADLAB_DEBUG: one line per kernel call (and per backward node at level 2),
nothing and no wrapper at level 0, the cached GEMM peak, and the profiler's GFLOP/s and Backend columns."""
import json
import os
import re
import subprocess
import sys

import pytest

import gradlab
import gradlab.kernels as K
import gradlab.nn.functional as F
from gradlab import debug
from gradlab.autograd import profiler

BACKENDS = K.available_backends()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def quiet_afterwards(monkeypatch):
    """A known peak (no measuring in tests), and debug off and the backend restored after each test."""
    monkeypatch.setattr(debug, "_peak", 100.0)
    backend = K.get_backend()
    yield
    debug.set_debug(0)
    K.set_backend(backend)


def conv_step():
    """A conv forward and backward: N=2, 3 -> 4 channels, 3x3 kernel, 8x8 images."""
    x = gradlab.randn(2, 3, 8, 8, requires_grad=True)
    w = gradlab.randn(4, 3, 3, 3, requires_grad=True)
    b = gradlab.randn(4, requires_grad=True)
    F.conv2d(x, w, b).sum().backward()


CONV_FLOPS = 2 * (2 * 4 * 6 * 6) * (3 * 3 * 3)      # output elements x (Cin * kh * kw), x2 for multiply-add
LINE = re.compile(r"gradlab: (\w+) +(\w+) \((.+?)\)  (.+?) -> (.+?) (\w+)  ([\d.]+) ms +(.*)")


def kernel_lines(text):
    return [LINE.fullmatch(ln).groups() for ln in text.splitlines() if ln.startswith("gradlab: ")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv_forward_and_backward_lines(backend, capsys):
    K.set_backend(backend)
    debug.set_debug(1)
    conv_step()
    lines = kernel_lines(capsys.readouterr().err)
    assert [ln[0] for ln in lines] == ["conv2d_forward", "conv2d_backward"]
    why = f"compiled {K.cpu_build()}" if backend == "cython" else "set_backend('numpy')"
    fwd, bwd = lines
    assert fwd[1:6] == (backend, why, "(2,3,8,8) (4,3,3,3) (4,)", "(2,4,6,6)", "float32")
    assert bwd[1:6] == (backend, why, "(2,4,6,6) (2,3,8,8) (4,3,3,3)", "(2,3,8,8) (4,3,3,3) (4,)", "float32")
    for (*_, ms, rate), flops in ((fwd, CONV_FLOPS), (bwd, 2 * CONV_FLOPS)):
        gflops, percent = re.fullmatch(r" *([\d.]+) GFLOP/s +([\d.]+)% of peak", rate).groups()
        # the printed time is rounded to 1 us (a relative error up to 0.0005 / ms) and the rate to 0.01 GFLOP/s:
        # the two roundings add up
        expected = flops / float(ms) / 1e6
        assert abs(float(gflops) - expected) <= expected * (0.005 + 0.0006 / float(ms)) + 0.006
        peak = 100.0 * K.get_num_threads()                  # 100 GFLOP/s per thread here
        assert float(percent) == pytest.approx(100 * float(gflops) / peak, abs=0.06)


def test_data_movement_kernels_report_bandwidth(capsys):
    debug.set_debug(1)
    x = gradlab.randn(1, 2, 4, 4, requires_grad=True)
    F.max_pool2d(x.relu(), 2).sum().backward()
    lines = kernel_lines(capsys.readouterr().err)
    assert [ln[0] for ln in lines] == ["relu_forward", "max_pool2d_forward", "max_pool2d_backward", "relu_backward"]
    assert lines[1][3:5] == ("(1,2,4,4)", "(1,2,2,2) (1,2,2,2)")   # output and its argmax indices
    assert all(re.fullmatch(r" *[\d.]+ GB/s|", ln[-1]) for ln in lines)


def test_why_the_numpy_twin_runs(monkeypatch):
    assert debug.reason("cython") == f"compiled {K.cpu_build()}"      # x86-64-v3 or baseline
    assert debug.reason("numpy") == "set_backend('numpy')"
    with monkeypatch.context() as patch:
        patch.setenv("GRADLAB_BACKEND", "numpy")
        assert debug.reason("numpy") == "GRADLAB_BACKEND=numpy"
        patch.setattr(K, "_CYTHON_ERROR", "ImportError: no module named gradlab_ext.conv")
        assert debug.reason("numpy") == "compiled kernels not built"


@pytest.mark.parametrize("backend", BACKENDS)
def test_level_0_prints_nothing_and_leaves_the_plain_twins(backend, capsys):
    K.set_backend(backend)
    debug.set_debug(1)
    assert type(K._conv).__name__ == "_Timed"
    debug.set_debug(0)
    conv_step()
    assert capsys.readouterr().err == ""
    # no wrapper at all when off: the dispatcher calls the twin modules themselves
    assert (K._conv, K._pool, K._mm, K._act) == tuple(K._BACKENDS[backend][f] for f in ("conv", "pool", "matmul", "activation"))
    assert profiler.active[0] is None and gradlab.get_debug() == 0


def test_level_2_adds_a_line_per_backward_node(capsys):
    gradlab.set_debug(2)
    conv_step()
    err = capsys.readouterr().err.splitlines()
    nodes = [ln.split() for ln in err if ln.startswith("gradlab:   node")]
    assert [n[2] for n in nodes] == ["SumBackward0", "ConvolutionBackward0"]
    assert nodes[1][3:9] == ["grad", "(2,4,6,6)", "->", "(2,3,8,8)", "(4,3,3,3)", "(4,)"]
    # the kernel ran inside its node: its line comes first
    assert err.index(next(ln for ln in err if "conv2d_backward" in ln)) < err.index(
        next(ln for ln in err if "ConvolutionBackward0" in ln))
    gradlab.set_debug(1)
    assert profiler.active[0] is None


def test_set_debug_checks_its_level():
    with pytest.raises(ValueError, match="set_debug: level must be 0, 1 or 2, got 'loud'"):
        gradlab.set_debug("loud")
    with pytest.raises(ValueError, match="got -1"):
        gradlab.set_debug(-1)


def test_gradlab_debug_is_read_at_import(tmp_path):
    env = dict(os.environ, GRADLAB_DEBUG="1", XDG_CACHE_HOME=str(tmp_path), PYTHONPATH=ROOT)
    code = ("import gradlab, gradlab.nn.functional as F; assert gradlab.get_debug() == 1; "
            "F.linear(gradlab.randn(2, 3), gradlab.randn(4, 3))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert re.search(r"gradlab: matmul .* \(2,3\) \(3,4\) -> \(2,4\) float32 .* GFLOP/s .*% of peak", out.stderr)
    peak = json.loads((tmp_path / "gradlab" / "peak.json").read_text())
    assert len(peak) == 1 and list(peak.values())[0] > 0      # measured once, then kept


def test_the_peak_is_measured_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(debug, "_peak", None)
    monkeypatch.setattr(debug, "measure_peak", lambda: 42.0)
    assert debug.peak_gflops() == 42.0 * K.get_num_threads()      # one thread's rate, times the kernels'
    assert json.loads((tmp_path / "gradlab" / "peak.json").read_text()) == {debug._machine_key(): 42.0}
    monkeypatch.setattr(debug, "_peak", None)            # a new process: read, not measured again
    monkeypatch.setattr(debug, "measure_peak", lambda: pytest.fail("measured again"))
    assert debug.peak_gflops() == 42.0 * K.get_num_threads()


def test_an_unwritable_cache_measures_in_process(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(debug, "_peak", None)
    monkeypatch.setattr(debug, "measure_peak", lambda: 7.5)
    assert debug.peak_gflops() == debug.peak_gflops() == 7.5 * K.get_num_threads()


def test_measure_peak_times_a_float32_product():
    assert debug.measure_peak(seconds=0, repeats=2) > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_profiler_table_has_gflops_and_backend(backend):
    K.set_backend(backend)
    with profiler.profile() as prof:
        conv_step()
    rows = {r.key: r for r in prof.key_averages()}
    assert rows["conv2d"].flops == CONV_FLOPS and rows["conv2d"].backend == backend
    assert rows["ConvolutionBackward0"].flops == 2 * CONV_FLOPS
    assert rows["sum"].flops == 0 and rows["sum"].backend == ""
    assert rows["conv2d"].gflops_per_second == pytest.approx(
        CONV_FLOPS / rows["conv2d"].self_cpu_time_total / 1e3)
    lines = prof.key_averages().table(sort_by=None).splitlines()
    assert "GFLOP/s" in lines[1] and "Backend" in lines[1] and lines[1].rstrip().endswith("# of Calls")
    conv = next(ln for ln in lines if ln.startswith("conv2d "))
    assert conv.split()[-3:] == [f"{rows['conv2d'].gflops_per_second:.2f}", backend, "1"]
    assert (K._conv, K._pool, K._mm, K._act) == tuple(K._BACKENDS[backend][f] for f in ("conv", "pool", "matmul", "activation"))   # the wrappers go with the profile


def test_profile_and_level_2_together(capsys):
    gradlab.set_debug(2)
    with profiler.profile() as prof:
        conv_step()
        assert profiler.active[0] is prof
    assert "ConvolutionBackward0" in {r.key for r in prof.key_averages()}
    assert "gradlab:   node ConvolutionBackward0" in capsys.readouterr().err
    assert profiler.active[0] is debug._node_tracer         # back in its slot
    with profiler.profile():
        gradlab.set_debug(0)                                # turned off while a profile runs
    assert profiler.active[0] is None


def test_every_convolution_kernel_counts_its_products():
    """A transposed convolution runs conv2d_input_grad forward; its backward conv2d_forward and
    conv2d_weight_grad: each is 2 x (input elements x Cout/groups x kh x kw) here."""
    seen = []
    debug.listen(lambda name, backend, flops, seconds: seen.append((name, flops)))
    try:
        x = gradlab.randn(2, 4, 5, 5, requires_grad=True)
        w = gradlab.randn(4, 3, 3, 3, requires_grad=True)
        F.conv_transpose2d(x, w, stride=2, groups=2).sum().backward()
    finally:
        debug.listen(None)
    products = 2 * 4 * 5 * 5 * 3 * 3 * 3
    assert sorted(seen) == sorted([("conv2d_input_grad", 2 * products), ("conv2d_forward", 2 * products),
                                   ("conv2d_weight_grad", 2 * products)])


def test_a_bad_gradlab_debug_value_is_reported_and_ignored(monkeypatch, capsys):
    monkeypatch.setenv("GRADLAB_DEBUG", "loud")
    debug._from_environment()
    assert "GRADLAB_DEBUG='loud' is not 0, 1 or 2; ignoring it" in capsys.readouterr().err
    assert debug.get_debug() == 0
