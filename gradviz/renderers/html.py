"""One self-contained HTML page: the graph with pan and zoom, and every number on a click.

No CDN, no network: the SVG that ``dot`` lays out is inlined, the details of
each node travel as JSON inside the page, and a few lines of script show them.
Names from the snippet reach the page only as SVG text escaped by Graphviz, as
JSON with ``<``, ``>`` and ``&`` written as ``\\u`` escapes (so no ``</script>``
can end the data early), and as ``textContent`` (never ``innerHTML``).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from gradviz.display import format_shape, tensor_lines
from gradviz.model import Graph, Node, TensorData
from gradviz.renderers.base import RenderOptions
from gradviz.renderers.dot import DotRenderer
from gradviz.renderers.image import run_dot
from gradviz.renderers.theme import LIGHT, Theme

__all__ = ["HtmlRenderer", "page_json"]

_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("gradviz-data").textContent);
  var svg = document.querySelector("#canvas svg");
  var panel = document.getElementById("details");
  var box = svg.viewBox.baseVal;
  var start = null;
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.addEventListener("wheel", function (event) {
    event.preventDefault();
    var scale = event.deltaY > 0 ? 1.15 : 1 / 1.15;
    var r = svg.getBoundingClientRect();
    var x = box.x + (event.clientX - r.left) / r.width * box.width;
    var y = box.y + (event.clientY - r.top) / r.height * box.height;
    box.x = x - (x - box.x) * scale; box.y = y - (y - box.y) * scale;
    box.width *= scale; box.height *= scale;
  }, { passive: false });
  svg.addEventListener("mousedown", function (event) {
    start = { x: event.clientX, y: event.clientY, bx: box.x, by: box.y };
  });
  window.addEventListener("mousemove", function (event) {
    if (!start) { return; }
    var r = svg.getBoundingClientRect();
    box.x = start.bx - (event.clientX - start.x) / r.width * box.width;
    box.y = start.by - (event.clientY - start.y) / r.height * box.height;
  });
  window.addEventListener("mouseup", function () { start = null; });
  function row(table, key, value) {
    var tr = document.createElement("tr");
    var th = document.createElement("th");
    var td = document.createElement("td");
    th.textContent = key;
    if (value.indexOf("\n") >= 0) {
      var pre = document.createElement("pre");
      pre.textContent = value;
      td.appendChild(pre);
    } else {
      td.textContent = value;
    }
    tr.appendChild(th); tr.appendChild(td); table.appendChild(tr);
  }
  function show(id) {
    var node = data.nodes[id];
    if (!node) { return; }
    panel.textContent = "";
    var title = document.createElement("h2");
    title.textContent = node.title;
    panel.appendChild(title);
    var table = document.createElement("table");
    node.rows.forEach(function (r) { row(table, r[0], r[1]); });
    panel.appendChild(table);
    panel.setAttribute("data-node", id);
    document.querySelectorAll("#canvas g.node").forEach(function (g) {
      g.classList.toggle("selected", g.id === "node-" + id);
    });
  }
  document.querySelectorAll("#canvas g.node").forEach(function (g) {
    var title = g.querySelector("title");
    var id = title ? title.textContent.replace(/^n/, "") : null;
    if (id === null) { return; }
    g.id = "node-" + id;
    g.style.cursor = "pointer";
    g.addEventListener("click", function (event) { event.stopPropagation(); show(id); });
  });
})();
"""


def _tensor_text(t: TensorData | None, missing: str) -> str:
    if t is None:
        return missing
    head = f"{format_shape(t.shape)} {t.dtype} {t.device}"
    return head + "\n" + "\n".join(tensor_lines(t, max_items=64, precision=6))


