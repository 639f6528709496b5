"""Turn the autograd graph behind some root tensors, and what was recorded on it, into a Graph.

The walk is exactly torch's: from each root's ``grad_fn`` along
``next_functions``, every node once. Each op node becomes an ``op``, each
``AccumulateGrad`` a ``leaf``, and each op output that something consumes (or
that is a root) a ``tensor``/``output`` node between them. Ids are handed out
breadth-first from the roots, so they do not depend on memory addresses.
"""

from __future__ import annotations

import ast
import functools
import linecache
import re
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

import torch

from gradviz.model import (
    Constant,
    Edge,
    Graph,
    Meta,
    Module,
    Node,
    Param,
    Pass,
    Saved,
    Source,
    TensorData,
)
from gradviz.torchcapture.derive import derive_values
from gradviz.torchcapture.naming import (
    Callee,
    CallSite,
    NamedTensor,
    call_sites,
    callees,
    function_lines,
    return_lines,
)
from gradviz.torchcapture.recompute import recompute_values
from gradviz.torchcapture.records import (
    KEY,
    AutogradNode,
    LeafRecord,
    NodeRecord,
    ParamUses,
    PassRecord,
    gradient_edge,
    is_leaf_node,
    release_in_order,
    shown_grad,
)
from gradviz.torchcapture.saved import SavedRecord, read_saved
from gradviz.torchcapture.tensors import (
    StorageKey,
    probe,
    same_data,
    same_values,
    storage_key,
    to_data,
)

__all__ = ["GraphBuilder", "op_name"]

_BACKWARD_SUFFIX = re.compile(r"Backward\d*$")
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.]*")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[0-9])(?=[A-Z][a-z])")
"""Where torch's snake_case puts underscores in a CamelCase node name: ``SmoothL1Loss``
-> ``smooth_l1_loss``, but a digit joins a lone capital (``MaxPool2D`` -> ``max_pool2d``,
``Log1P`` -> ``log1p``)."""
_SPELLED = {"Im2Col": "im2col", "Col2Im": "col2im"}
"""Names the rule above gets wrong."""


_OP_NAMES: dict[type, str] = {}


def op_name(node: AutogradNode) -> str:
    """A short op name from the autograd node: ``AddmmBackward0`` -> ``addmm``.

    Custom ``autograd.Function`` classes keep their own name (``MyReLU``).
    Names are made once per node class.
    """
    cls = type(node)
    found = _OP_NAMES.get(cls)
    if found is not None:
        return found
    name = cls.__name__
    stem = _BACKWARD_SUFFIX.sub("", name) or name
    if not isinstance(node, torch.autograd.function.BackwardCFunction):
        stem = _SPELLED.get(stem) or _CAMEL.sub("_", stem).lower()
    _OP_NAMES[cls] = stem
    return stem


_TensorKey = tuple[int, int]  # (id(grad_fn), output_nr); (id(AccumulateGrad), -1) for leaves
_Rows = tuple[int, int, int, int, str]
"""A named tensor's address, stride of its rows (elements), element size, rows, name."""


