"""Every Python example in README.md runs as printed."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that save files write them here, not into the checkout
    exec(compile(BLOCKS[index], f"README.md example {index + 1}", "exec"), {"__name__": "readme"})


def test_the_tour_prints_what_the_readme_says(capsys):
    tour = next(b for b in BLOCKS if "out.backward()" in b)
    exec(compile(tour, "README.md tour", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "tensor(142., grad_fn=<DotBackward0>)"
    assert printed[1] == "tensor([12., 20., 30.])"
