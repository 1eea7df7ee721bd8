"""Lazy modules: layers that learn their input size from the first batch they see.

``nn.LazyLinear(10)`` is a ``Linear`` whose ``in_features`` is not known yet.
Until its first call its weight and bias are ``UninitializedParameter`` s
(no shape, no values); the first call runs a forward pre-hook that reads the
input's shape, gives the parameters their shapes, initialises them with the
ordinary class's ``reset_parameters`` and then turns the module into that
ordinary class (``cls_to_become``): from there on it is a plain ``Linear``,
with no hook left on its call path.

Loading a state_dict into a module not yet called gives its parameters the
loaded shapes (a load pre-hook); the first call then only fills in the sizes
it reads from the input.  Each lazy class says how in ``initialize_parameters``.
"""
from ...autograd import grad_mode
from .. import parameter

__all__ = ["LazyModuleMixin", "lazy_form"]


class LazyModuleMixin:
    """Mixed in before an ordinary module class; the lazy class defines ``initialize_parameters(input)``.

    Build, then convert dtype (``.double()``), then run one dry forward with a batch of the right
    shape, and only then initialise (``apply``) or train: before that the parameters have no values.
    """

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._load_hook = self.register_load_state_dict_pre_hook(_lazy_load_hook)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters, with_kwargs=True)

    def initialize_parameters(self, *args, **kwargs):
        """Give the parameters their shapes from the first input and initialise them."""
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")

    def has_uninitialized_params(self):
        """True while a parameter or buffer of this module still has no shape."""
        return any(parameter.is_lazy(t) for t in (*self._parameters.values(), *self._buffers.values()))


def lazy_form(plain, mixin, inferred):
    """The lazy class of ``plain`` (``LazyConv2d`` for ``Conv2d``): ``mixin`` infers ``inferred`` from the first
    input, after which the module becomes a ``plain``."""
    name = "Lazy" + plain.__name__
    doc = (f"A ``{plain.__name__}`` whose ``{inferred}`` is read from the first input; its parameters are "
           f"uninitialised until then, and that first call makes it a ``{plain.__name__}``.")
    return type(name, (mixin, plain), {"cls_to_become": plain, "__doc__": doc, "__module__": plain.__module__,
                                       "__qualname__": name})


def uninitialized_weight_and_bias(module, bias, device, dtype):
    """Give ``module`` an uninitialised ``weight`` and (if ``bias``) ``bias``, its ordinary init having made none."""
    module.weight = parameter.UninitializedParameter(device=device, dtype=dtype)
    if bias:
        module.bias = parameter.UninitializedParameter(device=device, dtype=dtype)


def _lazy_load_hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                    error_msgs):
    """Before loading: an uninitialised entry takes the shape of the loaded tensor (then the copy fills it)."""
    for name, tensor in (*module._parameters.items(), *module._buffers.items()):
        key = prefix + name
        if tensor is not None and key in state_dict and parameter.is_lazy(tensor):
            loaded = state_dict[key]
            if not parameter.is_lazy(loaded):
                tensor.materialize(loaded.shape)


def _infer_parameters(module, args, kwargs):
    """The forward pre-hook of a lazy module's first call: infer, initialise, become the ordinary class."""
    with grad_mode.no_grad():
        module.initialize_parameters(*args, **kwargs)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._initialize_hook.remove()
    module._load_hook.remove()
    del module._initialize_hook
    del module._load_hook
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become
