"""``Module``: the base class of every layer and model (as ``torch.nn.Module``).

A module keeps three ordered dicts, filled by plain attribute assignment:

``_parameters``  the learnable ``Parameter``s it owns directly
``_buffers``     tensors that are state but not learned (BatchNorm's running mean)
``_modules``     its sub-modules, in the order they were assigned

Everything else follows from walking these dicts: ``parameters()`` visits
the tree of modules, ``state_dict()`` names every entry by its dotted path
(``features.0.weight``), ``to(float64)`` recasts every entry, ``repr`` prints
the tree.  Calling a module runs its hooks around ``forward``.

``Module``'s methods are written in three files: this one (the dicts, the
tree, modes, dtypes, calling ``forward`` with its hooks), hooks.py (registering
hooks) and state_dict.py (``state_dict`` and ``load_state_dict``).
"""
import itertools
import warnings
from collections import OrderedDict

from ... import _dtype
from ..._tensor import Tensor, check_device, zeros_like
from ...autograd import grad_mode
from ...autograd.graph import module_scope
from ...autograd.record import new_node
from ...utils.hooks import RemovableHandle
from ..parameter import Buffer, Parameter
from .hooks import (_ModuleHooks, _global_backward_hooks, _global_backward_pre_hooks, _global_forward_hooks,
                    _global_forward_hooks_always_called, _global_forward_pre_hooks,
                    register_module_forward_hook, register_module_forward_pre_hook,
                    register_module_full_backward_hook, register_module_full_backward_pre_hook)
# _EXTRA_STATE_KEY and _IncompatibleKeys stay importable from here, as in torch
from .state_dict import _EXTRA_STATE_KEY, _IncompatibleKeys, _ModuleStateDict  # noqa: F401

__all__ = ["Module", "register_module_forward_pre_hook", "register_module_forward_hook",
           "register_module_full_backward_hook", "register_module_full_backward_pre_hook"]


def _typename(obj):
    if isinstance(obj, Tensor):
        return f"gradlab.{type(obj).__name__}"
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"


