"""The Python API, for notebooks: ``capture`` a snippet or a function, ``draw`` a tensor.

Both return a ``Graph`` that shows itself inline in Jupyter (as SVG) and has
``.render(path, **style)``. Names come from the caller's variables, as they do
from a snippet's for the command line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gradviz.model import Graph

__all__ = ["capture", "draw"]


def _callers_names(depth: int) -> dict[str, object]:
    frame = sys._getframe(depth + 1)
    names = dict(frame.f_globals)
    names.update(frame.f_locals)
    return names


def capture(
    target: str | os.PathLike[str] | Callable[..., Any],
    *args: Any,
    targets: tuple[str, ...] = (),
    names: Mapping[str, object] | None = None,
    **kwargs: Any,
) -> Graph:
    """Capture a snippet file (run as ``__main__``) or a call of ``target(*args, **kwargs)``.

    For a function, the outputs are the tensors it called ``backward()`` on, else
    what it returned; tensors are named after the caller's variables, and what it
    returned is called ``output``.
    """
    if isinstance(target, str | os.PathLike):
        from gradviz.execute import load_snippet
        from gradviz.torchcapture import capture_snippet

        result = capture_snippet(load_snippet(Path(target)), [str(a) for a in args], targets)
        if result.run.error is not None and result.graph is None:
            raise result.run.error
        if result.graph is None:
            assert result.no_graph is not None
            raise result.no_graph
        return result.graph
    from gradviz.torchcapture import capture_call

    return capture_call(target, args, kwargs, names if names is not None else _callers_names(1))


def draw(tensor: Any, names: Mapping[str, object] | None = None) -> Graph:
    """The graph autograd has built for ``tensor`` so far, without running anything.

    Values of intermediate tensors were not watched, so only leaves, ``tensor``
    itself and what ops saved have numbers; gradients are the leaves' ``.grad``.
    """
    from gradviz.torchcapture import graph_of_tensor

    return graph_of_tensor(tensor, names if names is not None else _callers_names(1))
