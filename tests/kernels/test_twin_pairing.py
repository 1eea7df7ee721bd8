"""Each NumPy twin in gradlab/kernels/ pairs with its compiled module in gradlab_ext/:
same file name, same public functions, same signatures, and the dispatcher exports them."""
import importlib
import inspect
import os

import pytest

import gradlab.kernels as K
from kernel_cases import requires_cython

FAMILIES = list(K.FAMILIES)
# every compiled module keeps its own OpenMP team size (gradlab_ext/_threads.pxi);
# gradlab.kernels.set_num_threads sets them all, the NumPy twins have none
THREAD_CONTROLS = {"get_num_threads", "set_num_threads"}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def public_functions(module):
    """{name: function} defined in module itself, not starting with '_'."""
    return {name: value for name, value in vars(module).items()
            if not name.startswith("_") and callable(value) and not inspect.isclass(value)
            and getattr(value, "__module__", None) == module.__name__}


def test_every_family_has_both_files():
    twins = {f[:-3] for f in os.listdir(os.path.join(ROOT, "gradlab", "kernels"))
             if f.endswith(".py") and f not in ("__init__.py", "geometry.py", "dtypes.py")}
    compiled = {f[:-4] for f in os.listdir(os.path.join(ROOT, "gradlab_ext")) if f.endswith(".pyx")}
    assert twins == compiled == set(FAMILIES)


@requires_cython
@pytest.mark.parametrize("family", FAMILIES)
def test_twins_have_the_same_public_functions_and_signatures(family):
    twin = importlib.import_module(f"gradlab.kernels.{family}")
    compiled = importlib.import_module(f"gradlab_ext.{family}")
    twin_functions = public_functions(twin)
    compiled_functions = {n: f for n, f in public_functions(compiled).items() if n not in THREAD_CONTROLS}
    assert sorted(twin_functions) == sorted(compiled_functions)
    assert sorted(twin.__all__) == sorted(compiled.__all__) == sorted(twin_functions)
    for name in twin_functions:
        assert str(inspect.signature(twin_functions[name])) == \
            str(inspect.signature(compiled_functions[name])), name
        assert callable(getattr(K, name)), name         # and the dispatcher exports it
