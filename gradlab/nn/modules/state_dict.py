"""Saving and loading a module's state: ``state_dict()`` and ``load_state_dict()``.

``state_dict()`` names every parameter and persistent buffer by its dotted
path (``features.0.weight``) in an OrderedDict whose ``_metadata`` keeps each
module's ``_version``; ``load_state_dict()`` copies such a dict back in place
(or, with ``assign=True``, makes its tensors the entries), module by module,
and reports the keys it could not match.
"""
import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

from ..._tensor import Tensor
from ...autograd import grad_mode
from ..parameter import Parameter, is_lazy
from .hooks import _add_hook


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it could not match."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


_EXTRA_STATE_KEY = "_extra_state"


class _ModuleStateDict:
    """``Module``'s methods that save and load its state."""

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        if type(self).get_extra_state is not _ModuleStateDict.get_extra_state:
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
            if is_lazy(param) and is_lazy(state_dict[key]):  # neither has a shape yet: nothing to load
                continue
            if local_metadata.get("assign_to_params_buffers", False):
                error = self._assign_from(name, param, state_dict[key], key)
            else:
                error = _copy_into(param, state_dict[key], key)
            if error:
                error_msgs.append(error)
        extra_key = prefix + _EXTRA_STATE_KEY
        if type(self).set_extra_state is not _ModuleStateDict.set_extra_state:
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
