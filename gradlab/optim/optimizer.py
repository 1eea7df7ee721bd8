"""The Optimizer base class: parameter groups, per-parameter state, save/load, hooks.

An optimizer holds ``param_groups``: a list of dicts, each with a ``"params"``
list and that group's options (``lr``, ``momentum``, ...). Options a group does
not name come from ``defaults``. ``state`` maps each parameter tensor (tensors
hash by identity) to a dict of its running buffers, created on the first step.

Every built-in optimizer's ``step`` works on the NumPy arrays directly
(``p._data``, ``p.grad._data``, the state buffers' ``_data``) with in-place
operations, so an update records no graph and allocates little.
"""
import functools
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain

import numpy as np

from .._tensor import Tensor
from ..autograd import profiler
from ..autograd.grad_mode import enable_grad
from ..kernels.optim import _lerp_  # noqa: F401  (the update rules' lerp_, shared with the kernels' twin)
from ..utils.hooks import RemovableHandle

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Marks a default that every parameter group must give itself."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """``hook(optimizer, args, kwargs) -> None | (args, kwargs)`` runs before every optimizer's step."""
    handle = RemovableHandle(_global_step_pre_hooks)
    _global_step_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    """``hook(optimizer, args, kwargs)`` runs after every optimizer's step."""
    handle = RemovableHandle(_global_step_post_hooks)
    _global_step_post_hooks[handle.id] = hook
    return handle


def _check_lr(lr):
    """PyTorch's check of a learning rate: a number >= 0, or a one-element tensor."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_nonnegative(**values):
    """PyTorch's ``Invalid <name> value`` for the first of ``values`` (in order) that is not >= 0."""
    for name, value in values.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {name} value: {value}")


def _check_betas(betas):
    """Each of Adam's two betas in [0, 1)."""
    for i in (0, 1):
        if not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")


def _check_adam_options(lr, betas, eps, weight_decay):
    """The checks the Adam family (Adam, AdamW, Adamax, NAdam, RAdam) makes, in PyTorch's order."""
    _check_lr(lr)
    _check_nonnegative(epsilon=eps)
    _check_betas(betas)
    _check_nonnegative(weight_decay=weight_decay)


