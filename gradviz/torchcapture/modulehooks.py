"""Take out the nodes torch adds for a module's full backward hook.

``module.register_full_backward_hook`` (Grad-CAM's way to read a layer's
gradient, guided backpropagation's way to change a ReLU's) makes torch pass
the module's inputs and outputs through ``BackwardHookFunction``, an identity
whose backward calls the hook. Drawn as it is, each hooked layer gets an op
and a copy of every tensor it touches, named after torch's class
(``relu(BackwardHookFunction#1)``). It is plumbing, not the snippet's math: each
such tensor is drawn as the one it copies, whose gradient the hook sent on.
Where the hook changed that gradient, the tensor is marked hooked, as a tensor
the snippet called ``register_hook`` on, so that explain tells what arrived
and what the hook made of it.
"""

from __future__ import annotations

from dataclasses import replace

from gradviz.model import Edge, Graph, Node
from gradviz.transforms import renumber

__all__ = ["without_module_hooks"]

HOOK_FUNCTION = "BackwardHookFunctionBackward"


def without_module_hooks(graph: Graph) -> Graph:
    """``graph`` with each BackwardHookFunction's outputs drawn as its inputs."""
    hooks = {n.id for n in graph.nodes if n.kind == "op" and n.autograd == HOOK_FUNCTION}
    if not hooks:
        return graph
    ins: dict[int, dict[int, int]] = {op: {} for op in hooks}
    outs: dict[int, dict[int, int]] = {op: {} for op in hooks}
    uses: dict[int, int] = {}
    for e in graph.edges:
        if e.dst in hooks:
            ins[e.dst][e.slot] = e.src
        elif e.src in hooks:
            outs[e.src][e.slot] = e.dst
        if graph.node(e.src).kind != "op":
            uses[e.src] = uses.get(e.src, 0) + 1
    # an output with no input to stand for it (torch's own doing, if ever): keep that op
    hooks = {op for op in hooks if all(slot in ins[op] for slot in outs[op])}
    # each hook function's output -> the tensor it passed on
    copies = {t: ins[op][slot] for op in hooks for slot, t in outs[op].items()}

    def original(t: int) -> int:
        while t in copies:  # a module within a hooked module: copies of copies
            t = copies[t]
        return t

    edges = [
        _moved(e, original(e.src), graph.node(e.src), uses.get(e.src, 0))
        for e in graph.edges
        if e.src not in hooks and e.dst not in hooks and e.dst not in copies
    ]
    merged: dict[int, list[Node]] = {}
    for copy in copies:
        merged.setdefault(original(copy), []).append(graph.node(copy))
    nodes = [
        _absorbing(n, merged.get(n.id, []), uses.get(n.id, 0))
        for n in graph.nodes
        if n.id not in hooks and n.id not in copies
    ]
    spliced = replace(
        graph,
        passes=tuple(replace(p, roots=tuple(original(r) for r in p.roots)) for p in graph.passes),
    )
    return renumber(
        spliced,
        nodes,
        edges,
        [original(o) for o in graph.outputs],
        {c: original(c) for c in copies},
    )


def _moved(edge: Edge, src: int, copy: Node, uses: int) -> Edge:
    """An edge from a copy, moved to the tensor it copies; the gradient it carried is
    the copy's own where the copy had this one use."""
    if src == edge.src:
        return edge
    grad = edge.grad if edge.grad is not None or uses != 1 else copy.grad
    return replace(edge, src=src, grad=grad)


def _absorbing(node: Node, copies: list[Node], uses: int) -> Node:
    """A tensor with the names its copies had; marked hooked where a hook changed the
    gradient that arrived through its one copy (with other uses, its gradient is a
    sum, and what the hook did cannot be told from it)."""
    if not copies:
        return node
    names = tuple(dict.fromkeys((*node.names, *(n for c in copies for n in c.names))))
    (first, *others) = copies
    changed = uses == 1 and not others and first.grad is not None and first.grad != node.grad
    own = next((c.grad_hook for c in copies if c.grad_hook is not None), None)  # register_hook
    hooked = node.grad_hook if node.grad_hook is not None else own
    if hooked is None and changed:
        hooked = 0
    value = node.value if node.value is not None else copies[0].value
    return replace(node, names=names, grad_hook=hooked, value=value)
