"""The captured graph as plain data: what capture produces and every renderer reads.

Nothing here imports torch, so a saved ``.json`` capture can be re-rendered on a
machine without it. Node ids are assigned breadth-first from the outputs, so the
same snippet always gives the same ids and byte-identical JSON.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from gradviz.collector import while_paused

__all__ = [
    "SCHEMA_VERSION",
    "Constant",
    "Edge",
    "Graph",
    "GraphFormatError",
    "Meta",
    "Module",
    "Node",
    "NodeKind",
    "Param",
    "Pass",
    "Saved",
    "Scalar",
    "Source",
    "Stats",
    "TensorData",
]

SCHEMA_VERSION = 1

NodeKind = Literal["op", "leaf", "tensor", "output", "module"]
PassKind = Literal["backward", "grad"]
Scalar = float | int | bool | complex

_NODE_KINDS: tuple[NodeKind, ...] = ("op", "leaf", "tensor", "output", "module")
_PASS_KINDS: tuple[PassKind, ...] = ("backward", "grad")


class GraphFormatError(ValueError):
    """A JSON document is not a gradviz graph this version can read."""


@dataclass(frozen=True)
class Stats:
    """Summary of a tensor too large to keep whole (or of any numeric tensor).

    ``min``/``max``/``mean``/``std`` and the L2 ``norm`` are over the finite
    elements (None when there are none); ``nan`` and ``inf`` count the elements
    that are not finite. Complex tensors are summarized by their magnitudes.
    """

    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    nan: int = 0
    inf: int = 0
    norm: float | None = None


@dataclass(frozen=True)
class TensorData:
    """A tensor's metadata and its numbers, detached from torch.

    ``data`` holds every element in row-major order when the tensor is small;
    for large tensors it is None and ``stats`` summarizes them.
    """

    shape: tuple[int, ...]
    dtype: str
    device: str = "cpu"
    data: tuple[Scalar, ...] | None = None
    stats: Stats | None = None

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Source:
    """The snippet line that made a tensor (the file is ``Graph.meta.snippet``)."""

    line: int
    code: str


@dataclass(frozen=True)
class Saved:
    """One value an op saved for its backward: a tensor, or a scalar attribute.

    ``ref`` is the id of the graph node whose tensor this is, when it is one of
    them (``self`` of a ``mul`` is its first input); ``label`` the snippet's
    name for a saved tensor that is not in the graph (the input ``x`` of a
    layer, a target ``y``). ``freed`` marks a saved tensor that backward had
    released before it could be read.
    """

    name: str
    tensor: TensorData | None = None
    value: str | None = None
    ref: int | None = None
    freed: bool = False
    label: str | None = None


@dataclass(frozen=True)
class Constant:
    """A tensor input of an op that needs no gradient (``y`` in ``y_pred - y``).

    The graph has no node for it: autograd's ``next_functions`` slot ``slot`` is
    empty. ``label`` is the snippet's name for it, ``ref`` the graph tensor whose
    memory it shares (``x.detach()``), and ``tensor`` its numbers when it is small
    (only its shape and dtype otherwise).
    """

    slot: int
    tensor: TensorData | None = None
    ref: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class Node:
    """A tensor (leaf, intermediate or output) or an op of the autograd graph.

    (``module`` nodes appear only in simplified pictures: a whole module call
    drawn as one node, see ``gradviz.transforms``.)

    Op nodes stand for one autograd node (``grad_fn``) each, leaves for one
    ``AccumulateGrad``; intermediate and output tensors are the outputs of ops
    that something used. ``grad`` is a leaf's ``.grad`` after the last backward
    pass, or the gradient that flowed into an intermediate tensor; ``grad_passes``
    says how many backward passes added into it. ``step`` orders ops (and the
    tensors they made) as the forward pass ran them; ``backward_step`` orders
    ops as backward ran them. ``scope`` is the chain of module calls an op ran
    in, outermost first (``("model", "model.0")``); a parameter's is its module's.
    ``copy_of`` marks a drawn copy of a shared leaf (pictures only).
    """

    id: int
    kind: NodeKind
    names: tuple[str, ...] = ()
    op: str | None = None
    autograd: str | None = None
    call: str | None = None
    value: TensorData | None = None
    grad: TensorData | None = None
    grad_passes: int = 0
    grad_stale: int = 0
    """How many updates of the leaf used a ``.grad`` that adds up backward passes made at
    different values of it: a training loop that steps and never resets ``.grad``."""
    param: bool = False
    source: Source | None = None
    saved: tuple[Saved, ...] = ()
    step: int | None = None
    backward_step: int | None = None
    scope: tuple[str, ...] = ()
    copy_of: int | None = None
    grad_hook: int | None = None
    """The snippet line that hooked this tensor's gradient (``register_hook``; 0 if unknown):
    its ``grad`` is what the hook returned, not the sum of what its uses sent."""
    constants: tuple[Constant, ...] = ()
    """An op's tensor inputs that need no gradient, by ``next_functions`` slot."""

    @property
    def name(self) -> str | None:
        """The first name the snippet gave this tensor, if any."""
        return self.names[0] if self.names else None

    @property
    def constant_names(self) -> list[str]:
        """The snippet's names for an op's inputs that need no grad (``y`` of ``y_pred - y``)."""
        return [c.label for c in self.constants if c.label is not None]


