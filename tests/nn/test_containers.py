"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict, side by side with torch."""
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab
from gradlab import nn


def tagged(lib):
    """``Tag(i)``: a module that adds i to its input and prints as ``Tag(i=...)`` (same in both libs)."""
    class Tag(lib.nn.Module):
        def __init__(self, i):
            super().__init__()
            self.i = i
            self.scale = lib.nn.Parameter(lib.ones(1) * (i + 1))

        def extra_repr(self):
            return f"i={self.i}"

        def forward(self, x):
            return x * self.scale + self.i

    return Tag


def tags_of(container):
    return [m.i for m in container]


# ---- Sequential --------------------------------------------------------------------------------------
def test_sequential_runs_children_in_order():
    Tag = tagged(gradlab)
    seq = nn.Sequential(Tag(0), Tag(1), Tag(2))
    x = gradlab.tensor([1.0])
    # ((1*1 + 0)*2 + 1)*3 + 2 = 11
    assert seq(x).tolist() == [11.0]
    assert nn.Sequential()(x) is x


def test_sequential_from_ordered_dict_keeps_names():
    Tag = tagged(gradlab)
    seq = nn.Sequential(OrderedDict([("first", Tag(0)), ("second", Tag(1))]))
    assert list(seq._modules) == ["first", "second"]
    assert seq.first is seq[0] and seq[-1] is seq.second
    assert list(seq.state_dict()) == ["first.scale", "second.scale"]


def test_sequential_indexing():
    Tag = tagged(gradlab)
    seq = nn.Sequential(*[Tag(i) for i in range(5)])
    assert seq[0].i == 0 and seq[-1].i == 4 and seq[-5].i == 0
    for bad in (5, -6):
        with pytest.raises(IndexError, match=f"index {bad} is out of range"):
            seq[bad]
    sub = seq[1:4]
    assert type(sub) is nn.Sequential and tags_of(sub) == [1, 2, 3]
    assert list(sub._modules) == ["1", "2", "3"]  # slicing keeps the names, as torch
    assert tags_of(seq[::-2]) == [4, 2, 0]
    assert len(seq) == 5 and tags_of(iter(seq)) == [0, 1, 2, 3, 4]
    seq[1] = Tag(10)
    assert seq[1].i == 10 and list(seq._modules) == ["0", "1", "2", "3", "4"]


def test_sequential_mutation():
    Tag = tagged(gradlab)
    seq = nn.Sequential(Tag(0), Tag(1), Tag(2))
    del seq[0]
    assert tags_of(seq) == [1, 2] and list(seq._modules) == ["0", "1"]  # renumbered
    assert seq.append(Tag(3)) is seq and tags_of(seq) == [1, 2, 3]
    seq.insert(0, Tag(9))
    seq.insert(-1, Tag(8))
    assert tags_of(seq) == [9, 1, 2, 8, 3]
    with pytest.raises(IndexError, match="Index out of range: 9"):
        seq.insert(9, Tag(0))
    seq.extend([Tag(4), Tag(5)])
    assert tags_of(seq) == [9, 1, 2, 8, 3, 4, 5]
    assert seq.pop(1).i == 1 and tags_of(seq) == [9, 2, 8, 3, 4, 5]
    del seq[1:3]
    assert tags_of(seq) == [9, 3, 4, 5] and list(seq._modules) == ["0", "1", "2", "3"]
    seq.add_module("block 0", Tag(7))
    assert tags_of(seq) == [9, 3, 4, 5, 7]


def test_sequential_arithmetic():
    Tag = tagged(gradlab)
    a, b = nn.Sequential(Tag(0)), nn.Sequential(Tag(1), Tag(2))
    assert tags_of(a + b) == [0, 1, 2]
    twice = b * 2
    assert tags_of(twice) == [1, 2, 1, 2] and twice[0] is twice[2]  # shared, not copied
    assert tags_of(2 * b) == [1, 2, 1, 2]
    a += b
    assert tags_of(a) == [0, 1, 2]
    b *= 3
    assert tags_of(b) == [1, 2] * 3
    with pytest.raises(ValueError, match="add operator supports only objects of Sequential class"):
        a + [Tag(3)]
    with pytest.raises(ValueError, match="Non-positive multiplication factor 0"):
        a * 0
    with pytest.raises(TypeError, match="unsupported operand"):
        a * 1.5


