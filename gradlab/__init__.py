"""gradlab: an educational deep-learning engine with PyTorch's API.

``import gradlab as torch`` runs PyTorch tutorial code: tensors over NumPy
arrays, graph-based autograd, ``nn``, ``optim``, data loading and the
flagship LeNet-5, with Cython kernels for convolution, pooling and matmul.
"""
import os as _os

from . import _memory
_memory.apply()   # keep freed memory in the process: see gradlab/_memory.py (GRADLAB_MALLOC=0 turns it off)

from . import _dtype
from ._dtype import (bool, double, dtype, float, float16, float32, float64, get_default_dtype, half, int,
                     int8, int16, int32, int64, long, set_default_dtype, short, uint8)
from ._tensor import Size, Tensor, as_tensor, device, from_numpy, is_tensor, tensor
from . import autograd
from .autograd import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                       set_grad_enabled)
from ._creation import *  # noqa: F401,F403
from ._functional import *  # noqa: F401,F403
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from ._device import accelerator, backends, cuda, get_default_device, mps, set_default_device
from ._tensor_str import set_printoptions
from ._info import finfo, iinfo

__version__ = "0.1.0"

if _os.environ.get("GRADLAB_DEBUG"):   # a line per kernel call (1), and per autograd node (2)
    from . import debug
    debug._from_environment()


# Threads, as PyTorch's torch.set_num_threads & co.  One number governs the compiled kernels'
# OpenMP team (which also runs their BLAS calls, one per thread) and NumPy's BLAS, through
# threadpoolctl when it is installed: gradlab/_threads.py says why only one pool is awake.
_interop_threads = 1      # gradlab runs one op after another: there is no inter-op pool


def _positive(name, n):
    import operator
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"{name}: expected an int number of threads, got {type(n).__name__} {n!r}") from None
    if n < 1:
        raise ValueError(f"{name}: expected a positive number of threads, got {n}")
    return n


def set_num_threads(n):
    """Threads for intra-op parallelism: the compiled kernels and NumPy's BLAS, n >= 1."""
    n = _positive("set_num_threads", n)
    from . import _threads, kernels
    kernels.set_num_threads(n)
    _threads.set_numpy_blas(n)
    _threads.hold_kernel_blas()


def get_num_threads():
    """Threads for intra-op parallelism (the compiled kernels' team; 1 when they are not built)."""
    from . import kernels
    return kernels.get_num_threads()


def set_num_interop_threads(n):
    """Accepted for PyTorch code: gradlab runs ops one at a time, so the number is only kept."""
    global _interop_threads
    _interop_threads = _positive("set_num_interop_threads", n)


def get_num_interop_threads():
    """The number given to set_num_interop_threads (1 by default: ops run one at a time)."""
    return _interop_threads


def __getattr__(name):
    # heavier subpackages load on first use, so `import gradlab` stays fast
    import importlib
    if name in ("nn", "optim", "utils", "datasets", "models", "testing", "kernels", "viz", "profiler",
                "linalg", "special", "onnx"):
        return importlib.import_module(f".{name}", __name__)
    if name in ("save", "load"):
        return getattr(importlib.import_module(".serialization", __name__), name)
    if name in ("set_backend", "get_backend"):
        return getattr(importlib.import_module(".kernels", __name__), name)
    if name in ("set_debug", "get_debug"):
        return getattr(importlib.import_module(".debug", __name__), name)
    if name == "summary":
        summary = importlib.import_module(".summary", __name__).summary
        globals()["summary"] = summary   # the function, in place of the submodule the import just set here
        return summary
    raise AttributeError(f"module 'gradlab' has no attribute '{name}'")
