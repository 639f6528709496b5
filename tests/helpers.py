"""Helpers shared by the tests: capture a snippet, walk torch's own graph."""

from __future__ import annotations

import math
import re
import runpy
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydot

from gradviz.execute import load_snippet
from gradviz.model import Graph, Node, TensorData, unflatten
from gradviz.torchcapture import CaptureResult, capture_snippet


def capture(path: Path, targets: Sequence[str] = (), argv: Sequence[str] = ()) -> CaptureResult:
    return capture_snippet(load_snippet(path), argv, targets)


def graph_of(path: Path, targets: Sequence[str] = (), argv: Sequence[str] = ()) -> Graph:
    result = capture(path, targets, argv)
    assert result.graph is not None, result.no_graph
    return result.graph


def plain_run(path: Path) -> dict[str, Any]:
    """The snippet's globals after running it with plain Python (no gradviz)."""
    return runpy.run_path(str(path), run_name="__main__")


def printed_both_ways(path: Path, capsys: Any) -> tuple[str, str, Graph]:
    """What the snippet printed under plain Python, then under gradviz, and the graph."""
    plain_run(path)
    plain = capsys.readouterr().out
    graph = graph_of(path)
    return plain, capsys.readouterr().out, graph


def torch_walk(tensors: Sequence[Any]) -> tuple[Counter[str], int]:
    """Node type names (with multiplicity) and the edge count of torch's own graph."""
    stack = [t.grad_fn for t in tensors if t.grad_fn is not None]
    seen: set[int] = set()
    names: Counter[str] = Counter()
    edges = 0
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        names[type(node).__name__] += 1
        for nxt, _ in node.next_functions:
            if nxt is not None:
                edges += 1
                stack.append(nxt)
    return names, edges


def graph_walk(graph: Graph) -> tuple[Counter[str], int]:
    """The same two figures read off a captured Graph."""
    names: Counter[str] = Counter(
        n.autograd for n in graph.nodes if n.kind == "op" or (n.kind == "leaf" and n.autograd)
    )
    op_ids = {n.id for n in graph.ops()}
    edges = sum(1 for e in graph.edges if e.dst in op_ids)
    return names, edges


def values(data: TensorData | None) -> Any:
    """Nested lists (or a scalar) of a TensorData, for comparison with tensor.tolist()."""
    assert data is not None and data.data is not None
    return unflatten(data.data, data.shape)


def close(a: Any, b: Any, tol: float = 1e-5) -> bool:
    """Nested lists equal within a relative tolerance."""
    if isinstance(a, list | tuple):
        return (
            isinstance(b, list | tuple)
            and len(a) == len(b)
            and all(close(x, y, tol) for x, y in zip(a, b, strict=True))
        )
    return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)


def named(graph: Graph, name: str) -> Node:
    return graph.by_name(name)


def parse_dot(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Node name -> the visible text of its label; and the edges, as pydot reads them."""
    (graph,) = pydot.graph_from_dot_data(text)
    labels = {}
    for node in _all_nodes(graph):
        label = node.get("label")
        if node.get_name() in ("graph", "node", "edge") or label is None:
            continue
        if not label.startswith("<"):  # a plain label (saved-tensor notes, copies)
            labels[node.get_name()] = label.strip('"')
            continue
        assert label.startswith("<<") and label.endswith(">>"), label
        root = ET.fromstring(f"<root>{label[1:-1]}</root>")  # well-formed, or this raises
        labels[node.get_name()] = " ".join(s.strip() for s in root.itertext() if s.strip())
    edges = [(e.get_source(), e.get_destination()) for e in _all_edges(graph)]
    return labels, edges


def _all_nodes(graph: Any) -> list[Any]:
    """Nodes of the graph and of its subgraphs (clusters), which pydot keeps apart."""
    return [*graph.get_nodes(), *(n for sub in graph.get_subgraphs() for n in _all_nodes(sub))]


def _all_edges(graph: Any) -> list[Any]:
    return [*graph.get_edges(), *(e for sub in graph.get_subgraphs() for e in _all_edges(sub))]


MERMAID_NODE = re.compile(r'^  n(\d+)(\(\["|\[")(.*)("\]\)|"\])$')


def parse_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Node id -> its label with entity codes decoded and tags removed; and the edges."""
    lines = text.splitlines()
    assert lines[0] in ("flowchart TB", "flowchart BT")
    labels, edges = {}, []
    for line in lines[1:]:
        if "-->" in line:
            a, b = line.strip().split(" --> ")
            edges.append((a, b))
        elif line.startswith("  n"):
            match = MERMAID_NODE.match(line)
            assert match, line
            label = match.group(3)
            assert '"' not in label  # nothing can close the quote early
            label = re.sub(r"</?b>|<br/>", " ", label)
            assert "<" not in label and ">" not in label  # no markup but ours
            labels[f"n{match.group(1)}"] = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label)
        else:
            assert line.startswith(("  classDef ", "  class ")), line
    return labels, edges
