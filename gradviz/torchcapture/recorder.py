"""Watch a snippet run: every torch call, every backward pass, every gradient.

These feed the capture, all without touching the user's code:

- a ``TorchFunctionMode`` sees each torch call with its outputs, so each output's
  autograd node gets its forward value and the snippet line that made it;
  ``autograd.Function.apply``, which the mode does not see, is wrapped to the
  same end;
- ``torch.autograd.backward`` and ``torch.autograd.grad`` are wrapped (``Tensor.
  backward`` looks the former up at call time), so each pass is seen *before*
  it frees saved tensors: the graph is walked, saved tensors are read and a hook
  is put on every node to record the gradients flowing through it;
- after a pass, each leaf's ``.grad`` is read, and how many passes have
  accumulated into it since it was last reset;
- global module forward hooks keep the stack of ``nn.Module`` calls, so each op
  knows the module it ran in.

What is recorded lives in each autograd node's own ``metadata`` dict, so it goes
away with the graph: a training loop does not pile up records of graphs long
freed. Only the passes still shown keep their root nodes alive.
"""

from __future__ import annotations

import inspect
import multiprocessing.process
import os
import sys
import types
import warnings
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from numbers import Integral, Real
from types import FrameType, TracebackType
from typing import Any, Literal, NamedTuple, TypeGuard, TypeVar

import torch
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import _pop_mode, _push_mode
from torch.utils.weak import WeakIdKeyDictionary

from gradviz.execute import SnippetStopped
from gradviz.modeframes import global_hook_count, has_own_hooks
from gradviz.model import TensorData
from gradviz.torchcapture.build import op_name
from gradviz.torchcapture.inside import (
    LOOK_INSIDE,
    PLAIN_TYPES,
    hidden,
    inner_nodes,
    made_inside,
    pair,
    pure,
    replay,
    worth_looking,
)
from gradviz.torchcapture.naming import worth_local, worth_naming
from gradviz.torchcapture.records import (
    KEY,
    AutogradNode,
    GradHook,
    LeafRecord,
    NodeRecord,
    ParamUses,
    PassRecord,
    gradient_edge,
    is_leaf_node,
    leaf_record,
    node_record,
    snippet_frame,
    snippet_line,
    snippet_lines,
    walk,
)
from gradviz.torchcapture.saved import Known, SavedRecord, read_saved
from gradviz.torchcapture.snippetwarnings import shown_where_the_snippet_called
from gradviz.torchcapture.tensors import (
    FULL_LIMIT,
    TRACING_TYPES,
    StatsMemo,
    StorageKey,
    dtype_name,
    probe,
    same_data,
    storage_key,
    to_data,
)

__all__ = ["CalledModule", "Recorder"]

_SETITEM = torch.Tensor.__setitem__
_GETITEM = torch.Tensor.__getitem__
_REGISTER_HOOK = torch.Tensor.register_hook
_is_batched = torch._C._functorch.is_batchedtensor
_unwrapped = torch._C._functorch.get_unwrapped
_LINEAR = torch.nn.functional.linear
_profiling = torch._C._autograd._profiler_enabled
_dispatch_modes = torch._C._len_torch_dispatch_stack
_record_functions = torch._C._autograd._enable_record_function


class _OwnWork:
    """Around gradviz's own torch calls: its mode need not see them, nor a profiler the
    snippet runs (its table would list gradviz's ``aminmax`` and ``dot`` among the
    snippet's), nor a dispatch mode of the snippet's (one that logs or counts aten ops)."""

    def __init__(self) -> None:
        self._no_torch_function = torch._C.DisableTorchFunction()
        self._profiled = False
        self._modes: list[Any] = []

    def __enter__(self) -> None:
        self._no_torch_function.__enter__()
        self._profiled = _profiling()
        if self._profiled:  # a profiler needs them on: they were
            _record_functions(False)
        if _dispatch_modes():
            self._modes = [_pop_mode() for _ in range(_dispatch_modes())]

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for mode in reversed(self._modes):
            _push_mode(mode)
        self._modes = []
        if self._profiled:
            _record_functions(True)
        self._no_torch_function.__exit__(kind, error, trace)


_FUNCTION = torch.autograd.Function
_grad_enabled = torch.is_grad_enabled
_DETACH = (torch.Tensor.detach, torch.Tensor.detach_)
_MAX_DETACHES = 64
_BACKWARD_SIG = inspect.signature(torch.autograd.backward)
_GRAD_SIG = inspect.signature(torch.autograd.grad)


_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep


def _torch_internal(caller: FrameType | None) -> bool:
    """Whether a call was made by torch's own Python code, not by the snippet or its helpers."""
    return caller is not None and caller.f_code.co_filename.startswith(_TORCH_DIR)


def _arg_tensors(args: Sequence[Any], kwargs: dict[str, Any] | None) -> list[torch.Tensor]:
    """The tensors among a call's arguments, and in lists of them (``einsum``'s operands)."""
    found: list[torch.Tensor] = []
    for a in (*args, *(kwargs or {}).values()):
        if isinstance(a, torch.Tensor):
            found.append(a)
        elif isinstance(a, tuple | list):
            found.extend(x for x in a if isinstance(x, torch.Tensor))
    return found


def _tensors(x: object) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, Sequence):
        return [t for t in x if isinstance(t, torch.Tensor)]
    return []


