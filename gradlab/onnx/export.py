"""``gradlab.onnx.export``: run the model once and write down every op it calls, as an ONNX graph.

Tracing, in three steps:

1. For the length of one forward pass, every name an op is reached by is
   wrapped (Tensor methods and operators, ``gradlab.*`` functions, the op's
   own module, and ``gradlab.nn.functional``), and so is ``Module.__call__``,
   to know which module is running.  All are restored in a ``finally``.
2. Each wrapped call that is not nested in another one (``F.conv2d`` calls the
   conv op: only ``F.conv2d`` is recorded) and that has a traced tensor among
   its inputs is handed to its converter in ``ops.py``, which adds ONNX nodes.
   A call on constants only (parameters, numbers) is not recorded: its result
   is a constant, written into the file as it is.
3. Tensors are known by ``id`` (the tracer keeps each one alive, so no id is
   reused); parameters and buffers become initializers named by their module
   path, ``"features.0.weight"``.

A tensor that reaches a converter without having come from a recorded call
was made by something the tracer could not see; the example input requires
grad, so such a tensor has a ``grad_fn``, and the error names it.
"""
import contextlib
import inspect
import sys

import numpy as np

from .. import _functional
from .._tensor import Tensor
from ..autograd import enable_grad
from ..nn import functional as F
from ..nn.modules.module import Module
from ..ops import registry
from . import ops as _converters

__all__ = ["export", "OnnxExportError"]


class OnnxExportError(RuntimeError):
    """A model (or an op's arguments) that ``gradlab.onnx.export`` cannot write as ONNX."""


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("gradlab.onnx.export needs the 'onnx' package: pip install onnx "
                          "(or pip install -e '.[interop]')") from None
    return onnx


def export(model, example_input, path, input_names=None, output_names=None, dynamic_batch=True, opset=17):
    """Write ``model`` as an ONNX file at ``path`` by tracing one forward pass on ``example_input``.

    ``example_input`` is a tensor, or a tuple of tensors for a model of several
    inputs.  The model is traced in eval mode (BatchNorm uses its running
    statistics, Dropout is the identity) and put back in the mode it had.
    ``dynamic_batch`` names the first dimension of each input ``"batch"`` (the
    outputs' shapes follow by ONNX shape inference), so the file runs at any
    batch size.
    Returns the ``onnx.ModelProto`` that was written.
    """
    onnx = _onnx()
    if opset < 17:
        raise ValueError(f"gradlab.onnx.export: opset must be 17 or later, got {opset}")
    inputs = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"gradlab.onnx.export: example input {i} must be a Tensor, got {type(x).__name__}")
    input_names = _names(input_names, len(inputs), "input")
    tracer = _Tracer(model, opset)
    leaves = []
    for x, name in zip(inputs, input_names):
        # a copy that requires grad, so that whatever is computed from it has a grad_fn, seen by the tracer or
        # not; a clone, not the leaf itself, so that forward may change it in place
        traced = Tensor._wrap(x._data.copy(), requires_grad=x.is_floating_point())
        traced = traced.clone()
        tracer.add_input(traced, name)
        leaves.append(traced)

    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with enable_grad(), _patched(tracer):
            result = model(*leaves)
    finally:
        for m, training in modes:
            m.training = training

    outputs = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    for i, y in enumerate(outputs):
        if not isinstance(y, Tensor):
            raise OnnxExportError(f"gradlab.onnx.export: the model's output {i} is a {type(y).__name__}; "
                                  "only tensors (or a tuple of tensors) can be exported")
    output_names = _names(output_names, len(outputs), "output")
    graph = tracer.finish(outputs, output_names, dynamic_batch)
    model_proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                         producer_name="gradlab")
    model_proto = onnx.shape_inference.infer_shapes(model_proto)  # every value's shape, for viewers and checks
    onnx.save(model_proto, str(path))
    return model_proto


def _names(names, count, stem):
    if names is None:
        return [stem] if count == 1 else [f"{stem}_{i}" for i in range(count)]
    names = list(names)
    if len(names) != count:
        raise ValueError(f"gradlab.onnx.export: {count} {stem}s but {len(names)} {stem}_names: {names}")
    return names


