"""Tensors made inside backward(create_graph=True) get the values torch computed (recompute.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SNIPPETS
from helpers import graph_of, named, values
from test_oracle import Computed, run_both_ways

from gradviz.model import Graph
from gradviz.torchcapture.recompute import _UNKNOWN, _literal


def made_by(g: Graph) -> dict[int, str]:
    return {e.dst: g.node(e.src).autograd or "" for e in g.edges if g.node(e.src).kind == "op"}


def test_the_graph_of_a_gradient_shows_every_value(tmp_path: Path) -> None:
    g = graph_of(SNIPPETS / "double_backward.py")
    producer = made_by(g)
    by_op = {producer[n.id]: values(n.value) for n in g.tensors() if n.id in producer}
    assert by_op["PowBackward0"] == 9.0  # x ** 2 at x = 3, made inside backward
    assert by_op["MulBackward1"] == 27.0  # 3 x ** 2: dy itself
    assert values(named(g, "dy").value) == 27.0


def test_every_value_computed_again_is_one_torch_computed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PINN: tanh, sigmoid, mm, pow and mul nodes made by two create_graph passes,
    every one with a value, and each value one that torch computed (the oracle)."""
    computed = Computed()
    g = run_both_ways(SNIPPETS / "tutorial_pinn.py", computed, monkeypatch)
    producer = made_by(g)
    assert {"TanhBackwardBackward0", "SigmoidBackwardBackward0", "MmBackward0"} <= set(
        producer.values()
    )
    outputs = [n for n in g.tensors() if n.id in producer]
    assert len(outputs) > 40
    for n in outputs:
        assert n.value is not None and computed.has(n.value), (producer[n.id], n)


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


def test_maml_inner_steps_show_every_value_torch_computed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The backward of mse_loss, log_softmax and tanh, differentiated again through
    MAML's inner step: every tensor with a value, each one torch computed."""
    computed = Computed()
    g = run_both_ways(SNIPPETS / "tutorial_maml.py", computed, monkeypatch)
    producer = made_by(g)
    assert {"MseLossBackwardBackward0", "LogSoftmaxBackwardDataBackward0"} <= set(producer.values())
    outputs = [n for n in g.tensors() if n.id in producer]
    for n in outputs:
        assert n.value is not None and computed.has(n.value), (producer[n.id], n)