class Recorder(TorchFunctionMode):
    """Records a snippet's ops and backward passes; use ``with recorder.recording():``."""

    def __init__(self, filename: str, stop_after: int | None = None) -> None:
        super().__init__()
        self.filename = filename
        self.stop_after = stop_after
        """End the snippet once this many passes are recorded (``--stop-after``)."""
        self.passes: list[PassRecord] = []
        self.ops_seen = 0
        self.backward_steps = 0
        # keyed by identity (tensors compare elementwise), without keeping them alive
        self.detached_leaves: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self.detaches: list[tuple[AutogradNode, int]] = []
        self.used: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self.used_without_grad: WeakIdKeyDictionary = WeakIdKeyDictionary()
        """Parameters of modules called under no_grad (a DQN's target network) -> the line."""
        self.swapped: weakref.WeakKeyDictionary[torch.nn.Module, dict[str, int]] = (
            weakref.WeakKeyDictionary()
        )
        """Modules run with other tensors in their parameters' places -> name -> line."""
        self.differentiated: WeakIdKeyDictionary = WeakIdKeyDictionary()
        """Leaves ``torch.autograd.grad`` took the gradient with respect to -> the line."""
        self.internal_errors: list[str] = []
        self._busy = False
        self._opening: set[Callable[..., Any]] = set()
        self._opened: dict[Callable[..., Any], Callable[..., Any]] = {}
        self._in_pass = False
        self._modules: list[torch.nn.Module] = []
        self._calls: list[_Called] = []
        """Each module called, in order of first call (see ``called_modules``)."""
        self._called: dict[int, int] = {}  # id(module) -> its number in _calls
        self._scope: tuple[tuple[int, str], ...] = ()
        """The module stack, as ops record it: (number of the module, its class) each."""
        self._grad_memo = StatsMemo()  # summaries of this pass's gradients
        self._out_memo = StatsMemo()  # and of the outputs of this step's forward: views repeat
        self._active = False
        self._grad_hooks = False  # the snippet hooked a tensor's gradient somewhere
        self._module_outputs: WeakIdKeyDictionary = WeakIdKeyDictionary()
        """Outputs of module calls that made no graph -> (the module's number, its input's
        memory, the output's version): what a constant an op takes is named after
        (``layer.base(x)``)."""
        self._made_constants: WeakIdKeyDictionary = WeakIdKeyDictionary()
        """Constants made by a call of other tensors -> (the call, their memory, the
        constant's version): see ``_note_constant``."""
        self._leaf_hooks: WeakIdKeyDictionary = WeakIdKeyDictionary()
        """Leaves whose gradient the snippet hooked -> the hook (see ``_note_grad_hook``)."""
        self._current_pass = -1
        self.passes_set_aside = 0  # gradcheck's own passes (see _checking_gradients)
        self.processes_started = 0
        """Processes the snippet started to do its work in (``torch.multiprocessing.spawn``),
        not a DataLoader's workers: their graphs stay in them."""

    # -- forward: every torch call ---------------------------------------------

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if _is_compiling():  # dynamo traces the mode: it must see each call, and only that
            return func(*args, **(kwargs or {}))
        # Under no_grad (an optimizer's step) nothing joins a graph: the call costs little
        # more than it would plainly. It is made on one line either way: jit.trace keeps
        # each op's line, and checks that a trace under no_grad matches its first.
        recording = _grad_enabled() or func in _DETACH
        openable = look = subclassed = False
        rng = None
        if recording:
            try:
                known = _OPENABLE.get(func)
                if known is None:
                    known = _OPENABLE[func] = _composite(func)
                openable = known
                look = func in LOOK_INSIDE
            except TypeError:  # an unhashable callable
                openable = look = False
            subclassed = bool(types) and _subclassed(types)
            if openable and not subclassed and self._may_open(func):
                return self._run_opened(func, args, kwargs or {})
            if look and self._may_look(func, args, kwargs):
                rng = torch.random.get_rng_state()
        out = func(*args, **(kwargs or {}))
        if func is _REGISTER_HOOK and not self._busy:
            self._note_grad_hook(args, out)
        if not recording or self._busy or _compiling():
            return out  # torch.compile or jit.trace at work: let them record as they would
        if not torch.is_grad_enabled() and func not in _DETACH:
            return out  # no_grad (an optimizer's step): nothing joins a graph
        self._busy = True
        try:
            if subclassed or _profiling() or _dispatch_modes():
                with _OwnWork():  # a subclass's __torch_function__ must not see gradviz read it
                    self._record(func, args, out)
                    if func is _LINEAR:
                        self._record_before_bias(args, kwargs, out)
            else:  # the common case, without a context manager on every op
                self._record(func, args, out)
                if func is _LINEAR:
                    self._record_before_bias(args, kwargs, out)
            if (rng is not None or not openable) and not subclassed:
                self._record_inside(func, args, kwargs, out, rng)
            if func in _FILLS:
                _record_fill(args, kwargs, out)
        except Exception as exc:  # never let gradviz break the user's code
            self.internal_errors.append(f"{getattr(func, '__name__', func)}: {exc!r}")
        finally:
            self._busy = False
        return out

    def _may_look(
        self, func: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any] | None
    ) -> bool:
        if self._busy or _compiling() or not torch.is_grad_enabled():
            return False
        tensors = _arg_tensors(args, kwargs)
        return any(t.requires_grad for t in tensors) and worth_looking(func, tensors)

    def _record_inside(
        self,
        func: Callable[..., Any],
        args: Sequence[Any],
        kwargs: dict[str, Any] | None,
        out: Any,
        rng: torch.Tensor | None,
    ) -> None:
        """Give the nodes the call made inside itself the values its aten ops returned.

        The call is run again for them (see inside.replay), only when it made
        more than its output's node and, unless it may draw random numbers (its
        random state is in ``rng``), only when those nodes' values are hidden:
        attention on the CPU without a mask is one fused node, with a mask a
        dozen; ``hinge_embedding_loss`` makes five; a batched ``matmul``'s views
        and ``mm`` are known from its input and output without a second run.
        """
        outs = _tensors(out)
        if not outs:
            return
        ins = _arg_tensors(args, kwargs)
        if rng is None and not (made_inside(outs, ins) and pure(func)):
            return  # the common case: one node, the output's own
        nodes = inner_nodes(outs, ins)
        if len(nodes) < 2:
            return  # the output's own node, recorded already
        line = snippet_line(sys._getframe(1), self.filename)
        call = _call_name(func)
        for node in nodes:  # linear's addmm under the view of a batch: the call's line
            rec = node_record(node)
            if rec.line is None:
                rec.line, rec.call, rec.scope = line, call, self._scope
        if rng is None and not (
            hidden(nodes, outs, ins, _recorded)
            and any(t.requires_grad for t in ins)
            and worth_looking(func, ins)
        ):
            return
        inside = replay(func, args, kwargs, rng)
        if inside is None:
            return  # it drew random numbers: its second run's are not the snippet's
        for node, value in pair(nodes, inside.ops):
            rec = node_record(node)
            for nr, t in enumerate(value if isinstance(value, tuple | list) else (value,)):
                if isinstance(t, torch.Tensor) and nr not in rec.outputs:
                    rec.outputs[nr] = to_data(t, self._out_memo)
                    rec.keys[nr] = storage_key(t)

    def _may_open(self, func: Callable[..., Any]) -> bool:
        """Not inside gradviz's own work, nor inside the same function's opened run, nor
        under torch.compile. (Nor, as the caller checks, with a tensor subclass among
        the arguments: its own ``__torch_function__`` sees the whole call when it runs
        plainly, so it must see it whole here too.)"""
        return not (self._busy or func in self._opening or _compiling())

    def _run_opened(
        self, func: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]
    ) -> Any:
        """Run a composite function's body with the mode on: its ops are recorded one by one.

        The copy is made at the first call of each capture, so that it sees the
        module's names as the snippet left them. Should it still hand itself to
        the mode (a torch version that asks another way), the call it makes runs
        plainly instead of recursing.
        """
        opened = self._opened.get(func)
        if opened is None:
            opened = self._opened[func] = _opened(func)
        self._opening.add(func)
        try:
            with self:
                return opened(*args, **kwargs)
        finally:
            self._opening.discard(func)

    def _record(self, func: Callable[..., Any], args: Sequence[Any], out: Any) -> None:
        if isinstance(out, torch.Tensor):
            outs: Sequence[Any] = (out,)
        elif isinstance(out, tuple | list):
            outs = out
        elif out is None and func is _SETITEM and args and isinstance(args[0], torch.Tensor):
            outs = (args[0],)  # in place: x[0] = 1 rewrote x's grad_fn to CopySlices
        else:
            outs = ()
        line: int | None = None
        callers: tuple[int, ...] = ()
        call = None
        made: NodeRecord | None = None  # the op this call made, if it made one
        made_by: AutogradNode = None
        start = self.ops_seen
        for t in outs:
            if not isinstance(t, torch.Tensor):
                continue
            grad_fn = t.grad_fn
            if grad_fn is None:
                t = _physical(t)
                if t is None or (grad_fn := t.grad_fn) is None:
                    continue
            rec = node_record(grad_fn)
            if rec.step is not None and rec.step < start:
                # A tensor handed back as it was (``contiguous()`` of a contiguous
                # one, ``broadcast_tensors`` of equal shapes): its op is older.
                continue
            if line is None:
                line, callers = snippet_lines(sys._getframe(1), self.filename)
                call = _call_name(func)
            nr = t.output_nr
            rec.outputs[nr] = to_data(t, self._out_memo)
            rec.keys[nr] = storage_key(t)
            rec.call = call
            rec.line = line
            rec.callers = callers
            if rec.step is None:
                rec.step = self.ops_seen
                rec.scope = self._scope
                if made is None:
                    made = rec
                    made_by = grad_fn
            self.ops_seen += 1
        if func in _DETACH and args and isinstance(args[0], torch.Tensor):
            if not _torch_internal(sys._getframe(2)):  # state_dict() detaches what it saves
                self._note_detach(args[0], line or snippet_line(sys._getframe(1), self.filename))
        elif line is None and type(out) is torch.Tensor and not out.requires_grad:
            self._note_constant(func, args, out)
        # Tensors made where no torch call was seen (a custom autograd.Function's
        # apply, internals of a compiled region) get their value when first used.
        constants: list[torch.Tensor] | None = None
        numbers: list[torch.Tensor | float] | None = None  # the constants and numbers, in order
        for t in args:
            if not isinstance(t, torch.Tensor):
                if made is None:
                    continue
                if isinstance(t, list | tuple):  # cat's list
                    for c in t:
                        if _constant(c):
                            (constants := constants or []).append(c)
                elif call in _FILLED and isinstance(t, Real) and not isinstance(t, bool):
                    number = int(t) if isinstance(t, Integral) else float(t)  # numpy's too
                    (numbers := numbers or [*(constants or ())]).append(number)
                continue
            if made is not None and _constant(t):
                (constants := constants or []).append(t)
                if numbers is not None:
                    numbers.append(t)
                continue
            if t.grad_fn is None and (physical := _physical(t)) is not None:
                t = physical
            if t.grad_fn is None:
                # a leaf in a call that recorded a graph (not an in-place init under no_grad)
                if line is not None and t.requires_grad and t not in self.used:
                    self.used[t] = line
                continue
            rec = node_record(t.grad_fn)
            nr = t.output_nr
            if nr not in rec.outputs:
                rec.outputs[nr] = to_data(t, self._out_memo)
                rec.keys[nr] = storage_key(t)
        if (constants or numbers) and made is not None and call is not None:
            own = _own_node(call, made_by)
            if own is not None:
                rec = made if own is made_by else node_record(own)
                rec.constants = self._constants_of(func, own, args, constants, numbers)
                if rec.line is None:  # the mm inside a matmul: the call's line is its own
                    rec.line, rec.call, rec.scope = line, call, made.scope

    def _note_constant(
        self, func: Callable[..., Any], args: Sequence[Any], out: torch.Tensor
    ) -> None:
        """Remember the call that made a constant of other tensors, and their memory: an op
        that takes it later is told ``cat(o, a)`` or ``ones_like(d_real)``, not ``const``.
        Not an in-place op's (``mask.fill_(1)`` made nothing), nor a property's (``x.T``:
        a view, named by its memory if at all)."""
        call = _constant_call(func)
        if call.endswith("_") or call == "get":
            return
        if func is _GETITEM and len(args) == 2 and (piece := _subscript(args[1])) is not None:
            call = piece  # the Annotated Transformer's self.pe[:, : x.size(1)]
        keys: list[StorageKey | None] = []
        for a in args:
            if isinstance(a, torch.Tensor):
                keys.append(storage_key(a))
            elif isinstance(a, list | tuple):
                keys.extend(storage_key(c) for c in a if isinstance(c, torch.Tensor))
        if keys:
            self._made_constants[out] = (call, tuple(keys), out._version)

    def _made_by(self, t: torch.Tensor) -> tuple[str, tuple[StorageKey | None, ...]] | None:
        """The call that made constant ``t`` and its tensors' memory, unless ``t`` was
        written into since (``mask[0] = 1``)."""
        found = self._made_constants.get(t)  # type: ignore[no-untyped-call]
        if found is None or found[2] != t._version:
            return None
        return found[0], found[1]

    def _constants_of(
        self,
        func: Callable[..., Any],
        node: AutogradNode,
        args: Sequence[Any],
        constants: list[torch.Tensor] | None,
        numbers: list[torch.Tensor | float] | None,
    ) -> dict[int, SavedRecord] | None:
        """The call's inputs without grad, by the node's empty slots: its constant tensors
        (``y_pred - y``), else those and its Python numbers, in order (``sq + 1e-8``,
        ``torch.where(mask, x, 0.0)``). ``x * 2`` needs none: ``mul`` saves its 2."""
        placed: Mapping[int, torch.Tensor | float] | None
        if func is _LINEAR:
            placed = _linear_slots(node, args)
        else:
            placed = _constant_slots(node, constants) if constants else None
            if placed is None and numbers:
                placed = _constant_slots(node, numbers)
        if not placed:
            return None
        frame = snippet_frame(sys._getframe(2), self.filename)
        return {slot: self._constant_record(t, frame) for slot, t in placed.items()}

    def _constant_record(self, t: torch.Tensor | float, frame: FrameType | None) -> SavedRecord:
        """A constant input: its numbers when few (only its shape otherwise), its memory,
        the module call whose output it is (a frozen layer's, in LoRA), if any, and the
        local of the snippet's function that holds it, if any."""
        if not isinstance(t, torch.Tensor):  # a number, an int or a float by now
            dtype = "int64" if isinstance(t, int) else "float64"
            return SavedRecord(name="constant", tensor=TensorData((), dtype, data=(t,)))
        small = t.numel() <= FULL_LIMIT
        data = (
            to_data(t, self._out_memo) if small else TensorData(tuple(t.shape), dtype_name(t.dtype))
        )
        return SavedRecord(
            name="constant",
            tensor=data,
            key=storage_key(t),
            made_in=self._made_in(t),
            local=_local_name(frame, t),
            made_by=self._made_by(t) if self._made_constants else None,
        )

    def _made_in(self, t: torch.Tensor) -> tuple[int, StorageKey | None] | None:
        """The module call that returned ``t``, or the tensor ``t`` views (flattened, as a
        classifier takes it), unless something wrote into it since (``h += 1``)."""
        if not self._module_outputs:
            return None
        found = self._module_outputs.get(t)  # type: ignore[no-untyped-call]
        if found is None and t._base is not None:
            found = self._module_outputs.get(t._base)  # type: ignore[no-untyped-call]
        if found is None or found[2] != t._version:  # views share their base's version
            return None
        return found[0], found[1]

    def _record_before_bias(self, args: Sequence[Any], kwargs: Any, out: Any) -> None:
        """The product inside ``linear`` on a batch, before the bias was added to it.

        On a batch that is not one block of memory (a transposed attention
        output, a 4-D input), ``linear`` multiplies, then adds the bias in place:
        the product's node never shows its tensor, which the bias overwrote.
        Its value is the output less the bias: one subtraction, much cheaper than
        multiplying again. Small ones are left to recompute.py, which multiplies
        again, exactly.
        """
        grad_fn = getattr(out, "grad_fn", None)
        if grad_fn is None or type(grad_fn).__name__ != "AddBackward0" or out.numel() <= FULL_LIMIT:
            return
        bias = args[2] if len(args) > 2 else (kwargs or {}).get("bias")
        product, nr = grad_fn.next_functions[0]
        if not isinstance(bias, torch.Tensor) or product is None or is_leaf_node(product):
            return
        rec = node_record(product)
        if nr not in rec.outputs:
            with torch.no_grad():
                rec.outputs[nr] = to_data(out.detach() - bias.detach())

    def _note_module_output(
        self, module: torch.nn.Module, args: Sequence[Any], output: torch.Tensor
    ) -> None:
        """A module call that made no graph (a frozen layer): its output is a constant an
        op may take, named after the call (``layer.base(x)``). The outermost call wins,
        as it returns last: ``backbone(x)``, not its last layer."""
        number = self._called.get(id(module))
        if number is None:
            return
        first = next((a for a in args if isinstance(a, torch.Tensor)), None)
        given = None if first is None else storage_key(first)
        self._module_outputs[output] = (number, given, output._version)

    def _called_without_grad(self, module: torch.nn.Module) -> None:
        line = None
        for p in module.parameters(recurse=False):
            if p.requires_grad and p not in self.used_without_grad:
                if line is None:
                    line = snippet_line(sys._getframe(2), self.filename) or 0
                self.used_without_grad[p] = line

    def _called_with_others(self, module: torch.nn.Module, names: list[str]) -> None:
        """``torch.func.functional_call`` runs a module with the tensors it is given
        in its parameters' places: those get the gradients, its own parameters none."""
        lines = self.swapped.setdefault(module, {})
        line = None
        for name in names:
            if name not in lines:
                if line is None:
                    line = snippet_line(sys._getframe(2), self.filename) or 0
                lines[name] = line

    def _note_called(self, module: torch.nn.Module) -> int:
        """Number a module at its first call; keep its parameters weakly (a module made
        on the line that calls it is gone by the time the graph is built, while the
        graph still holds its parameters)."""
        params: list[tuple[str, weakref.ref[torch.Tensor]]] = [
            (attr, weakref.ref(p))
            for attr, p in module._parameters.items()
            if isinstance(p, torch.Tensor)
        ]
        self._called[id(module)] = len(self._calls)
        self._calls.append((weakref.ref(module), type(module).__name__, params))
        return len(self._calls) - 1

    def called_modules(self) -> list[CalledModule]:
        """Each module called, by the number ops' scopes know it by (its first call's
        turn), with its parameters still alive."""
        return [
            CalledModule(
                module(), kind, [(attr, p) for attr, ref in params if (p := ref()) is not None]
            )
            for module, kind, params in self._calls
        ]

    def param_uses(self) -> ParamUses:
        """What the snippet did with tensors that may get no gradient (see ParamUses)."""
        swapped = {
            (id(module), name): line
            for module, lines in self.swapped.items()
            for name, line in lines.items()
        }
        return ParamUses(
            self.cut_off(), self.used, self.used_without_grad, swapped, self.differentiated
        )

    def _note_grad_hook(self, args: Sequence[Any], handle: object) -> None:
        """Remember where the snippet hooked a tensor's gradient: what the hook returns
        becomes its gradient, so what its uses sent is kept apart (see ``_prepare_op``).
        The handle says, when a pass begins, whether the hook was taken off since."""
        try:
            t = args[0] if args else None
            edge = gradient_edge(t) if isinstance(t, torch.Tensor) and t.requires_grad else None
            if edge is None:
                return
            node, nr = edge
            line = snippet_line(sys._getframe(1), self.filename)
            if is_leaf_node(node):
                # by the tensor: a leaf no graph uses yet gets a new AccumulateGrad later
                hook = self._leaf_hooks.get(t)  # type: ignore[no-untyped-call]
                if hook is None:
                    hook = self._leaf_hooks[t] = GradHook(line or 0)
            else:
                hook = node_record(node).grad_hooks.setdefault(nr, GradHook(line or 0))
            hook.handles.append(handle)
            self._grad_hooks = True
        except Exception as exc:  # never let gradviz break the user's code
            self.internal_errors.append(f"register_hook: {exc!r}")

    def _note_detach(self, t: torch.Tensor, line: int | None) -> None:
        """Remember where a tensor that needed grad was cut off, and what it was cut from."""
        if line is None or not t.requires_grad:
            return
        if t.grad_fn is None:
            self.detached_leaves.setdefault(t, line)  # type: ignore[no-untyped-call]
        elif len(self.detaches) < _MAX_DETACHES:
            self.detaches.append((t.grad_fn, line))

    def cut_off(self) -> dict[int, int]:
        """``id(leaf) -> line`` of every leaf a ``.detach()`` cut off from the graph."""
        found: dict[int, int] = {}
        for leaf, line in self.detached_leaves.items():  # type: ignore[no-untyped-call]
            found.setdefault(id(leaf), line)
        for node, line in self.detaches:
            for n in walk([node]):
                if is_leaf_node(n):
                    found.setdefault(id(n.variable), line)
        return found

    # -- backward: every pass ----------------------------------------------------

    @contextmanager
    def recording(self) -> Iterator[Recorder]:
        """Install the mode and the backward wrappers; undo both on the way out."""
        orig_backward = torch.autograd.backward
        orig_grad = torch.autograd.grad
        recorder = self

        def wrapped(
            kind: Literal["backward", "grad"],
            orig: Callable[..., Any],
            signature: inspect.Signature,
            roots: str,
            end: Callable[[dict[str, Any], Any], None],
        ) -> Callable[..., Any]:
            @_eager_under_dynamo
            def call(*args: Any, **kwargs: Any) -> Any:
                if recorder._in_pass or _is_compiling():  # torch re-dispatching the call we
                    return orig(*args, **kwargs)  # are already in, or dynamo tracing it
                if _checking_gradients(sys._getframe(1), recorder.filename):
                    return recorder._aside(orig, args, kwargs)
                a = signature.bind(*args, **kwargs).arguments
                if _traced(a[roots]):
                    return recorder._aside(orig, args, kwargs)
                create = bool(a.get("create_graph", False))
                retain = a.get("retain_graph")
                inputs_only = kind == "backward" and a.get("inputs") is not None
                with _OwnWork():
                    recorder._begin(
                        kind, a[roots], create if retain is None else retain, create, inputs_only
                    )
                recorder._in_pass = True
                result = None
                try:
                    result = orig(*args, **kwargs)
                finally:
                    recorder._in_pass = False
                    with _OwnWork():
                        end(a, result)
                if recorder.stop_after is not None and len(recorder.passes) >= recorder.stop_after:
                    raise SnippetStopped  # after the pass: its gradients are all in place
                return result

            return call

        backward = wrapped(
            "backward",
            orig_backward,
            _BACKWARD_SIG,
            "tensors",
            lambda a, result: recorder._end_backward(),
        )
        grad = wrapped(
            "grad",
            orig_grad,
            _GRAD_SIG,
            "outputs",
            lambda a, result: recorder._end_grad(_tensors(a["inputs"]), result),
        )

        @_eager_under_dynamo
        def enter(module: torch.nn.Module, args: Any) -> None:
            if _is_compiling():  # torch.compile traces the hooks: they must do nothing there
                return
            recorder._modules.append(module)
            number = recorder._called.get(id(module))
            if number is None or recorder._calls[number][0]() is not module:
                number = recorder._note_called(module)  # new, or at a freed one's address
            recorder._scope += ((number, type(module).__name__),)
            if recorder._busy:
                return
            if not torch.is_grad_enabled():
                recorder._called_without_grad(module)
            others = [k for k, v in module._parameters.items() if _swapped_in(v)]
            if others:
                recorder._called_with_others(module, others)

        @_eager_under_dynamo
        def leave(module: torch.nn.Module, args: Any, output: Any) -> None:
            if _is_compiling():
                return
            while recorder._modules and recorder._modules.pop() is not module:
                pass  # a forward that raised left its children behind
            recorder._scope = recorder._scope[: len(recorder._modules)]
            if isinstance(output, torch.Tensor) and not recorder._busy and _grad_enabled():
                with torch._C.DisableTorchFunction():  # else each read is a call to the mode
                    if _constant(output):
                        recorder._note_module_output(module, args, output)

        torch.autograd.backward = backward
        torch.autograd.grad = grad
        orig_apply = _FUNCTION.__dict__["apply"]
        _FUNCTION.apply = classmethod(self._applying(orig_apply.__func__))  # type: ignore[assignment]
        hooks = [
            register_module_forward_pre_hook(enter),
            register_module_forward_hook(leave, always_call=True),
        ]
        orig_start = multiprocessing.process.BaseProcess.start

        def start(process: multiprocessing.process.BaseProcess) -> None:
            target = getattr(process, "_target", None)
            if not getattr(target, "__module__", "").startswith("torch.utils.data"):
                recorder.processes_started += 1
            orig_start(process)

        multiprocessing.process.BaseProcess.start = start  # type: ignore[method-assign,assignment]
        show = warnings.showwarning
        warnings.showwarning = shown_where_the_snippet_called(
            show,
            self.filename,
            hidden=lambda text: _about_our_hooks(text, hooks),
            hookless=lambda: _only_our_hooks(hooks, self._calls),
        )
        self._active = True
        try:
            with self:
                yield self
        finally:
            self._active = False
            for handle in hooks:
                handle.remove()
            self._modules.clear()
            self._scope = ()
            torch.autograd.backward = orig_backward
            torch.autograd.grad = orig_grad
            multiprocessing.process.BaseProcess.start = orig_start  # type: ignore[method-assign]
            _FUNCTION.apply = orig_apply  # type: ignore[method-assign]
            if getattr(warnings.showwarning, "__wrapped__", None) is show:
                warnings.showwarning = show  # unless the snippet put in its own

    def _applying(self, apply: Callable[..., Any]) -> Callable[..., Any]:
        """``Function.apply``, recording what a custom ``autograd.Function`` returned as a
        torch call's outputs: the mode sees no call of ``apply``, only the ops its forward
        runs, with grad off. Its outputs would get their values only where a later torch
        call used them; one handed straight to another Function's ``apply`` got none."""
        recorder = self

        @_eager_under_dynamo
        def applied(cls: type, *args: Any, **kwargs: Any) -> Any:
            if _is_compiling():  # dynamo traces it: the call, and nothing more
                return apply(cls, *args, **kwargs)
            out = apply(cls, *args, **kwargs)
            if recorder._busy or not torch.is_grad_enabled() or _compiling():
                return out
            recorder._busy = True
            try:
                with _OwnWork():
                    recorder._record(cls, args, out)
            except Exception as exc:  # never let gradviz break the user's code
                recorder.internal_errors.append(f"{cls.__name__}.apply: {exc!r}")
            finally:
                recorder._busy = False
            return out

        return applied

    def _aside(self, orig: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        """Run a pass that is torch checking gradients: nothing of it is recorded."""
        self.passes_set_aside += 1
        busy, self._busy = self._busy, True
        self._in_pass = True
        try:
            return orig(*args, **kwargs)
        finally:
            self._in_pass = False
            self._busy = busy

    def _begin(
        self,
        kind: Literal["backward", "grad"],
        tensors: object,
        retain: bool,
        create: bool,
        inputs_only: bool = False,
    ) -> None:
        self._busy = True
        try:
            line = snippet_line(sys._getframe(1), self.filename)
            # Before a replaced pass lets go of its graph: reading a frame's locals
            # refreshes the copy the frame keeps of them (Python < 3.13), and the
            # tensor a loop rebound must leave that copy while its graph is still
            # held, else a deep chain would be freed recursively (and crash).
            names = self._local_names(sys._getframe(1))
            roots = [e for e in (gradient_edge(t) for t in _tensors(tensors)) if e is not None]
            index = len(self.passes)
            leaves: dict[int, AutogradNode] = {}
            order = walk([n for n, _ in roots])
            memo = StatsMemo()
            reset, accumulating, known, uses = self._survey(order, kind, memo)
            for node in order:
                if is_leaf_node(node):
                    leaves[id(node)] = node
                else:
                    self._prepare_op(node, known, uses, accumulating, memo)
            for earlier in self.passes:
                if earlier.live and _superseded(earlier, leaves, reset):
                    _inherit_names(names, earlier.names, order)
                    earlier.release()
            self._grad_memo = StatsMemo()
            self._out_memo = StatsMemo()  # the next forward pass makes new tensors
            record = PassRecord(
                index, kind, roots, leaves, line, bool(retain), bool(create), deque(order)
            )
            record.names = names
            record.inputs_only = inputs_only
            record.root_tensors = [weakref.ref(t) for t in _tensors(tensors)]
            self.passes.append(record)
            self._current_pass = index
        except Exception as exc:
            self.internal_errors.append(f"backward: {exc!r}")
        finally:
            self._busy = False

    def _local_names(self, frame: FrameType | None) -> dict[str, object]:
        """What the snippet's functions on the stack hold that can name the graph's tensors.

        A snippet that works inside ``main()`` or ``train(model, ...)`` keeps
        nothing in its globals; its functions' locals are read when it calls
        ``backward()``, innermost first, while its graph is whole.
        """
        found: dict[str, object] = {}
        while frame is not None:
            code = frame.f_code
            if code.co_filename == self.filename and code.co_flags & inspect.CO_OPTIMIZED:
                for name, obj in worth_naming(frame.f_locals).items():
                    found.setdefault(name, obj)
            frame = frame.f_back
        return found

    def local_names(self) -> list[dict[str, object]]:
        """The locals kept by each pass on show, the latest pass's first.

        Kept apart: ``get_grads(act_fn, x)`` called once per activation makes a
        graph per call, each with its own ``x``, and each is that call's ``x``.
        """
        return [p.names for p in reversed(self.live_passes()) if p.names]

    def _survey(
        self, order: Sequence[AutogradNode], kind: str, memo: StatsMemo
    ) -> tuple[set[int], set[int], Known, Counter[tuple[int, int]]]:
        """One look over a pass's graph before backward runs.

        Returns the leaves whose ``.grad`` was reset since gradviz last saw them,
        those that keep accumulating from an earlier pass, the storage of every
        tensor the graph will show, and how many uses each op output has.
        """
        reset: set[int] = set()
        accumulating: set[int] = set()
        known: dict[StorageKey, tuple[TensorData | None, ...] | None] = {}
        uses: Counter[tuple[int, int]] = Counter()
        for node in order:
            if is_leaf_node(node):
                was_reset = self._prepare_leaf(node, kind, memo)
                (reset if was_reset else accumulating).add(id(node))
                key = storage_key(node.variable)
                if key is not None:
                    known[key] = None  # a leaf holds its memory throughout: trusted
                continue
            rec = node.metadata.get(KEY)
            if isinstance(rec, NodeRecord):
                for nr, k in rec.keys.items():
                    if k is not None and (held := known.get(k, ())) is not None:
                        known[k] = (*held, rec.outputs.get(nr))  # an in-place op's too
            for nxt, nr in node.next_functions:
                if nxt is not None:
                    uses[(id(nxt), nr)] += 1
        accumulating = {k for k in accumulating if k not in reset}
        return reset, accumulating, known, uses

    def _prepare_leaf(self, acc: AutogradNode, kind: str, memo: StatsMemo) -> bool:
        """Snapshot a leaf's value; True when its ``.grad`` was reset since our last look."""
        rec = leaf_record(acc)
        var = acc.variable
        rec.value = to_data(var, memo)
        if self._grad_hooks:
            hook = self._leaf_hooks.get(var)  # type: ignore[no-untyped-call]
            rec.grad_hook = hook.line if hook is not None and hook.live() else None
        if kind != "backward":
            return False
        if var._post_accumulate_grad_hooks and not rec.watched:
            acc.register_prehook(self._incoming_for(rec))
            rec.watched = True
        g = var.grad
        if g is None or rec.grad_ref != (id(g), g._version) or not same_data(to_data(g), rec.grad):
            # The last test catches what the version misses: old tutorials zero a
            # gradient through ``w.grad.data.zero_()``, which bumps no version.
            rec.passes = 0
            rec.stale, rec.mixed = 0, False
            rec.grad = None
            rec.grad_ref = None  # the next .grad may reuse the freed one's id
            return True
        if rec.passes and rec.seen is not None and not same_data(rec.value, rec.seen):
            # Stepped, yet .grad still holds the earlier passes' sum. A GAN's generator
            # step adds into the critic's .grad after the critic stepped, but the next
            # zero_grad() drops that sum unused: only a step that used it counts.
            rec.stale += rec.mixed
            rec.mixed = True
        return False

    def _prepare_op(
        self,
        node: AutogradNode,
        known: Known,
        uses: Counter[tuple[int, int]],
        accumulating: set[int],
        memo: StatsMemo,
    ) -> None:
        """Read saved tensors before backward frees them, and hook the node.

        The gradient along an edge is kept only where it tells something the
        tensor's own gradient does not: when the tensor has several uses, when
        a leaf adds up several passes, or when a hook of the snippet's turns what
        arrives into another gradient.
        """
        rec = node_record(node)
        if rec.saved is None or any(s.freed for s in rec.saved):
            rec.saved = read_saved(node, known, memo)
        if rec.grad_hooks:  # one taken off before this pass is no hook of it
            rec.grad_hooks = {nr: h for nr, h in rec.grad_hooks.items() if h.live()}
        hooks = self._grad_hooks
        rec.edge_slots = frozenset(
            slot
            for slot, (nxt, nr) in enumerate(node.next_functions)
            if nxt is not None
            and (
                uses[(id(nxt), nr)] > 1
                or id(nxt) in accumulating
                or (hooks and _grad_hooked(nxt, nr))
            )
        )
        if not rec.hooked:
            node.register_hook(self._hook_for(rec))
            rec.hooked = True

    def _hook_for(self, rec: NodeRecord) -> Callable[[Any, Any], None]:
        recorder = self

        def hook(grad_inputs: Sequence[Any], grad_outputs: Sequence[Any]) -> None:
            if not recorder._active or recorder._busy:
                return  # after the capture, or in a pass set aside
            busy = recorder._busy
            recorder._busy = True
            try:
                with _OwnWork():
                    recorder._record_grads(rec, grad_inputs, grad_outputs)
            except Exception as exc:
                recorder.internal_errors.append(f"hook: {exc!r}")
            finally:
                recorder._busy = busy

        return hook

    def _incoming_for(self, rec: LeafRecord) -> Callable[[Any], None]:
        """A leaf with a post-accumulate-grad hook (the optimizer step fused into
        backward) may have no ``.grad`` once backward ends: keep what came in."""
        recorder = self

        def prehook(grad_outputs: Sequence[Any]) -> None:
            if not recorder._active or recorder._busy:
                return
            g = grad_outputs[0] if grad_outputs else None
            if isinstance(g, torch.Tensor):
                recorder._busy = True
                try:
                    with _OwnWork():
                        rec.sent, rec.sent_in = to_data(g), recorder._current_pass
                except Exception as exc:
                    recorder.internal_errors.append(f"leaf hook: {exc!r}")
                finally:
                    recorder._busy = False

        return prehook

    def _record_grads(
        self, rec: NodeRecord, grad_inputs: Sequence[Any], grad_outputs: Sequence[Any]
    ) -> None:
        """What a node's hook sees: the gradient of each output, and along chosen edges."""
        index = self._current_pass
        if rec.backward_step is None:
            rec.backward_step = self.backward_steps
            self.backward_steps += 1
        memo = self._grad_memo  # a view's gradient is often a view of another's
        for nr, g in enumerate(grad_outputs):
            if isinstance(g, torch.Tensor):
                rec.add_grad(nr, g, index, memo)
        for slot in rec.edge_slots:
            g = grad_inputs[slot]
            if isinstance(g, torch.Tensor):
                rec.add_edge_grad(slot, g, index, memo)

    def _end_backward(self) -> None:
        self._busy = True
        try:
            if not self.passes:
                return
            for acc in self.passes[-1].leaves.values():
                rec = leaf_record(acc)
                g = acc.variable.grad
                if g is None or rec.grad_ref == (id(g), g._version):
                    if rec.sent_in == self._current_pass:  # a hook took .grad away
                        rec.grad, rec.passes, rec.grad_ref = rec.sent, 1, None
                    continue  # else this pass did not reach it (``inputs=`` left it out)
                rec.grad = to_data(g)
                rec.passes += 1
                rec.seen, rec.seen_version = rec.value, acc.variable._version
                rec.grad_ref = (id(g), g._version)
                rec.grad_probe = probe(g) if rec.grad.data is None else None
        except Exception as exc:
            self.internal_errors.append(f"after backward: {exc!r}")
        finally:
            self._busy = False

    def _end_grad(self, inputs: list[torch.Tensor], result: Sequence[Any] | None) -> None:
        """``autograd.grad`` returns gradients instead of writing ``.grad``: record them."""
        if result is None:
            return
        self._busy = True
        try:
            index = self._current_pass
            for t, g in zip(inputs, result, strict=False):
                if not isinstance(g, torch.Tensor):
                    continue
                edge = gradient_edge(t)
                if edge is None:
                    continue
                node, nr = edge
                if is_leaf_node(node):
                    leaf_record(node).returned[index] = to_data(g)
                    if t not in self.differentiated and 0 <= index < len(self.passes):
                        self.differentiated[t] = self.passes[index].line or 0
                else:
                    op = node_record(node)
                    if index not in op.grads.get(nr, {}):
                        op.add_grad(nr, g, index)
        except Exception as exc:
            self.internal_errors.append(f"after grad: {exc!r}")
        finally:
            self._busy = False

    def live_passes(self) -> list[PassRecord]:
        return [p for p in self.passes if p.live and p.roots]

    def release(self) -> None:
        """Drop every node this recorder holds; call once the user's tensors are gone."""
        for p in self.passes:
            p.names.clear()  # the locals first: one pass's may hold another's tensors
        for p in self.passes:
            p.release()
        self.detaches.clear()


_Called = tuple["weakref.ref[torch.nn.Module]", str, list[tuple[str, "weakref.ref[torch.Tensor]"]]]


class CalledModule(NamedTuple):
    """A module the snippet called: itself while alive, its class, its parameters."""

    module: torch.nn.Module | None
    kind: str
    params: list[tuple[str, torch.Tensor]]


def _constant(t: object) -> TypeGuard[torch.Tensor]:
    """A plain float tensor (data, a target) among an op's inputs: no graph, no grad."""
    return (
        isinstance(t, torch.Tensor)
        and t.grad_fn is None
        and not t.requires_grad
        and (t.is_floating_point() or t.is_complex())
        and not _is_batched(t)
    )


_SAME_OP: dict[str, str | tuple[str, ...]] = {
    "truediv": "div",
    "linear": ("addmm", "mm"),
    "matmul": ("mm", "mv", "bmm", "dot"),
    **dict.fromkeys(
        ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"),
        "convolution",
    ),
    "layer_norm": "native_layer_norm",
}
"""Calls whose own op autograd names otherwise (``x / y`` is ``div``, ``F.linear`` is ``addmm``)."""


_FILLED = frozenset(
    f"{prefix}{op}{suffix}"
    for op in ("add", "sub")
    for prefix in ("", "r", "i")
    for suffix in ("", "_")
) | {"where"}
"""Calls whose node leaves an empty slot for a Python number (``x + 1``, ``torch.where(m, x,
0.0)``); ``mul`` and ``div`` save theirs, and most calls take numbers as no input at all."""


def _local_name(frame: FrameType | None, t: torch.Tensor) -> str | None:
    """The local holding ``t`` in ``frame``, if a function's: the snippet's globals are
    named once it ends, and a function's locals are gone by then."""
    if frame is None or not frame.f_code.co_flags & inspect.CO_OPTIMIZED:
        return None
    return next(
        (name for name, obj in frame.f_locals.items() if obj is t and worth_local(name)), None
    )


def _made_by(call: str, node: AutogradNode) -> bool:
    """Whether the node is the call's own op (``sub`` for ``x - y``), not the last of several
    nodes a call in C++ made of its inputs (``kl_div`` ends in a ``sub`` of tensors it
    made itself): only then are the call's constants the node's own inputs."""
    name = call.strip("_")
    if name[:1] in ("r", "i") and name[1:] in ("add", "sub", "mul", "truediv", "div", "pow"):
        name = name[1:]  # __rsub__, __iadd__
    op = op_name(node)
    same = _SAME_OP.get(name, name)
    return op in same if isinstance(same, tuple) else op.startswith(same)


_RESHAPES = frozenset(("squeeze", "unsafe_view", "view"))


_FILLS = frozenset((torch.Tensor.masked_fill, torch.Tensor.masked_fill_, torch.masked_fill))


def _record_fill(args: Sequence[Any], kwargs: Mapping[str, Any] | None, out: Any) -> None:
    """The number ``masked_fill`` put where the mask is (``-1e9`` in attention): its node
    keeps only the mask, and the number is what the masked scores read."""
    value = args[2] if len(args) > 2 else (kwargs or {}).get("value")
    if isinstance(value, torch.Tensor) and value.dim() == 0 and _constant(value):
        value = value.item()
    grad_fn = getattr(out, "grad_fn", None)
    if grad_fn is None or not isinstance(value, Real) or isinstance(value, bool):
        return
    if op_name(grad_fn) == "masked_fill":
        node_record(grad_fn).numbers["value"] = value


def _own_node(call: str, node: AutogradNode) -> AutogradNode:
    """The node that is the call's own op, whose empty slots its constants filled, if
    any: the output's node, or for ``matmul`` the ``mm`` under the reshape that undoes
    its reshaping of the input (``x @ w`` of a vector ``x``; a batch of matrices)."""
    if _made_by(call, node):
        return node
    if call in ("matmul", "rmatmul"):
        for _ in range(2):
            if op_name(node) not in _RESHAPES or len(node.next_functions) != 1:
                break
            inner = node.next_functions[0][0]
            if inner is None or is_leaf_node(inner):
                break
            if _made_by("matmul", inner):
                return inner
            node = inner
    return None


def _linear_slots(node: AutogradNode, args: Sequence[Any]) -> dict[int, torch.Tensor] | None:
    """``linear``'s input and bias where they need no grad: ``addmm`` takes them as ``mat1``
    and ``self`` (``mm``, with no bias, as ``self``), not in the call's order. Its weight
    goes in transposed, under no name of its own, so it is left out."""
    op = op_name(node)
    empty = {slot for slot, (fn, _) in enumerate(node.next_functions) if fn is None}
    bias = args[2] if len(args) > 2 else None
    pairs = [(1 if op == "addmm" else 0, args[0] if args else None)]
    if op == "addmm":
        pairs.append((0, bias))
    return {slot: t for slot, t in pairs if slot in empty and _constant(t)} or None


def _constant_slots(
    node: AutogradNode, constants: Sequence[torch.Tensor | float]
) -> dict[int, torch.Tensor | float] | None:
    """Which empty ``next_functions`` slots the constants filled, where that is certain:
    as many empty slots as constants, taken in order (``y_pred - y``: ``other``)."""
    empty = [slot for slot, (fn, _) in enumerate(node.next_functions) if fn is None]
    if len(empty) != len(constants):
        return None
    return dict(zip(empty, constants, strict=True))


def _physical(t: torch.Tensor) -> torch.Tensor | None:
    """The tensor autograd holds under ``vmap``'s wrapper: its batched values, the node's.

    Under ``torch.func.vmap`` a call hands back a wrapper with no ``grad_fn``
    (its shape lacks the batch dimension); the tensor it wraps, batched, is
    what the graph's node made. None for anything not so wrapped.
    """
    if not _is_batched(t):
        return None
    while _is_batched(t):
        t = _unwrapped(t)
    return t


def _subclassed(types: Sequence[type]) -> bool:
    """Whether a call's overloaded ``types`` hold a tensor subclass with a
    ``__torch_function__`` of its own (they hold ``torch.Tensor`` itself when the call
    is a torch function written in Python)."""
    return any(t not in PLAIN_TYPES for t in types)


def _grad_hooked(node: AutogradNode, nr: int) -> bool:
    """Whether the snippet hooked the gradient of output ``nr`` of ``node`` (or of its leaf)."""
    rec = node.metadata.get(KEY)
    if isinstance(rec, NodeRecord):
        hook = rec.grad_hooks.get(nr)
        return hook is not None and hook.live()
    return isinstance(rec, LeafRecord) and rec.grad_hook is not None


def _recorded(node: AutogradNode) -> bool:
    """Whether the recorder already holds a value of ``node``'s (see inside.hidden)."""
    rec = node.metadata.get(KEY)
    return isinstance(rec, NodeRecord) and bool(rec.outputs)


def _swapped_in(value: object) -> bool:
    """A module parameter's slot holding a plain tensor: ``functional_call`` put it there."""
    return isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter)


