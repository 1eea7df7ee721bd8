"""The dtypes the kernels compute in, and the arrays handed to them.

float32 and float64 are computed as is; float16 is computed in float32;
mixed float inputs are promoted as NumPy promotes them, and each result is
cast back to its input's dtype.  Other dtypes raise TypeError.
"""
import numpy as np

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
_ndarray = np.ndarray


def float_array(op, name, a, ndim=None):
    """a as an ndarray of a floating dtype (with ndim dimensions, unless ndim is None)."""
    if type(a) is not _ndarray:
        a = np.asarray(a)
    if ndim is not None and a.ndim != ndim:
        what = " (N, C, H, W)" if ndim == 4 else ""
        raise ValueError(f"{op}: expected {name} to be {ndim}-D{what}, got shape {a.shape}")
    if a.dtype.kind != "f":
        raise TypeError(f"{op}: {name} has dtype {a.dtype}; expected a floating dtype "
                        "(float32 or float64; float16 is computed in float32)")
    return a


def compute_dtype(a, *others):
    """The dtype the kernels run in: NumPy promotion of a and the others (None skipped), float16 -> float32."""
    dt = a.dtype
    if dt == F32 or dt == F64:
        for v in others:
            if v is not None and v.dtype != dt:
                break
        else:
            return dt
    dt = np.result_type(a.dtype, *[v.dtype for v in others if v is not None])
    if dt != F32 and dt != F64:
        dt = F32 if dt.itemsize <= 4 else F64
    return dt


def ready(a, dt):
    """Contiguous array of dtype dt (no copy if it already is one)."""
    if a is None or (a.dtype == dt and a.flags.c_contiguous):
        return a
    return np.ascontiguousarray(a, dtype=dt)


def cast(a, dt):
    """Cast a result back to an input's dtype (no copy if equal)."""
    if a is None or a.dtype == dt:
        return a
    return a.astype(dt)
