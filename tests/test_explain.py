"""`gradviz explain`: the chain rule node by node, with this run's names and numbers."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SAMPLES, SNIPPETS, Golden
from helpers import graph_of
from rich.console import Console

from gradviz.cli import cli
from gradviz.explain.formula import render_formula
from gradviz.explain.story import TOLD_BY_DEFAULT, tell
from gradviz.renderers.tree import story_renderable


def plain(path: Path, depth: int | None = None, width: int = 80) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False, emoji=False)
    console.print(story_renderable(tell(graph_of(path), depth), width))
    return buffer.getvalue()


def told(tmp_path: Path, name: str, source: str, width: int = 200) -> str:
    """The story of ``source`` (written to ``name``) as one line of words: what the tests
    look for does not depend on where a wide line wrapped."""
    snippet = tmp_path / name
    snippet.write_text(source)
    return " ".join(plain(snippet, width=width).split())


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.py")), ids=lambda p: p.stem)
def test_samples_match_their_golden_trees(path: Path, golden: Golden) -> None:
    deep = path.stem in {"vanishing_sigmoid", "exploding_rnn", "attention_head"}  # small goldens
    golden.check(f"{path.stem}.tree.txt", plain(path, depth=3 if deep else None))


def test_lecture_example_walks_the_chain_rule_with_numbers() -> None:
    text = plain(SAMPLES / "autograd_basics.py")
    assert "backward() on d at autograd_basics.py:14" in text
    assert "d = c.sum()  autograd_basics.py:11  output  sum  scalar  value 8.  grad 1." in text
    assert "c = a * b  autograd_basics.py:10  mul  1×2\n" in text  # too long: numbers below
    assert "value [[2., 6.]]  grad [[1., 1.]]" in text
    assert "∂c/∂a = b = [[1., 2.]]" in text
    assert "a.grad = c.grad * b = [[1., 2.]]" in text
    assert "∂c/∂b = a = [[2., 3.]]" in text
    assert "b.grad = c.grad * a = [[2., 3.]]" in text
    assert "c.grad = expand_as(d.grad, c) = [[1., 1.]]" in text
    # a tree: d at the top, c under it, a and b under c
    lines = text.splitlines()
    order = [
        next(i for i, line in enumerate(lines) if marker in line)
        for marker in ("d = c.sum()", "c = a * b  autograd", "── a  leaf", "── b  leaf")
    ]
    assert order == sorted(order)


def test_a_tensor_used_three_times_is_told_once_and_its_uses_add_up() -> None:
    text = plain(SNIPPETS / "reuse.py")
    assert text.count("x  leaf") == 1
    assert text.count("x  (see above)") == 2
    assert "x is used 3 times; x.grad = 1. + 3. + 3. = 7." in text
    assert text.count("x.grad += ") == 3


def test_accumulation_says_which_pass_gave_what() -> None:
    text = plain(SAMPLES / "grad_accumulation.py")
    assert "2 backward passes add into the same .grad:" in text
    assert "pass 1: backward() on first at grad_accumulation.py:8" in text
    assert "pass 2: backward() on second at grad_accumulation.py:12" in text
    assert "w.grad = [3., 4.] (pass 1) + [2., -4.] (pass 2) = [5., 0.]" in " ".join(text.split())
    assert "w.grad += pow(w).grad * 2 * w = [2., -4.]" in text


def test_backward_then_autograd_grad_claims_no_sum(tmp_path: Path) -> None:
    """autograd.grad() writes no .grad: a leaf's uses in two kinds of pass do not add up."""
    snippet = tmp_path / "mixed.py"
    snippet.write_text(
        "import torch\nx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
        "y = x * 2\ny.backward(torch.tensor([0.1, 1.0, 0.5]))\n"
        "z = (x ** 2).sum()\n(gx,) = torch.autograd.grad(z, x)\n"
    )
    text = " ".join(plain(snippet).split())
    assert "2 passes are shown:" in text and "add into the same .grad" not in text
    assert "x is used 2 times" not in text  # no "x.grad = a (pass 1) + b (pass 2)"
    assert "x.grad += pow(x).grad * 2 * x = [2., 4., 6.]" in text  # what grad() returned
    assert "x.grad += y.grad * 2 = [2., 4., 6.]" not in text


def test_passes_over_separate_graphs_are_not_said_to_add_up(tmp_path: Path) -> None:
    """Two losses over leaves they do not share: both passes are shown, and no .grad
    holds a sum of the two."""
    snippet = tmp_path / "two.py"
    snippet.write_text(
        "import torch\nw = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "v = torch.tensor([3.0], requires_grad=True)\n"
        "a = (w * 2).sum()\na.backward()\nb = (v ** 2).sum()\nb.backward()\n"
    )
    text = " ".join(plain(snippet).split())
    assert "2 backward passes are shown:" in text and "add into the same" not in text
    assert "pass 1: backward() on a at two.py:5" in text
    assert "pass 2: backward() on b at two.py:7" in text


