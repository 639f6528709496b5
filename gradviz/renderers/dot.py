"""Graph -> Graphviz DOT text, with HTML-like labels that carry the numbers.

The text is written directly rather than through ``graphviz.Digraph``: its
per-statement quoting is 6-20x slower, which matters at tens of thousands of
nodes, and the two escapes needed here (DOT strings, HTML-like labels) are
small and tested against hostile names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from gradviz.display import format_shape, tensor_lines
from gradviz.flow import Flow
from gradviz.health import norm_of
from gradviz.model import Edge, Graph, Node, TensorData
from gradviz.renderers.base import RenderOptions
from gradviz.renderers.magnitude import HEAT_MUTED, HEAT_TEXT, MISSING, NONFINITE, PALETTE, LogScale
from gradviz.renderers.theme import LIGHT, THEMES, Palette, Theme
from gradviz.transforms import shared_prefix

__all__ = ["DotRenderer", "dot_quote", "html_escape"]

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")  # not allowed in XML


def dot_quote(text: str) -> str:
    """A DOT double-quoted string that means exactly ``text``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return '"' + _CONTROL.sub("\ufffd", escaped) + '"'


def html_escape(text: str) -> str:
    """Text safe inside a Graphviz HTML-like label (an XML fragment): no markup gets through."""
    text = _CONTROL.sub("\ufffd", text).replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


