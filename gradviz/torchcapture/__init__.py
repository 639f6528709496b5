"""Run a snippet under the recorder and turn what autograd built into a Graph.

This package is the only part of gradviz that imports torch. Everything it hands
back is plain data (``gradviz.model``).
"""

from __future__ import annotations

import gc
import linecache
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from gradviz import __version__
from gradviz.collector import paused
from gradviz.errors import NoGraphError, TargetError
from gradviz.execute import Snippet, SnippetResult, run_snippet
from gradviz.model import Graph, Meta
from gradviz.torchcapture.build import GraphBuilder
from gradviz.torchcapture.naming import (
    NamedTensor,
    clipping_lines,
    function_aliases,
    loop_names,
    module_names,
    named_tensors,
    optimized,
    scope_labels,
    summed_in_loops,
)
from gradviz.torchcapture.recorder import Recorder
from gradviz.torchcapture.records import (
    KEY,
    AutogradNode,
    NodeRecord,
    PassRecord,
    forget_snippet_names,
    gradient_edge,
    is_leaf_node,
    node_record,
    walk,
)
from gradviz.torchcapture.tensors import to_data

__all__ = ["CaptureResult", "capture_call", "capture_snippet", "graph_of_tensor"]

_TORCH_VERSION = str(torch.__version__)
"""A plain str: ``torch.__version__`` is a str subclass of torch's, and a Graph holding
it would import torch wherever it is unpickled (the ``--timeout`` parent)."""


@dataclass
class CaptureResult:
    """The graph (None when there is none, with ``no_graph`` saying why) and the run."""

    graph: Graph | None
    run: SnippetResult
    no_graph: NoGraphError | None = None
    internal_errors: list[str] = field(default_factory=list)
    """What the recorder could not record (it never lets that break the snippet)."""
    changed_grads: list[str] = field(default_factory=list)
    """Leaves whose ``.grad`` the snippet changed after the pass shown (clipping)."""


def capture_snippet(
    snippet: Snippet,
    argv: Sequence[str] = (),
    targets: Sequence[str] = (),
    stop_after: int | None = None,
) -> CaptureResult:
    """Run ``snippet`` as ``__main__`` and capture the autograd graph of its outputs.

    The outputs are the ``targets`` when given (variable or parameter names),
    else the tensors passed to ``backward()``/``torch.autograd.grad`` in the
    passes whose gradients are still in place, else the snippet's tensors that
    have a ``grad_fn`` and feed no other of its tensors. With ``stop_after``,
    the snippet is ended once that many backward passes have run (see
    ``SnippetStopped``).
    """
    recorder = Recorder(snippet.filename, stop_after)
    state = _TorchState.save()
    try:
        with _few_collections():
            with recorder.recording():
                run = run_snippet(snippet, argv)
            state.restore()  # the snippet may have left grad mode off, float64 default, ...
            source = "".join(linecache.getlines(snippet.filename))
            named = named_tensors(run.namespace, loop_names(source))
            modules = module_names(run.namespace)
            aliases = function_aliases(run.namespace)
            stepped = optimized(run.namespace)
            for local in recorder.local_names():  # after the snippet's globals: the
                named += [  # names a reader of the file sees come first
                    replace(entry, local=True)
                    for entry in named_tensors(local, loop_names(source, in_functions=True))
                ]
                for key, name in module_names(local).items():
                    modules.setdefault(key, name)
                for alias, function in function_aliases(local).items():
                    aliases.setdefault(alias, function)
                stepped |= optimized(local)
            labels, unnamed = scope_labels(recorder.called_modules(), modules)
            named += unnamed
            builder = GraphBuilder(
                snippet.filename, named, modules, labels, run.unfinished, aliases, stepped
            )
            try:
                with paused():  # the snippet is done: only gradviz allocates now
                    outcome = _build(builder, recorder, named, targets, snippet, run, source)
            finally:
                # A long chain that Python has walked can overflow the C stack when it
                # is freed all at once (torch 2.13). So the user's tensors go first,
                # then the nodes gradviz holds, root first, each freeing only itself.
                named.clear()
                forget_snippet_names(run.namespace)
                recorder.release()
                builder.release()
    finally:
        state.restore()
    if isinstance(outcome, NoGraphError):
        return CaptureResult(None, run, outcome, recorder.internal_errors)
    return CaptureResult(
        outcome, run, internal_errors=recorder.internal_errors, changed_grads=builder.changed_grads
    )


