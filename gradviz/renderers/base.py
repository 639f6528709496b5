"""What every renderer is: a small object that turns a Graph into text or bytes.

Renderers never print and never write files; the CLI owns the console and the
output file, so a failed render leaves nothing half-written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from gradviz.model import Graph

__all__ = ["RenderOptions", "Renderer"]

Direction = Literal["forward", "backward"]


@dataclass(frozen=True)
class RenderOptions:
    """Choices that shape a picture, shared by every renderer that draws.

    ``direction``: ``forward`` draws data flowing from inputs to outputs;
    ``backward`` draws edges the way autograd walks them, from the outputs down.
    ``color_by``: colour tensors and size edges by the norm of their gradient
    (or value), on a log scale, with a colour bar. ``max_pixels`` caps the
    longest side of a bitmap, so a big graph never makes a giant PNG by accident.
    """

    direction: Direction = "forward"
    color_by: Literal["grad", "value"] | None = None
    theme: str = "light"
    transparent: bool = False
    font: str | None = None
    font_size: float = 11.0
    legend: bool = False
    rankdir: Literal["TB", "LR", "BT", "RL"] | None = None
    compact: bool = False
    values: bool = True
    grads: bool = True
    saved: bool = False
    edge_grads: bool = False
    max_items: int = 6
    precision: int = 4
    title: str | None = None
    dpi: float = 144.0
    scale: float = 1.0
    width: int | None = None
    height: int | None = None
    max_pixels: int = 4096
    dot_timeout: float = 60.0
    highlight: tuple[int, ...] = ()
    modules: bool = False
    fold: bool = True
    module_depth: int | None = None
    max_nodes: int = 500


class Renderer(Protocol):
    """Turns a Graph into the bytes or text of one output format."""

    name: str
    suffixes: tuple[str, ...]
    binary: bool

    def render(self, graph: Graph) -> str | bytes: ...