_GRADCHECK = os.path.join("torch", "autograd", "gradcheck.py")


def _traced(roots: object) -> bool:
    """Whether a pass differentiates tensors a compiler traces with, not the snippet's:
    ``torch.compile`` builds the backward of a compiled function by running
    ``autograd.grad`` on functional (or fake) tensors, once, when it compiles."""
    return any(type(t).__name__ in TRACING_TYPES for t in _tensors(roots))


def _checking_gradients(frame: FrameType | None, snippet: str) -> bool:
    """Whether a pass runs inside ``gradcheck``/``gradgradcheck``, called by the snippet.

    Those run dozens of passes of their own, with made-up gradients (zeros for
    the undefined-gradient check); drawn, they would replace the snippet's own
    backward() and its leaves' gradients.
    """
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename == snippet:
            return False
        if filename.endswith(_GRADCHECK):
            return True
        frame = frame.f_back
    return False


def _inherit_names(
    names: dict[str, object], earlier: Mapping[str, object], order: Sequence[AutogradNode]
) -> None:
    """Give a pass the locals of the pass it replaces that hold tensors of its graph.

    A WGAN-GP's penalty takes ``autograd.grad`` with respect to ``interpolates``, a
    local of the function that returns the penalty; the loss's backward pass
    that replaces it runs where that local is gone. Tensors of other graphs are
    not kept: they would hold those graphs alive, and free them out of order.
    """
    if not earlier:
        return
    nodes = {id(node) for node in order}
    for name, obj in earlier.items():
        if name in names or not isinstance(obj, torch.Tensor):
            continue
        edge = gradient_edge(obj)
        if edge is not None and id(edge[0]) in nodes:
            names[name] = obj


