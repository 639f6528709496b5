"""The command line: exit codes, messages on stderr, formats from -o, nothing lost."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SAMPLES, SNIPPETS

from gradviz.cli import cli
from gradviz.model import Graph


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_run_writes_json_named_by_suffix(runner: CliRunner, in_tmp: Path) -> None:
    code, out, err = run(runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "g.json")
    assert code == 0
    assert "Gradient of a:\ntensor([[1., 2.]])" in out  # the snippet's own prints, on stdout
    assert err.strip() == (
        "gradviz: wrote g.json (6 nodes: 2 leaves, 2 ops, 1 output; 1 backward pass)"
    )
    graph = Graph.from_json((in_tmp / "g.json").read_text())
    assert {n for node in graph.nodes for n in node.names} == {"a", "b", "c", "d"}


@pytest.mark.dot
def test_default_output_is_the_snippets_name_as_svg(runner: CliRunner, in_tmp: Path) -> None:
    code, _, _ = run(runner, "run", str(SAMPLES / "dynamic_graph.py"))
    assert code == 0
    assert (in_tmp / "dynamic_graph.svg").read_text().lstrip().startswith("<?xml")


def test_format_flag_wins_over_suffix(runner: CliRunner, in_tmp: Path) -> None:
    code, _, _ = run(runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "g.txt", "-f", "dot")
    assert code == 0
    assert (in_tmp / "g.txt").read_text().startswith("digraph gradviz {")


def test_missing_output_folder_is_created(runner: CliRunner, in_tmp: Path) -> None:
    code, _, _ = run(runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "a/b/g.json")
    assert code == 0 and (in_tmp / "a" / "b" / "g.json").exists()


def test_snippet_arguments_follow_a_double_dash(runner: CliRunner, in_tmp: Path) -> None:
    code, out, _ = run(runner, "run", str(SNIPPETS / "argv.py"), "-o", "g.json", "--", "3", "-o")
    assert code == 0 and "argv ['3', '-o']" in out
    graph = Graph.from_json((in_tmp / "g.json").read_text())
    assert graph.by_name("y").value is not None
    assert graph.by_name("y").value.data == (6.0,)


def test_target_option(runner: CliRunner, in_tmp: Path) -> None:
    code, _, _ = run(
        runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "g.json", "--target", "c"
    )
    assert code == 0
    graph = Graph.from_json((in_tmp / "g.json").read_text())
    assert [graph.node(i).names for i in graph.outputs] == [("c",)]


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["run", "nope.py"], 3, "gradviz: error: nope.py: no such file"),
        (["run", "."], 11, "is a folder"),
        (["run", str(SAMPLES / "autograd_basics.py"), "-o", "."], 7, ".: is a folder"),
        (["run", str(SAMPLES / "autograd_basics.py"), "-f", "svg", "-o", "."], 7, "is a folder"),
        (["run", str(SAMPLES / "autograd_basics.py"), "-o", "g.bmp"], 7, "'.bmp' is not an output"),
        (["run", str(SNIPPETS / "no_grad.py"), "-o", "g.json"], 5, "no tensor requires grad"),
        (
            ["run", str(SAMPLES / "autograd_basics.py"), "-o", "g.json", "--target", "zz"],
            8,
            "no tensor named 'zz'",
        ),
    ],
)
def test_errors_are_one_message_with_an_exit_code(
    runner: CliRunner, in_tmp: Path, args: list[str], exit_code: int, message: str
) -> None:
    code, _, err = run(runner, *args)
    assert code == exit_code
    assert message in err
    assert "Traceback" not in err
    assert err.startswith("gradviz: error: ")


def test_a_folder_as_output_is_refused_before_the_snippet_runs(
    runner: CliRunner, in_tmp: Path
) -> None:
    (in_tmp / "loud.py").write_text(
        "import torch\nprint('ran')\n"
        "x = torch.ones(2, requires_grad=True)\n(x * 2).sum().backward()\n"
    )
    (in_tmp / "pictures").mkdir()
    for command in (["run", "loud.py", "-f", "svg"], ["explain", "loud.py"], ["doctor", "loud.py"]):
        code, out, err = run(runner, *command, "-o", "pictures")
        assert code == 7 and out == "" and "pictures: is a folder" in err, command


def test_syntax_error_exit_code_and_location(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "bad.py").write_text("import torch\nx = torch.ones(2\n")
    code, _, err = run(runner, "run", "bad.py", "-o", "g.json")
    assert code == 4
    assert err.startswith("gradviz: error: bad.py:2:")
    assert "^" in err and "Traceback" not in err


def test_snippet_exception_shows_its_own_traceback_and_exits_1(
    runner: CliRunner, in_tmp: Path
) -> None:
    code, _, err = run(runner, "run", str(SNIPPETS / "raises.py"), "-o", "g.json")
    assert code == 1
    assert 'raises.py", line 5, in project' in err
    assert "gradviz/" not in err and "gradviz\\" not in err  # no frame of gradviz's own code
    assert "nothing was drawn (--partial draws the graph it had built)" in err
    assert not (in_tmp / "g.json").exists()


def test_a_snippet_from_slides_without_its_imports_gets_a_hint(
    runner: CliRunner, in_tmp: Path
) -> None:
    """The lecture's snippets leave out `import torch`; Python's NameError stays, with a hint."""
    (in_tmp / "slide.py").write_text("a = torch.tensor([2.0], requires_grad=True)\n")
    code, _, err = run(runner, "run", "slide.py", "-o", "g.svg")
    assert code == 1
    assert "NameError: name 'torch' is not defined" in err
    assert err.rstrip().endswith(
        "hint: the snippet uses torch without importing it: add "
        "`import torch` at its top (it runs as a script of its own, "
        "as with python)"
    )
    (in_tmp / "other.py").write_text("import torch\nprint(undefined_name)\n")
    code, _, err = run(runner, "run", "other.py", "-o", "g.svg")
    assert code == 1 and "hint:" not in err  # only the imports slides leave out
    assert not (in_tmp / "g.svg").exists()
    (in_tmp / "cell.py").write_text("import torch\ndisplay(torch.ones(2))\n")  # a notebook's
    code, _, err = run(runner, "run", "cell.py", "-o", "g.svg")
    assert code == 1 and err.rstrip().endswith(
        "hint: display() is Jupyter's, not Python's: a notebook's cells run here as a script, "
        "where print() shows a value"
    )


def test_a_package_the_snippet_imports_but_gradvizs_python_lacks_gets_a_hint(
    runner: CliRunner, in_tmp: Path
) -> None:
    """Tutorials plot with matplotlib; gradviz's own environment may not have it."""
    from gradviz.hints import hint_for

    (in_tmp / "plots.py").write_text("import torch\nimport no_such_plotting.pyplot\n")
    code, _, err = run(runner, "run", "plots.py", "-o", "g.svg")
    assert code == 1
    assert "ModuleNotFoundError: No module named 'no_such_plotting'" in err
    assert err.rstrip().endswith(
        "hint: no_such_plotting is not installed in the Python that runs gradviz; install it "
        f"there: {sys.executable} -m pip install no_such_plotting"
    )
    hint = hint_for("ModuleNotFoundError: No module named 'sklearn.datasets'\n")
    assert hint is not None and hint.endswith("-m pip install scikit-learn")


