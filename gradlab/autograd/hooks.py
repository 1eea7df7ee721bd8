"""Hooks: user functions the engine calls as gradients flow.

* a tensor hook, ``t.register_hook(fn)``: ``fn(grad) -> grad | None`` sees the
  full gradient of ``t`` and may replace it.  A leaf keeps its hooks itself
  (``tensor._hooks``); for an op's output they are kept by the node that made
  it, as pre-hooks tagged with the output number;
* a node pre-hook, ``node.register_prehook(fn)``: ``fn(grad_outputs)`` before
  the node's backward; a node hook, ``node.register_hook(fn)``:
  ``fn(grad_inputs, grad_outputs)`` after it;
* ``retain_grad()`` on an op's output: its node stores the output's gradient
  into ``.grad`` on the way;
* ``register_post_accumulate_grad_hook(fn)`` on a leaf: ``fn(tensor)`` after
  its ``.grad`` was updated.

Every registration returns a handle whose ``remove()`` unregisters.

What a hook returns in place of a gradient must be a tensor of the same shape
and dtype (``check_hook_grad``): the engine would otherwise fail far away with
an unrelated reshape error, or cast silently.  The errors name the hook, as
PyTorch's do.
"""
import weakref

from ..utils.hooks import RemovableHandle

__all__ = ["NodeHooks", "before_node", "after_node", "run_leaf_hooks", "after_accumulate", "check_hook_grad",
           "check_hook_grads"]


class NodeHooks:
    """The hook methods of ``graph.Node`` (the node keeps them in ``pre_hooks``, ``post_hooks``, ``retained``)."""

    __slots__ = ()

    def _hooks_dict(self, attr):
        if getattr(self, attr) is None:
            setattr(self, attr, {})
        return getattr(self, attr)

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs) -> grad_inputs | None`` runs after this node's backward."""
        hooks = self._hooks_dict("post_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = fn
        return handle

    def register_prehook(self, fn):
        """``fn(grad_outputs) -> grad_outputs | None`` runs before this node's backward."""
        hooks = self._hooks_dict("pre_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = ("node", None, fn)
        return handle

    def add_tensor_hook(self, out_nr, fn):
        """A hook of the tensor that is output ``out_nr`` of this node: ``fn(grad) -> grad | None``."""
        hooks = self._hooks_dict("pre_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = ("tensor", out_nr, fn)
        return handle

    def retain(self, tensor):
        if self.retained is None:
            self.retained = {}
        self.retained[tensor._out_nr] = weakref.ref(tensor)


def _hook_name(fn):
    return getattr(fn, "__name__", None) or type(fn).__name__


def check_hook_grad(fn, new, old):
    """``new``, which hook ``fn`` returned in place of the gradient ``old``, if it is a tensor of old's shape and dtype."""
    from .._tensor import Tensor

    if not isinstance(new, Tensor):
        raise TypeError(f"expected Tensor, but hook '{_hook_name(fn)}' returned '{type(new).__name__}' "
                        f"in place of a gradient of shape {list(old.shape)}")
    if new._data.shape != old._data.shape:
        raise RuntimeError(f"hook '{_hook_name(fn)}' has changed the size of value (was {list(old.shape)}, "
                           f"got {list(new.shape)})")
    if new._data.dtype != old._data.dtype:
        raise RuntimeError(f"hook '{_hook_name(fn)}' has changed the type of value (was {old.type()} "
                           f"got {new.type()})")
    return new


def check_hook_grads(fn, new, old):
    """The gradients ``new`` (a sequence) that hook ``fn`` returned in place of ``old``, checked one by one.

    None is always allowed; a gradient given where there was None is taken as it is.
    """
    if not isinstance(new, (tuple, list)):
        raise TypeError(f"hook '{_hook_name(fn)}' must return None or a tuple of {len(old)} gradient(s), "
                        f"got '{type(new).__name__}'")
    if len(new) != len(old):
        raise RuntimeError(f"hook '{_hook_name(fn)}' has returned an incorrect number of values "
                           f"(got {len(new)}, but expected {len(old)})")
    return tuple(n if n is None or o is None else check_hook_grad(fn, n, o) for n, o in zip(new, old))


def before_node(node, g):
    """The node's output gradient(s) ``g`` after its tensor hooks and pre-hooks; retain_grad outputs keep theirs."""
    multi = node.n_outputs > 1
    out_grads = list(g) if multi else [g]
    if node.pre_hooks:
        for kind, out_nr, fn in list(node.pre_hooks.values()):
            if kind == "tensor":
                if out_grads[out_nr] is not None:
                    new = fn(out_grads[out_nr])
                    if new is not None:
                        out_grads[out_nr] = check_hook_grad(fn, new, out_grads[out_nr])
            else:
                new = fn(tuple(out_grads))
                if new is not None:
                    out_grads[:] = check_hook_grads(fn, new, out_grads)
    if node.retained:
        for nr, ref in node.retained.items():
            t = ref()
            # (a tensor changed in place since has moved on to a new node, which retains it now)
            if t is not None and t.grad_fn is node and out_grads[nr] is not None:
                grad = out_grads[nr]
                t._grad = grad.clone() if t._grad is None else t._grad + grad
    return tuple(out_grads) if multi else out_grads[0]


def after_node(node, in_grads, g):
    """The input gradients ``in_grads`` of the node after its hooks (``g``: what its backward received)."""
    out_grads = g if node.n_outputs > 1 else (g,)
    for fn in list(node.post_hooks.values()):
        new = fn(in_grads, out_grads)
        if new is not None:
            in_grads = check_hook_grads(fn, new, in_grads)
    return in_grads


def run_leaf_hooks(tensor, grad):
    """A leaf's gradient after its tensor hooks."""
    for fn in list(tensor._hooks.values()):
        new = fn(grad)
        if new is not None:
            grad = check_hook_grad(fn, new, grad)
    return grad


def after_accumulate(tensor):
    for fn in list(tensor._post_accumulate_hooks.values()):
        fn(tensor)
