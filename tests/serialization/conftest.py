import pytest


@pytest.fixture
def torch():
    """PyTorch, for the cross-checks; the test is skipped where it is not installed."""
    return pytest.importorskip("torch")
