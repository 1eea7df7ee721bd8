"""Property-testing helpers: hypothesis strategies, gradient checks and the op-test factory.

Test your own op or layer the way gradlab tests its built-in ones::

    import numpy as np
    from hypothesis import given
    import gradlab
    from gradlab.testing import OpSpec, make_op_tests, tensors, gradcheck

    # a quick property: the gradient of a custom function, on random inputs
    @given(tensors(dtype="float64", shape=(2, 3), requires_grad=True))
    def test_cube_grad(x):
        assert gradcheck(lambda t: t ** 3, (x,))

    # the full factory: forward vs NumPy, gradcheck, and PyTorch when installed
    test_cube = make_op_tests([OpSpec("cube", lambda lib, x: x ** 3, ref=lambda x: x ** 3)])

Needs ``hypothesis`` (``pip install gradlab[test]``).
"""
from ..autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from .opcheck import OpSpec, check_gradgrad, check_op, grid_floats, make_op_tests
from .strategies import (ConvGeometry, PoolGeometry, arrays, broadcastable_shapes, conv_geometries,
                         conv_output_size, dtypes, pool_geometries, pool_output_size, shapes, tensors)

__all__ = ["shapes", "broadcastable_shapes", "arrays", "tensors", "dtypes", "conv_geometries", "pool_geometries",
           "ConvGeometry", "PoolGeometry", "conv_output_size", "pool_output_size", "gradcheck", "gradgradcheck",
           "GradcheckError", "OpSpec", "check_op", "check_gradgrad", "make_op_tests", "grid_floats"]
