"""nn.Module: registration rules, tree walks, modes, casting, printing; cross-checked with torch."""
import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
from gradlab import nn


def make_classes(lib):
    """The same small modules written against ``lib`` (gradlab or torch), for side-by-side checks."""
    class Affine(lib.nn.Module):
        """x * weight + bias, with a persistent and a non-persistent buffer."""

        def __init__(self, n, bias=True):
            super().__init__()
            self.n = n
            self.weight = lib.nn.Parameter(lib.arange(1.0, n + 1.0))
            if bias:
                self.bias = lib.nn.Parameter(lib.zeros(n))
            else:
                self.register_parameter("bias", None)
            self.register_buffer("count", lib.zeros(1))
            self.register_buffer("scratch", lib.zeros(n), persistent=False)

        def extra_repr(self):
            return f"n={self.n}, bias={self.bias is not None}"

        def forward(self, x):
            y = x * self.weight
            return y if self.bias is None else y + self.bias

    class Multi(lib.nn.Module):
        """A module whose extra_repr spans two lines."""

        def extra_repr(self):
            return "first line\nsecond line"

        def forward(self, x):
            return x

    class Empty(lib.nn.Module):
        def forward(self, x):
            return x

    return Affine, Multi, Empty


def build(lib, spec):
    """Build the module tree described by ``spec`` with ``lib``."""
    Affine, Multi, Empty = make_classes(lib)
    kind = spec[0]
    if kind == "affine":
        return Affine(spec[1], spec[2])
    if kind == "multi":
        return Multi()
    if kind == "empty":
        return Empty()
    children = [build(lib, s) for s in spec[1]]
    if kind == "seq":
        return lib.nn.Sequential(*children)
    if kind == "list":
        return lib.nn.ModuleList(children)
    if kind == "dict":
        return lib.nn.ModuleDict({f"k{i}": c for i, c in enumerate(children)})
    raise ValueError(kind)


leaf_specs = st.one_of(
    st.tuples(st.just("affine"), st.integers(1, 3), st.booleans()),
    st.just(("multi",)), st.just(("empty",)))
tree_specs = st.recursive(
    leaf_specs,
    lambda inner: st.tuples(st.sampled_from(["seq", "list", "dict"]), st.lists(inner, max_size=3)),
    max_leaves=8)


# ---- registration --------------------------------------------------------------------------------
class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(gradlab.ones(2, 3))
        self.child = nn.Sequential()
        self.register_buffer("running", gradlab.zeros(3))
        self.plain = gradlab.ones(4)
        self.number = 7

    def forward(self, x):
        return x @ self.weight.T


def test_assignment_registers_parameters_modules_and_buffers():
    m = Holder()
    assert list(m._parameters) == ["weight"]
    assert list(m._modules) == ["child"]
    assert list(m._buffers) == ["running"]
    assert "plain" in m.__dict__ and "plain" not in m._buffers  # a plain tensor stays a plain attribute
    assert m.number == 7 and m.weight is m._parameters["weight"]
    assert [n for n, _ in m.named_parameters()] == ["weight"]


def test_reassigning_moves_the_name_between_kinds():
    m = Holder()
    m.plain = nn.Parameter(gradlab.zeros(1))
    assert "plain" in m._parameters and "plain" not in m.__dict__
    m.child = nn.Parameter(gradlab.zeros(1))
    assert "child" in m._parameters and "child" not in m._modules
    m.weight = None
    assert m._parameters["weight"] is None and m.weight is None
    assert [n for n, _ in m.named_parameters()] == ["plain", "child"]  # None is skipped
    m.running = gradlab.ones(3)  # a tensor assigned to a buffer name replaces the buffer
    assert m._buffers["running"].tolist() == [1.0, 1.0, 1.0]


def test_assigning_wrong_types_to_registered_names():
    m = Holder()
    with pytest.raises(TypeError, match="cannot assign 'gradlab.Tensor' as parameter 'weight'"):
        m.weight = gradlab.ones(2, 3)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'child'"):
        m.child = 3
    with pytest.raises(TypeError, match="cannot assign 'str' as buffer 'running'"):
        m.running = "x"


