"""Which thread pools gradlab lets run: its own OpenMP team, and NumPy's BLAS at the same count.

A process running gradlab has three pools: NumPy's OpenBLAS, the OpenBLAS
that SciPy bundles (the one gradlab_ext's kernels call, through
``scipy.linalg.cython_blas``) and GNU OpenMP (the kernels' team).  OpenBLAS's
workers keep spinning after each call; on 2 cores they took the core the
OpenMP team needed next, and an MLP step at 2 threads ran 3-10x slower than
at 1 on a busy machine (docs/performance.md, "Memory, collector and
threads").  So the kernels' BLAS is held at one thread: gradlab_ext cuts a
product over its own OpenMP team and calls BLAS once per thread, and only one
pool is ever awake.  (SciPy's own linear algebra, sharing that library, then
runs on one thread too.)  NumPy's BLAS (``np.matmul`` in a few ops and in
user code) follows ``set_num_threads``.

threadpoolctl does the work; without it the environment's settings
(OMP_NUM_THREADS, OPENBLAS_NUM_THREADS) stay as NumPy and SciPy read them.
"""
import os

__all__ = ["hold_kernel_blas", "set_numpy_blas", "kernel_blas_paths"]


_controllers = []   # threadpoolctl's BLAS controllers, found once (a scan of the loaded libraries: ~50 ms)


def _blas_controllers():
    if not _controllers:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return []
        _controllers[:] = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return _controllers


def _is_scipys(lib):
    try:
        import scipy
    except ImportError:
        return False
    # scipy/ and scipy.libs/ (where wheels bundle their OpenBLAS) both start with this
    return os.path.realpath(lib.filepath).startswith(os.path.realpath(os.path.dirname(scipy.__file__)))


def kernel_blas_paths():
    """The files of the BLAS libraries gradlab_ext calls: SciPy's own, else every BLAS loaded (a shared one)."""
    libs = _blas_controllers()
    return [lib.filepath for lib in ([lib for lib in libs if _is_scipys(lib)] or libs)]


def hold_kernel_blas():
    """Keep the kernels' BLAS on the calling thread (call once the kernels are loaded)."""
    libs = _blas_controllers()
    for lib in [lib for lib in libs if _is_scipys(lib)] or libs:
        lib.set_num_threads(1)


def set_numpy_blas(n):
    """NumPy's BLAS at n threads, unless it is also the kernels' (then it stays at one)."""
    kernels = set(kernel_blas_paths())
    for lib in _blas_controllers():
        if lib.filepath not in kernels:
            lib.set_num_threads(n)