def _addindent(text, spaces):
    """Indent every line but the first (a child's repr inside its parent's)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _forward_unimplemented(self, *input):
    raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')


def module_path(scope):
    """The dotted path of the innermost module of ``scope``, a chain ``(outer_scope, module)``: ``LeNet5.features.0``.

    The outermost module is named by its class, each inner one by its name
    inside the module that called it (by its class again if that module does
    not hold it, e.g. a module passed in as an argument).
    """
    chain = []
    while scope is not None:
        scope, module = scope
        chain.append(module)
    chain.reverse()
    path = type(chain[0]).__name__
    for caller, module in zip(chain, chain[1:]):
        name = _name_inside(caller, module)
        path = type(module).__name__ if name is None else f"{path}.{name}"
    return path


def _name_inside(owner, module):
    for name, child in owner._modules.items():
        if child is module:
            return name
    for name, child in owner.named_modules():
        if child is module and name:
            return name
    return None


def _name_the_layer(error, scope, args):
    """Add to ``error`` (once, at the innermost module) where it happened: the module's path and repr, input shapes.

    The exception keeps its type and message; the place is a note (Python 3.11+)
    or, on older Pythons, a second line of its message.
    """
    if getattr(error, "_gradlab_layer", False):
        return  # an inner module already said where
    try:
        error._gradlab_layer = True
        module = scope[1]
        text = repr(module)
        if "\n" in text:  # a container: its class is enough, its children are in the path
            text = type(module).__name__
        shapes = [str(tuple(a.shape)) for a in args if isinstance(a, Tensor)]
        note = f"in {module_path(scope)} ({text})"
        if shapes:
            note += f", input{'s' if len(shapes) > 1 else ''} {', '.join(shapes)}"
    except Exception:  # an exception that takes no attributes, or a repr that fails: say nothing
        return
    if hasattr(error, "add_note"):
        error.add_note(note)
    elif len(error.args) == 1 and isinstance(error.args[0], str):
        error.args = (f"{error.args[0]}\n{note}",)


class Module(_ModuleHooks, _ModuleStateDict):
    """Base class for all neural network modules.

    Subclasses call ``super().__init__()`` first, assign their parameters and
    sub-modules as attributes, and define ``forward``::

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                return self.fc(x).relu()
    """

    dump_patches = False
    _version = 1
    call_super_init = False
    forward = _forward_unimplemented

    def __init__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                            f"'{next(iter(kwargs))}'")
        if args:
            raise TypeError(f"{type(self).__name__}.__init__() takes 1 positional argument but "
                            f"{len(args) + 1} were given")
        # object.__setattr__: our own __setattr__ needs these dicts to exist already
        setattr_ = super().__setattr__
        setattr_("training", True)
        setattr_("_parameters", OrderedDict())
        setattr_("_buffers", OrderedDict())
        setattr_("_non_persistent_buffers_set", set())
        setattr_("_modules", OrderedDict())
        setattr_("_forward_pre_hooks", OrderedDict())
        setattr_("_forward_pre_hooks_with_kwargs", {})
        setattr_("_forward_hooks", OrderedDict())
        setattr_("_forward_hooks_with_kwargs", {})
        setattr_("_forward_hooks_always_called", {})
        setattr_("_backward_pre_hooks", OrderedDict())
        setattr_("_backward_hooks", OrderedDict())
        setattr_("_is_full_backward_hook", None)
        setattr_("_state_dict_hooks", OrderedDict())
        setattr_("_state_dict_pre_hooks", OrderedDict())
        setattr_("_load_state_dict_pre_hooks", OrderedDict())
        setattr_("_load_state_dict_post_hooks", OrderedDict())

    # ---- registration ---------------------------------------------------------------------------
    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter, or None for an absent one such as ``bias=False``) as ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name(name, "parameter", self._parameters)
        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(gradlab.nn.Parameter or None required)")
        elif param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                             f"created explicitly. To express '{name}' as a function of another Tensor, compute "
                             "the value in the forward() method.")
        else:
            self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add ``tensor`` as the buffer ``name``: module state that is saved but not learned.

        ``persistent=False`` keeps it out of ``state_dict()``.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(gradlab Tensor or None required)")
        if isinstance(tensor, Buffer):
            tensor = tensor.detach().requires_grad_(tensor.requires_grad)  # store the plain Tensor
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add ``module`` as the child ``name`` (any string without a dot, e.g. ``'block 0'``)."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f"module name can't contain \".\", got: {name}")
        if name == "":
            raise KeyError("module name can't be empty string \"\"")
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name, kind, own):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f"{kind} name can't contain \".\"")
        if name == "":
            raise KeyError(f"{kind} name can't be empty string \"\"")
        if hasattr(self, name) and name not in own:
            raise KeyError(f"attribute '{name}' already exists")

    def __setattr__(self, name, value):
        """Route Parameters, Modules and buffers into their dicts; anything else is a plain attribute."""
        params = self.__dict__.get("_parameters")
        modules = self.__dict__.get("_modules")
        buffers = self.__dict__.get("_buffers")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, self.__dict__, buffers, modules)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(gradlab.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, self.__dict__, params, buffers)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                "(gradlab.nn.Module or None expected)")
            modules[name] = value
        elif isinstance(value, Buffer) or (buffers is not None and name in buffers):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                "(gradlab.nn.Buffer, gradlab.Tensor or None expected)")
            if isinstance(value, Buffer):
                persistent = value.persistent
                self._forget(name, self.__dict__, params, modules)
            else:
                persistent = name not in self._non_persistent_buffers_set
            self.register_buffer(name, value, persistent)
        else:
            super().__setattr__(name, value)

    def _forget(self, name, *dicts):
        for d in dicts:
            if d is not None and name in d:
                del d[name]
        self.__dict__.get("_non_persistent_buffers_set", set()).discard(name)

    def __getattr__(self, name):
        # only called when normal lookup fails: look in the three dicts
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            super().__delattr__(name)

    def __dir__(self):
        keys = (dir(type(self)) + list(self.__dict__) + list(self._parameters) + list(self._modules)
                + list(self._buffers))
        return sorted(key for key in keys if not key[0].isdigit())

    def get_submodule(self, target):
        """The sub-module at dotted path ``target`` (``"net.0"``); ``""`` is the module itself."""
        if target == "":
            return self
        module = self
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(module._get_name() + " has no attribute `" + item + "`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return module

    def _owner_of(self, target):
        """The module that holds dotted path ``target`` (``"net.0.weight"``), and the last name."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(module._get_name() + " has no attribute `" + name + "`")
        return module, name

    def get_parameter(self, target):
        """The Parameter at dotted path ``target`` (``"net.0.weight"``)."""
        module, name = self._owner_of(target)
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target):
        """The buffer at dotted path ``target`` (``"bn.running_mean"``)."""
        module, name = self._owner_of(target)
        if name not in module._buffers:
            raise AttributeError("`" + name + "` is not a buffer")
        return getattr(module, name)

    # ---- walking the tree -----------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yield ``(dotted_name, module)`` for this module and every descendant, each once."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """Yield ``(name, module)`` for the direct sub-modules, each once."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, members_of, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(dotted_name, tensor)`` over ``members_of(module)`` of the tree; a shared tensor once."""
        seen = set()  # ids: a Tensor's == is elementwise, so sets of tensors compare by id
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in members_of(module):
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(dotted_name, parameter)``, e.g. ``("0.weight", ...)``; a shared parameter once."""
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def apply(self, fn):
        """Call ``fn(m)`` on every sub-module (children first), then on this module; return self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients --------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) here and below."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset every parameter's ``.grad``: to None (the default) or to zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.detach_()
                param.grad.zero_()

    # ---- dtype and device -----------------------------------------------------------------------
    def _apply(self, fn, recurse=True):
        """Replace every parameter's values (in place: the Parameter object stays) and every buffer by fn(t)."""
        if recurse:
            for module in self.children():
                module._apply(fn)
        with grad_mode.no_grad():
            for param in self._parameters.values():
                if param is None:
                    continue
                param.data = fn(param)
                if param.grad is not None:
                    param.grad.data = fn(param.grad)
            for name, buf in self._buffers.items():
                if buf is not None:
                    self._buffers[name] = fn(buf)
        return self

    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to("cpu")``, ``to(device, dtype)``, ``to(tensor)``: cast floating-point entries."""
        device, dtype = _parse_to(args, kwargs)
        check_device(device)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
                            f"dtype={dtype}")
        if dtype is None:
            return self
        return self._apply(lambda t: t.to(dtype) if t.is_floating_point() else t)

    def cpu(self):
        return self

    def cuda(self, device=None):
        check_device("cuda" if device is None else f"cuda:{device}" if isinstance(device, int) else device)
        return self

    def type(self, dst_type):
        """Cast every parameter and buffer (floating or not) to ``dst_type``."""
        return self._apply(lambda t: t.type(dst_type))

    def float(self):
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self):
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self):
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def share_memory(self):
        return self

    # ---- calling: forward and its hooks ---------------------------------------------------------
    def __call__(self, *args, **kwargs):
        # While forward runs, this module is the innermost one: the ops it records
        # keep that (drawings box them by module) and an error names it.
        outer = module_scope[0]
        module_scope[0] = scope = (outer, self)
        try:
            if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                    or self._backward_pre_hooks or _global_forward_pre_hooks or _global_forward_hooks
                    or _global_backward_hooks or _global_backward_pre_hooks):
                return self.forward(*args, **kwargs)  # the common, fast path
            return self._call_with_hooks(args, kwargs)
        except Exception as error:
            _name_the_layer(error, scope, args)
            raise
        finally:
            module_scope[0] = outer

    _call_impl = __call__  # torch's name for it, which some code calls directly

    def _call_with_hooks(self, args, kwargs):
        state = {"result": None, "called": set()}
        try:
            return self._run_hooks_and_forward(args, kwargs, state)
        except Exception:
            self._run_always_called_hooks(args, kwargs, state)
            raise

    def _run_hooks_and_forward(self, args, kwargs, state):
        for hook_id, hook in itertools.chain(_global_forward_pre_hooks.items(), self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                new = hook(self, args, kwargs)
                if new is not None:
                    if not (isinstance(new, tuple) and len(new) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, "
                                           f"new_kwargs), but got {new}.")
                    args, kwargs = new
            else:
                new = hook(self, args)
                if new is not None:
                    args = new if isinstance(new, tuple) else (new,)

        backward_hooks = list(_global_backward_hooks.values()) + list(self._backward_hooks.values())
        backward_pre_hooks = list(_global_backward_pre_hooks.values()) + list(self._backward_pre_hooks.values())
        bw_hook = None
        if backward_hooks or backward_pre_hooks:
            bw_hook = BackwardHook(self, backward_hooks, backward_pre_hooks)
            args = bw_hook.setup_input_hook(args)

        result = self.forward(*args, **kwargs)
        state["result"] = result
        for hook_id, hook in itertools.chain(_global_forward_hooks.items(), self._forward_hooks.items()):
            if hook_id in self._forward_hooks_always_called or hook_id in _global_forward_hooks_always_called:
                state["called"].add(hook_id)
            if hook_id in self._forward_hooks_with_kwargs:
                new = hook(self, args, kwargs, result)
            else:
                new = hook(self, args, result)
            if new is not None:
                result = state["result"] = new

        if bw_hook is not None:
            if not isinstance(result, (Tensor, tuple)):
                warnings.warn("For backward hooks to be called, module output should be a Tensor or a tuple of "
                              f"Tensors but received {type(result)}")
            result = bw_hook.setup_output_hook(result)
        return result

    def _run_always_called_hooks(self, args, kwargs, state):
        """After forward raised: run the ``always_call=True`` forward hooks that did not run yet."""
        hooks = itertools.chain(_global_forward_hooks.items(), self._forward_hooks.items())
        for hook_id, hook in hooks:
            always = hook_id in self._forward_hooks_always_called or hook_id in _global_forward_hooks_always_called
            if not always or hook_id in state["called"]:
                continue
            try:
                if hook_id in self._forward_hooks_with_kwargs:
                    new = hook(self, args, kwargs, state["result"])
                else:
                    new = hook(self, args, state["result"])
                if new is not None:
                    state["result"] = new
            except Exception as e:
                warnings.warn("forward hook with ``always_call=True`` raised an exception that was silenced as "
                              f"another error was raised in forward: {e}")

    # ---- printing -------------------------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The text between a module's parentheses (``in_features=4, ...``); subclasses override it."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = ["(" + name + "): " + _addindent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"

    def __setstate__(self, state):
        self.__dict__.update(state)


def _parse_to(args, kwargs):
    """``(device, dtype)`` from the argument forms of ``Module.to`` / ``Tensor.to``."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, (_dtype.dtype, type)) or _is_numpy_dtype(arg):
            dtype = arg
        elif isinstance(arg, bool):  # non_blocking given positionally
            continue
        else:
            device = arg
    if dtype is not None:
        dtype = _dtype.from_any(dtype)
    return device, dtype


