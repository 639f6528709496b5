"""What gradviz keeps about a graph while the snippet runs, and how it lets go of it.

What is recorded lives in each autograd node's own ``metadata`` dict (a
``NodeRecord`` for an op, a ``LeafRecord`` for a leaf's ``AccumulateGrad``), so
it goes when the graph goes. A ``PassRecord`` holds one backward pass's graph
while that pass is on show; letting go of it follows the order that frees a
50,000-step chain without overflowing the C stack (see DESIGN.md).
"""

from __future__ import annotations

import gc
import weakref
from collections import deque
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Literal, TypeVar

import torch

from gradviz.model import TensorData
from gradviz.torchcapture.saved import SavedRecord
from gradviz.torchcapture.tensors import StatsMemo, StorageKey, add_data, to_data

__all__ = [
    "CALL_DEPTH",
    "DEEP",
    "KEY",
    "AutogradNode",
    "GradHook",
    "LeafRecord",
    "NodeRecord",
    "ParamUses",
    "PassRecord",
    "forget_snippet_names",
    "gradient_edge",
    "is_leaf_node",
    "leaf_record",
    "node_record",
    "release_in_order",
    "shown_grad",
    "snippet_frame",
    "snippet_line",
    "snippet_lines",
    "walk",
]

KEY = "gradviz"
_SHOWN_AS = "<what gradviz recorded of this node; it goes with the graph>"
AutogradNode = Any  # torch.autograd.graph.Node; its C++ subclasses are not typed


@dataclass
class GradHook:
    """A hook the snippet put on a tensor's gradient: the line, and the handles that can
    take it off again (``h = t.register_hook(fn)``; ``h.remove()``)."""

    line: int
    handles: list[object] = field(default_factory=list)

    def live(self) -> bool:
        """Whether any of them is still on (a handle of another kind counts as on)."""
        for handle in self.handles:
            ref = getattr(handle, "hooks_dict_ref", None)
            if not callable(ref):
                return True
            hooks = ref()  # gone once nothing (no node) can run the hooks in it
            if hooks is not None and getattr(handle, "id", None) in hooks:
                return True
        return not self.handles


@dataclass(repr=False)
class NodeRecord:
    """What gradviz learned about one op node (a ``grad_fn``)."""

    def __repr__(self) -> str:  # a snippet that prints grad_fn.metadata sees this
        return _SHOWN_AS

    outputs: dict[int, TensorData] = field(default_factory=dict)
    keys: dict[int, StorageKey | None] = field(default_factory=dict)
    call: str | None = None
    line: int | None = None
    callers: tuple[int, ...] = ()
    """The snippet line that called the function ``line`` is in (``H = relu(...)`` for
    ``relu``'s ``return``), then the line that called that one's function, and so on
    outwards (at most ``CALL_DEPTH``); none for a line of the snippet's module level."""
    saved: list[SavedRecord] | None = None
    grads: dict[int, dict[int, TensorData]] = field(default_factory=dict)
    """Output number -> backward pass -> the gradient that pass gave the output."""
    edge_grads: dict[int, dict[int, TensorData]] = field(default_factory=dict)
    """Input slot -> backward pass -> the gradient that pass sent along the edge."""
    edge_slots: frozenset[int] = frozenset()
    hooked: bool = False
    step: int | None = None
    backward_step: int | None = None
    scope: tuple[tuple[int, str], ...] = ()
    grad_hooks: dict[int, GradHook] = field(default_factory=dict)
    """Output number -> the snippet's hook on its gradient (``register_hook``), as of the
    last backward pass: one removed before a pass is dropped then."""
    constants: dict[int, SavedRecord] | None = None
    """Input slot -> a tensor input that needs no gradient (``y`` in ``y_pred - y``)."""
    numbers: dict[str, object] = field(default_factory=dict)
    """Numbers of the call the node does not save (``masked_fill``'s ``value``)."""

    def add_grad(
        self, nr: int, grad: torch.Tensor, pass_index: int, memo: StatsMemo | None = None
    ) -> None:
        _add(self.grads.setdefault(nr, {}), pass_index, to_data(grad, memo))

    def add_edge_grad(
        self, slot: int, grad: torch.Tensor, pass_index: int, memo: StatsMemo | None = None
    ) -> None:
        _add(self.edge_grads.setdefault(slot, {}), pass_index, to_data(grad, memo))