def test_assignment_before_init_is_a_clear_error():
    class Forgot(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(gradlab.ones(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        Forgot()

    class ForgotModule(nn.Module):
        def __init__(self):
            self.m = nn.Sequential()

    with pytest.raises(AttributeError, match=r"cannot assign module before Module.__init__\(\) call"):
        ForgotModule()


@pytest.mark.parametrize("register", ["register_parameter", "register_buffer"])
def test_register_name_rules(register):
    m = Holder()
    kind = "parameter" if register == "register_parameter" else "buffer"
    value = nn.Parameter(gradlab.ones(1)) if kind == "parameter" else gradlab.ones(1)
    with pytest.raises(KeyError, match=f"{kind} name can"):
        getattr(m, register)("a.b", value)
    with pytest.raises(KeyError, match="be empty string"):
        getattr(m, register)("", value)
    with pytest.raises(KeyError, match="attribute 'number' already exists"):
        getattr(m, register)("number", value)
    with pytest.raises(TypeError, match=f"{kind} name should be a string. Got int"):
        getattr(m, register)(3, value)


def test_register_parameter_type_and_leaf_checks():
    m = Holder()
    with pytest.raises(TypeError, match="cannot assign 'gradlab.Tensor' object to parameter 'p'"):
        m.register_parameter("p", gradlab.ones(1))
    w = gradlab.ones(2, requires_grad=True)
    non_leaf = nn.Parameter(w)
    non_leaf.grad_fn = (w * 2).grad_fn  # a parameter computed from another tensor
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'q'"):
        m.register_parameter("q", non_leaf)
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer 'b'"):
        m.register_buffer("b", [1, 2])


def test_add_module_rules_and_any_name():
    m = nn.Module()
    m.add_module("block 0", Holder())
    m.register_module("x", None)
    assert list(m._modules) == ["block 0", "x"]
    assert getattr(m, "block 0") is m._modules["block 0"]
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("y", 3)
    with pytest.raises(KeyError, match="got: a.b"):
        m.add_module("a.b", Holder())
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        m.add_module("training", Holder())
    with pytest.raises(TypeError, match="module name should be a string. Got int"):
        m.add_module(1, Holder())


def test_subclass_may_fill_modules_directly():
    class Blocks(nn.Module):
        def __init__(self, n):
            super().__init__()
            for i in range(n):
                self._modules[str(i)] = Holder()

    m = Blocks(2)
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "1.weight"]
    assert list(m.state_dict()) == ["0.weight", "0.running", "1.weight", "1.running"]


def test_getattr_and_delattr():
    m = Holder()
    with pytest.raises(AttributeError, match="'Holder' object has no attribute 'missing'"):
        m.missing
    del m.weight, m.running, m.child, m.plain
    assert not m._parameters and not m._buffers and not m._modules and "plain" not in m.__dict__
    with pytest.raises(AttributeError):
        del m.missing


def test_get_submodule_parameter_buffer():
    net = nn.Sequential(Holder(), nn.Sequential(Holder()))
    assert net.get_submodule("") is net
    assert net.get_submodule("1.0") is net[1][0]
    assert net.get_parameter("1.0.weight") is net[1][0].weight
    assert net.get_buffer("0.running") is net[0].running
    with pytest.raises(AttributeError, match="Sequential has no attribute `5`"):
        net.get_submodule("5")
    with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
        net.get_submodule("0.weight")
    with pytest.raises(AttributeError, match="`running` is not an nn.Parameter"):
        net.get_parameter("0.running")
    with pytest.raises(AttributeError, match="`weight` is not a buffer"):
        net.get_buffer("0.weight")


def test_buffer_class_registers_on_assignment():
    m = nn.Module()
    m.a = nn.Buffer(gradlab.ones(2))
    m.b = nn.Buffer(gradlab.zeros(1), persistent=False)
    assert list(m._buffers) == ["a", "b"] and m._non_persistent_buffers_set == {"b"}
    assert type(m.a) is gradlab.Tensor
    assert list(m.state_dict()) == ["a"]


def test_init_rejects_arguments_and_forward_is_required():
    with pytest.raises(TypeError, match=r"Module.__init__\(\) got an unexpected keyword argument 'x'"):
        nn.Module(x=1)
    with pytest.raises(TypeError, match="takes 1 positional argument but 2 were given"):
        nn.Module(1)
    with pytest.raises(NotImplementedError, match='Module \\[Module\\] is missing the required "forward" function'):
        nn.Module()(gradlab.ones(1))


def test_dir_lists_members_but_not_numeric_names():
    m = Holder()
    names = dir(m)
    for name in ("weight", "child", "running", "plain", "forward", "parameters"):
        assert name in names
    seq = nn.Sequential(Holder())
    assert "0" not in dir(seq)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]),
                          st.sampled_from(["param", "module", "buffer", "nonpersistent", "tensor", "none", "int",
                                           "delete", "register_param"])), max_size=12))
