"""Values of tensors that no torch call showed, derived from their neighbours.

A torch call can make several autograd nodes: ``linear`` on a batch of
sequences views its input as a matrix, runs ``addmm`` and views the result
back; ``q @ k`` on 3-D tensors expands, views, runs ``bmm`` and views again.
The capture sees the call's arguments and its result, not the tensors in
between. Many of those are the same elements as a neighbour in another shape
or order (a view, a transpose, a broadcast), so their numbers are known
exactly without torch: this fills them in, in both directions, until nothing
more can be derived. Others an op saved for its backward as its ``result``
(``log_softmax`` inside ``cross_entropy``, ``exp``, ``tanh``): that saved
tensor is the output itself. The rest stay "not recorded".
"""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from dataclasses import replace

from gradviz.model import Edge, Node, Stats, TensorData
from gradviz.torchcapture.tensors import FULL_LIMIT

__all__ = ["derive_values"]

SAME_ORDER = frozenset(
    {
        "ViewBackward0",
        "UnsafeViewBackward0",
        "ReshapeAliasBackward0",
        "AliasBackward0",
        "CloneBackward0",
        "SqueezeBackward0",
        "SqueezeBackward1",
        "SqueezeBackward2",
        "SqueezeBackward3",
        "UnsqueezeBackward0",
    }
)
"""Ops whose output is their input's elements, in the same (row-major) order."""

PERMUTING = frozenset({"TBackward0", "TransposeBackward0", "PermuteBackward0"})
"""Ops whose output is their input's elements with the dimensions reordered."""


def derive_values(nodes: list[Node], edges: Sequence[Edge]) -> list[Node]:
    """``nodes`` with the values that saved results, views, transposes and broadcasts make known."""
    by_id = {n.id: n for n in nodes}
    producer = {e.dst: e.src for e in edges if by_id[e.src].kind == "op"}
    for e in edges:
        if by_id[e.src].kind == "op" and by_id[e.dst].value is None and by_id[e.src].saved:
            saved = _saved_result(by_id[e.src], e.slot)
            if saved is not None:
                by_id[e.dst] = replace(by_id[e.dst], value=saved)
    first_input = {e.dst: e.src for e in edges if e.slot == 0 and by_id[e.src].kind != "op"}
    pairs = [
        (op, first_input[op], out)
        for out, op in producer.items()
        if op in first_input and _kind(by_id[op]) is not None
    ]
    changed = True
    while changed:
        changed = False
        for op_id, in_id, out_id in pairs:
            op, inp, out = by_id[op_id], by_id[in_id], by_id[out_id]
            if out.value is None and inp.value is not None:
                value = _forward(op, inp.value, _shape(out))
                if value is not None:
                    by_id[out_id] = replace(out, value=value)
                    changed = True
            elif inp.value is None and out.value is not None:
                value = _backward(op, out.value, _shape(inp))
                if value is not None:
                    by_id[in_id] = replace(inp, value=value)
                    changed = True
    return [by_id[n.id] for n in nodes]


def _saved_result(op: Node, slot: int) -> TensorData | None:
    """What ``op`` saved as its output number ``slot`` (``result``, or ``result0``, ``result1``)."""
    names = ("result", "result0") if slot == 0 else (f"result{slot}",)
    for s in op.saved:
        if s.name in names and s.tensor is not None:
            return s.tensor
    return None


def _kind(op: Node) -> str | None:
    name = op.autograd or ""
    if name in SAME_ORDER:
        return "same"
    if name in PERMUTING:
        return "permute"
    if name == "ExpandBackward0":
        return "expand"
    return None


def _shape(node: Node) -> tuple[int, ...] | None:
    """A tensor's shape from whatever is known of it (its gradient has the same)."""
    if node.value is not None:
        return node.value.shape
    return node.grad.shape if node.grad is not None else None


def _forward(op: Node, value: TensorData, shape: tuple[int, ...] | None) -> TensorData | None:
    kind = _kind(op)
    if kind == "same":
        return _reshaped(value, shape)
    if kind == "permute":
        perm = _permutation(op, len(value.shape))
        return None if perm is None else _permuted(value, perm)
    if kind == "expand" and shape is not None:
        return _expanded(value, shape)
    return None