class GraphBuilder:
    """Builds one Graph; holds every node object it touched until ``release()``."""

    def __init__(
        self,
        filename: str,
        named: Sequence[NamedTensor],
        module_names: Mapping[int, str] | None = None,
        scope_labels: Mapping[int, str] | None = None,
        unfinished: Collection[int] = (),
        aliases: Mapping[str, str] | None = None,
        optimized: Collection[int] = (),
    ) -> None:
        self.filename = filename
        self._optimized = frozenset(optimized)
        """The ids of the tensors an optimizer the snippet holds steps."""
        self._aliases = dict(aliases or {})
        """Other names the snippet calls its functions by (``net`` for ``linreg``)."""
        self._scope_labels = dict(scope_labels or {})
        """The number of each module called (as ops' scopes hold it) -> its label."""
        self._unfinished = frozenset(unfinished)
        """Lines still running when the snippet ended: they assigned nothing."""
        self._module_names = dict(module_names or {})
        self._held: deque[object] = deque()
        self._names: dict[_TensorKey, list[str]] = {}
        self._params: set[int] = set()
        self._key_names: dict[StorageKey, list[str]] = {}
        """The names of each piece of memory (``u = y.detach()``: ``y`` and ``u``)."""
        self._flat_names: dict[tuple[int, int], str] = {}
        """Contiguous named tensors by address and size: a view of one in another shape
        (``linear`` views a batch ``x`` as a matrix before its ``addmm``) is that tensor."""
        self._row_names: dict[tuple[tuple[int, ...], tuple[int, ...]], list[_Rows]] = {}
        """Named tensors by the shape and strides of their rows: a row of one (``inputs[3]``,
        what ``for x_t in inputs`` gives) or a run of rows (``X[64:96]``) is named so."""
        self._words: dict[int, frozenset[str]] = {}
        """The identifiers of each snippet line that had to choose among names."""
        self._named_params: dict[int, tuple[str, torch.Tensor]] = {}
        self._sources: dict[int, Source] = {}
        self._recs: dict[int, NodeRecord | None] = {}
        self._scopes: dict[tuple[tuple[int, str], ...], tuple[str, ...]] = {}
        self._module_kinds: dict[str, tuple[int, str]] = {}
        """Each scope label -> its module's number (order of first call) and class."""
        self._snippet_names: dict[str, tuple[int | None, bool]] = {}
        """The snippet's names -> the line that made the tensor each holds, where known,
        and whether the name is a function's local (else a global)."""
        for entry in named:
            fn = entry.tensor.grad_fn
            rec = _node_rec(fn) if fn is not None else None
            line = rec.line if rec is not None else None
            self._snippet_names.setdefault(entry.name, (line, entry.local))
        self._counted: frozenset[int] | None = None
        self.changed_grads: list[str] = []
        """Leaves of the graph whose ``.grad`` the snippet changed after the backward pass
        shown (gradient clipping, a GradScaler's unscaling): the picture shows backward's."""
        for entry in named:
            if entry.param:
                self._named_params.setdefault(id(entry.tensor), (entry.name, entry.tensor))
            memory = storage_key(entry.tensor)
            if memory is not None:
                same = self._key_names.setdefault(memory, [])
                if entry.name not in same:
                    same.append(entry.name)
                flat = _flat_key(memory)
                if flat is not None:
                    self._flat_names.setdefault(flat, entry.name)
                address, shape, strides = memory
                if shape and not entry.item:
                    self._row_names.setdefault((shape[1:], strides[1:]), []).append(
                        (address, strides[0], entry.tensor.element_size(), shape[0], entry.name)
                    )
            edge = gradient_edge(entry.tensor)
            if edge is None:
                continue
            node, nr = edge
            self._held.append(node)
            key = (id(node), -1 if is_leaf_node(node) else nr)
            names = self._names.setdefault(key, [])
            if entry.name not in names and not (entry.item and names):
                names.append(entry.name)  # items come last: parameters[0] only if nothing else
            if entry.param:
                self._params.add(id(entry.tensor))

    def build(
        self,
        roots: Sequence[tuple[AutogradNode, int]],
        passes: Sequence[PassRecord],
        meta: Meta,
        uses: ParamUses | None = None,
    ) -> Graph:
        """Walk from ``roots``, then make each Node once, with everything it shows.

        Two phases: the walk hands out ids and learns which memory each tensor
        is; only then can a saved tensor point at the graph node it is, so Nodes
        are made after it, each in one go (no copies with one field changed).
        """
        order: list[tuple[str, AutogradNode, int]] = []
        edges: list[Edge] = []
        ids: dict[tuple[str, int, int], int] = {}
        keys: dict[StorageKey, int] = {}
        claims: dict[StorageKey, list[tuple[int, int | None]]] = {}  # node, step; first met
        saved_of: dict[int, list[SavedRecord]] = {}
        leaf_of: dict[int, int] = {}
        leaf_vars: dict[int, torch.Tensor] = {}
        queue: deque[tuple[str, AutogradNode, int]] = deque()
        held = self._held
        # gradients count from the passes on show; with none (a graph drawn from
        # a tensor, or targets after every pass was replaced), from every pass
        self._counted = frozenset(p.index for p in passes) if passes else None

        def visit(kind: str, node: AutogradNode, nr: int) -> int:
            key = (kind, id(node), nr)
            found = ids.get(key)
            if found is not None:
                return found
            new_id = ids[key] = len(order)
            entry = (kind, node, nr)
            order.append(entry)
            held.append(node)
            if kind == "leaf":
                var = node.variable
                leaf_of[id(var)] = new_id
                leaf_vars[new_id] = var
                memory = storage_key(var)
                if memory is not None:
                    claims.setdefault(memory, []).append((new_id, _LEAF))
            else:
                queue.append(entry)
                if kind == "tensor":
                    rec = self._rec(node)
                    memory = rec.keys.get(nr) if rec is not None else None
                    if memory is not None:
                        claims.setdefault(memory, []).append((new_id, rec.step if rec else None))
            return new_id

        def visit_tensor(node: AutogradNode, nr: int) -> int:
            if is_leaf_node(node):
                return visit("leaf", node, -1)
            return visit("tensor", node, nr)

        outputs = [visit_tensor(n, nr) for n, nr in roots]
        while queue:
            kind, node, nr = queue.popleft()
            if kind == "tensor":
                op_id = visit("op", node, 0)
                edges.append(Edge(src=op_id, dst=ids[(kind, id(node), nr)], slot=nr))
                continue
            rec = self._rec(node)
            op_id = ids[("op", id(node), 0)]
            for slot, (nxt, nxt_nr) in enumerate(node.next_functions):
                if nxt is None:
                    continue
                src = visit_tensor(nxt, nxt_nr)
                grad = shown_grad(rec.edge_grads.get(slot), self._counted)[0] if rec else None
                edges.append(Edge(src=src, dst=op_id, slot=slot, grad=grad))
            saved = self._saved(node, rec)
            if saved:
                saved_of[op_id] = saved
        root_keys = {(id(n), -1 if is_leaf_node(n) else nr) for n, nr in roots}
        is_op = [kind == "op" for kind, _, _ in order]
        producer: dict[int, int] = {}  # tensor -> the op that made it
        consumers: dict[int, list[int]] = {}  # tensor or leaf -> the ops that used it
        for e in edges:
            if is_op[e.src]:
                producer[e.dst] = e.src
            else:
                consumers.setdefault(e.src, []).append(e.dst)
        for memory, claimed in claims.items():
            keys[memory] = claimed[0][0] if len(claimed) == 1 else _made_last(claimed)
        recs = [None if kind == "leaf" else self._rec(node) for kind, node, _ in order]
        scopes = self._scopes_of(recs, producer, consumers)
        made = [(rec.line, rec.call) if rec and rec.line is not None else None for rec in recs]
        made = _from_users(made, [m is not None for m in made], producer, consumers)
        called = {name for i, scope in enumerate(scopes) for name in scope if order[i][0] != "leaf"}
        resolved = [
            self._make_node(
                i,
                kind,
                node,
                nr,
                recs[i],
                root_keys,
                saved_of.get(i),
                keys,
                (scopes[i], made[i]),
                called,
            )
            for i, (kind, node, nr) in enumerate(order)
        ]
        output_nr = {i: nr for i, (kind, _, nr) in enumerate(order) if kind == "tensor"}
        callers_of = {
            i: rec.callers for i, rec in enumerate(recs) if rec is not None and rec.callers
        }
        text = "".join(linecache.getlines(self.filename))
        calls = _Calls(callees(text), call_sites(text), self._aliases)
        resolved = _name_from_assignments(
            resolved,
            producer,
            consumers,
            self._snippet_names,
            output_nr,
            self._unfinished,
            lambda: function_lines(text),
            lambda: return_lines(text),
            callers_of,
            lambda line: source.code if (source := self._source(line)) is not None else None,
            calls.by_name,
        )
        resolved = _name_from_calls(
            resolved, producer, consumers, calls, callers_of, self._unfinished
        )
        resolved = derive_values(resolved, edges)
        resolved, found = recompute_values(resolved, edges)
        while found:  # a value computed again may be viewed, or feed another op
            resolved, found = recompute_values(derive_values(resolved, edges), edges)
        root_ids = {(id(n), nr): i for (n, nr), i in zip(roots, outputs, strict=True)}
        shown = tuple(
            Pass(
                index=p.index,
                kind="grad" if p.kind == "grad" else "backward",
                roots=tuple(root_ids[(id(n), nr)] for n, nr in p.roots if (id(n), nr) in root_ids),
                line=p.line,
                retain_graph=p.retain_graph,
                create_graph=p.create_graph,
                inputs_only=p.inputs_only,
            )
            for p in passes
        )
        return Graph(
            nodes=tuple(resolved),
            edges=tuple(edges),
            outputs=tuple(dict.fromkeys(outputs)),
            passes=tuple(p for p in shown if p.roots),
            meta=meta,
            params=self._params_of(resolved, leaf_of, leaf_vars, uses or ParamUses()),
            modules=tuple(
                Module(name, kind)
                for name, (_, kind) in sorted(self._module_kinds.items(), key=lambda m: m[1][0])
                if name in called
            ),
        )

    def _params_of(
        self,
        nodes: Sequence[Node],
        leaf_of: Mapping[int, int],
        leaf_vars: Mapping[int, torch.Tensor],
        uses: ParamUses,
    ) -> tuple[Param, ...]:
        """Every parameter the snippet's modules hold, in the graph or not, then every
        other leaf of the graph (a ``w = torch.randn(..., requires_grad=True)`` is a
        parameter too, to whoever trains it)."""
        params = []
        covered = {id(t) for _, t in self._named_params.values()}
        swapped = {
            f"{self._module_names[module]}.{name}": line
            for (module, name), line in uses.swapped.items()
            if module in self._module_names
        }
        for name, tensor in self._named_params.values():
            node_id = leaf_of.get(id(tensor))
            node = nodes[node_id] if node_id is not None else None
            grad = node.grad if node is not None else None
            if grad is None and tensor.grad is not None:
                grad = to_data(tensor.grad)
            params.append(
                Param(
                    name=name,
                    value=node.value if node is not None and node.value else to_data(tensor),
                    grad=grad,
                    requires_grad=tensor.requires_grad,
                    node=node_id,
                    used_line=uses.used.get(tensor),
                    detached_line=uses.detached.get(id(tensor)),
                    no_grad_line=uses.no_grad.get(tensor),
                    swapped_line=swapped.get(name),
                    optimized=id(tensor) in self._optimized,
                )
            )
        for node_id, var in leaf_vars.items():
            if id(var) in covered:
                continue
            node = nodes[node_id]
            params.append(
                Param(
                    name=node.names[0] if node.names else f"leaf {node_id}",
                    value=node.value or to_data(var),
                    grad=node.grad,
                    requires_grad=True,
                    node=node_id,
                    used_line=uses.used.get(var),
                    differentiated_line=uses.differentiated.get(var),
                    optimized=id(var) in self._optimized,
                )
            )
        return tuple(params)

    def _scopes_of(
        self,
        recs: Sequence[NodeRecord | None],
        producer: Mapping[int, int],
        consumers: Mapping[int, list[int]],
    ) -> list[tuple[str, ...]]:
        """Each node's module scope; ops made inside a torch call take their users' (see
        ``_from_users``). Leaves get theirs from their names (``_leaf``)."""
        scopes = [self._scope(rec) if rec is not None else () for rec in recs]
        own = [
            bool(s) or (r is not None and r.step is not None)
            for s, r in zip(scopes, recs, strict=True)
        ]
        return _from_users(scopes, own, producer, consumers)

    def _make_node(
        self,
        node_id: int,
        kind: str,
        node: AutogradNode,
        nr: int,
        rec: NodeRecord | None,
        root_keys: set[_TensorKey],
        saved: Sequence[SavedRecord] | None,
        keys: Mapping[StorageKey, int],
        where: tuple[tuple[str, ...], tuple[int, str | None] | None],
        called: set[str],
    ) -> Node:
        """``where``: the node's module scope, and the line and call that made it."""
        if kind == "leaf":
            return self._leaf(node_id, node, keys, called)
        scope, made = where
        line, call = made if made is not None else (None, None)
        step, backward_step = (rec.step, rec.backward_step) if rec is not None else (None, None)
        source = self._source(line)
        if kind == "op":
            name_of = self._namer(source)
            return Node(
                id=node_id,
                kind="op",
                op=op_name(node),
                autograd=type(node).__name__,
                call=call,
                source=source,
                step=step,
                backward_step=backward_step,
                scope=scope,
                saved=(_resolve_saved(saved, keys, name_of) if saved else ())
                + (_numbers(rec.numbers) if rec is not None and rec.numbers else ()),
                constants=_resolve_constants(rec.constants, saved, keys, self._called(name_of))
                if rec is not None and rec.constants
                else (),
            )
        grad, passes = shown_grad(rec.grads.get(nr), self._counted) if rec else (None, 0)
        return Node(
            id=node_id,
            kind="output" if (id(node), nr) in root_keys else "tensor",
            names=tuple(self._names.get((id(node), nr), ())),
            value=rec.outputs.get(nr) if rec else None,
            grad=grad,
            grad_passes=passes,
            source=source,
            step=step,
            scope=scope,
            grad_hook=rec.grad_hooks[nr].line if rec and nr in rec.grad_hooks else None,
        )

    def _leaf(
        self, node_id: int, acc: AutogradNode, keys: Mapping[StorageKey, int], called: set[str]
    ) -> Node:
        var: torch.Tensor = acc.variable
        rec = acc.metadata.get(KEY)
        rec = rec if isinstance(rec, LeafRecord) else None
        value = rec.value if rec and rec.value is not None else to_data(var)
        grad: TensorData | None
        if rec and rec.grad is not None:
            grad, passes = rec.grad, rec.passes
        elif rec and rec.returned:  # only autograd.grad reached it: what the passes on show gave
            grad, passes = shown_grad(rec.returned, self._counted)
        elif var.grad is not None:
            grad, passes = to_data(var.grad), 1
        else:
            grad, passes = None, 0
        names = self._names.get((id(acc), -1))
        if not names:
            # A tensor subclass reaches autograd as another object over the same memory;
            # so does what torch.func.grad differentiates: a wrapper of the tensor passed.
            key = storage_key(_unwrapped(var))
            if key is not None and key in self._key_names:
                names = [self._leaf_name(self._key_names[key], var)]
        if rec and rec.grad is not None and _changed_since(var.grad, rec):
            self.changed_grads.append(names[0] if names else f"a {rec.grad.dtype} leaf")
        scope: tuple[str, ...] = ()
        param = isinstance(var, torch.nn.Parameter) or id(var) in self._params
        if names and param:
            # From its name, keeping only modules that were called, as an op's scope
            # does: an nn.ModuleList (enc.layers) is never called itself, and left in
            # it would put a layer's weights in another module than the layer's ops.
            parts = names[0].split(".")[:-1]
            prefixes = (".".join(parts[: i + 1]) for i in range(len(parts)))
            scope = tuple(p for p in prefixes if p in called)
        return Node(
            id=node_id,
            kind="leaf",
            scope=scope,
            names=tuple(names or ()),
            autograd=type(acc).__name__,
            value=value,
            grad=grad,
            grad_passes=passes,
            grad_stale=_steps_on_stale(var, rec) if rec and rec.grad is not None else 0,
            param=param,
            grad_hook=rec.grad_hook if rec else None,
        )

    def _leaf_name(self, names: Sequence[str], var: torch.Tensor) -> str:
        """Of the names of a leaf's memory, a parameter's only for a parameter: the
        per-sample-gradients tutorial's ``grad`` takes ``params['fc2.bias']``, detached
        from ``model.fc2.bias``, which is another leaf."""
        if isinstance(var, torch.nn.Parameter):
            return names[0]
        params = {name for name, _ in self._named_params.values()}
        return next((n for n in names if n not in params), names[0])

    def _scope(self, rec: NodeRecord) -> tuple[str, ...]:
        """Module calls as the snippet names them (``model.0``), else by class (``Linear``)."""
        scope = self._scopes.get(rec.scope)
        if scope is None:
            scope = self._scopes[rec.scope] = tuple(
                self._scope_labels.get(number, cls) for number, cls in rec.scope
            )
            for label, called in zip(scope, rec.scope, strict=True):
                self._module_kinds.setdefault(label, called)
        return scope

    def _rec(self, node: AutogradNode) -> NodeRecord | None:
        """The node's record, looked up once per node (the builder holds the node)."""
        key = id(node)
        try:
            return self._recs[key]
        except KeyError:
            rec = self._recs[key] = _node_rec(node)
            return rec

    def _namer(self, source: Source | None) -> Callable[[StorageKey], str | None]:
        """The snippet's name for a tensor outside the graph, by its memory: of several
        names for the same memory (``u = y.detach()``), the one the op's line uses."""

        def name_of(key: StorageKey) -> str | None:
            names = self._key_names.get(key)
            if not names:
                flat = _flat_key(key)
                found = self._flat_names.get(flat) if flat is not None else None
                return found if found is not None else self._rows_of(key)
            if len(names) == 1 or source is None:
                return names[0]
            words = self._words.get(source.line)
            if words is None:  # read once a line, and only for memory with several names
                words = self._words[source.line] = frozenset(_IDENTIFIER.findall(source.code))
            return next((n for n in names if n in words), names[0])

        return name_of

    def _called(
        self, name_of: Callable[[StorageKey], str | None]
    ) -> Callable[[SavedRecord], str | None]:
        """A constant's name: the snippet's, else the local of the function that used it,
        else the module call that returned it, with its input's name (``layer.base(x)``:
        LoRA's frozen layer), else the torch call that made it of named tensors
        (``cat(o, a)``; of others, none: ``const``)."""

        def named(s: SavedRecord) -> str | None:
            name = name_of(s.key) if s.key is not None else None
            if name is not None or s.local is not None:
                return name or s.local
            if s.made_in is None:
                return _made_by_label(s.made_by, name_of) if s.made_by is not None else None
            number, given = s.made_in
            module = self._scope_labels.get(number)
            if module is None:
                return None
            argument = name_of(given) if given is not None else None
            return f"{module}({argument or '…'})"

        return named

    def _rows_of(self, key: StorageKey) -> str | None:
        """``inputs[3]`` for a row of a named tensor, ``X[64:96]`` for a run of its rows."""
        ptr, shape, strides = key
        as_row = self._row_names.get((shape, strides), ())
        as_run = self._row_names.get((shape[1:], strides[1:]), ()) if shape else ()
        for candidates, run in ((as_row, False), (as_run, True)):
            for start, stride, size, rows, name in candidates:
                row_bytes = stride * size
                if row_bytes <= 0 or ptr < start or (ptr - start) % row_bytes:
                    continue
                first = (ptr - start) // row_bytes
                if not run and first < rows:
                    return f"{name}[{first}]"
                if run and strides[0] == stride and first + shape[0] <= rows:
                    return f"{name}[{first}:{first + shape[0]}]"
        return None

    @staticmethod
    def _saved(node: AutogradNode, rec: NodeRecord | None) -> list[SavedRecord]:
        """Saved values read before backward freed them, else read now."""
        if rec is not None and rec.saved is not None:
            return rec.saved
        return read_saved(node)

    def _source(self, line: int | None) -> Source | None:
        if line is None:
            return None
        source = self._sources.get(line)
        if source is None:
            code = linecache.getline(self.filename, line).strip()
            source = self._sources[line] = Source(line=line, code=code)
        return source

    def release(self) -> None:
        """Drop the node objects, first held first (roots before what they feed).

        Freeing a long chain that Python has touched can overflow the C stack when
        it happens all at once from the far end; letting go root first frees it
        link by link.
        """
        self._recs.clear()
        release_in_order(self._held)


