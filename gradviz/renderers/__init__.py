"""The output formats, by name and file suffix, each renderer imported only when used.

Picking a renderer costs nothing: the table below is plain data, and a
renderer's module (and whatever it needs) is imported by ``make_renderer``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from gradviz.errors import OutputError
from gradviz.renderers.base import Renderer, RenderOptions

__all__ = ["FORMATS", "OutputFormat", "format_for", "make_renderer"]


@dataclass(frozen=True)
class OutputFormat:
    """One format gradviz writes; ``needs_dot`` when Graphviz lays it out."""

    name: str
    suffixes: tuple[str, ...]
    binary: bool
    needs_dot: bool
    factory: str  # "module:Class"
    description: str


FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat(
        "svg", (".svg",), False, True, "image:ImageRenderer", "vector image (slides, web)"
    ),
    OutputFormat("png", (".png",), True, True, "image:ImageRenderer", "bitmap image"),
    OutputFormat("pdf", (".pdf",), True, True, "image:ImageRenderer", "PDF (LaTeX, Beamer)"),
    OutputFormat("dot", (".dot", ".gv"), False, False, "dot:DotRenderer", "Graphviz source"),
    OutputFormat("json", (".json",), False, False, "json:JsonRenderer", "the captured graph"),
    OutputFormat(
        "mermaid", (".mmd", ".mermaid"), False, False, "mermaid:MermaidRenderer", "Mermaid chart"
    ),
    OutputFormat("html", (".html", ".htm"), False, True, "html:HtmlRenderer", "offline web page"),
)

_BY_NAME = {f.name: f for f in FORMATS}
_BY_SUFFIX = {s: f for f in FORMATS for s in f.suffixes}


def supported() -> str:
    return ", ".join(s for f in FORMATS for s in f.suffixes)


def format_for(name: str | None, path: Path | None) -> OutputFormat:
    """The format named by ``-f``, else the one the output's suffix implies."""
    if name is not None:
        try:
            return _BY_NAME[name.lower()]
        except KeyError:
            raise OutputError(
                f"unknown format {name!r}", hint=f"choose one of: {', '.join(_BY_NAME)}"
            ) from None
    if path is None:
        return _BY_NAME["svg"]
    suffix = path.suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    what = f"suffix {suffix!r}" if suffix else "no suffix"
    raise OutputError(
        f"{path}: {what} is not an output format gradviz knows",
        hint=f"use one of {supported()}, or name the format with -f",
    )


def make_renderer(fmt: OutputFormat, options: RenderOptions) -> Renderer:
    module_name, class_name = fmt.factory.split(":")
    module = importlib.import_module(f"gradviz.renderers.{module_name}")
    cls = getattr(module, class_name)
    renderer: Renderer = cls(fmt.name, options)
    return renderer
