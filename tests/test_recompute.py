"""Tensors made inside backward(create_graph=True) get the values torch computed (recompute.py)."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import torch
from conftest import SNIPPETS
from helpers import graph_of, named, values
from test_oracle import ROUNDING
from torch.utils._python_dispatch import TorchDispatchMode

from gradviz.model import Graph, Node
from gradviz.torchcapture.recompute import _UNKNOWN, OPS, _literal

PINN = """
import torch
import torch.nn as nn
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 1))
x = torch.linspace(0, 1, 5).unsqueeze(1).requires_grad_(True)
u = net(x)
u_x = torch.autograd.grad(u, x, torch.ones_like(u), create_graph=True)[0]
u_xx = torch.autograd.grad(u_x, x, torch.ones_like(u_x), create_graph=True)[0]
loss = ((u_xx + u) ** 2).mean() + (u_x.pow(3) / 2).sum()
loss.backward()
"""


class Computed(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """Every tensor an aten op returned while the snippet ran: what torch computed."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.outputs: list[torch.Tensor] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor):
                self.outputs.append(t.detach().clone())
        return out


def as_tensor(n: Node) -> torch.Tensor:
    assert n.value is not None and n.value.data is not None, n
    return torch.tensor(n.value.data, dtype=getattr(torch, n.value.dtype)).reshape(n.value.shape)


def made_by(g: Graph) -> dict[int, str]:
    return {e.dst: g.node(e.src).autograd or "" for e in g.edges if g.node(e.src).kind == "op"}


def test_the_graph_of_a_gradient_shows_every_value(tmp_path: Path) -> None:
    g = graph_of(SNIPPETS / "double_backward.py")
    producer = made_by(g)
    by_op = {producer[n.id]: values(n.value) for n in g.tensors() if n.id in producer}
    assert by_op["PowBackward0"] == 9.0  # x ** 2 at x = 3, made inside backward
    assert by_op["MulBackward1"] == 27.0  # 3 x ** 2: dy itself
    assert values(named(g, "dy").value) == 27.0


def test_every_value_computed_again_is_one_torch_computed(tmp_path: Path) -> None:
    """A PINN: tanh, sigmoid, mm, pow and mul nodes made by two create_graph passes.

    The oracle runs the snippet under a dispatch mode that keeps every aten
    op's output; each value gradviz shows for an op's output must be one of them.
    """
    snippet = tmp_path / "pinn.py"
    snippet.write_text(PINN)
    computed = Computed()
    with computed:
        runpy.run_path(str(snippet), run_name="__main__")
    g = graph_of(snippet)
    producer = made_by(g)
    inner = {name for name in producer.values() if name in OPS}
    assert {"TanhBackwardBackward0", "SigmoidBackwardBackward0", "MmBackward0"} <= inner
    checked = 0
    for n in g.tensors():
        if n.id not in producer:
            continue  # a leaf
        shown = as_tensor(n)
        assert any(
            o.shape == shown.shape
            and o.dtype == shown.dtype
            and torch.allclose(o, shown, **ROUNDING)  # BLAS may round mm another way
            for o in computed.outputs
        ), (producer[n.id], n)
        checked += 1
    assert checked == sum(1 for n in g.tensors() if n.id in producer) > 40


def test_saved_attributes_are_read_as_the_node_described_them() -> None:
    assert _literal("2") == 2 and _literal("0.01") == 0.01 and _literal("True") is True
    assert _literal("inf") == float("inf") and _literal("None") is None
    assert _literal("(18446744073709551615,)") == (-1,)  # dim=-1, kept unsigned
    assert _literal("18446744073709551516") == -100  # nll_loss's ignore_index
    assert _literal("(2, 3)") == (2, 3)
    assert _literal("float32") is _UNKNOWN and _literal(None) is _UNKNOWN


def test_an_op_whose_input_is_only_summarized_keeps_no_value(tmp_path: Path) -> None:
    """A summary is not an input: a large tensor's double-backward nodes stay unknown."""
    snippet = tmp_path / "big.py"
    snippet.write_text(
        "import torch\nx = torch.randn(300, requires_grad=True)\n"
        "(g,) = torch.autograd.grad((x ** 3).sum(), x, create_graph=True)\n"
        "g.sum().backward()\n"
    )
    g = graph_of(snippet)
    producer = made_by(g)
    pow_out = [n for n in g.tensors() if producer.get(n.id) == "PowBackward0" and n.value is None]
    assert len(pow_out) == 1  # x ** 2 inside backward: 300 elements, not recorded


def test_the_insides_of_composite_losses_get_values() -> None:
    """Margins, label smoothing and nll's ignore_index run inside one torch call each.

    What stays unknown is an op of a Python number that torch keeps no copy of
    (``x + margin``, ``masked_fill(mask, 0.0)``), and what is computed from it.
    Exactness is checked by tests/test_oracle.py on the same snippet.
    """
    g = graph_of(SNIPPETS / "tutorial_losses.py")
    producer = made_by(g)
    inner = {"ClampMinBackward0", "NllLossBackward0", "SliceBackward0", "SumBackward1"}
    valued = {producer[n.id] for n in g.tensors() if n.id in producer and n.value is not None}
    assert inner <= valued
    unknown = [n for n in g.tensors() if n.value is None]
    assert len(unknown) <= 11  # of 68; 25 before ClampMin, NllLoss, Slice, Sum(dim) were run again
