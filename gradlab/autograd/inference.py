"""Inference mode: ``no_grad`` and more, as in PyTorch.

Inside ``inference_mode`` nothing is recorded, even under ``enable_grad``, and
every tensor made (op results and factories such as ``ones`` or ``tensor``) is
an *inference tensor*.  An inference tensor keeps no version counter, so
outside inference mode it can be neither saved for backward (saving records a
version) nor changed in place (which bumps one).  gradlab marks inference
tensors by their version counter, an ``InferenceVersion``: a view shares its
base's counter, so a view of an inference tensor is one too, and a view of a
normal tensor taken inside inference mode is not.  ``inference_mode(False)``
leaves inference mode and turns grad mode on (PyTorch's
``InferenceMode(false)``).

The flag itself is ``grad_mode.state.inference``, beside grad mode's.
"""
import threading

from .grad_mode import _GradModeContext, state

__all__ = ["inference_mode", "is_inference_mode_enabled", "InferenceVersion"]

SAVED_INFERENCE_TENSOR = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode in "
    "computation tracked by autograd. To work around this, you can make a clone to get a normal tensor and use it "
    "in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`.")
INPLACE_INFERENCE_TENSOR = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a normal "
    "tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details.")


def is_inference_mode_enabled():
    return state.inference


class InferenceVersion(list):
    """The version counter of an inference tensor and of its views: never bumped outside inference mode.

    Every in-place change bumps its tensor's version, so this refuses them all
    (the in-place ops also check first, in ``ops._common.check_inference_inplace``,
    so that they refuse before writing).
    """

    __slots__ = ()

    def __setitem__(self, index, value):
        if not state.inference:
            raise RuntimeError(INPLACE_INFERENCE_TENSOR)
        list.__setitem__(self, index, value)


class inference_mode(_GradModeContext):
    """No graph, and every tensor made inside is an inference tensor (see the module docstring).

    Works as ``with inference_mode():``, ``@inference_mode()`` and bare
    ``@inference_mode``.  ``inference_mode(False)`` leaves inference mode and
    turns grad mode on, as PyTorch's does.
    """

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode) and not isinstance(mode, bool):  # used bare: @inference_mode
            self.mode, self.inference = False, True
            return self(mode)
        return self

    def __init__(self, mode=True):
        if callable(mode) and not isinstance(mode, bool):
            return
        self.mode, self.inference = (False, True) if mode else (True, False)


# Ops build most results with ``Tensor._wrap``, the fast constructor.  Checking the (per-thread) inference
# flag there would slow every op, so while some thread is in inference mode ``Tensor._wrap`` is swapped
# for a version that checks it.
_threads_in_inference = [0]
_count_lock = threading.Lock()


def count_thread(entering):
    """A thread enters (or leaves) inference mode (grad_mode calls this when the flag changes)."""
    with _count_lock:
        _threads_in_inference[0] += 1 if entering else -1
        Tensor._wrap = _wrap_marking_inference if _threads_in_inference[0] > 0 else _plain_wrap


from .._tensor import Tensor, _mark_if_inference  # noqa: E402  (Tensor imports this module)

_plain_wrap = Tensor.__dict__["_wrap"]


@classmethod
def _wrap_marking_inference(cls, array, requires_grad=False):
    """``Tensor._wrap`` while some thread is in inference mode: such a thread makes inference tensors."""
    return _mark_if_inference(_plain_wrap.__func__(cls, array, requires_grad))
