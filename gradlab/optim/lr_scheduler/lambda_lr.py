"""Schedules given as functions of the epoch: ``LambdaLR`` (lr = base_lr * f(epoch)) and
``MultiplicativeLR`` (lr *= f(epoch) each step)."""
import types

from .base import LRScheduler, _group_values, _load_state_apart, _state_apart

__all__ = ["LambdaLR", "MultiplicativeLR"]


class _LambdaScheduler(LRScheduler):
    """A schedule given as one function of the epoch per parameter group (``lr_lambda``, or a list)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.optimizer = optimizer
        if not isinstance(lr_lambda, (list, tuple)):
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        elif len(lr_lambda) != len(optimizer.param_groups):
            raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
        else:
            self.lr_lambdas = list(lr_lambda)
        self._check_lambdas()
        super().__init__(optimizer, last_epoch)

    def _check_lambdas(self):
        pass

    def state_dict(self):
        """The state without the functions themselves (only callable objects' attributes are kept)."""
        return _state_apart(self, "lr_lambdas", [None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
                                                 for fn in self.lr_lambdas])

    def load_state_dict(self, state_dict):
        for fn, attrs in zip(self.lr_lambdas, _load_state_apart(self, state_dict, "lr_lambdas")):
            if attrs is not None:
                fn.__dict__.update(attrs)


class LambdaLR(_LambdaScheduler):
    """lr = base_lr * lr_lambda(epoch)."""

    def get_lr(self):
        self._warn_if_called_outside_step()
        return [base_lr * lmbda(self.last_epoch) for lmbda, base_lr in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaScheduler):
    """lr = lr * lr_lambda(epoch) at every step after the first."""

    def _check_lambdas(self):
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")

    def get_lr(self):
        self._warn_if_called_outside_step()
        if self._is_initial:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * lmbda(self.last_epoch)
                for lmbda, group in zip(self.lr_lambdas, self.optimizer.param_groups)]
