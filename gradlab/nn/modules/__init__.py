"""The layers: ``Module`` and the containers, then one file per layer family."""
from .module import Module

__all__ = ["Module"]
