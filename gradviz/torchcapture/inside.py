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
import types
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from gradviz.torchcapture.derive import PERMUTING, SAME_ORDER

__all__ = [
    "LOOK_INSIDE",
    "PLAIN_TYPES",
    "Inside",
    "hidden",
    "inner_nodes",
    "made_inside",
    "pair",
    "pure",
    "replay",
    "worth_looking",
]

AutogradNode = Any

LOOK_INSIDE: set[Callable[..., Any]] = {
    F.scaled_dot_product_attention,  # its dropout
    torch.lstm,  # nn.LSTM, nn.GRU and nn.RNN on the CPU: dropout between layers
    torch.gru,
    torch.rnn_tanh,
    torch.rnn_relu,
    torch.alpha_dropout,
    torch.feature_alpha_dropout,
}
"""Calls in C++ whose inner ops may draw random numbers: the random state is kept before
each, so that their second run draws what the snippet's call drew.

Any other call that made nodes inside itself is run again only when some of them
are hidden (see :func:`hidden`), and only if that second run drew no random
number (else its numbers are not the snippet's, and are dropped). Torch's
functions written in Python (``F.normalize``, ``F.gumbel_softmax``) are not run
again: the recorder opens them and sees their ops one by one (see
``recorder._composite``).

The snippet's own call never runs under :class:`Inside`: under any dispatch
mode torch reshapes with ``view`` where it would use ``_reshape_alias``, so the
snippet's graph would gain a ``ViewBackward0`` where torch's has a
``ReshapeAliasBackward0``. The capture leaves torch's graph exactly as torch
builds it."""

_VIEWS = SAME_ORDER | PERMUTING
"""Nodes whose output is their input's elements (see derive.py): either gives the other."""
_EXPAND = "ExpandBackward0"  # its output follows from its input, not the other way

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
    rng_before: torch.Tensor | None,
) -> Inside | None:
    """Run ``func`` again on detached copies of its inputs, keeping its aten ops' outputs.

    With ``rng_before``, the random state is put back to what the snippet's call
    started from (the same dropout mask). Without, the second run starts from
    the state the call left, and is worth nothing (None) if it drew a random
    number. Either way the state ends as the snippet's call left it, so that
    the snippet's random numbers go on as without gradviz. Warnings the second
    run raises are not shown: the snippet's own call showed them.
    """
    rng_after = torch.random.get_rng_state()
    if rng_before is not None:
        torch.random.set_rng_state(rng_before)
    inside = Inside()
    try:
        with warnings.catch_warnings(), torch.enable_grad(), inside:
            warnings.simplefilter("ignore")
            func(*_copy(list(args)), **{k: _copy(v) for k, v in (kwargs or {}).items()})
        drew = rng_before is None and not torch.equal(torch.random.get_rng_state(), rng_after)
    finally:
        torch.random.set_rng_state(rng_after)
    return None if drew else inside


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


_BUILTINS = (
    types.BuiltinFunctionType,  # torch.add, F.linear, torch._C._nn.cross_entropy_loss
    types.MethodDescriptorType,  # Tensor.add, Tensor.__mul__
    types.WrapperDescriptorType,  # Tensor.__getitem__
)
_PURE: dict[Any, bool] = {}


def pure(func: Callable[..., Any]) -> bool:
    """Whether running ``func`` again cannot change anything but what it returns.

    Only torch's ops in C++ that write nowhere: not a function in Python (a
    custom ``autograd.Function``'s ``apply``, gradviz's own wrapper of
    ``autograd.grad``), not an in-place op (``add_``, ``__iadd__``,
    ``__setitem__``): the copies it gets share memory with the snippet's tensors.
    """
    known = _PURE.get(func)
    if known is None:
        name = getattr(func, "__name__", "")
        known = _PURE[func] = (
            isinstance(func, _BUILTINS)
            and not name.endswith("_")
            and not (name.startswith("__i") and name != "__invert__")
            and name != "__setitem__"
        )
    return known


def made_inside(outputs: Sequence[torch.Tensor], inputs: Iterable[torch.Tensor]) -> bool:
    """Whether a call made nodes besides its outputs' own that may need a second run.

    A third of a microsecond: its outputs' nodes point straight at its inputs'
    nodes (or at leaves) unless something was made in between, numbered after
    every input's node. A view of a leaf made on the way (``linear``'s
    transposed weight) does not count: it shows the leaf's numbers.
    """
    floor = -1
    for t in inputs:
        node = t.grad_fn
        if node is not None:
            seq = node._sequence_nr()
            if seq > floor:
                floor = seq
    for t in outputs:
        node = t.grad_fn
        if node is None:
            continue
        for nxt, _ in node.next_functions:
            if (
                nxt is not None
                and floor < nxt._sequence_nr() < _LEAF_SEQ
                and (type(nxt).__name__ not in _VIEWS or not _of_leaves(nxt))
            ):
                return True
    return False


def _of_leaves(node: Any) -> bool:
    return all(n is None or n._sequence_nr() >= _LEAF_SEQ for n, _ in node.next_functions)


def hidden(
    nodes: Sequence[Any],
    outputs: Sequence[torch.Tensor],
    inputs: Iterable[torch.Tensor],
    recorded: Callable[[Any], bool],
) -> bool:
    """Whether some of a call's inner ``nodes`` have values that nothing else gives.

    Known are the call's inputs and outputs, what the recorder ``recorded``, and
    what a node saved as its result (``log_softmax`` inside ``cross_entropy``);
    a view gives its input from its output or the other way (``matmul`` on
    batches: view, ``mm``, view), as derive.py will. The rest needs a second run.
    """
    known = {id(t.grad_fn) for t in (*outputs, *inputs) if t.grad_fn is not None}
    pending = [n for n in nodes if id(n) not in known]
    changed = True
    while pending and changed:
        changed = False
        for node in nodes:  # a known view gives its input
            if id(node) in known and type(node).__name__ in _VIEWS:
                src = node.next_functions[0][0]
                if src is not None and id(src) not in known:
                    known.add(id(src))
                    changed = True
        left = []
        for node in pending:
            if id(node) in known or recorded(node) or _saves_result(type(node)):
                changed = True
                known.add(id(node))
                continue
            name = type(node).__name__
            if name in _VIEWS or name == _EXPAND:
                src = node.next_functions[0][0]
                if src is None or src._sequence_nr() >= _LEAF_SEQ or id(src) in known:
                    known.add(id(node))
                    changed = True
                    continue
            left.append(node)
        pending = left
    return bool(pending)


_SAVES_RESULT: dict[type, bool] = {}


def _saves_result(node_type: type) -> bool:
    """Whether nodes of this type keep their output for backward (read by derive.py);
    asked of the type, so that no saved tensor is unpacked (a snippet's unpack hooks
    would run once more than without gradviz)."""
    saves = _SAVES_RESULT.get(node_type)
    if saves is None:
        saves = _SAVES_RESULT[node_type] = hasattr(node_type, "_saved_result")
    return saves


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
    """``aten._safe_softmax.default`` -> ``safesoftmax``; ``aten.nll_loss_forward`` ->
    ``nllloss``, as its node is ``NllLossBackward0``."""
    key = _OP_KEYS.get(func)
    if key is None:
        name = getattr(getattr(func, "overloadpacket", func), "__name__", str(func))
        key = _OP_KEYS[func] = name.removesuffix("_forward").replace("_", "").lower()
    return key
