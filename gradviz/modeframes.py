"""The frames gradviz's mode puts between a snippet and torch, for whatever shows a stack.

Under a ``TorchFunctionMode`` a torch call passes through frames that a plain
``python snippet.py`` never has: gradviz's own handler and, for a torch
function written in Python, its hand-over (``return handle_torch_function(...)``)
and torch's ``handle_torch_function``. Tracebacks, warnings and anomaly mode's
forward traces leave them out, so that they read as Python prints them.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import os
import sys
import traceback
import types
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "global_hook_count",
    "has_own_hooks",
    "in_overrides",
    "is_gradviz",
    "is_hand_over",
    "is_inner_call",
    "module_calls_as_python",
    "module_calls_as_python_text",
]

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


_MODULE = os.path.join("torch", "nn", "modules", "module.py")
_FAST_PATH = "return forward_call(*args, **kwargs)"


def module_calls_as_python(
    stack: list[traceback.FrameSummary], frames: Sequence[types.FrameType | None]
) -> list[traceback.FrameSummary]:
    """A module call's frames as Python shows them without gradviz's module hooks.

    gradviz's global forward hooks send every ``nn.Module`` call down torch's slow
    path: ``_call_impl`` runs ``inner()``, which calls ``forward``. Without any
    hook, as under ``python snippet.py``, ``_call_impl`` calls ``forward`` itself,
    on its fast path: one frame, not two. ``frames`` are the stack's frames, to
    see that the module had no hook of its own, nor the snippet one for all.
    """
    fast = _fast_path_line()
    if fast is None:
        return stack
    out: list[traceback.FrameSummary] = []
    for i, summary in enumerate(stack):
        if (
            summary.name == "inner"
            and summary.filename.endswith(_MODULE)
            and out
            and out[-1].name == "_call_impl"
            and out[-1].filename == summary.filename
            and (out[-1].line or "").strip() == "return inner()"
            and i > 0
            and _hookless(frames[i - 1])
        ):
            out[-1] = _fast_path_frame(summary.filename, fast)
            continue
        out.append(summary)
    return out


@functools.cache
def _fast_path_line() -> int | None:
    """The line of ``Module._call_impl`` that calls ``forward`` when no hook is set."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        lines, start = inspect.getsourcelines(torch.nn.Module._call_impl)
    except (OSError, TypeError, AttributeError):
        return None
    return next((start + k for k, text in enumerate(lines) if text.strip() == _FAST_PATH), None)


def _fast_path_frame(filename: str, line: int) -> traceback.FrameSummary:
    """The fast path's frame, with the carets Python puts under ``forward_call(...)``."""
    text = linecache.getline(filename, line)
    start = text.find("forward_call")
    return traceback.FrameSummary(
        filename,
        line,
        "_call_impl",
        end_lineno=line,
        colno=start if start >= 0 else None,
        end_colno=len(text.rstrip()) if start >= 0 else None,
    )


def _hookless(frame: types.FrameType | None) -> bool:
    """Whether the module a ``_call_impl`` frame called had no hooks but gradviz's: none
    of its own, and no global ones left once gradviz's are removed."""
    module = frame.f_locals.get("self") if frame is not None else None
    return module is not None and not has_own_hooks(module) and global_hook_count() == 0


_OWN_HOOKS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")
_GLOBAL_HOOKS = (
    "_global_forward_pre_hooks",
    "_global_forward_hooks",
    "_global_backward_pre_hooks",
    "_global_backward_hooks",
)
"""torch's hook dicts whose entries send a module call down its slow path, ``inner()``."""


def has_own_hooks(module: object) -> bool:
    """Whether a module has hooks of its own (Grad-CAM's ``register_forward_hook``)."""
    return any(getattr(module, name, None) for name in _OWN_HOOKS)


def global_hook_count() -> int:
    """How many hooks are set for every module: gradviz's two while it records."""
    state = sys.modules.get("torch.nn.modules.module")
    return sum(len(getattr(state, name, None) or ()) for name in _GLOBAL_HOOKS)


def module_calls_as_python_text(frames: list[list[str]]) -> list[list[str]]:
    """``module_calls_as_python`` for a stack already printed (anomaly mode's forward
    trace), each frame its lines; the caller knows that no module had a hook of its own."""
    fast = _fast_path_line()
    if fast is None:
        return frames
    out: list[list[str]] = []
    for frame in frames:
        where = frame[0].split('"')
        if (
            len(where) == 3
            and where[1].endswith(_MODULE)
            and where[2].endswith(" in inner")
            and frame[1:2] == ["    result = forward_call(*args, **kwargs)"]
            and out
            and out[-1][0].startswith(f'  File "{where[1]}"')
            and out[-1][0].endswith(" in _call_impl")
            and out[-1][1:2] == ["    return inner()"]
        ):
            out[-1] = [f'  File "{where[1]}", line {fast}, in _call_impl', f"    {_FAST_PATH}"]
            continue
        out.append(frame)
    return out


def is_inner_call(frame: types.FrameType) -> bool:
    """A module call's ``inner()``: the frame torch's slow path adds, for hooks."""
    return frame.f_code.co_name == "inner" and frame.f_code.co_filename.endswith(_MODULE)
