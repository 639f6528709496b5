"""SVG, PNG and PDF: the DOT text piped through Graphviz's ``dot`` program.

All calls to the ``dot`` binary go through ``run_dot``, which turns each way it
can fail (missing, crashing, too slow) into one ``DotError`` with a hint.
"""

from __future__ import annotations

import shutil
import subprocess

from gradviz.errors import DotError
from gradviz.model import Graph
from gradviz.renderers.base import RenderOptions
from gradviz.renderers.dot import DotRenderer

__all__ = ["DOT_INSTALL_HINT", "ImageRenderer", "dot_available", "run_dot"]

DOT_INSTALL_HINT = (
    "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
    "conda: conda install graphviz), or write -o graph.dot or -o graph.json, which need no Graphviz"
)


def dot_available() -> bool:
    return shutil.which("dot") is not None


def run_dot(source: str, fmt: str, timeout: float, extra: tuple[str, ...] = ()) -> bytes:
    """Lay out ``source`` with ``dot -T<fmt>`` and return what it wrote."""
    exe = shutil.which("dot")
    if exe is None:
        raise DotError("Graphviz's 'dot' program is not installed", hint=DOT_INSTALL_HINT)
    try:
        proc = subprocess.run(
            [exe, f"-T{fmt}", *extra],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DotError(
            f"Graphviz's dot did not finish laying out the graph in {timeout:g} s",
            hint="draw fewer nodes (--target NAME), or write -o graph.dot and lay it out yourself",
        ) from None
    except OSError as exc:
        raise DotError(
            f"could not run Graphviz's dot: {exc.strerror}", hint=DOT_INSTALL_HINT
        ) from exc
    if proc.returncode != 0 or not proc.stdout:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit code {proc.returncode}"
        raise DotError(
            f"Graphviz's dot failed: {detail}",
            hint="write -o graph.dot to keep the graph, and report this with that file",
        )
    return proc.stdout


class ImageRenderer:
    """Renders through ``dot``; ``name`` is the Graphviz output format (svg, png, pdf)."""

    binary = True

    def __init__(self, name: str = "svg", options: RenderOptions | None = None) -> None:
        self.name = name
        self.options = options or RenderOptions()
        self.suffixes = (f".{name}",)
        self.binary = name != "svg"
        self.dot = DotRenderer("dot", self.options)

    def render(self, graph: Graph) -> str | bytes:
        dpi = self.options.dpi * self.options.scale
        extra = (f"-Gdpi={dpi:g}",) if self.name == "png" else ()
        data = run_dot(self.dot.render(graph), self.name, self.options.dot_timeout, extra)
        return data.decode("utf-8") if self.name == "svg" else data