def test_earlier_passes_reset_by_zero_grad_are_said_to_be_hidden() -> None:
    text = plain(SNIPPETS / "training_loop.py")
    assert "3 earlier backward passes are not shown" in text


def test_scalar_graphs_show_the_formulas_with_the_numbers_put_in() -> None:
    text = plain(SNIPPETS / "scalar_neuron.py", width=120)
    assert "∂s/∂mul(w, x) = s * (1 - s) = 0.1192 * (1 - 0.1192) = 0.105" in text
    assert (
        "mul(w, x).grad = s.grad * s * (1 - s) = (-1.762) * 0.1192 * (1 - 0.1192) = -0.185" in text
    )
    assert "x.grad = mul(w, x).grad * w = (-0.185) * (-2.) = 0.3699" in text
    assert "∂loss/∂sub(s) = 2 * sub(s) = 2 * (-0.8808) = -1.762" in text


def test_without_backward_gradients_read_not_computed() -> None:
    text = plain(SAMPLES / "dynamic_graph.py")
    assert "No backward pass ran" in text
    assert "value 6.  grad not computed" in text
    assert "grad 0" not in text


def test_depth_limits_the_levels_and_counts_what_it_left_out() -> None:
    text = plain(SAMPLES / "dynamic_graph.py", depth=0)
    assert "x  leaf" not in text
    assert "… 2 more tensors below depth 0" in text
    assert "more tensors" not in plain(SAMPLES / "dynamic_graph.py", depth=1)


def test_ops_without_a_rule_say_so_and_show_what_flowed(tmp_path: Path) -> None:
    text = told(
        tmp_path,
        "norule.py",
        "import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "y = torch.special.i0(x).sum()\ny.backward()\n",
    )
    assert "gradviz has no rule for I0Backward0; x.grad got [0.5652, 1.591]" in text
    custom = " ".join(plain(SNIPPETS / "custom_function.py", width=200).split())
    assert (
        "Square: a custom autograd.Function, whose backward() is its own code; "
        "x.grad got [2., -4.]" in custom
    )


def test_tensors_sharing_a_name_are_numbered_in_the_order_they_were_made(tmp_path: Path) -> None:
    """``x = self.fc1(x)``, ``x = F.relu(x)``, ``x = self.fc2(x)``: every tutorial's forward.
    ``relu: x = max(x, 0)`` would say nothing; the constant input ``x`` keeps its name."""
    text = told(
        tmp_path,
        "net.py",
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
        "torch.manual_seed(0)\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc1 = nn.Linear(3, 4)\n"
        "        self.fc2 = nn.Linear(4, 1)\n"
        "    def forward(self, x):\n"
        "        x = self.fc1(x)\n"
        "        x = F.relu(x)\n"
        "        x = self.fc2(x)\n"
        "        return x\n"
        "net = Net()\n"
        "loss = net(torch.ones(2, 3)).pow(2).mean()\n"
        "loss.backward()\n",
    )
    assert "── x#3 x = self.fc2(x) net.py:13 addmm in net.fc2: Linear" in text
    assert "── x#2 x = F.relu(x) net.py:12 relu in net: Net" in text
    assert "── x#1 x = self.fc1(x) net.py:11 addmm in net.fc1: Linear" in text
    assert "relu: x#2 = max(x#1, 0)" in text and "∂x#2/∂x#1 = x#2 > 0" in text
    assert "x#1.grad = x#2.grad * (x#2 > 0) = [[0., 0., -0.04351, 0.]," in text
    assert "addmm: x#3 = net.fc2.bias + x#2 @ t(net.fc2.weight)" in text
    assert "addmm: x#1 = net.fc1.bias + x @ t(net.fc1.weight)" in text
    assert "mean: loss = sum(pow(x#3))" in text and "x#4" not in text


def test_an_in_place_write_into_a_slice_is_told_in_words() -> None:
    """CopySlices saves nothing a formula could use: it is told in words, with what
    flowed (the first element was written over: it gets nothing)."""
    text = " ".join(plain(SNIPPETS / "views.py", width=400).split())
    assert (
        "copy_slices: an in-place write into part of a tensor (y[0] = v); the part written "
        "gets no gradient from what was there before, the rest passes through; "
        "mul(x).grad got [0., 4., 6., 8.]" in text
    )


