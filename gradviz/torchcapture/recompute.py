"""Values of small tensors the mode never saw, computed again with the same torch op.

``backward(create_graph=True)`` and ``autograd.grad(..., create_graph=True)``
build the graph of the gradient inside torch's C++ backward formulas: a PINN's
``u_xx``, a gradient penalty, ``d(3x²)/dx``. No Python call makes those nodes,
so the mode sees none of their outputs, and most are saved by nobody. Their
inputs are known, though (the forward tensors, the gradients that flowed, the
scalars each node saved), and each node names its op: ``PowBackward0`` is
``self ** exponent``, ``TanhBackwardBackward0`` is ``aten.tanh_backward``.
This runs that op again on those inputs, in their dtype, which gives torch's
own numbers (a BLAS product may round its last bit another way). Only for
tensors small enough to keep every element: a summary cannot be an op's input.

The same fills the insides of composite losses (label smoothing, triplet and
cosine-embedding margins), which one torch call makes in C++, and small tensors
made in a thread the mode does not run in. Anything it does not know (an op of
a Python number torch kept no copy of) stays "not recorded".
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from gradviz.model import Edge, Node, TensorData
from gradviz.torchcapture.tensors import FULL_LIMIT, to_data

__all__ = ["recompute_values"]

Args = Mapping[str, Any]


@dataclass(frozen=True)
class _Op:
    inputs: tuple[str, ...]
    """The node's ``next_functions`` slots, by the names its saved tensors use."""
    run: Callable[[Args], torch.Tensor]
    scalars: tuple[str, ...] = ()
    """Saved non-tensor attributes the op needs (``exponent``, ``alpha``, ``dim``)."""
    tensors: tuple[str, ...] = ()
    """Saved tensors the op needs that are no input slot (a mask, a target), or None."""


_aten = torch.ops.aten


def _of_self(fn: Callable[[torch.Tensor], torch.Tensor]) -> _Op:
    """An op of its one input alone (``sin``, ``sum``): no saved attribute needed."""
    return _Op(("self",), lambda a: fn(a["self"]))


