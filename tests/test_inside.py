"""Nodes a torch call makes inside itself get the values its aten ops returned (inside.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import graph_of, plain_run, printed_both_ways

from gradviz.model import Graph, Node

SDPA = """
import torch
import torch.nn.functional as F
torch.manual_seed(0)
q, k, v = (torch.randn(2, 3, 4, requires_grad=True) for _ in range(3))
o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
y = F.normalize(o, dim=-1)
loss = y.pow(3).sum()
loss.backward()
scores = torch.softmax(q @ k.transpose(-2, -1) / 2 + torch.full((3, 3), -math.inf).triu(1), -1)
norms = o.norm(dim=-1, keepdim=True)
"""


def made_by(g: Graph, autograd: str) -> list[Node]:
    producer = {e.dst: g.node(e.src) for e in g.edges if g.node(e.src).kind == "op"}
    return [n for n in g.tensors() if (op := producer.get(n.id)) and op.autograd == autograd]


def as_tensor(n: Node) -> torch.Tensor:
    assert n.value is not None and n.value.data is not None, n
    return torch.tensor(n.value.data).reshape(n.value.shape)


def test_attention_and_normalize_insides_have_torchs_values(tmp_path: Path) -> None:
    snippet = tmp_path / "sdpa.py"
    snippet.write_text("import math\n" + SDPA)
    ns = plain_run(snippet)
    g = graph_of(snippet)
    assert all(n.value is not None for n in g.nodes if n.kind != "op")  # none "not recorded"
    (softmax,) = made_by(g, "SafeSoftmaxBackward0")
    assert torch.allclose(as_tensor(softmax), ns["scores"].detach(), atol=1e-6)
    (norm,) = made_by(g, "LinalgVectorNormBackward0")  # normalize: norm, clamp, expand, div
    assert torch.allclose(as_tensor(norm), ns["norms"].detach(), atol=1e-6)
    assert {op.source.line for op in g.ops() if op.autograd == "BmmBackward0"} == {7}


def test_a_users_dispatch_mode_sees_what_it_sees_without_gradviz(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """gradviz pushes no dispatch mode of its own above a snippet's (FlopCounterMode is one)."""
    snippet = tmp_path / "flops.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\n"
        "from torch.utils.flop_counter import FlopCounterMode\n"
        "q = torch.randn(2, 8, 16, requires_grad=True)\n"
        "counter = FlopCounterMode(display=False)\n"
        "with counter:\n"
        "    out = F.scaled_dot_product_attention(q, q, q)\n"
        "    out.sum().backward()\n"
        "print(counter.get_total_flops())\n"
    )
    plain, ours, g = printed_both_ways(snippet, capsys)
    assert ours == plain and int(plain) > 0
    assert len(g.passes) == 1


