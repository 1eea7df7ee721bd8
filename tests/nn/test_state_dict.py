"""state_dict / load_state_dict: torch's keys, in-place loading, torch's error text."""
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
from gradlab import nn


def classes(lib):
    class Affine(lib.nn.Module):
        def __init__(self, n, bias=True):
            super().__init__()
            self.weight = lib.nn.Parameter(lib.arange(1.0, n + 1.0))
            if bias:
                self.bias = lib.nn.Parameter(lib.zeros(n))
            else:
                self.register_parameter("bias", None)
            self.register_buffer("count", lib.zeros(1))
            self.register_buffer("scratch", lib.zeros(n), persistent=False)
            self.register_buffer("absent", None)

        def forward(self, x):
            y = x * self.weight
            return y if self.bias is None else y + self.bias

    class Net(lib.nn.Module):
        def __init__(self, n=3):
            super().__init__()
            self.stem = Affine(n)
            self.body = lib.nn.Sequential(Affine(n), lib.nn.ModuleList([Affine(n, False), Affine(n)]))
            self.heads = lib.nn.ModuleDict({"a": Affine(n)})
            self.scale = lib.nn.Parameter(lib.ones(1))

        def forward(self, x):
            x = self.body[0](self.stem(x))
            for m in self.body[1]:
                x = m(x)
            return self.heads["a"](x) * self.scale

    return Affine, Net


def build(lib, spec):
    Affine, _ = classes(lib)
    if spec[0] == "affine":
        return Affine(spec[1], spec[2])
    children = [build(lib, s) for s in spec[1]]
    if spec[0] == "seq":
        return lib.nn.Sequential(*children)
    if spec[0] == "list":
        return lib.nn.ModuleList(children)
    return lib.nn.ModuleDict({f"m{i}": c for i, c in enumerate(children)})


tree_specs = st.recursive(
    st.tuples(st.just("affine"), st.integers(1, 3), st.booleans()),
    lambda inner: st.tuples(st.sampled_from(["seq", "list", "dict"]), st.lists(inner, max_size=3)),
    max_leaves=8)


def torch_error(torch, model, state, strict=True):
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=strict)
    return str(info.value).replace("torch.", "gradlab.")


def our_error(model, state, strict=True):
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict({k: gradlab.tensor(np.array(v)) for k, v in state.items()}, strict=strict)
    return str(info.value)


# ---- state_dict --------------------------------------------------------------------------------------------
def test_keys_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = classes(gradlab)[1]().state_dict(), classes(torch)[1]().state_dict()
    assert isinstance(ours, OrderedDict)
    assert list(ours) == list(theirs)
    assert list(ours) == ["scale", "stem.weight", "stem.bias", "stem.count", "body.0.weight", "body.0.bias",
                          "body.0.count", "body.1.0.weight", "body.1.0.count", "body.1.1.weight", "body.1.1.bias",
                          "body.1.1.count", "heads.a.weight", "heads.a.bias", "heads.a.count"]
    assert list(ours._metadata) == list(theirs._metadata)


@given(tree_specs)
def test_keys_match_torch_on_random_trees(spec):
    torch = pytest.importorskip("torch")
    assert list(build(gradlab, spec).state_dict()) == list(build(torch, spec).state_dict())


def test_values_are_detached_views_and_keep_vars_gives_parameters():
    net = classes(gradlab)[1]()
    sd = net.state_dict()
    w = net.stem.weight
    assert not sd["stem.weight"].requires_grad and sd["stem.weight"].grad_fn is None
    assert type(sd["stem.weight"]) is gradlab.Tensor
    assert np.shares_memory(sd["stem.weight"]._data, w._data)
    w.data.mul_(2)  # the state dict sees later changes, as torch's does
    assert sd["stem.weight"].tolist() == [2.0, 4.0, 6.0]
    kept = net.state_dict(keep_vars=True)
    assert kept["stem.weight"] is w and kept["stem.count"] is net.stem.count


def test_prefix_and_destination():
    net = classes(gradlab)[0](2)
    dest = OrderedDict(existing=1)
    out = net.state_dict(destination=dest, prefix="model.")
    assert out is dest and list(dest) == ["existing", "model.weight", "model.bias", "model.count"]
    assert list(net.state_dict(None, "p.")) == ["p.weight", "p.bias", "p.count"]  # the old positional form


