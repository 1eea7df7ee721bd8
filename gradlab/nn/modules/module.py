"""``Module``: the base class of every layer and model (as ``torch.nn.Module``).

A module keeps three ordered dicts, filled by plain attribute assignment:

``_parameters``  the learnable ``Parameter``s it owns directly
``_buffers``     tensors that are state but not learned (BatchNorm's running mean)
``_modules``     its sub-modules, in the order they were assigned

Everything else follows from walking these dicts: ``parameters()`` visits
the tree of modules, ``state_dict()`` names every entry by its dotted path
(``features.0.weight``), ``to(float64)`` recasts every entry, ``repr`` prints
the tree.  Calling a module runs its hooks around ``forward``.
"""
import itertools
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

from ... import _dtype
from ..._tensor import Tensor, check_device, zeros_like
from ...autograd import grad_mode
from ...autograd.record import new_node
from ...utils.hooks import RemovableHandle
from ..parameter import Buffer, Parameter

__all__ = ["Module", "register_module_forward_pre_hook", "register_module_forward_hook",
           "register_module_full_backward_hook", "register_module_full_backward_pre_hook"]

# hooks registered for every module at once (torch.nn.modules.module.register_module_*_hook)
_global_forward_pre_hooks = OrderedDict()
_global_forward_hooks = OrderedDict()
_global_forward_hooks_always_called = {}
_global_backward_hooks = OrderedDict()
_global_backward_pre_hooks = OrderedDict()


class _HookHandle(RemovableHandle):
    """A RemovableHandle that also forgets the hook's flags (with_kwargs, always_call)."""

    def __init__(self, hooks_dict, *extra_dicts):
        super().__init__(hooks_dict)
        self.extra_dicts = extra_dicts

    def remove(self):
        super().remove()
        for d in self.extra_dicts:
            d.pop(self.id, None)


def _add_hook(hooks, hook, prepend=False, flags=()):
    """Store ``hook`` in ``hooks`` (first when ``prepend``); ``flags`` are dicts that mark it."""
    handle = _HookHandle(hooks, *flags)
    hooks[handle.id] = hook
    for flag in flags:
        flag[handle.id] = True
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_module_forward_pre_hook(hook):
    """``hook(module, args)`` runs before the forward of every module."""
    return _add_hook(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook, *, always_call=False):
    """``hook(module, args, output)`` runs after the forward of every module."""
    return _add_hook(_global_forward_hooks, hook,
                     flags=(_global_forward_hooks_always_called,) if always_call else ())


def register_module_full_backward_hook(hook):
    """``hook(module, grad_input, grad_output)`` runs in the backward of every module."""
    return _add_hook(_global_backward_hooks, hook)


def register_module_full_backward_pre_hook(hook):
    """``hook(module, grad_output)`` runs in the backward of every module."""
    return _add_hook(_global_backward_pre_hooks, hook)


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


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it could not match."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


_EXTRA_STATE_KEY = "_extra_state"


def _forward_unimplemented(self, *input):
    raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')