def test_a_first_models_shape_errors_get_a_hint(runner: CliRunner, in_tmp: Path) -> None:
    """torch's matrix-product error names no layer; the hint says which number is whose."""
    (in_tmp / "mlp.py").write_text(
        "import torch\nfrom torch import nn\nmodel = nn.Linear(2, 1)\nmodel(torch.ones(3, 784))\n"
    )
    code, _, err = run(runner, "run", "mlp.py", "-o", "g.svg")
    assert code == 1 and "mat1 and mat2 shapes cannot be multiplied (3x784 and 2x1)" in err
    assert "the layer expects 2 features and was given 784" in " ".join(err.split())
    (in_tmp / "bn.py").write_text(
        "import torch\nfrom torch import nn\nnn.BatchNorm1d(4)(torch.randn(1, 4))\n"
    )
    code, _, err = run(runner, "run", "bn.py", "-o", "g.svg")
    assert code == 1 and "call `model.eval()` to run a single one" in " ".join(err.split())
    from gradviz.hints import hint_for

    numpy = hint_for(
        "RuntimeError: mat1 and mat2 must have the same dtype, but got Double and Float"
    )
    assert numpy is not None and "float64 (NumPy's default)" in numpy
    labels = hint_for("IndexError: Target 10 is out of bounds.\n")
    assert labels is not None and "10 is outside them" in labels
    assert hint_for("RuntimeError: mat1 and mat2 must have the same dtype, but got Half") is None
    logits = hint_for("RuntimeError: all elements of input should be between 0 and 1\n")
    assert logits is not None and "use nn.BCEWithLogitsLoss on the logits" in logits
    rows = hint_for("ValueError: Expected input batch_size (64) to match target batch_size (32).")
    assert rows is not None and rows.startswith("the model gave 64 rows of scores for 32 targets")
    channels = hint_for(
        "RuntimeError: Given groups=1, weight of size [8, 3, 3, 3], expected input[1, 8, 8, 3] "
        "to have 3 channels, but got 8 channels instead"
    )
    assert channels is not None and "expects 3 channels in dim 1 of (N, C, H, W) and got 8" in (
        channels
    )
    flat = hint_for(
        "RuntimeError: Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input"
    )
    assert flat is not None and "`x.unsqueeze(0)`" in flat
    ids = hint_for(
        "RuntimeError: Expected tensor for argument #1 'indices' to have one of the following "
        "scalar types: Long, Int; but got torch.FloatTensor instead (while checking arguments "
        "for embedding)"
    )
    assert ids is not None and "pass `idx.long()`" in ids
    index = hint_for("IndexError: tensors used as indices must be long, int, byte or bool tensors")
    assert index is not None and "`log_probs[torch.arange(n), y.long()]`" in index
    empty = hint_for("ValueError: optimizer got an empty parameter list")
    assert empty is not None and "`model.parameters()` is a generator" in empty