def _backward(op: Node, value: TensorData, shape: tuple[int, ...] | None) -> TensorData | None:
    kind = _kind(op)
    if kind == "same":
        return _reshaped(value, shape)
    if kind == "permute":
        perm = _permutation(op, len(value.shape))
        if perm is None:
            return None
        inverse = [0] * len(perm)
        for i, p in enumerate(perm):
            inverse[p] = i
        return _permuted(value, inverse)
    return None  # an expand's input is one of its repeats: not worth guessing which


def _reshaped(value: TensorData, shape: tuple[int, ...] | None) -> TensorData | None:
    if shape is None or math.prod(shape) != value.numel:
        return None
    return replace(value, shape=shape)


def _permutation(op: Node, dims: int) -> list[int] | None:
    """The dimension order an op's output has: ``out.shape[i] == in.shape[perm[i]]``."""
    if op.autograd == "TBackward0":
        return [1, 0] if dims == 2 else list(range(dims))
    saved = {s.name: s.value for s in op.saved if s.value is not None}
    try:
        if op.autograd == "TransposeBackward0":
            a, b = (_axis(int(saved[name]), dims) for name in ("dim0", "dim1"))
            perm = list(range(dims))
            perm[a], perm[b] = perm[b], perm[a]
            return perm
        listed = ast.literal_eval(saved["dims"])
        perm = [_axis(int(d), dims) for d in listed]
    except (KeyError, ValueError, SyntaxError, TypeError):
        return None
    return perm if sorted(perm) == list(range(dims)) else None


def _axis(dim: int, dims: int) -> int:
    """A dimension as an index: autograd saves ``-2`` as the unsigned 64-bit ``2**64 - 2``."""
    if dim >= 1 << 63:
        dim -= 1 << 64
    if dim < 0:
        dim += dims
    if not 0 <= dim < dims:
        raise ValueError(f"dimension {dim} of a {dims}-d tensor")
    return dim


def _permuted(value: TensorData, perm: list[int]) -> TensorData:
    shape = tuple(value.shape[p] for p in perm)
    if value.data is None:  # a summary does not depend on the order of the elements
        return replace(value, shape=shape)
    strides = _strides(value.shape)
    moved = [strides[p] for p in perm]
    data = tuple(value.data[_offset(index, moved)] for index in _indices(shape))
    return replace(value, shape=shape, data=data)


def _expanded(value: TensorData, shape: tuple[int, ...]) -> TensorData | None:
    """Broadcast ``value`` to ``shape``: every element repeated the same number of times."""
    extra = len(shape) - len(value.shape)
    padded = (1,) * extra + value.shape
    if extra < 0 or any(s != t and s != 1 for s, t in zip(padded, shape, strict=True)):
        return None
    numel = math.prod(shape)
    if value.data is not None:
        if numel > FULL_LIMIT:
            return None  # would need a summary of the repeats: rarely worth it
        strides = [
            0 if s == 1 and t != 1 else st
            for s, t, st in zip(padded, shape, _strides(padded), strict=True)
        ]
        data = tuple(value.data[_offset(index, strides)] for index in _indices(shape))
        return replace(value, shape=shape, data=data)
    return replace(value, shape=shape, stats=_repeated(value.stats, value.numel, numel))


def _repeated(stats: Stats | None, n: int, total: int) -> Stats | None:
    """The summary of ``total`` elements that repeat ``n`` elements equally often."""
    if stats is None or n == 0 or total % n:
        return None
    k = total // n
    std = None
    if stats.std is not None and n > 1 and total > 1:
        population = stats.std**2 * (n - 1) / n  # the same for the repeats
        std = math.sqrt(population * total / (total - 1))
    norm = None if stats.norm is None else stats.norm * math.sqrt(k)
    return replace(stats, std=std, norm=norm, nan=stats.nan * k, inf=stats.inf * k)


def _strides(shape: Sequence[int]) -> list[int]:
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    return strides


def _indices(shape: Sequence[int]) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = [()]
    for size in shape:
        out = [(*index, i) for index in out for i in range(size)]
    return out


def _offset(index: tuple[int, ...], strides: Sequence[int]) -> int:
    return sum(i * s for i, s in zip(index, strides, strict=True))