def test_sequential_repr_with_any_name_matches_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        Tag = tagged(lib)
        seq = lib.nn.Sequential(Tag(0), lib.nn.Sequential(Tag(1), Tag(1)))
        seq.add_module("block 0", Tag(2))
        seq.append(lib.nn.Sequential())
        return seq

    ours, theirs = build(gradlab), build(torch)
    assert repr(ours) == repr(theirs)
    assert "(block 0): Tag(i=2)" in repr(ours)
    assert repr(ours[1:]) == repr(theirs[1:])


@given(st.lists(st.integers(0, 3), max_size=6), st.data())
def test_sequential_list_operations_match_torch(initial, data):
    """Random sequences of index/insert/delete/append operations leave the same children as in torch."""
    torch = pytest.importorskip("torch")
    seqs = {lib: lib.nn.Sequential(*[tagged(lib)(i) for i in initial]) for lib in (gradlab, torch)}
    for _ in range(data.draw(st.integers(0, 5))):
        n = len(seqs[gradlab])
        op = data.draw(st.sampled_from(["append", "insert", "del", "delslice", "set"] if n else ["append"]))
        i = data.draw(st.integers(-n, n - 1)) if n else 0
        value = data.draw(st.integers(0, 9))
        for lib, seq in seqs.items():
            Tag = tagged(lib)
            if op == "append":
                seq.append(Tag(value))
            elif op == "insert":
                seq.insert(i, Tag(value))
            elif op == "del":
                del seq[i]
            elif op == "delslice":
                del seq[i::2]
            else:
                seq[i] = Tag(value)
    assert tags_of(seqs[gradlab]) == tags_of(seqs[torch])
    assert list(seqs[gradlab]._modules) == list(seqs[torch]._modules)
    assert repr(seqs[gradlab]) == repr(seqs[torch])


# ---- ModuleList ----------------------------------------------------------------------------------------
def test_module_list_operations():
    Tag = tagged(gradlab)
    ml = nn.ModuleList([Tag(0), Tag(1)])
    assert len(ml) == 2 and ml[-1].i == 1
    assert ml.append(Tag(2)) is ml
    assert ml.extend([Tag(3)]) is ml
    ml.insert(1, Tag(9))
    assert tags_of(ml) == [0, 9, 1, 2, 3]
    sub = ml[1:3]
    assert type(sub) is nn.ModuleList and tags_of(sub) == [9, 1]
    combined = ml + nn.ModuleList([Tag(4)])
    assert tags_of(combined) == [0, 9, 1, 2, 3, 4] and list(combined._modules)[-1] == "5"
    ml += [Tag(5)]
    assert tags_of(ml)[-1] == 5
    assert ml.pop(0).i == 0 and list(ml._modules) == [str(i) for i in range(len(ml))]
    del ml[::2]
    assert tags_of(ml) == [1, 3]
    ml[-1] = Tag(7)
    assert tags_of(ml) == [1, 7]
    with pytest.raises(IndexError, match="index 2 is out of range"):
        ml[2]
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable, but got Tag"):
        ml.extend(Tag(0))
    assert [n for n, _ in ml.named_parameters()] == ["0.scale", "1.scale"]
    with pytest.raises(NotImplementedError):
        ml(gradlab.ones(1))


def test_module_list_repr_compresses_repeats_like_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        Tag = tagged(lib)
        inner = lib.nn.ModuleList([Tag(1), Tag(1)])
        return lib.nn.ModuleList([Tag(0), Tag(0), Tag(0), Tag(1), inner, lib.nn.ModuleList()])

    assert repr(build(gradlab)) == repr(build(torch))
    assert "(0-2): 3 x Tag(i=0)" in repr(build(gradlab))


