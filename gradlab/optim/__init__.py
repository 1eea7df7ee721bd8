"""Optimizers (as ``torch.optim``) and learning-rate schedulers (``optim.lr_scheduler``).

Each optimizer lives in its own file and writes its update rule once, on the
NumPy arrays behind the parameters, following PyTorch's documented algorithm.
"""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer, register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "ASGD", "RMSprop", "Rprop",
           "LBFGS", "SparseAdam", "NAdam", "RAdam", "lr_scheduler", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]
