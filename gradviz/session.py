"""Run and capture a snippet, here or in a child process that a timeout can stop.

``run_capture`` gives the same ``Outcome`` either way: the graph (plain data),
the exit code Python would have given, the snippet's traceback already trimmed
to its own frames, and any gradviz error. With a timeout the snippet runs in a
child (``python -m gradviz.session``) that hands the Outcome back in a file;
its own prints still go straight to the terminal.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradviz import errors
from gradviz.collector import while_paused
from gradviz.errors import GradvizError, SnippetTimeout
from gradviz.execute import Snippet, format_snippet_traceback, load_snippet
from gradviz.model import Graph

__all__ = ["Outcome", "run_capture"]


@dataclass
class Outcome:
    """What running a snippet under capture gave, in a form that crosses processes."""

    graph: Graph | None
    exit_code: int
    error: str | None = None
    """``raised``, ``exit``, ``interrupt`` or ``needs_input``: how the snippet ended."""
    traceback: str | None = None
    problem: GradvizError | None = None
    internal_errors: list[str] = field(default_factory=list)
    stopped: bool = False
    """gradviz ended the snippet after the passes ``--stop-after`` asked for."""
    changed_grads: list[str] = field(default_factory=list)
    """Leaves whose ``.grad`` the snippet changed after the pass shown (clipping)."""

    @while_paused
    def to_bytes(self) -> bytes:
        """The Outcome for the parent process: a pickle, as only gradviz's own child writes it.

        Not JSON: for a 100,000-node graph, pickling and unpickling the model's
        dataclasses takes 1 s where writing and reading JSON takes 2.6 s. The
        error goes as its class name, message and hint (exceptions with keyword
        arguments do not unpickle whole).
        """
        problem = None
        if self.problem is not None:
            problem = {
                "class": type(self.problem).__name__,
                "message": self.problem.message,
                "hint": self.problem.hint,
            }
        state = {
            "graph": self.graph,
            "exit_code": self.exit_code,
            "error": self.error,
            "traceback": self.traceback,
            "problem": problem,
            "internal_errors": self.internal_errors,
            "stopped": self.stopped,
            "changed_grads": self.changed_grads,
        }
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    @while_paused
    def from_bytes(cls, data: bytes) -> Outcome:
        state: dict[str, Any] = pickle.loads(data)
        problem = None
        if state.get("problem"):
            p = state["problem"]
            cls_ = getattr(errors, str(p["class"]), GradvizError)
            if not (isinstance(cls_, type) and issubclass(cls_, GradvizError)):
                cls_ = GradvizError
            problem = cls_(p["message"], hint=p.get("hint"))
        graph = state.get("graph")
        return cls(
            graph=graph if isinstance(graph, Graph) else None,
            exit_code=int(state["exit_code"]),
            error=state.get("error"),
            traceback=state.get("traceback"),
            problem=problem,
            internal_errors=[str(x) for x in state.get("internal_errors", [])],
            stopped=bool(state.get("stopped", False)),
            changed_grads=[str(x) for x in state.get("changed_grads", [])],
        )


def _capture_here(
    snippet: Snippet, argv: Sequence[str], targets: Sequence[str], stop_after: int | None = None
) -> Outcome:
    from gradviz.torchcapture import capture_snippet

    try:
        result = capture_snippet(snippet, argv, targets, stop_after)
    except GradvizError as exc:
        return Outcome(graph=None, exit_code=exc.exit_code, problem=exc)
    run = result.run
    error, text = None, None
    if run.error is not None:
        text = format_snippet_traceback(run.error, snippet)
        if isinstance(run.error, KeyboardInterrupt):
            error = "interrupt"
        elif isinstance(run.error, SystemExit):
            error = "exit"
        elif isinstance(run.error, EOFError) and str(run.error) == "EOF when reading a line":
            error = "needs_input"
        else:
            error = "raised"
    return Outcome(
        graph=result.graph,
        exit_code=run.exit_code,
        error=error,
        traceback=text,
        problem=result.no_graph,
        internal_errors=list(result.internal_errors),
        stopped=run.stopped,
        changed_grads=list(result.changed_grads),
    )


def run_capture(
    snippet: Snippet,
    argv: Sequence[str] = (),
    targets: Sequence[str] = (),
    timeout: float | None = None,
    stop_after: int | None = None,
) -> Outcome:
    """Capture ``snippet`` in this process, or in a child stopped after ``timeout`` seconds."""
    if timeout is None:
        return _capture_here(snippet, argv, targets, stop_after)
    with tempfile.TemporaryDirectory(prefix="gradviz-") as tmp:
        result_file = Path(tmp) / "outcome.pickle"
        request = json.dumps(
            {
                "snippet": str(snippet.path),
                "argv": list(argv),
                "targets": list(targets),
                "stop_after": stop_after,
            }
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "gradviz.session", request, str(result_file)],
            start_new_session=True,  # its own process group: stopping it stops its children
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise SnippetTimeout(
                f"{snippet.path} did not finish in {timeout:g} s; gradviz stopped it",
                hint="raise --timeout, or make the snippet do less (fewer steps, smaller data)",
            ) from None
        except KeyboardInterrupt:
            _stop(proc)
            raise
        if not result_file.exists():
            return Outcome(
                graph=None,
                exit_code=proc.returncode if proc.returncode > 0 else 1,
                error="raised",
                traceback=f"the snippet's process ended with code {proc.returncode}\n",
            )
        return Outcome.from_bytes(result_file.read_bytes())


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _child(request_json: str, result_path: str) -> None:
    """The child side: capture, then write the Outcome where the parent looks for it."""
    request = json.loads(request_json)
    snippet = load_snippet(request["snippet"])
    outcome = _capture_here(snippet, request["argv"], request["targets"], request.get("stop_after"))
    tmp = result_path + ".tmp"
    Path(tmp).write_bytes(outcome.to_bytes())
    os.replace(tmp, result_path)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