def test_a_users_logging_dispatch_mode_sees_no_op_of_gradviz(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """PyTorch's docs log aten ops with a dispatch mode: gradviz's summaries (aminmax,
    dot, ...), hooks and the product it takes out of linear must not show in that log."""
    snippet = tmp_path / "log.py"
    snippet.write_text(
        "import torch\nfrom collections import Counter\n"
        "from torch.utils._python_dispatch import TorchDispatchMode\n"
        "class Count(TorchDispatchMode):\n"
        "    def __init__(self):\n        super().__init__()\n        self.seen = Counter()\n"
        "    def __torch_dispatch__(self, func, types, args=(), kwargs=None):\n"
        "        self.seen[str(func)] += 1\n"
        "        return func(*args, **(kwargs or {}))\n"
        "torch.manual_seed(0)\nlin = torch.nn.Linear(16, 12)\n"
        "x = torch.randn(10, 4, 16).transpose(0, 1)\n"
        "with Count() as count:\n"
        "    y = lin(x).pow(2).mean()\n    y.backward()\n"
        "print(sorted(count.seen.items()))\n"
    )
    plain, ours, g = printed_both_ways(snippet, capsys)
    assert ours == plain and "aten.mm.default" in plain
    assert all(n.value is not None for n in g.tensors())  # recorded all the same


def test_only_plain_cpu_tensors_outside_other_modes_are_looked_inside() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from gradviz.torchcapture.inside import worth_looking

    sdpa = torch.nn.functional.scaled_dot_product_attention
    a = torch.randn(2, 3, 4, requires_grad=True)
    assert worth_looking(sdpa, [a, a, a])
    assert not worth_looking(sdpa, [a, a, a.to("meta")])  # the random state is the CPU's

    class Tagged(torch.Tensor):
        pass

    assert not worth_looking(sdpa, [a, a, a.as_subclass(Tagged)])
    with FlopCounterMode(display=False):
        assert not worth_looking(sdpa, [a, a, a])


def test_attention_with_dropout_is_run_again_with_the_same_mask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attention's values come from a second run: same dropout mask, same random numbers after."""
    snippet = tmp_path / "drop.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\ntorch.manual_seed(0)\n"
        "q, k, v = (torch.randn(2, 4, 8, requires_grad=True) for _ in range(3))\n"
        "o = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)\n"
        "o.sum().backward()\n"
        "print(torch.rand(3))\n"
    )
    plain, ours, g = printed_both_ways(snippet, capsys)
    assert ours == plain  # the snippet's random numbers go on as before
    (o,) = [n for n in g.tensors() if "o" in n.names]
    # the product of the dropped-out weights with v: o itself, if the mask was the same
    (product,) = [n for n in made_by(g, "BmmBackward0") if n.value and n.value.shape == (2, 4, 8)]
    assert torch.allclose(as_tensor(product), as_tensor(o), atol=1e-6)
    assert as_tensor(o).abs().sum() > 0