def _details(graph: Graph, node: Node, drawn: set[int]) -> dict[str, Any]:
    rows: list[tuple[str, str]] = [("kind", node.kind)]
    if node.names:
        rows.append(("names", ", ".join(node.names)))
    if node.op:
        rows.append(("op", node.op))
    if node.autograd:
        rows.append(("autograd node", node.autograd))
    if node.call:
        rows.append(("torch call", node.call))
    if node.source is not None:
        rows.append(("source", f"{graph.meta.snippet}:{node.source.line}  {node.source.code}"))
    modules = [m for m in node.scope if not m.startswith("×")]  # not a folded block's mark
    if modules:
        rows.append(("module", graph.module_title(modules[-1])))
    if node.kind != "op":
        rows.append(("value", _tensor_text(node.value, "not recorded")))
        rows.append(("grad", _tensor_text(node.grad, "not computed")))
        if node.grad_passes > 1:
            rows.append(("backward passes", str(node.grad_passes)))
        if node.grad_stale:
            rows.append(("stale", "the value changed between those passes: .grad never reset"))
        if node.grad_hook is not None:
            where = f"{graph.meta.snippet}:{node.grad_hook}" if node.grad_hook else "the snippet"
            rows.append(("gradient hook", f"{where}; grad is what the hook returned"))
    for c in node.constants:  # inputs without grad: no node of their own
        if c.ref is not None and c.ref in drawn:
            ref = graph.node(c.ref)
            text = f"node {c.ref} ({', '.join(ref.names) or ref.kind}), detached"
        elif c.tensor is not None:
            text = (f"{c.label}: " if c.label else "") + _tensor_text(c.tensor, "")
        else:
            text = c.label or "a tensor (its numbers are among what the op saved)"
        rows.append((f"input {c.slot}, no grad", text))
    for s in node.saved:
        if s.freed:
            text = "freed by backward before it could be read"
        elif s.ref is not None and s.ref in drawn:
            ref = graph.node(s.ref)
            text = f"node {s.ref} ({', '.join(ref.names) or ref.kind})"
        elif s.ref is not None:
            text = "a tensor of the graph not drawn here"
        elif s.tensor is not None:
            text = (f"{s.label}: " if s.label else "") + _tensor_text(s.tensor, "")
        else:
            text = s.value or ""
        rows.append((f"saved {s.name}", text))
    title = ", ".join(node.names) or node.op or node.kind
    return {"title": title, "rows": rows}


def page_json(graph: Graph) -> str:
    """The page's data, safe to put inside a <script> element."""
    drawn = {n.id for n in graph.nodes}
    data = {"nodes": {str(n.id): _details(graph, n, drawn) for n in graph.nodes}}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class HtmlRenderer:
    """Renders a page around the SVG that ``dot`` lays out."""

    suffixes = (".html", ".htm")
    binary = False

    def __init__(
        self, name: str = "html", options: RenderOptions | None = None, theme: Theme = LIGHT
    ) -> None:
        self.name = name
        self.options = options or RenderOptions()
        self.theme = theme

    def render(self, graph: Graph) -> str:
        dot = DotRenderer("dot", self.options, self.theme).render(graph)
        svg = run_dot(dot, "svg", self.options.dot_timeout).decode("utf-8")
        svg = svg[svg.index("<svg") :]
        svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
        t = self.theme
        title = html.escape(f"gradviz · {graph.meta.snippet}")
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  html, body {{ margin: 0; height: 100%; font-family: {t.font}; color: {t.text};
    background: {t.background}; }}
  body {{ display: flex; }}
  #canvas {{ flex: 1; overflow: hidden; }}
  #canvas svg {{ width: 100%; height: 100vh; user-select: none; }}
  #canvas g.node.selected path, #canvas g.node.selected polygon {{ stroke-width: 3px; }}
  #details {{ width: 26rem; max-width: 40%; overflow: auto; padding: 1rem;
    border-left: 1px solid {t.muted}; font-size: 0.9rem; }}
  #details h2 {{ margin-top: 0; font-size: 1.1rem; }}
  #details th {{ text-align: left; vertical-align: top; padding-right: 0.8rem;
    color: {t.muted}; font-weight: normal; white-space: nowrap; }}
  #details pre {{ margin: 0; font-family: {t.mono}; font-size: 0.85rem; }}
</style>
</head>
<body>
<div id="canvas">{svg}</div>
<aside id="details"><p>Click a node to see its values, gradient, source line and saved
tensors. Drag to pan, scroll to zoom.</p></aside>
<script type="application/json" id="gradviz-data">{page_json(graph)}</script>
<script>{_SCRIPT}</script>
</body>
</html>
"""
