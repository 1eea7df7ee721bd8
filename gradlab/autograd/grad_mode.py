"""Grad mode: whether ops record the graph, and inference mode.

One flag, ``state.enabled``, read by every op: record the graph or not.  As in
PyTorch it is per thread (a thread running evaluation under ``no_grad`` does
not switch recording off for a thread that trains).  ``no_grad``,
``enable_grad``, ``set_grad_enabled`` and ``inference_mode`` change it for a
block of code or, used as decorators, for each call of a function (for a
generator function: while its body runs).

``inference_mode`` is ``no_grad`` and more, as in PyTorch: nothing is recorded
even under ``enable_grad``, and every tensor made inside (op results and
factories such as ``ones`` or ``tensor``) is an *inference tensor*.  An
inference tensor keeps no version counter, so outside inference mode it can be
neither saved for backward (saving records a version) nor changed in place
(which bumps one).  gradlab marks inference tensors by their version counter,
an ``InferenceVersion``: a view shares its base's counter, so a view of an
inference tensor is one too, and a view of a normal tensor taken inside
inference mode is not.  ``inference_mode(False)`` leaves inference mode and
turns grad mode on (PyTorch's ``InferenceMode(false)``).
"""
import functools
import inspect
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "InferenceVersion"]

SAVED_INFERENCE_TENSOR = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode in "
    "computation tracked by autograd. To work around this, you can make a clone to get a normal tensor and use it "
    "in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`.")
INPLACE_INFERENCE_TENSOR = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a normal "
    "tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details.")


class _GradState(threading.local):
    def __init__(self):
        self.grad_mode = True    # what is_grad_enabled() says: set by no_grad, enable_grad, set_grad_enabled
        self.inference = False   # inside inference_mode
        self.enabled = True      # ops record the graph: grad_mode and not inference (the flag ops read)


state = _GradState()


def is_grad_enabled():
    # outside inference mode ``enabled`` is the answer (the engine switches it alone during backward)
    return state.grad_mode if state.inference else state.enabled


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


def _set(grad_mode, inference):
    """Set grad mode and the inference flag; return the previous state to restore."""
    prev = (state.enabled, state.grad_mode, state.inference)
    if inference != prev[2]:
        _count_inference_thread(inference)
    state.grad_mode, state.inference = grad_mode, inference
    state.enabled = grad_mode and not inference
    return prev


def _restore(prev):
    if prev[2] != state.inference:
        _count_inference_thread(prev[2])
    state.enabled, state.grad_mode, state.inference = prev


# Ops build most results with ``Tensor._wrap``, the fast constructor.  Checking the (per-thread) inference
# flag there would slow every op, so while some thread is in inference mode ``Tensor._wrap`` is swapped
# for a version that checks it (``_tensor.mark_new_tensors_in_inference_mode``).
_threads_in_inference = [0]
_count_lock = threading.Lock()


def _count_inference_thread(entering):
    from .._tensor import mark_new_tensors_in_inference_mode
    with _count_lock:
        _threads_in_inference[0] += 1 if entering else -1
        mark_new_tensors_in_inference_mode(_threads_in_inference[0] > 0)


class _GradModeContext:
    """Base for the grad-mode context managers and decorators; subclasses set ``mode``."""

    mode = True
    inference = None  # None: keep the current inference flag

    def _target(self):
        return self.mode, (state.inference if self.inference is None else self.inference)

    def __enter__(self):
        self._prev = _set(*self._target())
        return None

    def __exit__(self, *exc):
        _restore(self._prev)
        return False

    def __call__(self, fn):
        """Use as a decorator: the mode holds during each call of ``fn``."""
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _set(*self._target())
            try:
                return fn(*args, **kwargs)
            finally:
                _restore(prev)
        return wrapper

    def _wrap_generator(self, fn):
        # the mode must hold while the generator's body runs, not while the caller consumes it
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            prev = _set(*self._target())
            try:
                value = next(gen)
            except StopIteration as stop:
                return stop.value
            finally:
                _restore(prev)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as exc:
                    prev = _set(*self._target())
                    try:
                        value = gen.throw(exc)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        _restore(prev)
                    continue
                prev = _set(*self._target())
                try:
                    value = gen.send(sent)
                except StopIteration as stop:
                    return stop.value
                finally:
                    _restore(prev)
        return wrapper


class no_grad(_GradModeContext):
    """Ops inside record no graph: outputs have ``requires_grad=False``.

    Works as ``with no_grad():``, ``@no_grad()`` and bare ``@no_grad``.
    """

    mode = False

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is not None and callable(orig_func):  # used bare: @no_grad
            return self(orig_func)
        return self

    def __init__(self, orig_func=None):
        pass


class enable_grad(no_grad):
    """Turn recording back on inside a ``no_grad`` block."""

    mode = True


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


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode``: at once when called, and restored on leaving a ``with`` block.

    As a decorator (``@set_grad_enabled(False)``) it sets the mode for each call only.
    """

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = _set(self.mode, state.inference)

    def __enter__(self):
        return None

    def __call__(self, fn):
        _restore(self._prev)  # a decorator changes nothing until the function runs
        return super().__call__(fn)
