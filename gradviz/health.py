"""Gradient health: where gradients vanish, explode, go missing or turn NaN, and why.

Works on a captured Graph only (no torch), so ``gradviz doctor`` can also judge
a saved capture. Every number comes from the capture: norms of the values and
gradients torch computed, the order ops ran in, the snippet lines that ran them.
"""

from __future__ import annotations

import ast
import functools
import itertools
import math
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from gradviz.flow import Flow
from gradviz.model import Edge, Graph, Node, Param, TensorData

__all__ = ["Finding", "ParamHealth", "PathStep", "Report", "diagnose", "norm_of"]

VANISH = 1e-6
"""A gradient whose norm is under this fraction of the loss's magnitude has vanished."""
EXPLODE = 1e3
"""A gradient whose norm is over this has exploded."""


def norm_of(t: TensorData | None) -> float | None:
    """The L2 norm of a captured tensor (inf or nan when it holds such values)."""
    if t is None:
        return None
    if t.data is not None:
        total = 0.0
        for x in t.data:
            v = abs(x) if isinstance(x, complex) else float(x)
            total += v * v
        return math.sqrt(total)
    if t.stats is None:
        return None
    if t.stats.nan:
        return math.nan
    if t.stats.inf:
        return math.inf
    return t.stats.norm


def _finite(t: TensorData | None) -> bool:
    if t is None:
        return True
    if t.data is not None:
        return all(math.isfinite(abs(x) if isinstance(x, complex) else float(x)) for x in t.data)
    return t.stats is None or (t.stats.nan == 0 and t.stats.inf == 0)


@dataclass(frozen=True)
class ParamHealth:
    name: str
    shape: tuple[int, ...]
    value_norm: float | None
    grad_norm: float | None
    status: str
    """ok, vanishing, exploding, nan, no grad, frozen, no effect, flat, copied, not called,
    not asked, not tracked, swapped, zero seed, input"""

    @property
    def ratio(self) -> float | None:
        if self.value_norm is None or self.grad_norm is None or self.value_norm == 0:
            return None
        return self.grad_norm / self.value_norm


@dataclass(frozen=True)
class PathStep:
    """One tensor on the way from the loss to a parameter, and the op that made the next."""

    label: str
    grad_norm: float | None
    op: str | None = None
    line: int | None = None
    op_id: int | None = None
    tensor: int | None = None


@dataclass(frozen=True)
class Finding:
    kind: str
    """vanishing, exploding, no_grad, nan_forward, nan_backward, masked_nan,
    flat_derivative, dead_relu, stale_grad, squashed_twice, not_log_probabilities,
    broadcast_loss, kept_graphs; notes:
    no_effect, copied, not_asked, stopped, not_tracked, not_a_leaf, learned_target, eval_mode"""
    subject: str
    message: str
    line: int | None = None
    path: tuple[PathStep, ...] = ()
    culprit: str | None = None


@dataclass
class Report:
    loss: str
    loss_value: float | None
    params: list[ParamHealth] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    """What looks like a problem and is not (a bias that a normalization cancels, a layer
    that nn.TransformerEncoder copied)."""

    @property
    def healthy(self) -> bool:
        return not self.findings