OPS: dict[str, _Op] = {
    "AddBackward0": _Op(
        ("self", "other"), lambda a: torch.add(a["self"], a["other"], alpha=a["alpha"]), ("alpha",)
    ),
    "SubBackward0": _Op(
        ("self", "other"), lambda a: torch.sub(a["self"], a["other"], alpha=a["alpha"]), ("alpha",)
    ),
    "MulBackward0": _Op(("self", "other"), lambda a: torch.mul(a["self"], a["other"])),
    "MulBackward1": _Op(("self",), lambda a: torch.mul(a["self"], a["other"]), ("other",)),
    "DivBackward0": _Op(("self", "other"), lambda a: torch.div(a["self"], a["other"])),
    "DivBackward1": _Op(("self",), lambda a: torch.div(a["self"], a["other"]), ("other",)),
    "NegBackward0": _of_self(torch.neg),
    "SinBackward0": _of_self(torch.sin),
    "CosBackward0": _of_self(torch.cos),
    "LogBackward0": _of_self(torch.log),
    "AbsBackward0": _of_self(torch.abs),
    "ExpBackward0": _of_self(torch.exp),
    "SqrtBackward0": _of_self(torch.sqrt),
    "TanhBackward0": _of_self(torch.tanh),
    "SigmoidBackward0": _of_self(torch.sigmoid),
    "ReluBackward0": _of_self(torch.relu),
    "SumBackward0": _of_self(torch.sum),
    "MeanBackward0": _of_self(torch.mean),
    "PowBackward0": _Op(("self",), lambda a: torch.pow(a["self"], a["exponent"]), ("exponent",)),
    "PowBackward1": _Op(("self", "exponent"), lambda a: torch.pow(a["self"], a["exponent"])),
    "MmBackward0": _Op(("self", "mat2"), lambda a: torch.mm(a["self"], a["mat2"])),
    "SumBackward1": _Op(
        ("self",), lambda a: torch.sum(a["self"], a["dim"], a["keepdim"]), ("dim", "keepdim")
    ),
    "MeanBackward1": _Op(
        ("self",), lambda a: torch.mean(a["self"], a["dim"], a["keepdim"]), ("dim", "keepdim")
    ),
    "MaxBackward0": _Op(
        ("self",), lambda a: torch.amax(a["self"], a["dim"], a["keepdim"]), ("dim", "keepdim")
    ),
    "ClampMinBackward0": _Op(("self",), lambda a: torch.clamp_min(a["self"], a["min"]), ("min",)),
    "ClampBackward1": _Op(
        ("self",), lambda a: torch.clamp(a["self"], a["min"], a["max"]), ("min", "max")
    ),
    "WhereBackward0": _Op(
        ("self", "other"),
        lambda a: torch.where(a["condition"], a["self"], a["other"]),
        tensors=("condition",),
    ),
    "LerpBackward0": _Op(
        ("self", "end"), lambda a: torch.lerp(a["self"], a["end"], a["weight"]), ("weight",)
    ),
    "SliceBackward0": _Op(
        ("self",),
        lambda a: _aten.slice(a["self"], a["dim"], a["start"], a["end"], a["step"]),
        ("dim", "start", "end", "step"),
    ),
    "SelectBackward0": _Op(
        ("self",), lambda a: torch.select(a["self"], a["dim"], a["index"]), ("dim", "index")
    ),
    "GatherBackward0": _Op(
        ("self",), lambda a: torch.gather(a["self"], a["dim"], a["index"]), ("dim",), ("index",)
    ),
    "NllLossBackward0": _Op(
        ("self",),
        lambda a: _aten.nll_loss_forward(
            a["self"], a["target"], a["weight"], a["reduction"], a["ignore_index"]
        )[0],
        ("reduction", "ignore_index"),
        ("target", "weight"),
    ),
    "TanhBackwardBackward0": _Op(
        ("grad_output", "output"), lambda a: _aten.tanh_backward(a["grad_output"], a["output"])
    ),
    "SigmoidBackwardBackward0": _Op(
        ("grad_output", "output"), lambda a: _aten.sigmoid_backward(a["grad_output"], a["output"])
    ),
    "ThresholdBackwardBackward0": _Op(
        ("grad_output", "self"),
        lambda a: _aten.threshold_backward(a["grad_output"], a["self"], a["threshold"]),
        ("threshold",),
    ),
    "LeakyReluBackwardBackward0": _Op(
        ("grad_output", "self"),
        lambda a: _aten.leaky_relu_backward(
            a["grad_output"], a["self"], a["negative_slope"], a["self_is_result"]
        ),
        ("negative_slope", "self_is_result"),
    ),
    "MseLossBackwardBackward0": _Op(
        ("grad_output", "self", "target"),
        lambda a: _aten.mse_loss_backward(a["grad_output"], a["self"], a["target"], a["reduction"]),
        ("reduction",),
    ),
    "LogSoftmaxBackwardDataBackward0": _Op(
        ("grad_output", "output"),
        lambda a: _aten._log_softmax_backward_data(
            a["grad_output"], a["output"], a["dim"], a["output"].dtype
        ),
        ("dim",),
    ),
    "SoftmaxBackwardDataBackward0": _Op(
        ("grad_output", "output"),
        lambda a: _aten._softmax_backward_data(
            a["grad_output"], a["output"], a["dim"], a["output"].dtype
        ),
        ("dim",),
    ),
    "SoftplusBackwardBackward0": _Op(
        ("grad_output", "self"),
        lambda a: _aten.softplus_backward(a["grad_output"], a["self"], a["beta"], a["threshold"]),
        ("beta", "threshold"),
    ),
}
"""The ops a double-backward graph is mostly made of (PyTorch's derivatives.yaml), those
inside composite losses (label smoothing, triplet and cosine-embedding margins), and the
elementwise ops and reductions of code run where the mode cannot see (another thread,
TorchScript)."""