def test_random_assignments_register_like_torch(ops):
    """Any sequence of assignments, registrations and deletions leaves the same dicts (and errors) as torch."""
    torch = pytest.importorskip("torch")

    def apply(lib, ops):
        m = lib.nn.Module()
        outcomes = []
        for name, kind in ops:
            try:
                if kind == "param":
                    setattr(m, name, lib.nn.Parameter(lib.ones(1)))
                elif kind == "module":
                    setattr(m, name, lib.nn.Module())
                elif kind == "buffer":
                    m.register_buffer(name, lib.ones(1))
                elif kind == "nonpersistent":
                    m.register_buffer(name, lib.ones(1), persistent=False)
                elif kind == "tensor":
                    setattr(m, name, lib.ones(1))
                elif kind == "none":
                    setattr(m, name, None)
                elif kind == "int":
                    setattr(m, name, 3)
                elif kind == "register_param":
                    m.register_parameter(name, lib.nn.Parameter(lib.ones(1)))
                else:
                    delattr(m, name)
                outcomes.append("ok")
            except Exception as e:  # the same kind of error as torch, for the same reason
                outcomes.append(type(e).__name__)
        plain = sorted(k for k in ("a", "b", "c") if k in m.__dict__)
        return (outcomes, list(m._parameters), list(m._buffers), sorted(m._non_persistent_buffers_set),
                list(m._modules), plain, list(m.state_dict()))

    assert apply(gradlab, ops) == apply(torch, ops)


# ---- generators ----------------------------------------------------------------------------------
def test_generators_are_generators_and_use_dotted_names():
    net = nn.Sequential(Holder(), nn.Sequential(Holder(), Holder()))
    import types
    for method in ("parameters", "named_parameters", "buffers", "named_buffers", "children", "named_children",
                   "modules", "named_modules"):
        assert isinstance(getattr(net, method)(), types.GeneratorType)
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "1.0.weight", "1.1.weight"]
    assert [n for n, _ in net.named_parameters(prefix="net")] == ["net.0.weight", "net.1.0.weight",
                                                                  "net.1.1.weight"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == []
    assert [n for n, _ in net.named_buffers()] == ["0.running", "1.0.running", "1.1.running"]
    assert [n for n, _ in net.named_children()] == ["0", "1"]
    assert [n for n, _ in net.named_modules()] == ["", "0", "0.child", "1", "1.0", "1.0.child", "1.1",
                                                   "1.1.child"]


def test_shared_modules_and_parameters_are_yielded_once():
    shared = Holder()
    net = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in net.named_modules()][:3] == ["", "0", "0.child"]
    assert sum(1 for m in net.modules() if m is shared) == 1
    assert [n for n, _ in net.named_parameters()] == ["0.weight"]
    assert [n for n, _ in net.named_parameters(remove_duplicate=False)] == ["0.weight", "2.weight"]
    assert len([m for _, m in net.named_modules(remove_duplicate=False) if m is shared]) == 2
    assert [n for n, _ in net.named_children()] == ["0", "1"]
    # one Parameter under two names
    m = nn.Module()
    m.a = nn.Parameter(gradlab.ones(1))
    m.b = m.a
    assert [n for n, _ in m.named_parameters()] == ["a"]
    assert len(list(m.parameters())) == 1