def test_fused_attention_is_told_in_words_and_group_norm_by_its_rule(tmp_path: Path) -> None:
    text = told(
        tmp_path,
        "fused.py",
        "import torch\nimport torch.nn.functional as F\ntorch.manual_seed(0)\n"
        "q = torch.randn(1, 2, 3, 4, requires_grad=True)\n"
        "o = F.scaled_dot_product_attention(q, q, q)\n"
        "g = torch.nn.GroupNorm(2, 2)(o)\n"
        "loss = g.pow(2).sum()\nloss.backward()\n",
        width=400,
    )
    assert "attention fused into one node, softmax(q @ k.T * scale) @ v" in text
    assert "native_group_norm: g = GroupNorm.weight * xhat_g(o, " in text
    assert "xhat_g the input normalized within its group of channels" in text
    assert "no rule" not in text


def test_a_condition_on_a_number_holds_whatever_its_type(tmp_path: Path) -> None:
    """F.normalize saves ord=2.0, the norm's rule assumes ord=2: the same number."""
    text = told(
        tmp_path,
        "normalize.py",
        "import torch\nimport torch.nn.functional as F\n"
        "x = torch.tensor([[3.0, 4.0]], requires_grad=True)\n"
        "loss = F.normalize(x, dim=1)[0, 0]\nloss.backward()\n",
        width=400,
    )
    assert "rule assumes" not in text
    assert "linalg_vector_norm: linalg_vector_norm(x) = sqrt(sum(x ** 2, (1,)))" in text


def test_a_loss_given_probabilities_is_told_at_the_end(tmp_path: Path) -> None:
    text = told(
        tmp_path,
        "squashed.py",
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))\n"
        "loss = nn.CrossEntropyLoss()(model(torch.randn(2, 4)), torch.tensor([0, 2]))\n"
        "loss.backward()\n",
    )
    assert "Gradient health: squashed twice cross_entropy at line 5 is given the output" in text


def test_a_summed_loss_is_told_with_its_own_rule() -> None:
    text = " ".join(plain(SNIPPETS / "mse_sum.py").split())
    assert "mse_loss: loss = sum((p - [0., 0.]) ** 2)" in text
    assert "p.grad = 2 * (p - [0., 0.]) * loss.grad = [2., 4.]" in text


def test_a_rule_that_does_not_apply_says_why(tmp_path: Path) -> None:
    text = told(
        tmp_path,
        "weighted.py",
        "import torch\n"
        "x = torch.tensor([[0.0, 1.0]], requires_grad=True)\n"
        "d = torch.cdist(x, torch.tensor([[2.0, 3.0]]), p=1.0)\n"
        "d.sum().backward()\n",
    )
    assert "cdist: its rule assumes p=2.0, this one has p=1.0; x.grad got [[-1., -1.]]" in text


def test_a_weighted_loss_is_told_with_its_own_rule(tmp_path: Path) -> None:
    """pos_weight for imbalanced labels: each positive target counts that many times."""
    text = told(
        tmp_path,
        "weighted.py",
        "import torch\n"
        "x = torch.tensor([1.0, -2.0], requires_grad=True)\n"
        "pw = torch.tensor([3.0, 3.0])\n"
        "bce = torch.nn.functional.binary_cross_entropy_with_logits\n"
        "loss = bce(x, torch.tensor([1.0, 0.0]), pos_weight=pw)\n"
        "loss.backward()\n",
    )
    assert "loss = mean(bce(sigmoid(x), [1., 0.], pw))" in text
    assert (
        "x.grad = loss.grad * ((pw * [1., 0.] + 1 - [1., 0.]) * sigmoid(x) - pw * [1., 0.]) "
        "/ numel(x) = [-0.4034, 0.0596]"
    ) in text


def test_autograd_grad_pass_is_named() -> None:
    text = plain(SNIPPETS / "autograd_grad.py", width=120)
    assert "earlier backward passes" not in text
    assert "torch.autograd.grad() on y" in text and ".grad is not written" in text
    assert "x.grad = pow(x).grad * 3 * x ** 2 = [3., 12., 27.]" in text


def test_saved_tensors_outside_the_graph_use_the_snippets_names() -> None:
    text = plain(SAMPLES / "mlp_step.py", width=120)
    assert "mse_loss: loss = mean((prediction - y) ** 2)" in text
    assert "x @ t(model.0.weight)" in text


def test_cli_prints_plain_text_when_not_a_terminal(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["explain", str(SAMPLES / "autograd_basics.py")])
    assert result.exit_code == 0
    assert "\x1b[" not in result.stdout
    assert "a.grad = c.grad * b = [[1., 2.]]" in result.stdout
    assert result.stdout.startswith("Gradient of a:")  # the snippet's own prints come first


def test_cli_width_and_no_color(runner: CliRunner) -> None:
    wide = runner.invoke(
        cli, ["explain", str(SAMPLES / "mlp_step.py"), "--width", "200", "--no-color"]
    )
    assert wide.exit_code == 0 and "\x1b[" not in wide.stdout
    assert max(len(line) for line in wide.stdout.splitlines()) > 100


