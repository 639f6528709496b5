"""The frames gradviz's mode puts between a snippet and torch, for whatever shows a stack.

Under a ``TorchFunctionMode`` a torch call passes through frames that a plain
``python snippet.py`` never has: gradviz's own handler and, for a torch
function written in Python, its hand-over (``return handle_torch_function(...)``)
and torch's ``handle_torch_function``. Tracebacks, warnings and anomaly mode's
forward traces leave them out, so that they read as Python prints them.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["in_overrides", "is_gradviz", "is_hand_over"]

_PACKAGE = str(Path(__file__).resolve().parent) + os.sep
_OVERRIDES = os.path.join("torch", "overrides.py")


def is_gradviz(filename: str) -> bool:
    """A frame of gradviz's own code."""
    return filename.startswith(_PACKAGE)


def in_overrides(filename: str) -> bool:
    """A frame of ``torch/overrides.py``, where ``handle_torch_function`` lives."""
    return filename.endswith(_OVERRIDES)


def is_hand_over(filename: str, function: str) -> bool:
    """torch's ``handle_torch_function``: only a mode (gradviz's) sends calls through it.

    The frame just outside it is the torch function handing itself over; the
    same function runs again further in, as Python would have run it.
    """
    return function == "handle_torch_function" and in_overrides(filename)
