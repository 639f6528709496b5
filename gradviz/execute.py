"""Run a snippet file the way ``python snippet.py ARGS`` would, and put everything back.

Stdlib only: this module is imported before torch is. The snippet runs in a fresh
``__main__`` module that gradviz owns, so its variables survive even when it
raises; that is how the graph built up to a failure can still be named and drawn.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import linecache
import os
import sys
import tokenize
import traceback
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gradviz.errors import (
    SnippetEncodingError,
    SnippetNotFound,
    SnippetNotPython,
    SnippetSyntaxError,
)
from gradviz.modeframes import is_gradviz, is_hand_over, module_calls_as_python

__all__ = [
    "Snippet",
    "SnippetResult",
    "SnippetStopped",
    "format_snippet_traceback",
    "load_snippet",
    "run_snippet",
]


class SnippetStopped(BaseException):
    """Raised inside the snippet by gradviz to end it early (``--stop-after``).

    A BaseException, as KeyboardInterrupt is, so that the snippet's own
    ``except Exception`` does not swallow it; its ``finally`` blocks still run.
    """


@dataclass(frozen=True)
class Snippet:
    """A snippet that was read and compiled, ready to run."""

    path: Path
    code: types.CodeType

    @property
    def filename(self) -> str:
        """The file name frames of this snippet carry (``co_filename``)."""
        return self.code.co_filename


@dataclass
class SnippetResult:
    """What running a snippet left behind.

    ``error`` is the exception that ended the run (None when it finished), and
    ``exit_code`` what ``python snippet.py`` would have exited with.
    """

    namespace: dict[str, object]
    error: BaseException | None
    exit_code: int
    stopped: bool = False
    """gradviz ended the run early (see SnippetStopped): not an error."""
    unfinished: frozenset[int] = frozenset()
    """The snippet's lines that were running when it ended by an exception (a stop
    included): their assignments never happened."""

    @property
    def failed(self) -> bool:
        """True when the snippet raised (SystemExit with a nonzero code included)."""
        return self.exit_code != 0


def load_snippet(path: str | os.PathLike[str]) -> Snippet:
    """Read and compile a snippet, turning every way it can be unusable into a clear error."""
    p = Path(path)
    if not p.exists():
        raise SnippetNotFound(f"{p}: no such file", hint="check the path; run it from its folder?")
    if p.is_dir():
        raise SnippetNotPython(
            f"{p}: is a folder, not a Python file", hint="name the .py file in it"
        )
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SnippetNotPython(f"{p}: cannot read: {exc.strerror}") from exc
    if b"\0" in raw:
        raise SnippetNotPython(
            f"{p}: is a binary file, not Python source", hint="gradviz runs .py snippets"
        )
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        source = raw.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        raise SnippetEncodingError(
            f"{p}: is not valid text in its encoding ({exc})",
            hint="save it as UTF-8, or declare its encoding with a '# -*- coding: ... -*-' line",
        ) from exc
    if p.suffix.lower() == ".ipynb":
        source = _notebook_script(source, p)
    try:
        code = compile(source, os.path.abspath(p), "exec", dont_inherit=True)  # as python names it
    except SyntaxError as exc:
        raise SnippetSyntaxError(_describe_syntax_error(exc, p)) from exc
    except ValueError as exc:  # e.g. "source code string cannot contain null bytes"
        raise SnippetNotPython(f"{p}: cannot be compiled: {exc}") from exc
    return Snippet(path=p, code=code)


def _notebook_script(text: str, path: Path) -> str:
    """A notebook's code cells as one script, which tracebacks, warnings and every line
    gradviz shows then read through ``linecache`` in place of the notebook's JSON."""
    from gradviz.notebook import NotANotebook, notebook_source

    try:
        source = notebook_source(text)
    except NotANotebook as exc:
        raise SnippetNotPython(
            f"{path}: {exc}", hint="gradviz runs .py snippets and Jupyter notebooks (.ipynb)"
        ) from exc
    filename = os.path.abspath(path)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return source


def _describe_syntax_error(exc: SyntaxError, path: Path) -> str:
    where = f"{path}:{exc.lineno or '?'}"
    if exc.offset:
        where += f":{exc.offset}"
    lines = [f"{where}: {type(exc).__name__}: {exc.msg}"]
    if exc.text:
        text = exc.text.rstrip("\n")
        stripped = text.lstrip()
        lines.append(f"    {stripped}")
        if exc.offset:
            caret_at = max(exc.offset - 1 - (len(text) - len(stripped)), 0)
            lines.append("    " + " " * caret_at + "^")
    return "\n".join(lines)