def _superseded(earlier: PassRecord, leaves: dict[int, AutogradNode], reset: set[int]) -> bool:
    """Whether a new pass replaces ``earlier`` in the picture.

    A backward pass is replaced once a later backward pass finds one of its
    leaves' gradients reset (``zero_grad()`` in a training loop); gradients that
    still accumulate (two micro-batches) keep both passes on show. A
    ``torch.autograd.grad`` pass writes no ``.grad``, so any later pass over one
    of its leaves replaces it.
    """
    if earlier.kind == "grad":
        return any(k in leaves for k in earlier.leaves)
    return any(k in reset for k in earlier.leaves)


def _opened(func: Callable[..., Any]) -> Callable[..., Any]:
    """A copy of a torch function written in Python that runs its body under the mode.

    Such a function hands itself whole to the mode (``if has_torch_function(...):
    return handle_torch_function(...)``), and torch runs the mode's handler with
    the mode switched off: nothing the function does inside is seen, and every
    tensor it makes on the way shows no value. The copy sees no torch function
    (its own ``has_torch_function`` says False), so it runs its body, and the
    handler runs it with the mode back on: each op inside is recorded as the
    snippet's own would be, with its value, line and module.
    """
    names = dict(func.__globals__)
    for check in ("has_torch_function", "has_torch_function_unary", "has_torch_function_variadic"):
        names[check] = _no_torch_function
    copy = types.FunctionType(
        func.__code__, names, func.__name__, func.__defaults__, func.__closure__
    )
    copy.__kwdefaults__ = func.__kwdefaults__
    return copy


