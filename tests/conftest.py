"""Shared test setup: hypothesis profiles and the location of the MNIST files.

Profiles: ``ci`` (the default: bounded examples, no deadline) and ``fuzz``
(thousands of examples), chosen with GRADLAB_HYPOTHESIS_PROFILE=fuzz.
Slow tests (full MNIST training, long runs) run only with GRADLAB_SLOW=1.
"""
import os
import pathlib

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("fuzz", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("GRADLAB_HYPOTHESIS_PROFILE", "ci"))

ROOT = pathlib.Path(__file__).resolve().parent.parent
MNIST_DIR = pathlib.Path(os.environ.get("GRADLAB_MNIST", ROOT.parent / "shared" / "mnist"))


@pytest.fixture
def mnist_dir():
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST files not found in {MNIST_DIR}")
    return MNIST_DIR


def pytest_collection_modifyitems(config, items):
    if os.environ.get("GRADLAB_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set GRADLAB_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