def test_parameters_with_equal_values_are_distinct():
    m = nn.Module()
    m.a = nn.Parameter(gradlab.zeros(2))
    m.b = nn.Parameter(gradlab.zeros(2))  # equal values, different objects: both yielded
    assert [n for n, _ in m.named_parameters()] == ["a", "b"]


@given(tree_specs)
def test_names_match_torch_on_random_trees(spec):
    torch = pytest.importorskip("torch")
    ours, theirs = build(gradlab, spec), build(torch, spec)
    for method in ("named_parameters", "named_buffers", "named_modules", "named_children"):
        assert [n for n, _ in getattr(ours, method)()] == [n for n, _ in getattr(theirs, method)()], method
    assert repr(ours) == repr(theirs)


# ---- apply, modes, gradients ---------------------------------------------------------------------
def test_apply_visits_children_first_then_self():
    inner = nn.Sequential(Holder())
    net = nn.Sequential(inner, Holder())
    order = []
    assert net.apply(lambda m: order.append(m)) is net
    expected = [inner[0].child, inner[0], inner, net[1].child, net[1], net]
    assert [id(m) for m in order] == [id(m) for m in expected]


def test_apply_order_matches_torch():
    torch = pytest.importorskip("torch")
    spec = ("seq", [("affine", 2, True), ("list", [("multi",), ("dict", [("empty",)])]), ("affine", 1, False)])
    ours, theirs = build(gradlab, spec), build(torch, spec)
    names_ours, names_theirs = [], []
    ours.apply(lambda m: names_ours.append(type(m).__name__))
    theirs.apply(lambda m: names_theirs.append(type(m).__name__))
    assert names_ours == names_theirs


def test_train_and_eval_propagate():
    net = nn.Sequential(Holder(), nn.Sequential(Holder()))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net[1].train()
    assert net[1][0].training and not net.training
    assert net.train() is net and all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")


def test_zero_grad_to_none_and_to_zeros():
    m = Holder()
    m(gradlab.ones(1, 3)).sum().backward()
    assert m.weight.grad is not None
    grad = m.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is grad and not grad.any() and not grad.requires_grad
    m.zero_grad()
    assert m.weight.grad is None


def test_requires_grad_toggles_every_parameter():
    net = nn.Sequential(Holder(), Holder())
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


def test_module_used_twice_receives_the_sum_of_both_gradients():
    torch = pytest.importorskip("torch")

    def grads(lib):
        Affine, _, _ = make_classes(lib)
        shared = Affine(3)
        net = lib.nn.Sequential(shared, shared)
        x = lib.tensor([[1.0, -2.0, 0.5], [0.3, 0.2, 0.1]])
        net(x).pow(2).sum().backward()
        return shared.weight.grad.tolist(), shared.bias.grad.tolist()

    ours = grads(gradlab)
    np.testing.assert_allclose(ours[0], grads(torch)[0], rtol=1e-6)
    np.testing.assert_allclose(ours[1], grads(torch)[1], rtol=1e-6)
    # and by hand: y = w*(w*x+b)+b, dy/dw = (w*x+b) + w*x, dy/db = w + 1
    shared = make_classes(gradlab)[0](2)
    net = nn.Sequential(shared, shared)
    net(gradlab.tensor([3.0, 4.0])).sum().backward()
    w, x = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    np.testing.assert_allclose(shared.weight.grad.tolist(), 2 * w * x)
    np.testing.assert_allclose(shared.bias.grad.tolist(), w + 1)