def _add(by_pass: dict[int, TensorData], pass_index: int, data: TensorData) -> None:
    earlier = by_pass.get(pass_index)
    by_pass[pass_index] = data if earlier is None else add_data(earlier, data)


def shown_grad(
    by_pass: Mapping[int, TensorData] | None, shown: Container[int] | None
) -> tuple[TensorData | None, int]:
    """The gradient the shown passes gave, added up as torch adds passes, and their count.

    Kept per pass because one graph can be walked by several: ``autograd.grad``
    with ``create_graph`` (a PINN, a gradient penalty) then ``backward()`` over
    the same nodes. Only the passes on show count; ``shown`` None counts all.
    """
    if not by_pass:
        return None, 0
    total: TensorData | None = None
    count = 0
    for index in sorted(by_pass):
        if shown is None or index in shown:
            data = by_pass[index]
            total = data if total is None else add_data(total, data)
            count += 1
    return total, count


@dataclass(repr=False)
class LeafRecord:
    """What gradviz learned about one leaf (an ``AccumulateGrad`` node)."""

    def __repr__(self) -> str:
        return _SHOWN_AS

    value: TensorData | None = None
    grad: TensorData | None = None
    """``.grad`` as the backward passes left it; ``passes`` counts those that added to it."""
    passes: int = 0
    seen: TensorData | None = None
    """The value as the last pass that added to ``.grad`` saw it, and its version then."""
    seen_version: int = -1
    mixed: bool = False
    """``.grad`` adds up passes made at different values (a step in between, no reset)."""
    stale: int = 0
    """Steps that used such a ``.grad`` (the value changed again): ``Node.grad_stale``."""
    grad_ref: tuple[int, int] | None = None
    grad_probe: tuple[object, ...] | None = None
    """A few elements of ``.grad`` as backward left it (``tensors.probe``)."""
    returned: dict[int, TensorData] = field(default_factory=dict)
    """Backward pass -> what ``autograd.grad`` returned for this leaf (it writes no ``.grad``)."""
    sent: TensorData | None = None
    """What the pass ``sent_in`` sent into the leaf, kept where ``.grad`` may not show it."""
    sent_in: int = -1
    watched: bool = False
    grad_hook: int | None = None
    """The snippet line that hooked this leaf's gradient (``register_hook``)."""


@dataclass
class PassRecord:
    """One backward pass; ``roots`` keeps its graph alive while the pass is shown."""

    index: int
    kind: Literal["backward", "grad"]
    roots: list[tuple[AutogradNode, int]]
    leaves: dict[int, AutogradNode]
    line: int | None
    retain_graph: bool
    create_graph: bool
    held: deque[AutogradNode] = field(default_factory=deque)
    live: bool = True
    inputs_only: bool = False
    names: dict[str, object] = field(default_factory=dict)
    """The locals of the snippet's functions that called it (see ``naming.worth_naming``)."""
    root_tensors: list[weakref.ref[torch.Tensor]] = field(default_factory=list)

    def release(self) -> None:
        """Let go of this pass's graph, root first (see ``GraphBuilder.release``)."""
        self.live = False
        self.names.clear()  # the user's tensors go before the nodes, whoever holds the dict
        self.roots = []
        self.leaves = {}
        if len(self.held) > DEEP and any(r() is not None for r in self.root_tensors):
            # Something still keeps the root: if it is a reference cycle (a function's
            # ``snapshot = locals()``), it would be collected after the nodes below
            # are let go and free the whole chain at once. Collect it first.
            gc.collect()
        release_in_order(self.held)


DEEP = 10_000
"""Graphs with more nodes than this are let go of with care (see ``PassRecord.release``)."""


R = TypeVar("R", NodeRecord, LeafRecord)


def _record_on(node: AutogradNode, kind: type[R]) -> R:
    """The record kept in the node's own metadata, made on first use."""
    md = node.metadata
    rec = md.get(KEY)
    if rec is None:
        rec = md[KEY] = kind()
    return rec  # type: ignore[no-any-return]


def node_record(node: AutogradNode) -> NodeRecord:
    return _record_on(node, NodeRecord)


def leaf_record(acc: AutogradNode) -> LeafRecord:
    return _record_on(acc, LeafRecord)


def is_leaf_node(node: AutogradNode) -> bool:
    return type(node).__name__ == "AccumulateGrad"