class DotRenderer:
    """Renders a Graph as DOT; image renderers pipe this text through ``dot``."""

    suffixes = (".dot", ".gv")
    binary = False

    def __init__(
        self, name: str = "dot", options: RenderOptions | None = None, theme: Theme | None = None
    ) -> None:
        self.name = name
        self.options = options or RenderOptions()
        self.theme = (theme or THEMES.get(self.options.theme, LIGHT)).with_font(self.options.font)
        self._scale: LogScale | None = None
        self._flow: Flow | None = None

    def render(self, graph: Graph) -> str:
        t, o = self.theme, self.options
        forward = o.direction == "forward"
        rankdir = o.rankdir or "TB"
        background = "transparent" if o.transparent else t.background
        out = [
            "digraph gradviz {",
            f"  graph [rankdir={rankdir}, ordering={'in' if forward else 'out'}, "
            f"bgcolor={dot_quote(background)}, pad=0.2, nodesep=0.3, ranksep=0.35, "
            f"fontname={dot_quote(t.font)}, fontcolor={dot_quote(t.text)}, "
            f"fontsize={o.font_size + 3:g}{self._size()}];",
            f"  node [fontname={dot_quote(t.font)}, fontsize={o.font_size:g}, penwidth=1];",
            f"  edge [color={dot_quote(t.edge)}, arrowsize=0.7, penwidth=1.1, "
            f"fontname={dot_quote(t.mono)}, fontsize={max(o.font_size - 3, 6):g}, "
            f"fontcolor={dot_quote(t.grad)}];",
        ]
        title = o.title or (
            "partial graph: the snippet raised before it finished" if graph.meta.partial else None
        )
        if title:
            out.append(f"  graph [label={dot_quote(title)}, labelloc=t];")
        snippet = graph.meta.snippet
        self._scale = self._magnitudes(graph)
        self._flow = Flow(graph) if o.edge_grads or o.color_by == "grad" else None
        lines = {n.id: f"n{n.id} [{self._node_attrs(graph, n, snippet)}];" for n in graph.nodes}
        folded = any(x.startswith("×") for n in graph.nodes for x in n.scope)
        if o.modules or folded:
            out.extend(self._clusters(graph, lines))
        else:
            out.extend(f"  {line}" for line in lines.values())
        weights = _made_of_weights(graph)
        for edge in graph.edges:
            style = self._edge_style(graph, edge) + self._edge_label(graph, edge)
            if weights and edge.src not in weights and edge.dst not in weights:
                style += f", weight={_SPINE_WEIGHT}"
            out.append(self._edge(edge, forward, f" [{style.strip(', ')}]" if style else ""))
        if o.saved:
            out.extend(self._saved(graph, forward))
        if o.legend:
            out.extend(self._kinds_legend())
        if self._scale is not None:
            out.extend(self._legend())
        out.append("}")
        return "\n".join(out) + "\n"

    def _size(self) -> str:
        """A size that caps bitmaps (``max_pixels``) or fits a slide (``width``/``height``)."""
        o = self.options
        dpi = o.dpi * o.scale
        if o.width or o.height:
            w = (o.width or o.max_pixels) / dpi
            h = (o.height or o.max_pixels) / dpi
            return (
                f', size="{w:.3f},{h:.3f}!", ratio=compress'
                if o.width and o.height
                else (f', size="{w:.3f},{h:.3f}"')
            )
        side = o.max_pixels / dpi
        return f', size="{side:.3f},{side:.3f}"'

    def _edge_label(self, graph: Graph, edge: Edge) -> str:
        """With ``edge_grads``: the gradient that flowed back along each input edge."""
        if not self.options.edge_grads or graph.node(edge.src).kind == "op":
            return ""
        grad = self._flow.along(edge) if self._flow is not None else None
        if grad is None:
            return ""
        text = " ".join(line.strip() for line in tensor_lines(grad, 3, self.options.precision))
        return f", label={dot_quote(' ' + text)}"

    def _saved(self, graph: Graph, forward: bool) -> list[str]:
        """Saved tensors as dashed notes by their op (graph tensors get a dashed edge)."""
        t = self.theme
        out = []
        drawn = {n.id for n in graph.nodes}
        for op in graph.ops():
            for i, s in enumerate(op.saved):
                if s.name.endswith(("_sym_sizes", "_sym_strides", "_sym_numel", "_sym_argsize_0")):
                    continue
                if s.ref is not None and s.ref not in drawn:
                    continue  # a tensor this picture leaves out (a build-up frame)
                if s.ref is not None:
                    a, b = (f"n{s.ref}", f"n{op.id}") if forward else (f"n{op.id}", f"n{s.ref}")
                    out.append(
                        f"  {a} -> {b} [style=dashed, color={dot_quote(t.muted)}, "
                        f"arrowhead=none, constraint=false, label={dot_quote(' saved ' + s.name)}, "
                        f"fontcolor={dot_quote(t.muted)}];"
                    )
                    continue
                if s.tensor is not None:
                    text = " ".join(
                        line.strip() for line in tensor_lines(s.tensor, 3, self.options.precision)
                    )
                elif s.freed:
                    text = "freed"
                else:
                    text = s.value or ""
                name = f"{s.label} ({s.name})" if s.label else s.name
                size = max(self.options.font_size - 2, 6)
                out.append(
                    f"  s{op.id}_{i} [shape=note, style=dashed, color={dot_quote(t.muted)}, "
                    f"fontcolor={dot_quote(t.muted)}, fontsize={size:g}, "
                    f"label={dot_quote(f'saved {name}: {text}')}];"
                )
                out.append(
                    f"  s{op.id}_{i} -> n{op.id} [style=dashed, arrowhead=none, "
                    f"color={dot_quote(t.muted)}, constraint=false];"
                )
        return out

    def _kinds_legend(self) -> list[str]:
        """A key to the kinds of node: what a blue box, a bold green box, an amber box mean."""
        t = self.theme
        rows = []
        for p, tag, text, border in (
            (t.leaf, "leaf", "leaf: a tensor you made with requires_grad=True", 1),
            (t.param, "param", "parameter of a module", 1),
            (t.tensor, "", "intermediate tensor", 1),
            (t.output, "output", "output: what backward() was called on", 2),
            (t.op, "", "op: the autograd node that made a tensor", 1),
        ):
            mark = f'<FONT POINT-SIZE="8" COLOR="{p.border}">{tag}</FONT>' if tag else " "
            swatch = (
                f'<TABLE BORDER="{border}" CELLBORDER="0" STYLE="ROUNDED" BGCOLOR="{p.fill}" '
                f'COLOR="{p.border}"><TR><TD WIDTH="34">{mark}</TD></TR></TABLE>'
            )
            rows.append(
                f'<TR><TD>{swatch}</TD><TD ALIGN="LEFT"><FONT COLOR="{t.text}">{text}'
                "</FONT></TD></TR>"
            )
        label = '<<TABLE BORDER="0" CELLSPACING="4">' + "".join(rows) + "</TABLE>>"
        return [
            "  subgraph cluster_key {",
            f'    label=""; color="{t.muted}"; style="rounded";',
            f"    key [shape=plain, label={label}];",
            "  }",
        ]

    # -- magnitude ----------------------------------------------------------------

    def _norm(self, node: Node) -> float | None:
        by = self.options.color_by
        return norm_of(node.grad if by == "grad" else node.value)

    def _magnitudes(self, graph: Graph) -> LogScale | None:
        if self.options.color_by is None:
            return None
        return LogScale.over(self._norm(n) for n in graph.nodes if n.kind != "op") or LogScale(0, 0)

    def _edge_style(self, graph: Graph, edge: Edge) -> str:
        """Edges carry the magnitude of what flowed along them (the source's, if used once)."""
        if self._scale is None or self.options.color_by is None:
            return ""
        src = graph.node(edge.src)
        if src.kind == "op":
            norm = self._norm(graph.node(edge.dst))
        elif self.options.color_by == "grad" and self._flow is not None:
            norm = norm_of(self._flow.along(edge))
        else:
            norm = self._norm(src)
        color = self._scale.edge_color(norm) if norm is not None else self.theme.edge
        return f'color="{color}", penwidth={self._scale.width(norm)}'

    def _legend(self) -> list[str]:
        assert self._scale is not None
        low, high = self._scale.ticks()
        what = "|grad|" if self.options.color_by == "grad" else "|value|"
        cells = "".join(f'<TD BGCOLOR="{c}" WIDTH="18"> </TD>' for c in PALETTE)
        label = (
            '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
            f'<TR><TD COLSPAN="{len(PALETTE) + 2}"><B>{what}</B> (log scale)</TD></TR>'
            f'<TR><TD ALIGN="RIGHT">{html_escape(low)}</TD>{cells}'
            f'<TD ALIGN="LEFT">{html_escape(high)}</TD></TR>'
            f'<TR><TD COLSPAN="{len(PALETTE) + 2}"><TABLE BORDER="0" CELLPADDING="1"><TR>'
            f'<TD BGCOLOR="{NONFINITE}" WIDTH="18"> </TD><TD>nan/inf</TD>'
            f'<TD BGCOLOR="{MISSING}" WIDTH="18"> </TD><TD>none</TD></TR></TABLE></TD></TR>'
            "</TABLE>>"
        )
        return [
            "  subgraph cluster_legend {",
            f'    label=""; color="{self.theme.muted}"; style="rounded"; '
            f'fontcolor="{self.theme.text}";',
            f"    legend [shape=plain, fontcolor={dot_quote(self.theme.text)}, label={label}];",
            "  }",
        ]

    # -- nodes ------------------------------------------------------------------

    def _clusters(self, graph: Graph, lines: dict[int, str]) -> list[str]:
        """Nodes inside nested clusters: module calls (``--modules``) and folded blocks."""
        t = self.theme
        tree: dict[str, Any] = {"nodes": [], "children": {}}
        users: dict[int, list[tuple[str, ...]]] = {}
        for e in graph.edges:
            if graph.node(e.dst).kind == "op":
                users.setdefault(e.src, []).append(graph.node(e.dst).scope)
        for node in graph.nodes:
            at = tree
            for name in _drawn_scope(node, users.get(node.id, [])):
                if not self.options.modules and not name.startswith("×"):
                    continue  # without --modules, only folded blocks are boxed
                at = at["children"].setdefault(name, {"nodes": [], "children": {}})
            at["nodes"].append(node.id)
        out: list[str] = []
        counter = iter(range(1_000_000))

        def emit(branch: dict[str, Any], indent: str) -> None:
            out.extend(f"{indent}{lines[i]}" for i in branch["nodes"])
            for name, child in branch["children"].items():
                out.append(f"{indent}subgraph cluster_m{next(counter)} {{")
                repeat = name.startswith("×")  # a folded block: one drawn for all
                label = (
                    f"{name}  (one block drawn for all its repeats, with the numbers of the first)"
                    if repeat
                    else graph.module_title(name)
                )
                style = "rounded,bold" if repeat else "rounded,dashed"
                colour = t.text if repeat else t.muted
                out.append(
                    f"{indent}  label={dot_quote(label)}; labeljust=l; style={dot_quote(style)}; "
                    f"color={dot_quote(colour)}; fontcolor={dot_quote(colour)};"
                )
                emit(child, indent + "  ")
                out.append(f"{indent}}}")

        emit(tree, "  ")
        return out

    def _module_attrs(self, graph: Graph, node: Node) -> str:
        """A whole module call as one node: its parameter count and gradient norm."""
        t = self.theme
        name = node.name or "module"
        params = [p for p in graph.params if p.name.startswith(name + ".")]
        count = sum(p.value.numel for p in params)
        norms = [norm_of(p.grad) for p in params]
        known = [n for n in norms if n is not None]
        grad = (sum(n * n for n in known) ** 0.5) if known else None
        label = f"<B>{html_escape(name)}</B>"
        title = graph.module_title(name)
        if title != name:  # its class, under its name
            kind = title.removeprefix(f"{name}: ")
            label += f'<BR/><FONT POINT-SIZE="9" COLOR="{t.muted}">{html_escape(kind)}</FONT>'
        if params:
            label += f'<BR/><FONT POINT-SIZE="9">{count:,} params'
            if grad is not None:
                label += f"  |grad| {grad:.3g}"
            label += "</FONT>"
        return (
            f'shape=box3d, style=filled, fillcolor="{t.tensor.fill}", color="{t.tensor.border}", '
            f'fontcolor="{t.tensor.text}", label=<{label}>, tooltip={dot_quote(title)}'
        )

    def _node_attrs(self, graph: Graph, node: Node, snippet: str) -> str:
        if node.kind == "module":
            return self._module_attrs(graph, node)
        tooltip = self._tooltip(node, snippet)
        if node.kind == "op":
            p = self.theme.op
            label = f"<B>{html_escape(node.op or '?')}</B>"
            named = node.constant_names
            if named:  # y in y_pred - y: an input with no node of its own
                label += (
                    f'<BR/><FONT POINT-SIZE="8" COLOR="{p.border}">'
                    f"with {html_escape(', '.join(named))}</FONT>"
                )
            if self.options.saved:
                attrs = [
                    f"{x.name}={x.value}"
                    for x in node.saved
                    if x.value is not None and "_sym_" not in x.name and x.value != "None"
                ]
                if attrs:
                    label += f'<BR/><FONT POINT-SIZE="8">{html_escape(", ".join(attrs))}</FONT>'
            if node.autograd and not self.options.compact:
                label += (
                    f'<BR/><FONT POINT-SIZE="8" COLOR="{p.border}">'
                    f"{html_escape(node.autograd)}</FONT>"
                )
            width = 3 if node.id in self.options.highlight else 1
            return (
                f'shape=box, style="rounded,filled", fillcolor="{p.fill}", color="{p.border}", '
                f'fontcolor="{p.text}", margin="0.12,0.04", height=0.3, penwidth={width}, '
                f"label=<{label}>, tooltip={dot_quote(tooltip)}"
            )
        if node.copy_of is not None:  # a shared leaf drawn again by one of its uses
            return self._copy_attrs(node)
        return f"shape=plain, label=<{self._tensor_table(node)}>, tooltip={dot_quote(tooltip)}"

    def _copy_attrs(self, node: Node) -> str:
        t = self.theme
        p = t.param if node.param else t.leaf
        name = node.name or "leaf"
        return (
            f'shape=box, style="rounded,dashed,filled", fillcolor="{p.fill}", '
            f'color="{p.border}", fontcolor="{p.text}", margin="0.08,0.02", height=0.25, '
            f"label={dot_quote(name)}, "
            f"tooltip={dot_quote(name + ': used here too (drawn once per use)')}"
        )

    @property
    def _muted(self) -> str:
        """Secondary text: the theme's, or a dark grey on the (light) heat-map fills."""
        return HEAT_MUTED if self._scale is not None else self.theme.muted

    def _palette(self, node: Node) -> tuple[Palette, str, int]:
        t = self.theme
        if self._scale is not None:
            fill = self._scale.color(self._norm(node))
            base = {"output": t.output, "leaf": t.param if node.param else t.leaf}.get(
                node.kind, t.tensor
            )
            tag = {"output": "output", "leaf": "param" if node.param else "leaf"}.get(node.kind, "")
            # the heat palette is light in every theme: its text is always dark
            return Palette(fill=fill, border=base.border, text=HEAT_TEXT), tag, 2 if tag else 1
        if node.kind == "output":
            return t.output, "output", 2
        if node.kind == "leaf":
            return (t.param, "param", 1) if node.param else (t.leaf, "leaf", 1)
        return t.tensor, "", 1

    def _tensor_table(self, node: Node) -> str:
        t = self.theme
        palette, tag, border = self._palette(node)
        if node.id in self.options.highlight:
            border = 4
        title = ", ".join(node.names)
        head = f'<B><FONT COLOR="{palette.text}">{html_escape(title)}</FONT></B>  ' if title else ""
        shape_text = self._shape_text(node.value)
        if shape_text:  # Graphviz 2.43 rejects an empty <FONT></FONT>
            head += f'<FONT COLOR="{self._muted}">{html_escape(shape_text)}</FONT>'
        if not shape_text and not title:
            head = f'<FONT COLOR="{self._muted}">tensor</FONT>'
        tag_cell = (
            f'<TD ALIGN="RIGHT"><FONT POINT-SIZE="8" COLOR="{palette.border}">{tag}</FONT></TD>'
            if tag
            else "<TD></TD>"
        )
        rows = [f'<TR><TD ALIGN="LEFT" COLSPAN="2">{head}</TD>{tag_cell}</TR>']
        o = self.options
        if o.values and not o.compact:
            rows.append(self._data_row("value", node.value, palette.text, missing="not recorded"))
        if o.grads and not o.compact:
            grad_label = "grad" if node.grad_passes <= 1 else f"grad Σ{node.grad_passes}"
            if node.grad_stale:  # summed over values the snippet stepped between: never reset
                grad_label += " stale"
            if node.grad_hook is not None:  # what the snippet's hook returned
                grad_label += " (hook)"
            grad_color = palette.text if self._scale is not None else t.grad  # no red on heat
            rows.append(self._data_row(grad_label, node.grad, grad_color, "not computed"))
        return (
            f'<TABLE BORDER="{border}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" '
            f'STYLE="ROUNDED" BGCOLOR="{palette.fill}" COLOR="{palette.border}">'
            + "".join(rows)
            + "</TABLE>"
        )

    @staticmethod
    def _shape_text(value: TensorData | None) -> str:
        if value is None:
            return ""
        text = format_shape(value.shape)
        if value.dtype != "float32":
            text += f" {value.dtype}"
        if value.device != "cpu":
            text += f" {value.device}"
        return text

    def _data_row(self, label: str, data: TensorData | None, color: str, missing: str) -> str:
        t = self.theme
        if data is None:
            body = f'<I><FONT COLOR="{self._muted}">{missing}</FONT></I>'
        else:
            lines = tensor_lines(data, self.options.max_items, self.options.precision)
            body = '<BR ALIGN="LEFT"/>'.join(html_escape(line) for line in lines)
            body = f'<FONT FACE="{t.mono}" COLOR="{color}">{body}<BR ALIGN="LEFT"/></FONT>'
        return (
            f'<TR><TD ALIGN="LEFT" VALIGN="TOP"><FONT POINT-SIZE="9" COLOR="{self._muted}">'
            f'{label}</FONT></TD><TD ALIGN="LEFT" BALIGN="LEFT" COLSPAN="2">{body}</TD></TR>'
        )

    @staticmethod
    def _tooltip(node: Node, snippet: str) -> str:
        parts = []
        if node.names:
            parts.append(", ".join(node.names))
        if node.autograd:
            parts.append(node.autograd)
        if node.source:
            parts.append(f"{snippet}:{node.source.line}  {node.source.code}")
        return "\n".join(parts)

    # -- edges ------------------------------------------------------------------

    @staticmethod
    def _edge(edge: Edge, forward: bool, style: str = "") -> str:
        if forward:
            return f"  n{edge.src} -> n{edge.dst}{style};"
        return f"  n{edge.dst} -> n{edge.src}{style};"


