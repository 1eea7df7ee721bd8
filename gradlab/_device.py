"""Device queries as tutorials write them: gradlab is CPU-only, so every accelerator answers False."""
import types


def _unavailable(name):
    def fail(*args, **kwargs):
        raise RuntimeError(f"gradlab runs on the CPU only: {name} is not available")
    return fail


cuda = types.SimpleNamespace(is_available=lambda: False, device_count=lambda: 0,
                             manual_seed=lambda seed: None, manual_seed_all=lambda seed: None,
                             synchronize=lambda *a: None, current_device=_unavailable("cuda"),
                             get_device_name=_unavailable("cuda"), empty_cache=lambda: None)
mps = types.SimpleNamespace(is_available=lambda: False, is_built=lambda: False, manual_seed=lambda seed: None)
backends = types.SimpleNamespace(mps=mps, cudnn=types.SimpleNamespace(deterministic=False, benchmark=False,
                                                                       enabled=False, is_available=lambda: False))