class _Tracer:
    """The graph being built: the converters in ops.py call ``value``, ``node`` and ``constant``."""

    def __init__(self, model, opset):
        self.onnx = _onnx()
        self.opset = opset
        self.paths = {id(m): name for name, m in model.named_modules()}
        self.params = {id(t): name for name, t in list(model.named_parameters()) + list(model.named_buffers())}
        self.stack = []          # module paths of the modules now running
        self.depth = 0           # > 0 inside a wrapped call: nested calls are its own business
        self.call = None         # what is being converted, for error messages
        self.names = {}          # id(tensor) -> ONNX value name
        self.traced = set()      # ids of tensors computed from the inputs by recorded calls
        self.constants = set()   # ids of tensors computed from constants only
        self.keep = []           # every tensor seen, so that no id is reused
        self.inputs, self.nodes, self.initializers = [], [], []
        self.used = set()
        self.count = 0

    # ---- names ----
    def fresh(self, stem):
        self.count += 1
        name = f"{stem}_{self.count}"
        while name in self.used:
            self.count += 1
            name = f"{stem}_{self.count}"
        self.used.add(name)
        return name

    def add_input(self, x, name):
        self.names[id(x)] = name
        self.traced.add(id(x))
        self.keep.append(x)
        self.used.add(name)
        self.inputs.append((x, name))

    def where(self):
        if not self.stack:
            return "outside any module"
        path, module = self.stack[-1]
        return f"in module '{path or '<root>'}' ({type(module).__name__})"

    def refuse(self, why):
        what = f"op '{self.call}' {self.where()}" if self.call else "the model's output"
        return OnnxExportError(f"gradlab.onnx.export: cannot export {what}: {why}")

    # ---- what converters use ----
    def is_traced(self, x):
        """Whether ``x`` depends on the inputs: made by a recorded call, or by one the tracer did not see."""
        if not isinstance(x, Tensor):
            return False
        key = id(x)
        return key in self.traced or (x.grad_fn is not None and key not in self.constants
                                      and key not in self.names and key not in self.params)

    def value(self, x, like=None):
        """The ONNX name of ``x``: a traced tensor, a parameter, a constant tensor, or a number (``like``'s dtype)."""
        if not isinstance(x, Tensor):
            dtype = like._data.dtype if isinstance(like, Tensor) else np.float32
            return self.constant(np.asarray(x, dtype=dtype), "const")
        name = self.names.get(id(x))
        if name is not None:
            return name
        name = self.params.get(id(x))
        if name is None:
            if self.is_traced(x):  # computed from the inputs, but by nothing the tracer saw
                raise self.refuse(f"one of its inputs was made by {x.grad_fn.name()}, which the tracer did not "
                                  "see (a function imported by name before export, or an op on ._data?)")
            name = self.fresh("const")
        self.used.add(name)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(x._data), name))
        self.names[id(x)] = name
        self.keep.append(x)
        return name

    def constant(self, array, stem="const"):
        name = self.fresh(stem)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op_type, inputs, out=None, **attrs):
        """Add a node; its output is ``out``'s name from now on (``out`` a Tensor), or a new intermediate name."""
        if out is not None and not isinstance(out, Tensor):
            raise self.refuse(f"it returned a {type(out).__name__}, not one tensor")
        result = self.fresh(op_type)
        path = self.stack[-1][0] if self.stack else ""
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [result],
                                                     name=f"{path}/{result}" if path else result, **attrs))
        if out is not None:
            self.names[id(out)] = result
            self.traced.add(id(out))
            self.keep.append(out)
        return result

    # ---- recording ----
    def record(self, key, signature, args, kwargs, out):
        self.call = key
        if not any(self.is_traced(t) for t in _tensors(args, kwargs)):
            # constants in (parameters, numbers), a constant out: written as a value if a traced op uses it
            for t in (out if isinstance(out, (tuple, list)) else (out,)):
                if isinstance(t, Tensor):
                    self.constants.add(id(t))
                    self.keep.append(t)
            return
        convert = _converters.CONVERTERS.get(key)
        if convert is None:
            raise self.refuse("it has no ONNX converter (gradlab.onnx exports: "
                              f"{', '.join(sorted(_converters.CONVERTERS))})")
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as e:
            raise self.refuse(f"its arguments do not fit {signature}: {e}") from None
        convert(self, out, *bound.args, **bound.kwargs)
        self.keep.append(out)

    def finish(self, outputs, output_names, dynamic_batch):
        self.call = None
        helper, onnx = self.onnx.helper, self.onnx
        renames, extra = {}, []
        for y, public in zip(outputs, output_names):
            name = self.value(y)
            if id(y) not in self.traced or name in renames or any(name == n for _, n in self.inputs):
                extra.append(helper.make_node("Identity", [name], [public], name=public))
            else:
                renames[name] = public
        for node in self.nodes:
            for field in (node.input, node.output):
                for i, n in enumerate(field):
                    if n in renames:
                        field[i] = renames[n]

        def info(t, name, shape):
            return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(t._data.dtype), shape)
        # a free batch: dim 0 of each input is "batch", and the outputs' shapes are left to shape inference,
        # since an output's dim 0 may be the batch, a multiple of it, or no batch at all
        inputs = [info(x, n, ["batch"] + list(x.shape[1:]) if dynamic_batch and x.ndim else list(x.shape))
                  for x, n in self.inputs]
        outputs = [info(y, n, None if dynamic_batch else list(y.shape)) for y, n in zip(outputs, output_names)]
        return helper.make_graph(self.nodes + extra, "gradlab", inputs, outputs, self.initializers)


