"""Max unpooling: each value put back at the position its max pooling took it from.

(The pools themselves, on the Cython kernels, are in ``ops/pool.py``.)
"""
import numpy as np

from ..._tensor import Tensor
from ...autograd.record import record
from ..registry import op


@op(method=False, function=False, nn="max_unpool1d max_unpool2d")
def max_unpool(input, indices, out_hw):
    """Each value of ``input`` put at its flat position ``indices`` in a zero (..., *out_hw) map."""
    if input.shape != indices.shape:
        raise RuntimeError(f"max_unpool2d: Expected shape of indices to be same as that of the input tensor "
                           f"({list(indices.shape)}) but got {list(input.shape)}")
    if indices._data.dtype.kind not in "iu":
        raise RuntimeError(f"max_unpool2d: elements in indices should be type int64 but got: {indices.dtype}")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"max_unpool2d: Expected 3d or 4d tensor, but got a {input.ndim}-D tensor of shape "
                           f"{list(input.shape)}")
    plane = int(np.prod(out_hw))
    lead = input.shape[:-2]
    rows = int(np.prod(lead))
    values = input._data.reshape(rows, -1)
    idx = indices._data.reshape(rows, -1)
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        bad = idx.max() if idx.max() >= plane else idx.min()
        raise RuntimeError(f"max_unpool2d: Found an invalid max index: {bad} (output volumes are of size "
                           f"{out_hw[0]}x{out_hw[1]})")
    out = np.zeros((rows, plane), dtype=input._data.dtype)
    np.put_along_axis(out, idx, values, axis=1)
    flat_idx = Tensor._wrap(idx.astype(np.int64))

    def backward(g):
        # each input value's gradient is the output gradient at the place it was put
        return (g.reshape(rows, plane).gather(1, flat_idx).reshape(input.shape),)
    return record(out.reshape(*lead, *out_hw), "MaxUnpool2DBackward0", backward, (input,))