@functools.lru_cache(maxsize=1024)
def _assigned(code: str) -> tuple[tuple[str, ...], bool] | None:
    """The plain names a source line assigns to: ``("loss",)`` for ``loss = f(x)``,
    ``("q", "k", "v")`` for ``q, k, v = x.split(8, dim=2)``; and whether the value is
    a call's result (``f(x)``, ``self.block(x)``, ``model.encoder(x)``).

    Not for a tuple built on the line (``a, b = b, a * 2``): its values need not
    be the outputs of one op, in order (``_assigned_apart`` reads those); nor for an
    object made there (``dist = Normal(mu, std)``), whatever tensor the line computed
    on the way; nor for a function (``net = lambda X: X @ w + b``): the ops on its
    line ran when it was called, and what they made is ``net(X)``, not ``net``.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    if len(tree.body) != 1:
        return None
    stmt = tree.body[0]
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        return None
    if isinstance(value, ast.Lambda):
        return None
    called = isinstance(value, ast.Call)
    if isinstance(value, ast.Call) and _makes_an_object(value.func):
        return None  # dist = Normal(mu, log_std.exp()): dist is no tensor of the line
    if isinstance(target, ast.Name):
        return (target.id,), called
    if (
        isinstance(target, ast.Tuple | ast.List)
        and not isinstance(value, ast.Tuple | ast.List)
        and all(isinstance(t, ast.Name) for t in target.elts)
    ):
        return tuple(t.id for t in target.elts if isinstance(t, ast.Name)), called
    return None


@functools.lru_cache(maxsize=1024)
def _assigned_apart(code: str) -> tuple[str, ...] | None:
    """The names of ``mu, logvar = self.fc_mu(h), self.fc_var(h)``: a tuple of names
    given a tuple of as many computed values, each an expression that runs ops (not a
    name, an attribute or a constant: ``a, b = b, a * 2`` moves ``b``)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(stmt := tree.body[0], ast.Assign):
        return None
    if len(stmt.targets) != 1:
        return None
    target, value = stmt.targets[0], stmt.value
    if not (isinstance(target, ast.Tuple | ast.List) and isinstance(value, ast.Tuple | ast.List)):
        return None
    if len(target.elts) != len(value.elts) or len(value.elts) < 2:
        return None
    names = [t.id for t in target.elts if isinstance(t, ast.Name)]
    if len(names) != len(target.elts) or "_" in names:
        return None
    if not all(_computes(v) for v in value.elts):
        return None
    return tuple(names)