# ---- ModuleDict ----------------------------------------------------------------------------------------
def test_module_dict_operations():
    Tag = tagged(gradlab)
    md = nn.ModuleDict({"b": Tag(1), "a": Tag(0)})
    assert list(md.keys()) == ["b", "a"]  # insertion order, not sorted
    assert "a" in md and "z" not in md and len(md) == 2
    md["c"] = Tag(2)
    md.update([("d", Tag(3))])
    md.update(nn.ModuleDict({"e": Tag(4)}))
    assert list(md) == ["b", "a", "c", "d", "e"]
    assert [m.i for m in md.values()] == [1, 0, 2, 3, 4]
    assert [k for k, _ in md.items()] == list(md.keys())
    assert md.pop("a").i == 0 and "a" not in md
    del md["b"]
    assert list(md) == ["c", "d", "e"]
    assert [n for n, _ in md.named_parameters()] == ["c.scale", "d.scale", "e.scale"]
    with pytest.raises(ValueError, match="ModuleDict update sequence element #0 has length 3; 2 is required"):
        md.update([("x", Tag(0), 1)])
    with pytest.raises(TypeError, match="ModuleDict update sequence element #0 should be Iterable"):
        md.update([3])
    with pytest.raises(TypeError, match="should be called with an iterable of key/value pairs, but got int"):
        md.update(3)
    md.clear()
    assert len(md) == 0


def test_module_dict_repr_matches_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        Tag = tagged(lib)
        return lib.nn.ModuleDict({"conv": Tag(0), "pool": lib.nn.Sequential(Tag(1))})

    assert repr(build(gradlab)) == repr(build(torch))


# ---- ParameterList / ParameterDict ----------------------------------------------------------------------
def test_parameter_list():
    pl = nn.ParameterList([nn.Parameter(gradlab.ones(2)), gradlab.zeros(3)])
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) for p in pl)  # tensors are wrapped
    pl.append(gradlab.ones(1))
    pl.extend([gradlab.ones(4)])
    assert [p.shape[0] for p in pl] == [2, 3, 1, 4]
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2", "3"]
    assert [p.shape[0] for p in pl[1:3]] == [3, 1]
    assert pl[-1] is pl[3]
    with pytest.raises(TypeError, match="ParameterList.extend should be called with an iterable"):
        pl.extend(gradlab.ones(2))
    with pytest.raises(RuntimeError, match="ParameterList should not be called."):
        pl()
    loss = sum((p * p).sum() for p in pl)
    loss.backward()
    assert pl[0].grad.tolist() == [2.0, 2.0]


def test_parameter_dict():
    pd = nn.ParameterDict({"b": gradlab.ones(2), "a": nn.Parameter(gradlab.zeros(1))})
    assert list(pd) == ["a", "b"]  # a plain dict is added in sorted order, as torch
    pd["c"] = gradlab.ones(3)
    assert isinstance(pd["c"], nn.Parameter) and "c" in pd and len(pd) == 3
    assert pd.get("z") is None and pd.setdefault("z", gradlab.ones(1)).shape[0] == 1
    assert [n for n, _ in pd.named_parameters()] == ["a", "b", "c", "z"]
    assert pd.pop("z").shape[0] == 1
    key, value = pd.popitem()
    assert key == "c" and value.shape[0] == 3
    merged = pd | nn.ParameterDict(OrderedDict(y=gradlab.ones(1)))
    assert list(merged) == ["a", "b", "y"]
    assert list(pd.copy()) == ["a", "b"] and list(reversed(pd)) == ["b", "a"]
    with pytest.raises(TypeError, match="not a string"):
        pd[0]
    pd.clear()
    assert len(pd) == 0


def test_parameter_containers_repr_match_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        m = lib.nn.Module()
        m.plist = lib.nn.ParameterList([lib.ones(2, 3), lib.nn.Parameter(lib.zeros(4), requires_grad=False)])
        m.pdict = lib.nn.ParameterDict({"w": lib.ones(1, 2), "b": lib.zeros(2, dtype=lib.float64)})
        return m

    assert repr(build(gradlab)) == repr(build(torch)).replace("torch.", "gradlab.")
    assert list(build(gradlab).state_dict()) == list(build(torch).state_dict())


def test_container_gradients_flow_to_every_member():
    Tag = tagged(gradlab)
    ml = nn.ModuleList([Tag(0), Tag(1)])
    x = gradlab.tensor([2.0])
    (ml[0](x) + ml[1](x)).sum().backward()
    np.testing.assert_allclose([p.grad.item() for p in ml.parameters()], [2.0, 2.0])
