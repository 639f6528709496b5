"""Names from the snippet: its variables, and its modules' parameter paths.

After the snippet ran, its ``__main__`` namespace maps the names it used to the
tensors it kept. Parameters are named as the user would write them, from the
variable holding the module: ``model.fc1.weight``, ``net.0.bias``.
"""

from __future__ import annotations

import ast
import functools
import types
from collections import Counter, deque
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "NamedTensor",
    "call_sites",
    "callees",
    "clipping_lines",
    "function_aliases",
    "function_lines",
    "loop_names",
    "module_names",
    "named_tensors",
    "return_lines",
    "scope_labels",
    "summed_in_loops",
    "worth_local",
]

_MAX_CONTAINER = 64


@dataclass(frozen=True)
class NamedTensor:
    name: str
    tensor: torch.Tensor
    param: bool
    item: bool = False
    """Reached as an item of a list, tuple or dict (``parameters[0]``), not by its own name."""
    local: bool = False
    """A local of one of the snippet's functions, not one of its globals."""


def named_tensors(
    namespace: Mapping[str, object], loop_names: Collection[str] = ()
) -> list[NamedTensor]:
    """Every tensor the namespace reaches, with the name the snippet would use for it.

    Variables come first, in the order the snippet defined them; then module
    parameters; then items of lists, tuples and dicts one level deep. A tensor
    reached several ways gets several entries (the graph shows an item's name only
    for a tensor that has no name of its own: ``C``, not ``C, parameters[0]``).
    A ``for`` loop's variable counts as an item: after ``for p in
    model.parameters()`` it names the last parameter, which has a better name.
    """
    direct: list[NamedTensor] = []
    params: list[NamedTensor] = []
    items: list[NamedTensor] = []
    for var, obj in list(namespace.items()):
        if _throwaway(var) or isinstance(obj, types.ModuleType | type):
            continue
        if isinstance(obj, torch.Tensor):
            param = isinstance(obj, torch.nn.Parameter)
            if var in loop_names:
                items.append(NamedTensor(var, obj, param, item=True))
            else:
                direct.append(NamedTensor(var, obj, param))
        elif isinstance(obj, torch.nn.Module):
            # ``for m in model.modules(): init(m.weight)`` leaves m at the last module,
            # whose parameters have better names: a loop's module names them as items
            looped = var in loop_names
            into = items if looped else params
            into.extend(
                NamedTensor(f"{var}.{path}", p, True, item=looped) for path, p in _parameters(obj)
            )
            into.extend(
                NamedTensor(f"{var}.{path}", t, False, item=looped)
                for path, t in _plain_tensors(obj)
            )
            into.extend(
                NamedTensor(f"{var}.{path}", b, False, item=looped) for path, b in _buffers(obj)
            )
        elif _holds_names(obj):
            looped = var in loop_names  # ``for layer in layers:`` left at the last one
            (items if looped else params).extend(
                NamedTensor(path, t, isinstance(t, torch.nn.Parameter), item=looped)
                for path, t in _held_tensors(var, obj)
            )
        else:
            items.extend(_container_items(var, obj))
            params.extend(
                NamedTensor(path, t, isinstance(t, torch.nn.Parameter))
                for item_path, item in _container_objects(var, obj)
                for path, t in _held_tensors(item_path, item)
            )
    return direct + params + items


_MAX_HELD = 512
"""Objects looked into at most per variable, and how deep (``model.layers[0].neurons[1].w``
is four steps): a snippet object holding a dataset is not walked whole."""
_MAX_DEPTH = 6


def _holds_names(obj: object) -> bool:
    """An object of a class the snippet defined (micrograd's ``Neuron``, a ``Trainer``), or
    one of its functions: the tensors it holds are named by the path to them."""
    if isinstance(obj, types.FunctionType):
        return obj.__module__ == "__main__"
    cls = type(obj)
    return cls.__module__ == "__main__" and not issubclass(
        cls, type | torch.nn.Module | torch.Tensor
    )


