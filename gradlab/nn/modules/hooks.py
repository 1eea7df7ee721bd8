"""Module hooks: where they are registered.

A hook is kept in an ordered dict under its handle's id (``handle.remove()``
deletes it); flags such as ``with_kwargs`` or ``always_call`` are further dicts
keyed by the same id. The hooks registered with ``register_module_*_hook`` run
for every module, before the module's own. ``Module.__call__`` runs them
(module.py); the state-dict hooks are registered in state_dict.py.
"""
import warnings
from collections import OrderedDict

from ...utils.hooks import RemovableHandle

__all__ = ["register_module_forward_pre_hook", "register_module_forward_hook",
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


class _ModuleHooks:
    """``Module``'s methods that register forward and backward hooks."""

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
