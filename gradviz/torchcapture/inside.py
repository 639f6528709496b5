"""The values of the nodes a torch call makes inside itself, where the mode cannot see.

A ``TorchFunctionMode`` sees a call such as ``F.scaled_dot_product_attention``
or ``F.normalize`` as one call with one output, yet autograd records every aten
op the call ran: scaling, ``bmm``, a mask, softmax, another ``bmm``.
Those inner nodes would show no value. For the few calls known to make such
nodes, the recorder runs the call a second time, on detached copies of its
inputs, under a ``TorchDispatchMode`` that keeps each aten op's output, then
pairs the snippet's inner nodes with those outputs: autograd numbers nodes in
the order it makes them (``_sequence_nr``), the dispatch mode sees the ops in
the same order, and a node's class names its op (``BmmBackward0`` is
``aten.bmm``). Ops that made no node (a causal mask, a ``detach``) are skipped
over; a node with no matching op keeps no value, as before (a
``_reshape_alias``, which the second run does as ``view``; derive.py gives a
view its value anyway).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["LOOK_INSIDE", "PLAIN_TYPES", "Inside", "inner_nodes", "pair", "replay", "worth_looking"]

AutogradNode = Any

LOOK_INSIDE: set[Callable[..., Any]] = {
    F.scaled_dot_product_attention,
    torch.cdist,
    F.normalize,
    F.cosine_similarity,
    F.pairwise_distance,
    F.kl_div,
    F.gaussian_nll_loss,
    torch.lstm,  # nn.LSTM, nn.GRU and nn.RNN on the CPU: every gate of every step
    torch.gru,
    torch.rnn_tanh,
    torch.rnn_relu,
}
"""Calls that make inner nodes a neighbour's value cannot give (views, transposes and
broadcasts can: see derive.py; so ``matmul`` and ``einsum`` need nothing).

Not ``linear`` on batches: running it again would double the matmuls that are most
of a transformer's forward. Its product before the bias (``mm``, then
``_unsafe_view``) is the output less the bias instead (see
``Recorder._record_before_bias``). Attention is run again only when it made
more than one node (with a mask, on the CPU), which is already its slow path.

Each is run once more, on detached copies of its inputs, under :class:`Inside`
(see ``replay``), never the snippet's own call: under any dispatch mode torch
reshapes with ``view`` where it would use ``_reshape_alias``, so the snippet's
graph would gain a ``ViewBackward0`` where torch's has a ``ReshapeAliasBackward0``.
The capture leaves torch's graph exactly as torch builds it."""

PLAIN_TYPES = (torch.Tensor, torch.nn.Parameter)
"""Tensor types with no ``__torch_function__`` or ``__torch_dispatch__`` of their own."""


def worth_looking(func: Callable[..., Any], tensors: Sequence[torch.Tensor]) -> bool:
    """Whether to run ``func`` again under :class:`Inside`, given its tensor arguments.

    Not for tensor subclasses (their own ``__torch_dispatch__`` comes first), nor
    while another dispatch mode or a ``torch.func`` transform is active: gradviz
    must not change what they see.
    """
    if any(t.device.type != "cpu" for t in tensors):
        return False  # the random state put back is the CPU generator's
    if any(type(t) not in PLAIN_TYPES for t in tensors):
        return False
    if torch._C._len_torch_dispatch_stack() > 0:
        return False
    return torch._C._functorch.peek_interpreter_stack() is None