def test_state_dict_hooks():
    net = classes(gradlab)[0](2)
    calls = []
    net.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: calls.append(("pre", prefix)))

    def post(mod, sd, prefix, local_metadata):
        sd[prefix + "note"] = gradlab.ones(1)

    net.register_state_dict_post_hook(post)
    assert list(net.state_dict(prefix="x.")) == ["x.weight", "x.bias", "x.count", "x.note"]
    assert calls == [("pre", "x.")]


# ---- load_state_dict ------------------------------------------------------------------------------------------
def test_round_trip_copies_in_place():
    _, Net = classes(gradlab)
    src, dst = Net(), Net()
    for p in src.parameters():
        p.data.normal_()
    src.stem.count.fill_(7)
    params = {name: (p, p._data) for name, p in dst.named_parameters()}
    versions = {name: p._version for name, p in dst.named_parameters()}
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for name, p in dst.named_parameters():
        assert params[name][0] is p and params[name][1] is p._data  # same objects, same memory
        assert p._version > versions[name] and p.requires_grad and p.is_leaf
        np.testing.assert_array_equal(p.tolist(), src.get_parameter(name).tolist())
    assert dst.stem.count.tolist() == [7.0]
    x = gradlab.randn(3)
    np.testing.assert_allclose(dst(x).tolist(), src(x).tolist())


def test_loading_a_torch_models_values_gives_the_same_outputs():
    torch = pytest.importorskip("torch")
    theirs = classes(torch)[1]()
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_()
    ours = classes(gradlab)[1]()
    ours.load_state_dict({k: gradlab.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(gradlab.tensor(x)).tolist(), theirs(torch.tensor(x)).tolist(), rtol=1e-5)


def test_strict_error_text_matches_torch():
    torch = pytest.importorskip("torch")
    state = {"scale": [1.0], "stem.weight": [[1.0, 2.0, 3.0]], "stem.bias": [0.0, 0.0, 0.0], "extra": [1.0],
             "body.9.weight": [1.0], "heads.a.zz": [1.0], "body.1.0.weight": [1.0, 2.0]}
    ours = our_error(classes(gradlab)[1](), state)
    theirs = torch_error(torch, classes(torch)[1](), state)
    assert ours == theirs
    assert ours.startswith("Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "
                           "\"stem.count\", ")
    assert "Unexpected key(s) in state_dict: \"extra\"" in ours
    assert "size mismatch for stem.weight: copying a param with shape gradlab.Size([1, 3]) from checkpoint, " \
           "the shape in current model is gradlab.Size([3])." in ours


def test_non_strict_reports_keys_but_size_mismatch_still_raises():
    torch = pytest.importorskip("torch")
    state = {"scale": [2.0], "stem.weight": [1.0, 1.0, 1.0], "unknown": [0.0], "heads.b.weight": [1.0]}
    ours = classes(gradlab)[1]().load_state_dict({k: gradlab.tensor(v) for k, v in state.items()}, strict=False)
    theirs = classes(torch)[1]().load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=False)
    assert ours.missing_keys == theirs.missing_keys and ours.unexpected_keys == theirs.unexpected_keys
    assert repr(ours) == repr(theirs)
    assert ours.unexpected_keys == ["unknown", "heads.b.weight"]
    missing, unexpected = ours  # a named tuple
    assert "stem.bias" in missing
    bad = {"stem.weight": [1.0, 2.0]}
    assert our_error(classes(gradlab)[1](), bad, strict=False) == \
        torch_error(torch, classes(torch)[1](), bad, strict=False)


def test_non_tensor_values_and_non_mappings():
    torch = pytest.importorskip("torch")
    net = classes(gradlab)[0](2)
    with pytest.raises(RuntimeError) as ours:
        net.load_state_dict({"weight": 3}, strict=False)
    with pytest.raises(RuntimeError) as theirs:
        classes(torch)[0](2).load_state_dict({"weight": 3}, strict=False)
    assert str(ours.value) == str(theirs.value).replace("torch.", "gradlab.")
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like, got <class 'list'>."):
        net.load_state_dict([1, 2])


def test_scalar_parameter_loads_from_one_element_vector():
    m = nn.Module()
    m.t = nn.Parameter(gradlab.tensor(1.0))
    m.load_state_dict({"t": gradlab.tensor([5.0])})
    assert m.t.item() == 5.0 and m.t.dim() == 0