def _computes(value: ast.expr) -> bool:
    """Whether an expression runs ops of its own: a call or arithmetic, not an object made."""
    if isinstance(value, ast.Call):
        return not _makes_an_object(value.func)
    return isinstance(value, ast.BinOp | ast.UnaryOp | ast.Subscript)


def _makes_an_object(callee: ast.expr) -> bool:
    """Whether a call is a class's, by its capitalized name (``Normal(...)``,
    ``torch.distributions.Categorical(...)``), not a layer of ``self`` (``self.W_q(x)``)."""
    if isinstance(callee, ast.Name):
        return callee.id[:1].isupper()
    if isinstance(callee, ast.Attribute):
        on_self = isinstance(callee.value, ast.Name) and callee.value.id == "self"
        return not on_self and callee.attr[:1].isupper()
    return False


def _name_from_assignments(
    nodes: list[Node],
    producer: Mapping[int, int],
    consumers: Mapping[int, list[int]],
    reserved: Mapping[str, tuple[int | None, bool]] | None = None,
    output_nr: Mapping[int, int] | None = None,
    unfinished: Collection[int] = (),
    in_functions: Callable[[], Collection[int]] = frozenset,
    returns_of: Callable[[], Collection[int]] = frozenset,
    callers_of: Mapping[int, tuple[int, ...]] | None = None,
    code_of: Callable[[int], str | None] = lambda line: None,
    by_name: Callable[[int, int], bool] = lambda line, return_line: False,
) -> list[Node]:
    """Name tensors the snippet named only inside a function, from the line that made them.

    A tensor with no name in the snippet's globals, made by the last op of a line
    ``loss = ...`` (no op on the same line uses it), is called ``loss``, as long as
    no other tensor of the graph has or would get that name in the same module (a
    loop body ``y = y * 2`` makes many ``y``: they keep their derived labels; the
    forward of each of several heads, each called once, names each head's ``k``) and the
    snippet's own variables do not give it to another tensor (``J = jacobian(f,
    x)`` names the matrix returned, not the last op run on that line), nor on a
    line the snippet ended in (``loss = model(x)`` that raised, ``(g,) =
    autograd.grad(...)`` that ``--stop-after`` ended: nothing was assigned). A
    variable the snippet assigned again on a later line is no obstacle: PyTorch's
    autograd tutorial computes ``z = torch.matmul(x, w)+b`` four times, and the
    graph's ``z`` is the first. Nor is a global of the name, for a line inside a
    function (``in_functions()``, read only when a global is in the way): ``x =
    self.fc2(x)`` in ``forward`` binds a local ``x``, whatever the global ``x``
    holds. A line whose value is a call of the snippet's code (``H = relu(X @ W1 +
    b1)``, ``x = self.block(x)``) names what that call's ``return`` line made
    (``returns_of()``, and ``callers_of``: the lines each op's function was called
    from, innermost first), not the ops of its arguments; through a ``return`` that
    hands it on (``p = predict(x)`` where ``predict`` returns ``sigmoid(...)``), each
    call made by name (``by_name``: a ``vmap(grad(f))`` gives gradients, not ``f``'s
    value). A line ``mu, logvar = self.fc_mu(h), self.fc_var(h)`` names its values in
    the order they were made, when it made as many as it names. Ids are positions in
    ``nodes``.
    """
    line_of = {n.id: n.source.line for n in nodes if n.source is not None}
    callers_of = callers_of or {}
    caller_of = {i: callers[0] for i, callers in callers_of.items()}
    output_nr = output_nr or {}
    candidates: dict[tuple[int, str, tuple[str, ...]], list[int]] = {}
    returned: dict[int, list[int]] = {}  # a calling line -> what the call returned to it
    apart: dict[int, list[int]] = {}  # a line a, b = f(x), g(y) -> the values it made
    returns: Collection[int] | None = None
    for n in nodes:
        if n.kind not in ("tensor", "output") or n.names or n.source is None:
            continue
        op = producer.get(n.id)
        if op is None or line_of.get(op) != n.source.line:
            continue
        line, callers = n.source.line, callers_of.get(op, ())
        if callers and callers[0] not in unfinished:
            if returns is None:
                returns = returns_of()
            if line in returns and _handed_back(
                n.id, line, callers[0], consumers, line_of, caller_of
            ):
                depth = 0  # the outermost call it is the value of
                while (  # by_name: the line returns one value, and the call is by name
                    depth + 1 < len(callers)
                    and by_name(callers[depth], callers[depth - 1] if depth else line)
                    and by_name(callers[depth + 1], callers[depth])
                    and callers[depth + 1] not in unfinished
                    and _handed_back(
                        n.id, callers[depth], callers[depth + 1], consumers, line_of, caller_of
                    )
                ):
                    depth += 1
                returned.setdefault(callers[depth], []).append(n.id)
        if line in unfinished or any(
            line_of.get(c) == line or caller_of.get(c) == line for c in consumers.get(n.id, [])
        ):
            continue  # an op on the line, or called from it, goes on with it
        assigned = _assigned(n.source.code)
        if assigned is None:
            if _assigned_apart(n.source.code) is not None:
                apart.setdefault(line, []).append(n.id)
            continue
        names, _ = assigned
        nr = output_nr.get(n.id, 0)
        if nr < len(names):  # q, k, v = x.split(...): output nr
            candidates.setdefault((line, names[nr], n.scope), []).append(n.id)
    for caller, ids in returned.items():  # H = relu(X @ W1 + b1): what relu returned
        code = code_of(caller)
        assigned = _assigned(code) if code is not None else None
        if assigned is not None and assigned[1] and len(assigned[0]) == 1:
            for i in ids:
                candidates.setdefault((caller, assigned[0][0], nodes[i].scope), []).append(i)
        elif code is not None and _assigned_apart(code) is not None:
            apart.setdefault(caller, []).extend(ids)
    for line, ids in apart.items():  # mu, logvar = self.mu(h), self.logvar(h): in order
        code = code_of(line)
        parts = _assigned_apart(code) if code is not None else None
        if parts is not None and len(ids) == len(parts):  # once each: not in a loop
            ordered = sorted(ids, key=lambda i: nodes[i].step or 0)
            for name, i in zip(parts, ordered, strict=True):
                candidates.setdefault((line, name, nodes[i].scope), []).append(i)
    taken = {name for n in nodes for name in n.names}  # a global y wins over a y of line 3
    reserved = reserved or {}
    function_body: Collection[int] | None = None
    named = list(nodes)
    for (line, name, _), ids in candidates.items():
        if len(ids) != 1 or name in taken:
            continue
        if name in reserved:
            made_on, local = reserved[name]
            if not local and function_body is None:
                function_body = in_functions()
            other_scope = not local and line in (function_body or ())  # a global; a local
            if not other_scope and (made_on is None or made_on == line):
                continue  # the variable may hold this line's value, made otherwise
        named[ids[0]] = replace(named[ids[0]], names=(name,))
    return named


