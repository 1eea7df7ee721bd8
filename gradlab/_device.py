"""Devices as tutorials name them: gradlab is CPU-only, so every accelerator answers False.

``device`` names any of PyTorch's device types; ``check_device`` is the one
test that a device asked for can hold tensors (only the CPU can).
"""
import types

_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                 "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


class device:
    """A device named the way tutorials do. Any of PyTorch's device types can be named
    (``device("cuda")`` is only a name); gradlab runs on the CPU, so only "cpu" holds tensors."""

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        name, _, number = str(type).partition(":")
        if name not in _DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device "
                               f"string: {type}")
        self.type = name
        self.index = int(number) if number else index

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        return isinstance(other, (device, str)) and str(other) == str(self)

    def __hash__(self):
        return hash(str(self))


def check_device(dev):
    if dev is None or (isinstance(dev, device) and dev.type == "cpu"):
        return
    name = str(dev)
    if name.split(":")[0] != "cpu":
        raise RuntimeError(
            f"gradlab runs on the CPU only; device '{name}' is not available. "
            "Use device('cpu') (gradlab.cuda.is_available() is False).")


def _unavailable(name):
    def fail(*args, **kwargs):
        raise RuntimeError(f"gradlab runs on the CPU only: {name} is not available")
    return fail


cuda = types.SimpleNamespace(is_available=lambda: False, device_count=lambda: 0,
                             manual_seed=lambda seed: None, manual_seed_all=lambda seed: None,
                             synchronize=lambda *a: None, current_device=_unavailable("cuda"),
                             get_device_name=_unavailable("cuda"), empty_cache=lambda: None)
accelerator = types.SimpleNamespace(is_available=lambda: False, device_count=lambda: 0,
                                    current_accelerator=lambda check_available=False: None,
                                    synchronize=lambda *a: None)
mps = types.SimpleNamespace(is_available=lambda: False, is_built=lambda: False, manual_seed=lambda seed: None)
backends = types.SimpleNamespace(mps=mps, cudnn=types.SimpleNamespace(deterministic=False, benchmark=False,
                                                                       enabled=False, is_available=lambda: False))


def set_default_device(device):
    """Where factories put new tensors: gradlab accepts only the CPU (or None, the default)."""
    check_device(device)


def get_default_device():
    return device("cpu")