@contextmanager
def _few_collections() -> Iterator[None]:
    """Keep the garbage collector from rescanning everything, again and again.

    The records of a capture are many small objects (several per autograd node),
    and each full collection walks every object alive, so on a 50,000-step
    chain full collections took half of the capture. What exists before the
    snippet runs (torch's own objects, by the hundred thousand) is frozen out of
    them, and full collections wait until the capture ends; young objects are
    still collected as usual, so short-lived cycles made by the snippet go as
    they would. Old cycles that become garbage while it runs are collected
    afterwards, when this restores the collector.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(thresholds[0], thresholds[1], _NEVER)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


_NEVER = 1 << 30


def capture_call(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    names: Mapping[str, object],
) -> Graph:
    """Capture one call of ``fn``: its backward passes, else the tensors it returned."""
    code = getattr(fn, "__code__", None)
    recorder = Recorder(code.co_filename if code is not None else "<call>")
    state = _TorchState.save()
    try:
        with _few_collections(), recorder.recording():
            returned = fn(*args, **kwargs)
    finally:
        state.restore()
    named = named_tensors(_with_output(names, returned))
    modules = module_names(names)
    stepped = optimized(names)
    for local in recorder.local_names():  # inside fn: its model, its loss
        named += [replace(entry, local=True) for entry in named_tensors(local)]
        for key, name in module_names(local).items():
            modules.setdefault(key, name)
        stepped |= optimized(local)
    labels, unnamed = scope_labels(recorder.called_modules(), modules)
    named += unnamed
    builder = GraphBuilder(recorder.filename, named, modules, labels, optimized=stepped)
    try:
        passes = recorder.live_passes()
        if passes:
            roots = _pass_roots(passes)
        else:
            roots = [
                e for e in (gradient_edge(t) for t in _returned_tensors(returned)) if e is not None
            ]
        if not roots:
            raise _why_no_graph(named, recorder)
        meta = Meta(
            snippet=getattr(fn, "__name__", "call"),
            torch=_TORCH_VERSION,
            gradviz=__version__,
            passes_total=len(recorder.passes),
        )
        with paused():
            return builder.build(roots, passes, meta, recorder.param_uses())
    finally:
        named.clear()
        recorder.release()
        builder.release()


def graph_of_tensor(tensor: torch.Tensor, names: Mapping[str, object]) -> Graph:
    """The graph behind an existing tensor, read as it is now (nothing was recorded)."""
    edge = gradient_edge(tensor)
    if edge is None:
        raise NoGraphError(
            "this tensor does not require grad, so autograd built no graph for it",
            hint="compute it from a tensor created with requires_grad=True",
        )
    named = named_tensors(_with_output(names, tensor))
    builder = GraphBuilder("<draw>", named, optimized=optimized(names))
    node, nr = edge
    if not is_leaf_node(node):  # its own value is at hand, even though nothing was watched
        rec = node_record(node)
        rec.outputs.setdefault(nr, to_data(tensor))
    try:
        meta = Meta(snippet="draw", torch=_TORCH_VERSION, gradviz=__version__)
        return builder.build([edge], [], meta)
    finally:
        named.clear()
        builder.release()


def _pass_roots(passes: Sequence[PassRecord]) -> list[tuple[AutogradNode, int]]:
    """The tensors each shown pass started from, each once, in the order they ran."""
    return list(dict.fromkeys((n, nr) for p in passes for n, nr in p.roots))


def _with_output(names: Mapping[str, object], value: Any) -> dict[str, object]:
    """The caller's names, and ``output`` for what was returned unless it has a name."""
    namespace = dict(names)
    if not any(v is value for v in namespace.values()):
        namespace["output"] = value
    return namespace


def _returned_tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, tuple | list):
        return [v for v in value if isinstance(v, torch.Tensor)]
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, torch.Tensor)]
    return []


def _build(
    builder: GraphBuilder,
    recorder: Recorder,
    named: Sequence[NamedTensor],
    targets: Sequence[str],
    snippet: Snippet,
    run: SnippetResult,
    source: str,
) -> Graph | NoGraphError:
    """Pick the roots and build; every node reference it takes dies with its frame."""
    passes = recorder.live_passes()
    if targets:
        roots = _target_roots(named, targets)
    elif passes:
        roots = _pass_roots(passes)
    else:
        roots = _unconsumed(named)
    if not roots:
        return _why_no_graph(named, recorder)
    meta = Meta(
        snippet=snippet.path.name,
        torch=_TORCH_VERSION,
        gradviz=__version__,
        passes_total=len(recorder.passes),
        partial=run.failed and not isinstance(run.error, SystemExit),
        kept_graphs=_kept_graphs(named, source, len(recorder.passes)),
        clipped=clipping_lines(source),
    )
    return builder.build(roots, passes, meta, recorder.param_uses())


def _kept_graphs(
    named: Sequence[NamedTensor], source: str, passes: int
) -> tuple[tuple[str, int], ...]:
    """The snippet's variables that a loop adds loss tensors to, graphs and all.

    ``total_loss += loss`` after each step keeps every step's graph alive, and the
    memory grows with the loop: PyTorch's FAQ's first item. A sum a pass then ran
    backward on (an RNN's loss over its steps) is what it should be; a running
    total of numbers (``loss.item()``) has no graph.
    """
    if passes < 2:
        return ()  # no loop of steps: nothing piles up
    summed = summed_in_loops(source)
    kept = {
        entry.name: summed[entry.name]
        for entry in named
        if entry.name in summed and _never_backward(entry.tensor.grad_fn)
    }
    return tuple(sorted(kept.items(), key=lambda k: k[1]))