@dataclass(frozen=True)
class Edge:
    """Data flowing forward: from a tensor into an op, or from an op to its output.

    ``slot`` is the op's input position (``next_functions`` index) for an input
    edge and the ``output_nr`` for an output edge. ``grad`` is the gradient that
    the op sent back along an input edge during backward.
    """

    src: int
    dst: int
    slot: int = 0
    grad: TensorData | None = None


@dataclass(frozen=True)
class Pass:
    """One call of ``backward()`` / ``torch.autograd.grad`` whose graph is shown."""

    index: int
    kind: PassKind
    roots: tuple[int, ...]
    line: int | None = None
    retain_graph: bool = False
    create_graph: bool = False
    inputs_only: bool = False
    """``backward(inputs=...)``: gradients went only to those inputs."""


@dataclass(frozen=True)
class Param:
    """A parameter of a module the snippet holds, whether or not the graph used it.

    ``node`` is its leaf in the graph (None when the graph never used it);
    ``used_line`` the first snippet line that computed with it;
    ``detached_line`` the snippet line where a ``.detach()`` cut it off (itself
    or a result computed from it); ``no_grad_line`` the first line that called
    its module under ``torch.no_grad()``; ``swapped_line`` the first line that
    ran its module with another tensor in its place (``torch.func.functional_call``).
    ``differentiated_line`` (leaves of no module only) the first line whose
    ``torch.autograd.grad`` took the gradient with respect to it: a point the snippet
    differentiates at (a PINN's ``x``, a gradient penalty's mix), not a weight it trains.
    ``optimized``: an optimizer the snippet holds steps it.
    ``value`` is what the forward pass saw when it is in the graph.
    """

    name: str
    value: TensorData
    grad: TensorData | None = None
    requires_grad: bool = True
    node: int | None = None
    used_line: int | None = None
    detached_line: int | None = None
    no_grad_line: int | None = None
    swapped_line: int | None = None
    differentiated_line: int | None = None
    optimized: bool = False


@dataclass(frozen=True)
class Module:
    """A module whose call ran ops of the graph: its label (as nodes' ``scope`` holds it,
    ``model.0``) and its class (``Linear``), which pictures show beside the label."""

    name: str
    kind: str


@dataclass(frozen=True)
class Meta:
    """Where a capture came from."""

    snippet: str
    torch: str = ""
    gradviz: str = ""
    passes_total: int = 0
    partial: bool = False
    kept_graphs: tuple[tuple[str, int], ...] = ()
    """Variables a loop adds loss tensors to (``total_loss += loss``), each with the line:
    what they hold keeps every step's graph alive (PyTorch's FAQ: use ``loss.item()``)."""
    clipped: tuple[int, ...] = ()
    """The snippet lines that clip gradients (``clip_grad_norm_``): a step uses less than
    the gradients backward made, which the graph shows."""