_SPINE_WEIGHT = 8
"""How much more ``dot`` straightens an edge between activations than one from a weight.

Each op is set at the middle of its inputs, and a layer's weight and bias come
in beside its input: with all edges alike, each layer sat to the side of the
last, and a small CNN drifted across the page (882 px over four layers).
Weighted, the data runs straight down and the weights hang to its side."""


def _made_of_weights(graph: Graph) -> set[int]:
    """Leaves (a module's parameters, a from-scratch net's ``W1``), what is computed from
    them alone (a Linear's ``t(weight)``, a weight penalty) and the ops that compute it:
    the side of the picture the data's spine leaves out. The data itself is a constant
    of the first op; a graph made of leaves alone (``c = a * b``) has no spine."""
    leaves = {n.id for n in graph.nodes if n.kind == "leaf"}
    if not leaves:
        return leaves
    inputs: dict[int, list[int]] = {}
    producer: dict[int, int] = {}
    for e in graph.edges:
        if graph.node(e.src).kind == "op":
            producer[e.dst] = e.src
        else:
            inputs.setdefault(e.dst, []).append(e.src)
    known: dict[int, bool] = {i: True for i in leaves}

    def weights_only(op: Node) -> bool:  # no data comes in: no constant, no activation
        ins = inputs.get(op.id, [])
        return bool(ins) and not op.constants and all(known[i] for i in ins)

    for node in graph.nodes:  # ops in any order: each settled once its inputs are
        stack, opened = [node.id], set()
        while stack:
            at = stack[-1]
            if at in known:
                stack.pop()
                continue
            n = graph.node(at)
            if n.kind == "op":
                ahead = [i for i in inputs.get(at, []) if i not in known]
            elif at in producer and producer[at] not in known:
                ahead = [producer[at]]
            else:
                ahead = []
            if ahead and at not in opened:  # a cycle (an in-place write into a view) ends
                opened.add(at)
                stack.extend(ahead)
                continue
            stack.pop()
            known.update((i, False) for i in ahead)  # only where it came back round
            if n.kind == "op":
                known[at] = weights_only(n)
            else:
                known[at] = at in producer and known[producer[at]]
    return {i for i, made in known.items() if made}


def _drawn_scope(node: Node, users: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """The clusters a node is drawn in: a tensor a module call hands on is drawn outside it,
    in the module both it and its users are in.

    A block's output drawn inside the block (where the op that made it ran)
    shares its rank with the next block's first weights, so ``dot`` sets the
    next block beside it, not below: a residual stack of blocks drifts across
    the page. Between the blocks, the stack runs down. A tensor only some
    module's own ops use stays inside, and so does one of a folded block.
    """
    if node.kind != "tensor" or not users:
        return node.scope
    shared = len(shared_prefix([node.scope, *users]))
    if any(name.startswith("×") for name in node.scope[shared:]):
        return node.scope
    return node.scope[:shared]