def test_a_snippet_written_for_a_gpu_gets_a_hint_where_there_is_none(
    runner: CliRunner, in_tmp: Path
) -> None:
    """Colab notebooks call ``.cuda()``; on a laptop torch's error names no way out."""
    import torch

    from gradviz.hints import hint_for

    if torch.cuda.is_available():
        pytest.skip("the snippet's GPU is there")

    (in_tmp / "colab.py").write_text("import torch\nx = torch.ones(2, requires_grad=True).cuda()\n")
    code, _, err = run(runner, "run", "colab.py", "-o", "g.svg")
    assert code == 1 and not (in_tmp / "g.svg").exists()
    assert err.rstrip().endswith(
        "hint: this torch has no CUDA device, and the snippet asks for one: choose the device "
        "as tutorials do, `device = 'cuda' if torch.cuda.is_available() else 'cpu'`, and "
        "write `.to(device)` for `.cuda()`"
    )
    load = hint_for(
        "RuntimeError: Attempting to deserialize object on a CUDA device but "
        "torch.cuda.is_available() is False. If you are running on a CPU-only machine, ...\n"
    )
    assert load is not None and load.endswith("`torch.load(path, map_location='cpu')`")
    assert hint_for("RuntimeError: CUDA out of memory.\n") is None


@pytest.mark.filterwarnings("ignore:Error detected in")
def test_a_nan_that_anomaly_detection_stops_at_gets_a_hint_on_the_op(
    runner: CliRunner, in_tmp: Path
) -> None:
    """A distance of a point to itself: sqrt sends inf, and torch names the ``pow`` below
    it, the first function whose result is nan (2 × 0 × inf), with neither line nor why."""
    from gradviz.hints import hint_for

    (in_tmp / "dist.py").write_text(
        "import torch\n"
        "torch.autograd.set_detect_anomaly(True)\n"
        "x = torch.tensor([[0.0, 1.0], [0.0, 1.0]], requires_grad=True)\n"
        "d = ((x[0] - x[1]) ** 2).sum().sqrt()\n"
        "d.backward()\n"
    )
    code, _, err = run(runner, "run", "dist.py", "-o", "g.svg")
    assert code == 1 and not (in_tmp / "g.svg").exists()
    assert "Function 'PowBackward0' returned nan values" in err
    assert err.rstrip().endswith(
        "hint: anomaly detection stopped at pow's backward, the first to return nan (its line "
        "is under 'Traceback of forward call' above). Nan in backward is nearly always 0 × "
        "inf: a derivative that is infinite at 0 (sqrt, log, a division, x ** p with p < 1) "
        "met a zero, in that op or one after it. `gradviz doctor --partial` names the op that "
        "made the first non-finite gradient, and the usual fix"
    )
    other = hint_for(
        "RuntimeError: Function 'LinalgVectorNormBackward0' returned nan values in its 0th output."
    )
    assert other is not None and other.startswith("anomaly detection stopped at linalg_vector_norm")