class Module:
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

    def get_parameter(self, target):
        """The Parameter at dotted path ``target`` (``"net.0.weight"``)."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(module._get_name() + " has no attribute `" + name + "`")
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target):
        """The buffer at dotted path ``target`` (``"bn.running_mean"``)."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(module._get_name() + " has no attribute `" + name + "`")
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
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks or _global_forward_pre_hooks or _global_forward_hooks
                or _global_backward_hooks or _global_backward_pre_hooks):
            return self.forward(*args, **kwargs)  # the common, fast path
        return self._call_with_hooks(args, kwargs)

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

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args) -> None | new args`` runs before ``forward``.

        With ``with_kwargs=True`` it is ``hook(module, args, kwargs) -> None | (new_args, new_kwargs)``.
        """
        flags = (self._forward_pre_hooks_with_kwargs,) if with_kwargs else ()
        return _add_hook(self._forward_pre_hooks, hook, prepend, flags)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """``hook(module, args, output) -> None | new output`` runs after ``forward``.

        ``with_kwargs=True``: ``hook(module, args, kwargs, output)``; ``always_call=True``: also
        runs when forward raised.
        """
        flags = ((self._forward_hooks_with_kwargs,) if with_kwargs else ()) \
            + ((self._forward_hooks_always_called,) if always_call else ())
        return _add_hook(self._forward_hooks, hook, prepend, flags)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output) -> None | new grad_output`` runs before the module's backward."""
        return _add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output) -> None | new grad_input`` runs once the gradients
        with respect to the module's tensor inputs are computed."""
        if self._is_full_backward_hook is False:
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks on a single "
                               "Module. Please use only one of them.")
        self._is_full_backward_hook = True
        return _add_hook(self._backward_hooks, hook, prepend)

    def register_backward_hook(self, hook):
        """Deprecated in PyTorch; here the same as ``register_full_backward_hook``."""
        warnings.warn("register_backward_hook is deprecated; gradlab runs it as register_full_backward_hook, "
                      "whose grad_input are the gradients with respect to the module's inputs", FutureWarning)
        return self.register_full_backward_hook(hook)

    # ---- state_dict -----------------------------------------------------------------------------
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY] = self.get_extra_state()

    def get_extra_state(self):
        """Extra (non-tensor) state for ``state_dict``; a module that has some overrides this and
        ``set_extra_state``, and ``state_dict`` stores it under ``"_extra_state"``."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never be called.")

    def set_extra_state(self, state):
        """Restore what ``get_extra_state`` returned (called by ``load_state_dict``)."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never be called.")

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An OrderedDict of every parameter and persistent buffer by dotted name (``"0.weight"``).

        Values are detached tensors sharing memory with the module (``keep_vars=True``: the
        Parameters themselves).
        """
        if args:  # the old positional form state_dict(destination, prefix, keep_vars)
            destination, prefix, keep_vars = (list(args) + [destination, prefix, keep_vars][len(args):])[:3]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = {"version": self._version}
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            new = hook(self, destination, prefix, {"version": self._version})
            if new is not None:
                destination = new
        return destination

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before ``state_dict`` collects this module."""
        return _add_hook(self._state_dict_pre_hooks, hook)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` runs after ``state_dict`` collected this module."""
        return _add_hook(self._state_dict_hooks, hook)

    _register_state_dict_hook = register_state_dict_post_hook

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs)`` runs before this module loads its entries."""
        return _add_hook(self._load_state_dict_pre_hooks, hook)

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after ``load_state_dict``; it may edit the key lists."""
        return _add_hook(self._load_state_dict_post_hooks, hook)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        """Copy this module's own entries from ``state_dict`` into its parameters and buffers, in place."""
        for hook in self._load_state_dict_pre_hooks.values():
            hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        persistent_buffers = {k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set}
        local_state = {k: v for k, v in itertools.chain(self._parameters.items(), persistent_buffers.items())
                       if v is not None}
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            if local_metadata.get("assign_to_params_buffers", False):
                error = self._assign_from(name, param, state_dict[key], key)
            else:
                error = _copy_into(param, state_dict[key], key)
            if error:
                error_msgs.append(error)
        extra_key = prefix + _EXTRA_STATE_KEY
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if not key.startswith(prefix) or key == extra_key:
                    continue
                head = key[len(prefix):].split(".", 1)
                if len(head) > 1 and head[0] not in self._modules:
                    unexpected_keys.append(key)
                elif len(head) == 1 and head[0] not in local_state:
                    unexpected_keys.append(key)

    def _assign_from(self, name, param, value, key):
        """``load_state_dict(assign=True)``: make the checkpoint's tensor itself the entry (no copy)."""
        error = _check_loadable(param, value, key)
        if error:
            return error
        if param.dim() == 0 and value.dim() == 1:
            value = value[0]
        if isinstance(param, Parameter):
            if isinstance(value, Parameter):
                value.requires_grad_(param.requires_grad)
            else:
                value = Parameter(value, requires_grad=param.requires_grad)
        setattr(self, name, value)
        return None

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy ``state_dict``'s values into this module's parameters and buffers (in place).

        With ``strict=True`` missing or unexpected keys raise; either way the result is a named tuple
        ``(missing_keys, unexpected_keys)``.  Size mismatches always raise.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys, unexpected_keys, error_msgs = [], [], []
        metadata = getattr(state_dict, "_metadata", None)

        def load(module, local_state_dict, prefix=""):
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata["assign_to_params_buffers"] = True
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True, missing_keys,
                                         unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state_dict.items() if k.startswith(child_prefix)},
                         child_prefix)
            incompatible = _IncompatibleKeys(missing_keys, unexpected_keys)
            for hook in module._load_state_dict_post_hooks.values():
                if hook(module, incompatible) is not None:
                    raise RuntimeError("load_state_dict post hook should return None")

        load(self, OrderedDict(state_dict))
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(error_msgs)))
        return _IncompatibleKeys(missing_keys, unexpected_keys)

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


def _check_loadable(param, value, key):
    """Why checkpoint ``value`` cannot replace ``param`` (torch's message), or None."""
    if not isinstance(value, Tensor):
        return (f'While copying the parameter named "{key}", expected gradlab.Tensor or Tensor-like object from '
                f"checkpoint but received {type(value)}")
    if not (param.dim() == 0 and value.dim() == 1) and value.shape != param.shape:
        return (f"size mismatch for {key}: copying a param with shape {value.shape} from checkpoint, the shape "
                f"in current model is {param.shape}.")
    return None


def _copy_into(param, value, key):
    """Copy a checkpoint ``value`` into ``param`` in place; return an error message, or None."""
    error = _check_loadable(param, value, key)
    if error:
        return error
    if param.dim() == 0 and value.dim() == 1:  # old checkpoints stored scalars as 1-element vectors
        value = value[0]
    if value.shape != param.shape:
        return (f"size mismatch for {key}: copying a param with shape {value.shape} from checkpoint, the shape "
                f"in current model is {param.shape}.")
    try:
        with grad_mode.no_grad():
            param.copy_(value)
    except Exception as ex:
        return (f'While copying the parameter named "{key}", whose dimensions in the model are {param.size()} '
                f"and whose dimensions in the checkpoint are {value.size()}, an exception occurred : {ex.args}.")
    return None


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