def test_looking_inside_does_not_import_dynamo() -> None:
    """Dispatch modes wrap their handler in dynamo.disable: 0.9 s and 80 MiB at first use."""
    code = (
        "import sys, torch\nfrom gradviz.torchcapture.inside import Inside\n"
        "x = torch.randn(2, 3, 4, requires_grad=True)\n"
        "with Inside() as inside:\n    torch.nn.functional.normalize(x)\n"
        "assert inside.ops, 'nothing seen'\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert proc.stdout.strip() == "False"


def test_recurrent_layers_show_every_gate_with_torchs_values(tmp_path: Path) -> None:
    """nn.GRU on the CPU makes a dozen nodes a step; their numbers come from a second run.

    Each gate's output must be what torch computes from the input drawn next to
    it: the GRU writes some gates in place (``sigmoid_``), and the output an
    earlier op kept must not show the value written over it.
    """
    snippet = tmp_path / "gru.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\n"
        "from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n"
        "torch.manual_seed(0)\n"
        "gru = nn.GRU(5, 7, batch_first=True)\n"
        "x = torch.randn(3, 4, 5)\n"
        "packed = pack_padded_sequence(x, torch.tensor([4, 2, 3]), batch_first=True,\n"
        "                              enforce_sorted=False)\n"
        "out, h = gru(packed)\n"
        "padded, _ = pad_packed_sequence(out, batch_first=True)\n"
        "loss = padded.pow(2).mean() + h.sum()\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    tensors = list(g.tensors())
    unknown = [n for n in tensors if n.value is None]
    assert len(unknown) < len(tensors) // 10, unknown  # 74 of 105 before
    inputs: dict[int, list[tuple[int, Node]]] = {}
    output: dict[int, Node] = {}
    for e in g.edges:
        src, dst = g.node(e.src), g.node(e.dst)
        if dst.kind == "op":
            inputs.setdefault(dst.id, []).append((e.slot, src))
        else:
            output[src.id] = dst
    checked = {"SigmoidBackward0": 0, "TanhBackward0": 0, "MulBackward0": 0}
    for op in g.ops():
        if op.autograd not in checked or op.id not in output:
            continue
        args = [as_tensor(n) for _, n in sorted(inputs[op.id], key=lambda p: p[0])]
        want = args[0] * args[1] if op.autograd == "MulBackward0" else args[0]
        if op.autograd == "SigmoidBackward0":
            want = want.sigmoid()
        elif op.autograd == "TanhBackward0":
            want = want.tanh()
        assert torch.allclose(as_tensor(output[op.id]), want, atol=1e-5), op
        checked[op.autograd] += 1
    assert checked == {"SigmoidBackward0": 8, "TanhBackward0": 4, "MulBackward0": 8}  # 4 steps


def test_an_output_written_over_in_place_keeps_the_value_it_had() -> None:
    from gradviz.torchcapture.inside import Inside

    a = torch.tensor([1.0, -2.0])
    with Inside() as inside:
        x = a + 1
        x.sigmoid_()
        y = torch.empty(2)
        torch.mul(a, 3, out=y)
    kept = dict(inside.ops)
    assert kept["add"].tolist() == [2.0, -1.0]
    assert torch.allclose(kept["sigmoid"], torch.tensor([2.0, -1.0]).sigmoid())
    assert kept["mul"].tolist() == [3.0, -6.0]


def test_the_product_inside_linear_on_a_batch_has_its_value(tmp_path: Path) -> None:
    """``linear`` on a batch that is not one block of memory (a transposed attention
    output) multiplies, then adds the bias in place: the product is the output less
    the bias (large), or multiplied again (small, recompute.py)."""
    snippet = tmp_path / "linear.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "proj = nn.Linear(16, 12)\n"
        "big = torch.randn(10, 4, 16).transpose(0, 1)\n"  # 4 x 10 x 16, not contiguous
        "small = torch.randn(3, 2, 16).transpose(0, 1)\n"  # 2 x 3 x 16: 72 products
        "loss = proj(big).pow(2).mean() + proj(small).sum()\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    g = graph_of(snippet)
    products = [n for n in made_by(g, "UnsafeViewBackward0")]
    assert {n.value.shape for n in products if n.value} == {(4, 10, 12), (2, 3, 12)}
    w = ns["proj"].weight.detach()
    for n in products:
        assert n.value is not None
        x = ns["big"] if n.value.shape == (4, 10, 12) else ns["small"]
        want = (x @ w.T).double()
        if n.value.data is not None:
            assert torch.allclose(as_tensor(n).double(), want, atol=1e-6)
        else:
            s = n.value.stats
            assert s is not None
            assert s.mean == pytest.approx(float(want.mean()), rel=1e-5, abs=1e-6)
            assert s.std == pytest.approx(float(want.std()), rel=1e-5)
            assert (s.min, s.max) == pytest.approx((float(want.min()), float(want.max())), rel=1e-5)
    assert all(n.value is not None for n in g.tensors())


SNIPPETS = Path(__file__).parent / "snippets"


@pytest.mark.parametrize("name", ["tutorial_functional_zoo.py", "large_losses.py"])
def test_every_tensor_made_inside_a_composite_call_has_a_value(name: str) -> None:
    """Composites in Python (opened) and in C++ (run again): none "not recorded".
    The oracle tests check that these values are torch's."""
    g = graph_of(SNIPPETS / name)
    missing = [
        n
        for n in g.tensors()
        if n.value is None or (n.value.data is None and n.value.stats is None)
    ]
    assert len(list(g.ops())) > 35 and missing == []


def test_a_python_composite_is_opened_so_its_ops_carry_its_line(tmp_path: Path) -> None:
    snippet = tmp_path / "gumbel.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\ntorch.manual_seed(0)\n"
        "x = torch.randn(3, 4, requires_grad=True)\n"
        "y = F.gumbel_softmax(x, tau=0.5)\n"
        "loss = F.multilabel_soft_margin_loss(y, torch.ones(3, 4))\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    lines = {op.autograd: op.source.line for op in g.ops() if op.source is not None}
    assert lines["SoftmaxBackward0"] == 5 and lines["LogSigmoidBackward0"] == 6
    (logits,) = [n for n in made_by(g, "DivBackward0") if n.value and n.value.shape == (3, 4)]
    ns = plain_run(snippet)  # (x + gumbel noise) / tau, softmaxed, is y
    assert torch.allclose(as_tensor(logits).softmax(-1), ns["y"].detach(), atol=1e-6)


def test_a_call_run_again_that_draws_random_numbers_gives_no_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the random state from before the call, a second run of alpha_dropout
    would draw another mask: its numbers are dropped, and the snippet's go on as before."""
    from gradviz.torchcapture import inside

    monkeypatch.setattr(inside, "LOOK_INSIDE", inside.LOOK_INSIDE - {torch.alpha_dropout})
    monkeypatch.setattr("gradviz.torchcapture.recorder.LOOK_INSIDE", inside.LOOK_INSIDE)
    snippet = tmp_path / "alpha.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\ntorch.manual_seed(0)\n"
        "x = torch.randn(20, 30, requires_grad=True)\n"
        "y = F.alpha_dropout(x, 0.5, training=True)\n"
        "y.pow(2).sum().backward()\n"
        "print(torch.rand(3))\n"
    )
    plain, ours, g = printed_both_ways(snippet, capsys)
    assert ours == plain
    (inner,) = made_by(g, "MulBackward0")  # x times the mask, then a shift: y
    assert inner.value is None


