"""Every number gradviz shows is one torch computed.

The oracle runs a snippet under plain torch inside a dispatch mode that keeps a
copy of every tensor an aten op returned, forward and backward (gradients are
op outputs too). Each value and gradient the capture shows in full (small
tensors) must be one of those tensors: bit for bit, or within rounding for an op
computed again. This checks the recorder,
the values derived from neighbours, the calls run again (inside.py) and the ops
computed again (recompute.py) at once, on real tutorial code.
"""

from __future__ import annotations

import runpy
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import SAMPLES, SNIPPETS
from helpers import graph_of
from torch.utils._python_dispatch import TorchDispatchMode

from gradviz.model import Graph, TensorData

TUTORIALS = sorted(SNIPPETS.glob("tutorial_*.py"))
ROUNDING = {"rtol": 1e-5, "atol": 1e-6}
"""A value computed again (recompute.py) may differ in its last bits: a BLAS product
can add in another order on memory aligned another way."""


class Computed(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """A copy of every small tensor an aten op returned, by shape and dtype."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.outputs: dict[tuple[tuple[int, ...], torch.dtype], list[torch.Tensor]] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor) and t.layout == torch.strided and t.numel() <= 256:
                self.outputs.setdefault((tuple(t.shape), t.dtype), []).append(t.detach().clone())
        return out

    def has(self, data: TensorData) -> bool:
        shown = torch.tensor(data.data, dtype=getattr(torch, data.dtype)).reshape(data.shape)
        return any(
            torch.equal(t, shown)
            or (t.is_floating_point() and torch.allclose(t, shown, **ROUNDING, equal_nan=True))
            for t in self.outputs.get((tuple(shown.shape), shown.dtype), [])
        )


def run_both_ways(path: Path, oracle: TorchDispatchMode, monkeypatch: Any) -> Graph:
    """Run ``path`` under plain torch inside ``oracle``, then capture it with gradviz."""
    monkeypatch.setattr(sys, "argv", [str(path)])
    with oracle:
        runpy.run_path(str(path), run_name="__main__")
    return graph_of(path)


def shown(g: Graph, summarized: bool) -> Iterator[tuple[str, str, TensorData]]:
    """Each value of an op's output and each gradient of one pass the graph shows, in
    full or as a summary, with what it is and what made it (for a failure message).

    CopySlices' output is its base after an in-place write into a slice: no aten
    op returns that tensor, so an oracle cannot have it.
    """
    made_by = {e.dst: g.node(e.src).autograd or "" for e in g.edges if g.node(e.src).kind == "op"}
    for n in g.tensors():
        op = made_by.get(n.id, "leaf")
        numbers = [("grad", n.grad)] if n.grad_passes == 1 else []
        if op not in ("leaf", "CopySlices"):
            numbers.append(("value", n.value))
        for what, data in numbers:
            if data is not None and (data.stats if summarized else data.data) is not None:
                yield what, op, data


@pytest.mark.parametrize("path", [*sorted(SAMPLES.glob("*.py")), *TUTORIALS], ids=lambda p: p.stem)
def test_every_value_and_gradient_shown_is_a_tensor_torch_computed(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    computed = Computed()
    g = run_both_ways(path, computed, monkeypatch)
    capsys.readouterr()
    checked: Counter[str] = Counter()
    for what, op, data in shown(g, summarized=False):
        assert computed.has(data), (what, op, data)
        checked[what] += 1
    assert checked["value"] > 0  # a capture that lost its values would not pass
    assert checked["grad"] > 0 or not g.passes  # dynamic_graph.py runs no backward


class Summarized(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """The summary of every large float tensor an aten op returned, by shape."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.stats: dict[tuple[int, ...], list[tuple[float, float, float, float]]] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor) and t.numel() > 256 and t.is_floating_point():
                d = t.detach().double()
                summary = (float(d.mean()), float(d.std()), float(d.min()), float(d.max()))
                self.stats.setdefault(tuple(t.shape), []).append(summary)
        return out

    def has(self, data: TensorData) -> bool:
        s = data.stats
        assert s is not None and None not in (s.mean, s.std, s.min, s.max)
        shown = (s.mean, s.std, s.min, s.max)
        return any(
            all(a == pytest.approx(b, rel=1e-4, abs=1e-6) for a, b in zip(shown, kept, strict=True))
            for kept in self.stats.get(data.shape, [])
        )


WORKLOADS = Path(__file__).resolve().parents[1] / "bench" / "workloads"


@pytest.mark.parametrize(
    "path",
    [*(WORKLOADS / f"{n}.py" for n in ("mlp", "cnn", "transformer")), SNIPPETS / "large_losses.py"],
    ids=lambda p: p.stem,
)
def test_every_summary_shown_is_that_of_a_tensor_torch_computed(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bench's MLP, CNN and transformer, and composite losses on a batch: hundreds
    of large tensors, each shown as a summary that must be the summary of one torch
    computed (forward and backward)."""
    summarized = Summarized()
    g = run_both_ways(path, summarized, monkeypatch)
    checked: Counter[str] = Counter()
    for what, op, data in shown(g, summarized=True):
        assert summarized.has(data), (what, op, data)
        checked[what] += 1
    capsys.readouterr()
    assert checked["value"] > 15 and checked["grad"] > 15