def _is_numpy_dtype(arg):
    import numpy as np
    return isinstance(arg, np.dtype)


# ---- full backward hooks ---------------------------------------------------------------------------
def _pass_through(tensors):
    """The identity node's backward: gradients pass unchanged; a missing one becomes zeros, as in
    torch (whose identity node is an autograd.Function, which materialises missing gradients)."""
    def backward(grads):
        grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)  # one output: a lone gradient
        return tuple(zeros_like(t) if g is None and t.requires_grad else g for g, t in zip(grads, tensors))
    return backward


def _through_identity_node(tensors):
    """Route ``tensors`` through one identity graph node; return (new tensors, node or None).

    Hooks on that node then see the gradients of all the tensors at once: this is how a module's
    full backward hook learns the gradients with respect to its inputs and outputs.
    """
    if not (grad_mode.state.enabled and any(t.requires_grad for t in tensors)):
        return tensors, None
    node = new_node("BackwardHookFunctionBackward", _pass_through(tensors), tensors, n_outputs=len(tensors))
    outs = []
    for nr, t in enumerate(tensors):
        out = t._view_of(t._data)
        if t.requires_grad:
            out.grad_fn, out._out_nr, out._requires_grad = node, nr, True
        outs.append(out)
    return outs, node


class BackwardHook:
    """Runs a module's full backward (pre-)hooks, as ``torch.utils.hooks.BackwardHook``.

    The module's tensor inputs pass through one identity node before ``forward`` and its tensor
    outputs through another after.  In backward the output node sees ``grad_output`` first (and
    runs the pre-hooks, which may replace it); the input node then sees ``grad_input`` and runs
    the hooks, which may replace it.
    """

    def __init__(self, module, user_hooks, user_pre_hooks):
        self.module = module
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.grad_outputs = None
        self.n_inputs = self.n_outputs = -1
        self.input_tensors_index = self.output_tensors_index = None

    @staticmethod
    def _pack_with_none(indices, values, size):
        """Gradients of the tensor positions, spread over all ``size`` positions (None elsewhere)."""
        res = [None] * size
        for i, v in zip(indices, values):
            res[i] = v
        return tuple(res)

    @staticmethod
    def _tensor_positions(args):
        return [i for i, a in enumerate(args) if isinstance(a, Tensor)]

    def _wrap_tensors(self, args):
        """``args`` with its tensors routed through an identity node; and the tensors' positions."""
        positions = self._tensor_positions(args)
        new_tensors, node = _through_identity_node([args[i] for i in positions])
        if node is None:
            return args, None, None
        new_args = list(args)
        for i, t in zip(positions, new_tensors):
            new_args[i] = t
        return tuple(new_args), positions, node

    def setup_input_hook(self, args):
        args, positions, node = self._wrap_tensors(args)
        self.n_inputs = len(args)
        self.input_tensors_index = positions
        if node is not None:
            node.register_hook(self._input_node_hook)
        return args

    def _input_node_hook(self, grad_inputs, _grad_outputs):
        if self.grad_outputs is None:
            return None  # the gradient reached the inputs without passing the outputs (double backward)
        res = self._pack_with_none(self.input_tensors_index, grad_inputs, self.n_inputs)
        for hook in self.user_hooks:
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            if len(out) != len(res):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got {len(out)}, "
                                   f"but expected {len(res)}")
            res = out
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_tensors_index)

    def setup_output_hook(self, result):
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        outputs, positions, node = self._wrap_tensors(outputs)
        self.n_outputs = len(outputs)
        self.output_tensors_index = positions
        if node is not None:
            node.register_prehook(self._output_node_prehook)
        return outputs[0] if single else outputs

    def _output_node_prehook(self, grad_outputs):
        self.grad_outputs = self._pack_with_none(self.output_tensors_index, grad_outputs, self.n_outputs)
        for hook in self.user_pre_hooks:
            new = hook(self.module, self.grad_outputs)
            if new is None:
                continue
            new = tuple(new) if isinstance(new, (tuple, list)) else (new,)
            if len(new) != len(self.grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of grad_output, got {len(new)}, "
                                   f"but expected {len(self.grad_outputs)}")
            self.grad_outputs = new
        if self.input_tensors_index is None:
            # no input needs a gradient: the input node never runs, so the hooks run here
            if self.user_hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with respect to module "
                              "outputs since no inputs require gradients.")
            grad_inputs = self._pack_with_none([], [], self.n_inputs)
            for hook in self.user_hooks:
                res = hook(self.module, grad_inputs, self.grad_outputs)
                if res is not None and not (isinstance(res, tuple) and all(r is None for r in res)):
                    raise RuntimeError("Backward hook for Modules where no input requires gradient should always "
                                       "return None or None for all gradients.")
            grad_outputs = self.grad_outputs
            self.grad_outputs = None
            return tuple(grad_outputs[i] for i in self.output_tensors_index)
        return tuple(self.grad_outputs[i] for i in self.output_tensors_index)
