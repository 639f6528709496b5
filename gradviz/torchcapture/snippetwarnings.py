"""torch's warnings as Python shows them without gradviz: from the snippet's line.

Under gradviz's ``TorchFunctionMode`` a warning raised inside a torch call names
the frame that called it, and that is gradviz's handler or torch's
``handle_torch_function``, not the snippet; one that counts frames outward
(``stacklevel``) counts gradviz's too, and names a line too far in. These helpers
find the line Python would have named and issue the warning again from there.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any

from gradviz.modeframes import (
    in_overrides,
    is_gradviz,
    is_hand_over,
    is_inner_call,
    module_calls_as_python_text,
)

__all__ = ["forward_trace_as_python", "shown_where_the_snippet_called"]


def shown_where_the_snippet_called(
    show: Callable[..., Any],
    snippet: str,
    hidden: Callable[[str], bool] = lambda text: False,
    hookless: Callable[[], bool] = lambda: False,
) -> Callable[..., Any]:
    """``warnings.showwarning`` that names the line Python would name, not the mode's.

    A warning from inside a torch call points at the frame that called it, and
    under the mode that is gradviz's handler (a C++ warning such as "The .grad
    attribute of a Tensor that is not a leaf Tensor is being accessed") or
    torch's ``handle_torch_function``: every warning a student would see named
    a line of gradviz's recorder. The frames the mode put in between are
    skipped (``gradviz.modeframes``), and so are gradviz's frames in the forward
    traceback that anomaly mode prints. The warning is issued again from the
    right line, so that the snippet's filters and Python's once-per-line
    registry treat it as they would without gradviz: the same warning from two
    lines is shown twice, from one line in a loop once. A warning that only
    gradviz's presence caused (``hidden`` says which) is not shown. ``hookless`` says
    that no module had a hook but gradviz's, so that a module call's frames in a
    forward trace read as Python's fast path (see ``module_calls_as_python``).
    """

    reissuing = False  # the warning issued again, from the right line: shown as it is

    @functools.wraps(show)
    def showwarning(
        message: Any,
        category: Any,
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        nonlocal reissuing
        if reissuing:
            show(message, category, filename, lineno, file, line)
            return
        text = str(message)
        if hidden(text):
            return
        if _FORWARD_TRACE in text:
            # a warning class that takes other arguments is shown as it is
            with contextlib.suppress(Exception):
                message = category(forward_trace_as_python(text, snippet, hookless()))
        if is_gradviz(filename) or in_overrides(filename):  # it counted into the mode
            named = _frame_at(sys._getframe(1), filename, lineno)
            _, past = _past_wrappers(sys._getframe(1), filename, lineno, hookless(), True)
            frame = past or _outside_the_mode(named)
        else:  # a stacklevel counted past gradviz's wrapper of backward lands one short
            named, frame = _past_wrappers(sys._getframe(1), filename, lineno, hookless())
        if named is not None and frame is not None:
            _forget(named.f_globals, text, category, lineno)
            where = frame.f_globals
            reissuing = True
            try:
                warnings.warn_explicit(
                    message,
                    category,
                    frame.f_code.co_filename,
                    frame.f_lineno,
                    module=where.get("__name__"),
                    registry=where.setdefault("__warningregistry__", {}),
                    module_globals=where,
                )
            finally:
                reissuing = False
            return
        show(message, category, filename, lineno, file, line)

    return showwarning


_FORWARD_TRACE = "Traceback of forward call that caused the error:\n"


def forward_trace_as_python(text: str, snippet: str, hookless: bool = False) -> str:
    """Anomaly mode's forward traceback without gradviz's frames: from the snippet's first
    frame on, with the mode's own (its handler, ``handle_torch_function`` and the hand-over
    to it) left out, and, where no module had a hook but gradviz's (``hookless``), each
    module call on torch's fast path, as Python runs it."""
    head, _, trace = text.partition(_FORWARD_TRACE)
    lines = trace.split("\n")
    frames: list[list[str]] = []
    i = 0
    while i < len(lines) and lines[i].startswith('  File "'):
        j = i + 1
        while j < len(lines) and lines[j].startswith("    "):
            j += 1
        frames.append(lines[i:j])
        i = j
    first = next((k for k, f in enumerate(frames) if f[0].startswith(f'  File "{snippet}"')), 0)
    kept: list[list[str]] = []
    for frame in frames[first:]:
        where, function = frame[0].split('"')[1], frame[0].rpartition(" in ")[2]
        if is_hand_over(where, function):
            if kept:
                kept.pop()  # the torch function's hand-over to it
        elif not is_gradviz(where):
            kept.append(frame)
    if hookless:
        kept = module_calls_as_python_text(kept)
    return head + _FORWARD_TRACE + "\n".join([*(ln for f in kept for ln in f), *lines[i:]])