def test_only_torchs_own_ops_are_run_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A custom Function's forward (it counts its calls here), ``autograd.grad`` and
    in-place ops make nodes too, but running them again would repeat their effects."""
    from gradviz.execute import load_snippet
    from gradviz.torchcapture import capture_snippet

    snippet = tmp_path / "effects.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\ncalls = []\n"
        "class Twice(torch.autograd.Function):\n"
        "    @staticmethod\n"
        "    def forward(ctx, x):\n"
        "        calls.append(1)\n"
        "        return x * 2\n"
        "    @staticmethod\n"
        "    def backward(ctx, g):\n"
        "        return g * 2\n"
        "x = torch.randn(30, 20, requires_grad=True)\n"
        "h = Twice.apply(x.exp() + 1).log()\n"
        "h[0] = x[1].sin() * 3\n"
        "h.add_(h.tanh())\n"
        "gx, = torch.autograd.grad(h.sum(), x, create_graph=True)\n"
        "gx.pow(2).sum().backward()\n"
        "print(len(calls), float(x.grad.sum()))\n"
    )
    plain, ours, _ = printed_both_ways(snippet, capsys)
    assert ours == plain and plain.startswith("1 ")
    assert capture_snippet(load_snippet(snippet)).internal_errors == []


def test_no_call_is_run_again_when_its_inner_values_are_known(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``linear``'s transposed weight, a batched ``matmul``'s views and ``mm``, the
    product before the bias on a transposed batch (attention's ``out_proj``) and
    ``cross_entropy``'s saved ``log_softmax``: all known without a second run, which
    would double a transformer's matmuls."""
    from gradviz.execute import load_snippet
    from gradviz.torchcapture import capture_snippet, recorder

    runs: list[str] = []
    real = recorder.replay

    def counted(func: Any, *args: Any) -> Any:
        runs.append(getattr(func, "__name__", str(func)))
        return real(func, *args)

    monkeypatch.setattr(recorder, "replay", counted)
    bench = Path(__file__).resolve().parents[1] / "bench" / "workloads"
    for name in ("mlp", "transformer"):
        result = capture_snippet(load_snippet(bench / f"{name}.py"))
        assert result.graph is not None and result.internal_errors == []
    assert runs == []