def test_non_persistent_buffers_are_neither_saved_nor_expected():
    net = classes(gradlab)[0](2)
    net.scratch.fill_(3.0)
    sd = net.state_dict()
    assert "scratch" not in sd
    assert net.load_state_dict(sd).missing_keys == []
    assert net.scratch.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="Unexpected key\\(s\\) in state_dict: \"scratch\""):
        net.load_state_dict({**sd, "scratch": gradlab.zeros(2)})


def test_load_hooks():
    net = classes(gradlab)[0](2)
    seen = []

    def pre(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        state_dict[prefix + "bias"] = gradlab.ones(2) * 9  # e.g. migrating an old checkpoint
        seen.append(("pre", prefix))

    def post(module, incompatible):
        incompatible.unexpected_keys.clear()  # a post hook may forgive keys
        seen.append(("post", list(incompatible.missing_keys)))

    net.register_load_state_dict_pre_hook(pre)
    net.register_load_state_dict_post_hook(post)
    net.load_state_dict({"weight": gradlab.zeros(2), "count": gradlab.zeros(1), "old_name": gradlab.ones(1)})
    assert net.bias.tolist() == [9.0, 9.0]
    assert seen == [("pre", ""), ("post", [])]


def test_saved_and_reloaded_state_dict_restores_the_model(tmp_path):
    if not hasattr(gradlab, "save"):
        pytest.skip("gradlab.save not available")
    _, Net = classes(gradlab)
    src, dst = Net(), Net()
    for p in src.parameters():
        p.data.uniform_(-1, 1)
    gradlab.save(src.state_dict(), tmp_path / "net.pt")
    dst.load_state_dict(gradlab.load(tmp_path / "net.pt"))
    for (name, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        np.testing.assert_array_equal(a.tolist(), b.tolist(), err_msg=name)


def test_layers_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")

    def net(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(1, 4, 3), lib.nn.BatchNorm2d(4), lib.nn.ReLU(), lib.nn.Flatten(),
                                 lib.nn.Linear(4 * 26 * 26, 10))

    ours, theirs = net(gradlab), net(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: gradlab.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(1).normal(size=(2, 1, 28, 28)).astype(np.float32)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(gradlab.tensor(x)).tolist(), theirs(torch.tensor(x)).tolist(),
                               rtol=1e-4, atol=1e-5)


def test_assign_uses_the_checkpoint_tensors_themselves():
    net = classes(gradlab)[0](2)
    net.weight.requires_grad_(False)
    weight, count = gradlab.tensor([5.0, 6.0]), gradlab.tensor([2.0])
    net.load_state_dict({"weight": weight, "bias": nn.Parameter(gradlab.zeros(2)), "count": count}, assign=True)
    assert isinstance(net.weight, nn.Parameter) and np.shares_memory(net.weight._data, weight._data)
    assert not net.weight.requires_grad and net.bias.requires_grad  # requires_grad follows the model
    assert net.count is count
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        net.load_state_dict({"weight": gradlab.ones(3)}, strict=False, assign=True)


def test_extra_state_matches_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        class Counter(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = lib.nn.Parameter(lib.ones(1))
                self.calls = 0

            def get_extra_state(self):
                return {"calls": self.calls}

            def set_extra_state(self, state):
                self.calls = state["calls"]

        return lib.nn.Sequential(Counter(), lib.nn.Sequential())

    ours, theirs = build(gradlab), build(torch)
    ours[0].calls = 5
    sd = ours.state_dict()
    assert list(sd) == list(theirs.state_dict()) == ["0.w", "0._extra_state"]
    fresh = build(gradlab)
    fresh.load_state_dict(sd)
    assert fresh[0].calls == 5
    missing = {"0.w": [1.0]}
    assert our_error(build(gradlab), missing) == torch_error(torch, build(torch), missing)
    extra = {"0.w": [1.0], "0._extra_state": {"calls": 1}, "1._extra_state": 3, "_extra_state": 4}
    with pytest.raises(RuntimeError) as ours_error:
        build(gradlab).load_state_dict({k: gradlab.tensor(v) if isinstance(v, list) else v for k, v in extra.items()})
    with pytest.raises(RuntimeError) as torch_error_:
        build(torch).load_state_dict({k: torch.tensor(v) if isinstance(v, list) else v for k, v in extra.items()})
    assert str(ours_error.value) == str(torch_error_.value)
    assert 'Unexpected key(s) in state_dict: "_extra_state", "1._extra_state"' in str(ours_error.value)
