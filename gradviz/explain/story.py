"""The chain rule of one run, told node by node: from each output down to its leaves.

``tell(graph)`` turns a captured Graph into a ``Story``: a header (which
backward passes ran) and one tree per output. Each step is a tensor; under it
stands the rule of the op that consumed it, with this run's names and numbers,
and below it the tensors its own op was made from. A tensor used twice is told
once; later uses point back to it, and its first telling shows how the uses'
contributions add up to its gradient. The Story is plain data with style tags;
``gradviz.renderers.tree`` draws it with rich and ``markdown`` writes it as notes.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import tokenize
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from gradviz.display import format_number, format_shape, tensor_lines
from gradviz.explain.formula import render_formula, symbols_in
from gradviz.explain.rules import IN_WORDS, Rule, rule_for, unmet
from gradviz.explain.scalars import NAMED_NUMBERS, evaluate_scalar
from gradviz.flow import Flow
from gradviz.model import Constant, Edge, Graph, Node, Scalar, TensorData
from gradviz.transforms import forward_order, numbered_names, without_module_hooks

__all__ = ["Line", "Span", "Step", "Story", "tell"]


@dataclass(frozen=True)
class Span:
    """A piece of text and how it reads: name, code, op, value, grad, math, muted, note."""

    text: str
    style: str = ""


Line = tuple[Span, ...]


@dataclass
class Step:
    head: Line
    body: list[Line] = field(default_factory=list)
    children: list[Step] = field(default_factory=list)


@dataclass
class Story:
    header: list[Line]
    trees: list[Step]
    omitted: int = 0
    depth: int | None = None
    footer: list[Line] = field(default_factory=list)


_WHOLE = 2**63 - 1
"""The end a slice saves when it runs to the end of its dimension (``m[:, 1:]``)."""
_LABEL_WIDTH = 28
"""The longest expression a label is; past it, ``mul#12``."""
_LABEL_NESTING = 3
"""The deepest a label's expression nests: ``tanh(add(mul(w, x), b))``."""
MAX_DEPTH = 200
"""Levels told when no --depth is given: deeper chains say how much they left out."""
DEPTH_LIMIT = 400
"""The most levels ever told: telling recurses, and Python's stack is about 1000 deep."""

TOLD_BY_DEFAULT = 120
"""Tensors told at most when no --depth is given: a big model's story keeps to the levels
nearest its outputs, where the loss and its chain rule are (told whole, a 12-layer
transformer runs to 11,000 lines)."""

MAX_ITEMS = 4
"""Elements shown per row of a tensor: explanations must stay readable at 80 columns."""


def _values(t: TensorData | None, missing: str) -> str:
    """A tensor's numbers on one short line: a matrix keeps its first and last rows."""
    if t is None:
        return missing
    rows = 2 if len(t.shape) == 2 and t.shape[0] > 3 else MAX_ITEMS
    lines = tensor_lines(t, max_items=MAX_ITEMS) if rows == MAX_ITEMS else _two_rows(t)
    if t.data is None and t.stats is not None:
        return "(" + "; ".join(lines) + ")"
    return " ".join(line.strip() for line in lines)


def _two_rows(t: TensorData) -> list[str]:
    lines = tensor_lines(t, max_items=MAX_ITEMS)
    if len(lines) <= 3:
        return lines
    return [lines[0], "…", lines[-1]]


