"""The speed goal of the autograd core: a tiny forward+backward at most 3x PyTorch's time.

Timing tests are noisy on a shared machine, so this one runs only with
GRADLAB_SLOW=1; ``python bench/overhead.py`` reports the full table.
"""
import importlib.util
import pathlib

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench" / "overhead.py"


@pytest.mark.slow
def test_forward_backward_overhead_within_3x_of_torch():
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("overhead_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    import statistics
    import gradlab
    steps = {name: bench.forward_backward(lib) for name, lib in (("gradlab", gradlab), ("torch", bench.torch))}
    samples = {name: [] for name in steps}
    for _ in range(5):  # interleaved rounds, so both see the same machine load
        for name, step in steps.items():
            samples[name] += bench.time_iterations(step, 200)
    ratio = statistics.median(samples["gradlab"]) / statistics.median(samples["torch"])
    assert ratio <= 3.0, f"gradlab takes {ratio:.2f}x PyTorch's time"