class _Calls:
    """The snippet's calls of its own functions, as its text writes them: which call on a
    line is a call of the function a ``return`` line belongs to."""

    def __init__(
        self,
        callee_at: Mapping[int, Callee],
        sites: Mapping[str, list[CallSite]],
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.callee_at = callee_at
        self._sites = sites
        self._called_as: dict[str, list[str]] = {}
        for alias, function in (aliases or {}).items():
            self._called_as.setdefault(function, []).append(alias)

    def on(self, line: int, callee: Callee) -> list[str]:
        """The texts of the calls of ``callee`` on ``line`` (``net(X, w, b)`` too, for d2l's
        ``net = linreg``)."""
        names = [callee.name] + ([] if callee.method else self._called_as.get(callee.name, []))
        return [
            site.text
            for name in names
            for site in self._sites.get(name, ())
            if site.method == callee.method and site.first <= line <= site.last
        ]

    def by_name(self, line: int, return_line: int) -> bool:
        """Whether ``line`` calls the function ``return_line`` returns from by its name, not
        through a transform (``vmap(grad(compute_loss))(...)`` gives gradients, not the
        function's value)."""
        callee = self.callee_at.get(return_line)
        return callee is not None and bool(self.on(line, callee))


def _handed_back(
    t: int,
    line: int,
    caller: int,
    consumers: Mapping[int, list[int]],
    line_of: Mapping[int, int],
    caller_of: Mapping[int, int],
) -> bool:
    """Whether ``t``, made on the ``return`` line ``line`` of a function called from
    ``caller``, is what the call gave back: no op on the calling line, nor one run from
    it (the function's own, or another call's there), nor one called from ``line``
    (``return f(g(x))``: ``g``'s value goes into ``f``), nor one inside a call on
    ``line`` (no calling line of its own), uses it."""
    return not any(
        line_of.get(c) == caller
        or caller_of.get(c) in (caller, line)
        or (line_of.get(c) == line and c not in caller_of)
        for c in consumers.get(t, [])
    )


_CALL_WIDTH = 32
"""A call longer than this (``squared_loss(net(features, w, b), labels)``) names nothing:
a label is read at a glance."""


def _name_from_calls(
    nodes: list[Node],
    producer: Mapping[int, int],
    consumers: Mapping[int, list[int]],
    calls: _Calls,
    callers_of: Mapping[int, tuple[int, ...]],
    unfinished: Collection[int] = (),
) -> list[Node]:
    """Call a tensor no variable names by the call of the snippet's function that
    returned it, as the calling line wrote it: ``l2_penalty(w)`` in ``l = loss(y_hat,
    y) + lambd * l2_penalty(w)``, not ``div(sum(pow(w)))``.

    The value is what an op on a ``return`` line made and nothing on that line
    used (``calls.callee_at``: the return lines that return one value, and their
    function), returned to the line its function was called from (``callers_of``:
    each op's calling lines, innermost first), where ``calls`` finds the call by
    the function's name or an alias (``net(X, w, b)`` for d2l's ``net = linreg``).
    Where that line is a ``return`` that hands the value on untouched (d2l's ``def
    net(X): return softmax(...)``), it is the outer call's value too, and takes the
    outermost call that names it (``net(X)``); not past a call made through a
    transform (``grad(f)(x)`` gives a gradient). A call names a value only when its
    line made that call once: a loop that calls ``cell(x, h)`` each step, or ``f(a)
    + f(b)``, leaves the calls unnamed, since the graph does not say which value
    came from which. Ids are positions in ``nodes``.
    """
    line_of = {n.id: n.source.line for n in nodes if n.source is not None}
    caller_of = {i: callers[0] for i, callers in callers_of.items()}
    callee_at = calls.callee_at

    def goes_on(t: int, line: int, caller: int) -> bool:
        """Whether an op on ``line`` (run from ``caller``), or one called from ``line``,
        uses ``t``: then ``t`` is not what ``line`` returned."""
        return any(
            (line_of.get(c) == line and caller_of.get(c, caller) == caller)
            or caller_of.get(c) == line
            for c in consumers.get(t, [])
        )

    levels: dict[int, list[tuple[int, Callee]]] = {}  # a value -> its calls, innermost first
    for n in nodes:
        if n.kind not in ("tensor", "output") or n.names or n.source is None:
            continue
        op = producer.get(n.id)
        callee = callee_at.get(n.source.line)
        if op is None or callee is None or line_of.get(op) != n.source.line:
            continue
        callers = callers_of.get(op, ())
        found: list[tuple[int, Callee]] = []
        line = n.source.line
        for depth, caller in enumerate(callers):
            if caller in unfinished or goes_on(n.id, line, caller):
                break
            found.append((caller, callee))
            outer = callee_at.get(caller)
            if outer is None or depth + 1 >= len(callers) or not calls.on(caller, callee):
                break  # no outer call, or this one is not by name: its value is another's
            line, callee = caller, outer
        if found:
            levels[n.id] = found
    claims = Counter(level for found in levels.values() for level in found)
    named = list(nodes)
    for t, found in levels.items():
        for caller, callee in reversed(found):  # the outermost call that names it
            if claims[(caller, callee)] != 1:
                continue
            texts = calls.on(caller, callee)
            if len(texts) == 1 and len(texts[0]) <= _CALL_WIDTH:
                named[t] = replace(named[t], names=(texts[0],))
                break
    return named


def _flat_key(key: StorageKey) -> tuple[int, int] | None:
    """Address and size of a tensor laid out row-major with no gaps, else None: two such
    tensors at one address with as many elements hold the same numbers in the same order."""
    ptr, shape, strides = key
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides), strict=True):
        if size != 1 and stride != expected:
            return None
        expected *= size
    return (ptr, expected) if expected else None  # empty tensors share no numbers


