"""What flowed back along an edge: the one fact explain, doctor and pictures all need.

The capture keeps an edge's gradient only where the tensor's own gradient does
not already say it (a tensor used once, in one pass, sends its whole gradient
along its one edge). This module gives every edge its gradient back: recorded,
the tensor's own, or, when exactly one use is missing, what is left of the
tensor's gradient after the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from gradviz.model import Edge, Graph, Scalar, TensorData

__all__ = ["Flow"]


class Flow:
    """Gradients along the input edges of one graph."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.uses: dict[int, list[Edge]] = {}
        for e in graph.edges:
            if graph.node(e.src).kind != "op":
                self.uses.setdefault(e.src, []).append(e)
        # A leaf's gradient is its .grad, which backward() passes add up, or what
        # autograd.grad() returned; with passes of both kinds on show it is not
        # the sum of what its uses sent.
        self._mixed = len({p.kind for p in graph.passes}) > 1

    def adds_up(self, node_id: int) -> bool:
        """Whether the node's gradient is the sum of what flowed along its uses (not when a
        hook of the snippet's made it something else)."""
        node = self.graph.node(node_id)
        return node.grad_hook is None and not (self._mixed and node.kind == "leaf")

    def along(self, edge: Edge) -> TensorData | None:
        """The gradient the op at ``edge.dst`` sent back to ``edge.src``; None if unknown."""
        if edge.grad is not None:
            return edge.grad
        src = self.graph.node(edge.src)
        uses = self.uses.get(edge.src, [])
        if len(uses) == 1 and src.grad_passes <= 1 and src.grad_hook is None:
            return src.grad
        missing = [e for e in uses if e.grad is None]
        if len(missing) == 1 and src.grad is not None and self.adds_up(src.id):
            return _remainder(src.grad, [e.grad for e in uses if e.grad is not None])
        return None


def _remainder(total: TensorData, parts: Sequence[TensorData | None]) -> TensorData | None:
    if total.data is None or any(
        p is None or p.data is None or p.shape != total.shape for p in parts
    ):
        return None
    data: list[Scalar] = list(total.data)
    for p in parts:
        assert p is not None and p.data is not None
        data = [a - b for a, b in zip(data, p.data, strict=True)]
    return TensorData(shape=total.shape, dtype=total.dtype, device=total.device, data=tuple(data))
