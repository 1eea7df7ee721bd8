"""AlphaDropout and FeatureAlphaDropout: mean and variance kept, modes, grad_fn names and layers."""
import numpy as np
import pytest

import gradlab
import gradlab.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from against_torch import assert_same, backward_both, pair, seeds  # noqa: E402


@pytest.mark.parametrize("feature", [False, True])
@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_keeps_mean_and_variance(feature, p):
    """On a zero-mean unit-variance input the output's mean stays 0 and its variance 1 (as PyTorch's)."""
    gradlab.manual_seed(0)
    x = gradlab.randn(400, 50, 10, dtype=gradlab.float64)
    fn = F.feature_alpha_dropout if feature else F.alpha_dropout
    y = fn(x, p, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    # each element is either kept (a * x + b_keep) or dropped (the constant b_drop)
    alpha = 1.7580993408473766
    a = 1 / np.sqrt((alpha ** 2 * p + 1) * (1 - p))
    dropped = y == (0.0 - 1) * (alpha * a) + alpha * a * p  # (a kept value lands there with probability 0)
    assert abs(dropped.mean() - p) < 0.02
    np.testing.assert_allclose(y[~dropped], a * x.numpy()[~dropped] + alpha * a * p, rtol=1e-12, atol=1e-12)
    if feature:  # each (sample, channel) map dropped whole
        assert np.all(dropped.all(axis=2) | ~dropped.any(axis=2))


def test_alpha_dropout_modes_grad_fn_and_layers():
    x = gradlab.randn(4, 3, requires_grad=True)
    tx = torch.randn(4, 3, requires_grad=True)
    for fn, tfn in [(F.alpha_dropout, TF.alpha_dropout), (F.feature_alpha_dropout, TF.feature_alpha_dropout)]:
        assert fn(x, 0.5) is x  # training defaults to False: the identity
        assert fn(x, 0.0, training=True) is x
        assert fn(x, 0.5, True).grad_fn.name() == type(tfn(tx, 0.5, True).grad_fn).__name__ == "AddBackward0"
        out = fn(x, 1.0, True)
        assert out.grad_fn.name() == type(tfn(tx, 1.0, True).grad_fn).__name__ and not out.detach().numpy().any()
        with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
            fn(x, 1.5, True)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        F.feature_alpha_dropout(gradlab.randn(5), 0.5, True)
    layer = gradlab.nn.AlphaDropout(0.3)
    assert repr(layer) == repr(torch.nn.AlphaDropout(0.3))
    assert repr(gradlab.nn.FeatureAlphaDropout(0.2, True)) == repr(torch.nn.FeatureAlphaDropout(0.2, True))
    layer.eval()
    assert layer(x) is x
    y = gradlab.ones(3, 4)
    gradlab.nn.AlphaDropout(0.5, inplace=True)(y)
    assert not np.all(y.numpy() == 1)
    # the gradient is the kept-unit scale a where kept, 0 where dropped
    g = gradlab.randn(50, dtype=gradlab.float64, requires_grad=True)
    out = F.alpha_dropout(g, 0.4, True)
    out.sum().backward()
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.4 + 1) * 0.6)
    assert set(np.round(g.grad.numpy(), 12)) <= {0.0, round(a, 12)}