def _container_objects(var: str, obj: object) -> list[tuple[str, object]]:
    """The snippet's objects in a list, tuple or dict (``layers[0]`` of ``layers =
    [Layer(2, 3), Layer(3, 1)]``)."""
    if isinstance(obj, list | tuple | dict) and len(obj) <= _MAX_CONTAINER:
        return [(path, x) for path, x in _held_children(var, obj) if _holds_names(x)]
    return []


def _held_tensors(var: str, obj: object) -> Iterator[tuple[str, torch.Tensor]]:
    """The tensors an object of the snippet's reaches, by the path to each, nearest first:
    ``model.layers[0].neurons[1].w`` through its attributes, lists and dicts, a module's
    parameters (``trainer.model.fc.weight``), and a closure's variables by their own
    names (``W`` of ``def model(x): return x @ W`` made inside ``make_model``), which
    its code uses."""
    queue: deque[tuple[str, object, int]] = deque([(var, obj, 0)])
    seen = {id(obj)}
    looked = 0
    while queue and looked < _MAX_HELD:
        path, held, depth = queue.popleft()
        looked += 1
        if isinstance(held, torch.Tensor):
            yield path, held
            continue
        if isinstance(held, torch.nn.Module):
            yield from ((f"{path}.{name}", p) for name, p in _parameters(held))
            continue
        if depth >= _MAX_DEPTH:
            continue
        for child_path, child in _held_children(path, held):
            if id(child) in seen or not (
                isinstance(child, torch.Tensor | torch.nn.Module | list | tuple | dict)
                or _holds_names(child)
            ):
                continue
            seen.add(id(child))
            queue.append((child_path, child, depth + 1))


def _held_children(path: str, held: object) -> list[tuple[str, object]]:
    if isinstance(held, types.FunctionType):
        cells = []
        for name, cell in zip(held.__code__.co_freevars, held.__closure__ or (), strict=False):
            try:
                cells.append((name, cell.cell_contents))
            except ValueError:  # a variable not assigned yet
                continue
        return cells + [(f"{path}.{k}", v) for k, v in _attributes(held)]
    if isinstance(held, list | tuple | dict) and len(held) > _MAX_CONTAINER:
        return []
    if isinstance(held, list | tuple):
        return [(f"{path}[{i}]", v) for i, v in enumerate(held)]
    if isinstance(held, dict):
        return [(f"{path}[{k!r}]", v) for k, v in held.items() if isinstance(k, str | int)]
    return [(f"{path}.{k}", v) for k, v in _attributes(held) if not k.startswith("__")]


def _throwaway(var: str) -> bool:
    """Dunders, and ``_``: by convention what the snippet meant to drop (``loss, _ =
    model(x)``), no name for a reader to look up (``_.T @ grad``)."""
    return var == "_" or var.startswith("__")


def worth_local(var: str) -> bool:
    """Whether a function's local may name a tensor: not ``self``, nor a throwaway."""
    return var != "self" and not _throwaway(var)


def _unwrapped(path: str) -> str:
    """A module path without ``torch.compile``'s wrapper: ``model.0.weight``, not
    ``model._orig_mod.0.weight`` (the compiled module holds the snippet's as ``_orig_mod``)."""
    if "_orig_mod" not in path:
        return path
    return ".".join(part for part in path.split(".") if part != "_orig_mod")