def _tensors(args, kwargs):
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from (t for t in a if isinstance(t, Tensor))


# ---- the temporary patches -------------------------------------------------------------------------

def _wrap(tracer, fn, key, signature, reflected=False, renames=None):
    def traced(*args, **kwargs):
        if tracer.depth:
            return fn(*args, **kwargs)
        tracer.depth += 1
        try:
            out = fn(*args, **kwargs)
        finally:
            tracer.depth -= 1
        rargs = (args[1], args[0]) + args[2:] if reflected else args
        rkwargs = kwargs
        if renames is not None:  # a gradlab.* function: PyTorch's keywords
            if kwargs.get("out") is not None:
                tracer.call = key
                raise tracer.refuse("out= cannot be exported")
            rkwargs = {renames.get(k, k): v for k, v in kwargs.items() if k != "out"}
        tracer.record(key, signature, rargs, rkwargs, out)
        return out
    traced.__name__ = getattr(fn, "__name__", key)
    return traced


def _call_module(tracer, call):
    def traced_call(module, *args, **kwargs):
        tracer.stack.append((tracer.paths.get(id(module), type(module).__name__), module))
        try:
            return call(module, *args, **kwargs)
        finally:
            tracer.stack.pop()
    return traced_call


def _patches(tracer):
    """``[(owner, name, wrapped)]``: every name by which a forward pass reaches an op."""
    gradlab = sys.modules["gradlab"]
    found = []
    for info in registry.OPS:
        signature = inspect.signature(info.fn)
        key = info.name
        for name in info.methods + info.inplace:
            found.append((Tensor, name, _wrap(tracer, getattr(Tensor, name), key, signature)))
        for name in info.operators:
            reflected = info.reflect and name.startswith("__r")
            found.append((Tensor, name, _wrap(tracer, getattr(Tensor, name), key, signature, reflected)))
        for name in info.props:
            getter = _wrap(tracer, info.fn, key, signature)
            found.append((Tensor, name, property(getter)))
        params = list(signature.parameters)
        renames = {"input": params[0]} if params and params[0] in ("a", "x") else {}
        if len(params) > 1 and params[1] == "b":
            renames["other"] = "b"
        for name in info.functions:
            fn = getattr(gradlab, name, None)
            if fn is not None and fn is getattr(_functional, name, None):
                found.append((gradlab, name, _wrap(tracer, fn, key, signature, renames=renames)))
        home = sys.modules[info.fn.__module__]
        if getattr(home, info.fn.__name__, None) is info.fn:
            found.append((home, info.fn.__name__, _wrap(tracer, info.fn, key, signature)))
    for name in F.__all__:
        fn = getattr(F, name)
        if callable(fn):
            found.append((F, name, _wrap(tracer, fn, "F." + name, inspect.signature(fn))))
    found.append((Module, "__call__", _call_module(tracer, Module.__call__)))
    return found


@contextlib.contextmanager
def _patched(tracer):
    saved = []  # (owner, name, what the owner itself held: a Tensor method may be inherited, then it is _MISSING)
    try:
        for owner, name, wrapped in _patches(tracer):
            saved.append((owner, name, vars(owner).get(name, _MISSING)))
            setattr(owner, name, wrapped)
        yield
    finally:
        for owner, name, original in reversed(saved):
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


_MISSING = object()