def recompute_values(nodes: list[Node], edges: Sequence[Edge]) -> tuple[list[Node], int]:
    """``nodes`` with the values of small op outputs that ``OPS`` can compute again
    (and of inputs such an op saved), and how many it found."""
    if all(n.value is not None for n in nodes if n.kind != "op"):
        return nodes, 0  # the common case, and a 100,000-node chain need not be looked at
    by_id = {n.id: n for n in nodes}
    output: dict[int, int] = {}
    inputs: dict[int, dict[int, int]] = {}
    for e in edges:
        if by_id[e.src].kind == "op":
            output.setdefault(e.src, e.dst)  # multi-output ops are not in OPS
        else:
            inputs.setdefault(e.dst, {})[e.slot] = e.src
    found = 0
    for op_id, slots in inputs.items():  # what an op saved of its inputs is their value
        spec = OPS.get(by_id[op_id].autograd or "")
        if spec is None:
            continue
        saved = {s.name: s.tensor for s in by_id[op_id].saved if s.tensor is not None}
        for slot, tensor_id in slots.items():
            kept = saved.get(spec.inputs[slot]) if slot < len(spec.inputs) else None
            tensor = by_id[tensor_id]
            if kept is not None and tensor.value is None and _shape(tensor) == kept.shape:
                by_id[tensor_id] = replace(tensor, value=kept)
                found += 1
    # ids grow away from the outputs: from the highest, an op's inputs come before it
    todo = sorted(
        (
            op_id
            for op_id, out_id in output.items()
            if by_id[op_id].autograd in OPS and by_id[out_id].value is None
        ),
        reverse=True,
    )
    while todo:
        left = []
        for op_id in todo:
            value = _run(by_id[op_id], inputs.get(op_id, {}), by_id, _shape(by_id[output[op_id]]))
            if value is None:
                left.append(op_id)
            else:
                out_id = output[op_id]
                by_id[out_id] = replace(by_id[out_id], value=value)
                found += 1
        if len(left) == len(todo):
            break
        todo = left
    if not found:
        return nodes, 0
    return [by_id[n.id] for n in nodes], found


def _run(
    op: Node, slots: Mapping[int, int], by_id: Mapping[int, Node], shape: tuple[int, ...] | None
) -> TensorData | None:
    spec = OPS[op.autograd or ""]
    saved = {s.name: s for s in op.saved}
    args: dict[str, Any] = {}
    for slot, name in enumerate(spec.inputs):
        data = by_id[slots[slot]].value if slot in slots else None
        kept = saved.get(name)
        if data is None and kept is not None:
            data = by_id[kept.ref].value if kept.ref is not None else kept.tensor
        tensor = _tensor(data)
        if tensor is None:
            return None
        args[name] = tensor
    for name in spec.tensors:
        attr = saved.get(name)
        if attr is None:
            return None
        if attr.value == "None":  # an optional tensor left out (nll_loss's weight)
            args[name] = None
            continue
        tensor = _tensor(by_id[attr.ref].value if attr.ref is not None else attr.tensor)
        if tensor is None:
            return None
        args[name] = tensor
    for name in spec.scalars:
        attr = saved.get(name)
        value = _literal(attr.value) if attr is not None else _UNKNOWN
        if value is _UNKNOWN:
            return None
        args[name] = value
    try:
        with torch.no_grad():
            result = spec.run(args)
    except (RuntimeError, TypeError, ValueError):
        return None
    if shape is not None and tuple(result.shape) != shape:
        return None
    return to_data(result)


def _tensor(data: TensorData | None) -> torch.Tensor | None:
    """The tensor ``data`` holds every element of, in its dtype; None for a summary."""
    if data is None or data.data is None or data.numel > FULL_LIMIT:
        return None
    dtype = getattr(torch, data.dtype, None)
    if not isinstance(dtype, torch.dtype):
        return None
    return torch.tensor(data.data, dtype=dtype).reshape(data.shape)


_UNKNOWN = object()


def _literal(text: str | None) -> object:
    """A saved attribute as the node described it: ``2``, ``0.01``, ``True``, ``inf``,
    ``None``, or a tuple of dimensions; ``_UNKNOWN`` for anything else.

    Autograd keeps dimensions and indices unsigned: ``-1`` reads ``2**64 - 1``.
    """
    if text is None:
        return _UNKNOWN
    if text in ("inf", "-inf", "nan"):
        return float(text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return _UNKNOWN
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return _signed(value)
    if isinstance(value, tuple) and all(type(v) is int for v in value):
        return tuple(_signed(v) for v in value)
    return _UNKNOWN


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _shape(node: Node) -> tuple[int, ...] | None:
    """The output's shape from its gradient, when it has one."""
    return node.grad.shape if node.grad is not None else None