def _parameters(module: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    try:
        for path, p in module.named_parameters():
            yield _unwrapped(path), p
    except Exception:  # a half-built module from a snippet that raised
        return


def _buffers(module: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """A module's buffers (a pruning mask, batch norm's running statistics): saved by ops
    of the graph, they are named in its formulas."""
    try:
        for path, b in module.named_buffers():
            yield _unwrapped(path), b
    except Exception:  # a half-built module from a snippet that raised
        return


def _plain_tensors(module: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """Tensors a module keeps as plain attributes: the weight that ``nn.utils.weight_norm``,
    ``spectral_norm`` or pruning rebuild before each forward (``lin.weight`` is
    ``weight_v`` rescaled, set by a forward pre-hook), and constants an op takes: the
    style-transfer tutorial's ``content_loss.target``, d2l's hand-written batch norm's
    ``moving_mean``."""
    try:
        for path, sub in module.named_modules():
            for attr, value in vars(sub).items():
                if isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter):
                    yield _unwrapped(f"{path}.{attr}" if path else attr), value
    except Exception:  # a half-built module from a snippet that raised
        return


def _container_items(var: str, obj: object) -> Iterator[NamedTensor]:
    if isinstance(obj, list | tuple) and len(obj) <= _MAX_CONTAINER:
        for i, x in enumerate(obj):
            if isinstance(x, torch.Tensor):
                yield NamedTensor(f"{var}[{i}]", x, isinstance(x, torch.nn.Parameter), item=True)
    elif isinstance(obj, dict) and len(obj) <= _MAX_CONTAINER:
        for k, x in obj.items():
            if isinstance(x, torch.Tensor) and isinstance(k, str | int):
                yield NamedTensor(f"{var}[{k!r}]", x, isinstance(x, torch.nn.Parameter), item=True)


@functools.lru_cache(maxsize=4)
def _syntax_tree(source: str) -> ast.Module | None:
    """The snippet parsed once for all the rules that read it (none of them changes it);
    None when it does not parse."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def loop_names(source: str, in_functions: bool = False) -> frozenset[str]:
    """The names the snippet's ``for`` loops bind, nested statements included.

    Only top-level loops unless ``in_functions``: a function's loops bind its
    local names, which matter only for the names read from its frames.
    """
    tree = _syntax_tree(source)
    if tree is None:
        return frozenset()
    found: set[str] = set()
    stack: list[ast.AST] = list(tree.body)
    scopes = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
    while stack:
        node = stack.pop()
        if isinstance(node, scopes) and not in_functions:
            continue
        if isinstance(node, ast.For | ast.AsyncFor):
            found.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
        stack.extend(ast.iter_child_nodes(node))
    return frozenset(found)


def summed_in_loops(source: str) -> dict[str, int]:
    """The names a loop adds to (``total_loss += loss`` in a ``for`` or ``while``), and the
    line of the first such addition: a tensor held by one keeps every step's graph."""
    tree = _syntax_tree(source)
    if tree is None:
        return {}
    found: dict[str, int] = {}
    for loop in ast.walk(tree):
        if not isinstance(loop, ast.For | ast.AsyncFor | ast.While):
            continue
        for node in ast.walk(loop):
            if (
                isinstance(node, ast.AugAssign)
                and isinstance(node.op, ast.Add)
                and isinstance(node.target, ast.Name)
            ):
                line = found.get(node.target.id)
                found[node.target.id] = node.lineno if line is None else min(line, node.lineno)
    return found


_CLIPS = frozenset(
    {"clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "clip_grads_with_norm_"}
)


def clipping_lines(source: str) -> tuple[int, ...]:
    """The lines that clip gradients (``nn.utils.clip_grad_norm_(model.parameters(), 1.0)``):
    the gradients backward made are larger than the ones a step then uses."""
    tree = _syntax_tree(source)
    if tree is None:
        return ()
    lines = {
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr in _CLIPS)
            or (isinstance(node.func, ast.Name) and node.func.id in _CLIPS)
        )
    }
    return tuple(sorted(lines))


@functools.lru_cache(maxsize=8)
def function_lines(source: str) -> frozenset[int]:
    """The lines inside the snippet's functions: an assignment there binds a local, which
    no global of the same name holds (``x = self.fc2(x)`` in ``forward``)."""
    tree = _syntax_tree(source)
    if tree is None:
        return frozenset()
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):  # a lambda binds none
            end = node.end_lineno or node.lineno
            found.update(range(node.lineno, end + 1))
    return frozenset(found)


