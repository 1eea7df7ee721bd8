# The thread settings every kernel module keeps for itself (each compiled
# module has its own copy of these globals; gradlab.kernels.set_num_threads
# sets them all).  Included by every .pyx.

cdef int _num_threads = max(1, gl_omp_max_threads())

have_openmp = bool(gl_have_openmp())


def _set_pinning(bint enable):
    """Whether OpenMP workers pin themselves away from the calling thread (see _common.pxd)."""
    gl_pin_init(enable)


def get_num_threads():
    """Threads the kernels of this module use (OpenMP team size)."""
    return _num_threads


def set_num_threads(int n):
    """Set the number of threads (>= 1) used by the kernels of this module."""
    global _num_threads
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    _num_threads = n if gl_have_openmp() else 1
