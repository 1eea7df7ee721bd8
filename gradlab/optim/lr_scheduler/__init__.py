"""Learning-rate schedulers (as ``torch.optim.lr_scheduler``).

A scheduler rewrites ``group["lr"]`` of its optimizer's parameter groups each
time ``scheduler.step()`` is called (usually once per epoch, after
``optimizer.step()``). Creating one already takes the first step, so that the
optimizer starts at the schedule's epoch-0 learning rate.

Most schedules are written, as in PyTorch, in "chainable" form: the new rate is
computed from the current ``group["lr"]``, so that two schedulers can act on the
same optimizer. Passing an explicit epoch to ``step(epoch)`` uses the closed
form instead (deprecated in PyTorch, kept for old code).

One file per kind of schedule: ``base`` (LRScheduler), ``lambda_lr``, ``decay``
(step, multistep, exponential, polynomial), ``warmup`` (constant, linear),
``cosine``, ``cyclic`` (cyclic, one-cycle), ``plateau`` and ``composite``
(sequential, chained).
"""
from .base import EPOCH_DEPRECATION_WARNING, LRScheduler, _LRScheduler
from .composite import ChainedScheduler, SequentialLR
from .cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from .cyclic import CyclicLR, OneCycleLR
from .decay import ExponentialLR, MultiStepLR, PolynomialLR, StepLR
from .lambda_lr import LambdaLR, MultiplicativeLR
from .plateau import ReduceLROnPlateau
from .warmup import ConstantLR, LinearLR

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "SequentialLR", "PolynomialLR", "CosineAnnealingLR", "ChainedScheduler",
           "ReduceLROnPlateau", "CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR"]