@functools.lru_cache(maxsize=8)
def return_lines(source: str) -> frozenset[int]:
    """The lines of the ``return`` statements of the snippet's functions and methods,
    and of its lambdas' bodies: a line whose value one of them returned (``H = relu(X
    @ W1 + b1)``, ``y = net(X)`` of ``net = lambda X: X @ w + b``) got it there."""
    tree = _syntax_tree(source)
    if tree is None:
        return frozenset()
    returned: list[ast.expr | ast.stmt] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            returned.extend(_own_returns(node))
        elif isinstance(node, ast.Lambda):
            returned.append(node.body)
    return frozenset(
        line for r in returned for line in range(r.lineno, (r.end_lineno or r.lineno) + 1)
    )


@dataclass(frozen=True)
class Callee:
    """The function a ``return`` line belongs to, as a calling line names it."""

    name: str
    method: bool
    """Called as ``something.name(...)`` (``self.encode(x)``), not as ``name(...)``."""


@functools.lru_cache(maxsize=8)
def callees(source: str) -> dict[int, Callee]:
    """Each line that returns one value (``return X_exp / partition``; not ``return a,
    b``), and whose function returns it: the caller's ``softmax(X)`` is that value.

    A lambda is its body, called by the name it was assigned to (``net = lambda X:
    ...``); one that is not assigned so has no name to be called by. A line that
    two functions share (a lambda inside a ``return``) is left out.
    """
    tree = _syntax_tree(source)
    if tree is None:
        return {}
    methods = {
        id(f)
        for c in ast.walk(tree)
        if isinstance(c, ast.ClassDef)
        for f in c.body
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    found: dict[int, Callee | None] = {}

    def claim(value: ast.expr, callee: Callee) -> None:
        if isinstance(value, ast.Tuple | ast.List | ast.Dict | ast.Set | ast.Constant):
            return
        for line in range(value.lineno, (value.end_lineno or value.lineno) + 1):
            found[line] = None if line in found else callee

    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            callee = Callee(node.name, id(node) in methods)
            for r in _own_returns(node):
                if r.value is not None:
                    claim(r.value, callee)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Lambda)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            claim(node.value.body, Callee(node.targets[0].id, method=False))
    return {line: callee for line, callee in found.items() if callee is not None}


@dataclass(frozen=True)
class CallSite:
    """A call in the snippet's text, by the name it calls (``softmax`` of ``softmax(X)``
    and of ``self.softmax(X)``), with the lines it spans."""

    first: int
    last: int
    method: bool
    text: str


@functools.lru_cache(maxsize=8)
def call_sites(source: str) -> dict[str, list[CallSite]]:
    """The snippet's calls, by the name called: a value returned to a line is the call
    on it of the function that returned it (see ``callees``)."""
    tree = _syntax_tree(source)
    if tree is None:
        return {}
    found: dict[str, list[CallSite]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name):
            name, method = node.func.id, False
        elif isinstance(node.func, ast.Attribute):
            name, method = node.func.attr, True
        else:
            continue
        text = ast.get_source_segment(source, node)
        if text is not None:
            last = node.end_lineno or node.lineno
            found.setdefault(name, []).append(CallSite(node.lineno, last, method, text))
    return found


def function_aliases(namespace: Mapping[str, object]) -> dict[str, str]:
    """Other names the snippet calls its functions by: d2l's ``net, loss = linreg,
    squared_loss`` makes ``net(X, w, b)`` a call of ``linreg`` (and so does a
    ``functools.partial`` of it). Not a wrapper that took the function's name
    (``vmap(grad(compute_loss))``, which ``functools.wraps`` names ``compute_loss``):
    it returns something else than the function."""
    found: dict[str, str] = {}
    for var, obj in list(namespace.items()):
        function = obj.func if isinstance(obj, functools.partial) else obj
        if (
            isinstance(function, types.FunctionType)
            and function.__module__ == "__main__"
            and function.__name__ not in (var, "<lambda>")
            and not hasattr(function, "__wrapped__")
        ):
            found[var] = function.__name__
    return found