def test_cli_writes_markdown_notes(runner: CliRunner, in_tmp: Path) -> None:
    result = runner.invoke(cli, ["explain", str(SAMPLES / "autograd_basics.py"), "-o", "notes.md"])
    assert result.exit_code == 0
    text = (in_tmp / "notes.md").read_text()
    assert text.startswith("# How the gradients of autograd\\_basics.py came to be\n")
    assert "    - **a** leaf 1×2 value `[[2., 3.]]` grad `[[1., 2.]]`" in text
    assert "      <br>`a.grad = c.grad * b = [[1., 2.]]`" in text


def test_names_cannot_inject_markup(runner: CliRunner, in_tmp: Path) -> None:
    result = runner.invoke(cli, ["explain", str(SNIPPETS / "weird_names.py"), "--target", "y"])
    assert result.exit_code == 0
    assert "[red]x[/red]" in result.stdout and 'a<b>&"c"' in result.stdout
    md = runner.invoke(cli, ["explain", str(SNIPPETS / "weird_names.py"), "-f", "markdown"])
    outside_code = re.sub(r"`[^`]*`", "", md.stdout)
    assert "<b>" not in outside_code  # inside code spans Markdown shows it as text
    assert '**mul(a&lt;b&gt;&amp;"c", café)**' in outside_code


def test_explain_errors_like_run(runner: CliRunner, in_tmp: Path) -> None:
    result = runner.invoke(cli, ["explain", "missing.py"])
    assert result.exit_code == 3 and "no such file" in result.stderr
    result = runner.invoke(cli, ["explain", str(SNIPPETS / "no_grad.py")])
    assert result.exit_code == 5 and "no tensor requires grad" in result.stderr


@pytest.mark.parametrize(
    ("formula", "names", "values", "unbroadcast", "shown"),
    [
        (
            "sum_to(grad * other, self)",
            {"grad": "c.grad", "other": "b", "self": "a"},
            {},
            {"self"},
            "c.grad * b",
        ),
        (
            "sum_to(grad * other, self)",
            {"grad": "c.grad", "other": "b", "self": "a"},
            {},
            set(),
            "sum_to(c.grad * b, a)",
        ),
        (
            "sum_to(grad * alpha, other)",
            {"grad": "y.grad", "other": "b"},
            {"alpha": "1"},
            {"other"},
            "y.grad",
        ),
        (
            "grad * exponent * self ** (exponent - 1)",
            {"grad": "y.grad", "self": "x"},
            {"exponent": "2"},
            set(),
            "y.grad * 2 * x",
        ),
        (
            "grad * exponent * self ** (exponent - 1)",
            {"grad": "y.grad", "self": "x"},
            {"exponent": "3.0"},
            set(),
            "y.grad * 3.0 * x ** 2.0",
        ),
        (
            "grad * result * (1 - result)",
            {"grad": "s.grad", "result": "s"},
            {},
            set(),
            "s.grad * s * (1 - s)",
        ),
    ],
)
def test_formulas_render_with_names_and_numbers(
    formula: str, names: dict[str, str], values: dict[str, str], unbroadcast: set[str], shown: str
) -> None:
    assert render_formula(formula, names, values, unbroadcast) == shown


def test_a_chain_deeper_than_pythons_recursion_limit_is_told(tmp_path: Path) -> None:
    snippet = tmp_path / "deep.py"
    snippet.write_text(
        "import torch\nx = torch.tensor(1.0, requires_grad=True)\ny = x\n"
        "for _ in range(3000):\n    y = y * 1.0001\ny.backward()\n"
    )
    text = plain(snippet, depth=200, width=120)
    assert "… 2800 more tensors below depth 200 (raise --depth to see them)" in text
    assert "mul#" in text  # labels stay short however deep the chain


def test_a_gradient_hook_is_told_between_what_arrived_and_the_gradient(tmp_path: Path) -> None:
    """Without it, "h.grad = pow(h).grad * 2 * h = [40., 80., 120.]" would be false."""
    text = told(
        tmp_path,
        "hooks.py",
        "import torch\nx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
        "h = x * 2\nh.register_hook(lambda g: g * 10)\n"
        "y = (h ** 2).sum()\ny.backward()\n",
    )
    assert "h.grad += pow(h).grad * 2 * h = [4., 8., 12.]" in text
    hook = "h's gradient hook (hooks.py:4) turned [4., 8., 12.] into h.grad = [40., 80., 120.]"
    assert hook in text
    assert "x.grad = h.grad * 2 = [80., 160., 240.]" in text