def _frame_at(frame: FrameType | None, filename: str, lineno: int) -> FrameType | None:
    """The frame, outward from ``frame``, that a warning named."""
    while frame is not None and not (
        frame.f_code.co_filename == filename and frame.f_lineno == lineno
    ):
        frame = frame.f_back
    return frame


def _past_wrappers(
    start: FrameType | None,
    filename: str,
    lineno: int,
    hookless: bool = False,
    into_the_mode: bool = False,
) -> tuple[FrameType | None, FrameType | None]:
    """The frame a warning named, and the one Python would have named without gradviz.

    ``warnings.warn(..., stacklevel=5)`` in a module's full backward hook counts
    frames outward from the hook, through ``torch.autograd.backward``; gradviz's
    wrapper of it is one more frame to count, so the warning named torch's
    ``Tensor.backward`` instead of the snippet's line. As many frames further
    out as the mode added in between, not counting the mode's own, is the line
    Python names. (None, None) when the mode added none in between. Where no module
    had a hook but gradviz's (``hookless``), each module call's ``inner()`` is such a
    frame too: ``nn.Softmax()``'s warning about its implicit dim counts five frames out.
    A warning that named a frame of the mode (``into_the_mode``) counted that one too.
    """
    chain: list[FrameType] = []
    frame = start
    while frame is not None:
        chain.append(frame)
        frame = frame.f_back
    at = (filename, lineno)
    named = next((i for i, f in enumerate(chain) if (f.f_code.co_filename, f.f_lineno) == at), None)
    if named is None:
        return None, None
    added = _added_by_the_mode(chain, hookless)
    more = sum(added[: named + 1] if into_the_mode else added[:named])
    if not more:
        return None, None
    for i in range(named + 1, len(chain)):
        if not added[i]:
            more -= 1
            if more == 0:
                return chain[named], chain[i]
    return None, None


def _added_by_the_mode(chain: list[FrameType], hookless: bool = False) -> list[bool]:
    """For each frame of ``chain`` (innermost first), whether the mode put it there:
    gradviz's own, ``handle_torch_function`` and the torch function handing itself
    over to it, just outside; with ``hookless``, a module call's ``inner()``, which
    gradviz's module hooks send it through."""
    added = [is_gradviz(f.f_code.co_filename) or (hookless and is_inner_call(f)) for f in chain]
    for i, f in enumerate(chain):
        if is_hand_over(f.f_code.co_filename, f.f_code.co_name):
            added[i] = True
            if i + 1 < len(chain):
                added[i + 1] = True
    return added


def _forget(named: dict[str, Any], text: str, category: Any, lineno: int) -> None:
    """Take back what Python noted when it showed a warning at the mode's line.

    Left there, the next warning with the same text, from any snippet line,
    would count as already shown.
    """
    registry = named.get("__warningregistry__")
    if isinstance(registry, dict):
        registry.pop((text, category, lineno), None)
        registry.pop((text, category, 0), None)  # the "module" action's key
    once = getattr(warnings, "onceregistry", None)  # the "once" action's (not in typeshed)
    if isinstance(once, dict):
        once.pop((text, category), None)


def _outside_the_mode(frame: FrameType | None) -> FrameType | None:
    """The first frame outward of ``frame`` (the one a warning named) that the mode did not add."""
    skip = 0
    while frame is not None:
        name = frame.f_code.co_filename
        if is_hand_over(name, frame.f_code.co_name):
            skip = 1  # and the torch function's hand-over to it, just outside
        elif skip:
            skip = 0
        elif not is_gradviz(name):
            return frame
        frame = frame.f_back
    return None