def run_snippet(snippet: Snippet, argv: Sequence[str] = ()) -> SnippetResult:
    """Execute ``snippet`` as ``__main__`` with ``sys.argv = [path, *argv]``.

    The interpreter (``sys.argv``, ``sys.path``, ``sys.modules['__main__']``,
    ``sys.stdout`` and ``sys.stderr``, the working directory) is restored
    afterwards, whatever the snippet did: after a snippet's ``os.chdir``, ``-o
    graph.svg`` still means the folder the user ran gradviz in, and after
    ``sys.stderr = io.StringIO()`` gradviz's own messages still reach the user.
    Exceptions are caught and
    returned, never raised, except that a KeyboardInterrupt is also reported as
    exit code 130 like Python's own.
    """
    module = types.ModuleType("__main__")
    module.__dict__.update(
        {
            "__file__": snippet.filename,  # absolute, as python sets it for a script
            "__builtins__": builtins,  # the module, as in python's own __main__
            "__spec__": None,
            "__package__": None,
            "__cached__": None,
        }
    )
    saved_main = sys.modules.get("__main__")
    saved_argv = sys.argv[:]
    saved_path = sys.path[:]
    saved_cwd = _cwd()
    saved_streams = sys.stdout, sys.stderr
    sys.modules["__main__"] = module
    sys.argv[:] = [str(snippet.path), *argv]
    if not (sys.flags.isolated or getattr(sys.flags, "safe_path", False)):
        sys.path.insert(0, str(snippet.path.resolve().parent))
    error: BaseException | None = None
    exit_code = 0
    stopped = False
    ended: BaseException | None = None
    try:
        exec(snippet.code, module.__dict__)
    except SnippetStopped as exc:
        stopped, ended = True, exc
    except SystemExit as exc:
        exit_code = _system_exit_code(exc)
        error = exc if exit_code else None
    except KeyboardInterrupt as exc:
        error, exit_code = exc, 130
    except BaseException as exc:
        error, exit_code = exc, 1
    finally:
        sys.argv[:] = saved_argv
        sys.path[:] = saved_path
        sys.stdout, sys.stderr = saved_streams
        if saved_cwd is not None:
            with contextlib.suppress(OSError):  # the snippet removed it: stay where it left us
                os.chdir(saved_cwd)
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
        else:  # pragma: no cover - there is always a __main__ under the CLI
            sys.modules.pop("__main__", None)
    unfinished = _lines_running(ended or error, snippet.filename)
    return SnippetResult(module.__dict__, error, exit_code, stopped, unfinished)


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # run from a folder removed since
        return None


def _lines_running(error: BaseException | None, filename: str) -> frozenset[int]:
    """The lines of ``filename`` on the traceback of ``error``."""
    lines = set()
    tb = error.__traceback__ if error is not None else None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            lines.add(tb.tb_lineno)
        tb = tb.tb_next
    return frozenset(lines)


def _system_exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1  # Python prints a non-int code to stderr and exits 1


def format_snippet_traceback(error: BaseException, snippet: Snippet) -> str:
    """The traceback Python would print, without gradviz's own frames.

    Frames before the snippet's first frame (gradviz's runner) and gradviz frames
    in the middle (its recorder sits between the snippet and torch) are dropped,
    and so are the two frames its mode adds to a torch function written in
    Python: the function's hand-over (``return handle_torch_function(...)``)
    and torch's ``handle_torch_function`` itself. Library frames the snippet
    called into are kept, as Python would show them.
    """
    if isinstance(error, SystemExit):
        return f"{error.code}\n" if error.code is not None else ""
    te = traceback.TracebackException.from_exception(error)
    _trim(te, error, snippet.filename, set())
    return "".join(te.format())


def _trim(
    te: traceback.TracebackException, error: BaseException, filename: str, seen: set[int]
) -> None:
    if id(te) in seen:
        return
    seen.add(id(te))
    called = [f for f, _ in traceback.walk_tb(error.__traceback__)]
    frames = list(te.stack)
    if len(called) == len(frames):
        frames = module_calls_as_python(frames, called)
    first = next((i for i, f in enumerate(frames) if f.filename == filename), None)
    if first is not None:
        frames = frames[first:]
    kept = [f for f in frames if not is_gradviz(f.filename)]
    for i in range(len(kept) - 1, 0, -1):
        if is_hand_over(kept[i].filename, kept[i].name):
            del kept[i - 1 : i + 1]  # the function's has_torch_function branch, and torch's
    te.stack = traceback.StackSummary.from_list(kept)
    for chained, cause in ((te.__cause__, error.__cause__), (te.__context__, error.__context__)):
        if chained is not None and cause is not None:
            _trim(chained, cause, filename, seen)