@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
def test_a_grad_that_was_none_gets_a_hint_on_leaves(runner: CliRunner, in_tmp: Path) -> None:
    """``w = torch.randn(3, requires_grad=True) * 0.1`` then ``w -= lr * w.grad``: a
    TypeError about NoneType, far from its cause; an optimizer refuses such a ``w`` at
    once. Each gets the leaf rule and the fix. A NoneType error elsewhere gets nothing."""
    (in_tmp / "update.py").write_text(
        "import torch\n"
        "w = torch.randn(3, requires_grad=True) * 0.1\n"
        "(w * 2).sum().backward()\n"
        "with torch.no_grad():\n"
        "    w -= 0.1 * w.grad\n"
    )
    code, _, err = run(runner, "run", "update.py", "-o", "g.svg")
    assert code == 1 and "TypeError: unsupported operand type(s)" in err
    assert err.rstrip().endswith(
        "hint: a .grad this line reads was None: backward() has not reached that tensor "
        "yet, or it is not a leaf (an op's result, as `w = torch.randn(3, requires_grad=True) "
        "* 0.1` is: ask for the gradient last, `w = (torch.randn(3) * 0.1).requires_grad_()`); "
        "`gradviz doctor --partial` names such a tensor"
    )
    (in_tmp / "opt.py").write_text(
        "import torch\n"
        "w = torch.randn(3, requires_grad=True) * 0.1\n"
        "opt = torch.optim.SGD([w], lr=0.1)\n"
    )
    code, _, err = run(runner, "run", "opt.py", "-o", "g.svg")
    assert code == 1
    assert "hint: the optimizer was given a tensor that is not a leaf" in err
    (in_tmp / "other.py").write_text("import torch\nx = None\nprint(x + 1)\n")
    code, _, err = run(runner, "run", "other.py", "-o", "g.svg")
    assert code == 1 and "NoneType" in err and "hint:" not in err


@pytest.mark.parametrize(
    ("body", "error", "hint"),
    [
        (
            "w = torch.randn(3)\n(w ** 2).sum().backward()\n",
            "does not require grad and does not have a grad_fn",
            "nothing it was computed from requires grad, or it was computed under torch.no_grad()",
        ),
        (
            "w = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n"
            "    loss = (w ** 2).sum()\nloss.backward()\n",
            "does not require grad and does not have a grad_fn",
            "compute the loss outside no_grad",
        ),
        (
            "w = torch.randn(3, requires_grad=True)\nw += 1\n",
            "a leaf Variable that requires grad is being used in an in-place operation",
            "update it inside `with torch.no_grad():`",
        ),
        (
            "w = torch.randn(3, requires_grad=True)\ny = w.exp()\ny.add_(1)\ny.sum().backward()\n",
            "modified by an inplace operation",
            "write that line out of place (`x = x + ...`)",
        ),
        (
            "x = torch.tensor([1, 2, 3], requires_grad=True)\n",
            "Only Tensors of floating point and complex dtype can require gradients",
            "write 1.0 rather than 1",
        ),
        (
            "w = torch.randn(3, requires_grad=True)\n(w * 2).backward()\n",
            "grad can be implicitly created only for scalar outputs",
            "`y.backward(torch.ones_like(y))`",
        ),
        (
            "w = torch.randn(3, requires_grad=True)\nloss = (w ** 2).sum()\n"
            "loss.backward()\nloss.backward()\n",
            "Trying to backward through the graph a second time",
            ".detach() what one step hands the next (an RNN's hidden state)",
        ),
    ],
    ids=[
        "no-grad-anywhere",
        "under-no-grad",
        "leaf-in-place",
        "saved-in-place",
        "int",
        "non-scalar",
        "twice",
    ],
)
def test_autograds_own_errors_get_the_rule_and_the_fix(
    runner: CliRunner, in_tmp: Path, body: str, error: str, hint: str
) -> None:
    """The errors a lecture's audience meets first: torch's message stays as python
    prints it, and one hint line after it says what rule was broken and what to write."""
    (in_tmp / "mistake.py").write_text("import torch\n" + body)
    code, _, err = run(runner, "run", "mistake.py", "-o", "g.svg")
    assert code == 1 and error in err
    (last,) = [line for line in err.splitlines() if line.startswith("  hint: ")]
    assert hint in last and err.rstrip().endswith(last)
    assert not (in_tmp / "g.svg").exists()