def test_a_weight_rebuilt_before_each_forward_and_its_mask_are_named(tmp_path: Path) -> None:
    """Pruning keeps ``weight_orig`` and the buffer ``weight_mask``, and a forward pre-hook
    sets the plain attribute ``weight`` to their product: all three are named."""
    text = told(
        tmp_path,
        "pruned.py",
        "import torch\nfrom torch import nn\nimport torch.nn.utils.prune as prune\n"
        "torch.manual_seed(0)\nlin = nn.Linear(3, 2)\n"
        "prune.l1_unstructured(lin, name='weight', amount=0.5)\n"
        "loss = lin(torch.randn(4, 3)).sum()\nloss.backward()\n",
        width=300,
    )
    assert "mul: lin.weight = lin.weight_mask * lin.weight_orig" in text
    assert "t(lin.weight)" in text


def test_a_tensor_made_inside_a_module_says_which_layer_made_it() -> None:
    """Inside a model every op's line is the snippet's ``model(x)``: the layer says more."""
    text = " ".join(plain(SAMPLES / "mlp_step.py", width=200).split())
    assert "relu(addmm#1) prediction = model(x) mlp_step.py:15 relu in model.1: ReLU 5×4" in text
    outside = "loss = nn.functional.mse_loss(prediction, y) mlp_step.py:16 output mse_loss scalar"
    assert outside in text  # the snippet's own call: no module


def test_unnamed_tensors_are_numbered_in_forward_order_and_pieces_say_which(
    tmp_path: Path,
) -> None:
    """``mul#4`` is the fourth mul the forward pass made (the graph's ids are another
    order); a piece of a split says which piece it is. A tensor has one label wherever it
    shows: the ``mul#4`` in its user's formula heads its own line."""
    text = told(
        tmp_path,
        "ordinal.py",
        "import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 2\n"
        "for _ in range(6):\n    y = y * 1.5\n"
        "loss = y.sum() + x.split(1)[1].sum()\nloss.backward()\n",
        width=300,
    )
    # the sixth mul, two above the fourth (the first is x * 2); nesting starts over there
    assert "└── mul(mul(mul#4)) y = y * 1.5 ordinal.py:5 mul 2 value [15.19, 15.19]" in text
    assert "mul: mul(mul#4) = mul#4 * 1.5" in text
    assert "└── mul#4 y = y * 1.5 ordinal.py:5 mul 2 value [6.75, 6.75]" in text
    assert "mul: mul#4 = mul(mul(mul(x))) * 1.5" in text
    assert "add: loss = sum(y) + sum(split(x)[1])" in text


def test_a_big_graph_is_told_only_near_its_outputs_unless_asked(tmp_path: Path) -> None:
    """Told whole, a 12-layer transformer runs to 11,000 lines: with no --depth, the story
    keeps to the levels nearest the outputs that hold TOLD_BY_DEFAULT tensors."""
    snippet = tmp_path / "deep.py"
    snippet.write_text(
        "import torch\nx = torch.tensor(1.0, requires_grad=True)\ny = x\n"
        "for _ in range(300):\n    y = y * 1.0001\ny.backward()\n"
    )
    # 301 tensors, one per level: y at level 0, then 299 products, then x
    text = plain(snippet, width=120)
    told = TOLD_BY_DEFAULT
    assert f"… {301 - told} more tensors below depth {told - 1} (raise --depth" in text
    assert "more tensors" not in plain(snippet, depth=400, width=120)
    small = plain(SAMPLES / "mlp_step.py")  # a lecture's graph is told whole
    assert "more tensors" not in small and "model.0.weight" in small


def test_split_and_unbind_tell_how_their_pieces_gradients_go_back(tmp_path: Path) -> None:
    """The rule of an op with several outputs names them all, a piece nothing used as
    ``_`` (its gradient zeros), and is told once though two of its pieces reach it."""
    text = told(
        tmp_path,
        "pieces.py",
        "import torch\n"
        "x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)\n"
        "a, _, c = x.split(1, dim=1)\n"
        "r0, r1 = x.unbind(0)\n"
        "loss = (a * c).sum() + (r1 * 2).sum()\n"
        "loss.backward()\n",
    )
    assert "split: a, _, c = x.split(1, 1)" in text
    assert "x.grad += cat([a.grad, 0, c.grad], 1) = [[3., 0., 1.], [6., 0., 4.]]" in text
    assert "unbind: _, r1 = x.unbind(0)" in text
    assert "x.grad += stack([0, r1.grad], 0) = [[0., 0., 0.], [2., 2., 2.]]" in text
    assert text.count("x.split(1, 1)") == 1
    assert "no rule" not in text


def test_a_negative_dimension_reads_as_written(tmp_path: Path) -> None:
    """Autograd keeps ``dim=-1`` as the unsigned ``2**64 - 1``; the graph and the
    explanation show -1."""
    snippet = tmp_path / "neg.py"
    snippet.write_text(
        "import torch\nx = torch.tensor([[1.0, 2.0], [3.0, 0.5]], requires_grad=True)\n"
        "y = x.tril(-1).softmax(dim=-1)\n"
        "loss = y.logsumexp(-1).sum()\nloss.backward()\n"
    )
    g = graph_of(snippet)
    saved = {(op.op, s.name): s.value for op in g.ops() for s in op.saved if s.value}
    assert saved[("softmax", "dim")] == "-1" and saved[("tril", "diagonal")] == "-1"
    assert saved[("logsumexp", "dim")] == "(-1,)"
    text = " ".join(plain(snippet, width=200).split())
    assert "tril(tril(x).grad, -1)" in text and "2**64" not in text
    assert "18446744073709551615" not in text