def _no_torch_function(*args: Any, **kwargs: Any) -> bool:
    return False


OPENABLE: set[Callable[..., Any]] = {torch.nn.functional.multi_head_attention_forward}
"""Composite torch functions in Python whose insides are recorded op by op, besides those
of the modules in ``_OPEN_MODULES``: attention, whose dozens of inner tensors
(projections, heads, scores) otherwise show no value."""

_OPEN_MODULES = frozenset({"torch.nn.functional", "torch.functional"})
_OPENABLE: dict[Any, bool] = {}


def _composite(func: Callable[..., Any]) -> bool:
    """Whether ``func`` is a torch function written in Python that hands itself to the mode.

    Every such function of ``torch.nn.functional`` and ``torch.functional`` is
    opened (see ``_opened``): ``gumbel_softmax``, ``multilabel_soft_margin_loss``,
    ``local_response_norm``, ``normalize``, ``stft``'s padding. Their inner
    nodes get values as the snippet's own ops do, exactly and at no extra run;
    the one-op wrappers (``F.relu``) cost a call more, nothing else.
    """
    if func in OPENABLE:
        return True
    return (
        isinstance(func, types.FunctionType)
        and func.__module__ in _OPEN_MODULES
        and "handle_torch_function" in func.__code__.co_names
    )