@pytest.mark.parametrize("timeout", [[], ["--timeout", "60"]], ids=["here", "child"])
def test_a_lecture_notebook_is_drawn_and_explained(
    runner: CliRunner, in_tmp: Path, timeout: list[str]
) -> None:
    """The lecture's first example, as a notebook: markdown, a magic, two code cells. Its
    names, numbers and lines are those of its code, as the script it runs as reads."""
    import torch

    (in_tmp / "lecture.ipynb").write_text(
        json.dumps(
            {
                "cells": [
                    {"cell_type": "markdown", "metadata": {}, "source": ["# Autograd\n"]},
                    {
                        "cell_type": "code",
                        "execution_count": 1,
                        "metadata": {},
                        "outputs": [],
                        "source": [
                            "%matplotlib inline\n",
                            "import torch\n",
                            "a = torch.tensor([[2.0, 3.0]], requires_grad=True)\n",
                            "b = torch.tensor([[1.0, 2.0]], requires_grad=True)",
                        ],
                    },
                    {
                        "cell_type": "code",
                        "execution_count": 2,
                        "metadata": {},
                        "outputs": [],
                        "source": "c = a * b\nd = c.sum()\nd.backward()\na.grad",
                    },
                ],
                "metadata": {},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    code, _, err = run(runner, "run", "lecture.ipynb", "-o", "g.json", *timeout)
    assert code == 0, err
    g = Graph.from_json((in_tmp / "g.json").read_text())
    a, b = torch.tensor([[2.0, 3.0]]), torch.tensor([[1.0, 2.0]])
    assert g.by_name("a").grad is not None and g.by_name("a").grad.data == tuple(
        b.flatten().tolist()
    )
    assert g.by_name("b").grad is not None and g.by_name("b").grad.data == tuple(
        a.flatten().tolist()
    )
    c, d = g.by_name("c"), g.by_name("d")
    assert c.source is not None and c.source.code == "c = a * b"
    assert d.source is not None and d.source.code == "d = c.sum()"
    result = runner.invoke(cli, ["explain", "lecture.ipynb", "--width", "200"])
    assert result.exit_code == 0
    assert f"d = c.sum()  lecture.ipynb:{d.source.line}" in result.stdout


def test_partial_draws_what_was_built_and_still_exits_1(runner: CliRunner, in_tmp: Path) -> None:
    code, _, _ = run(runner, "run", str(SNIPPETS / "raises.py"), "-o", "g.json", "--partial")
    assert code == 1
    graph = Graph.from_json((in_tmp / "g.json").read_text())
    assert graph.meta.partial and graph.by_name("h").kind == "output"


def test_system_exit_code_is_passed_on_after_writing(runner: CliRunner, in_tmp: Path) -> None:
    code, _, _ = run(runner, "run", str(SNIPPETS / "exits.py"), "-o", "g.json")
    assert code == 3
    assert json.loads((in_tmp / "g.json").read_text())["schema"] == "gradviz.graph"


def test_output_that_is_the_snippet_is_refused(runner: CliRunner, in_tmp: Path) -> None:
    snippet = in_tmp / "s.py"
    shutil.copy(SAMPLES / "autograd_basics.py", snippet)
    before = snippet.read_bytes()
    code, _, err = run(runner, "run", "s.py", "-o", "s.py", "-f", "json")
    assert code == 7 and "refusing to overwrite" in err
    assert snippet.read_bytes() == before


def test_missing_dot_fails_fast_but_dot_and_json_still_work(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(in_tmp))
    code, out, err = run(runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "g.svg")
    assert code == 6
    assert "'dot' program is not installed" in err and "apt-get install graphviz" in err
    assert out == ""  # it failed before running the snippet
    code, _, _ = run(runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "g.dot")
    assert code == 0 and (in_tmp / "g.dot").exists()


@pytest.mark.dot
def test_failing_dot_keeps_the_dot_source(runner: CliRunner, in_tmp: Path, fake_dot: Any) -> None:
    fake_dot("echo 'Error: out of memory' >&2\nexit 1")
    (in_tmp / "g.svg").write_text("old picture")
    code, _, err = run(runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "g.svg")
    assert code == 6
    assert "dot failed: Error: out of memory" in err
    assert "written to g.dot" in err
    assert (in_tmp / "g.dot").read_text().startswith("digraph gradviz {")
    assert (in_tmp / "g.svg").read_text() == "old picture"  # not truncated, not replaced
    assert not list(in_tmp.glob(".g.svg.*"))  # no temporary file left behind


def test_help_lists_the_commands(runner: CliRunner) -> None:
    code, out, _ = run(runner, "--help")
    assert code == 0 and "run" in out
    code, out, _ = run(runner, "run", "--help")
    assert code == 0 and "--target" in out and "--direction" in out


def test_every_format_can_be_named_with_f() -> None:
    from gradviz.cli import FORMAT_NAMES
    from gradviz.renderers import FORMATS

    assert [f.name for f in FORMATS] == FORMAT_NAMES


@pytest.mark.dot
def test_html_by_name(runner: CliRunner, in_tmp: Path) -> None:
    code, _, _ = run(runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "page", "-f", "html")
    assert code == 0 and (in_tmp / "page").read_text().startswith("<!DOCTYPE html>")


def test_what_could_not_be_recorded_is_said(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gradviz.torchcapture.recorder as recorder

    real = recorder.to_data

    def flaky(t: Any, memo: Any = None) -> Any:
        if tuple(t.shape) == (1, 2) and t.grad_fn is not None:
            raise RuntimeError("cannot read this tensor")
        return real(t, memo)

    monkeypatch.setattr(recorder, "to_data", flaky)
    monkeypatch.setenv("GRADVIZ_DEBUG", "1")
    code, _, err = run(runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "g.json")
    assert code == 0
    assert "gradviz: note: the recorder failed 2 time(s)" in err  # when made, and when used
    assert "mul: RuntimeError('cannot read this tensor')" in err
    graph = Graph.from_json((in_tmp / "g.json").read_text())
    # not invented: mul is run again on the values of a and b (recompute.py)
    c = graph.by_name("c").value
    assert c is not None and c.data == (2.0, 6.0)
    assert graph.by_name("d").value is not None


LONG_TRAINING = """\
import torch
torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
try:
    for step in range(10_000):
        opt.zero_grad()
        loss = (w * torch.arange(3.0)).sin().sum()
        try:
            loss.backward()
        except Exception:  # the snippet's own handler must not swallow the stop
            print("swallowed")
        opt.step()
        print("step", step)
finally:
    print("cleanup")
"""


@pytest.mark.parametrize("timeout", [[], ["--timeout", "60"]], ids=["here", "child"])
def test_stop_after_ends_a_training_script_after_that_backward_pass(
    runner: CliRunner, in_tmp: Path, timeout: list[str]
) -> None:
    import torch

    (in_tmp / "train.py").write_text(LONG_TRAINING)
    code, out, err = run(runner, "run", "train.py", "-o", "g.json", "--stop-after", "2", *timeout)
    assert code == 0
    if not timeout:  # (the child's prints go straight to the terminal)
        assert out == "step 0\ncleanup\n"  # its finally ran; the second step ended in backward
    assert "gradviz: ended train.py after its backward pass 2 (--stop-after)" in err
    graph = Graph.from_json((in_tmp / "g.json").read_text())
    (w,) = [n for n in graph.nodes if n.names == ("w",)]
    torch.manual_seed(0)  # plain torch: one SGD step, then the second pass's gradient
    x = torch.randn(3, requires_grad=True)
    (x * torch.arange(3.0)).sin().sum().backward()
    with torch.no_grad():
        x -= 0.1 * x.grad
    x.grad = None
    (x * torch.arange(3.0)).sin().sum().backward()
    assert w.value is not None and w.grad is not None and x.grad is not None
    assert w.value.data == pytest.approx(x.detach().tolist())
    assert w.grad.data == pytest.approx(x.grad.tolist())


def test_a_slow_run_of_many_passes_suggests_stop_after(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A training loop runs whole, every step recorded, for a picture of the last one:
    once that takes a while, gradviz says how to end it sooner (and is quiet otherwise)."""
    import gradviz.cli

    (in_tmp / "train.py").write_text(LONG_TRAINING.replace("10_000", "30"))
    code, _, err = run(runner, "run", "train.py", "-o", "g.json")
    assert code == 0 and "--stop-after" not in err  # quick: nothing to say
    monkeypatch.setattr(gradviz.cli, "SLOW_RUN_S", 0.0)
    code, _, err = run(runner, "run", "train.py", "-o", "g.json")
    assert code == 0
    assert "gradviz: note: the snippet ran 30 backward passes in " in err
    assert "the picture shows the last. --stop-after 1 ends a run after its first pass" in err
    code, _, err = run(runner, "run", "train.py", "-o", "g.json", "--stop-after", "3")
    assert code == 0 and "the picture shows the last" not in err


CLIPPED = """\
import torch
import torch.nn as nn
torch.manual_seed(0)
model = nn.Linear(30, 10)  # a weight of 300: compared on a few elements
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    opt.zero_grad()
    loss = model(torch.randn(4, 30)).pow(2).mean() * 100
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=MAX)
    opt.step()
print(model.bias.grad)
"""


@pytest.mark.parametrize("timeout", [[], ["--timeout", "60"]], ids=["here", "child"])
def test_gradients_changed_after_backward_are_noted(
    runner: CliRunner, in_tmp: Path, timeout: list[str]
) -> None:
    """clip_grad_norm_ rewrites .grad after backward: the picture shows backward's
    numbers, and says that the .grad the snippet printed is another."""
    import torch

    (in_tmp / "clip.py").write_text(CLIPPED.replace("MAX", "0.01"))
    code, _, err = run(runner, "run", "clip.py", "-o", "g.json", *timeout)
    assert code == 0
    assert re.search(r"note: model\.(weight|bias)\.grad and 1 more changed after the backward", err)
    graph = Graph.from_json((in_tmp / "g.json").read_text())
    bias = graph.by_name("model.bias")
    assert bias.grad is not None and bias.grad.data is not None
    torch.manual_seed(0)  # plain torch: the second step's gradient, before clipping
    model = torch.nn.Linear(30, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        (model(torch.randn(4, 30)).pow(2).mean() * 100).backward()
        unclipped = model.bias.grad.tolist()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.01)
        opt.step()
    assert bias.grad.data == pytest.approx(unclipped)
    (in_tmp / "kept.py").write_text(CLIPPED.replace("MAX", "1e9"))  # no clipping happens
    code, _, err = run(runner, "run", "kept.py", "-o", "g.json", *timeout)
    assert code == 0 and "changed after the backward pass" not in err


def test_stop_after_counts_autograd_grad_passes_and_works_for_explain(
    runner: CliRunner, in_tmp: Path
) -> None:
    """The pass that ended the snippet assigned nothing: ``g`` names no tensor."""
    (in_tmp / "grads.py").write_text(
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\n"
        "for k in range(5):\n"
        "    (g,) = torch.autograd.grad(x ** 3, x)\n"
        "    print(k, g.item())\n"
    )
    code, out, err = run(runner, "explain", "grads.py", "--stop-after", "1", "--width", "200")
    assert code == 0 and "0 12.0" not in out  # ended before its first print
    assert "torch.autograd.grad() on pow(x) at grads.py:4" in out
    assert "x  leaf  scalar  value 2.  grad 12." in out
    assert "after its backward pass 1" in err