@dataclass(frozen=True)
class Graph:
    """The captured autograd graph, ready for transforms and renderers."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    outputs: tuple[int, ...]
    passes: tuple[Pass, ...] = ()
    meta: Meta = field(default_factory=lambda: Meta(snippet=""))
    params: tuple[Param, ...] = ()
    modules: tuple[Module, ...] = ()

    def node(self, node_id: int) -> Node:
        node = self.nodes[node_id]
        if node.id != node_id:  # ids are positions unless a transform renumbered
            return next(n for n in self.nodes if n.id == node_id)
        return node

    def by_name(self, name: str) -> Node:
        """The tensor node the snippet called ``name``; KeyError if none."""
        for node in self.nodes:
            if name in node.names:
                return node
        raise KeyError(name)

    def inputs(self, node_id: int) -> list[Edge]:
        """Edges into ``node_id``, in slot order."""
        return sorted((e for e in self.edges if e.dst == node_id), key=lambda e: e.slot)

    def upstream(self, roots: Iterable[int]) -> set[int]:
        """Every node ``roots`` were computed from, the roots and the ops between included:
        what a backward pass from them goes through."""
        into: dict[int, list[int]] = {}
        for e in self.edges:
            into.setdefault(e.dst, []).append(e.src)
        reached: set[int] = set()
        stack = list(roots)
        while stack:
            nid = stack.pop()
            if nid not in reached:
                reached.add(nid)
                stack.extend(into.get(nid, ()))
        return reached

    def module_kind(self, name: str) -> str | None:
        """The class of the module called ``name`` (``TransformerEncoderLayer``), if known."""
        for m in self.modules:
            if m.name == name:
                return m.kind
        return None

    def module_title(self, name: str) -> str:
        """``model.1: TransformerEncoder``: a module's label with its class, unless the label
        says it already (``Linear#2``, a module no name reached) or the class is unknown."""
        kind = self.module_kind(name)
        if kind is None or name == kind or name.startswith(kind + "#"):
            return name
        return f"{name}: {kind}"

    def ops(self) -> Iterator[Node]:
        return (n for n in self.nodes if n.kind == "op")

    def tensors(self) -> Iterator[Node]:
        return (n for n in self.nodes if n.kind not in ("op", "module"))

    # -- display (notebooks) ---------------------------------------------------

    def render(self, path: str | Path, **style: Any) -> Path:
        """Write this graph to ``path`` (format from its suffix) with ``RenderOptions`` style."""
        from gradviz.output import write_atomic
        from gradviz.renderers import format_for, make_renderer
        from gradviz.renderers.base import RenderOptions

        target = Path(path)
        options = RenderOptions(**style)
        out_format = format_for(None, target)
        drawn = self
        if out_format.name != "json":  # the JSON keeps the whole graph
            drawn, notes = self._for_picture(options)
            for note in notes:
                warnings.warn(f"gradviz: {note}", stacklevel=2)
        write_atomic(target, make_renderer(out_format, options).render(drawn))
        return target

    def _for_picture(self, options: Any) -> tuple[Graph, list[str]]:
        from gradviz.transforms import PYTHON, for_picture

        return for_picture(
            self,
            fold=options.fold,
            module_depth=options.module_depth,
            max_nodes=options.max_nodes,
            spelling=PYTHON,
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter shows the SVG inline (a text summary when Graphviz is missing)."""
        bundle = {"text/plain": self._summary()}
        svg = self._repr_svg_()
        if svg is not None:
            bundle["image/svg+xml"] = svg
        return bundle

    def _repr_svg_(self) -> str | None:
        from gradviz.errors import DotError
        from gradviz.renderers import format_for, make_renderer
        from gradviz.renderers.base import RenderOptions

        options = RenderOptions()
        try:
            drawn, _ = self._for_picture(options)  # a big graph stays quick to lay out
            svg = make_renderer(format_for("svg", None), options).render(drawn)
        except DotError:
            return None
        return svg if isinstance(svg, str) else svg.decode("utf-8")

    def _summary(self) -> str:
        ops = sum(1 for n in self.nodes if n.kind == "op")
        names = ", ".join(n for node in self.nodes if node.kind != "op" for n in node.names[:1])
        return (
            f"<gradviz Graph of {self.meta.snippet}: {len(self.nodes)} nodes, {ops} ops; {names}>"
        )

    # -- JSON ---------------------------------------------------------------

    @while_paused
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "gradviz.graph",
            "version": SCHEMA_VERSION,
            "meta": _drop_empty(
                {
                    "snippet": self.meta.snippet,
                    "torch": self.meta.torch,
                    "gradviz": self.meta.gradviz,
                    "passes_total": self.meta.passes_total,
                    "partial": self.meta.partial,
                    "kept_graphs": [{"name": n, "line": ln} for n, ln in self.meta.kept_graphs],
                    "clipped": list(self.meta.clipped),
                }
            ),
            "outputs": list(self.outputs),
            "passes": [_pass_to_dict(p) for p in self.passes],
            "nodes": [_node_to_dict(n) for n in self.nodes],
            "edges": [_edge_to_dict(e) for e in self.edges],
            "params": [_param_to_dict(p) for p in self.params],
            **({"modules": [asdict(m) for m in self.modules]} if self.modules else {}),
        }

    @while_paused
    def to_json(self) -> str:
        """Deterministic JSON text (same graph, same bytes), one node or edge per line.

        One item a line keeps files of 100,000 nodes compact and their diffs
        (goldens, captures kept in a deck) readable.
        """
        data = self.to_dict()
        lines = ["{"]
        keys = list(data)
        for i, key in enumerate(keys):
            end = "," if i < len(keys) - 1 else ""
            value = data[key]
            if isinstance(value, list) and value and isinstance(value[0], dict):
                lines.append(f"  {_dump(key)}: [")
                lines.extend(
                    f"    {_dump(item)}{',' if j < len(value) - 1 else ''}"
                    for j, item in enumerate(value)
                )
                lines.append(f"  ]{end}")
            else:
                lines.append(f"  {_dump(key)}: {_dump(value)}{end}")
        lines.append("}")
        return "\n".join(lines) + "\n"

    @classmethod
    @while_paused
    def from_dict(cls, data: Mapping[str, Any]) -> Graph:
        if data.get("schema") != "gradviz.graph":
            raise GraphFormatError("not a gradviz graph: 'schema' is not \"gradviz.graph\"")
        version = data.get("version")
        if version != SCHEMA_VERSION:
            raise GraphFormatError(
                f"graph schema version {version!r} is not supported (this gradviz reads "
                f"version {SCHEMA_VERSION})"
            )
        try:
            meta = data.get("meta", {})
            return cls(
                nodes=tuple(_node_from_dict(n) for n in data["nodes"]),
                edges=tuple(_edge_from_dict(e) for e in data["edges"]),
                outputs=tuple(int(i) for i in data["outputs"]),
                passes=tuple(_pass_from_dict(p) for p in data.get("passes", ())),
                params=tuple(_param_from_dict(p) for p in data.get("params", ())),
                modules=tuple(
                    Module(str(m["name"]), str(m["kind"])) for m in data.get("modules", ())
                ),
                meta=Meta(
                    snippet=str(meta.get("snippet", "")),
                    torch=str(meta.get("torch", "")),
                    gradviz=str(meta.get("gradviz", "")),
                    passes_total=int(meta.get("passes_total", 0)),
                    partial=bool(meta.get("partial", False)),
                    kept_graphs=tuple(
                        (str(k["name"]), int(k["line"])) for k in meta.get("kept_graphs", [])
                    ),
                    clipped=tuple(int(line) for line in meta.get("clipped", [])),
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GraphFormatError(f"malformed gradviz graph: {exc!r}") from exc

    @classmethod
    @while_paused
    def from_json(cls, text: str) -> Graph:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GraphFormatError(f"not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise GraphFormatError("not a gradviz graph: the document is not an object")
        return cls.from_dict(data)


# -- (de)serialization helpers ------------------------------------------------


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    """Leave out None, False, 0-length and default fields to keep big graphs small."""
    return {k: v for k, v in d.items() if v is not None and v is not False and v != [] and v != ""}


def _scalar_to_json(x: Scalar) -> Any:
    if isinstance(x, complex):
        return [_float_to_json(x.real), _float_to_json(x.imag)]
    if isinstance(x, float):
        return _float_to_json(x)
    return x


def _float_to_json(x: float) -> float | str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _scalar_from_json(x: Any) -> Scalar:
    if isinstance(x, list):
        return complex(_float_from_json(x[0]), _float_from_json(x[1]))
    if isinstance(x, str):
        return _float_from_json(x)
    if isinstance(x, bool | int | float):
        return x
    raise TypeError(f"not a tensor element: {x!r}")


def _float_from_json(x: Any) -> float:
    if isinstance(x, str):
        if x not in ("nan", "inf", "-inf"):
            raise ValueError(f"not a number: {x!r}")
        return float(x)
    return float(x)


def _opt_float(x: Any) -> float | None:
    return None if x is None else _float_from_json(x)


def _tensor_to_dict(t: TensorData | None) -> dict[str, Any] | None:
    if t is None:
        return None
    out: dict[str, Any] = {"shape": list(t.shape), "dtype": t.dtype, "device": t.device}
    if t.data is not None:
        out["data"] = [_scalar_to_json(x) for x in t.data]
    if t.stats is not None:
        s = t.stats
        out["stats"] = {
            "min": None if s.min is None else _float_to_json(s.min),
            "max": None if s.max is None else _float_to_json(s.max),
            "mean": None if s.mean is None else _float_to_json(s.mean),
            "std": None if s.std is None else _float_to_json(s.std),
            "nan": s.nan,
            "inf": s.inf,
        }
        if s.norm is not None:
            out["stats"]["norm"] = _float_to_json(s.norm)
    return out


def _tensor_from_dict(d: Mapping[str, Any] | None) -> TensorData | None:
    if d is None:
        return None
    stats = d.get("stats")
    data = d.get("data")
    return TensorData(
        shape=tuple(int(s) for s in d["shape"]),
        dtype=str(d["dtype"]),
        device=str(d.get("device", "cpu")),
        data=None if data is None else tuple(_scalar_from_json(x) for x in data),
        stats=None
        if stats is None
        else Stats(
            min=_opt_float(stats.get("min")),
            max=_opt_float(stats.get("max")),
            mean=_opt_float(stats.get("mean")),
            std=_opt_float(stats.get("std")),
            nan=int(stats.get("nan", 0)),
            inf=int(stats.get("inf", 0)),
            norm=_opt_float(stats.get("norm")),
        ),
    )


def _node_to_dict(n: Node) -> dict[str, Any]:
    return _drop_empty(
        {
            "id": n.id,
            "kind": n.kind,
            "names": list(n.names),
            "op": n.op,
            "autograd": n.autograd,
            "call": n.call,
            "value": _tensor_to_dict(n.value),
            "grad": _tensor_to_dict(n.grad),
            "grad_passes": n.grad_passes or None,
            "grad_stale": n.grad_stale or None,
            "param": n.param,
            "source": None if n.source is None else {"line": n.source.line, "code": n.source.code},
            "step": n.step,
            "backward_step": n.backward_step,
            "scope": list(n.scope),
            "copy_of": n.copy_of,
            "grad_hook": n.grad_hook,
            "saved": [
                _drop_empty(
                    {
                        "name": s.name,
                        "tensor": _tensor_to_dict(s.tensor),
                        "value": s.value,
                        "ref": s.ref,
                        "freed": s.freed,
                        "label": s.label,
                    }
                )
                for s in n.saved
            ],
            "constants": [
                _drop_empty(
                    {
                        "slot": c.slot,
                        "tensor": _tensor_to_dict(c.tensor),
                        "ref": c.ref,
                        "label": c.label,
                    }
                )
                for c in n.constants
            ],
        }
    )


def _node_from_dict(d: Mapping[str, Any]) -> Node:
    kind = d["kind"]
    if kind not in _NODE_KINDS:
        raise ValueError(f"unknown node kind {kind!r}")
    src = d.get("source")
    return Node(
        id=int(d["id"]),
        kind=cast(NodeKind, kind),
        names=tuple(str(x) for x in d.get("names", ())),
        op=d.get("op"),
        autograd=d.get("autograd"),
        call=d.get("call"),
        value=_tensor_from_dict(d.get("value")),
        grad=_tensor_from_dict(d.get("grad")),
        grad_passes=int(d.get("grad_passes", 0)),
        grad_stale=int(d.get("grad_stale", 0)),
        param=bool(d.get("param", False)),
        source=None if src is None else Source(line=int(src["line"]), code=str(src["code"])),
        step=_opt_int(d.get("step")),
        backward_step=_opt_int(d.get("backward_step")),
        scope=tuple(str(x) for x in d.get("scope", ())),
        copy_of=_opt_int(d.get("copy_of")),
        grad_hook=_opt_int(d.get("grad_hook")),
        saved=tuple(
            Saved(
                name=str(s["name"]),
                tensor=_tensor_from_dict(s.get("tensor")),
                value=s.get("value"),
                ref=s.get("ref"),
                freed=bool(s.get("freed", False)),
                label=s.get("label"),
            )
            for s in d.get("saved", ())
        ),
        constants=tuple(
            Constant(
                slot=int(c["slot"]),
                tensor=_tensor_from_dict(c.get("tensor")),
                ref=c.get("ref"),
                label=c.get("label"),
            )
            for c in d.get("constants", ())
        ),
    )


def _opt_int(x: Any) -> int | None:
    return None if x is None else int(x)


def _param_to_dict(p: Param) -> dict[str, Any]:
    return _drop_empty(
        {
            "name": p.name,
            "value": _tensor_to_dict(p.value),
            "grad": _tensor_to_dict(p.grad),
            "requires_grad": p.requires_grad,
            "node": p.node,
            "used_line": p.used_line,
            "detached_line": p.detached_line,
            "no_grad_line": p.no_grad_line,
            "swapped_line": p.swapped_line,
            "differentiated_line": p.differentiated_line,
            "optimized": p.optimized,
        }
    ) | {"requires_grad": p.requires_grad}


def _param_from_dict(d: Mapping[str, Any]) -> Param:
    value = _tensor_from_dict(d["value"])
    assert value is not None
    return Param(
        name=str(d["name"]),
        value=value,
        grad=_tensor_from_dict(d.get("grad")),
        requires_grad=bool(d.get("requires_grad", True)),
        node=_opt_int(d.get("node")),
        used_line=_opt_int(d.get("used_line")),
        detached_line=_opt_int(d.get("detached_line")),
        no_grad_line=_opt_int(d.get("no_grad_line")),
        swapped_line=_opt_int(d.get("swapped_line")),
        differentiated_line=_opt_int(d.get("differentiated_line")),
        optimized=bool(d.get("optimized", False)),
    )


def _edge_to_dict(e: Edge) -> dict[str, Any]:
    out: dict[str, Any] = {"src": e.src, "dst": e.dst, "slot": e.slot}
    if e.grad is not None:
        out["grad"] = _tensor_to_dict(e.grad)
    return out


def _edge_from_dict(d: Mapping[str, Any]) -> Edge:
    return Edge(
        src=int(d["src"]),
        dst=int(d["dst"]),
        slot=int(d.get("slot", 0)),
        grad=_tensor_from_dict(d.get("grad")),
    )


def _pass_to_dict(p: Pass) -> dict[str, Any]:
    return _drop_empty(
        {
            "index": p.index,
            "kind": p.kind,
            "roots": list(p.roots),
            "line": p.line,
            "retain_graph": p.retain_graph,
            "create_graph": p.create_graph,
            "inputs_only": p.inputs_only,
        }
    )


def _pass_from_dict(d: Mapping[str, Any]) -> Pass:
    kind = d["kind"]
    if kind not in _PASS_KINDS:
        raise ValueError(f"unknown pass kind {kind!r}")
    line = d.get("line")
    return Pass(
        index=int(d["index"]),
        kind=cast(PassKind, kind),
        roots=tuple(int(r) for r in d["roots"]),
        line=None if line is None else int(line),
        retain_graph=bool(d.get("retain_graph", False)),
        create_graph=bool(d.get("create_graph", False)),
        inputs_only=bool(d.get("inputs_only", False)),
    )


def unflatten(data: Sequence[Scalar], shape: Sequence[int]) -> Any:
    """Nested lists of ``data`` in ``shape`` (row-major), a bare scalar for shape ()."""
    if not shape:
        return data[0]
    if len(shape) == 1:
        return list(data)
    step = math.prod(shape[1:])
    return [unflatten(data[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]