_LEAF = -1
"""The step a leaf claims its memory with: it holds it from before the ops until after."""


def _made_last(claimed: Sequence[tuple[int, int | None]]) -> int:
    """Of the nodes whose tensor had one memory (node, step; in the order met), the one
    that holds it when saved tensors are read.

    Two nodes share a key when one was freed and the other later made in its memory,
    or when one is a view or an in-place result of the other. Either way, a saved
    tensor alive at backward is the one made last: the later step. A leaf holds its
    memory throughout and wins over any op's output. Where a step is not known (a
    tensor made inside a torch call, or by backward), the first met, as before; a
    saved tensor is also checked against the numbers of what it is linked to (see
    ``saved._same_ends``), which covers those.
    """
    best, best_step = claimed[0]
    for node, step in claimed[1:]:
        if best_step == _LEAF:
            break  # of two leaves over one memory (a detached copy), the first met
        if step == _LEAF or (step is not None and best_step is not None and step > best_step):
            best, best_step = node, step
    return best


def _steps_on_stale(var: torch.Tensor, rec: LeafRecord) -> int:
    """Steps that used a ``.grad`` summed over different values of ``var``, counting the
    last one, made after the last pass: its version moved (``opt.step()``, ``w -= ...``),
    or, for a small tensor, its numbers (``w.data -= ...`` moves no version)."""
    if not rec.mixed:
        return rec.stale
    moved = var._version != rec.seen_version
    if not moved and rec.seen is not None and rec.seen.data is not None:
        moved = not same_data(to_data(var), rec.seen)
    return rec.stale + moved


