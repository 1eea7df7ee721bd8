"""The notebooks of docs/notebooks/ run end to end, and the outputs stored in them are complete.

Each notebook is executed in a fresh kernel with nbclient, from its own folder (so that relative
paths work) and with GRADLAB_NOTEBOOK_QUICK=1 (the training notebook then runs on 2,000 images).
The stored copies are not rewritten: regenerate them without the quick flag, with
``jupyter execute --inplace docs/notebooks/*.ipynb`` (nbclient's command) or Jupyter's
"Restart & Run All".  Needs the [notebooks] extra (nbclient, nbformat, ipykernel, matplotlib);
skips without it.
"""
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "docs" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_six_notebooks_are_there():
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert numbers == ["01", "02", "03", "04", "05", "06"], [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("GRADLAB_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # the kernel imports this tree's gradlab, whatever the test process was started with
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(str(path), as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    executed = _code_cells(nb)
    assert executed and all(c["execution_count"] is not None for c in executed)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_read_well(path):
    nb = _load(path)
    cells = nb["cells"]
    assert 10 <= len(cells) <= 20, f"{path.name}: {len(cells)} cells, a notebook here has 10 to 20"
    code = _code_cells(nb)
    counts = [c["execution_count"] for c in code]
    # executed top to bottom in one kernel: 1, 2, 3, ...
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: stored execution counts {counts}"
    for c in code:
        kinds = [o["output_type"] for o in c["outputs"]]
        assert "error" not in kinds, f"{path.name}: a stored output is an error:\n{''.join(c['source'])}"
        text = json.dumps(c["outputs"])
        assert "/work/" not in text and "Warning:" not in text, f"{path.name}: a stored output shows a " \
            f"local path or a warning:\n{''.join(c['source'])}"
    assert sum(bool(c["outputs"]) for c in code) >= len(code) // 2, f"{path.name}: most cells show nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_links_between_notebooks_resolve(path):
    text = "".join("".join(c["source"]) for c in _load(path)["cells"] if c["cell_type"] == "markdown")
    for target in re.findall(r"\]\(([^)#]+\.ipynb)\)", text):
        assert (NOTEBOOK_DIR / target).exists(), f"{path.name} links to {target}, which does not exist"
