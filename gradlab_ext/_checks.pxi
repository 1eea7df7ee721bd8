# The entry check of every compiled kernel (included by conv.pyx, pool.pyx and
# activation.pyx).  gradlab.kernels has validated the arguments already; this
# only refuses a direct call whose arrays the kernel would read or write out
# of bounds (wrong type, dtype, layout or shape).

cdef object _checked(str op, str name, object a, object dtype, tuple shape):
    """a, if it is a C-contiguous ndarray of dtype (None: float32 or float64) and shape (None: any)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy array, got {type(a).__name__}")
    if dtype is None:
        if a.dtype != np.float32 and a.dtype != np.float64:
            raise TypeError(f"{op}: {name} has dtype {a.dtype}; the compiled kernels take float32 or float64")
    elif a.dtype != dtype:
        raise TypeError(f"{op}: {name} has dtype {a.dtype}, expected {dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a):
        raise ValueError(f"{op}: {name} must be C-contiguous")
    if shape is not None and tuple(a.shape) != shape:
        raise ValueError(f"{op}: {name} has shape {tuple(a.shape)}, expected {shape}")
    return a