def test_one_by_one_matrices_are_explained_without_numbers_put_in(tmp_path: Path) -> None:
    """A 1×1 weight holds one number, but its rule is for matrices (``mat2.T``):
    the formula is shown, the gradient too, and nothing breaks."""
    text = told(
        tmp_path,
        "one.py",
        "import torch\nw = torch.tensor([[1.5]], requires_grad=True)\n"
        "x = torch.tensor([[2.0]])\n"
        "loss = (x @ w).sum()\nloss.backward()\n",
    )
    assert "w.grad = x.T @ mm(x, w).grad = [[2.]]" in text  # no "2..T @ 1." put in


def test_inputs_without_grad_are_named_in_labels_and_formulas(tmp_path: Path) -> None:
    """Linear regression's target needs no grad and has no node; explain names it where
    it was used (``y_pred - y``, not ``y_pred - other``), and an input made inside a
    torch call, with no name, reads ``const``."""
    text = told(
        tmp_path,
        "regression.py",
        "import torch\nimport torch.nn.functional as F\n"
        "x = torch.tensor([1.0, 2.0, 3.0])\ny = torch.tensor([2.0, 4.0, 6.0])\n"
        "w = torch.tensor(0.5, requires_grad=True)\n"
        "y_pred = w * x\nloss = ((y_pred - y) ** 2).mean()\n"
        "p = torch.tensor([0.2, 0.3, 0.5])\n"
        "kl = F.kl_div(F.log_softmax(y_pred, 0), p, reduction='sum')\n"
        "parts = torch.cat([torch.ones(2), w * x])\n"
        "scaled = w * x[:, None] / torch.arange(1.0, 7.0).view(3, 2).exp()\n"
        "(loss + kl + parts.sum() + scaled.sum()).backward()\n",
    )
    assert "sub: sub(y_pred, y) = y_pred - y" in text
    assert "other" not in text
    assert re.search(r"sub: \S+ = const - mul", text), text
    assert re.search(r"cat: \S+ = cat\(\[\[1\., 1\.\], mul\(w, x\)\], 0\)", text), text
    # saved by div, 6 numbers: too many to show; x[:, None] is x's numbers as a column
    assert "div: scaled = mul(w, x) / const(3×2)" in text


def test_a_python_number_added_reads_as_itself(tmp_path: Path) -> None:
    """``sq + 1e-8`` and ``torch.where(x > 0, x, 0.0)``: the number the snippet wrote,
    not ``const``; a number is left out of a label, as an unnamed constant is."""
    text = told(
        tmp_path,
        "eps.py",
        "import torch\nx = torch.tensor([3.0, -4.0], requires_grad=True)\n"
        "sq = (x ** 2).sum()\nnorm = torch.sqrt(sq + 1e-8)\n"
        "pos = torch.where(x > 0, x, 0.0)\n(norm + pos.sum() - 1).backward()\n",
    )
    assert "add: add(sq) = sq + 1e-08" in text
    assert "where: pos = where([True, False], x, 0.)" in text
    assert "sub: sub(add(norm, sum(pos))) = add(norm, sum(pos)) - 1 " in text
    assert "const" not in text


def test_one_element_tensors_and_passes_are_told_without_repeats(tmp_path: Path) -> None:
    """micrograd's checks against torch use one-element tensors, in two graphs each with
    its own pass: ``y.grad = [1.]``, not ``y.grad = 1. = [1.]``; and the uses of a tensor
    within one pass are summed without ``(pass 1)`` after each."""
    text = told(
        tmp_path,
        "micrograd.py",
        "import torch\n"
        "x = torch.Tensor([-4.0]).double()\nx.requires_grad = True\n"
        "z = 2 * x + 2 + x\nq = z.relu() + z * x\ny = q + q * x\ny.backward()\n"
        "a = torch.tensor([3.0], requires_grad=True)\n(a * a).backward()\n",
    )
    assert "2 backward passes are shown" in text
    assert "mul(q, x).grad = y.grad = [1.]" in text
    assert "= 1. = [1.]" not in text
    assert "x is used 4 times; x.grad = [40.] + [30.] + [12.] + [24.] = [106.]" in text
    assert "(pass 1)" not in text and "(pass 2)" not in text