class _Teller:
    def __init__(self, graph: Graph, depth: int | None) -> None:
        self.g = graph
        self.depth = depth
        self.inputs: dict[int, list[Edge]] = defaultdict(list)
        self.uses: dict[int, list[Edge]] = defaultdict(list)
        self.producer: dict[int, int] = {}
        self.output_of: dict[int, int] = {}
        self.outputs_of: dict[int, dict[int, int]] = defaultdict(dict)  # op -> slot -> tensor
        for e in graph.edges:
            if graph.node(e.src).kind == "op":
                self.producer[e.dst] = e.src
                self.output_of.setdefault(e.src, e.dst)
                self.outputs_of[e.src][e.slot] = e.dst
            else:
                self.inputs[e.dst].append(e)
                self.uses[e.src].append(e)
        for edges in self.inputs.values():
            edges.sort(key=lambda e: e.slot)
        self.told: set[int] = set()
        self.told_edges: set[Edge] = set()
        self.omitted = 0
        self.pass_of_op = self._passes_of_ops()
        self.labels: dict[int, str] = {}
        self._nesting: dict[int, int] = {}  # how deep each label's expression nests
        self.flow = Flow(graph)
        self.ordinal: dict[int, int] = {}
        """Each op's number among the ops of its kind, in the order the forward pass made
        them: ``addmm#2`` is the second ``addmm``, whatever the graph's ids."""
        made: Counter[str] = Counter()
        ops = forward_order(graph)
        for op in ops:
            made[op.op or "op"] += 1
            self.ordinal[op.id] = made[op.op or "op"]
        self.numbered = numbered_names(graph, ops)
        """Tensors sharing a name (``x = self.fc1(x)`` then ``x = F.relu(x)`` in a
        forward), each with its number among them: ``x#2``."""

    # -- names ------------------------------------------------------------------

    def label(self, node_id: int) -> str:
        """The snippet's name, else an expression of its inputs' labels (``mul(x, x)``).

        A tensor has one label wherever it shows: ``pow(add#1)`` would send the
        reader looking for an ``add#1`` that its own line calls ``add(mul(w))``.
        An expression longer than a glance (``_LABEL_WIDTH``) or nested deeper than
        ``_LABEL_NESTING`` is ``mul#12``, which starts the nesting over: in a chain
        the labels near the output stay expressions too. They are made inputs
        first, without recursion: a 50,000-step chain must not recurse 50,000 deep.
        """
        if node_id in self.labels:
            return self.labels[node_id]
        stack = [node_id]
        opened: set[int] = set()
        while stack:
            nid = stack[-1]
            if nid in self.labels:
                stack.pop()
                continue
            pending = (
                []
                if nid in opened
                else [a for a in self._label_inputs(nid) if a not in self.labels]
            )
            opened.add(nid)
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            self.labels[nid], self._nesting[nid] = self._make_label(nid)
        return self.labels[node_id]

    def _label_inputs(self, node_id: int) -> list[int]:
        """The tensors whose labels go into this one's expression."""
        node = self.g.node(node_id)
        op = self.producer.get(node_id)
        if node.names or op is None:
            return []
        found = [e.src for e in self.inputs.get(op, [])]
        found += [c.ref for c in self.g.node(op).constants if c.label is None and c.ref is not None]
        return found

    def _make_label(self, node_id: int) -> tuple[str, int]:
        """The label and how deep its expression nests (0 for a name or ``mul#12``)."""
        node = self.g.node(node_id)
        if node.names:
            return self.numbered.get(node_id, node.names[0]), 0
        op = self.producer.get(node_id)
        if op is None:
            return f"t{node_id}", 0
        name = self.g.node(op).op or "op"
        piece = ""  # which of several outputs: split(x)[1], split#2[0]
        outputs = self.outputs_of.get(op, {})
        slot = next((s for s, t in outputs.items() if t == node_id), 0)
        if len(outputs) > 1 or slot > 0:
            piece = f"[{slot}]"
        nesting = 1 + max((self._nesting.get(a, 0) for a in self._label_inputs(node_id)), default=0)
        arguments = self._arguments(op)
        expression = f"{name}({', '.join(arguments)}){piece}"
        if len(arguments) == 1:  # indexing reads as the snippet wrote it: p[2], C[Xb]
            node_op = self.g.node(op)
            expression = (
                self._subscript(node_op, arguments[0], slot)
                or self._looked_up(node_op, arguments[0])
                or expression
            )
        if len(expression) <= _LABEL_WIDTH and nesting <= _LABEL_NESTING:
            return expression, nesting
        return f"{name}#{self.ordinal.get(op, node_id)}{piece}", 0

    @staticmethod
    def _looked_up(op: Node, of: str) -> str | None:
        """``C[Xb]`` for an embedding or an index by named tensors (``h[:, cols]``); None
        when an index has no name, so a label never shows a tensor's numbers."""
        if op.autograd == "EmbeddingBackward0":
            names = [s.label for s in op.saved if s.name == "indices"]
        elif op.autograd == "IndexBackward0":
            names = [
                ":" if s.value == "None" else s.label
                for s in op.saved
                if s.name.startswith("indices[")
            ]
        else:
            return None
        if not names or any(n is None for n in names):
            return None
        return f"{of}[{', '.join(n for n in names if n is not None)}]"

    @staticmethod
    def _subscript(op: Node, of: str, slot: int = 0) -> str | None:
        """``p[2]`` for a select, ``m[:, 1:]`` for a slice, ``params[0]`` for a piece of
        ``w, b = params`` (an unbind); None for any other op, or one saved otherwise."""
        saved = {s.name: s.value for s in op.saved if s.value is not None}
        try:
            dim = int(saved.get("dim", "0"))
            if op.autograd == "SelectBackward0":
                piece = str(int(saved["index"]))
            elif op.autograd == "UnbindBackward0":
                piece = str(slot)
            elif op.autograd == "SliceBackward0":
                start, end, step = (int(saved[k]) for k in ("start", "end", "step"))
                sizes = ast.literal_eval(saved.get("self_sym_sizes", "None"))
                whole = end >= _WHOLE or (sizes is not None and end >= int(sizes[dim]))
                piece = f"{start or ''}:{'' if whole else end}" + (f":{step}" if step != 1 else "")
            else:
                return None
        except (KeyError, ValueError, SyntaxError, TypeError, IndexError):
            return None
        if dim < 0:
            return None
        return f"{of}[{', '.join([':'] * dim + [piece])}]"

    def _arguments(self, op: int) -> list[str]:
        """The labels of an op's inputs in slot order, the named constants among them
        (``sub(y_pred, y)``); a constant with no name is left out of a label. An input
        whose label is not made yet (a cycle through a shared memory) reads ``…``."""
        by_slot = {e.slot: self.labels.get(e.src, "…") for e in self.inputs.get(op, [])}
        for c in self.g.node(op).constants:
            if c.label is not None:
                by_slot.setdefault(c.slot, c.label)
            elif c.ref is not None:
                by_slot.setdefault(c.slot, self.labels.get(c.ref, "…"))
        return [by_slot[slot] for slot in sorted(by_slot)]

    def constant_label(self, c: Constant) -> str:
        """How a formula shows an input that needs no gradient: as any tensor outside the
        graph, else by its shape."""
        shape = f"const({format_shape(c.tensor.shape)})" if c.tensor is not None else "const"
        return self._outside(c.label, c.ref, c.tensor, shape)

    def _outside(
        self, label: str | None, ref: int | None, tensor: TensorData | None, otherwise: str
    ) -> str:
        """How a formula shows a tensor that is no input edge of the op (a constant, a saved
        tensor): the snippet's name for it, the graph tensor it is, its numbers when few."""
        if ref is not None:
            return self.label(ref)
        if label is not None:
            return label
        if (
            tensor is not None
            and tensor.data is not None
            and tensor.numel <= MAX_ITEMS
            and len(tensor.shape) <= 2  # deeper, its numbers read as a summary, no operand
        ):
            return _values(tensor, otherwise)
        return otherwise

    def _passes_of_ops(self) -> dict[int, int]:
        """For each op, the (1-based) number of the first shown pass that reaches it."""
        found: dict[int, int] = {}
        for number, p in enumerate(self.g.passes, start=1):
            for nid in self.g.upstream(p.roots):
                if self.g.node(nid).kind == "op":
                    found.setdefault(nid, number)
        return found

    # -- lines ------------------------------------------------------------------

    def head(self, node: Node) -> Line:
        label = self.label(node.id)
        spans: list[Span] = [Span(label, "name")]
        if node.source is not None:
            code = _without_comment(node.source.code)
            if code.startswith(label) and code[len(label) :].lstrip().startswith("="):
                spans.append(Span(code[len(label) :], "code"))  # "c = a * b": name it once
            elif code:
                spans.append(Span(f"  {code}", "code"))
            spans.append(Span(f"  {self.g.meta.snippet}:{node.source.line}", "muted"))
        if node.kind == "leaf":
            spans.append(Span("  param" if node.param else "  leaf", "tag"))
        elif node.kind == "output":
            spans.append(Span("  output", "tag"))
        op = self.producer.get(node.id)
        if op is not None:
            spans.append(Span(f"  {self.g.node(op).op}", "op"))
            modules = [m for m in self.g.node(op).scope if not m.startswith("×")]
            if modules:  # the line is the snippet's call: which layer made it says more
                spans.append(Span(f"  in {self.g.module_title(modules[-1])}", "muted"))
        if node.value is not None:
            spans.append(Span(f"  {format_shape(node.value.shape)}", "muted"))
        spans.append(Span("  value ", "muted"))
        spans.append(Span(_values(node.value, "not recorded"), "value"))
        spans.append(Span("  grad ", "muted"))
        spans.append(Span(_values(node.grad, "not computed"), "grad"))
        if node.grad_passes > 1 and node.grad_stale:
            spans.append(
                Span(
                    f" (sum of {node.grad_passes} backward passes, though the value changed "
                    "between them: .grad was never reset)",
                    "note",
                )
            )
        elif node.grad_passes > 1:
            spans.append(Span(f" (sum of {node.grad_passes} backward passes)", "muted"))
        return tuple(spans)

    def contribution(self, edge: Edge) -> TensorData | None:
        """What flowed back along ``edge`` (see ``gradviz.flow``)."""
        return self.flow.along(edge)

    def rule_lines(self, edge: Edge) -> list[Line]:
        """How the op that consumed the tensor passed it its gradient (one use)."""
        op = self.g.node(edge.dst)
        out_id = self.output_of.get(op.id)
        out = self.label(out_id) if out_id is not None else "out"
        saved = {  # a freed one is unknown: it meets any condition
            s.name: s.value if s.value is not None else "tensor" for s in op.saved if not s.freed
        }
        rule = rule_for(op.autograd or "", saved)
        if rule is not None and rule.outputs is not None:
            out = ", ".join(self._outputs(op, edge))
        child = self.label(edge.src)
        flowed = self.contribution(edge)
        flowed_text = _values(flowed, "not computed") if self.g.passes else "not computed"
        unmet_by = self._unmet(rule, saved) if rule else None
        if rule is None or unmet_by:
            why = unmet_by or IN_WORDS.get(op.autograd or "") or _no_rule(op)
            return [
                (
                    Span(f"{op.op}: ", "op"),
                    Span(f"{why}; ", "muted"),
                    Span(f"{child}.grad", "math"),
                    Span(" got ", "muted"),
                    Span(flowed_text, "grad"),
                )
            ]
        names, values, unbroadcast = self._symbols(rule, op, out_id, edge)
        forward = render_formula(rule.forward.removeprefix("result = "), names, values)
        if op.autograd in ("SelectBackward0", "SliceBackward0"):
            forward = self._subscript(op, child) or forward  # s = m[:, 1:]
        # ``sum(z) = sum(z)`` says nothing: an unnamed output's label is its formula already
        lines: list[Line] = [
            (
                Span(f"{op.op}: ", "op"),
                Span(out if forward == out else f"{out} = {forward}", "math"),
            )
        ]
        scalars = self._scalars(rule, op, out_id, edge)
        local = rule.local_for(edge.slot)
        if local is not None:
            shown = render_formula(local, names, values, unbroadcast)
            spans = [Span(f"  ∂{out}/∂{child} = {shown}", "math")]
            numeric = _with_numbers(local, scalars, values, unbroadcast)
            if numeric is not None:
                text, result = numeric
                if text != shown and _bare(text) != _bare(shown):
                    spans.append(Span(f" = {_bare(text)}", "math"))
                if result is not None and not _is_number(_bare(text), result):
                    spans.append(Span(f" = {format_number(result)}", "value"))
            else:
                number = self._symbol_value(local, rule, op, edge)
                if number is not None and number != shown:
                    spans.append(Span(f" = {number}", "value"))
            lines.append(tuple(spans))
        chain_formula = rule.chain_for(edge.slot)
        chain = render_formula(chain_formula, names, values, unbroadcast)
        hooked = self.g.node(edge.src).grad_hook is not None  # what arrives is not its grad
        chain_line = [
            Span(f"  {child}.grad", "math"),
            Span(" += " if len(self.uses.get(edge.src, [])) > 1 or hooked else " = ", "math"),
            Span(chain, "math"),
        ]
        numeric = (
            _with_numbers(chain_formula, scalars, values, unbroadcast) if self.g.passes else None
        )
        if (
            numeric is not None
            and _bare(numeric[0]) not in (chain, flowed_text)
            and not (numeric[1] is not None and _is_number(_bare(numeric[0]), numeric[1]))
        ):  # `y.grad = 1.`: a lone number says no more than the value after it
            chain_line.append(Span(f" = {numeric[0]}", "math"))
        chain_line += [Span(" = ", "math"), Span(flowed_text, "grad")]
        lines.append(tuple(chain_line))
        if rule.note:
            lines.append((Span(f"  ({rule.note})", "muted"),))
        return lines

    def _scalars(self, rule: Rule, op: Node, out_id: int | None, edge: Edge) -> dict[str, object]:
        """Every symbol of the rule that holds a single number, as that number."""
        found: dict[str, object] = {"i": edge.slot}
        if out_id is not None:
            out = self.g.node(out_id)
            for symbol, data in (("result", out.value), ("grad", out.grad)):
                number = _scalar(data)
                if number is not None:
                    found[symbol] = number
        by_slot = {e.slot: e for e in self.inputs.get(op.id, [])}
        constants = {c.slot: c.tensor for c in op.constants}
        if not rule.variadic:
            for slot, symbol in enumerate(rule.inputs):
                e = by_slot.get(slot)
                value = self.g.node(e.src).value if e is not None else constants.get(slot)
                number = _scalar(value)
                if number is not None:
                    found[symbol] = number
        for s in op.saved:
            if s.name in found:
                continue
            if s.value is not None:
                with contextlib.suppress(ValueError, SyntaxError):
                    found[s.name] = ast.literal_eval(s.value)
            elif s.tensor is not None and _scalar(s.tensor) is not None:
                found[s.name] = _scalar(s.tensor)
            elif s.ref is not None and _scalar(self.g.node(s.ref).value) is not None:
                found[s.name] = _scalar(self.g.node(s.ref).value)
        return found

    @staticmethod
    def _unmet(rule: Rule, saved: Mapping[str, str]) -> str | None:
        """Why the rule does not apply to this node (another reduction, class weights...)."""
        found = unmet(rule, saved)
        if found is None:
            return None
        attr, have = found
        want, got = _readable(attr, rule.when[attr]), _readable(attr, have)
        return f"its rule assumes {attr}={want}, this one has {attr}={got}"

    def _symbols(
        self, rule: Rule, op: Node, out_id: int | None, edge: Edge
    ) -> tuple[dict[str, str], dict[str, str], set[str]]:
        out = self.label(out_id) if out_id is not None else "out"
        names: dict[str, str] = {"grad": f"{out}.grad", "result": out}
        if rule.outputs is not None:
            grads = (f"{o}.grad" if o != "_" else "0" for o in self._outputs(op, edge))
            names[rule.outputs] = f"[{', '.join(grads)}]"
        values: dict[str, str] = {}
        unbroadcast: set[str] = set()
        out_value = self.g.node(out_id).value if out_id is not None else None
        out_shape = out_value.shape if out_value is not None else None
        if out_shape is not None and "(shape)" in rule.forward:  # x.view((8, 8))
            values["shape"] = repr(tuple(out_shape))
        by_slot = {e.slot: e for e in self.inputs.get(op.id, [])}
        unnamed: list[str] = []  # inputs that need no grad, made where gradviz saw no call
        if rule.variadic:
            symbol = rule.input_symbol(0)
            pieces = {slot: self.label(e.src) for slot, e in by_slot.items()}
            for c in op.constants:  # cat([torch.ones(2), x]): the constant has its place
                pieces.setdefault(c.slot, self.constant_label(c) if _known(c) else "const")
            names[symbol] = "[" + ", ".join(pieces[slot] for slot in sorted(pieces)) + "]"
            values["i"] = str(edge.slot)
        else:
            constants = {c.slot: c for c in op.constants}
            for slot, symbol in enumerate(rule.inputs):
                e = by_slot.get(slot)
                if e is None:
                    const = constants.get(slot)
                    if const is not None and _known(const):
                        names[symbol] = self.constant_label(const)
                    else:  # what the op saved may show it; else it is a constant
                        unnamed.append(symbol)
                    continue
                names[symbol] = self.label(e.src)
                shape = self.g.node(e.src).value
                if out_shape is not None and shape is not None and shape.shape == out_shape:
                    unbroadcast.add(symbol)
        for s in op.saved:
            if s.name in names:
                continue
            if s.value is not None:
                whole = s.name == "end" and s.value == str(_WHOLE)  # a slice to the end
                values[s.name] = "None" if whole else s.value
            elif s.ref is not None or s.label is not None or s.tensor is not None:
                otherwise = s.name
                if s.tensor is not None and s.name in unnamed:  # an input with no name
                    otherwise = f"const({format_shape(s.tensor.shape)})"
                names[s.name] = self._outside(s.label, s.ref, s.tensor, otherwise)
                outside = s.tensor if s.ref is None and s.label is None else None
                if outside is not None and out_shape is not None and outside.shape == out_shape:
                    unbroadcast.add(s.name)
        self._name_pieces(op, names)
        for symbol in unnamed:  # an optional input left out (bias=False) is None
            names.setdefault(symbol, "None" if symbol in _OPTIONAL else "const")
        return names, values, unbroadcast

    def _name_pieces(self, op: Node, names: dict[str, str]) -> None:
        """A saved list of tensors (``index``'s ``indices``) by what its pieces are: ``C[Xb]``,
        ``h[:, cols]``; a dimension taken whole (None) is ``:``."""
        pieces: dict[str, list[str]] = {}
        for s in op.saved:
            stem, bracket, rest = s.name.partition("[")
            if not bracket or not rest.rstrip("]").isdigit() or stem in names:
                continue
            text = ":" if s.value == "None" else self._outside(s.label, s.ref, s.tensor, s.name)
            pieces.setdefault(stem, []).append(text)
        for stem, texts in pieces.items():
            names[stem] = ", ".join(texts)

    def _outputs(self, op: Node, edge: Edge) -> list[str]:
        """The labels of an op's outputs in order, ``_`` for one the graph does not hold
        (a piece of a ``split`` that nothing used: its gradient is zeros)."""
        shown = self.outputs_of.get(op.id, {})
        count = max(shown, default=-1) + 1
        saved = {s.name: s.value for s in op.saved if s.value is not None}
        with contextlib.suppress(ValueError, SyntaxError, TypeError, IndexError, ZeroDivisionError):
            dim = int(ast.literal_eval(saved.get("dim", "None")))
            value = self.g.node(edge.src).value
            sizes = ast.literal_eval(saved.get("self_sym_sizes", "None")) or (
                value.shape if value is not None else None
            )
            if "split_sizes" in saved:
                count = len(ast.literal_eval(saved["split_sizes"]))
            elif "split_size" in saved and sizes is not None:
                size = int(ast.literal_eval(saved["split_size"]))
                count = -(-int(sizes[dim]) // size)
            elif sizes is not None:  # unbind: one slice per index of dim
                count = int(sizes[dim])
        return [self.label(shown[i]) if i in shown else "_" for i in range(count)]

    def _symbol_value(self, local: str, rule: Rule, op: Node, edge: Edge) -> str | None:
        """The number of a local derivative that is a single tensor symbol (``∂c/∂a = b``)."""
        symbols = symbols_in(local)
        if len(symbols) != 1 or local.strip() != next(iter(symbols)):
            return None
        symbol = symbols.pop()
        by_slot = {e.slot: e for e in self.inputs.get(op.id, [])}
        for slot, name in enumerate(rule.inputs):
            if name == symbol and slot in by_slot:
                return _values(self.g.node(by_slot[slot].src).value, "not recorded")
        if symbol == "result" and op.id in self.output_of:
            return _values(self.g.node(self.output_of[op.id]).value, "not recorded")
        for s in op.saved:
            if s.name == symbol and s.tensor is not None:
                return _values(s.tensor, "not recorded")
            if s.name == symbol and s.ref is not None:
                return _values(self.g.node(s.ref).value, "not recorded")
        return None

    def sum_line(self, node: Node) -> Line | None:
        """For a tensor with several uses: the contributions that add up to its gradient."""
        uses = self.uses.get(node.id, [])
        if len(uses) < 2 or node.grad is None or not self.flow.adds_up(node.id):
            return None
        parts = []
        passes = {self.pass_of_op.get(e.dst) for e in uses}
        for e in uses:
            flowed = self.contribution(e)
            text = _values(flowed, "?")
            number = self.pass_of_op.get(e.dst)
            if len(passes) > 1 and number is not None:  # its uses were in several passes
                text += f" (pass {number})"
            parts.append(text)
        return (
            Span(f"{self.label(node.id)} is used {len(uses)} times; ", "muted"),
            Span(f"{self.label(node.id)}.grad = ", "math"),
            Span(" + ".join(parts), "grad"),
            Span(" = ", "math"),
            Span(_values(node.grad, "not computed"), "grad"),
        )

    def hook_line(self, node: Node) -> Line | None:
        """For a tensor whose gradient the snippet hooked: what arrived, and what the hook
        made of it (its gradient)."""
        if node.grad_hook is None:
            return None
        label = self.label(node.id)
        where = f" ({self.g.meta.snippet}:{node.grad_hook})" if node.grad_hook else ""
        arrived = [self.contribution(e) for e in self.uses.get(node.id, [])]
        if len(arrived) == 1 and arrived[0] is not None and arrived[0] == node.grad:
            return (Span(f"{label}'s gradient hook{where} left it as it was", "muted"),)
        what = (
            _values(arrived[0], "what arrived")
            if len(arrived) == 1
            else "the sum of what its uses sent"
        )
        return (
            Span(f"{label}'s gradient hook{where} turned ", "muted"),
            Span(what, "grad"),
            Span(" into ", "muted"),
            Span(f"{label}.grad = ", "math"),
            Span(_values(node.grad, "not computed"), "grad"),
        )

    # -- the walk -----------------------------------------------------------------

    def tell(self, node_id: int, via: Edge | None, level: int) -> Step:
        node = self.g.node(node_id)
        if node_id in self.told:
            step = Step(head=(Span(self.label(node_id), "name"), Span("  (see above)", "muted")))
            if via is not None and via not in self.told_edges:  # a split's second piece
                self.told_edges.add(via)  # reaches it along the edge already told
                step.body = self.rule_lines(via)
            return step
        self.told.add(node_id)
        step = Step(head=self.head(node))
        if via is not None:
            self.told_edges.add(via)
            step.body = self.rule_lines(via)
        for extra in (self.sum_line(node), self.hook_line(node)):
            if extra is not None:
                step.body.append(extra)
        op = self.producer.get(node_id)
        if op is None:
            return step
        if level >= (self.depth if self.depth is not None else MAX_DEPTH):
            self.omitted += self._count_below(op)
            return step
        for edge in self.inputs.get(op, []):
            step.children.append(self.tell(edge.src, edge, level + 1))
        return step

    def levels_within(self, budget: int) -> int:
        """The most levels below the outputs that hold at most ``budget`` tensors (one at
        least). A tensor's level is the fewest ops between it and an output, as the story
        tells it: the output at 0, the inputs of the op that made it at 1."""
        seen = set(self.g.outputs)
        level, frontier = 0, list(self.g.outputs)
        while frontier and level < MAX_DEPTH:
            below = list(
                dict.fromkeys(
                    e.src
                    for nid in frontier
                    if nid in self.producer
                    for e in self.inputs.get(self.producer[nid], [])
                    if e.src not in seen
                )
            )
            if len(seen) + len(below) > budget:
                break
            seen.update(below)
            frontier = below
            level += 1
        return max(level, 1)

    def _count_below(self, op: int) -> int:
        """Tensors under ``op`` that no step has told yet (and will not, at this depth)."""
        stack = [e.src for e in self.inputs.get(op, [])]
        seen: set[int] = set()
        while stack:
            nid = stack.pop()
            if nid in seen or nid in self.told:
                continue
            seen.add(nid)
            producer = self.producer.get(nid)
            if producer is not None:
                stack.extend(e.src for e in self.inputs.get(producer, []))
        return len(seen)

    def header(self) -> list[Line]:
        g = self.g
        if not g.passes:
            return [
                (
                    Span("No backward pass ran: ", "note"),
                    Span("values are shown; gradients were not computed.", "muted"),
                )
            ]
        lines: list[Line] = []
        total = g.meta.passes_total
        if len(g.passes) > 1:
            # only backward() writes .grad; autograd.grad() hands its gradients back;
            # passes over graphs with no leaf in common (two losses) add nothing up
            backward = all(p.kind == "backward" for p in g.passes)
            adds_up = backward and any(n.grad_passes > 1 for n in g.tensors())
            lines.append(
                (
                    Span(f"{len(g.passes)} {'backward ' if backward else ''}passes", "note"),
                    Span(" add into the same .grad:" if adds_up else " are shown:", "muted"),
                )
            )
        for number, p in enumerate(g.passes, start=1):
            call = "backward()" if p.kind == "backward" else "torch.autograd.grad()"
            roots = ", ".join(self.label(r) for r in p.roots)
            where = f" at {g.meta.snippet}:{p.line}" if p.line else ""
            prefix = f"pass {number}: " if len(g.passes) > 1 else ""
            extra = " (returns gradients; .grad is not written)" if p.kind == "grad" else ""
            lines.append(
                (
                    Span(prefix + f"{call} on ", "muted"),
                    Span(roots, "name"),
                    Span(where + extra, "muted"),
                )
            )
        if total > len(g.passes):
            n = total - len(g.passes)
            told = (
                "1 earlier backward pass is not shown: a later pass over the same tensors "
                "replaced it"
                if n == 1
                else f"{n} earlier backward passes are not shown: later passes over the same "
                "tensors replaced them"
            )
            lines.append((Span(f"({told})", "muted"),))
        return lines


_REDUCTIONS = {"0": "'none'", "1": "'mean'", "2": "'sum'"}


def _readable(attr: str, value: str) -> str:
    """torch saves ``reduction`` as a number; say it the way the user wrote it."""
    return _REDUCTIONS.get(value, value) if attr == "reduction" else value


def _scalar(t: TensorData | None) -> Scalar | None:
    if t is None or t.data is None or len(t.data) != 1 or isinstance(t.data[0], complex):
        return None
    return t.data[0]


def _with_numbers(
    formula: str, scalars: dict[str, object], values: dict[str, str], unbroadcast: set[str]
) -> tuple[str, float | None] | None:
    """The formula with its one-number tensors put in, and its value; None if any is larger.

    Saved attributes go in first, with the arithmetic done (``2 * x``, not
    ``2 * x ** (2 - 1)``); then each tensor's number, as it is printed.
    """
    symbols = symbols_in(formula) - NAMED_NUMBERS
    if not symbols or not symbols <= scalars.keys():
        return None
    value = evaluate_scalar(formula, scalars)
    if value is None:  # a formula for matrices (``mat1.T @ grad``) on 1×1 ones: no numbers
        return None
    general = render_formula(formula, {}, values, unbroadcast | symbols)
    texts = {k: _number_text(v) for k, v in scalars.items() if k in symbols and k not in values}
    shown = render_formula(general, texts, {}, unbroadcast | symbols, fold=False)
    return shown, value


_PAREN_NUMBER = re.compile(r"\((-[^()\s]+)\)")


def _is_number(text: str, value: float) -> bool:
    """Whether ``text`` is just ``value`` written out (``2`` for 2.0): nothing to add."""
    try:
        return float(text) == value or format_number(value) == text
    except ValueError:
        return False


def _bare(text: str) -> str:
    """``(-2.)`` -> ``-2.``: a lone number without the parentheses it wore in a formula."""
    match = _PAREN_NUMBER.fullmatch(text)
    return match.group(1) if match else text


def _number_text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return repr(value)
    text = format_number(value)
    return f"({text})" if text.startswith("-") else text


def _without_comment(code: str) -> str:
    """A source line without its trailing ``# comment`` (strings may hold a #)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return code
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            return code[: tok.start[1]].rstrip()
    return code


_OPTIONAL = frozenset({"bias", "weight"})
"""Inputs a layer may leave out (conv2d's bias, an affine-free norm's weight): an empty
slot there is None, where the constants a call passed are recorded by name."""


def _known(c: Constant) -> bool:
    """Whether a constant input has a name, a graph tensor or numbers of its own to show
    (the numbers of one the op also saved are with what it saved)."""
    return c.label is not None or c.ref is not None or c.tensor is not None


_CAUSES = frozenset(
    {"stale_grad", "masked_nan", "flat_derivative", "dead_relu", "squashed_twice"}
    | {"not_log_probabilities", "broadcast_loss", "kept_graphs"}
)
"""The doctor's findings that name a cause a reader of the tree would not see at once."""


def _health_lines(graph: Graph) -> list[Line]:
    """Gradients that vanished or exploded: their norms on the way down, and the culprit;
    and the causes the doctor names (a .grad never reset, a mask that hid a nan)."""
    from gradviz.health import diagnose

    lines: list[Line] = []
    for f in diagnose(graph).findings:
        if f.kind in _CAUSES:  # what the numbers above show, in a sentence
            if not lines:
                lines.append((Span("Gradient health:", "note"),))
            lines.append((Span(f"{f.kind.replace('_', ' ')} ", "grad"), Span(f.message, "muted")))
            continue
        if f.kind not in ("vanishing", "exploding") or not f.path:
            continue
        if not lines:
            lines.append((Span("Gradient health:", "note"),))
        norms = " → ".join(
            f"{s.label} {'–' if s.grad_norm is None else format_number(s.grad_norm, 3)}"
            for s in f.path
        )
        lines.append((Span(f"{f.kind} ", "grad"), Span(f.message.replace("|", ""), "muted")))
        lines.append((Span(f"  norms from the loss down: {norms}", "muted"),))
        if f.culprit:
            verb = "shrank" if f.kind == "vanishing" else "grew"
            lines.append((Span(f"  the op that {verb} it most: {f.culprit}", "muted"),))
        if len(lines) > 3 * 3:
            break
    return lines


def tell(graph: Graph, depth: int | None = None) -> Story:
    """The story of ``graph``: one tree per output, ``depth`` levels at most."""
    if depth is not None:
        depth = min(depth, DEPTH_LIMIT)
    graph = without_module_hooks(graph)  # torch's plumbing for module hooks, not the math
    teller = _Teller(graph, depth)
    if depth is None and sum(1 for _ in graph.tensors()) > TOLD_BY_DEFAULT:
        depth = teller.depth = teller.levels_within(TOLD_BY_DEFAULT)
    trees = [teller.tell(out, None, 0) for out in graph.outputs]
    footer = _health_lines(graph) if graph.passes else []
    return Story(
        header=teller.header(),
        trees=trees,
        omitted=teller.omitted,
        depth=depth if depth is not None else MAX_DEPTH,
        footer=footer,
    )


def _no_rule(op: Node) -> str:
    """Why a node has no formula: torch's own nodes are named ``...Backward0`` (a digit
    for each overload), an ``autograd.Function``'s ``...Backward``: its backward is code
    of the snippet's (or a library's), which no rule of gradviz's can know."""
    name = op.autograd or ""
    if name.endswith("Backward") and name != "Backward":
        return "a custom autograd.Function, whose backward() is its own code"
    return f"gradviz has no rule for {name}"