class Inside(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """Keeps the output of every aten op run under it, in order, by op name.

    An in-place op (``sigmoid_`` in a GRU's gates) writes into an output kept
    earlier; that output is copied first, so it keeps the value it had.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.ops: list[tuple[str, Any]] = []
        self._by_memory: dict[int, list[int]] = {}
        """Where each kept output's memory starts -> the ops that returned it."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        """No: torch would wrap the handler in ``torch._dynamo.disable``, whose first
        call imports dynamo (0.9 s, 80 MiB). The handler compiles nothing."""
        return False

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func._schema.is_mutable:
            for written in _written(func, args, kwargs):
                self._keep_before_writing(written)
        out = func(*args, **kwargs)
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor):
                self._by_memory.setdefault(_memory(t), []).append(len(self.ops))
        self.ops.append((_op_key(func), out))
        return out

    def _keep_before_writing(self, target: torch.Tensor) -> None:
        """Copy every kept output over ``target``'s memory (copies are never written)."""
        memory = _memory(target)
        for i in dict.fromkeys(self._by_memory.pop(memory, ())):
            key, kept = self.ops[i]
            outs = kept if isinstance(kept, tuple | list) else (kept,)
            copied = tuple(_memory_copy(t, memory) for t in outs)
            self.ops[i] = (key, copied if isinstance(kept, tuple | list) else copied[0])


def _written(func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """The tensors an op writes into: ``self`` of ``sigmoid_``, ``out`` of ``add.out``."""
    written: list[object] = []
    for i, arg in enumerate(func._schema.arguments):
        if arg.alias_info is None or not arg.alias_info.is_write:
            continue
        value = args[i] if i < len(args) else kwargs.get(arg.name)
        written.extend(v for v in (value if isinstance(value, tuple | list) else (value,)))
    return [t for t in written if isinstance(t, torch.Tensor)]


def _memory(t: torch.Tensor) -> int:
    return int(t.untyped_storage().data_ptr())


def _memory_copy(t: Any, memory: int) -> Any:
    """``t`` copied if it lies in ``memory``, else ``t`` itself."""
    return t.clone() if isinstance(t, torch.Tensor) and _memory(t) == memory else t


def replay(
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any] | None,
    rng_before: torch.Tensor,
) -> Inside:
    """Run ``func`` again on detached copies of its inputs, keeping its aten ops' outputs.

    The random state is put back to what the snippet's call started from (the
    same dropout mask), then to what that call left, so that the snippet's
    random numbers go on as without gradviz. Warnings the second run raises are
    not shown: the snippet's own call showed them.
    """
    rng_after = torch.random.get_rng_state()
    torch.random.set_rng_state(rng_before)
    inside = Inside()
    try:
        with warnings.catch_warnings(), torch.enable_grad(), inside:
            warnings.simplefilter("ignore")
            func(*_copy(list(args)), **{k: _copy(v) for k, v in (kwargs or {}).items()})
    finally:
        torch.random.set_rng_state(rng_after)
    return inside


def _copy(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().requires_grad_(x.requires_grad)
    if isinstance(x, tuple | list):
        return type(x)(_copy(v) for v in x)
    return x


def inner_nodes(outputs: Iterable[torch.Tensor], inputs: Iterable[torch.Tensor]) -> list[Any]:
    """The nodes made during a call, in the order autograd made them.

    They lie between the outputs' nodes and the inputs': numbered after every
    input's node (inputs exist before the call), found by walking down from the
    outputs and stopping at anything older.
    """
    floor = -1
    for t in inputs:
        if t.grad_fn is not None:
            floor = max(floor, t.grad_fn._sequence_nr())
    found: dict[int, Any] = {}
    stack: list[Any] = [t.grad_fn for t in outputs if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node is None or id(node) in found:
            continue
        seq = node._sequence_nr()
        if seq <= floor or seq >= _LEAF_SEQ:  # older than the call, or a leaf
            continue
        found[id(node)] = node
        stack.extend(n for n, _ in node.next_functions)
    return sorted(found.values(), key=lambda n: n._sequence_nr())


def pair(nodes: Sequence[Any], ops: Sequence[tuple[str, Any]]) -> list[tuple[Any, Any]]:
    """Each node with the output of the op that made it; nodes left unmatched are dropped."""
    pairs = []
    start = 0
    for node in nodes:
        key = _node_key(type(node))
        for i in range(start, len(ops)):
            if ops[i][0] == key:
                pairs.append((node, ops[i][1]))
                start = i + 1
                break
    return pairs


_LEAF_SEQ = 2**63  # AccumulateGrad nodes carry UINT64_MAX
_BACKWARD = re.compile(r"Backward\d*$")
_NODE_KEYS: dict[type, str] = {}
_OP_KEYS: dict[Any, str] = {}


def _node_key(node_type: type) -> str:
    """``SafeSoftmaxBackward0`` -> ``safesoftmax``: what :func:`_op_key` gives its op."""
    key = _NODE_KEYS.get(node_type)
    if key is None:
        key = _NODE_KEYS[node_type] = _BACKWARD.sub("", node_type.__name__).lower()
    return key


def _op_key(func: Any) -> str:
    """``aten._safe_softmax.default`` -> ``safesoftmax``."""
    key = _OP_KEYS.get(func)
    if key is None:
        name = getattr(getattr(func, "overloadpacket", func), "__name__", str(func))
        key = _OP_KEYS[func] = name.replace("_", "").lower()
    return key