# ---- dtype and device ------------------------------------------------------------------------------
def test_double_keeps_parameter_identity_and_casts_grads_and_buffers():
    m = Holder()
    m.register_buffer("steps", gradlab.zeros(1, dtype=gradlab.int64))
    m(gradlab.ones(1, 3)).sum().backward()
    weight = m.weight
    assert m.double() is m
    assert m.weight is weight and weight.dtype == gradlab.float64 and weight.requires_grad
    assert weight.grad.dtype == gradlab.float64
    assert m.running.dtype == gradlab.float64
    assert m.steps.dtype == gradlab.int64  # only floating-point entries are cast
    assert m.plain.dtype == gradlab.float32  # a plain attribute is not module state
    m.float()
    assert weight.dtype == gradlab.float32
    m.half()
    assert weight.dtype == gradlab.float16
    m.to(gradlab.float64)
    assert weight.dtype == gradlab.float64
    m.to(dtype=gradlab.float32)
    assert weight.dtype == gradlab.float32
    m.to(gradlab.zeros(1, dtype=gradlab.float64))
    assert weight.dtype == gradlab.float64
    m.type(gradlab.float32)
    assert m.steps.dtype == gradlab.float32  # type() casts every entry


def test_to_cpu_is_a_no_op_and_gpus_are_a_clear_error():
    m = Holder()
    w = m.weight
    assert m.to("cpu") is m and m.to(gradlab.device("cpu")) is m and m.cpu() is m
    assert m.to("cpu", gradlab.float64).weight is w and w.dtype == gradlab.float64
    for call in (lambda: m.cuda(), lambda: m.to("cuda"), lambda: m.to("cuda:0"), lambda: m.to("mps")):
        with pytest.raises(RuntimeError, match="CPU only"):
            call()
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point or complex dtypes"):
        m.to(gradlab.int64)


def test_cast_module_still_trains():
    m = Holder().double()
    x = gradlab.ones(2, 3, dtype=gradlab.float64)
    m(x).sum().backward()
    assert m.weight.grad.dtype == gradlab.float64
    np.testing.assert_allclose(m.weight.grad.tolist(), np.full((2, 3), 2.0))


def test_deepcopy_gives_independent_parameters():
    m = Holder()
    clone = copy.deepcopy(m)
    assert clone.weight is not m.weight and isinstance(clone.weight, nn.Parameter)
    assert clone.weight.requires_grad
    clone.weight.data.fill_(5.0)
    assert m.weight.tolist() == [[1.0] * 3] * 2


# ---- Parameter -----------------------------------------------------------------------------------------
def test_parameter_basics_and_repr_match_torch():
    torch = pytest.importorskip("torch")
    p = nn.Parameter(gradlab.tensor([1.0, 2.5]))
    assert isinstance(p, gradlab.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.5])))
    q = nn.Parameter(gradlab.tensor([[1, 2]]), requires_grad=False)
    assert repr(q) == repr(torch.nn.Parameter(torch.tensor([[1, 2]]), requires_grad=False))
    assert repr(nn.Parameter()) == repr(torch.nn.Parameter())
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(gradlab.tensor([1, 2]))


def test_parameter_shares_memory_with_its_data():
    t = gradlab.zeros(3)
    p = nn.Parameter(t)
    t.fill_(2.0)
    assert p.tolist() == [2.0, 2.0, 2.0]
    assert type(p * 2) is gradlab.Tensor  # results of ops are plain tensors


# ---- printing --------------------------------------------------------------------------------------
def test_repr_of_nested_custom_modules_matches_torch():
    torch = pytest.importorskip("torch")

    def net(lib):
        Affine, Multi, Empty = make_classes(lib)

        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = Affine(2)
                self.blocks = lib.nn.Sequential(Affine(2), Multi(), lib.nn.Sequential(Empty(), Affine(1, False)))
                self.heads = lib.nn.ModuleList([Affine(2), Affine(2), Multi()])
                self.nothing = Empty()
                self.none = None

        return Net()

    assert repr(net(gradlab)) == repr(net(torch))
    assert repr(make_classes(gradlab)[2]()) == "Empty()"


def test_repr_with_layers_matches_torch():
    torch = pytest.importorskip("torch")

    def net(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(1, 6, 5, padding=2), lib.nn.ReLU(),
                                 lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.Linear(3, 2, bias=False)))

    assert repr(net(gradlab)) == repr(net(torch))
    assert list(net(gradlab).state_dict()) == list(net(torch).state_dict())
