"""The order statistics (gradlab/ops/sort.py) beyond their specs: named-tuple results and errors."""
import gradlab
from ops_helpers import raises_all


def test_results_are_named_tuples_as_torch():
    x = gradlab.tensor([[3.0, 1.0, 2.0]])
    for name in ("kthvalue", "mode", "nanmedian"):
        args = (1, 1) if name == "kthvalue" else (1,)
        result = getattr(x, name)(*args)
        assert type(result).__name__ == name and result.values is result[0] and result.indices is result[1]


def test_errors_as_torch():
    x = gradlab.arange(12.0).reshape(3, 4)
    raises_all([
        (lambda: x.kthvalue(5, 1), RuntimeError, "k out of range"),
        (lambda: gradlab.mode(gradlab.ones(0)), IndexError, "non-zero size"),
    ])
