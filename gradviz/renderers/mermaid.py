"""Graph -> a Mermaid flowchart, for Markdown slides and pages (Marp, GitHub, MkDocs).

Every label is quoted, and every character that could end the quote or start
markup is written as a Mermaid entity code (``#34;`` for ``"``), so no name
from the snippet can change the chart's structure or inject HTML.
"""

from __future__ import annotations

import re

from gradviz.display import format_shape, tensor_lines
from gradviz.model import Graph, Node, TensorData
from gradviz.renderers.base import RenderOptions
from gradviz.renderers.theme import LIGHT, Theme

__all__ = ["MermaidRenderer", "mermaid_escape"]

_UNSAFE = re.compile(r"[^\w .,:;=+\-*/()\[\]×…^%@!?'λ∂Σ]", re.UNICODE)


def mermaid_escape(text: str) -> str:
    """Text safe inside a quoted Mermaid label: anything unusual becomes ``#<code>;``."""
    text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return _UNSAFE.sub(lambda m: f"#{ord(m.group())};", text)


class MermaidRenderer:
    """Writes ``flowchart`` text; ops are stadium shapes, tensors boxes with their numbers."""

    suffixes = (".mmd", ".mermaid")
    binary = False

    def __init__(
        self, name: str = "mermaid", options: RenderOptions | None = None, theme: Theme = LIGHT
    ) -> None:
        self.name = name
        self.options = options or RenderOptions()
        self.theme = theme

    def render(self, graph: Graph) -> str:
        t = self.theme
        forward = self.options.direction == "forward"
        lines = [f"flowchart {'TB' if forward else 'BT'}"]
        for node in graph.nodes:
            lines.append(f"  n{node.id}{self._shape(graph, node)}")
        for edge in graph.edges:
            lines.append(
                f"  n{edge.src} --> n{edge.dst}" if forward else f"  n{edge.dst} --> n{edge.src}"
            )
        styles = {
            "op": t.op,
            "leaf": t.leaf,
            "param": t.param,
            "tensor": t.tensor,
            "output": t.output,
            "module": t.tensor,
        }
        for kind, p in styles.items():
            width = "3px" if kind == "output" else "1px"
            lines.append(
                f"  classDef {kind} fill:{p.fill},stroke:{p.border},color:{p.text},"
                f"stroke-width:{width}"
            )
        groups: dict[str, list[str]] = {}
        for node in graph.nodes:
            kind = "param" if node.kind == "leaf" and node.param else node.kind
            groups.setdefault(kind, []).append(f"n{node.id}")
        for kind, ids in groups.items():
            lines.append(f"  class {','.join(ids)} {kind}")
        return "\n".join(lines) + "\n"

    def _shape(self, graph: Graph, node: Node) -> str:
        if node.kind == "module":
            return f'[["{mermaid_escape(graph.module_title(node.name or "module"))}"]]'
        if node.kind == "op":
            named = node.constant_names
            text = mermaid_escape(node.op or "?")
            if named:  # y in y_pred - y: an input with no node of its own
                text += "<br/>with " + mermaid_escape(", ".join(named))
            return f'(["{text}"])'
        parts = []
        title = ", ".join(node.names)
        shape = format_shape(node.value.shape) if node.value else ""
        if title:
            parts.append(f"<b>{mermaid_escape(title)}</b> {mermaid_escape(shape)}".rstrip())
        elif shape:
            parts.append(mermaid_escape(shape))
        parts.append("value " + mermaid_escape(self._numbers(node.value, "not recorded")))
        parts.append("grad " + mermaid_escape(self._numbers(node.grad, "not computed")))
        return f'["{"<br/>".join(parts)}"]'

    def _numbers(self, t: TensorData | None, missing: str) -> str:
        if t is None:
            return missing
        return " ".join(
            line.strip() for line in tensor_lines(t, self.options.max_items, self.options.precision)
        )
