"""Build-up frames for the dynamic-graph lesson: the graph as it grew, one op at a time.

Frame k shows every op the forward pass had run by its k-th recorded op, the
tensors they made and the leaves they read, with the newest op and its output
outlined and the snippet line that ran it as the caption. Gradients are left
out: while the graph grows, backward has not run yet. An ``index.html`` lists
the frames, so a lecturer can step through them (or paste them into slides).
"""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path

from gradviz.model import Graph, Node
from gradviz.output import write_atomic
from gradviz.renderers.base import RenderOptions
from gradviz.renderers.dot import DotRenderer
from gradviz.renderers.image import run_dot
from gradviz.transforms import renumber, split_shared_leaves, without_module_hooks

__all__ = ["MAX_FRAMES", "frame_graphs", "op_steps", "write_frames"]

MAX_FRAMES = 200


def op_steps(graph: Graph) -> dict[int, int]:
    """Each op's place in the forward pass; ops made inside a torch call take its step."""
    producer = {e.dst: e.src for e in graph.edges if graph.node(e.src).kind == "op"}
    consumers: dict[int, list[int]] = {}
    for e in graph.edges:
        if graph.node(e.src).kind != "op":
            consumers.setdefault(e.src, []).append(e.dst)
    steps = {n.id: n.step for n in graph.ops() if n.step is not None}
    output_of = {op: t for t, op in producer.items()}
    changed = True
    while changed:  # an op without a step (inside linear, say) runs with its consumer
        changed = False
        for op in graph.ops():
            if op.id in steps:
                continue
            later = [steps[c] for c in consumers.get(output_of.get(op.id, -1), []) if c in steps]
            if later:
                steps[op.id] = min(later)
                changed = True
    last = max(steps.values(), default=0)
    return {op.id: steps.get(op.id, last) for op in graph.ops()}


def frame_graphs(
    graph: Graph, max_nodes: int | None = None, steps: dict[int, int] | None = None
) -> list[tuple[Graph, Node]]:
    """One smaller Graph per forward step, each with the op that step added.

    At most ``MAX_FRAMES`` frames, and none past ``max_nodes`` nodes: the
    build-up is a story for graphs small enough to read.
    """
    steps = op_steps(graph) if steps is None else steps
    order = sorted({s for s in steps.values()})
    producer = {e.dst: e.src for e in graph.edges if graph.node(e.src).kind == "op"}
    frames: list[tuple[Graph, Node]] = []
    for step in order[:MAX_FRAMES]:
        ops = {op for op, s in steps.items() if s <= step}
        keep = set(ops)
        for e in graph.edges:
            if e.dst in ops:
                keep.add(e.src)  # inputs: leaves, or outputs of ops already shown
            if e.src in ops:
                keep.add(e.dst)
        keep = {n for n in keep if graph.node(n).kind == "op" or producer.get(n, -1) in ops
                or graph.node(n).kind == "leaf"}  # fmt: skip
        if max_nodes is not None and len(keep) > max_nodes and frames:
            break
        added = [op for op in ops if steps[op] == step]
        own = [op for op in added if graph.node(op).step == step]  # not one made inside it
        newest = min(own or added)
        nodes = tuple(n for n in graph.nodes if n.id in keep)
        edges = tuple(e for e in graph.edges if e.src in keep and e.dst in keep)
        outputs = tuple(n.id for n in nodes if n.kind == "output")
        sub = Graph(
            nodes=nodes,
            edges=edges,
            outputs=outputs,
            passes=(),
            meta=graph.meta,
            modules=graph.modules,
        )
        frames.append((sub, graph.node(newest)))
    return frames


def write_frames(graph: Graph, folder: Path, options: RenderOptions) -> tuple[int, int]:
    """Write frame_001.svg, ... and index.html into ``folder``.

    Returns how many frames were written, and how many forward steps there were.
    """
    graph = without_module_hooks(graph)
    steps = op_steps(graph)
    frames = frame_graphs(graph, options.max_nodes, steps)
    items = []
    for number, (sub, newest) in enumerate(frames, start=1):
        # Ids become positions in ``sub.nodes`` (copies of shared leaves go after),
        # so that shared weights are drawn once per use, as in every other picture.
        position = {n.id: i for i, n in enumerate(sub.nodes)}
        made = [position[e.dst] for e in sub.edges if e.src == newest.id]
        drawn = split_shared_leaves(renumber(sub, list(sub.nodes), list(sub.edges), [*sub.outputs]))
        caption = (
            f"line {newest.source.line}: {newest.source.code}"
            if newest.source
            else f"{newest.op} (inside a torch call)"
        )
        frame_options = replace(
            options,
            grads=False,
            color_by=None,
            title=f"{number}/{len(frames)}  {caption}",
            highlight=(position[newest.id], *made),
        )
        svg = run_dot(DotRenderer("dot", frame_options).render(drawn), "svg", options.dot_timeout)
        name = f"frame_{number:03d}.svg"
        write_atomic(folder / name, svg)
        items.append((name, caption))
    write_atomic(folder / "index.html", _index(graph, items))
    return len(frames), len(set(steps.values()))


def _index(graph: Graph, items: list[tuple[str, str]]) -> str:
    rows = "\n".join(
        f"<li><p>{i}. <code>{html.escape(caption)}</code></p>"
        f'<img src="{name}" alt="frame {i}" loading="lazy"></li>'
        for i, (name, caption) in enumerate(items, start=1)
    )
    title = html.escape(f"gradviz · {graph.meta.snippet} · the graph as it grew")
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: sans-serif; margin: 2rem; }} li {{ margin-bottom: 2rem; }}
img {{ max-width: 100%; border: 1px solid #ddd; }}</style></head>
<body>
<h1>{title}</h1>
<ol>
{rows}
</ol>
</body>
</html>
"""