_is_compiling = torch.compiler.is_compiling  # dynamo reads it as a constant when it traces
_F = TypeVar("_F", bound=Callable[..., Any])


def _eager_under_dynamo(fn: _F) -> _F:
    """Have dynamo run ``fn``, and what it calls, as Python, when a compiled module's call
    reaches it from code dynamo does not trace (``nn.Sequential.forward``).

    Dynamo compiles each frame it meets there that is not torch's own: gradviz's
    handler would have become a compiled function per op, where python runs the
    module as plain ops. Where dynamo traces a frame that calls ``fn``, it still
    inlines it (see ``_is_compiling``). A torch without this setting is left as it is.
    """
    try:
        from torch._C._dynamo.eval_frame import (
            _FrameAction,
            _FrameExecStrategy,
            set_code_exec_strategy,
        )

        skip = _FrameAction.SKIP
        set_code_exec_strategy(fn.__code__, _FrameExecStrategy(skip, skip))
    except (ImportError, AttributeError, TypeError, RuntimeError):
        pass
    return fn


def _only_our_hooks(ours: Sequence[Any], calls: Sequence[_Called]) -> bool:
    """Whether gradviz's are the only module hooks: none of the snippet's for all modules,
    nor one on a module it called (Grad-CAM's): torch then runs each call as it would
    with no hook at all, on its fast path."""
    if global_hook_count() != len(ours):
        return False
    return not any(
        module is not None and has_own_hooks(module) for module in (c[0]() for c in calls)
    )