class _Doctor:
    def __init__(self, graph: Graph, vanish: float, explode: float) -> None:
        self.g = graph
        self.vanish = vanish
        self.explode = explode
        self.producer: dict[int, int] = {}
        self.inputs: dict[int, list[int]] = {}
        self.consumers: dict[int, list[int]] = {}
        self.in_edges: dict[int, list[Edge]] = {}
        for e in graph.edges:
            if graph.node(e.src).kind == "op":
                self.producer[e.dst] = e.src
            else:
                self.inputs.setdefault(e.dst, []).append(e.src)
                self.consumers.setdefault(e.src, []).append(e.dst)
                self.in_edges.setdefault(e.dst, []).append(e)
        self.op_output: dict[int, int] = {op: t for t, op in self.producer.items()}
        self.flow = Flow(graph)
        self.backward_reach = self._reached_by_backward()
        self.zero_seeded = self._only_zero_seeded()
        self.loss_scale = self._loss_scale()
        self.summed = max((self._summed_from(o) for o in graph.outputs), default=1)
        self.judged_by = self._largest_loss_above()

    def _largest_loss_above(self) -> dict[int, float]:
        """For each node, the largest |output| whose graph reaches it.

        A gradient is judged against the loss it came from. A snippet that
        draws several graphs (fastai's notebook fits a quadratic with a loss
        of 677, then an MNIST loss of 0.5) must not judge the second graph's
        weights by the first loss. Outputs are walked largest first, so each
        node is visited once.
        """

        def size(out: int) -> float:
            n = norm_of(self.g.node(out).value)
            return n if n and math.isfinite(n) else 1.0

        judged: dict[int, float] = {}
        for out in sorted(self.g.outputs, key=size, reverse=True):
            scale, todo = size(out), [out]
            while todo:
                t = todo.pop()
                if t in judged:
                    continue
                judged[t] = scale
                op = self.producer.get(t)
                if op is not None:
                    todo.extend(self.inputs.get(op, ()))
        return judged

    def _loss_scale(self) -> float:
        """How much a constant multiplied the loss just before backward (1 if none).

        ``GradScaler.scale(loss)`` multiplies by 65,536 so that half-precision
        gradients do not underflow; every gradient is that much larger, and
        ``unscale_`` divides it out after backward. Told by the output: a
        product of one graph tensor and a constant, whose gradient is the factor.
        """
        if not self.g.outputs:
            return 1.0
        out = self.g.node(self.g.outputs[0])
        op = self.producer.get(out.id)
        if op is None or self.g.node(op).op != "mul" or len(self.inputs.get(op, [])) != 1:
            return 1.0
        seed, factor = norm_of(out.grad), norm_of(self.g.node(self.inputs[op][0]).grad)
        if not seed or factor is None or not math.isfinite(factor) or out.value is None:
            return 1.0
        if out.value.shape != ():
            return 1.0
        return max(factor / seed, 1.0)

    def _summed_from(self, out: int) -> int:
        """How many elements the loss ``out`` adds up where a mean would average them.

        PyTorch's VAE example sums its binary cross-entropy over a batch of 128
        images of 784 pixels: every gradient is 100,352 times what the mean would
        give, and a healthy one is in the thousands. Told by the ops the loss ends
        with: a ``sum`` (or a loss with ``reduction='sum'``) multiplies by the
        elements it adds per output; additions, constant factors and means keep
        what their inputs have. The largest such count over the loss's terms.
        """
        most, todo = 1, [(out, 1, 0)]
        while todo:
            t, factor, depth = todo.pop()
            most = max(most, factor)
            op_id = self.producer.get(t)
            if op_id is None or depth >= _SUM_STEPS:
                continue
            op, srcs = self.g.node(op_id), self.inputs.get(op_id, [])
            reduction = next((x.value for x in op.saved if x.name == "reduction"), None)
            if op.op == "sum" or reduction == "2":
                inner, outer = self.g.node(srcs[0]).value if srcs else None, self.g.node(t).value
                if inner is None or outer is None:
                    continue
                factor *= max(_numel(inner) // max(_numel(outer), 1), 1)  # a sum of sums too
            elif op.op not in _KEEPS_SCALE or (op.op in ("mul", "div") and len(srcs) != 1):
                continue  # a product of two graph tensors, or a loss averaged
            todo.extend((src, factor, depth + 1) for src in srcs)
        return most

    def _only_zero_seeded(self) -> set[int]:
        """Nodes that only passes started from a zero gradient reach.

        ``y.backward(torch.zeros_like(y))``, or ``grad_outputs`` of zeros (what
        ``torch.autograd.functional.jvp`` differentiates through): every
        gradient of such a pass is zero by construction, not because it vanished.
        """
        zero = [o for o in self.g.outputs if norm_of(self.g.node(o).grad) == 0]
        if not zero:
            return set()
        others = [o for o in self.g.outputs if o not in zero]
        return self.g.upstream(zero) - self.g.upstream(others)

    def _reached_by_backward(self) -> set[int] | None:
        """The nodes a backward() pass went through; None when every pass was one.

        ``torch.autograd.grad``, and ``backward(inputs=...)``, compute gradients
        for their ``inputs`` only: a leaf that only such passes reach gets none,
        and that is no fault.
        """
        if all(p.kind == "backward" and not p.inputs_only for p in self.g.passes):
            return None
        return self.g.upstream(
            r for p in self.g.passes if p.kind == "backward" and not p.inputs_only for r in p.roots
        )

    @functools.cached_property
    def _numbered(self) -> dict[int, str]:
        from gradviz.transforms import numbered_names

        return numbered_names(self.g)

    def label(self, node: Node) -> str:
        if node.names:
            return self._numbered.get(node.id, node.names[0])
        op = self.producer.get(node.id)
        return f"{self.g.node(op).op} output" if op is not None else f"tensor {node.id}"

    def where(self, node: Node) -> str:
        if node.source is None:
            return ""
        return f" at {self.g.meta.snippet}:{node.source.line} ({node.source.code})"

    # -- parameters -----------------------------------------------------------------

    def param(self, p: Param, scale: float) -> tuple[ParamHealth, Finding | None]:
        value_norm = norm_of(p.value)
        grad_norm = norm_of(p.grad)
        status, finding = "ok", None
        if not p.requires_grad:
            status = "frozen"
        elif grad_norm is None and not self._asked(p):
            status = "not asked"  # told in one note for all (see _not_asked_note)
        elif p.differentiated_line is not None and (
            grad_norm is None or grad_norm < self.vanish * scale
        ):
            status = "input"  # what autograd.grad differentiated at: its .grad trains nothing
        elif grad_norm is None and p.no_grad_line is not None and p.used_line is None:
            status = "not tracked"  # only under no_grad: a target network (_not_tracked_note)
        elif grad_norm is None and p.swapped_line is not None and p.used_line is None:
            status = "swapped"  # torch.func.functional_call used others (_swapped_note)
        elif grad_norm is None and (finding := self._only_differentiated(p)):
            status = "no effect"
        elif grad_norm is None and self._stopped_before(p):
            status = "stopped"  # told in one note (_stopped_note)
        elif grad_norm is None:
            status = "no grad"
            finding = self._no_grad(p)
        elif math.isnan(grad_norm) or math.isinf(grad_norm):
            status = "nan" if math.isnan(grad_norm) else "exploding"
            finding = Finding(
                "exploding" if status == "exploding" else "nan_backward",
                p.name,
                f"{p.name}.grad holds {'nan' if status == 'nan' else 'inf'}",
            )
        elif grad_norm == 0 and p.node in self.zero_seeded:
            status = "zero seed"  # told in one note (_zero_seed_note)
        elif p.node is not None and (grad_norm == 0 or grad_norm < self.vanish * scale):
            path = self.path_to(p.node)
            finding = self._zero_factor(p, grad_norm, scale, path)
            if finding is not None:
                status = "zero factor"
            elif finding := (
                self._uses_cancel(p, grad_norm, scale)
                or self._cancelled(p, grad_norm, scale, path)
                or self._normalized_away(p, grad_norm, scale, path)
            ):
                status = "no effect"
            elif finding := (
                self._summed_away(p, grad_norm, scale, path) or self._at_minimum(p, path)
            ):
                status = "flat"
            else:
                status = "vanishing"
                what = (
                    "is exactly zero although the graph uses it"
                    if grad_norm == 0
                    else f"is {grad_norm:.3g}, under {self.vanish:g} × |loss| ({scale:.3g})"
                )
                finding = self._vanished(p, grad_norm, what, path=path)
        elif grad_norm > self.explode * self.loss_scale * self.summed:
            status = "exploding"
            scaled = f" × {self.loss_scale:.3g}, the loss's scale" if self.loss_scale > 1 else ""
            if self.summed > 1:
                scaled += f" × {self.summed:,}, the elements the loss sums"
            finding = self._vanished(
                p, grad_norm, f"is {grad_norm:.3g}, over {self.explode:g}{scaled}", kind="exploding"
            )
            if self.g.meta.clipped:  # what backward made; the step gets it clipped
                clips = self.g.meta.clipped
                at = f"line{'s' if len(clips) > 1 else ''} {', '.join(map(str, clips))}"
                finding = replace(
                    finding,
                    message=f"{finding.message} (as backward made it: the snippet clips "
                    f"gradients before its steps, at {at}, which bounds each step but not "
                    "what backward computes)",
                )
        health = ParamHealth(p.name, p.value.shape, value_norm, grad_norm, status)
        return health, finding

    def _asked(self, p: Param) -> bool:
        """Whether a backward() pass could have given ``p`` its gradient (one with
        ``inputs=`` gives them only to those inputs)."""
        reach = self.backward_reach
        return reach is None or p.node is None or p.node in reach

    def _only_differentiated(self, p: Param) -> Finding | None:
        """No gradient because the loss uses the module's output only through its derivative.

        A SIREN fitted to gradients, a PINN whose loss is a residual of derivatives:
        ``torch.autograd.grad(out, x, create_graph=True)`` keeps the last layer's weight
        in the graph (the derivative goes through it) but not its bias, which only
        shifts ``out`` and shifts no derivative. Told by that: the snippet took a
        gradient with respect to a point, and the module's other parameters reach the
        loss while this one, which the module did use, does not.
        """
        module, _, own = p.name.rpartition(".")
        if not module or own != "bias" or p.used_line is None or p.detached_line is not None:
            return None
        if not any(q.differentiated_line is not None for q in self.g.params):
            return None  # nothing was differentiated with respect to a point: no such loss
        siblings = [q for q in self.g.params if q.name.rpartition(".")[0] == module and q is not p]
        if not siblings or not all(q.node is not None for q in siblings):
            return None
        message = (
            f"{p.name} got no gradient: the loss reaches {module} (used at "
            f"{self.g.meta.snippet}:{p.used_line}) only through the derivative of what it "
            f"computed, as a loss built on torch.autograd.grad(..., create_graph=True) does "
            f"(a PINN's residual, a SIREN fitted to gradients), and {p.name} only shifts "
            "that output, which shifts no derivative. Expected for such a loss; one that "
            "also compares the output itself (a boundary condition) gives it a gradient"
        )
        return Finding("no_effect", p.name, message, p.used_line)

    def _stopped_before(self, p: Param) -> bool:
        """The snippet's error (``--partial``) ended the run before backward reached a leaf
        its graph does reach: a nan caught by anomaly detection, an in-place error. The
        leaf lacks a gradient because of that error, which is told, not for a cut."""
        return self.g.meta.partial and p.node is not None and bool(self.path_to(p.node))

    def _no_grad(self, p: Param) -> Finding:
        if p.detached_line is not None:
            why = f"it was cut off by .detach() at {self.g.meta.snippet}:{p.detached_line}"
            line = p.detached_line
        elif p.used_line is not None:
            why = (
                f"it was used at {self.g.meta.snippet}:{p.used_line}, but nothing computed from "
                "it reached the loss"
            )
            line = p.used_line
        else:
            why = "the snippet never computed with it"
            line = None
        return Finding("no_grad", p.name, f"{p.name} requires grad but got none: {why}", line)

    def _cancelled(
        self, p: Param, norm: float, scale: float, path: tuple[PathStep, ...]
    ) -> Finding | None:
        """A tiny gradient that is no vanishing gradient: a shift or scale a later op takes away.

        A conv bias before BatchNorm, or a key bias before attention's softmax,
        adds the same amount to every value that the normalization (or softmax)
        then centres, so the loss does not depend on it and its gradient is
        zero up to rounding. A normalization's own weight, where only per-channel
        ops lead to the next normalization, scales what that one divides by its
        spread. Told apart from a gradient that faded on the way down: the
        gradient reaching the op that takes the parameter is healthy, the
        parameter enters that op as a shift (or a scale), and an op that cancels
        it lies above on the way to the loss.
        """
        if p.node is None or len(path) < 3:
            return None
        above = path[-2]
        if above.grad_norm is None or not above.grad_norm >= self.vanish * scale:
            return None  # it had faded before it reached the parameter's op
        uses = [
            (self.g.node(e.dst), e.slot)
            for c in self.consumers.get(p.node, [])
            for e in self.in_edges.get(c, [])
            if e.src == p.node and self.op_output.get(e.dst) is not None
        ]
        if not uses or len(uses) != len(self.consumers.get(p.node, [])):
            return None
        if all((op.op, slot) in _SHIFT_SLOTS for op, slot in uses):
            what = "shift"
        elif all((op.op, slot) in _SCALE_SLOTS for op, slot in uses):
            what = "scale"
        else:
            return None
        cancel = next(
            (
                step
                for step in reversed(path[:-2])
                if (step.op and _cancels_shifts(step.op) and (what == "shift" or _norm(step.op)))
                or (what == "shift" and step.op_id is not None and self._centres(step.op_id))
            ),
            None,
        )
        if cancel is None:
            return None
        inside = self.g.node(cancel.op_id).scope if cancel.op_id is not None else ()
        where = f" in {inside[-1]}" if inside else ""
        where += f" at line {cancel.line}" if cancel.line else ""
        if cancel.op == "sub":
            where += " (a tensor less its own mean)"
        op = uses[0][0]
        at = f" in {op.scope[-1]}" if op.scope else ""
        at += f" at line {op.source.line}" if op.source else ""
        redundant = "; such a bias can be left out (bias=False)" if not _norm(op.op or "") else ""
        message = (
            f"|{p.name}.grad| is {norm:.3g} while the gradient reaching {op.op}{at} is "
            f"{above.grad_norm:.3g}: the {cancel.op}{where} takes away any constant {what}, "
            f"so {p.name} cannot change the loss. Expected, not a vanishing gradient"
            f"{redundant}"
        )
        return Finding("no_effect", p.name, message, op.source.line if op.source else None, path)

    def _normalized_away(
        self, p: Param, norm: float, scale: float, path: tuple[PathStep, ...]
    ) -> Finding | None:
        """A tiny gradient because the loss is a sum or mean of a normalized output.

        ``model(x).sum().backward()`` on a model that ends in a norm (or softmax):
        the same gradient reaches every element of its output, and a normalized
        output always sums to the same, so nothing flows back through it; the
        parameters below get zero up to rounding. Told apart from a gradient that
        faded: a healthy gradient, equal for every element, reaches the
        normalization, and what leaves it for its input is next to nothing.
        """
        floor = self.vanish * scale
        for step, below in itertools.pairwise(path):
            if step.grad_norm is None or step.grad_norm < floor:
                return None  # it had faded above
            if not (step.op and _cancels_shifts(step.op)) or step.op_id is None:
                continue
            out = self.op_output.get(step.op_id)
            if out is None or (grad := self.g.node(out).grad) is None:
                continue
            if _uniform(grad):
                loss, sends = "a sum or mean", "the same gradient to every element"
                same, like = "sums to the same", "model(x).sum()"
            elif step.op.endswith("_norm") and _proportional(grad, self.g.node(out).value):
                loss, sends = "a sum or mean of squares", "each element a gradient in proportion"
                same, like = "has the same sum of squares", "model(x).pow(2).mean()"
            else:
                continue
            if below.grad_norm is None or below.grad_norm >= max(floor, 1e-3 * step.grad_norm):
                continue  # its learned scale made the gradient uneven again: it flowed
            where = f" at line {step.line}" if step.line else ""
            message = (
                f"|{p.name}.grad| is {norm:.3g}: the loss is {loss} of the output of "
                f"{step.op}{where}, which sends {sends}, and a normalized output always "
                f"{same}, so nothing flows back through it and {p.name} cannot change this "
                "loss. Expected for a loss like "
                f"{like}, not a vanishing gradient; a loss against a target would give it a "
                "gradient"
            )
            return Finding("no_effect", p.name, message, step.line, path)
        return None

    def _summed_away(
        self, p: Param, norm: float, scale: float, path: tuple[PathStep, ...]
    ) -> Finding | None:
        """A tiny gradient that is the sum of a healthy one's elements, which cancel.

        A parameter added to every element of a larger tensor (a bias, the
        constant term of a fitted polynomial) gets the sum of their gradients.
        When the gradient reaching that op is healthy and its sum is near zero,
        the loss is flat along the parameter: it has converged (the tutorial's
        ``a`` of ``a + b * P3(c + d * x)`` fitting the odd ``sin``), nothing faded.
        """
        floor = self.vanish * scale
        for upper, lower in itertools.pairwise(path):
            if upper.grad_norm is None or upper.grad_norm < floor:
                return None  # it had faded above
            if lower.grad_norm is not None and lower.grad_norm >= floor:
                continue
            if upper.op_id is None or lower.tensor is None or upper.tensor is None:
                return None
            if self._source(lower.tensor).id != p.node:
                return None  # not the parameter itself, nor a view of it (a bias reshaped)
            slots = {e.slot for e in self.in_edges.get(upper.op_id, []) if e.src == lower.tensor}
            if not any((upper.op, slot) in _SHIFT_SLOTS for slot in slots):
                return self._contracted_away(p, norm, floor, upper, lower, slots)
            above, below = self.g.node(upper.tensor).value, self.g.node(lower.tensor).value
            if above is None or below is None or _numel(below) >= _numel(above):
                return None  # not broadcast: nothing was summed
            where = f" at line {upper.line}" if upper.line else ""
            message = (
                f"|{p.name}.grad| is {norm:.3g} while the gradient reaching the {upper.op}"
                f"{where} is {upper.grad_norm:.3g}: {p.name} is added to each of its "
                f"{_numel(above):,} elements, so its gradient is the sum of theirs, and they "
                f"cancel out. The loss is flat along {p.name} here, as it is once a parameter "
                "has converged; not a vanishing gradient"
            )
            return Finding("no_effect", p.name, message, upper.line, path)
        return None

    def _contracted_away(
        self,
        p: Param,
        norm: float,
        floor: float,
        upper: PathStep,
        lower: PathStep,
        slots: set[int],
    ) -> Finding | None:
        """A tiny gradient that sums a healthy gradient's products with the data, which cancel.

        A weight's gradient through ``X @ w`` is ``Xᵀ g``: by Cauchy–Schwarz at most
        ``|X| |g|``. Far under that bound, with ``g`` healthy, the products cancel:
        ``g`` is orthogonal to the data's columns, which is what a fitted linear or
        generalized linear model's optimum is (a Poisson regression that has
        converged). A weight behind fading gradients, or multiplied by tiny data,
        has no such margin, and stays vanishing.
        """
        assert upper.op_id is not None and upper.tensor is not None and lower.tensor is not None
        factors = [i for i, name in enumerate(_CONTRACTIONS.get(upper.op or "", ())) if name]
        slot = next((s for s in sorted(slots) if s in factors), None)
        if slot is None:
            return None
        other = factors[1] if slot == factors[0] else factors[0]
        if upper.op == "mul":  # elementwise: a sum only where the parameter was broadcast
            above, below = self.g.node(upper.tensor).value, self.g.node(lower.tensor).value
            if above is None or below is None or _numel(below) >= _numel(above):
                return None
        data = norm_of(self._operand(upper.op_id, other))
        if data is None or upper.grad_norm is None or not math.isfinite(data):
            return None
        bound = data * upper.grad_norm
        if bound < floor or norm > _CANCELLED * bound:
            return None
        where = f" at line {upper.line}" if upper.line else ""
        message = (
            f"|{p.name}.grad| is {norm:.3g} while the gradient reaching the {upper.op}{where} "
            f"is {upper.grad_norm:.3g} and what {p.name} multiplies there has norm {data:.3g}: "
            f"{p.name}'s gradient sums their products, and they cancel out. The loss is flat "
            f"along {p.name} here, as at a fitted optimum (a regression that has converged); "
            "not a vanishing gradient"
        )
        return Finding("no_effect", p.name, message, upper.line)

    def _operand(self, op_id: int, slot: int) -> TensorData | None:
        """An op's input at ``slot``: a graph tensor's value, or the data it saved (the ``X``
        of ``X @ w``, which needs no gradient and has no node)."""
        src = self.input_at(op_id, slot)
        if src is not None:
            return self.g.node(src).value
        op = self.g.node(op_id)
        names = _CONTRACTIONS.get(op.op or "", ())
        name = names[slot] if slot < len(names) else None
        return next((s.tensor for s in op.saved if s.name == name and not s.freed), None)

    def _at_minimum(self, p: Param, path: tuple[PathStep, ...]) -> Finding | None:
        """A gradient of exactly zero because the loss sits at its minimum.

        A hinge or triplet loss is a mean (or sum) of ``clamp(margin - d, min=0)``:
        once every element meets its margin the clamp gives zero for all of them, the
        loss is 0 and flat around this point, and nothing flows back: the batch has
        nothing left to teach. A square of a difference that is zero (a model compared
        with an exact copy of itself) is flat there too. Told apart from a dead ReLU
        inside a network: only reductions, sums and constant factors lie between the
        op and the loss.
        """
        for i, (step, below) in enumerate(itertools.pairwise(path)):
            if below.grad_norm != 0:
                continue
            if step.op_id is None or step.tensor is None or below.tensor is None:
                return None
            if any(s.op not in _HINGE_TAIL for s in path[:i]):
                return None  # it feeds more than a sum: a dead unit, not a loss met
            where = f" at line {step.line}" if step.line else ""
            if step.op in _HINGES and _all_zero(self.g.node(step.tensor).value):
                met = (
                    f"the loss sums or averages the {step.op}{where}, which holds every "
                    "element at zero (each margin is met), so the loss is flat here and "
                    "this batch has nothing to teach. Expected for a hinge or triplet loss "
                    "once it is met"
                )
            elif self._equal_compared(step, below):
                met = (
                    f"the loss sums or averages the {step.op}{where} of a difference that "
                    "is zero here (what it compares is equal), so the loss is at its "
                    "minimum, flat, and nothing flows back. Expected where a model is "
                    "compared with an exact copy of itself"
                )
            else:
                return None
            message = f"|{p.name}.grad| is exactly zero: {met}, not a vanishing gradient"
            return Finding("no_effect", p.name, message, step.line, path)
        return None

    def _equal_compared(self, step: PathStep, below: PathStep) -> bool:
        """Whether ``step`` squares (or takes the distance of) a difference that is zero:
        ``(a - b) ** 2`` with ``a - b`` all zeros, an ``mse_loss`` of 0."""
        if step.op == "pow" and below.tensor is not None:
            made = self.producer.get(below.tensor)
            return (
                made is not None
                and self.g.node(made).op == "sub"
                and _all_zero(self.g.node(below.tensor).value)
            )
        return (
            step.op in _REGRESSION_LOSSES
            and step.tensor is not None
            and _all_zero(self.g.node(step.tensor).value)
        )

    def _zero_factor(
        self, p: Param, norm: float, scale: float, path: tuple[PathStep, ...]
    ) -> Finding | None:
        """A gradient of exactly zero because the parameter is multiplied by zeros that
        parameters made: LoRA starts its ``B`` at zero, ResNet's ``zero_init_residual``
        its last BatchNorm's gamma, ControlNet a convolution, DiT the linear layer behind
        each block's gate; what lies below gets no gradient until they have moved.
        Told apart from a gradient that faded: a healthy gradient reaches the product,
        and it is exactly zero from there down. A factor of zeros that will not move
        (data, an activation) is left a problem."""
        if norm != 0:
            return None
        floor = self.vanish * scale
        for step, below in itertools.pairwise(path):
            if step.grad_norm is None or step.grad_norm < floor:
                return None  # it had faded above
            if below.grad_norm != 0:
                continue
            factors = _FACTOR_SLOTS.get(step.op or "")
            if factors is None or step.op_id is None:
                return None
            edges = self.in_edges.get(step.op_id, [])
            if not any(e.src == below.tensor and e.slot in factors[0] for e in edges):
                return None  # it enters the op as a shift: a product did not zero it
            zeros = [
                e.src
                for e in edges
                if e.src != below.tensor
                and e.slot in factors[1]
                and _all_zero(self.g.node(e.src).value)
            ]
            made_by = self._zero_params(zeros[0]) if zeros else []
            if not made_by:
                return None  # data or an activation of zeros: that is a problem
            factor = self._source(zeros[0])
            name = self.label(factor)
            labels = [self.label(n) for n in made_by]
            made = " and ".join(labels) if len(labels) == 2 else _listed(labels)
            because = "" if factor.kind == "leaf" else f" because {made} {_are(made_by)}"
            where = f" at line {step.line}" if step.line else ""
            message = (
                f"|{p.name}.grad| is exactly zero: the {step.op}{where} multiplies it by "
                f"{name}, which is all zeros{because}, so no gradient passes back. Expected "
                f"while {made} {_are(made_by)} zero, as initialized on purpose (LoRA's B, "
                "ResNet's zero_init_residual, ControlNet's zero convolution, DiT's "
                "adaLN-Zero): what lies below gets a gradient once it has moved; not a "
                "vanishing gradient"
            )
            return Finding("no_effect", p.name, message, step.line, path)
        return None

    def _zero_params(self, tensor: int, depth: int = 0) -> list[Node]:
        """The parameters of zeros that make ``tensor`` all zeros, if they alone do: a
        parameter itself, a view or piece of one (``chunk`` of a zero ``Linear``'s
        output), a product with one, a sum of such. Empty when the zeros come from
        anything else (data, a dead activation), or the chain is too long to follow."""
        node = self.g.node(tensor)
        if not _all_zero(node.value) or depth > _ZERO_STEPS:
            return []
        if node.kind == "leaf":
            return [node] if node.param or node.names else []
        op = self.producer.get(tensor)
        if op is None:
            return []
        name = self.g.node(op).op or ""
        edges = self.in_edges.get(op, [])
        if name in _VIEWS or name in _PIECES:
            return self._zero_params(edges[0].src, depth + 1) if len(edges) == 1 else []
        if name in _FACTOR_SLOTS:  # one zero factor zeroes the product; a shift must be zero too
            products: list[int] = []
            shifts: list[int] = []
            stops, by = _FACTOR_SLOTS[name]
            for e in edges:
                if e.slot in by:
                    products.append(e.src)
                elif e.slot not in stops:  # a bias, a norm's beta: what a zero factor leaves
                    shifts.append(e.src)
            made = next((m for t in products if (m := self._zero_params(t, depth + 1))), [])
            rest = self._each_zero_params(shifts, depth + 1)
            return made + rest if rest is not None else []
        if name in ("add", "sub", "cat", "stack"):
            return self._each_zero_params([e.src for e in edges], depth + 1) or []
        return []

    def _each_zero_params(self, tensors: Sequence[int], depth: int) -> list[Node] | None:
        """The parameters of zeros behind each of ``tensors``; None unless each has some."""
        made: list[Node] = []
        for t in tensors:
            more = self._zero_params(t, depth)
            if not more:
                return None
            made += more
        return made

    def input_at(self, op: int, slot: int) -> int | None:
        """The graph tensor that comes into ``op`` at ``slot`` (None: not one of the graph's)."""
        return next((e.src for e in self.in_edges.get(op, []) if e.slot == slot), None)

    def _source(self, tensor: int) -> Node:
        """The tensor a chain of views starts from (``layer.lora_B`` for its transpose)."""
        node = self.g.node(tensor)
        for _ in range(_VIEW_STEPS):
            op = self.producer.get(node.id)
            srcs = self.inputs.get(op, []) if op is not None else []
            if node.names or op is None or len(srcs) != 1 or self.g.node(op).op not in _VIEWS:
                break
            node = self.g.node(srcs[0])
        return node

    def _uses_cancel(self, p: Param, norm: float, scale: float) -> Finding | None:
        """A tiny gradient that is the sum of healthy ones of opposite signs: the parameter's
        uses pull equally both ways (a WGAN critic's output bias, in D(fake) - D(real)),
        so the loss does not depend on it here; nothing faded on the way down."""
        assert p.node is not None
        uses = self.flow.uses.get(p.node, [])
        if len(uses) < 2 or not self.flow.adds_up(p.node):
            return None
        sent = [norm_of(self.flow.along(e)) for e in uses]
        known = [s for s in sent if s is not None]
        if len(known) != len(sent) or max(known) < self.vanish * scale:
            return None  # each use sent next to nothing: that is a vanishing gradient
        message = (
            f"|{p.name}.grad| is {norm:.3g} while its {len(uses)} uses sent gradients of "
            f"norm up to {max(known):.3g}, which cancel out: the loss does not depend on "
            f"{p.name} here. Expected when the loss takes a difference of two uses "
            "(D(fake) - D(real)), not a vanishing gradient"
        )
        return Finding("no_effect", p.name, message, None)

    def _centres(self, op_id: int) -> bool:
        """Whether ``op_id`` is ``x - mean(x)``, batch norm written out by hand (makemore's
        ``bndiff = hprebn - bnmeani``): a constant added to ``x`` leaves it unchanged.

        The subtracted tensor must come from ``x`` alone, through a sum or mean
        and scalings or reshapes of it (a product with another graph tensor is
        no scaling).
        """
        if self.g.node(op_id).op != "sub":
            return False
        edges = sorted(self.in_edges.get(op_id, []), key=lambda e: e.slot)
        if len(edges) != 2:
            return False
        x, t = edges[0].src, edges[1].src
        reduced = False
        for _ in range(_CENTRING_STEPS):
            op = self.producer.get(t)
            srcs = self.inputs.get(op, []) if op is not None else []
            if op is None or len(srcs) != 1:
                return False
            name = self.g.node(op).op or ""
            if name in ("sum", "mean"):
                reduced = True
            elif name not in _SCALINGS:
                return False
            t = srcs[0]
            if t == x:
                return reduced
        return False

    def _vanished(
        self,
        p: Param,
        norm: float,
        what: str,
        kind: str = "vanishing",
        path: tuple[PathStep, ...] | None = None,
    ) -> Finding:
        if path is None:
            path = self.path_to(p.node) if p.node is not None else ()
        culprit = _culprit(path, shrink=kind == "vanishing")
        message = f"|{p.name}.grad| {what}"
        return Finding(kind, p.name, message, None, path, culprit)

    # -- paths ----------------------------------------------------------------------

    def upstream(self, op: int) -> set[int]:
        """The tensors and leaves an op's inputs were computed from, its inputs included."""
        seen: set[int] = set()
        stack = list(self.inputs.get(op, []))
        while stack:
            t = stack.pop()
            if t in seen:
                continue
            seen.add(t)
            made_by = self.producer.get(t)
            if made_by is not None:
                stack.extend(self.inputs.get(made_by, []))
        return seen

    def zeros_downstream(self, tensor: int) -> set[int]:
        """``tensor`` and what was computed from it while it stayed all zeros (a max
        pool, an unpool, a reshape of a dead ReLU's output)."""
        seen: set[int] = set()
        stack = [tensor]
        while stack:
            t = stack.pop()
            if t in seen or not _all_zero(self.g.node(t).value):
                continue
            seen.add(t)
            for op in self.consumers.get(t, []):
                if op in self.op_output:
                    stack.append(self.op_output[op])
        return seen

    def meets(self, tensor: int, others: Collection[int]) -> bool:
        """Whether an op takes ``tensor`` (or a view of it: ``addmm`` takes a weight's
        ``t``) together with one of ``others``."""
        seen = [tensor]
        for _ in range(_VIEW_STEPS):
            views = []
            for op in (op for t in seen for op in self.consumers.get(t, [])):
                if any(src in others for src in self.inputs.get(op, [])):
                    return True
                if self.g.node(op).op in _VIEWS and op in self.op_output:
                    views.append(self.op_output[op])
            if not views:
                break
            seen = views
        return False

    def path_to(self, leaf: int) -> tuple[PathStep, ...]:
        """Tensors from an output down to ``leaf`` (shortest path), with their grad norms."""
        parent: dict[int, int] = {}
        queue = deque(self.g.outputs)
        seen = set(self.g.outputs)
        while queue:
            t = queue.popleft()
            if t == leaf:
                break
            op = self.producer.get(t)
            for src in self.inputs.get(op, []) if op is not None else []:
                if src not in seen:
                    seen.add(src)
                    parent[src] = t
                    queue.append(src)
        if leaf not in seen:
            return ()
        chain = [leaf]
        while chain[-1] in parent:
            chain.append(parent[chain[-1]])
        chain.reverse()
        steps = []
        for i, tid in enumerate(chain):
            node = self.g.node(tid)
            op_node = None
            if i + 1 < len(chain):
                op_id = self.producer.get(tid)
                op_node = self.g.node(op_id) if op_id is not None else None
            steps.append(
                PathStep(
                    label=self.label(node),
                    grad_norm=norm_of(node.grad),
                    op=op_node.op if op_node else None,
                    line=op_node.source.line if op_node and op_node.source else None,
                    op_id=op_node.id if op_node else None,
                    tensor=tid,
                )
            )
        return tuple(steps)

    # -- nan and inf ----------------------------------------------------------------

    def first_bad_forward(self) -> Finding | None:
        """The first op, in the order the forward pass ran, whose output is not finite.

        Only when it did harm: a causal mask fills scores with ``-inf`` on
        purpose, and softmax turns them into zeros; when every output and every
        gradient is finite, nothing went wrong.
        """
        if self._all_finite_downstream():
            return None
        bad: list[tuple[int, Node, Node]] = []
        for node in self.g.tensors():
            op_id = self.producer.get(node.id)
            if op_id is None or _finite(node.value):
                continue
            if all(_finite(self.g.node(i).value) for i in self.inputs.get(op_id, [])):
                made_by = self.g.node(op_id)
                bad.append((made_by.step or 0, node, made_by))
        if not bad:
            return None
        _, node, made_by = min(bad, key=lambda b: b[0])
        what = "nan" if "nan" in _describe_bad(node.value) else "inf"
        return Finding(
            "nan_forward",
            self.label(node),
            f"{made_by.op} made {what} in the forward pass{self.where(made_by)}",
            made_by.source.line if made_by.source else None,
        )

    def _all_finite_downstream(self) -> bool:
        outputs_finite = all(_finite(self.g.node(o).value) for o in self.g.outputs)
        return outputs_finite and all(_finite(n.grad) for n in self.g.nodes)

    def first_bad_backward(self) -> Finding | None:
        """The first op, in the order backward ran, that turned finite gradients non-finite."""
        bad = []
        for op in self.g.ops():
            out = self.op_output.get(op.id)
            if out is None or not _finite(self.g.node(out).grad):
                continue
            for edge in self.in_edges.get(op.id, []):
                if not _finite(self.flow.along(edge)):
                    bad.append((op.backward_step or 0, op, self.g.node(edge.src)))
                    break
        if not bad:
            return None
        _, op, src = min(bad, key=lambda b: b[0])
        masked = self._masked_nan(op)
        if masked is not None:
            return masked
        advice = _INFINITE_SLOPES.get(op.op or "")
        return Finding(
            "nan_backward",
            self.label(src),
            f"in backward, {op.op} sent a non-finite gradient to {self.label(src)}{self.where(op)}"
            + (f": {advice}" if advice else ""),
            op.source.line if op.source else None,
        )

    def _masked_nan(self, op: Node) -> Finding | None:
        """The ``torch.where`` trap: ``where(x > 0, sqrt(x), 0)`` hides sqrt's nan from the
        forward pass, not from backward. The dropped elements get a gradient of zero, and
        sqrt's backward multiplies it by a derivative that is not finite there: 0 × inf
        is nan. Found when the op's output reaches an op that drops elements (through
        views and constant factors) and the gradient it got back holds zeros."""
        out = self.op_output.get(op.id)
        if out is None or not _has_zero(self.g.node(out).grad):
            return None
        dropper = self._dropped_by(out)
        if dropper is None:
            return None
        return Finding(
            "masked_nan",
            self.label(self.g.node(out)),
            f"{dropper.op} drops some of {op.op}'s elements{self.where(dropper)}, but "
            f"backward still goes through {op.op} for them: they get a gradient of 0, "
            f"{op.op}'s derivative there is not finite, and 0 × inf is nan. Replace those "
            f"elements before {op.op} instead, with torch.where(mask, x, 1.0) as its "
            f"input, so that {op.op} only sees values where it is finite",
            op.source.line if op.source else None,
        )

    def _dropped_by(self, tensor: int) -> Node | None:
        """An op that keeps only some of ``tensor``'s elements, directly or through views
        and constant factors (``1 / x`` is a reciprocal times 1)."""
        for _ in range(_VIEW_STEPS):
            following = None
            for c in self.consumers.get(tensor, []):
                op = self.g.node(c)
                if op.op in _DROPPERS:
                    return op
                if op.op in _VIEWS or (op.op in _SCALINGS and len(self.inputs.get(c, [])) == 1):
                    following = self.op_output.get(c)  # zeros stay zeros through these
            if following is None:
                return None
            tensor = following
        return None


_INFINITE_SLOPES = {
    "sqrt": "its derivative 1 / (2 sqrt(x)) is infinite at 0 (a distance or norm of zero); "
    "add a small epsilon inside, sqrt(x + 1e-12), or clamp x away from 0",
    "rsqrt": "its derivative is infinite at 0: add a small epsilon inside, or clamp x away from 0",
    "log": "its derivative 1 / x is infinite at 0: log(x + 1e-12), or clamp x away from 0",
    "reciprocal": "its derivative -1 / x² is infinite at 0: add a small epsilon to the divisor",
    "div": "a divisor of 0 makes its derivative infinite: add a small epsilon to the divisor",
    "pow": "x ** p with p < 1 has an infinite derivative at 0: add a small epsilon to x",
    "acos": "its derivative is infinite at ±1: clamp the input to (-1 + 1e-7, 1 - 1e-7)",
    "asin": "its derivative is infinite at ±1: clamp the input to (-1 + 1e-7, 1 - 1e-7)",
}
"""Ops whose derivative is infinite somewhere finite, and the usual way around it."""


_DROPPERS = frozenset({"where", "masked_fill", "index", "masked_select"})
"""Ops that keep some elements of an input and send the others a gradient of zero."""


_SHIFT_SLOTS = frozenset(
    {
        ("convolution", 2),  # (input, weight, bias)
        ("addmm", 0),  # linear: bias + input @ weight.T
        ("baddbmm", 0),
        ("add", 0),
        ("add", 1),
        ("sub", 0),
        ("sub", 1),
        ("native_batch_norm", 2),  # (input, weight, bias): its beta
        ("native_group_norm", 2),
        ("native_layer_norm", 2),
    }
)
"""Ops and input slots where a parameter is added to the op's result."""


_SCALE_SLOTS = frozenset(
    {("native_batch_norm", 1), ("native_group_norm", 1), ("native_layer_norm", 1)}
)
"""Ops and input slots where a parameter scales the op's result: a normalization's gamma.

A later normalization takes such a scale away where nothing in between breaks it
(MobileNetV2's BatchNorm, ReLU6 and depthwise convolution, then BatchNorm again, at
initialization's zero beta): the loss does not depend on it."""


_CENTRING_STEPS = 6
_SCALINGS = frozenset({"mul", "div", "expand", "view", "unsqueeze", "reshape", "neg"})
"""Ops that, with one graph input, only scale or reshape it (a mean written as 1/n * sum)."""


_BOTH = frozenset({0, 1})
_FACTOR_SLOTS: dict[str, tuple[frozenset[int], frozenset[int]]] = {
    **{op: (_BOTH, _BOTH) for op in ("mul", "mm", "bmm", "mv", "dot", "matmul", "convolution")},
    **{op: (frozenset({1, 2}), frozenset({1, 2})) for op in ("addmm", "baddbmm", "addmv")},
    **{
        op: (frozenset({0}), frozenset({1}))
        for op in ("native_batch_norm", "native_group_norm", "native_layer_norm")
    },
}
"""Products: the input slots a zero factor stops the gradient of, and the slots such
a factor comes in by (a normalization's gamma multiplies what its input becomes; a
bias is no factor)."""
_CONTRACTIONS: dict[str, tuple[str | None, ...]] = {
    "mm": ("self", "mat2"),
    "mv": ("self", "vec"),
    "bmm": ("self", "mat2"),
    "dot": ("self", "tensor"),
    "mul": ("self", "other"),
    "addmm": (None, "mat1", "mat2"),
    "addmv": (None, "mat", "vec"),
    "baddbmm": (None, "batch1", "batch2"),
}
"""Products whose gradient to one factor sums its products with the other (``Xᵀ g``):
by input slot, the name each factor is saved under for backward (None: a bias)."""
_CANCELLED = 1e-3
"""A gradient under this share of its Cauchy–Schwarz bound, ``|X| |g|``, cancelled."""
_HINGES = frozenset(
    {"clamp", "clamp_min", "relu", "threshold", "maximum", "multi_margin_loss"}
    | {"multilabel_margin_loss", "margin_ranking_loss", "hinge_embedding_loss"}
)
"""Ops a hinge loss ends in: zero wherever the margin is met."""
_HINGE_TAIL = frozenset({"mean", "sum", "add", "sub", "mul", "div", "neg"})
_REGRESSION_LOSSES = frozenset({"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"})
"""Losses of 0 where prediction and target are equal, whose derivative is zero there."""
_PIECES = frozenset({"split", "split_with_sizes", "unbind", "select", "slice", "clone"})
_ZERO_STEPS = 8
_VIEWS = frozenset({"t", "permute", "transpose", "view", "reshape", "expand", "unsqueeze"})
_VIEW_STEPS = 4


_SUM_STEPS = 8
_KEEPS_SCALE = frozenset({"add", "sub", "neg", "mul", "div", "mean"})
"""Ops between a loss and its sums that keep their scale: ``BCE + KLD``, ``-0.5 * sum``."""


def _numel(t: TensorData) -> int:
    return math.prod(t.shape)


def _all_zero(t: TensorData | None) -> bool:
    """Whether every element of ``t`` is zero (a LoRA ``B`` at its start)."""
    if t is None:
        return False
    if t.data is not None:
        return bool(t.data) and all(x == 0 for x in t.data)
    stats = t.stats
    return stats is not None and stats.min == 0 and stats.max == 0 and not stats.nan


def _has_zero(t: TensorData | None) -> bool:
    """Whether some element of ``t`` is zero (for a summary: zero lies in its range)."""
    if t is None:
        return False
    if t.data is not None:
        return any(x == 0 for x in t.data)
    s = t.stats
    return s is not None and s.min is not None and s.max is not None and s.min <= 0 <= s.max


def _uniform(t: TensorData) -> bool:
    """Whether every element of ``t`` is the same nonzero number (the gradient of a sum)."""
    if t.data is not None:
        return bool(t.data) and t.data[0] != 0 and all(x == t.data[0] for x in t.data)
    stats = t.stats
    return stats is not None and stats.min is not None and stats.min == stats.max != 0


def _proportional(grad: TensorData, value: TensorData | None) -> bool:
    """Whether ``grad`` is a nonzero multiple of ``value``, element by element: the
    gradient of a mean of squares. From the numbers when both were kept, else from
    the summaries, which all scale by the same factor (min and max swap places for a
    negative one)."""
    if value is None or grad.shape != value.shape:
        return False
    if grad.data is not None and value.data is not None:
        squares = sum(v * v for v in value.data)
        if not squares:
            return False
        pairs = list(zip(grad.data, value.data, strict=True))
        c = sum(g * v for g, v in pairs) / squares
        tol = 1e-4 * max(abs(g) for g, _ in pairs)
        return c != 0 and all(abs(g - c * v) <= tol for g, v in pairs)
    gs, vs = grad.stats, value.stats
    if gs is None or vs is None:
        return False
    g_min, g_max, g_mean, g_norm = gs.min, gs.max, gs.mean, gs.norm
    v_min, v_max, v_mean, v_norm = vs.min, vs.max, vs.mean, vs.norm
    if None in (g_min, g_max, g_mean, v_min, v_max, v_mean) or not g_norm or not v_norm:
        return False
    assert g_min is not None and g_max is not None and g_mean is not None  # for mypy
    assert v_min is not None and v_max is not None and v_mean is not None
    c = g_norm / v_norm
    close = functools.partial(math.isclose, rel_tol=1e-3, abs_tol=1e-5 * g_norm)
    g_std, v_std = gs.std, vs.std

    def fits(sign: float) -> bool:
        lo, hi = (v_min, v_max) if sign > 0 else (-v_max, -v_min)
        return (
            close(g_min, c * lo)
            and close(g_max, c * hi)
            and close(g_mean, sign * c * v_mean)
            and (g_std is None or v_std is None or close(g_std, c * v_std))
        )

    return fits(1.0) or fits(-1.0)


def _cancels_shifts(op: str) -> bool:
    """Normalizations and softmax: a constant added along what they normalize vanishes."""
    return "softmax" in op or _norm(op) or "scaled_dot_product" in op


def _norm(op: str) -> bool:
    """Normalizations: they take away a constant shift and a constant scale alike."""
    return op.endswith("_norm")


def _copied_prototypes(params: Sequence[Param]) -> dict[str, list[str]]:
    """Parameters of a module the snippet only handed over to be copied, and where the copies are.

    ``nn.TransformerEncoder(encoder_layer, num_layers=6)`` deep-copies
    ``encoder_layer``: the snippet's own layer is never called, and its
    parameters never get a gradient, which is expected. Such a module is told
    by its parameters: none was used, and the same names below it, with the
    same shapes, appear under two or more deeper prefixes that were
    (``transformer_encoder.layers.0.``, ``.1.``, ...). A spare module with one
    look-alike elsewhere is no prototype (see ``_set_aside`` for one nothing steps).
    """
    unused: dict[str, list[Param]] = {}
    for p in params:
        head, _, rest = p.name.partition(".")
        if rest and p.node is None and p.used_line is None and p.detached_line is None:
            unused.setdefault(head, []).append(p)
    used = {p.name: p for p in params if p.node is not None}
    found: dict[str, list[str]] = {}
    for head, group in unused.items():
        if any(p.name.startswith(head + ".") and p.name in used for p in params):
            continue  # part of the module was used: not a prototype
        copies: set[str] | None = None
        for p in group:
            rest = p.name.partition(".")[2]
            here = {
                name[: -len(rest)]
                for name, q in used.items()
                if name.endswith("." + rest)
                and name.count(".") > p.name.count(".")
                and q.value.shape == p.value.shape
            }
            copies = here if copies is None else copies & here
        if copies is not None and len(copies) >= 2:
            for p in group:
                found[p.name] = sorted(copies)
    return found


def _are(things: Sequence[object]) -> str:
    return "is" if len(things) == 1 else "are"


def _listed(names: Sequence[str], most: int = 3) -> str:
    """``a, b, c and 2 more``: a note names a few and counts the rest."""
    rest = len(names) - most
    return ", ".join(names[:most]) + (f" and {rest} more" if rest > 0 else "")


def _stopped_note(names: Sequence[str]) -> list[Finding]:
    if not names:
        return []
    return [
        Finding(
            "stopped",
            names[0],
            f"{_listed(names)} got no gradient: the snippet's error ended the run before "
            f"backward reached {'it' if len(names) == 1 else 'them'}",
        )
    ]


def _not_asked_note(names: Sequence[str]) -> list[Finding]:
    if not names:
        return []
    shown = _listed(names)
    return [
        Finding(
            "not_asked",
            names[0],
            f"{shown} {'is' if len(names) == 1 else 'are'} reached only by passes that give "
            "gradients to their inputs alone (torch.autograd.grad(), backward(inputs=...)). "
            "Expected",
        )
    ]


def _set_aside(params: Sequence[Param]) -> set[str]:
    """Modules the snippet holds, never called, and no optimizer steps: a copy set aside.

    ``best_model = copy.deepcopy(model)`` keeps the best epoch's weights; none of
    them takes part in any computation, and none should get a gradient. Told by
    the variable: no parameter under it was used, in the graph, under
    ``no_grad`` or through ``functional_call``, and no optimizer holds one. A
    layer the forward pass forgot (``model.fc3``) lies under a module that was
    called, and a model whose parameters an optimizer was given but that nothing
    called stays a problem.
    """
    groups: dict[str, list[Param]] = {}
    for p in params:
        head, dot, _ = p.name.partition(".")
        if dot:
            groups.setdefault(head, []).append(p)
    return {
        head
        for head, group in groups.items()
        if not any(
            p.node is not None
            or p.used_line is not None
            or p.detached_line is not None
            or p.no_grad_line is not None
            or p.swapped_line is not None
            or p.optimized
            for p in group
        )
    }


def _set_aside_notes(heads: Collection[str], health: Sequence[ParamHealth]) -> list[Finding]:
    notes = []
    for head in sorted(heads):
        count = sum(1 for h in health if h.name.startswith(head + ".") and h.status == "not called")
        if not count:
            continue
        notes.append(
            Finding(
                "not_called",
                head,
                f"{head} was never called and no optimizer steps it: its {count} "
                f"parameter{'s' if count > 1 else ''} took no part in any computation. "
                "Expected for a copy set aside (copy.deepcopy(model) for the best epoch); "
                f"if it should learn, call it in the forward pass and give the optimizer "
                f"{head}.parameters()",
            )
        )
    return notes


def _not_tracked_note(graph: Graph, quiet: Sequence[Param]) -> list[Finding]:
    if not quiet:
        return []
    names = [p.name for p in quiet]
    shown = _listed(names)
    line = min(p.no_grad_line for p in quiet if p.no_grad_line is not None)
    where = f" ({graph.meta.snippet}:{line})" if line else ""
    return [
        Finding(
            "not_tracked",
            names[0],
            f"{shown} {'was' if len(names) == 1 else 'were'} only used under torch.no_grad()"
            f"{where}, where autograd records nothing, so no gradient can reach "
            f"{'it' if len(names) == 1 else 'them'}. Expected for a target network or a "
            "frozen copy; if it should learn, compute the loss outside no_grad",
            line or None,
        )
    ]


_FLAT_DERIVATIVES = {
    "threshold_backward": "relu",
    "leaky_relu_backward": "leaky_relu",
    "hardtanh_backward": "hardtanh (relu6)",
    "hardsigmoid_backward": "hardsigmoid",
}
"""The gradients of piecewise-linear activations: the same on each side of a kink, so
nothing passes back through them to their input, only to the gradient they scale."""


def _flat_derivative(graph: Graph, starved: Sequence[str]) -> list[Finding]:
    """Why gradients are zero or missing in a graph that differentiates a ReLU's derivative.

    A loss built on gradients (a PINN's ``u_xx``, a WGAN-GP's penalty on the
    gradient with respect to its input) runs the activation's backward as an
    op; for ReLU and its kin its slope is constant on each side of the kink, so
    the derivative of that op with respect to its input is zero. A PINN with
    ReLU cannot learn from ``u_xx``: told once, before what it causes.
    """
    if not starved:
        return []
    flat = [n for n in graph.ops() if n.op in _FLAT_DERIVATIVES]
    if not flat:
        return []
    first = min(flat, key=lambda n: (n.source.line if n.source else math.inf, n.id))
    activation = _FLAT_DERIVATIVES[first.op or ""]
    where = f" at line {first.source.line}" if first.source else ""
    return [
        Finding(
            "flat_derivative",
            activation,
            f"the graph differentiates the derivative of {activation} ({first.op}{where}): "
            f"{activation} is linear on each side of its kink, so its derivative is "
            "constant there and sends nothing back to its input. A loss built on "
            "gradients (a PINN's second derivative, a gradient penalty) reaches "
            f"{_listed(starved)} only that way, which gets "
            f"{'it' if len(starved) == 1 else 'them'} nothing. A smooth "
            "activation (tanh, softplus, SiLU) passes it",
            first.source.line if first.source else None,
        )
    ]


def _dead_relu(doctor: _Doctor, starved: Sequence[str]) -> list[Finding]:
    """Why parameters get exactly zero: a ReLU that gave zero for every input of the batch.

    ReLU sends back nothing where it gave zero, so a ReLU dead across the batch
    (its inputs all at or below zero: a large negative bias, a step too large,
    an unlucky initialization) starves every parameter below it, and a layer
    fed its zeros gets a weight gradient of zeros too. Told once, before the
    vanishing gradients it causes, with the parameters it explains.
    """
    if not starved:
        return []
    g = doctor.g
    dead = [
        op
        for op in g.ops()
        if op.op == "relu"
        and op.id in doctor.op_output
        and _all_zero(g.node(doctor.op_output[op.id]).value)
    ]
    if not dead:
        return []
    first = min(dead, key=lambda n: (n.source.line if n.source else math.inf, n.id))
    below = doctor.upstream(first.id)
    zeros = doctor.zeros_downstream(doctor.op_output[first.id])
    leaf_of = {p.name: p.node for p in g.params if p.node is not None}
    above = [
        name
        for name in starved
        if leaf_of.get(name) not in below and doctor.meets(leaf_of.get(name, -1), zeros)
    ]
    under = [name for name in starved if leaf_of.get(name) in below]
    if not under and not above:
        return []
    where = f" at line {first.source.line}" if first.source else ""
    parts = []
    if under:
        parts.append(f"{_listed(under)} {'gets' if len(under) == 1 else 'get'} none through it")
    if above:
        parts.append(
            f"{_listed(above)}, fed its zeros, {'gets' if len(above) == 1 else 'get'} "
            "a gradient of zeros"
        )
    return [
        Finding(
            "dead_relu",
            "relu",
            f"every output of the relu{where} is zero for this batch (all its inputs were "
            "at or below zero), and relu sends back nothing where it gave zero: "
            f"{' and '.join(parts)}. A dead ReLU: a smaller learning rate, another "
            "initialization or seed, or LeakyReLU keeps its units alive",
            first.source.line if first.source else None,
        )
    ]


_SQUEEZED = "each score is squashed twice, and the gradients shrink as the model grows confident"
_SQUASHED_TWICE: dict[tuple[str, str], tuple[str, str, str, str, str]] = {
    ("log_softmax", "softmax"): (
        "squashed_twice",
        "cross_entropy",
        "cross_entropy applies log_softmax itself",
        _SQUEEZED,
        "Pass the logits, the scores before softmax (drop the nn.Softmax at the end of "
        "the model, or apply it only to read probabilities)",
    ),
    ("binary_cross_entropy_with_logits", "sigmoid"): (
        "squashed_twice",
        "BCEWithLogitsLoss",
        "BCEWithLogitsLoss applies sigmoid itself",
        _SQUEEZED,
        "Pass the logits (drop the nn.Sigmoid at the end of the model), or keep the "
        "sigmoid and use nn.BCELoss",
    ),
    ("nll_loss", "softmax"): (
        "not_log_probabilities",
        "nll_loss",
        "nll_loss takes log-probabilities",
        "it then maximizes each target's probability rather than its log, and learns "
        "slowly once it is wrong",
        "Use log_softmax (nn.LogSoftmax) before nn.NLLLoss, or nn.CrossEntropyLoss on the logits",
    ),
}
"""A loss given what it should not be, (its op, the op before it): the finding's kind,
the loss, why, what follows, and the fix."""


def _squashed_twice(doctor: _Doctor) -> list[Finding]:
    """A loss that takes logits given probabilities: ``nn.Softmax`` at the end of a model
    trained with ``nn.CrossEntropyLoss``, ``nn.Sigmoid`` with ``nn.BCEWithLogitsLoss``
    (or ``nn.NLLLoss`` given probabilities, not their log).

    It trains, badly: each score is squashed twice, the loss cannot go below a floor
    and its gradients shrink as the model grows confident. A beginner's bug that no
    error reports; found by the op the loss starts from, through views.
    """
    g = doctor.g
    found: list[Finding] = []
    for op in g.ops():
        scores = doctor.input_at(op.id, 0)
        before = doctor.producer.get(doctor._source(scores).id) if scores is not None else None
        if before is None:
            continue
        made = g.node(before)
        words = _SQUASHED_TWICE.get((op.op or "", made.op or ""))
        if words is None:
            continue
        kind, loss, because, follows, fix = words
        at = f" at line {made.source.line}" if made.source else ""
        inside = f" in {made.scope[-1]}" if made.scope else ""
        line = op.source.line if op.source else None
        found.append(
            Finding(
                kind,
                made.op or "",
                f"{loss}{f' at line {line}' if line else ''} is given the output of "
                f"{made.op}{inside}{at}, but {because}: {follows}. {fix}",
                line,
            )
        )
    return found


_ELEMENTWISE_LOSSES = frozenset(
    {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy"}
)


def _broadcast_losses(doctor: _Doctor) -> list[Finding]:
    """A loss whose prediction was broadcast against a target of another shape.

    ``nn.MSELoss()(model(x), y)`` with a prediction of N×1 and a target of N: both
    become N×N, every prediction compared with every target, and the model learns
    the targets' mean. Torch warns once, in words that name no fix; the loss is
    found by the expand that ``F.mse_loss`` puts before it.
    """
    g = doctor.g
    found: list[Finding] = []
    for op in g.ops():
        if op.op not in _ELEMENTWISE_LOSSES:
            continue
        pred = doctor.input_at(op.id, 0)
        expand = doctor.producer.get(pred) if pred is not None else None
        if pred is None or expand is None or g.node(expand).op != "expand":
            continue
        before = doctor.inputs.get(expand, [])
        wide = g.node(pred).value
        narrow = g.node(before[0]).value if len(before) == 1 else None
        if wide is None or narrow is None or not 1 < _numel(narrow) < _numel(wide):
            continue  # one number fitted to many (a mean) is broadcast on purpose
        shape = "×".join(map(str, narrow.shape)) or "scalar"
        both = "×".join(map(str, wide.shape))
        at = f" at line {op.source.line}" if op.source else ""
        found.append(
            Finding(
                "broadcast_loss",
                op.op or "loss",
                f"{op.op}{at} compares a {shape} prediction with a target of another shape: "
                f"both were broadcast to {both}, every prediction against every target, and "
                "the model learns the targets' mean. Make the shapes match: "
                "`pred.squeeze(1)`, or the target as a column, `y.view(-1, 1)`",
                op.source.line if op.source else None,
            )
        )
    return found


def _learned_targets(doctor: _Doctor) -> list[Finding]:
    """A regression loss whose target carries gradients: DQN's ``r + gamma *
    q(s').max(1).values`` computed without ``torch.no_grad()`` or ``.detach()``.

    Backward then moves the target toward the prediction as much as the
    prediction toward the target. Sometimes meant (two learned sides that should
    agree), so a note, not a problem: it says where, and how to hold it still.
    """
    g = doctor.g
    found: list[Finding] = []
    for op in g.ops():
        if op.op not in _REGRESSION_LOSSES:
            continue
        target = doctor.input_at(op.id, 1)
        if target is None:
            continue
        at = f" at line {op.source.line}" if op.source else ""
        found.append(
            Finding(
                "learned_target",
                doctor.label(g.node(target)),
                f"{op.op}{at} compares against {doctor.label(g.node(target))}, which "
                "carries gradients: backward moves it toward the prediction as much as the "
                "prediction toward it. A target meant to hold still (a DQN's r + gamma * "
                "max Q) is computed under torch.no_grad() or .detach()ed",
                op.source.line if op.source else None,
            )
        )
    return found


def _kept_graphs(graph: Graph) -> list[Finding]:
    """A running total of loss tensors (``total_loss += loss``): each step's graph stays
    alive in it, the memory grows with the loop (PyTorch's FAQ's first item)."""
    return [
        Finding(
            "kept_graphs",
            name,
            f"{name} adds up tensors in a loop ({name} += ... at line {line}), graphs and all: "
            "it keeps every step's graph alive, and the memory grows with each step. Add "
            f"each step's number instead, with .item(): `{name} += loss.item()`, as "
            "PyTorch's FAQ advises",
            line,
        )
        for name, line in graph.meta.kept_graphs
    ]


def _eval_mode_norms(doctor: _Doctor) -> list[Finding]:
    """BatchNorm in eval mode on the way to a loss whose pass trains its parameters: the
    loop left ``model.eval()`` on (a validation step, then no ``model.train()``).

    It normalizes with running statistics that no longer update, and dropout is off.
    Freezing BatchNorm while fine-tuning does the same on purpose, so it is one note.
    """
    g = doctor.g
    optimized = {p.node for p in g.params if p.optimized and p.node is not None}
    frozen = [
        op
        for op in g.ops()
        if op.op == "native_batch_norm"
        and any(s.name == "training" and s.value == "False" for s in op.saved)
        and doctor.input_at(op.id, 1) in optimized
    ]
    if not frozen:
        return []
    first = frozen[0]
    where = _listed([op.scope[-1] for op in frozen if op.scope])
    at = f" at line {first.source.line}" if first.source else ""
    return [
        Finding(
            "eval_mode",
            first.scope[-1] if first.scope else "batch_norm",
            f"batch norm{f' in {where}' if where else ''}{at} ran in eval mode while an "
            "optimizer trains its weight: it normalizes with running statistics that no "
            "longer update, and any dropout is off. If a validation step left model.eval() "
            "on, call model.train() before training again; a batch norm frozen on purpose "
            "while fine-tuning is fine",
            first.source.line if first.source else None,
        )
    ]


def _stale_grads(graph: Graph) -> list[Finding]:
    """Leaves whose ``.grad`` kept adding up while their value changed: a loop that steps
    (``w -= lr * w.grad``, ``opt.step()``) and never resets the gradient, so each step
    uses the gradients of all the earlier values too. The lecture's point that
    ``.grad`` accumulates, met where it hurts; accumulating over micro-batches and then
    stepping once changes nothing in between, and is not this."""
    stale = [n for n in graph.nodes if n.kind == "leaf" and n.grad_stale]
    if not stale:
        return []
    ids = {n.id for n in stale}
    listed = [p.name for p in graph.params if p.node in ids]  # as the table lists them
    named = {p.node for p in graph.params}
    names = listed + [n.name or f"leaf {n.id}" for n in stale if n.id not in named]
    passes = max(n.grad_passes for n in stale)
    line = graph.passes[-1].line if graph.passes else None
    last = f" (the last at line {line})" if line else ""
    if len(names) == 1:
        what = f"{names[0]}.grad adds up {passes} backward passes{last}, and {names[0]}"
        fix = f"Reset it after each step: {names[0]}.grad.zero_(), or {names[0]}.grad = None"
    else:
        what = f"{_listed(names)}: each .grad adds up {passes} backward passes{last}, and they"
        fix = "Reset them after each step: optimizer.zero_grad(), or p.grad = None for each"
    return [
        Finding(
            "stale_grad",
            names[0],
            f"{what} changed between them, so each update used the gradients of earlier "
            f"values too. {fix}",
            line,
        )
    ]


def _not_leaves(doctor: _Doctor) -> list[Finding]:
    """A variable the snippet meant as a weight that is not a leaf: ``W = torch.randn(3, 4,
    requires_grad=True) * 0.1``.

    The leaf is the tensor ``randn`` made, which nothing names; ``W`` is the product,
    whose ``.grad`` stays None (torch warns when it is read), so a hand-written
    update of ``W`` fails and an optimizer refuses it. Told by the graph: a leaf
    with no name whose only use is one op of it alone, whose output the snippet
    named, as a variable or a path (``model.layers[0].W``), not as a call of its
    own code (``l2_penalty(w)``).
    """
    g = doctor.g
    found = []
    for leaf in g.nodes:
        if leaf.kind != "leaf" or leaf.names or leaf.param or leaf.grad is None:
            continue
        uses = doctor.consumers.get(leaf.id, [])
        if len(uses) != 1 or doctor.inputs.get(uses[0], []) != [leaf.id]:
            continue
        op = g.node(uses[0])
        if op.op not in _INITIALIZING:
            continue  # S of ``U, S, Vh = torch.linalg.svd(...)`` is no weight
        made = doctor.op_output.get(op.id)
        names = g.node(made).names if made is not None else ()
        if not names or "(" in names[0]:
            continue
        name = names[0]
        where = f" at line {op.source.line}" if op.source else ""
        found.append(
            Finding(
                "not_a_leaf",
                name,
                f"{name} is not a leaf: the {op.op}{where} made it from a tensor created "
                f"with requires_grad=True, which has no name. {name}.grad stays None (torch "
                "warns when it is read) and the gradient goes to that tensor, out of the "
                "snippet's reach. Ask for the gradient last, to make "
                f"{name} the leaf: {_leaf_fix(op.source.code if op.source else '', name)}",
                op.source.line if op.source else None,
            )
        )
    return found


_INITIALIZING = _SCALINGS | _VIEWS | {"add", "sub", "rsub", "squeeze", "to_copy", "clone"}
"""What a line that makes a weight does to ``torch.randn(..., requires_grad=True)``: a
scale (``* 0.01``, ``/ math.sqrt(n)``), a shift, a reshape, a ``.double()`` or ``.cuda()``."""


def _leaf_fix(code: str, name: str) -> str:
    """``W = (torch.randn(3, 4) * 0.1).requires_grad_()`` for ``W = torch.randn(3, 4,
    requires_grad=True) * 0.1`` (or ``self.W = ...`` in a class the snippet holds as
    ``model``): the line rewritten, when it is that plain."""
    generic = f"{name} = (...).requires_grad_()"
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return generic
    stmt = tree.body[0] if len(tree.body) == 1 else None
    if not (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name | ast.Attribute | ast.Subscript)
    ):
        return generic
    target = ast.unparse(stmt.targets[0])
    asked = False
    for call in ast.walk(stmt.value):
        if isinstance(call, ast.Call):
            kept = [k for k in call.keywords if k.arg != "requires_grad"]
            asked = asked or len(kept) < len(call.keywords)
            call.keywords = kept
    if not asked:
        return generic
    fixed = ast.Call(ast.Attribute(stmt.value, "requires_grad_", ast.Load()), args=[], keywords=[])
    return f"{target} = {ast.unparse(fixed)}"


def _zero_seed_note(names: Sequence[str]) -> list[Finding]:
    if not names:
        return []
    one = len(names) == 1
    return [
        Finding(
            "zero_seed",
            names[0],
            f"{_listed(names)} {'has' if one else 'have'} a zero gradient because the only "
            f"pass{'' if one else 'es'} reaching {'it' if one else 'them'} started from a zero "
            "gradient (backward(gradient=...) or grad_outputs of zeros). Expected",
        )
    ]


def _swapped_note(graph: Graph, swapped: Sequence[Param]) -> list[Finding]:
    if not swapped:
        return []
    names = [p.name for p in swapped]
    line = min(p.swapped_line for p in swapped if p.swapped_line is not None)
    where = f" ({graph.meta.snippet}:{line})" if line else ""
    one = len(names) == 1
    return [
        Finding(
            "swapped",
            names[0],
            f"{_listed(names)} {'was' if one else 'were'} swapped for other tensors while "
            f"{'its' if one else 'their'} module ran{where}, as torch.func.functional_call "
            "does: the tensors passed in get the gradients, the module's own parameters "
            "none. Expected",
            line or None,
        )
    ]


def _prototype_notes(prototypes: Mapping[str, list[str]]) -> list[Finding]:
    by_module: dict[str, list[str]] = {}
    for name, copies in prototypes.items():
        by_module.setdefault(name.partition(".")[0], copies)
    notes = []
    for module, copies in by_module.items():
        count = sum(1 for name in prototypes if name.startswith(module + "."))
        shown = ", ".join(c.rstrip(".") for c in copies[:2])
        more = f" … {copies[-1].rstrip('.')}" if len(copies) > 2 else ""
        notes.append(
            Finding(
                "copied",
                module,
                f"{module} was never called: its {count} parameters match those of {shown}"
                f"{more}, which were. A module like nn.TransformerEncoder copies the layer it "
                f"is given, so {module}'s own parameters are not part of the model. Expected",
            )
        )
    return notes


def _describe_bad(t: TensorData | None) -> str:
    if t is None:
        return ""
    if t.data is not None:
        return " ".join(str(x) for x in t.data)
    return "nan" if t.stats and t.stats.nan else "inf"


def _culprit(path: tuple[PathStep, ...], shrink: bool) -> str | None:
    """The op on the path whose gradient steps shrank (or grew) the norm the most.

    Ops of one kind are taken together: ten sigmoids that each take a fifth away
    are what a deep sigmoid net's gradient vanishes through (the lecture's case),
    though the loss's own mean, once, shrinks it more than any one of them.
    """
    steps: dict[str, list[tuple[float, int | None]]] = {}
    for upper, lower in itertools.pairwise(path):
        if not upper.grad_norm or lower.grad_norm is None or upper.op is None:
            continue
        steps.setdefault(upper.op, []).append((lower.grad_norm / upper.grad_norm, upper.line))
    best: tuple[float, str] | None = None
    for op, found in steps.items():
        factor = math.prod(f for f, _ in found)
        key = factor if shrink else -factor
        if best is not None and key >= best[0]:
            continue
        lines = sorted({line for _, line in found if line is not None})
        where = (
            f" at line {lines[0]}"
            if len(lines) == 1
            else f" at lines {', '.join(map(str, lines[:3]))}{', …' if len(lines) > 3 else ''}"
            if lines
            else ""
        )
        if len(found) == 1:
            text = f"{op}{where} (×{factor:.3g})"
        else:
            each = factor ** (1 / len(found)) if factor > 0 else 0.0
            text = f"{op}{where}, {len(found)} times (×{factor:.3g} together, ×{each:.3g} each)"
        best = (key, text)
    return best[1] if best else None


def diagnose(graph: Graph, vanish: float = VANISH, explode: float = EXPLODE) -> Report:
    """Judge every parameter's gradient, and find where non-finite values first appeared."""
    from gradviz.transforms import without_module_hooks  # transforms reads health's norms

    graph = without_module_hooks(graph)
    doctor = _Doctor(graph, vanish, explode)
    # the loss the snippet called backward() on, before what autograd.grad differentiated
    # (a Jacobian's rows, by torch.autograd.functional), which heads the table otherwise
    heads = [r for p in graph.passes if p.kind == "backward" for r in p.roots]
    head = heads[0] if heads else graph.outputs[0] if graph.outputs else None
    out = graph.node(head) if head is not None else None
    loss_norm = norm_of(out.value) if out is not None else None
    scale = loss_norm if loss_norm and math.isfinite(loss_norm) else 1.0
    report = Report(
        loss=doctor.label(out) if out is not None else "",
        loss_value=loss_norm,
    )
    if not graph.passes:
        report.findings.append(
            Finding("no_backward", report.loss, "no backward pass ran: there are no gradients")
        )
    prototypes = _copied_prototypes(graph.params)
    set_aside = _set_aside(graph.params)
    stale = {n.id for n in graph.nodes if n.grad_stale}
    for p in graph.params:
        judged = doctor.judged_by.get(p.node, scale) if p.node is not None else scale
        health, finding = doctor.param(p, judged)
        if p.node in stale and health.status == "ok":
            health = replace(health, status="stale")  # told in one problem (_stale_grads)
        if p.name in prototypes and health.status == "no grad":
            health = replace(health, status="copied")
            finding = None
        elif p.name.partition(".")[0] in set_aside and health.status == "no grad":
            health = replace(health, status="not called")  # one note (_set_aside_notes)
            finding = None
        if health in report.params:
            continue  # torch.func's wrappers of one tensor, a leaf per transform: one row
        report.params.append(health)
        if finding is not None and graph.passes:
            (report.notes if finding.kind == "no_effect" else report.findings).append(finding)
    report.notes.extend(_prototype_notes(prototypes))
    report.notes.extend(_set_aside_notes(set_aside, report.params))
    report.notes.extend(_not_asked_note([h.name for h in report.params if h.status == "not asked"]))
    report.notes.extend(_stopped_note([h.name for h in report.params if h.status == "stopped"]))
    tracked = {h.name for h in report.params if h.status == "not tracked"}
    report.notes.extend(_not_tracked_note(graph, [p for p in graph.params if p.name in tracked]))
    report.notes.extend(_zero_seed_note([h.name for h in report.params if h.status == "zero seed"]))
    swapped = {h.name for h in report.params if h.status == "swapped"}
    report.notes.extend(_swapped_note(graph, [p for p in graph.params if p.name in swapped]))
    report.notes.extend(_learned_targets(doctor))
    report.notes.extend(_eval_mode_norms(doctor))
    if graph.passes:  # a note: a snippet that needed the .grad raised, or printed None
        report.notes.extend(_not_leaves(doctor))
    forward, backward = doctor.first_bad_forward(), doctor.first_bad_backward()
    hidden = all(_finite(graph.node(o).value) for o in graph.outputs)
    if backward is not None and backward.kind == "masked_nan" and hidden:
        forward = None  # a mask hid it: its harm is what backward made of it
    first_bad = [forward, backward]
    report.findings[:0] = [f for f in first_bad if f is not None]
    detached = {p.name for p in graph.params if p.detached_line is not None}
    starved = [
        h.name
        for h in report.params
        if (h.status == "vanishing" and h.grad_norm == 0)
        or (h.status == "no grad" and h.name not in detached)
    ]
    report.findings[:0] = _flat_derivative(graph, starved) + _dead_relu(doctor, starved)
    report.findings[:0] = _stale_grads(graph)  # the cause of what it inflates
    report.findings.extend(_squashed_twice(doctor) + _broadcast_losses(doctor))
    report.findings.extend(_kept_graphs(graph))
    return report