def _never_backward(node: AutogradNode | None) -> bool:
    """Whether ``node`` is an op that no backward pass went through: not a sum that
    backward ran on (an RNN's loss over its steps), nor a part of a loss (WaveNet's
    ``skips += s``), but a total kept beside the passes."""
    if node is None or is_leaf_node(node):
        return False
    rec = node.metadata.get(KEY)
    return isinstance(rec, NodeRecord) and not rec.hooked


@dataclass(frozen=True)
class _TorchState:
    """Global torch settings a snippet may change and gradviz must not inherit."""

    grad: bool
    dtype: torch.dtype
    anomaly: bool
    anomaly_nan: bool

    @classmethod
    def save(cls) -> _TorchState:
        return cls(
            grad=torch.is_grad_enabled(),
            dtype=torch.get_default_dtype(),
            anomaly=torch.is_anomaly_enabled(),
            anomaly_nan=torch.is_anomaly_check_nan_enabled(),
        )

    def restore(self) -> None:
        torch.set_grad_enabled(self.grad)
        torch.set_default_dtype(self.dtype)
        torch.autograd.set_detect_anomaly(self.anomaly, self.anomaly_nan)


def _target_roots(
    named: Sequence[NamedTensor], targets: Sequence[str]
) -> list[tuple[AutogradNode, int]]:
    by_name = {e.name: e for e in reversed(named)}
    roots: list[tuple[AutogradNode, int]] = []
    for name in targets:
        entry = by_name.get(name)
        if entry is None:
            known = ", ".join(dict.fromkeys(e.name for e in named)) or "none"
            raise TargetError(
                f"--target {name}: the snippet has no tensor named {name!r}",
                hint=f"tensors it has: {_shorten(known)}",
            )
        edge = gradient_edge(entry.tensor)
        if edge is None:
            raise TargetError(
                f"--target {name}: {name} does not require grad, so autograd recorded "
                "nothing for it",
                hint="pick a tensor computed from one with requires_grad=True",
            )
        roots.append(edge)
    return list(dict.fromkeys(roots))


def _unconsumed(named: Sequence[NamedTensor]) -> list[tuple[AutogradNode, int]]:
    """Namespace tensors with a grad_fn whose output no other captured op consumes."""
    candidates = [
        (e.tensor.grad_fn, e.tensor.output_nr) for e in named if e.tensor.grad_fn is not None
    ]
    consumed: set[tuple[int, int]] = set()
    for node in walk([n for n, _ in candidates]):
        for nxt, nr in node.next_functions:
            if nxt is not None:
                consumed.add((id(nxt), nr))
    return list(dict.fromkeys((n, nr) for n, nr in candidates if (id(n), nr) not in consumed))


def _why_no_graph(named: Sequence[NamedTensor], recorder: Recorder) -> NoGraphError:
    if recorder.passes_set_aside:
        return NoGraphError(
            f"the only backward passes were gradcheck's own ({recorder.passes_set_aside}), "
            "which gradviz does not draw",
            hint="to draw the function, call backward() on its result in the snippet, "
            "e.g. f(*inputs).sum().backward()",
        )
    if recorder.processes_started and not recorder.ops_seen and not recorder.passes:
        started = recorder.processes_started
        return NoGraphError(
            f"the snippet did its work in {started} process{'es' if started > 1 else ''} "
            "it started "
            "(torch.multiprocessing.spawn, multiprocessing.Process); gradviz sees only its "
            "own process",
            hint="call the function it starts directly, in the snippet itself (for "
            "torch.distributed, with a world size of 1), e.g. demo(0, 1) instead of "
            "mp.spawn(demo, args=(2,), nprocs=2)",
        )
    if any(e.tensor.requires_grad for e in named):
        if recorder.ops_seen:
            return NoGraphError(
                "the snippet's tensors that require grad feed no graph it kept",
                hint="were the results detached, or left in a function's local variables? "
                "call .backward() on the result, or keep it in a global variable",
            )
        return NoGraphError(
            "tensors require grad, but no operation on them was recorded",
            hint="did the computation run under torch.no_grad() or inference_mode(), "
            "or on .detach()ed tensors?",
        )
    if recorder.ops_seen:
        return NoGraphError(
            "the snippet built a graph but kept none of it when it finished",
            hint="its tensors were local to a function: call .backward() there, keep the "
            "result in a global variable, or pass --target NAME",
        )
    if named:
        return NoGraphError(
            "no tensor requires grad, so autograd recorded no graph",
            hint="create the inputs with requires_grad=True, e.g. "
            "torch.tensor(2.0, requires_grad=True)",
        )
    return NoGraphError(
        "the snippet made no tensors that autograd could track",
        hint="create tensors with requires_grad=True and compute with them",
    )


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