@dataclass
class ParamUses:
    """What the recorder saw a snippet do with tensors that may get no gradient.

    ``doctor`` tells a missing gradient from an expected one by these: each maps
    to the first snippet line of its kind.
    """

    detached: Mapping[int, int] = field(default_factory=dict)
    """``id(leaf)`` -> where a ``.detach()`` cut it (or what was computed from it) off."""
    used: Mapping[Any, int] = field(default_factory=dict)
    """leaf -> where a call that recorded a graph first used it."""
    no_grad: Mapping[Any, int] = field(default_factory=dict)
    """parameter -> where its module was first called under ``no_grad``."""
    swapped: Mapping[tuple[int, str], int] = field(default_factory=dict)
    """``(id(module), name)`` -> where the module first ran with another tensor in
    that parameter's place (``torch.func.functional_call``)."""
    differentiated: Mapping[Any, int] = field(default_factory=dict)
    """leaf -> where ``torch.autograd.grad`` first took the gradient with respect to it."""


def gradient_edge(t: torch.Tensor) -> tuple[AutogradNode, int] | None:
    """The autograd node and output number behind ``t`` (a leaf's AccumulateGrad)."""
    if t.grad_fn is not None:
        return t.grad_fn, t.output_nr
    if not t.requires_grad:
        return None
    get_edge = getattr(torch.autograd.graph, "get_gradient_edge", None)
    if get_edge is None:  # torch < 2.2: a view's node points at the leaf's accumulator
        return t.view_as(t).grad_fn.next_functions[0]  # type: ignore[union-attr]
    try:
        edge = get_edge(t)
    except AttributeError:  # a torch.func wrapper after its transform: no view has a grad_fn
        return None
    return edge.node, edge.output_nr


def release_in_order(held: deque[Any]) -> None:
    """Let go of autograd nodes first held first: roots before what they feed.

    Freeing a long chain that Python has walked can overflow the C stack when
    the last reference to its far end goes first (torch 2.13, see DESIGN.md);
    root first, each node frees only itself.
    """
    while held:
        held.popleft()


def forget_snippet_names(namespace: dict[str, Any]) -> None:
    """Drop the snippet's variables, the first step of freeing its graph safely.

    Dunders stay: ``torch.compile`` removes its own entries later.
    """
    for name in [k for k in namespace if not k.startswith("__")]:
        del namespace[name]


def snippet_line(frame: FrameType | None, filename: str) -> int | None:
    """The line of the innermost frame, from ``frame`` outwards, that runs the snippet."""
    frame = snippet_frame(frame, filename)
    return frame.f_lineno if frame is not None else None


CALL_DEPTH = 4
"""Calling lines kept per op: ``net(X)`` returns what ``softmax(...)`` on its ``return``
line returned, two levels up; deeper helpers are seldom what a reader names."""


def snippet_lines(frame: FrameType | None, filename: str) -> tuple[int | None, tuple[int, ...]]:
    """The line of the innermost frame that runs the snippet, and the snippet lines that
    called its function, innermost first (none at the snippet's module level); frames of
    other files between them (``nn.Module.__call__``) are passed over."""
    frame = snippet_frame(frame, filename)
    if frame is None:
        return None, ()
    line = frame.f_lineno
    callers: list[int] = []
    while frame.f_code.co_name != "<module>" and len(callers) < CALL_DEPTH:
        frame = snippet_frame(frame.f_back, filename)
        if frame is None:
            break
        callers.append(frame.f_lineno)
    return line, tuple(callers)


def snippet_frame(frame: FrameType | None, filename: str) -> FrameType | None:
    """The innermost frame, from ``frame`` outwards, that runs the snippet."""
    while frame is not None and frame.f_code.co_filename != filename:
        frame = frame.f_back
    return frame


def walk(roots: Sequence[AutogradNode]) -> list[AutogradNode]:
    """Every node reachable from ``roots`` through ``next_functions``, roots first.

    Iterative (a recursive walk dies near depth 1000), breadth-first, each node
    once. The returned list holds the node objects so that their ids stay valid.
    """
    seen: set[int] = set()
    order: list[AutogradNode] = []
    for root in roots:
        if id(root) not in seen:
            seen.add(id(root))
            order.append(root)
    i = 0
    while i < len(order):
        for nxt, _ in order[i].next_functions:
            if nxt is not None and id(nxt) not in seen:
                seen.add(id(nxt))
                order.append(nxt)
        i += 1
    return order
