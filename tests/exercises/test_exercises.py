"""gradlab exercises: the stubs, the grading of the reference solutions (all pass), of untouched stubs (not
started), of wrong answers (each caught with its index and values), and of code that hangs or crashes."""
import ast
import pathlib
import re
import shutil

import pytest

pytest.importorskip("hypothesis")

from gradlab import exercises  # noqa: E402
from gradlab.cli import main  # noqa: E402

SOLUTIONS = pathlib.Path(__file__).parent / "solutions"
NAMES = [n for n, _ in exercises.names()]


def test_at_least_ten_exercises_from_small_to_large():
    assert len(NAMES) >= 10
    for needed in ("mul_backward", "div_backward", "sum_to", "matmul_backward", "relu_backward",
                   "sigmoid_backward", "softmax_cross_entropy_backward", "topological_order", "im2col",
                   "conv2d_backward", "max_pool2d_backward", "sgd_momentum", "adam"):
        assert needed in NAMES


def test_new_writes_stubs_and_never_overwrites(tmp_path):
    written, kept = exercises.new(tmp_path)
    assert len(written) == len(NAMES) and kept == []
    for name in NAMES:
        source = (tmp_path / f"{name}.py").read_text()
        tree = ast.parse(source)
        assert ast.get_docstring(tree) and "NotImplementedError" in source
        assert any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body)
    (tmp_path / "mul_backward.py").write_text("# my work\n")
    written, kept = exercises.new(tmp_path)
    assert written == [] and len(kept) == len(NAMES)
    assert (tmp_path / "mul_backward.py").read_text() == "# my work\n"


def test_the_reference_solutions_pass(capsys):
    assert main(["exercises", "check", str(SOLUTIONS)]) == 0
    out = capsys.readouterr().out
    assert out.count("passed") == len(NAMES), out


def test_untouched_stubs_are_not_started(tmp_path, capsys):
    exercises.new(tmp_path)
    results = exercises.check(tmp_path, ["mul_backward", "im2col"])
    assert [s for _, s, _ in results] == ["not started", "not started"]
    assert main(["exercises", "check", str(tmp_path), "sum_to"]) == 1


WRONG = {
    "mul_backward": "def mul_backward(g, a, b):\n    return g * a, g * b\n",
    "sum_to": "def sum_to(g, shape):\n    return g.sum(axis=0).reshape(shape) if g.ndim else g\n",
    "relu_backward": "def relu_backward(g, x):\n    return (g * (x >= 0) + 0.0 * x + (x < -1),)\n",
    "sgd_momentum": "def sgd_momentum(p, grad, buf, lr, momentum):\n    buf = momentum * buf + grad\n"
                    "    return p + lr * buf, buf\n",
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_answers_are_caught_with_index_and_values(tmp_path, name):
    (tmp_path / f"{name}.py").write_text("import numpy as np\n\n" + WRONG[name])
    [(_, status, detail)] = exercises.check(tmp_path, [name])
    assert status == "wrong", detail
    assert re.search(r"(first wrong index \(.*\): expected .*, got )|(shape .*, expected)|raised", detail), detail
    assert "smallest failing input" in detail


def test_hanging_and_crashing_answers_are_stopped_and_reported(tmp_path):
    (tmp_path / "mul_backward.py").write_text("def mul_backward(g, a, b):\n    while True:\n        pass\n")
    (tmp_path / "sum_to.py").write_text("import os\n\ndef sum_to(g, shape):\n    os.abort()\n")
    results = dict((n, (s, d)) for n, s, d in exercises.check(tmp_path, ["mul_backward", "sum_to"], time_limit=20))
    assert results["mul_backward"][0] == "timed out"
    assert results["sum_to"][0] == "crashed"


def test_unknown_names_and_folders_are_user_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["exercises", "check", str(tmp_path), "no_such_exercise"])
    assert exc.value.code == 2 and "no exercise named no_such_exercise" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["exercises", "check", str(tmp_path / "absent")])


def test_list_names_every_exercise(capsys):
    assert main(["exercises", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in NAMES)


def test_a_learner_copy_of_a_solution_passes(tmp_path):
    shutil.copy(SOLUTIONS / "im2col.py", tmp_path / "im2col.py")
    assert exercises.check(tmp_path, ["im2col"])[0][1] == "passed"