def _with_step_hooks(step):
    """Wrap a ``step`` so that it runs the step hooks and records that a step happened.

    The learning-rate schedulers read ``optimizer._opt_called`` to warn when
    ``scheduler.step()`` is called before ``optimizer.step()``.
    """

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self.__dict__.get("_inside_step"):  # a subclass's step calling super().step()
            return step(self, *args, **kwargs)
        for hook in chain(_global_step_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"an optimizer step pre-hook must return None or a tuple (new_args, "
                                       f"new_kwargs), but got {result!r}")
                args, kwargs = result
        self._inside_step = True
        prof = profiler.active[0]
        event = prof.push(f"Optimizer.step#{type(self).__name__}.step") if prof is not None else None
        try:
            out = step(self, *args, **kwargs)
        finally:
            self._inside_step = False
            if event is not None:
                prof.pop(event)
        self._opt_called = True
        for hook in chain(self._optimizer_step_post_hooks.values(), _global_step_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    wrapper._with_step_hooks = True
    return wrapper


def _to_scalar(x):
    """A learning rate or beta given as a one-element tensor, as a Python float."""
    if isinstance(x, Tensor):
        return float(x.item())
    return x


def _typename(obj):
    return f"gradlab.{type(obj).__name__}" if isinstance(obj, Tensor) else type(obj).__name__


class Optimizer:
    """Base class of every optimizer: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of
    dicts ``{"params": [...], <option>: value}`` for per-group options.
    Subclasses implement ``_step_group(group)``, the update of one group's
    parameters (or ``step(closure=None)`` itself).
    """

    # State buffers with a shape have the shape of their parameter (checked on load);
    # LBFGS keeps flat vectors instead and turns this off.
    _state_matches_param_shape = True
    # Scalar counters that keep their own dtype when loaded (the other state tensors
    # take their parameter's dtype).
    _scalar_state_keys = frozenset({"step"})

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_with_step_hooks", False):
            cls.step = _with_step_hooks(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        if defaults.get("differentiable"):
            raise NotImplementedError(
                f"{type(self).__name__}(differentiable=True) is not supported: gradlab's optimizers update "
                "the parameters' arrays in place, outside the autograd graph")
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {_typename(params)}")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ---- parameter groups --------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters with its own options (the rest come from ``defaults``)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)

        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        param_group["params"] = params

        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {_typename(p)}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            param_group.setdefault(name, default)

        if len(params) != len({id(p) for p in params}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ---- gradients ------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Forget the gradients: set ``.grad`` to None (default) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad._data.fill(0)

    @_with_step_hooks
    def step(self, closure=None):
        """Update the parameters once from their ``.grad``; ``closure()`` re-evaluates the loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group):
        """The update rule, applied to the parameters of one group (subclasses write it)."""
        raise NotImplementedError

    @staticmethod
    def _evaluate(closure):
        """Run the user's closure with gradients on (it calls backward) and return its loss."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ---- what the update rules share ---------------------------------------------------------
    # The buffers of zeros, shaped like the parameter, that its state starts with (besides the
    # step counter); an optimizer whose state starts otherwise overrides _init_state.
    _zero_buffers = ()

    def _init_state(self, p, group):
        """The buffers a parameter's state starts with, besides its step counter."""
        return {name: _zeros_like(p) for name in self._zero_buffers}

    def _state_of(self, p, group):
        """``p``'s state; on first use, a step counter followed by the buffers of ``_init_state``."""
        state = self.state[p]
        if not state:
            state["step"] = _step_counter()
            state.update(self._init_state(p, group))
        return state

    def _params_with_grad(self, group):
        """Yield ``(p, grad, state, t)`` for each parameter of ``group`` that has a gradient.

        ``t`` is the step number this update makes (the counter is advanced first). ``grad``
        is the gradient the update follows: negated to maximize, plus ``weight_decay * p``
        (``_descent_grad``); with ``decoupled_weight_decay`` the parameter itself shrinks by
        ``1 - lr * weight_decay`` instead. Once the caller has updated ``p`` in place, its
        version counter is bumped.
        """
        lr = _to_scalar(group["lr"])
        maximize, weight_decay = group["maximize"], group.get("weight_decay", 0)
        decoupled = group.get("decoupled_weight_decay", False)
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state_of(p, group)
            t = _advance(state["step"])
            if decoupled and weight_decay != 0:
                p._data *= 1 - lr * weight_decay
            yield p, _descent_grad(p, maximize, 0 if decoupled else weight_decay), state, t
            _updated(p)

    # ---- saving and loading -----------------------------------------------------------
    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are replaced by their position (counted across the groups),
        so the dict can be loaded into a new optimizer over a new model.
        The state tensors are the optimizer's own (not copies), as in PyTorch.
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index_of = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index_of[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict):
        """Load a dict made by ``state_dict()``: group options and per-parameter state.

        The groups must have as many parameters as ours; state tensors are
        copied and cast to their parameter's dtype (the step counters keep theirs;
        so do ASGD's float32 ``eta`` and ``mu``, which PyTorch would cast, so that
        a resumed run continues exactly as an uninterrupted one).
        """
        state_dict = dict(state_dict)
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise KeyError(f"{type(self).__name__}.load_state_dict: the state dict has no '{key}' entry "
                               f"(it has {sorted(map(str, state_dict))}); expected the dict that "
                               "optimizer.state_dict() returns")
        groups = self.param_groups
        saved_groups = [_copy_value(g) for g in state_dict["param_groups"]]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        param_of = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                            chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in param_of:
                param = param_of[key]
                state[param] = {name: self._cast_state(param, key, name, v) for name, v in value.items()}
            else:
                state[key] = value
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.state = state
        self.param_groups = saved_groups
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    def _cast_state(self, param, index, name, value):
        """A private copy of one loaded state value, tensors in the parameter's dtype."""
        if isinstance(value, Tensor):
            if (self._state_matches_param_shape and value._data.ndim > 0
                    and value._data.shape != param._data.shape):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: state '{name}' of parameter {index} has shape "
                    f"{tuple(value._data.shape)} but the parameter has shape {tuple(param._data.shape)}; "
                    "the state dict belongs to a model of another shape")
            keep_dtype = name in self._scalar_state_keys or param._data.dtype.kind != "f"
            array = value._data.copy() if keep_dtype else value._data.astype(param._data.dtype)
            return Tensor._wrap(array)
        if isinstance(value, dict):
            return {k: self._cast_state(param, index, k, v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._cast_state(param, index, None, v) for v in value)
        return value

    # ---- hooks ----------------------------------------------------------------------
    def _register(self, hooks, hook, prepend=False):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs) -> None | (args, kwargs)`` runs before each ``step``."""
        return self._register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` runs after each ``step``."""
        return self._register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ---- printing and pickling -------------------------------------------------------------
    def __repr__(self):
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks", "_optimizer_state_dict_pre_hooks",
                     "_optimizer_state_dict_post_hooks", "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            self.__dict__.setdefault(name, OrderedDict())


def _copy_value(value):
    """A copy of a loaded group dict: containers copied, numbers and strings shared."""
    if isinstance(value, dict):
        return {k: _copy_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_value(v) for v in value]
    if isinstance(value, Tensor):
        return value.clone()
    return value


# ---- pieces every update rule shares ------------------------------------------------------
def _step_counter():
    """A new step count: a 0-d float32 tensor, as PyTorch keeps ``state["step"]``."""
    return Tensor._wrap(np.zeros((), dtype=np.float32))


def _advance(step_t):
    """Add one to a step-count tensor and return the new count as a float."""
    step_t._data += 1
    return float(step_t._data)


def _zeros_like(p):
    return Tensor._wrap(np.zeros_like(p._data))


def _descent_grad(p, maximize, weight_decay=0.0):
    """The gradient an update follows: negated to maximize, plus L2 weight decay.

    Returns the ``.grad`` array itself when nothing changes it; callers never
    write into the result. (``np.asarray`` because NumPy turns the results of
    0-d arithmetic into scalars.)
    """
    grad = p.grad._data
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * p._data
    return np.asarray(grad)


def _updated(p):
    """Count an in-place change of ``p`` (version counters catch stale saved tensors)."""
    p._version_counter[0] += 1