def _changed_since(grad: torch.Tensor | None, rec: LeafRecord) -> bool:
    """Whether ``.grad`` now holds other numbers than backward left (not zeros or None:
    a loop that zeroes its gradients after the step changes nothing worth saying). The
    numbers are compared, not versions: a GradScaler unscales in place without a new one.
    A large gradient is compared on a few of its elements, not summarized again."""
    if grad is None or rec.grad_ref is None or rec.grad is None:
        return False
    if rec.grad_probe is not None:
        seen = probe(grad)
        return (
            seen is not None and not same_values(seen, rec.grad_probe) and any(x != 0 for x in seen)
        )
    now = to_data(grad)
    if same_data(now, rec.grad):
        return False
    if now.data is not None:
        return any(x != 0 for x in now.data)
    return now.stats is None or now.stats.min != 0 or now.stats.max != 0


_functorch = torch._C._functorch


def _unwrapped(t: torch.Tensor) -> torch.Tensor:
    """The tensor under ``torch.func``'s wrappers (``grad``'s, ``vmap``'s), or ``t``."""
    for _ in range(_WRAPPERS):
        if not (_functorch.is_gradtrackingtensor(t) or _functorch.is_batchedtensor(t)):
            break
        t = _functorch.get_unwrapped(t)
    return t


