"""Graph -> Graph simplifications for pictures of big models; the JSON keeps everything.

Each is a pure function named by what it does. ``collapse_modules`` draws every
module call below a depth as one node; ``fit`` picks the most detail that fits
a node budget (collapsing modules first, then keeping what is nearest the
outputs) and says what it did, so a big model never hands ``dot`` a graph
that takes minutes to lay out.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from gradviz.display import format_number
from gradviz.health import norm_of
from gradviz.model import Edge, Graph, Node

__all__ = [
    "COMMAND_LINE",
    "FOLD_ABOVE",
    "PYTHON",
    "SHARED_USES",
    "Spelling",
    "collapse_modules",
    "fit",
    "fold_repeats",
    "for_picture",
    "forward_order",
    "grad_profile",
    "renumber",
    "split_shared_leaves",
    "without_module_hooks",
]


@dataclass(frozen=True)
class Spelling:
    """How the notes name the options that show more: as the command line or Python takes them."""

    max_nodes: str = "--max-nodes N"
    module_depth: str = "--module-depth N"
    no_fold: str = "--no-fold"
    target: str = "--target NAME"


COMMAND_LINE = Spelling()
PYTHON = Spelling("max_nodes=N", "module_depth=N", "fold=False", "capture(..., targets=[NAME])")

SHARED_USES = 4
"""A leaf with this many uses is drawn once per use (see ``split_shared_leaves``)."""


def renumber(
    graph: Graph,
    nodes: list[Node],
    edges: list[Edge],
    outputs: list[int],
    merged: Mapping[int, int] | None = None,
) -> Graph:
    """A Graph whose ids are positions again, edges deduplicated and self-loops dropped.

    Every id a node or parameter holds (a saved tensor's ``ref``, a copy's
    ``copy_of``, a parameter's ``node``) follows its node; one ``merged`` into
    another (a folded repeat) follows the node that stands for it, and one that
    is no longer drawn becomes None.
    """
    new_id = {n.id: i for i, n in enumerate(nodes)}

    def follow(old: int | None) -> int | None:
        if old is None:
            return None
        found = new_id.get(old)
        if found is None and merged is not None and old in merged:
            found = new_id.get(merged[old])
        return found

    seen: set[tuple[int, int, int]] = set()
    kept = []
    for e in edges:
        src, dst = new_id[e.src], new_id[e.dst]
        if src == dst or (src, dst, e.slot) in seen:
            continue
        seen.add((src, dst, e.slot))
        kept.append(replace(e, src=src, dst=dst))
    return Graph(
        nodes=tuple(
            replace(
                n,
                id=new_id[n.id],
                copy_of=follow(n.copy_of),
                saved=tuple(
                    replace(s, ref=follow(s.ref)) if s.ref is not None else s for s in n.saved
                ),
            )
            for n in nodes
        ),
        edges=tuple(kept),
        outputs=tuple(dict.fromkeys(new_id[o] for o in outputs if o in new_id)),
        passes=tuple(
            replace(p, roots=tuple(new_id[r] for r in p.roots if r in new_id)) for p in graph.passes
        ),
        meta=graph.meta,
        params=tuple(replace(p, node=follow(p.node)) for p in graph.params),
        modules=graph.modules,
    )


def collapse_modules(graph: Graph, depth: int) -> Graph:
    """Every module call at ``depth`` (1: the snippet's top-level modules) becomes one node.

    What ran inside it, its parameters included, is folded into that node;
    outputs stay visible. The node is named after the module (``model.0``).
    """
    group: dict[int, str] = {}
    for n in graph.nodes:
        if n.kind != "output" and len(n.scope) >= depth:
            group[n.id] = n.scope[depth - 1]
    if not group:
        return graph
    first: dict[str, int] = {}
    for nid, key in group.items():
        first.setdefault(key, nid)
    target = {nid: first[key] for nid, key in group.items()}
    nodes = []
    for n in graph.nodes:
        if n.id not in group:
            nodes.append(n)
        elif first[group[n.id]] == n.id:
            key = group[n.id]
            nodes.append(Node(id=n.id, kind="module", names=(key,), scope=n.scope[: depth - 1]))
    edges = [
        replace(e, src=target.get(e.src, e.src), dst=target.get(e.dst, e.dst)) for e in graph.edges
    ]
    return renumber(graph, nodes, edges, list(graph.outputs))


def split_shared_leaves(graph: Graph, min_uses: int = SHARED_USES) -> Graph:
    """A leaf feeding many ops (an RNN's weights, used at every step) drawn once per use.

    Edges from one node to every step pull the whole layout together: ``dot``
    could not lay out a 100-step tanh RNN in two minutes, yet draws it in a
    fraction of a second with a dashed copy of each weight beside each use. The
    first use keeps the leaf itself; the others get copies marked ``copy_of``.
    """
    uses: dict[int, list[Edge]] = {}
    for e in graph.edges:
        if graph.node(e.src).kind == "leaf":
            uses.setdefault(e.src, []).append(e)
    shared = {leaf: es for leaf, es in uses.items() if len(es) >= min_uses}
    if not shared:
        return graph
    nodes = list(graph.nodes)
    edges = [e for e in graph.edges if e.src not in shared]
    next_id = max(n.id for n in graph.nodes) + 1
    for leaf, es in shared.items():
        edges.append(es[0])
        for e in es[1:]:
            nodes.append(replace(graph.node(leaf), id=next_id, copy_of=leaf))
            edges.append(replace(e, src=next_id))
            next_id += 1
    return renumber(graph, nodes, edges, list(graph.outputs))


def _keep_nearest(graph: Graph, budget: int) -> tuple[Graph, int]:
    """The ``budget - 1`` nodes nearest the outputs, and one node standing for the rest."""
    inputs: dict[int, list[int]] = {}
    for e in graph.edges:
        inputs.setdefault(e.dst, []).append(e.src)
    order: list[int] = []
    seen = set(graph.outputs)
    queue = deque(graph.outputs)
    while queue and len(order) < budget - 1:
        nid = queue.popleft()
        order.append(nid)
        for src in inputs.get(nid, []):
            if src not in seen:
                seen.add(src)
                queue.append(src)
    keep = set(order)
    hidden = len(graph.nodes) - len(keep)
    rest = max(n.id for n in graph.nodes) + 1
    more = Node(id=rest, kind="module", names=(f"… {hidden} more nodes",))
    nodes = [n for n in graph.nodes if n.id in keep] + [more]
    edges = [
        replace(e, src=e.src if e.src in keep else rest, dst=e.dst)
        for e in graph.edges
        if e.dst in keep
    ]
    return renumber(graph, nodes, edges, list(graph.outputs)), hidden


def fit(
    graph: Graph, max_nodes: int, spelling: Spelling = COMMAND_LINE
) -> tuple[Graph, str | None]:
    """The most detailed picture of ``graph`` with at most ``max_nodes`` nodes, and a note.

    Collapsing modules keeps the structure, so it goes first, from the deepest
    level up; when even whole top-level modules are too many, the nodes nearest
    the outputs are kept. The note says what was done and how to see more.
    """
    if len(graph.nodes) <= max_nodes:
        return graph, None
    deepest = max((len(n.scope) for n in graph.nodes), default=0)
    for depth in range(deepest, 0, -1):
        collapsed = collapse_modules(graph, depth)
        if len(collapsed.nodes) <= max_nodes:
            return collapsed, (
                f"the graph has {len(graph.nodes)} nodes; modules below depth {depth - 1} are "
                f"drawn as one node each ({len(collapsed.nodes)} nodes). "
                f"See more with {spelling.max_nodes}, or {spelling.module_depth}; "
                "the JSON keeps everything"
            )
    kept, hidden = _keep_nearest(graph, max_nodes)
    return kept, (
        f"the graph has {len(graph.nodes)} nodes; drew the {len(kept.nodes) - 1} nearest the "
        f"outputs and one node for the other {hidden}. See more with {spelling.max_nodes} or "
        f"{spelling.target}; the JSON keeps everything"
    )


FOLD_ABOVE = 150
"""Pictures of more nodes than this fold repeated blocks by default."""
_MAX_PERIOD = 200


def numbered_names(graph: Graph, ops: Sequence[Node] | None = None) -> dict[int, str]:
    """Tensors that share their first name, numbered leaves first, then in the order their
    ops ran (``ops``, forward order when not given): ``x#1``, ``x#2`` for a forward's
    ``x = self.fc1(x)``, ``x = F.relu(x)``, where ``relu: x = max(x, 0)`` says nothing."""
    made_by: dict[int, list[int]] = {}
    for e in graph.edges:
        if graph.node(e.src).kind == "op":
            made_by.setdefault(e.src, []).append(e.dst)
    order = [n.id for n in graph.nodes if n.kind == "leaf"]
    for op in forward_order(graph) if ops is None else ops:
        order.extend(made_by.get(op.id, []))
    named = [graph.node(i) for i in dict.fromkeys(order) if graph.node(i).names]
    counts = Counter(n.names[0] for n in named)
    seen: Counter[str] = Counter()
    numbers: dict[int, str] = {}
    for n in named:
        if counts[n.names[0]] > 1:
            seen[n.names[0]] += 1
            numbers[n.id] = f"{n.names[0]}#{seen[n.names[0]]}"
    return numbers


def forward_order(graph: Graph) -> list[Node]:
    """The ops in the order the forward pass made them.

    Ops made inside one torch call share its step (``nn.GRU`` makes every gate
    of every time step in one call); among them, backward ran the later-made
    first (autograd's engine prefers the highest sequence number), so the
    reverse of the backward order is the order they were made in.
    """
    from gradviz.frames import op_steps

    steps = op_steps(graph)
    return sorted(
        graph.ops(),
        key=lambda n: (steps[n.id], -n.backward_step if n.backward_step is not None else 0, n.id),
    )


def _longest_repeat(
    signatures: Sequence[tuple[object, ...]], min_repeats: int
) -> tuple[int, int, int]:
    """(start, period, count) of the longest run of one block repeated back to back.

    For each period up to ``_MAX_PERIOD``, the ops equal to the one a period later
    form runs; a run of ``r`` such ops holds ``(r + p) // p`` blocks. Vectorized:
    a 150,000-op chain is searched in well under a second.
    """
    import numpy as np

    codes_of: dict[tuple[object, ...], int] = {}
    codes = np.array([codes_of.setdefault(s, len(codes_of)) for s in signatures], dtype=np.int64)
    n = len(codes)
    best = (0, 0, 0)
    for period in range(1, min(_MAX_PERIOD, n // min_repeats) + 1):
        equal = codes[:-period] == codes[period:]
        index = np.arange(len(equal))
        last_break = np.maximum.accumulate(np.where(equal, -1, index))
        run = index - last_break  # equal ops in a row, ending here
        blocks = (run + period) // period
        covered = np.where(blocks >= min_repeats, blocks * period, 0)
        i = int(covered.argmax())
        if covered[i] > best[1] * best[2]:
            best = (i + 1 - int(run[i]), period, int(blocks[i]))
    return best


MAX_FOLDS = 4
"""Repeats folded one after another at most, while the picture is still over ``FOLD_ABOVE``."""

MIN_FOLDED_OPS = 8
"""Fewer ops than this in all repeats together are not worth a fold."""


def fold_repeats(
    graph: Graph, min_repeats: int = 3, spelling: Spelling = COMMAND_LINE
) -> tuple[Graph, str | None]:
    """Draw back-to-back identical blocks (an RNN step, a stack of layers) once, marked ×N.

    Blocks are found in the order the forward pass ran its ops: the longest
    stretch where the same ops from the same lines repeat. The first block is
    kept and stands for all of them; the others, with the parameters only they
    used, fold into it, so their inputs and outputs attach to it.
    """
    order = forward_order(graph)
    signatures = [(n.autograd, n.source.line if n.source else None) for n in order]
    start, period, count = _longest_repeat(signatures, min_repeats)
    if count < min_repeats or period * count < MIN_FOLDED_OPS:
        return graph, None
    kinds = {n.id: n.kind for n in graph.nodes}
    produced: dict[int, list[Edge]] = {}
    consumers: dict[int, list[Edge]] = {}
    inputs: dict[int, list[Edge]] = {}
    producer: dict[int, int] = {}
    for e in graph.edges:
        if kinds[e.src] == "op":
            produced.setdefault(e.src, []).append(e)
            producer[e.dst] = e.src
        else:
            consumers.setdefault(e.src, []).append(e)
            inputs.setdefault(e.dst, []).append(e)
    blocks = [order[start + j * period : start + (j + 1) * period] for j in range(count)]
    nodes_by_id = {n.id: n for n in graph.nodes}
    if not _one_part(blocks, produced, consumers, nodes_by_id):
        return graph, None
    target: dict[int, int] = {}
    first_ops = {op.id for op in blocks[0]}
    for block in blocks[1:]:
        block_ops = {op.id for op in block}
        for first, op in zip(blocks[0], block, strict=True):
            target[op.id] = first.id
            firsts = {e.slot: e.dst for e in produced.get(first.id, [])}
            for e in produced.get(op.id, []):
                # An output folds only into an output: graphs built and differentiated
                # one after another (a gradient per input in a loop) fold whole.
                if e.slot in firsts and (kinds[e.dst] != "output") == (
                    kinds[firsts[e.slot]] != "output"
                ):
                    target[e.dst] = firsts[e.slot]
            # Parameters used by this block only fold into the first block's, and
            # so do its own pieces of one op's outputs (nn.GRU's input projections
            # for every step, unbound): else each repeat's piece stays drawn.
            ins0 = {e.slot: e.src for e in inputs.get(first.id, [])}
            for e in inputs.get(op.id, []):
                if e.slot not in ins0:
                    continue
                mine, theirs = e.src, ins0[e.slot]
                if len(consumers.get(mine, [])) != 1 and not (
                    kinds[mine] == "leaf" == kinds[theirs]  # x in x ** 3 - 2 * x, per block
                    and all(u.dst in block_ops for u in consumers.get(mine, []))
                    and all(u.dst in first_ops for u in consumers.get(theirs, []))
                ):
                    continue
                if kinds[mine] == "leaf" or (
                    kinds[mine] == "tensor"
                    and mine in producer
                    and producer[mine] == producer.get(theirs)
                    and len(consumers.get(theirs, [])) == 1
                ):
                    target[mine] = theirs
    profile = grad_profile([_outflow_norm(block[-1], produced, nodes_by_id) for block in blocks])
    mark = f"×{count}" + (f"   |grad| by repeat, 1 → {count}: {profile}" if profile else "")
    block_ids = {op.id for op in blocks[0]}
    block_ids |= {e.dst for op in blocks[0] for e in produced.get(op.id, [])}
    block_ids |= {v for v in target.values() if kinds[v] == "leaf"}
    around = shared_prefix([nodes_by_id[i].scope for i in block_ids])
    nodes = [
        replace(n, scope=(*around, mark, *n.scope[len(around) :])) if n.id in block_ids else n
        for n in graph.nodes
        if n.id not in target
    ]
    # An edge the fold moved onto one already drawn is not drawn twice: one op's
    # pieces (nn.GRU's unbound inputs), every repeat's output into one stack.
    # Edges it left alone all stay (x * x has two from x).
    edges: list[Edge] = []
    drawn: set[tuple[int, int]] = set()
    for e in graph.edges:
        moved = replace(e, src=target.get(e.src, e.src), dst=target.get(e.dst, e.dst))
        if moved != e and (moved.src, moved.dst) in drawn:
            continue
        drawn.add((moved.src, moved.dst))
        edges.append(moved)
    folded = renumber(graph, nodes, edges, list(graph.outputs), merged=target)
    first_in, last_in = _common_scope(blocks[0]), _common_scope(blocks[-1])
    line = blocks[0][0].source.line if blocks[0][0].source else None
    if first_in and last_in and first_in != last_in:
        where = f" ({first_in} to {last_in})"  # a stack of layers: model.h.0 to model.h.3
    else:
        where = f" (line {line})" if line else ""
    note = (
        f"folded {count} repeats of a {period}-op block{where} into one, marked ×{count} "
        f"({len(graph.nodes)} nodes drawn as {len(folded.nodes)}); "
        f"{spelling.no_fold} draws them all"
    )
    if profile:
        note += f"\n  gradient norm of each repeat's output, first to last: {profile}"
    return folded, note


def _one_part(
    blocks: Sequence[Sequence[Node]],
    produced: Mapping[int, list[Edge]],
    consumers: Mapping[int, list[Edge]],
    nodes: Mapping[int, Node],
) -> bool:
    """Whether the repeats play one part in the graph, so that one block can stand for all.

    Either each feeds the next (an RNN's steps, a stack of layers, a loop that
    adds to a total), or what each hands on goes where the first's goes, or to
    ops of the same kind from the same line (heads into one ``cat``, each step
    of an episode into its own ``-log_prob * R``). Three projections of one
    input side by side (a Llama block's ``wq(x), wk(x), wv(x)``) repeat too, but
    their outputs go three ways: folded, they would read as one tensor sent to
    all three places.
    """
    region = {op.id for block in blocks for op in block}

    def made(block: Sequence[Node]) -> list[Edge]:
        return [e for op in block for e in sorted(produced.get(op.id, []), key=lambda e: e.slot)]

    def feeds(block: Sequence[Node], after: Sequence[Node]) -> bool:
        ids = {op.id for op in after}
        return any(c.dst in ids for e in made(block) for c in consumers.get(e.dst, []))

    if all(feeds(a, b) for a, b in pairwise(blocks)):
        return True

    def roles(block: Sequence[Node]) -> list[tuple[str, frozenset[tuple[str | None, int | None]]]]:
        return [
            (
                nodes[e.dst].kind,
                frozenset(
                    (nodes[c.dst].autograd, _line(nodes[c.dst]))
                    for c in consumers.get(e.dst, [])
                    if c.dst not in region
                ),
            )
            for e in made(block)
        ]

    first = roles(blocks[0])
    return all(roles(block) == first for block in blocks[1:])


def _line(node: Node) -> int | None:
    return node.source.line if node.source else None


def shared_prefix(scopes: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """The module calls (and marks) every scope starts with: where a folded block's mark
    goes, so that with ``--modules`` its box holds the modules of the block, not a piece
    of the block in each of them; and the cluster a tensor handed on is drawn in."""
    if not scopes:
        return ()
    common = scopes[0]
    for scope in scopes[1:]:
        n = 0
        while n < min(len(common), len(scope)) and common[n] == scope[n]:
            n += 1
        common = common[:n]
    return common


def _common_scope(ops: Sequence[Node]) -> str | None:
    """The innermost module call every op of a block ran in, if any (not the mark of a
    fold made before)."""
    scopes = [tuple(s for s in op.scope if not s.startswith("×")) for op in ops]
    if not scopes or not all(scopes):
        return None
    common = shared_prefix(scopes)
    return common[-1] if common else None


def _outflow_norm(
    last_op: Node, produced: Mapping[int, list[Edge]], nodes: Mapping[int, Node]
) -> float | None:
    """The gradient norm of what a repeat hands on: the first output of its last op."""
    edges = sorted(produced.get(last_op.id, []), key=lambda e: e.slot)
    return norm_of(nodes[edges[0].dst].grad) if edges else None


_SPARKS = "▁▂▃▄▅▆▇█"
_MAX_SPARKS = 24


def grad_profile(norms: Sequence[float | None]) -> str | None:
    """``▁▁▂▄▇█  3.1e-09 → 0.98``: how the gradient grows or fades across repeats.

    The one block drawn for all repeats shows the numbers of the first, so this
    is what keeps a vanishing (or exploding) gradient through an unrolled RNN
    visible in a folded picture. Bars are on a log scale, one per repeat or,
    for many repeats, the largest norm of each of up to 24 equal stretches; ``·``
    is an exact zero and ``!`` a nan or inf. None when fewer than two norms are known.
    """
    known = [x for x in norms if x is not None]
    if len(known) < 2:
        return None
    k = min(len(norms), _MAX_SPARKS)
    stretches = [norms[i * len(norms) // k : (i + 1) * len(norms) // k] for i in range(k)]
    bars: list[float | None] = []
    for stretch in stretches:
        seen = [x for x in stretch if x is not None]
        bars.append(max(seen, key=lambda x: x if math.isfinite(x) else math.inf) if seen else None)
    logs = [math.log10(x) for x in bars if x is not None and math.isfinite(x) and x > 0]
    lo, hi = (min(logs), max(logs)) if logs else (0.0, 0.0)
    chars = []
    for x in bars:
        if x is None:
            chars.append(" ")
        elif not math.isfinite(x):
            chars.append("!")
        elif x == 0:
            chars.append("·")
        else:
            level = (math.log10(x) - lo) / (hi - lo) if hi > lo else 0.5
            chars.append(_SPARKS[round(level * (len(_SPARKS) - 1))])
    return f"{''.join(chars)}  {format_number(known[0], 2)} → {format_number(known[-1], 2)}"


_HOOK_FUNCTION = "BackwardHookFunctionBackward"


def without_module_hooks(graph: Graph) -> Graph:
    """``graph`` without the ops torch adds for a module's full backward hook.

    ``module.register_full_backward_hook`` (Grad-CAM's way to read a layer's
    gradient, guided backpropagation's way to change a ReLU's) makes torch pass
    the module's inputs and outputs through ``BackwardHookFunction``, an identity
    whose backward calls the hook. The JSON keeps them, as torch made them; drawn
    or told, each hooked layer would get an op and a copy of every tensor it
    touches, named after torch's class (``relu(BackwardHookFunction#1)``). Here each
    such tensor is the one it copies, with the gradient the hook sent on; where
    the hook changed that gradient, it is marked hooked, as a tensor the snippet
    called ``register_hook`` on, so that explain tells what arrived and what the
    hook made of it.
    """
    hooks = {n.id for n in graph.nodes if n.kind == "op" and n.autograd == _HOOK_FUNCTION}
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


def for_picture(
    graph: Graph,
    *,
    fold: bool = True,
    module_depth: int | None = None,
    max_nodes: int = 500,
    spelling: Spelling = COMMAND_LINE,
) -> tuple[Graph, list[str]]:
    """What a picture draws of ``graph``, and notes that say what was left out.

    One pipeline for the command line, ``Graph.render`` and notebooks: collapse
    modules below ``module_depth``, fold repeated blocks (past ``FOLD_ABOVE``
    nodes), fit the ``max_nodes`` budget, then draw each shared leaf once per
    use (what keeps ``dot`` fast on shared weights).
    """
    notes: list[str] = []
    drawn = without_module_hooks(graph)
    if module_depth is not None:  # first: folding would mix repeats of different modules
        drawn = collapse_modules(drawn, module_depth)
    for _ in range(MAX_FOLDS):  # one repeat at a time: two chains, an encoder and decoder
        if not fold or len(drawn.nodes) <= FOLD_ABOVE:
            break
        drawn, note = fold_repeats(drawn, spelling=spelling)
        if note is None:
            break
        notes.append(note)
    drawn, note = fit(drawn, max_nodes, spelling)
    if note:
        notes.append(note)
    return split_shared_leaves(drawn), notes