def _own_returns(function: ast.AST) -> Iterator[ast.Return]:
    """The ``return`` statements of a function, not of the functions defined in it."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            yield node
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


def worth_naming(namespace: Mapping[str, object]) -> dict[str, object]:
    """What of a function's locals can name graph tensors: tensors, modules, the snippet's
    own objects and functions, small containers of these, and the attributes of ``self``
    that are any of them; and optimizers, which tell ``doctor`` what is trained.

    Kept from the frames that called ``backward()`` when the snippet works inside
    functions (``def main(): ...``), where its globals name nothing.
    """
    kept: dict[str, object] = {}
    for name, obj in namespace.items():
        if _throwaway(name):
            continue
        if name == "self":
            for attr, value in _attributes(obj):
                if _may_name(f"self.{attr}", value):
                    kept.setdefault(f"self.{attr}", value)
        elif _may_name(name, obj):
            kept[name] = obj
    return kept


def optimized(namespace: Mapping[str, object]) -> set[int]:
    """The ids of the tensors that an optimizer the snippet holds steps.

    Held by a variable, in a small list or dict, or by an object of the snippet's
    own (``trainer.opt``, a scheduler's optimizer). ``doctor`` tells a copy kept
    aside (``best = copy.deepcopy(model)``) from a model an optimizer was given
    but nothing called.
    """
    found: set[int] = set()
    for name, obj in namespace.items():
        held = [obj]
        if isinstance(obj, list | tuple | dict) or _holds_names(obj):
            held += [child for _, child in _held_children(name, obj)]
        for candidate in held:
            if isinstance(candidate, torch.optim.lr_scheduler.LRScheduler):
                candidate = candidate.optimizer
            if not isinstance(candidate, torch.optim.Optimizer):
                continue
            try:
                found.update(id(p) for group in candidate.param_groups for p in group["params"])
            except Exception:  # an optimizer of the snippet's own making, half built
                continue
    return found


def _may_name(name: str, obj: object) -> bool:
    return (
        isinstance(obj, torch.Tensor | torch.nn.Module | torch.optim.Optimizer)
        or _holds_names(obj)
        or any(True for _ in _container_items(name, obj))
        or bool(_container_objects(name, obj))
    )


def _attributes(obj: object) -> list[tuple[str, object]]:
    """An object's own attributes; none when it has no ``__dict__``, or a snippet's class
    made ``__dict__`` a property that raises: naming must not break the capture."""
    try:
        return list(vars(obj).items())
    except Exception:
        return []


def scope_labels(
    called: Sequence[tuple[torch.nn.Module | None, str, Sequence[tuple[str, torch.Tensor]]]],
    named: Mapping[int, str],
) -> tuple[dict[int, str], list[NamedTensor]]:
    """A label for each module called, by its number (see ``Recorder.called_modules``).

    A module the snippet names keeps its path (``model.0``); one no name reaches
    (``nn.Linear(6, 5)(h)``, made on the line that calls it) is labelled by its
    class: ``Linear``, or ``Linear#2`` for the second such Linear. Their
    parameters come back as ``Linear.weight`` (items: any other name goes first).
    """
    labels: dict[int, str] = {}
    unnamed: list[int] = []
    for number, (module, _, _) in enumerate(called):
        name = named.get(id(module)) if module is not None else None
        if name is not None:
            labels[number] = name
        else:
            unnamed.append(number)
    total = Counter(called[n][1] for n in unnamed)
    seen: Counter[str] = Counter()
    params: list[NamedTensor] = []
    for number in unnamed:
        _, kind, owned = called[number]
        seen[kind] += 1
        label = labels[number] = kind if total[kind] == 1 else f"{kind}#{seen[kind]}"
        params.extend(NamedTensor(f"{label}.{attr}", p, param=True, item=True) for attr, p in owned)
    return labels, params


def module_names(namespace: Mapping[str, object]) -> dict[int, str]:
    """``id(module) -> "model.0"`` for every module the namespace holds, by its path."""
    found: dict[int, str] = {}
    for var, obj in list(namespace.items()):
        if var.startswith("__") or not isinstance(obj, torch.nn.Module):
            continue
        try:
            for path, module in obj.named_modules():
                found.setdefault(id(module), _unwrapped(f"{var}.{path}" if path else var))
        except Exception:  # a half-built module from a snippet that raised
            continue
    return found
