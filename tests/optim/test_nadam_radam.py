"""NAdam and RAdam follow PyTorch's parameter trajectory step for step, and their state survives a round trip."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlab
from optim_problems import assert_state_dicts_match, flat, loss_of, trajectory

torch = pytest.importorskip("torch")

CASES = {
    "nadam": lambda O, ps: O.NAdam(ps, lr=0.05),
    "nadam-defaults": lambda O, ps: O.NAdam(ps),
    "nadam-options": lambda O, ps: O.NAdam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-4, momentum_decay=0.1,
                                           weight_decay=0.1),
    "nadam-decoupled": lambda O, ps: O.NAdam(ps, lr=0.05, weight_decay=0.2, decoupled_weight_decay=True),
    "nadam-maximize": lambda O, ps: O.NAdam(ps, lr=0.01, maximize=True),
    "nadam-groups": lambda O, ps: O.NAdam([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.01,
                                                                "momentum_decay": 0.02}], lr=0.05),
    "radam": lambda O, ps: O.RAdam(ps, lr=0.05),
    "radam-defaults": lambda O, ps: O.RAdam(ps),
    # beta2 = 0.9: rho_t passes 5 at step 6, so both branches of the rule run
    "radam-rectified": lambda O, ps: O.RAdam(ps, lr=0.05, betas=(0.8, 0.9), eps=1e-4, weight_decay=0.1),
    "radam-decoupled": lambda O, ps: O.RAdam(ps, lr=0.05, betas=(0.9, 0.8), weight_decay=0.2,
                                             decoupled_weight_decay=True),
    "radam-maximize": lambda O, ps: O.RAdam(ps, lr=0.01, betas=(0.9, 0.9), maximize=True),
}


@pytest.mark.parametrize("name", CASES)
def test_trajectory_matches_torch(name):
    ours, _, _ = trajectory(gradlab, CASES[name])
    theirs, _, _ = trajectory(torch, CASES[name])
    assert np.isfinite(theirs).all()
    assert not np.allclose(theirs[0], theirs[-1])          # the parameters did move
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["nadam-options", "radam-rectified"])
def test_float32_trajectory_matches_torch(name):
    ours, _, _ = trajectory(gradlab, CASES[name], steps=10, dtype="float32")
    theirs, _, _ = trajectory(torch, CASES[name], steps=10, dtype="float32")
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_state_dict_matches_torch(name):
    _, opt, _ = trajectory(gradlab, CASES[name], steps=5)
    _, topt, _ = trajectory(torch, CASES[name], steps=5)
    assert_state_dicts_match(opt.state_dict(), topt.state_dict())


@pytest.mark.parametrize("name", ["nadam-options", "radam-rectified"])
def test_state_dict_round_trip_continues_the_trajectory(name):
    """Five steps, save, load into a fresh optimizer, five more: the same as ten steps straight."""
    straight, _, _ = trajectory(gradlab, CASES[name], steps=10)
    _, opt, params = trajectory(gradlab, CASES[name], steps=5)
    saved = opt.state_dict()
    fresh = CASES[name](gradlab.optim, params)
    fresh.load_state_dict(saved)
    for row in straight[5:]:
        def closure():
            fresh.zero_grad()
            loss = loss_of(gradlab, params)
            loss.backward()
            return loss
        fresh.step(closure)
        np.testing.assert_allclose(flat(params), row[:-1], rtol=1e-12, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), which=st.sampled_from(["NAdam", "RAdam"]),
       lr=st.floats(1e-3, 0.5), beta1=st.floats(0.0, 0.95), beta2=st.floats(0.5, 0.999),
       weight_decay=st.sampled_from([0.0, 0.1]), decoupled=st.booleans(), maximize=st.booleans())
def test_random_hyperparameters_match_torch(seed, which, lr, beta1, beta2, weight_decay, decoupled, maximize):
    rng = np.random.default_rng(seed)
    start = rng.standard_normal((3, 4))
    grads = rng.standard_normal((8, 3, 4))
    results = []
    for T in (gradlab, torch):
        p = T.tensor(start.copy(), requires_grad=True)
        opt = getattr(T.optim, which)([p], lr=lr, betas=(beta1, beta2), weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled, maximize=maximize)
        for g in grads:
            p.grad = T.tensor(g.copy())
            opt.step()
        results.append(p.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("which", ["NAdam", "RAdam"])
@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (dict(eps=-1e-3), "Invalid epsilon value: -0.001"),
    (dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
])
def test_bad_arguments_raise_as_torch(which, kwargs, message):
    for T in (gradlab, torch):
        with pytest.raises(ValueError, match=f"^{message}$".replace("(", r"\(").replace(".", r"\.")):
            getattr(T.optim, which)([T.zeros(2, requires_grad=True)], **kwargs)


def test_nadam_bad_momentum_decay():
    for T in (gradlab, torch):
        with pytest.raises(ValueError, match=r"^Invalid momentum_decay value: -0\.1$"):
            T.optim.NAdam([T.zeros(2, requires_grad=True)], momentum_decay=-0.1)