def _about_our_hooks(text: str, ours: Sequence[Any]) -> bool:
    """Whether a warning is torch.compile's about global module hooks, and the only ones
    are gradviz's: python, without them, would not warn."""
    if not text.startswith("Using `torch.compile(module)` when there are global hooks"):
        return False
    from torch.nn.modules import module

    return global_hook_count() == len(ours) and all(
        handle.id in module._global_forward_pre_hooks or handle.id in module._global_forward_hooks
        for handle in ours
    )


def _compiling() -> bool:
    """Whether torch.compile or the JIT tracer is recording: gradviz's own reads would land
    in their graph (``torch.jit.trace`` then fails its check that two traces agree)."""
    return torch._C._get_tracing_state() is not None or _is_compiling()


_CALL_NAMES: dict[Any, str] = {}


def _call_name(func: Callable[..., Any]) -> str:
    """``mul`` for ``torch.Tensor.__mul__``; cached, as every recorded op asks."""
    try:  # no context manager here: this runs for every recorded op
        return _CALL_NAMES[func]
    except KeyError:
        pass
    except TypeError:  # an unhashable callable: named each time
        return _name_of(func)
    name = _CALL_NAMES[func] = _name_of(func)
    return name


_AS_OPS = {
    "truediv": "div",
    "rtruediv": "div",
    "rsub": "sub",
    "radd": "add",
    "rmul": "mul",
    "floordiv": "floor_divide",
    "getitem": "index",
}
"""Python's operators by the name of the op they run, as the graph's ops are named."""


def _subscript(index: object) -> str | None:
    """``[:, :4]`` for an index of ints and slices of ints, as the snippet wrote it; None
    for any other (tensors, lists)."""
    parts = []
    for i in index if isinstance(index, tuple) else (index,):
        if i is None or i is Ellipsis:
            parts.append("None" if i is None else "...")
        elif isinstance(i, int) and not isinstance(i, bool):
            parts.append(str(i))
        elif isinstance(i, slice) and all(
            x is None or (isinstance(x, int) and not isinstance(x, bool))
            for x in (i.start, i.stop, i.step)
        ):
            ends = f"{'' if i.start is None else i.start}:{'' if i.stop is None else i.stop}"
            parts.append(ends if i.step is None else f"{ends}:{i.step}")
        else:
            return None
    return f"[{', '.join(parts)}]"


def _constant_call(func: Callable[..., Any]) -> str:
    name = _call_name(func)
    return _AS_OPS.get(name, name)


def _name_of(func: Callable[..., Any]) -> str:
    name = getattr(func, "__name__", None) or type(func).__name__
    return name[2:-2] if name.startswith("__") and name.endswith("__") else name


_eager_under_dynamo(Recorder.__torch_function__)
