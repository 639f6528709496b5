"""The captured graph itself, as versioned JSON (see docs/json-schema.md)."""

from __future__ import annotations

from gradviz.model import Graph
from gradviz.renderers.base import RenderOptions

__all__ = ["JsonRenderer"]


class JsonRenderer:
    """Writes ``Graph.to_json()``: deterministic, and enough to re-render later."""

    suffixes = (".json",)
    binary = False

    def __init__(self, name: str = "json", options: RenderOptions | None = None) -> None:
        self.name = name

    def render(self, graph: Graph) -> str:
        return graph.to_json()