def test_indexing_reads_as_the_snippet_wrote_it(tmp_path: Path) -> None:
    """``p[2]``, ``m[:, 1:]`` and ``m[0, ::2]``, not ``select(p)`` or ``slice(m, 1, 1,
    9223372036854775807, 1)``; a piece of ``w, b = params`` (an unbind) is ``params[0]``."""
    text = told(
        tmp_path,
        "indexing.py",
        "import torch\np = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
        "m = torch.ones(2, 4, requires_grad=True)\n"
        "s = m[:, 1:]\n"
        "def model(x, w, b):\n    return w * x + b\n"
        "out = model(torch.tensor([1.0, 2.0]), *p[:2])\n"
        "(p[2] * 3 + s.sum() + m[0, ::2].sum() + out.sum()).backward()\n",
        width=300,
    )
    assert "mul: mul(p[2]) = p[2] * 3" in text
    assert "slice: s = m[:, 1:]" in text
    assert "m.grad += place_slice(s.grad, m, 1, 1, None, 1)" in text
    assert "slice: m[0][::2]" in text and "select: m[0]" in text
    assert "unbind: p[:2][0], p[:2][1] = p[:2].unbind(0)" in text
    assert "select(" not in text and "9223372036854775807" not in text


def test_a_masked_fill_says_the_number_it_put_in(tmp_path: Path) -> None:
    """Attention masks with ``masked_fill(mask == 0, -1e9)`` or ``float('-inf')``: the
    node keeps only the mask; the formula shows the number the call put in."""
    text = told(
        tmp_path,
        "mask.py",
        "import torch\nscores = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)\n"
        "mask = torch.tensor([[1, 0], [1, 1]])\n"
        "a = scores.masked_fill(mask == 0, -1e9).softmax(-1)\n"
        "b = scores.masked_fill(mask == 0, value=float('-inf')).softmax(-1)\n"
        "(a.sum() + b.sum()).backward()\n",
        width=300,
    )
    assert "= where([[False, True], [False, False]], -1000000000.0, scores)" in text
    assert "= where([[False, True], [False, False]], -inf, scores)" in text
    g = graph_of(tmp_path / "mask.py")
    values = sorted(s.value or "" for n in g.ops() for s in n.saved if s.name == "value")
    assert values == ["-1e+09", "-inf"]


def test_lookups_read_as_indexing_and_views_say_their_shape(tmp_path: Path) -> None:
    """An embedding is ``emb.weight[tokens]``, an index by named tensors ``h[:, cols]``
    (by unnamed ones, ``index(h)``: a label shows no numbers); a view says its shape."""
    text = told(
        tmp_path,
        "lookup.py",
        "import torch\ntorch.manual_seed(0)\nemb = torch.nn.Embedding(5, 3)\n"
        "tokens = torch.tensor([[1, 2], [3, 4]])\n"
        "h = torch.randn(4, 6, requires_grad=True)\ncols = torch.tensor([0, 2, 4])\n"
        "out = (emb(tokens) * 2).view(4, 3).sum() + h[:, cols].sum()\n"
        "(out + h[torch.tensor([0, 1])].sum()).backward()\n",
        width=300,
    )
    assert "mul: mul(emb.weight[tokens]) = emb.weight[tokens] * 2" in text
    assert "view: view#1 = mul(emb.weight[tokens]).view((4, 3))" in text
    assert "sum: sum(h[:, cols])" in text
    assert "sum: sum(index(h))" in text  # a label shows no numbers: not sum(h[[0, 1]])


def test_a_named_number_in_a_formula_still_lets_the_numbers_in(tmp_path: Path) -> None:
    """erf's derivative names pi; for a one-number input the formula still gets its
    numbers and its value (2 / sqrt(pi) * exp(-0.25) = 0.8788)."""
    text = told(
        tmp_path,
        "erf.py",
        "import torch\nx = torch.tensor(0.5, requires_grad=True)\n"
        "y = torch.sinh(x) + torch.erf(x)\ny.backward()\n",
    )
    assert (
        "∂erf(x)/∂x = 2 / sqrt(pi) * exp(-x ** 2) = 2 / sqrt(pi) * exp(-0.5 ** 2) = 0.8788" in text
    )
    assert "∂sinh(x)/∂x = cosh(x) = cosh(0.5) = 1.128" in text


def test_a_layer_without_bias_says_none_where_its_bias_would_be(tmp_path: Path) -> None:
    """conv2d(bias=False) leaves autograd's bias slot empty, as a constant would: the
    formula says None there, not const."""
    text = told(
        tmp_path,
        "nobias.py",
        "import torch\nconv = torch.nn.Conv2d(1, 2, 3, bias=False)\n"
        "y = conv(torch.randn(1, 1, 4, 4))\ny.sum().backward()\n",
    )
    assert "conv2d(const(1×1×4×4), conv.weight, None, (1, 1)" in text, text


