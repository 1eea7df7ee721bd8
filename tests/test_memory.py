"""gradlab/_memory.py: freed memory stays in the process on glibc, unless GRADLAB_MALLOC=0 says not to."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradlab import _memory

ROOT = Path(__file__).resolve().parent.parent

# Two 8 MiB arrays made and freed ten times: the minor page faults this costs, and what gradlab set.
CHILD = """
import resource, numpy as np, gradlab
def faults(n):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        a = np.ones(n, dtype=np.uint8); b = np.ones(n, dtype=np.uint8); del a, b
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults(8 << 20)   # the first round maps the pages in any case
print(sorted(gradlab._memory.applied.items()), faults(8 << 20))
"""

glibc_only = pytest.mark.skipif(_memory._glibc() is None, reason="the policy is set on glibc only")


def run_child(**env):
    environ = {k: v for k, v in os.environ.items()
               if k not in ("GRADLAB_MALLOC",) + _memory._USER_SETTINGS}
    environ.update(env, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=environ, check=True)
    applied, faults = out.stdout.rsplit(" ", 1)
    return eval(applied), int(faults)


@glibc_only
def test_freed_arrays_are_reused_without_new_page_faults():
    applied, faults = run_child()
    assert applied == [("M_MMAP_THRESHOLD", _memory.MMAP_THRESHOLD), ("M_TRIM_THRESHOLD", _memory.TRIM_THRESHOLD)]
    assert faults < 100      # 10 x 2 x 8 MiB would be 40,960 pages if each were mapped afresh


@glibc_only
def test_gradlab_malloc_0_leaves_malloc_alone():
    applied, faults = run_child(GRADLAB_MALLOC="0")
    assert applied == []
    assert faults > 5000     # glibc's defaults: each 8 MiB array is mmapped and faulted in again


@glibc_only
def test_the_users_own_malloc_settings_win():
    applied, _ = run_child(MALLOC_TRIM_THRESHOLD_="1000000")
    assert applied == []


def test_no_op_where_the_c_library_is_not_glibc(monkeypatch):
    monkeypatch.setattr(_memory, "_glibc", lambda: None)
    monkeypatch.setattr(_memory, "applied", {})
    assert _memory.apply({}) == {}
