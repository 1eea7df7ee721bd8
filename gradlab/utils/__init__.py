"""Utilities, as ``torch.utils``: ``data`` (data sets and the DataLoader) and ``hooks``."""


def __getattr__(name):
    # `torch.utils.data.DataLoader` works after a bare `import torch`: the subpackage loads on first use
    if name in ("data", "hooks", "safetensors"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'gradlab.utils' has no attribute '{name}'")