def test_indexing_shows_the_snippets_index_tensors(tmp_path: Path) -> None:
    """makemore's ``emb = C[Xb]`` reads so, not ``C[indices]``; a dimension taken whole
    is ``:``, and a few unnamed indices show their numbers."""
    text = told(
        tmp_path,
        "lookup.py",
        "import torch\ng = torch.Generator().manual_seed(0)\n"
        "C = torch.randn(27, 2, generator=g, requires_grad=True)\n"
        "Xb = torch.randint(0, 27, (4, 3), generator=g)\nemb = C[Xb]\n"
        "cols = torch.tensor([0, 2, 4])\nh = emb.view(4, 6)[:, cols]\n"
        "(h.sum() + h[torch.arange(2), torch.tensor([1, 1])].sum()).backward()\n",
    )
    assert "index: emb = C[Xb]" in text and "C.grad = index_back(emb.grad, C, Xb) = " in text
    assert "index: h = view(emb)[:, cols]" in text
    assert re.search(r"index: \S+ = h\[\[0, 1\], \[1, 1\]\]", text), text
    g = graph_of(tmp_path / "lookup.py")
    whole = next(n for n in g.ops() if n.source is not None and n.source.line == 7)
    assert [(s.name, s.value, s.label) for s in whole.saved if s.name.startswith("indices")] == [
        ("indices[0]", "None", None),
        ("indices[1]", None, "cols"),
    ]


def _heads_and_texts(path: Path) -> tuple[set[str], list[str]]:
    """The label each step of the story opens with, and every text it shows."""
    story = tell(graph_of(path), depth=400)
    heads: set[str] = set()
    texts: list[str] = []
    steps = list(story.trees)
    while steps:
        step = steps.pop()
        heads.add(step.head[0].text)
        texts += [step.head[0].text, *("".join(s.text for s in line) for line in step.body)]
        steps.extend(step.children)
    return heads, texts


@pytest.mark.parametrize(
    "path",
    [*sorted(SAMPLES.glob("*.py")), SNIPPETS / "lora_frozen_base.py"],
    ids=lambda p: p.stem,
)
def test_a_numbered_tensor_in_a_label_heads_a_line_of_its_own(path: Path) -> None:
    """Labels nest only a few levels. One cut short used to name a tensor no line is
    headed by: ``pow(add#1)`` over a line that reads ``add(mul(mm#2))``."""
    heads, texts = _heads_and_texts(path)
    numbered = {m for text in texts for m in re.findall(r"\b[a-z_0-9]+#\d+(?:\[\d+\])?", text)}
    for label in numbered:
        assert label in heads, (label, sorted(heads))


def test_the_story_ends_with_the_cause_the_numbers_show(tmp_path: Path) -> None:
    """The tree shows sqrt's nan gradient under where's zeros; its last lines say why,
    as the doctor does. A graph with no such cause ends with the tree."""
    text = told(
        tmp_path,
        "where.py",
        "import torch\nx = torch.tensor([-1.0, 4.0], requires_grad=True)\n"
        "y = torch.where(x > 0, torch.sqrt(x), torch.zeros_like(x))\ny.sum().backward()\n",
    )
    assert "x.grad = sqrt(x).grad / (2 * sqrt(x)) = [nan, 0.25]" in text
    assert text.endswith(
        "Gradient health: masked nan where drops some of sqrt's elements at where.py:3 (y = "
        "torch.where(x > 0, torch.sqrt(x), torch.zeros_like(x))), but backward still goes "
        "through sqrt for them: they get a gradient of 0, sqrt's derivative there is not "
        "finite, and 0 × inf is nan. Replace those elements before sqrt instead, with "
        "torch.where(mask, x, 1.0) as its input, so that sqrt only sees values where it is "
        "finite"
    )
    fixed = told(
        tmp_path,
        "fixed.py",
        "import torch\nx = torch.tensor([-1.0, 4.0], requires_grad=True)\n"
        "y = torch.sqrt(torch.where(x > 0, x, 1.0))\ny.sum().backward()\n",
    )
    assert "Gradient health" not in fixed


def test_a_tensor_too_deep_to_print_is_no_summary_inside_a_formula(tmp_path: Path) -> None:
    """A per-pixel target made on the loss's line has no name and three dimensions: the
    formula names it by its symbol, not by a summary that reads as no operand."""
    text = told(
        tmp_path,
        "pixels.py",
        "import torch\n"
        "logp = torch.zeros(1, 2, 1, 2, requires_grad=True)\n"
        "loss = torch.nn.functional.nll_loss(logp, torch.tensor([[[0, 1]]]))\n"
        "loss.backward()\n",
    )
    assert "nll_loss2d: loss = -mean(logp[n, target[n, h, w], h, w])" in text
    assert "logp.grad = -one_hot(target, logp, ignore_index=-100) * loss.grad / 2." in text
    assert "[mean" not in text and "(mean 0.5" not in text
