"""``gradlab.profiler``, as ``torch.profiler``: the per-op profiler of
``gradlab.autograd.profiler`` under the newer API.

    from gradlab.profiler import profile, record_function, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with record_function("model_inference"):
            model(x)
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))
"""
import enum

from .autograd import profiler as _autograd_profiler
from .autograd.profiler import EventList, FunctionEventAvg, record_function

__all__ = ["profile", "record_function", "ProfilerActivity", "EventList", "FunctionEventAvg"]


class ProfilerActivity(enum.Enum):
    CPU = "CPU"
    CUDA = "CUDA"


class profile(_autograd_profiler.profile):
    """Profile the block on the CPU (the only activity gradlab has)."""

    def __init__(self, activities=None, record_shapes=False, profile_memory=False, with_stack=False,
                 **ignored):
        if activities is not None and any(a is not ProfilerActivity.CPU for a in activities):
            raise RuntimeError("profile: gradlab runs on the CPU only; activities must be [ProfilerActivity.CPU]")
        super().__init__(record_shapes=record_shapes, profile_memory=profile_memory, with_stack=with_stack)

    def step(self):
        """(For a schedule, in PyTorch; every step is recorded here.)"""
