"""gradviz: see the autograd graph PyTorch builds for your code, with the numbers on it.

Importing this package imports nothing heavy: torch is loaded only when a
snippet is captured, so ``gradviz --help`` stays instant.
"""

__version__ = "0.1.0"


def capture(target, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Capture a snippet file or a call; see ``gradviz.api.capture`` (imports torch)."""
    import sys

    from gradviz.api import capture as _capture

    frame = sys._getframe(1)
    kwargs.setdefault("names", {**frame.f_globals, **frame.f_locals})
    return _capture(target, *args, **kwargs)


def draw(tensor, names=None):  # type: ignore[no-untyped-def]
    """The graph autograd built for ``tensor``; see ``gradviz.api.draw``."""
    import sys

    from gradviz.api import draw as _draw

    frame = sys._getframe(1)
    return _draw(tensor, names if names is not None else {**frame.f_globals, **frame.f_locals})


__all__ = ["__version__", "capture", "draw"]