_WRAPPERS = 16
"""Transforms nest (``vmap(grad(grad(f)))``); more than this is not worth unwrapping."""


def _made_by_label(
    made_by: tuple[str, tuple[StorageKey | None, ...]],
    name_of: Callable[[StorageKey], str | None],
) -> str | None:
    """``cat(o, a)`` for a constant a torch call made of named tensors, ``pe[:, :4]`` for
    a piece of one; None when any of them has no name."""
    call, keys = made_by
    names = [name for name in (name_of(k) if k is not None else None for k in keys) if name]
    if len(names) != len(keys):
        return None
    if call.startswith("["):
        return f"{names[0]}{call}"
    return f"{call}({', '.join(names)})"


_T = TypeVar("_T")


def _from_users(
    values: list[_T],
    own: list[bool],
    producer: Mapping[int, int],
    consumers: Mapping[int, list[int]],
) -> list[_T]:
    """Each op without a value of its own takes the one all the users of its output
    agree on, and so does that output (a falsy value is none).

    ``t`` inside ``linear`` was never seen by the mode: it has no line, call or
    module of its own. It ran where the op that used its output ran.
    """
    changed = True
    while changed:
        changed = False
        for t, op in producer.items():
            if own[op] or values[op]:
                continue
            users = {values[c] for c in consumers.get(t, ())}
            if len(users) == 1 and (value := users.pop()):
                values[op] = values[t] = value
                changed = True
    return values


def _node_rec(node: AutogradNode) -> NodeRecord | None:
    rec = node.metadata.get(KEY)
    return rec if isinstance(rec, NodeRecord) else None


def _numbers(numbers: Mapping[str, object]) -> tuple[Saved, ...]:
    """Numbers of the call the node does not save, shown as saved ones (``value -1e+09``)."""
    return tuple(
        Saved(name=name, value=f"{v:g}" if isinstance(v, float) else str(v))
        for name, v in numbers.items()
    )


def _resolve_constants(
    constants: Mapping[int, SavedRecord],
    saved: Sequence[SavedRecord] | None,
    keys: Mapping[StorageKey, int],
    name_of: Callable[[SavedRecord], str | None],
) -> tuple[Constant, ...]:
    """An op's inputs without grad, each named, or linked to the graph tensor it shares
    memory with (``x.detach()``), as saved tensors are. The numbers of one the op also
    saved (``mm``'s input) are kept once, with what it saved."""
    kept = {s.key for s in saved or () if s.key is not None}
    return tuple(
        Constant(
            slot=slot,
            tensor=None if s.key in kept else s.tensor,
            ref=None if s.key is None else keys.get(s.key),
            label=None if s.key is None or s.key in keys else name_of(s),
        )
        for slot, s in sorted(constants.items())
    )


def _resolve_saved(
    saved: Sequence[SavedRecord],
    keys: Mapping[StorageKey, int],
    name_of: Callable[[StorageKey], str | None],
) -> tuple[Saved, ...]:
    """Saved values, each linked to the graph tensor whose memory it is, or named."""
    return tuple(
        Saved(
            name=s.name,
            tensor=s.tensor,
            value=s.value,
            ref=None if s.key is None else keys.get(s.key),
            freed=s.freed,
            label=None if s.key is None or s.key in keys else name_of(s.key),
        )
        for s in saved
    )
