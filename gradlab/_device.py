"""Device queries as tutorials write them: gradlab is CPU-only, so every accelerator answers False."""
import types

from ._tensor import check_device, device


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
