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


# Sizes and geometry values of a direct call: Python ints until they are known
# to fit, so that no product can overflow before it is checked.  The limit is
# the one gradlab.kernels enforces (its geometry.MAX_ELEMENTS): 32-bit BLAS indices.
cdef object _MAX_ELEMENTS = 2**31 - 1


cdef tuple _ints(str op, str name, object value, Py_ssize_t n):
    """value as a tuple of n Python ints (not bools), else TypeError/ValueError naming op."""
    cdef bint plain = type(value) is tuple and len(value) == n
    if plain:
        for v in value:
            if type(v) is not int:
                plain = False
                break
    if plain:
        return value
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be a tuple of {n} ints, got {value!r}") from None
    for v in items:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{op}: {name} must be a tuple of {n} ints, got {value!r}")
    if len(items) != n:
        raise ValueError(f"{op}: {name} must have {n} entries, got {value!r}")
    return tuple([int(v) for v in items])


cdef object _int(str op, str name, object value):
    """value as a Python int (not a bool), else TypeError naming op."""
    if type(value) is int:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


cdef str _described(tuple context):
    """A call's ((name, value), ...) as text for an error: formatted only when one is raised."""
    parts = []
    for name, value in context:
        parts.append(f"{name} {value}")
    return ", ".join(parts)


cdef int _too_large(str op, tuple sizes, tuple context) except -1:
    """Raise if a (what, count) of sizes is above _MAX_ELEMENTS."""
    for what, count in sizes:
        if count > _MAX_ELEMENTS:
            raise ValueError(f"{op}: too large for the kernels: {what} {count} (the limit is "
                             f"2**31 - 1); {_described(context)}")
    return 0
