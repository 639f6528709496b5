"""Capture is faithful to torch: the same graph, the same numbers as plain torch gives."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import SAMPLES, SNIPPETS
from helpers import (
    capture,
    close,
    graph_of,
    graph_walk,
    named,
    plain_run,
    printed_both_ways,
    torch_walk,
    values,
)

from gradviz.errors import NoGraphError, TargetError
from gradviz.model import Graph


def test_lecture_example_is_drawn_with_its_numbers() -> None:
    g = graph_of(SAMPLES / "autograd_basics.py")
    a = torch.tensor([[2.0, 3.0]], requires_grad=True)
    b = torch.tensor([[1.0, 2.0]], requires_grad=True)
    c = a * b
    c.retain_grad()
    d = c.sum()
    d.backward()

    na, nb, nc, nd = (named(g, n) for n in "abcd")
    assert (na.kind, nb.kind, nc.kind, nd.kind) == ("leaf", "leaf", "tensor", "output")
    assert g.outputs == (nd.id,)
    assert values(na.value) == a.tolist() and values(nb.value) == b.tolist()
    assert values(nc.value) == c.tolist() and values(nd.value) == d.item()
    assert values(na.grad) == a.grad.tolist() == b.tolist()  # d(sum(a*b))/da = b
    assert values(nb.grad) == b.grad.tolist() == a.tolist()
    assert values(nc.grad) == c.grad.tolist()
    assert values(nd.grad) == 1.0
    assert (na.value.shape, na.value.dtype, na.value.device) == ((1, 2), "float32", "cpu")
    # a -> mul, b -> mul, mul -> c, c -> sum, sum -> d
    mul = next(n for n in g.ops() if n.op == "mul")
    total = next(n for n in g.ops() if n.op == "sum")
    assert {(e.src, e.dst) for e in g.edges} == {
        (na.id, mul.id),
        (nb.id, mul.id),
        (mul.id, nc.id),
        (nc.id, total.id),
        (total.id, nd.id),
    }
    assert [e.slot for e in g.inputs(mul.id)] == [0, 1]
    assert [e.src for e in g.inputs(mul.id)] == [na.id, nb.id]
    assert (mul.autograd, total.autograd) == ("MulBackward0", "SumBackward0")
    assert nc.source is not None and nc.source.code == "c = a * b" and nc.source.line == 10
    assert len(g.passes) == 1 and g.passes[0].roots == (nd.id,) and g.passes[0].line == 14


ROOTED = [
    (SAMPLES / "autograd_basics.py", ["d"]),
    (SAMPLES / "mlp_step.py", ["loss"]),
    (SAMPLES / "dynamic_loop.py", ["y"]),
    (SAMPLES / "grad_accumulation.py", ["first", "second"]),
    (SAMPLES / "nonscalar_backward.py", ["y"]),
    (SNIPPETS / "views.py", ["loss"]),
    (SNIPPETS / "multi_output.py", ["out"]),
    (SNIPPETS / "reuse.py", ["y"]),
    (SNIPPETS / "custom_function.py", ["y"]),
    (SNIPPETS / "training_loop.py", ["loss"]),
    (SNIPPETS / "retain.py", ["out"]),
]


@pytest.mark.parametrize(("path", "roots"), ROOTED, ids=lambda x: getattr(x, "stem", None))
def test_graph_is_exactly_torchs_graph(path: Path, roots: list[str]) -> None:
    ns = plain_run(path)
    expected_names, expected_edges = torch_walk([ns[r] for r in roots])
    names, edges = graph_walk(graph_of(path))
    assert names == expected_names
    assert edges == expected_edges


def test_mlp_step_numbers_match_plain_torch() -> None:
    g = graph_of(SAMPLES / "mlp_step.py")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    x, y = torch.randn(5, 3), torch.randn(5, 1)
    prediction = model(x)
    prediction.retain_grad()
    loss = torch.nn.functional.mse_loss(prediction, y)
    loss.backward()

    for name, p in model.named_parameters():
        node = named(g, f"model.{name}")
        assert node.kind == "leaf" and node.param
        # the value drawn is the one the forward pass used, not the one after step()
        assert close(values(node.value), before[name].tolist())
        assert close(values(node.grad), p.grad.tolist())
    assert close(values(named(g, "prediction").value), prediction.tolist())
    assert close(values(named(g, "prediction").grad), prediction.grad.tolist())
    assert close(values(named(g, "loss").value), loss.item())
    addmm = [n for n in g.ops() if n.autograd == "AddmmBackward0"]
    assert len(addmm) == 2 and all(n.call == "linear" for n in addmm)
    # linear transposes its weight internally: that value is the weight's, transposed
    for t in (n for n in g.ops() if n.autograd == "TBackward0"):
        (out,) = [g.node(e.dst) for e in g.edges if e.src == t.id]
        (weight,) = [g.node(e.src) for e in g.inputs(t.id)]
        assert close(values(out.value), torch.tensor(values(weight.value)).t().tolist())


def test_gradients_accumulated_over_two_backward_calls() -> None:
    g = graph_of(SAMPLES / "grad_accumulation.py")
    w = named(g, "w")
    assert values(w.grad) == [5.0, 0.0]  # [3, 4] + 2 * w
    assert w.grad_passes == 2
    assert [g.node(i).names for i in g.outputs] == [("first",), ("second",)]
    assert [p.index for p in g.passes] == [0, 1]


def test_nan_gradients_still_accumulate_and_are_not_taken_for_changed(tmp_path: Path) -> None:
    """The torch.where trap: sqrt's gradient at -1 is nan even where where() drops it.
    nan differs from itself in Python; read twice, the same nans are the same gradient."""
    path = tmp_path / "where_nan.py"
    path.write_text(
        "import torch\n"
        "x = torch.tensor([-1.0, 4.0], requires_grad=True)\n"
        "for _ in range(2):\n"
        "    y = torch.where(x > 0, torch.sqrt(x), torch.zeros_like(x))\n"
        "    y.sum().backward()\n"
    )
    result = capture(path)
    x = named(result.graph, "x")
    plain = torch.tensor([-1.0, 4.0], requires_grad=True)
    for _ in range(2):
        torch.where(plain > 0, plain.sqrt(), torch.zeros_like(plain)).sum().backward()
    got = values(x.grad)
    assert math.isnan(got[0]) and math.isnan(plain.grad[0].item())
    assert got[1] == pytest.approx(plain.grad[1].item()) == 0.5
    assert x.grad_passes == 2
    assert result.changed_grads == []


def test_a_snippet_that_prints_grad_fn_metadata_sees_one_short_line_of_gradviz(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The one known difference from python: the record lives in the node's metadata."""
    snippet = tmp_path / "meta.py"
    snippet.write_text(
        "import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 2\n"
        "print(y.grad_fn.metadata)\nprint(y.grad_fn.next_functions[0][0].metadata)\n"
        "y.sum().backward()\nprint(y.grad_fn.next_functions[0][0].metadata)\n"
    )
    plain, ours, _ = printed_both_ways(snippet, capsys)
    assert plain == "{}\n{}\n{}\n"
    shown = "{'gradviz': <what gradviz recorded of this node; it goes with the graph>}"
    assert ours == f"{shown}\n{{}}\n{shown}\n"


def test_memory_two_tensors_had_goes_to_the_one_made_last() -> None:
    """A temporary freed, then a tensor made in its memory: a saved tensor read at backward
    is the later one. Without steps, the first met, as before (the numbers decide then)."""
    from gradviz.torchcapture.build import _LEAF, _made_last

    assert _made_last([(7, 3), (8, 9)]) == 8  # later step
    assert _made_last([(8, 9), (7, 3)]) == 8
    assert _made_last([(7, None), (8, 9)]) == 7  # a step not known: the first met
    assert _made_last([(8, 9), (7, None)]) == 8
    assert _made_last([(8, 9), (5, _LEAF), (6, _LEAF)]) == 5  # a leaf, the first met


def test_a_saved_tensor_in_the_memory_of_a_freed_one_is_not_taken_for_it() -> None:
    """The memory of a graph tensor freed early can hold a tensor made later with the same
    shape; a saved tensor found there is linked to the graph tensor only if it holds the
    numbers that one was made with (MAML's oracle test failed now and then on this)."""
    from gradviz.torchcapture.saved import read_saved
    from gradviz.torchcapture.tensors import storage_key, to_data

    x = torch.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    y = x.exp()  # ExpBackward0 saves its result, y
    key = storage_key(y)
    assert key is not None
    freed_one = to_data(torch.tensor([[9.0, 8.0, 7.0]]))  # what the freed tensor held
    (record,) = read_saved(y.grad_fn, {key: (freed_one,)})
    assert record.name == "result" and record.key is None  # not linked: its own numbers
    assert record.tensor is not None and close(values(record.tensor), y.tolist())
    (record,) = read_saved(y.grad_fn, {key: (freed_one, to_data(y))})  # an in-place op's too
    assert record.key == key and record.tensor is None
    (record,) = read_saved(y.grad_fn, {key: None})  # a leaf's memory: trusted
    assert record.key == key


def test_training_loop_shows_the_last_step_only() -> None:
    g = graph_of(SNIPPETS / "training_loop.py")
    ns = plain_run(SNIPPETS / "training_loop.py")
    assert g.meta.passes_total == 4
    assert [p.index for p in g.passes] == [3]
    w = named(g, "w")
    assert close(values(w.grad), ns["w"].grad.tolist())
    assert w.grad_passes == 1
    # w as the last forward pass saw it: the final w minus the last SGD step
    assert close(values(w.value), (ns["w"] + 0.1 * ns["w"].grad).tolist())


def test_without_backward_gradients_are_not_computed() -> None:
    g = graph_of(SAMPLES / "dynamic_graph.py")
    z, x, y = named(g, "z"), named(g, "x"), named(g, "y")
    assert g.outputs == (z.id,) and z.kind == "output"
    assert values(z.value) == 6.0
    assert z.grad is None and x.grad is None and y.grad is None
    assert g.passes == ()


def test_target_picks_the_graph_of_a_variable() -> None:
    g = graph_of(SAMPLES / "autograd_basics.py", targets=["c"])
    assert [g.node(i).names for i in g.outputs] == [("c",)]
    assert sorted(n.name or n.op or "" for n in g.nodes) == ["a", "b", "c", "mul"]


def test_target_errors_name_what_exists() -> None:
    with pytest.raises(TargetError, match="no tensor named 'nope'") as info:
        capture(SAMPLES / "autograd_basics.py", targets=["nope"])
    assert info.value.hint and "a, b, c, d" in info.value.hint
    with pytest.raises(TargetError, match="does not require grad"):
        capture(SNIPPETS / "no_grad.py", targets=["y"])


def test_autograd_grad_records_the_returned_gradient() -> None:
    g = graph_of(SNIPPETS / "autograd_grad.py")
    ns = plain_run(SNIPPETS / "autograd_grad.py")
    assert ns["x"].grad is None  # autograd.grad writes no .grad ...
    assert (
        values(named(g, "x").grad) == ns["dx"].tolist() == [3.0, 12.0, 27.0]
    )  # ... gradviz shows it
    assert [p.kind for p in g.passes] == ["grad"]
    assert g.meta.passes_total == 1  # torch re-dispatching the call is not a second pass


def test_double_backward_through_create_graph() -> None:
    g = graph_of(SNIPPETS / "double_backward.py")
    assert values(named(g, "x").grad) == 18.0  # d(3x^2)/dx at 3
    assert values(named(g, "dy").value) == 27.0
    assert "MulBackward1" in {n.autograd for n in g.ops()}


def test_retain_graph_passes_add_up_on_intermediates() -> None:
    g = graph_of(SNIPPETS / "retain.py")
    h, x = named(g, "h"), named(g, "x")
    assert values(h.grad) == [2.0, 2.0] and h.grad_passes == 2
    assert values(x.grad) == [4.0, 4.0] and x.grad_passes == 2


def test_tensor_used_three_times_gets_three_edges_and_summed_grad() -> None:
    g = graph_of(SNIPPETS / "reuse.py")
    x = named(g, "x")
    assert sum(1 for e in g.edges if e.src == x.id) == 3
    assert values(x.grad) == 7.0  # d(x*x + x)/dx at 3
    mul = next(n for n in g.ops() if n.op == "mul")
    # each edge carries what that use contributed: x * x sends 3 and 3
    assert [values(e.grad) for e in g.inputs(mul.id)] == [3.0, 3.0]


def test_saved_tensors_point_at_the_tensors_they_are() -> None:
    g = graph_of(SAMPLES / "autograd_basics.py")
    mul = next(n for n in g.ops() if n.op == "mul")
    saved = {s.name: s for s in mul.saved}
    assert saved["self"].ref == named(g, "a").id
    assert saved["other"].ref == named(g, "b").id
    assert saved["other"].tensor is None  # its numbers are on node b; not stored twice
    total = next(n for n in g.ops() if n.op == "sum")
    assert {s.name: s.value for s in total.saved} == {"self_sym_sizes": "(1, 2)"}


def test_saved_tensors_outside_the_graph_keep_their_numbers() -> None:
    g = graph_of(SNIPPETS / "training_loop.py")
    ns = plain_run(SNIPPETS / "training_loop.py")
    mv = next(n for n in g.ops() if n.autograd == "MvBackward0")
    saved = {s.name: s for s in mv.saved}
    assert saved["self"].ref is None  # xs needs no grad: not a graph node
    assert close(values(saved["self"].tensor), ns["xs"].tolist())


def test_saved_tensor_hooks_run_as_often_as_without_gradviz(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The saved-tensor hooks tutorial: gradviz must not unpack what the snippet packed."""
    snippet = tmp_path / "hooks.py"
    snippet.write_text(
        "import torch\n"
        "calls = []\n"
        "def pack(x):\n    calls.append('pack')\n    return ('boxed', x)\n"
        "def unpack(box):\n    calls.append('unpack')\n    return box[1]\n"
        "a = torch.ones(3, requires_grad=True)\n"
        "b = torch.full((3,), 2.0, requires_grad=True)\n"
        "with torch.autograd.graph.saved_tensors_hooks(pack, unpack):\n"
        "    y = a * b\n"
        "z = a.exp()\n"
        "z.grad_fn._raw_saved_result.register_hooks(pack, unpack)\n"
        "(y.sum() + z.sum()).backward()\n"
        "print(calls)\n"
    )
    plain, ours, g = printed_both_ways(snippet, capsys)
    assert ours == plain == str(["pack"] * 3 + ["unpack"] * 3) + "\n"
    mul = next(n for n in g.ops() if n.op == "mul")
    exp = next(n for n in g.ops() if n.op == "exp")
    packed = "packed by a saved-tensor hook (not unpacked)"
    assert {s.name: s.value for s in mul.saved} == {"self": packed, "other": packed}
    assert {s.name: s.value for s in exp.saved} == {"result": packed}
    assert close(values(named(g, "a").grad), [2.0 + math.e] * 3)  # numbers still hold


def test_a_pass_replaced_on_the_same_graph_adds_nothing_to_its_gradients(tmp_path: Path) -> None:
    """A PINN: ``autograd.grad`` with ``create_graph``, then ``backward()`` over the same nodes.

    The two ``grad`` passes are replaced by the last one; the tensors they also
    went through show the last pass's gradient only, as torch computes it.
    """
    snippet = tmp_path / "pinn.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))\n"
        "x = torch.linspace(0, 1, 5).unsqueeze(1).requires_grad_(True)\n"
        "a = net[0](x)\nu = net[2](net[1](a))\n"
        "u_x = torch.autograd.grad(u, x, torch.ones_like(u), create_graph=True)[0]\n"
        "u_xx = torch.autograd.grad(u_x, x, torch.ones_like(u_x), create_graph=True)[0]\n"
        "loss = ((u_xx + u) ** 2).mean()\n"
        "expected = torch.autograd.grad(loss, a, retain_graph=True)[0]\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    g = graph_of(snippet)
    assert [p.kind for p in g.passes] == ["backward"]
    a = named(g, "a")
    assert a.grad_passes == 1
    assert close(values(a.grad), ns["expected"].tolist())


def test_a_gradient_zeroed_through_data_starts_a_new_pass(tmp_path: Path) -> None:
    """Old tutorials zero ``w.grad.data``: no version bump, yet nothing accumulates."""
    snippet = tmp_path / "old.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "x, y = torch.randn(16, 10), torch.randn(16, 2)\n"
        "w1 = torch.randn(10, 8, requires_grad=True)\n"
        "w2 = torch.randn(8, 2, requires_grad=True)\n"
        "for t in range(5):\n"
        "    loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()\n"
        "    loss.backward()\n"
        "    last = w1.grad.clone()\n"
        "    w1.data -= 1e-4 * w1.grad.data\n"
        "    w2.data -= 1e-4 * w2.grad.data\n"
        "    w1.grad.data.zero_()\n"
        "    w2.grad.data.zero_()\n"
    )
    ns = plain_run(snippet)
    g = graph_of(snippet)
    assert len(g.passes) == 1 and len(g.outputs) == 1
    w1 = named(g, "w1")
    assert w1.grad_passes == 1
    assert close(values(w1.grad), ns["last"].tolist())


def test_every_leaf_keeps_its_gradient_when_grads_are_set_to_none_each_step(
    tmp_path: Path,
) -> None:
    """A new .grad can reuse the id of the one set to None: it must still be read."""
    snippet = tmp_path / "poly.py"
    snippet.write_text(
        "import math\nimport torch\ntorch.manual_seed(0)\n"
        "x = torch.linspace(-math.pi, math.pi, 200)\ny = torch.sin(x)\n"
        "a, b, c, d = (torch.randn((), requires_grad=True) for _ in range(4))\n"
        "for t in range(300):\n"
        "    loss = (a + b * x + c * x ** 2 + d * x ** 3 - y).pow(2).sum()\n"
        "    loss.backward()\n"
        "    last = [v.grad.item() for v in (a, b, c, d)]\n"
        "    with torch.no_grad():\n"
        "        for v in (a, b, c, d):\n"
        "            v -= 1e-6 * v.grad\n"
        "            v.grad = None\n"
    )
    ns = plain_run(snippet)
    g = graph_of(snippet)
    assert len(g.passes) == 1
    got = [values(named(g, n).grad) for n in "abcd"]
    assert close(got, ns["last"])


def test_torch_func_transforms_are_captured_without_recorder_errors(tmp_path: Path) -> None:
    """torch.func's grad returns the gradient; hessian and jacrev leave wrappers behind.

    After a transform exits, torch itself cannot find a wrapper's gradient
    edge (its leaf case looks at a view's grad_fn, which is None there).
    """
    snippet = tmp_path / "func.py"
    snippet.write_text(
        "import torch\nfrom torch.func import grad, hessian, jacrev\n"
        "def f(x):\n    y = x.sin()\n    return (y * y).sum()\n"
        "x = torch.tensor([0.5, 1.0])\n"
        "g = grad(f)(x)\n"
        "h = hessian(lambda v: (v ** 3).sum())(torch.tensor([1.0, 2.0]))\n"
        "j = jacrev(torch.sin)(torch.tensor([0.0, 1.0]))\n"
    )
    ns = plain_run(snippet)
    result = capture(snippet)
    assert result.internal_errors == []
    g = result.graph
    assert g is not None
    y = named(g, "y")
    assert close(values(y.value), ns["x"].sin().tolist())
    assert close(values(y.grad), (2 * ns["x"].sin()).tolist())  # d(y·y)/dy
    leaf = next(n for n in g.tensors() if n.kind == "leaf" and close(values(n.value), [0.5, 1.0]))
    assert close(values(leaf.grad), ns["g"].tolist())


def test_ops_under_vmap_show_the_batched_tensors_their_nodes_made(tmp_path: Path) -> None:
    """Under ``vmap`` each call hands back a wrapper with no grad_fn; the graph's nodes
    are those of the batched tensors inside, and show their values and lines."""
    snippet = tmp_path / "vmapped.py"
    snippet.write_text(
        "import torch\nfrom torch.func import vmap\ntorch.manual_seed(0)\n"
        "W = torch.randn(3, 4, 2, requires_grad=True)\nx = torch.randn(5, 4)\n"
        "def layer(w):\n    h = x @ w\n    return h.tanh()\n"
        "y = vmap(layer)(W)\n"
        "loss = y.pow(2).sum()\nloss.backward()\n"
        "h = (x @ W)\n"
    )
    ns = plain_run(snippet)
    g = capture(snippet).graph
    assert g is not None
    by_op = {g.node(e.src).autograd: (g.node(e.src), g.node(e.dst)) for e in g.edges}
    tanh_op, tanh_out = by_op["TanhBackward0"]
    assert close(values(tanh_out.value), ns["y"].tolist())
    assert tanh_op.source is not None and tanh_op.source.line == 8
    matmul_op, matmul_out = by_op["UnsafeViewBackward0"]
    assert matmul_out.value is not None and matmul_out.value.shape == (3, 5, 2)
    assert close(values(matmul_out.value), ns["h"].tolist())
    assert matmul_op.source is not None and matmul_op.source.line == 7


def test_a_gradient_hook_keeps_what_arrived_apart_from_what_it_returned(tmp_path: Path) -> None:
    """``register_hook`` may change a gradient (scale it, clip it, reverse it): the
    tensor's grad is what the hook returned, and what its uses sent is kept on the
    edges, for a tensor and for a leaf."""
    snippet = tmp_path / "hooks.py"
    snippet.write_text(
        "import torch\nx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
        "x.register_hook(lambda g: g + 1)\n"  # before any graph uses x
        "h = x * 2\nh.register_hook(lambda g: g * 10)\n"
        "y = (h ** 2).sum()\ny.backward()\n"
    )
    ns = plain_run(snippet)
    g = graph_of(snippet)
    h, x = g.by_name("h"), g.by_name("x")
    assert h.grad_hook == 5 and x.grad_hook == 3
    assert close(values(h.grad), (ns["x"] * 2 * 2 * 10).tolist())  # after both hooks of h
    (into_h,) = [e for e in g.edges if e.src == h.id]
    assert close(values(into_h.grad), (ns["x"] * 2 * 2).tolist())  # what pow sent
    (into_x,) = [e for e in g.edges if e.src == x.id]
    assert close(values(into_x.grad), (ns["x"] * 2 * 2 * 10 * 2).tolist())
    assert close(values(x.grad), ns["x"].grad.tolist())  # the leaf hook's + 1
    assert Graph.from_json(g.to_json()).by_name("h").grad_hook == 5


def test_a_hook_taken_off_before_the_pass_marks_nothing(tmp_path: Path) -> None:
    """``h = t.register_hook(fn); h.remove()`` leaves no hook to tell, on a tensor or a
    leaf; one taken off only after the pass still changed its gradient, and is told."""
    snippet = tmp_path / "removed.py"
    snippet.write_text(
        "import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "y = x * 3\nh = y.register_hook(lambda g: g * 10)\nh.remove()\n"
        "k = x.register_hook(lambda g: g + 1)\nk.remove()\n"
        "z = y * y\nkept = z.register_hook(lambda g: g * 2)\n"
        "z.sum().backward()\nkept.remove()\n"
    )
    ns = plain_run(snippet)
    g = graph_of(snippet)
    assert g.by_name("y").grad_hook is None and g.by_name("x").grad_hook is None
    assert g.by_name("z").grad_hook == 9
    assert close(values(g.by_name("x").grad), ns["x"].grad.tolist())


def test_what_autograd_grad_returned_counts_only_while_its_pass_is_shown(tmp_path: Path) -> None:
    """jvp's first pass returns zeros for a copy of x (its seed is a dummy of zeros);
    the second pass, the one shown, differentiates the result and never reaches x."""
    snippet = tmp_path / "jvp.py"
    snippet.write_text(
        "import torch\nfrom torch.autograd.functional import jvp\n"
        "x = torch.tensor([1.0, 2.0])\n"
        "out, tangent = jvp(lambda t: t.sin(), x, torch.tensor([1.0, 0.0]))\n"
    )
    ns = plain_run(snippet)
    g = graph_of(snippet)
    assert len(g.passes) == 1 and g.meta.passes_total == 2
    (copy,) = [n for n in g.tensors() if n.kind == "leaf" and close(values(n.value), [1.0, 2.0])]
    assert copy.grad is None  # not the zeros of the replaced pass
    (dummy,) = [n for n in g.tensors() if n.kind == "leaf" and n.id != copy.id]
    assert close(values(dummy.grad), ns["tangent"].tolist())


def test_gradchecks_own_passes_are_not_drawn(tmp_path: Path) -> None:
    """Custom-Function tutorials end with gradcheck: its passes must not replace the snippet's."""
    snippet = tmp_path / "check.py"
    snippet.write_text(
        "import torch\nfrom torch.autograd import gradcheck, gradgradcheck\n"
        "torch.manual_seed(0)\n"
        "f = lambda x: (x.sin() * x).sum()\n"
        "x = torch.randn(4, dtype=torch.float64, requires_grad=True)\n"
        "out = f(x)\nout.backward()\n"
        "expected = x.grad.clone()\n"
        "assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))\n"
    )
    ns = plain_run(snippet)
    g = graph_of(snippet)
    assert [(p.kind, p.line) for p in g.passes] == [("backward", 7)]
    assert g.meta.passes_total == 1
    assert close(values(named(g, "x").grad), ns["expected"].tolist())

    only = tmp_path / "only.py"
    only.write_text(
        "import torch\nx = torch.randn(3, dtype=torch.float64, requires_grad=True)\n"
        "print(torch.autograd.gradcheck(torch.sigmoid, (x,)))\n"
    )
    result = capture(only)
    assert result.graph is None and isinstance(result.no_graph, NoGraphError)
    assert "gradcheck's own" in str(result.no_graph)


def test_edge_gradients_kept_where_a_tensor_has_several_uses() -> None:
    g = graph_of(SAMPLES / "autograd_basics.py")
    assert all(e.grad is None for e in g.edges)  # every tensor used once: its grad says it all
    acc = graph_of(SAMPLES / "grad_accumulation.py")
    w = named(acc, "w")
    first, second = sorted((e for e in acc.edges if e.src == w.id), key=lambda e: e.dst)
    # the second pass adds into a gradient the first left: what it added is kept;
    # the first pass's share is then w.grad minus it ([5, 0] - [2, -4] = [3, 4])
    assert first.grad is None and values(second.grad) == [2.0, -4.0]


def test_in_place_and_views_keep_torchs_nodes() -> None:
    g = graph_of(SNIPPETS / "views.py")
    ops = {n.autograd for n in g.ops()}
    assert {"CopySlices", "ViewBackward0", "TBackward0"} <= ops
    ns = plain_run(SNIPPETS / "views.py")
    assert values(named(g, "y").value) == [10.0, 2.0, 3.0, 4.0]
    assert values(named(g, "x").grad) == ns["x"].grad.tolist()


def test_custom_function_node_and_its_saved_tensor() -> None:
    g = graph_of(SNIPPETS / "custom_function.py")
    op = next(n for n in g.ops() if n.autograd == "SquareBackward")
    assert op.op == "Square"
    assert [s.ref for s in op.saved] == [named(g, "x").id]
    assert values(named(g, "x").grad) == [2.0, -4.0]
    out = g.node(g.inputs(next(n.id for n in g.ops() if n.op == "sum"))[0].src)
    assert values(out.value) == [1.0, 4.0]  # the Function's output, seen when it was used


def test_a_custom_function_output_has_its_value_and_line_though_only_another_used_it(
    tmp_path: Path,
) -> None:
    """The mode sees no call of ``Function.apply``: an output handed straight to another
    Function (a sort whose indices are non-differentiable, then a two-output scaling
    with unmaterialized grads) used to show no value and no line."""
    snippet = tmp_path / "functions.py"
    snippet.write_text(
        "import torch\n\n"
        "class Sort(torch.autograd.Function):\n"
        "    @staticmethod\n    def forward(ctx, x):\n"
        "        values, idx = x.sort()\n        ctx.mark_non_differentiable(idx)\n"
        "        ctx.save_for_backward(idx)\n        return values, idx\n\n"
        "    @staticmethod\n    def backward(ctx, g, _):\n"
        "        (idx,) = ctx.saved_tensors\n"
        "        return torch.zeros_like(g).index_add_(0, idx, g)\n\n"
        "class Scale(torch.autograd.Function):\n"
        "    @staticmethod\n    def forward(ctx, x):\n"
        "        ctx.set_materialize_grads(False)\n        return x * 2, x * 3\n\n"
        "    @staticmethod\n    def backward(ctx, g1, g2):\n"
        "        return (0 if g1 is None else 2 * g1) + (0 if g2 is None else 3 * g2)\n\n"
        "x = torch.tensor([3.0, 1.0, 2.0], requires_grad=True)\n"
        "v, i = Sort.apply(x)\n"
        "a, b = Scale.apply(v)\n"
        "(a * torch.arange(3.0)).sum().backward()\n"
    )
    ns = plain_run(snippet)
    g = capture(snippet).graph
    assert g is not None
    v, a = named(g, "v"), named(g, "a")
    assert values(v.value) == ns["v"].tolist() == [1.0, 2.0, 3.0]
    assert values(a.value) == ns["a"].tolist()
    assert v.source is not None and v.source.code == "v, i = Sort.apply(x)"
    assert a.source is not None and a.source.code == "a, b = Scale.apply(v)"
    assert values(v.grad) == [0.0, 2.0, 4.0]
    assert values(named(g, "x").grad) == ns["x"].grad.tolist()
    assert torch.autograd.Function.apply.__func__.__module__ == "torch.autograd.function"


def test_multi_output_ops_are_one_node() -> None:
    g = graph_of(SNIPPETS / "multi_output.py")
    split = next(n for n in g.ops() if n.op == "split")
    (edge,) = [e for e in g.edges if e.src == split.id]
    assert edge.slot == 1 and g.node(edge.dst).names == ("parts[1]",)
    assert values(named(g, "x").grad) == [[0.0, 1.0], [2.0, 1.0]]


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("no_grad.py", "no tensor requires grad"),
        ("under_no_grad.py", "no operation on them was recorded"),
        ("in_function.py", "kept none of it"),
    ],
)
def test_no_graph_says_why(snippet: str, message: str) -> None:
    result = capture(SNIPPETS / snippet)
    assert result.graph is None
    assert isinstance(result.no_graph, NoGraphError)
    assert message in result.no_graph.message


def test_partial_graph_when_the_snippet_raises() -> None:
    result = capture(SNIPPETS / "raises.py")
    assert isinstance(result.run.error, RuntimeError) and result.run.exit_code == 1
    assert result.graph is not None and result.graph.meta.partial
    assert values(named(result.graph, "h").value) == [[3.0] * 3] * 2


def test_capture_leaves_torch_as_it_found_it() -> None:
    backward, grad = torch.autograd.backward, torch.autograd.grad
    capture(SAMPLES / "autograd_basics.py")
    assert torch.autograd.backward is backward and torch.autograd.grad is grad
    assert not torch.overrides._get_current_function_mode_stack()  # type: ignore[attr-defined]


def test_capture_leaves_the_garbage_collector_as_it_found_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Full collections wait while a capture runs; young cycles still go as usual."""
    import gc

    before = (gc.get_threshold(), gc.isenabled(), gc.get_freeze_count())
    snippet = tmp_path / "cycles.py"
    snippet.write_text(
        "import weakref\nimport torch\n"
        "class C: pass\n"
        "c = C(); c.me = c; ref = weakref.ref(c); del c\n"
        "for _ in range(5000):\n    d = {}; d['d'] = d\n"  # enough to run young collections
        "print('collected' if ref() is None else 'kept')\n"
        "w = torch.ones(2, requires_grad=True)\n(w * 2).sum().backward()\n"
    )
    assert capture(snippet).graph is not None
    assert capsys.readouterr().out == "collected\n"
    capture(SNIPPETS / "raises.py")
    assert (gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()) == before


def test_tensors_named_only_inside_a_function_get_their_names() -> None:
    g = graph_of(SNIPPETS / "in_main.py")
    loss = g.node(g.outputs[0])
    assert loss.names == ("loss",)  # `loss` was a local of train(), line 6
    assert g.meta.passes_total == 3 and len(g.passes) == 1
    loop = graph_of(SAMPLES / "dynamic_loop.py")
    assert sum(1 for n in loop.nodes if "y" in n.names) == 1  # `y = y * 2` made four y's


def test_unpacking_an_ops_outputs_names_each_of_them(tmp_path: Path) -> None:
    """``q, k, v = x.split(...)`` in a forward, fast.ai's ``a, b, c = params``: output
    number i of the op takes the i-th name. A tuple built on the line does not."""
    snippet = tmp_path / "unpack.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "def f(t, params):\n"
        "    a, b, c = params\n"
        "    return a * t ** 2 + b * t + c\n"
        "def attend(x, w):\n"
        "    q, k, v = (x @ w).split(4, dim=-1)\n"
        "    s, r = v * 2, q\n"
        "    return ((q @ k.T).softmax(-1) @ s).sum()\n"
        "params = torch.randn(3, requires_grad=True)\n"
        "w = torch.randn(4, 12, requires_grad=True)\n"
        "loss = f(torch.arange(4.0), params).sum() + attend(torch.randn(3, 4), w)\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    made_by = {
        e.dst: (g.node(e.src).autograd, e.slot) for e in g.edges if g.node(e.src).kind == "op"
    }
    named = {n.names[0]: made_by[n.id] for n in g.tensors() if n.names and n.id in made_by}
    assert {k: named[k] for k in "abc"} == {
        "a": ("UnbindBackward0", 0),
        "b": ("UnbindBackward0", 1),
        "c": ("UnbindBackward0", 2),
    }
    assert {k: named[k][1] for k in "qkv"} == {"q": 0, "k": 1, "v": 2}
    assert "s" not in named and "r" not in named  # v * 2 is s, but the line built a tuple


def test_a_tuple_of_computed_values_names_each_in_order(tmp_path: Path) -> None:
    """A VAE's ``mu, logvar = self.fc_mu(h), self.fc_var(h)``: each value its name, in
    the order Python ran them, calls of the snippet's functions too. Not on a line that
    ran in a loop (which ``c`` would it be?), nor where a value is only moved (``s, r =
    v * 2, q`` above)."""
    snippet = tmp_path / "vae.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "def scaled(t):\n"
        "    return t * 3\n"
        "class Enc(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc_mu, self.fc_var = nn.Linear(4, 2), nn.Linear(4, 2)\n"
        "    def forward(self, h):\n"
        "        mu, logvar = self.fc_mu(h), self.fc_var(h)\n"
        "        a, b = scaled(mu), logvar.exp()\n"
        "        c, d = a, b\n"
        "        for _ in range(2):  # c and d twice: which is which?\n"
        "            c, d = c + 1, d * 2\n"
        "        return (a * b + c * d).sum()\n"
        "enc = Enc()\n"
        "h = torch.randn(5, 4)\n"
        "loss = enc(h)\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    ns = plain_run(snippet)
    enc, h = ns["enc"], ns["h"]
    mu, logvar = enc.fc_mu(h), enc.fc_var(h)
    for name, want in [("mu", mu), ("logvar", logvar), ("a", mu * 3), ("b", logvar.exp())]:
        assert close(values(named(g, name).value), want.tolist()), name
    # the loop made two of each: only the last is c and d (the function's locals say so)
    assert close(values(named(g, "c").value), (mu * 3 + 2).tolist())
    assert close(values(named(g, "d").value), (logvar.exp() * 4).tolist())


def test_a_line_does_not_name_a_tensor_after_a_variable_holding_another(tmp_path: Path) -> None:
    """``J = jacobian(f, x)``: J is the matrix returned, not the last op run on that line."""
    snippet = tmp_path / "jac.py"
    snippet.write_text(
        "import torch\n"
        "x = torch.tensor([1.0, 2.0, 3.0])\n"
        "J = torch.autograd.functional.jacobian(lambda t: t ** 2, x)\n"
        "w = torch.ones(3, requires_grad=True)\n"
        "loss = (w * J).sum()\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    assert [n.names for n in g.nodes if "J" in n.names] == []
    assert g.by_name("loss").kind == "output"


def test_a_line_names_its_tensor_though_the_variable_was_assigned_again(tmp_path: Path) -> None:
    """PyTorch's autograd tutorial computes ``z = torch.matmul(x, w)+b`` again on later
    lines; the graph's z, made on the first, is still ``z``. Assigned again under
    no_grad (no line to tell), the variable may hold this line's value: no name."""
    snippet = tmp_path / "again.py"
    snippet.write_text(
        "import torch\nx = torch.ones(5)\ny = torch.zeros(3)\n"
        "w = torch.randn(5, 3, requires_grad=True)\nb = torch.randn(3, requires_grad=True)\n"
        "z = torch.matmul(x, w)+b\n"
        "h = (w * 2).sum()\n"
        "loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y) + h\n"
        "loss.backward()\n"
        "z = torch.matmul(x, w)+b\n"
        "print(z.requires_grad)\n"
        "with torch.no_grad():\n    h = (w * 2).sum()\n"
    )
    result = capture(snippet)
    g = result.graph
    assert result.run.error is None and g is not None
    made_by = {e.dst: g.node(e.src).autograd for e in g.edges if g.node(e.src).kind == "op"}
    (z,) = [n for n in g.tensors() if "z" in n.names]
    assert z.source is not None and z.source.line == 6 and made_by[z.id] == "AddBackward0"
    assert [n.names for n in g.nodes if "h" in n.names] == []


def test_each_module_called_once_names_the_locals_of_its_forward(tmp_path: Path) -> None:
    """Karpathy's ``Head`` in a ``MultiHeadAttention``: each head's forward runs once, so its
    ``k`` is named in each, with that head's numbers. A module called twice (one head on
    two inputs) makes two ``k`` in one scope, which no name tells apart: they keep labels."""
    snippet = tmp_path / "heads.py"
    snippet.write_text(
        "import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
        "class Head(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.key = nn.Linear(4, 3, bias=False)\n"
        "        self.query = nn.Linear(4, 3, bias=False)\n"
        "    def forward(self, x):\n"
        "        k = self.key(x)\n"
        "        q = self.query(x)\n"
        "        wei = (q @ k.transpose(-2, -1)).softmax(-1)\n"
        "        return wei @ x\n"
        "heads = nn.ModuleList([Head(), Head()])\n"
        "x = torch.randn(2, 5, 4)\n"
        "out = torch.cat([h(x) for h in heads], dim=-1)\n"
        "shared = Head()\n"
        "twice = shared(x) + shared(x * 2)\n"
        "(out.sum() + twice.sum()).backward()\n"
    )
    g = graph_of(snippet)
    plain = plain_run(snippet)
    x = plain["x"]
    for i, head in enumerate(plain["heads"]):
        k, q = head.key(x), head.query(x)
        expected = {
            ("k", f"heads.{i}.key", 10): k,
            ("q", f"heads.{i}.query", 11): q,
            ("wei", f"heads.{i}", 12): (q @ k.transpose(-2, -1)).softmax(-1),
        }
        for (name, scope, line), t in expected.items():
            (n,) = [m for m in g.tensors() if name in m.names and m.scope[-1] == scope]
            assert n.names == (name,) and n.source is not None and n.source.line == line
            assert close(values(n.value), t.tolist())
    twice = [n for n in g.tensors() if n.kind == "tensor" and n.scope[:1] == ("shared",)]
    assert twice and not [n.names for n in twice if n.names]


def test_a_module_s_plain_tensor_attribute_names_the_constant_an_op_takes(
    tmp_path: Path,
) -> None:
    """The style-transfer tutorial's loss modules keep their target as a plain attribute
    (``self.target = target.detach()``): ``mse_loss`` takes ``content_loss.target``."""
    snippet = tmp_path / "style.py"
    snippet.write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
        "class ContentLoss(nn.Module):\n"
        "    def __init__(self, target):\n"
        "        super().__init__()\n"
        "        self.target = target.detach()\n"
        "    def forward(self, input):\n"
        "        self.loss = F.mse_loss(input, self.target)\n"
        "        return input\n"
        "content_loss = ContentLoss(torch.rand(1, 3, 4, 4))\n"
        "image = torch.rand(1, 3, 4, 4, requires_grad=True)\n"
        "content_loss(image * 2)\n"
        "content_loss.loss.backward()\n"
    )
    g = graph_of(snippet)
    (mse,) = [n for n in g.ops() if n.op == "mse_loss"]
    assert [c.label for c in mse.constants] == ["content_loss.target"]


def test_rows_of_a_named_tensor_are_named_as_indexed(tmp_path: Path) -> None:
    """``for x_t in inputs`` hands each step a row of ``inputs``; the steps before the last
    (whose ``x_t`` is gone) read ``inputs[0]``, ``inputs[1]``; a batch sliced inline,
    ``model(X[4:8])``, reads ``X[4:8]``; a row of a transposed tensor is found by its
    strides."""
    snippet = tmp_path / "rows.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "w = torch.randn(3, 2, requires_grad=True)\n"
        "inputs = torch.randn(3, 2)\nX = torch.randn(10, 2)\nT = torch.randn(2, 5).t()\n"
        "h = torch.zeros(3)\n"
        "for x_t in inputs:\n    h = h + w @ x_t\n"
        "loss = h.sum() + (X[4:8] @ w.t()).sum() + (T[1] @ w.t()).sum()\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    mv = sorted((n.step or 0, [c.label for c in n.constants]) for n in g.ops() if n.op == "mv")
    assert [labels for _, labels in mv] == [["inputs[0]"], ["inputs[1]"], ["x_t"]]
    mm = sorted(c.label or "" for n in g.ops() if n.op == "mm" for c in n.constants)
    assert mm == ["T[1]", "X[4:8]"]


def test_a_line_in_a_function_names_its_local_whatever_the_global_holds(
    tmp_path: Path,
) -> None:
    """``h = F.relu(self.fc1(x))`` in ``forward`` binds a local ``h``; the global ``h``
    the snippet later computes under no_grad (no line to tell) is another variable."""
    snippet = tmp_path / "scopes.py"
    snippet.write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 2)\n"
        "    def forward(self, x):\n"
        "        h = F.relu(self.fc1(x))\n"
        "        return self.fc2(h)\n"
        "net = Net()\nx = torch.randn(3, 4)\n"
        "net(x).sum().backward()\n"
        "with torch.no_grad():\n    h = net.fc1(x)\n"
    )
    g = graph_of(snippet)
    (h,) = [n for n in g.tensors() if "h" in n.names]
    assert h.source is not None and h.source.line == 9


def test_tutorial_models_capture_exactly(tmp_path: Path) -> None:
    """A CNN with batch norm and dropout, an LSTM, a transformer: torch's graph, every node."""
    snippet = tmp_path / "models.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\n"
        "torch.manual_seed(0)\n"
        "cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),\n"
        "                    nn.Flatten(), nn.Dropout(0.2), nn.Linear(18, 3))\n"
        "lstm = nn.LSTM(4, 5, batch_first=True)\n"
        "enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1)\n"
        "a = cnn(torch.randn(2, 1, 8, 8)).sum()\n"
        "b = lstm(torch.randn(2, 3, 4))[0].sum()\n"
        "c = enc(torch.randn(2, 3, 8)).sum()\n"
        "total = a + b + c\n"
        "total.backward()\n"
    )
    ns = plain_run(snippet)
    names, edges = graph_walk(graph_of(snippet))
    assert (names, edges) == torch_walk([ns["total"]])
    g = graph_of(snippet)
    for name, p in ns["cnn"].named_parameters():
        assert close(values(g.by_name(f"cnn.{name}").grad), p.grad.tolist(), tol=1e-4)


def test_gradviz_pauses_the_collector_only_around_its_own_work() -> None:
    import gc

    from gradviz.collector import paused, while_paused
    from gradviz.model import Graph

    seen = []
    with paused():
        seen.append(gc.isenabled())
        with paused():
            seen.append(gc.isenabled())
        seen.append(gc.isenabled())
    seen.append(gc.isenabled())
    assert seen == [False, False, False, True]
    assert while_paused(gc.isenabled)() is False
    g = graph_of(SAMPLES / "autograd_basics.py")
    assert Graph.from_json(g.to_json()) == g and gc.isenabled()


def test_a_list_item_name_shows_only_for_a_tensor_with_no_name_of_its_own(tmp_path: Path) -> None:
    """``parameters = [C, W1, b1]`` (makemore): the leaves are C and W1, not C, parameters[0]."""
    snippet = tmp_path / "params.py"
    snippet.write_text(
        "import torch\n"
        "C = torch.randn(5, 2, requires_grad=True)\n"
        "parameters = [C, torch.randn(2, requires_grad=True)]\n"
        "loss = (C @ parameters[1]).sum()\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    assert sorted(n.names for n in g.nodes if n.kind == "leaf") == [("C",), ("parameters[1]",)]
    assert {p.name for p in g.params} == {"C", "parameters[1]"}


def test_attention_inside_multihead_attention_is_recorded_op_by_op(tmp_path: Path) -> None:
    """nn.MultiheadAttention runs in Python; its projections, heads and scores get values."""
    snippet = tmp_path / "mha.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "mha = torch.nn.MultiheadAttention(4, 2, batch_first=True)\n"
        "x = torch.randn(1, 3, 4)\n"
        "out, weights = mha(x, x, x)\n"
        "loss = out.pow(2).sum()\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    assert graph_walk(graph_of(snippet)) == torch_walk([ns["loss"]])
    g = graph_of(snippet)
    assert [n.id for n in g.tensors() if n.value is None] == []
    mha, x = ns["mha"], ns["x"]
    q, k, _ = torch.nn.functional.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, -1)
    q = q.reshape(3, 2, 2).transpose(0, 1)  # (heads, tokens, head_dim)
    k = k.reshape(3, 2, 2).transpose(0, 1)
    scores = torch.softmax(q @ k.transpose(-2, -1) / 2**0.5, dim=-1)
    (softmax,) = [n for n in g.ops() if n.op == "softmax"]
    (attention,) = [e.dst for e in g.edges if e.src == softmax.id]
    assert softmax.scope == ("mha",) and softmax.call == "softmax"
    assert close(values(g.node(attention).value), scores.reshape(2, 3, 3).tolist())


def test_a_composite_that_still_hands_itself_over_runs_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Should a torch version ask for the mode another way, opening it must not recurse."""
    from gradviz.torchcapture import capture_call, recorder

    def stubborn(x: torch.Tensor) -> torch.Tensor:
        if torch.overrides.has_torch_function((x,)):  # not the global the copy replaces
            return torch.overrides.handle_torch_function(stubborn, (x,), x)  # type: ignore[no-any-return]
        return (x * 2).sin()

    monkeypatch.setattr(recorder, "OPENABLE", {*recorder.OPENABLE, stubborn})
    x = torch.tensor([0.5, 1.0], requires_grad=True)
    g = capture_call(lambda: stubborn(x).sum(), (), {}, {"x": x})
    (sin,) = [n for n in g.ops() if n.op == "sin"]
    (out,) = [e.dst for e in g.edges if e.src == sin.id]
    assert close(values(g.node(out).value), torch.sin(x * 2).tolist())


def test_opened_attention_calls_what_the_snippet_patched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its copy is made when attention first runs, so it calls the snippet's own patches."""
    snippet = tmp_path / "patched.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\n"
        "calls = []\nreal = F.linear\n"
        "def linear(*args, **kwargs):\n    calls.append(1)\n    return real(*args, **kwargs)\n"
        "F.linear = linear\n"
        "mha = torch.nn.MultiheadAttention(4, 2)\nx = torch.randn(3, 1, 4)\n"
        "out, _ = mha(x, x, x)\nout.sum().backward()\nF.linear = real\n"
        "print('linear calls:', len(calls))\n"
    )
    plain, ours, _ = printed_both_ways(snippet, capsys)
    assert ours == plain == "linear calls: 2\n"  # the input and output projections


def test_loop_variables_name_a_tensor_only_when_nothing_else_does() -> None:
    from gradviz.torchcapture.naming import loop_names

    source = (
        "for p in params:\n    pass\n"
        "if True:\n    for i, (x, y) in enumerate(data):\n        pass\n"
        "def f():\n    for local in range(3):\n        pass\n"
        "w = 1\n"
    )
    assert loop_names(source) == {"p", "i", "x", "y"}
    assert loop_names("def broken(:\n") == frozenset()


def test_a_snippet_that_works_inside_functions_gets_its_locals_names(tmp_path: Path) -> None:
    """``def main()`` / ``train(model, ...)``: its globals name nothing, its frames do."""
    snippet = tmp_path / "script.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\n"
        "class Trainer:\n"
        "    def __init__(self, model):\n"
        "        self.model = model\n"
        "        self.opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    def step(self, x, y):\n"
        "        pred = self.model(x)\n"
        "        loss = nn.functional.mse_loss(pred, y)\n"
        "        self.opt.zero_grad()\n"
        "        loss.backward()\n"
        "        self.opt.step()\n"
        "def main():\n"
        "    torch.manual_seed(0)\n"
        "    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))\n"
        "    trainer = Trainer(model)\n"
        "    for _ in range(2):\n"
        "        trainer.step(torch.randn(16, 4), torch.randn(16, 1))\n"
        "if __name__ == '__main__':\n"
        "    main()\n"
    )
    g = graph_of(snippet)
    leaves = {n.names[0] for n in g.nodes if n.kind == "leaf"}
    assert leaves == {f"self.model.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")}
    assert {"loss", "pred"} <= {name for n in g.nodes for name in n.names}
    linear = next(n for n in g.ops() if n.op == "addmm")
    assert linear.scope[0] == "self.model"


def test_each_graph_on_show_is_named_by_the_locals_of_its_own_call(tmp_path: Path) -> None:
    """UvA's activation-function notebook: ``get_grads(act_fn, x)`` once per activation
    makes a graph per call, each with its own local ``x`` and ``out``."""
    snippet = tmp_path / "acts.py"
    snippet.write_text(
        "import torch\n"
        "def get_grads(act_fn, x):\n"
        "    x = x.clone().requires_grad_()\n"
        "    out = act_fn(x)\n"
        "    out.sum().backward()\n"
        "    return x.grad\n"
        "x = torch.linspace(-2, 2, 5)\n"
        "for act in (torch.tanh, torch.sigmoid, torch.exp):\n"
        "    get_grads(act, x)\n"
    )
    g = graph_of(snippet)
    assert len(g.passes) == 3
    leaves = [n for n in g.nodes if n.kind == "leaf"]
    assert [n.names for n in leaves] == [("x",)] * 3
    base = torch.linspace(-2, 2, 5)
    wanted = []
    for act in (torch.tanh, torch.sigmoid, torch.exp):
        t = base.clone().requires_grad_()
        act(t).sum().backward()
        wanted.append(t.grad.tolist())
    got = [values(n.grad) for n in leaves]
    assert all(any(close(w, gr) for gr in got) for w in wanted)
    outs = [g.node(e.dst) for e in g.edges if g.node(e.src).op in ("tanh", "sigmoid", "exp")]
    assert [n.names for n in outs] == [("out",)] * 3


def test_locals_of_a_replaced_pass_name_the_tensors_of_the_pass_that_replaced_it(
    tmp_path: Path,
) -> None:
    """WGAN-GP: the penalty's ``autograd.grad`` runs where ``interpolates`` is a local;
    the critic loss's backward, which replaces that pass, runs where it is gone."""
    snippet = tmp_path / "wgan.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "D = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))\n"
        "def penalty(real, fake):\n"
        "    alpha = torch.rand(real.size(0), 1)\n"
        "    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)\n"
        "    out = D(interpolates)\n"
        "    (grads,) = torch.autograd.grad(out.sum(), interpolates, create_graph=True)\n"
        "    return ((grads.norm(2, dim=1) - 1) ** 2).mean()\n"
        "real, fake = torch.randn(6, 4), torch.randn(6, 4)\n"
        "d_loss = D(fake).mean() - D(real).mean() + 10 * penalty(real, fake)\n"
        "d_loss.backward()\n"
    )
    g = graph_of(snippet)
    leaves = {n.names[0] if n.names else None for n in g.nodes if n.kind == "leaf"}
    assert "interpolates" in leaves and None not in leaves


def test_a_call_that_hands_back_its_input_leaves_the_op_where_it_was_made(
    tmp_path: Path,
) -> None:
    """``contiguous()`` of a contiguous tensor, ``to()`` its own dtype and
    ``broadcast_tensors`` of equal shapes (inside ``mse_loss``) return the tensor
    itself: its node keeps the line and the call that made it."""
    snippet = tmp_path / "same.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\n"
        "x = torch.randn(3, requires_grad=True)\n"
        "h = x * 2\n"
        "h2 = h.contiguous().to(torch.float32)\n"
        "loss = F.mse_loss(h2, torch.zeros(3))\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    (mul,) = [n for n in g.ops() if n.autograd == "MulBackward0"]
    assert mul.call == "mul" and mul.source is not None and mul.source.line == 4
    (mse,) = [n for n in g.ops() if n.autograd == "MseLossBackward0"]
    assert mse.source is not None and mse.source.line == 6


def test_a_tensor_subclass_sees_only_the_snippets_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A subclass that logs its ``__torch_function__`` calls (the docs' example) logs
    what it logs under python: not gradviz reading ``grad_fn`` off its outputs, and
    ``F.gumbel_softmax`` whole (gradviz opens such functions only for plain tensors)."""
    snippet = tmp_path / "logged.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\nseen = []\n"
        "class Logged(torch.Tensor):\n"
        "    @classmethod\n"
        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
        "        seen.append(getattr(func, '__name__', str(func)))\n"
        "        return super().__torch_function__(func, types, args, kwargs or {})\n"
        "x = torch.randn(2, 3).as_subclass(Logged).requires_grad_()\n"
        "y = (x * 2).tanh().sum() + F.gumbel_softmax(x, tau=0.5).sum()\n"
        "y.backward()\n"
        "print(seen)\n"
    )
    plain, ours, g = printed_both_ways(snippet, capsys)
    assert ours == plain and "mul" in plain and "__get__" not in plain
    assert "gumbel_softmax" in plain
    assert {op.autograd for op in g.ops()} >= {"MulBackward0", "TanhBackward0"}


def test_a_line_that_raised_names_nothing(tmp_path: Path) -> None:
    """``(g,) = autograd.grad(x ** 3, y)`` raised (y was not used): nothing was assigned
    to ``g``, so the pass's root keeps its derived label (``--partial``)."""
    snippet = tmp_path / "raises_inside.py"
    snippet.write_text(
        "import torch\n"
        "x = torch.tensor(2.0, requires_grad=True)\n"
        "y = torch.tensor(1.0, requires_grad=True)\n"
        "(g,) = torch.autograd.grad(x ** 3, y)\n"
    )
    result = capture(snippet)
    assert result.run.failed and result.graph is not None
    assert [n.names for n in result.graph.nodes if n.kind == "output"] == [()]


def test_inputs_that_need_no_grad_are_kept_by_slot_with_their_names(tmp_path: Path) -> None:
    """``y`` in ``y_pred - y`` has no node (autograd leaves its slot empty); the op keeps
    which slot it filled, its name and its numbers, and a JSON round trip keeps them."""
    snippet = tmp_path / "regression.py"
    snippet.write_text(
        "import torch\nx = torch.tensor([1.0, 2.0, 3.0])\ny = torch.tensor([2.0, 4.0, 6.0])\n"
        "w = torch.tensor(0.5, requires_grad=True)\n"
        "y_pred = w * x\n"
        "pieces = torch.cat([torch.ones(2), y_pred])\n"
        "picked = torch.where(y > 3, y_pred, y)\n"
        "loss = ((y_pred - y) ** 2).mean() + pieces.sum() + picked.sum()\n"
        "loss.backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    by_op = {n.autograd: n for n in g.ops()}
    sub = by_op["SubBackward0"]
    assert [(c.slot, c.label) for c in sub.constants] == [(1, "y")]
    assert sub.constants[0].tensor is not None
    assert values(sub.constants[0].tensor) == [2.0, 4.0, 6.0]
    # mul saved x for its backward: its numbers are kept there, not twice
    assert [(c.slot, c.label, c.tensor) for c in by_op["MulBackward0"].constants] == [
        (1, "x", None)
    ]
    cat = by_op["CatBackward0"].constants
    assert [(c.slot, c.label) for c in cat] == [(0, None)]
    assert cat[0].tensor is not None and values(cat[0].tensor) == [1.0, 1.0]
    # the condition is no input autograd has a slot for: the constant is `other`
    assert [(c.slot, c.label) for c in by_op["WhereBackward0"].constants] == [(1, "y")]
    again = Graph.from_json(g.to_json())
    assert again.node(sub.id).constants == sub.constants


def test_python_numbers_are_kept_in_the_slots_autograd_left_empty_for_them(
    tmp_path: Path,
) -> None:
    """``sq + 1e-8`` and ``torch.where(m, x, 0.0)`` leave a slot empty for the number, as
    for a constant tensor; ``x * 2`` saves its 2 (no constant is kept twice), and a
    tensor constant is still placed before any number (``lerp``'s weight has no slot)."""
    snippet = tmp_path / "numbers.py"
    snippet.write_text(
        "import torch\nx = torch.tensor([1.0, -2.0], requires_grad=True)\n"
        "sq = (x ** 2).sum()\n"
        "a = sq + 1e-8\nb = 3 - x\nc = torch.where(x > 0, x, 0.0)\nd = x * 2\n"
        "e = torch.lerp(x, torch.ones(2), 0.25)\nf = (1 + x).sum()\n"
        "import numpy as np\nh = x - np.int64(4) + np.float32(0.5)\n"
        "(a + b.sum() + c.sum() + d.sum() + e.sum() + f + h.sum()).backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    by_line = {(n.source.line, n.autograd): n for n in g.ops() if n.source is not None}

    def kept(line: int, autograd: str) -> list[tuple[int, object]]:
        return [
            (c.slot, values(c.tensor) if c.tensor is not None else None)
            for c in by_line[(line, autograd)].constants
        ]

    assert kept(4, "AddBackward0") == [(1, 1e-8)]  # a number: a 0-d tensor
    assert kept(5, "RsubBackward1") == []  # 3 - x: rsub keeps its 3 as no input
    assert kept(6, "WhereBackward0") == [(1, 0.0)]
    assert kept(7, "MulBackward0") == []
    assert kept(8, "LerpBackward0") == [(1, [1.0, 1.0])]
    assert kept(9, "AddBackward0") == [(1, 1)]
    assert kept(11, "SubBackward0") == [(1, 4)]  # numpy's numbers read as numbers too
    assert kept(11, "AddBackward0") == [(1, 0.5)]


def test_a_constant_a_frozen_module_returned_is_named_after_the_call(tmp_path: Path) -> None:
    """LoRA adds a frozen layer's output to a trainable product; a fine-tuned classifier
    takes a frozen backbone's output, flattened. Neither has a snippet name: each is
    named after the module call, with its input (the outermost call: ``backbone(z)``,
    not its last layer). One written into after the call is not that call's output."""
    snippet = tmp_path / "frozen.py"
    snippet.write_text(
        "import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
        "class LoRA(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.base = nn.Linear(4, 3).requires_grad_(False)\n"
        "        self.A = nn.Parameter(torch.randn(2, 4))\n"
        "        self.B = nn.Parameter(torch.randn(3, 2))\n"
        "    def forward(self, x):\n"
        "        return self.base(x) + x @ self.A.T @ self.B.T\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1))\n"
        "        self.features.requires_grad_(False)\n"
        "        self.fc = nn.Linear(4, 2)\n"
        "    def forward(self, x):\n"
        "        return self.fc(torch.flatten(self.features(x), 1))\n"
        "layer, net = LoRA(), Net()\n"
        "backbone = nn.Sequential(nn.Linear(4, 4), nn.Tanh()).requires_grad_(False)\n"
        "x, images = torch.randn(5, 4), torch.randn(2, 3, 6, 6)\n"
        "w = torch.ones(4, requires_grad=True)\n"
        "a = backbone(x) * w\n"
        "b = backbone(x).add_(1) * w\n"
        "(layer(x).sum() + net(images).sum() + a.sum() + b.sum()).backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    labels = {
        (n.source.code if n.source else "", n.autograd): [c.label for c in n.constants]
        for n in g.ops()
    }
    assert labels[("return self.base(x) + x @ self.A.T @ self.B.T", "AddBackward0")] == [
        "layer.base(x)"
    ]
    assert labels[("return self.fc(torch.flatten(self.features(x), 1))", "AddmmBackward0")] == [
        "net.features(images)"
    ]
    assert labels[("a = backbone(x) * w", "MulBackward0")] == ["backbone(x)"]
    assert labels[("b = backbone(x).add_(1) * w", "MulBackward0")] == [None]


def test_a_constant_is_named_by_the_local_of_the_function_that_used_it(tmp_path: Path) -> None:
    """d2l's dropout from scratch: ``mask`` is a local of ``dropout_layer``, gone when the
    snippet ends; it names the constant as the function held it when the op ran."""
    snippet = tmp_path / "dropout.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "def dropout_layer(X, dropout):\n"
        "    mask = (torch.rand(X.shape) > dropout).float()\n"
        "    return mask * X / (1.0 - dropout)\n"
        "w = torch.randn(3, 2, requires_grad=True)\n"
        "dropout_layer(w, 0.5).sum().backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    (mul,) = (n for n in g.ops() if n.autograd == "MulBackward0")
    assert [c.label for c in mul.constants] == ["mask"]


def test_a_constant_made_of_named_tensors_is_named_after_its_call(tmp_path: Path) -> None:
    """Soft actor-critic's ``q1(torch.cat([o, a], -1))`` and a GAN's ``torch.ones_like(d)``
    make constants inline: ``cat(o, a)`` and ``ones_like(d)``, not ``const``; a piece of
    one is ``o[:, 1:]``. One written into since, or made of unnamed tensors, stays
    unnamed."""
    snippet = tmp_path / "sac.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "q = nn.Linear(5, 1)\n"
        "o, a = torch.randn(8, 3), torch.randn(8, 2)\n"
        "d = q(torch.cat([o, a], -1))\n"
        "loss = nn.functional.mse_loss(d, torch.ones_like(d))\n"
        "def bump(t):\n    t[0] = 5\n    return t\n"
        "loss = loss + (q.weight[:, :3] * bump(o * 2)).sum()\n"
        "loss = loss + (q.weight[:, :3] * o.exp().abs()).sum()\n"
        "loss = loss + (q.weight[:, :2] * o[:, 1:]).sum()\n"
        "loss.backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    labels = {
        (n.source.line if n.source else 0, n.op): [c.label for c in n.constants]
        for n in g.ops()
        if n.constants
    }
    assert labels[(6, "addmm")] == ["cat(o, a)"]
    assert labels[(7, "mse_loss")] == ["ones_like(d)"]
    assert labels[(11, "mul")] == labels[(12, "mul")] == [None]
    assert labels[(13, "mul")] == ["o[:, 1:]"]


@pytest.mark.parametrize(
    ("index", "text"),
    [
        ((slice(None), slice(None, 4)), "[:, :4]"),
        (2, "[2]"),
        ((Ellipsis, None, slice(1, None, 2)), "[..., None, 1::2]"),
        ((slice(None), torch.tensor([0, 1])), None),
        ([0, 1], None),
    ],
)
def test_an_index_of_ints_and_slices_reads_as_written(index: object, text: str | None) -> None:
    from gradviz.torchcapture.recorder import _subscript

    assert _subscript(index) == text


def test_what_torch_func_grad_differentiates_is_named_after_the_tensor_passed(
    tmp_path: Path,
) -> None:
    """The per-sample-gradients tutorial: ``grad`` differentiates a wrapper of each of
    ``params``, detached from the model's parameters; its leaves are those items, not
    ``leaf 12``, nor the parameters whose memory they share."""
    snippet = tmp_path / "per_sample.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\nfrom torch.func import functional_call, grad, vmap\n"
        "torch.manual_seed(0)\n"
        "model = nn.Linear(3, 2)\n"
        "params = {k: v.detach() for k, v in model.named_parameters()}\n"
        "def loss_of(params, x):\n"
        "    return functional_call(model, params, (x.unsqueeze(0),)).pow(2).sum()\n"
        "per_sample = vmap(grad(loss_of), in_dims=(None, 0))(params, torch.randn(4, 3))\n"
        "model(torch.randn(4, 3)).sum().backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    leaves = sorted(n.names[0] if n.names else "" for n in g.nodes if n.kind == "leaf")
    assert leaves == ["model.bias", "model.weight", "params['bias']", "params['weight']"]


def test_a_line_whose_value_a_snippet_function_returned_names_what_it_returned(
    tmp_path: Path,
) -> None:
    """d2l's MLP from scratch: ``H = relu(X @ W1 + b1)`` inside ``net``. The last op the
    line itself ran is the sum handed to ``relu``; ``H`` is what ``relu``'s return line
    made of it. A function that returns another's result (``return twice(Y)``) hands it
    on: ``G`` is ``twice``'s product. A torch function of the snippet's function's name
    is torch's."""
    snippet = tmp_path / "mlp.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "W1 = torch.randn(4, 5, requires_grad=True)\n"
        "def relu(X):\n"
        "    return torch.max(X, torch.zeros_like(X))\n"
        "def twice(X):\n"
        "    return X * 2\n"
        "def helper(X):\n"
        "    Y = X + 1\n"
        "    return twice(Y)\n"
        "def net(X):\n"
        "    H = relu(X @ W1 + 1)\n"
        "    G = helper(H - 1)\n"
        "    out = G.sum(1)\n"
        "    p = torch.relu(out)\n"
        "    return p\n"
        "net(torch.randn(3, 4)).sum().backward()\n"
    )
    g = graph_of(snippet)
    made_by = {e.dst: g.node(e.src).op for e in g.edges if g.node(e.src).kind == "op"}
    named = {name: made_by[n.id] for n in g.tensors() if n.id in made_by for name in n.names}
    assert named["H"] == "maximum"
    assert named["G"] == "mul" and named["Y"] == "add"  # helper's own Y
    assert (named["out"], named["p"]) == ("sum", "relu")


def test_a_call_of_the_snippet_s_code_names_what_it_returned_though_the_line_ran_no_op(
    tmp_path: Path,
) -> None:
    """``H1 = dropout_layer(H1, 0.2)`` and ``x = self.blocks[0](x)`` run no op on their
    own line: the value is what the function's, or the module's, ``return`` line made."""
    snippet = tmp_path / "net.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "def dropout_layer(X, p):\n"
        "    mask = (torch.rand(X.shape) > p).float()\n"
        "    return mask * X / (1.0 - p)\n"
        "class Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(4, 4)\n"
        "    def forward(self, x):\n"
        "        return torch.tanh(self.fc(x))\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.blocks = nn.ModuleList([Block()])\n"
        "    def forward(self, x):\n"
        "        h = self.blocks[0](x)\n"
        "        h = dropout_layer(h, 0.2)\n"
        "        return h.sum()\n"
        "net = Net()\n"
        "net(torch.randn(3, 4)).backward()\n"
    )
    g = graph_of(snippet)
    made_by = {e.dst: g.node(e.src) for e in g.edges if g.node(e.src).kind == "op"}
    named = sorted(
        (made_by[n.id].op or "", made_by[n.id].source.line if made_by[n.id].source else 0)
        for n in g.tensors()
        if n.id in made_by and "h" in n.names
    )
    assert named == [("div", 6), ("tanh", 12)]


def test_a_line_that_makes_an_object_does_not_name_a_tensor_it_computed(
    tmp_path: Path,
) -> None:
    """Soft actor-critic: ``dist = Normal(mu, log_std.exp())`` computes the scale on the
    way; ``dist`` is the distribution, not the ``exp``. A layer of ``self`` with a
    capital (``Q = self.W_q(x)``) still names its output."""
    snippet = tmp_path / "actor.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\nfrom torch.distributions import Normal\n"
        "torch.manual_seed(0)\n"
        "class Actor(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.W_q = nn.Linear(3, 2)\n"
        "    def forward(self, x):\n"
        "        Q = self.W_q(x)\n"
        "        dist = Normal(Q, Q.exp())\n"
        "        return dist.rsample().sum()\n"
        "Actor()(torch.randn(4, 3)).backward()\n"
    )
    g = graph_of(snippet)
    names = {name for n in g.tensors() for name in n.names}
    assert "Q" in names and "dist" not in names


def test_the_throwaway_name_names_nothing(tmp_path: Path) -> None:
    """``_`` is what the snippet meant to drop (a VQ-VAE's encodings, as its caller
    unpacks them): ``_.T @ grad`` would send a reader looking for a name nobody chose."""
    snippet = tmp_path / "vq.py"
    snippet.write_text(
        "import torch\n"
        "w = torch.randn(3, 2, requires_grad=True)\n"
        "q, _ = w * 2, torch.zeros(3, 2)\n"
        "(q * _).sum().backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    (mul,) = (n for n in g.ops() if n.autograd == "MulBackward0" and n.constants)
    assert [c.label for c in mul.constants] == [None]


def test_ops_made_inside_one_torch_call_take_its_line_and_module(tmp_path: Path) -> None:
    """``nn.Linear`` on a batch of sequences is one call to the mode, and four nodes to
    autograd (the weight's ``t``, a view of the batch as a matrix, ``addmm``, a view
    back): each is the call's, at its line, in its module, with or without a second run."""
    snippet = tmp_path / "seq.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "net = nn.Sequential(nn.Linear(4, 3), nn.Tanh())\n"
        "x = torch.randn(2, 5, 4, requires_grad=True)\n"
        "y = net(x).sum()\n"
        "y.backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    made = sorted(
        (n.op, n.source.line if n.source else 0, n.call or "", n.scope)
        for n in g.ops()
        if n.op != "sum"
    )
    inside = ("net", "net.0")
    assert made == [
        ("addmm", 6, "linear", inside),
        ("t", 6, "linear", inside),
        ("tanh", 6, "tanh", ("net", "net.1")),
        ("view", 6, "linear", inside),
        ("view", 6, "linear", inside),
    ]


def test_a_view_of_a_weight_takes_the_line_of_the_op_that_used_it(tmp_path: Path) -> None:
    """``linear`` on a matrix transposes its weight, a node the mode never sees and no
    second run looks for: it ran where its user ran, in ``addmm``'s line and module."""
    snippet = tmp_path / "mlp.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "net = nn.Sequential(nn.Linear(4, 3), nn.Tanh())\n"
        "x = torch.randn(2, 4)\n"
        "y = net(x).sum()\n"
        "y.backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    (t,) = (n for n in g.ops() if n.op == "t")
    assert (t.source.line if t.source else None, t.call, t.scope) == (6, "linear", ("net", "net.0"))
    assert all(n.source is not None and n.source.line == 6 for n in g.nodes if n.kind != "leaf")


def test_matmul_constants_go_to_the_mm_under_its_reshape(tmp_path: Path) -> None:
    """PyTorch's autograd tutorial: ``torch.matmul(x, w)`` of a vector ``x`` is an ``mm``
    of ``x`` as a row, then a squeeze; a batch of matrices is an ``mm``, then a view.
    The constant ``x`` belongs to the mm's empty slot, not to the reshape on top."""
    snippet = tmp_path / "tutorial.py"
    snippet.write_text(
        "import torch\nx = torch.ones(5)\ny = torch.zeros(3)\n"
        "w = torch.randn(5, 3, requires_grad=True)\nb = torch.randn(3, requires_grad=True)\n"
        "z = torch.matmul(x, w) + b\n"
        "batch = torch.ones(2, 4, 5)\nh = batch @ w\n"
        "loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y) + h.sum()\n"
        "loss.backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    mms = {n.source.line: n for n in g.ops() if n.op == "mm" and n.source is not None}
    assert [(c.slot, c.label) for c in mms[6].constants] == [(0, "x")]
    assert [(c.slot, c.label) for c in mms[8].constants] == [(0, "batch")]
    reshapes = [n for n in g.ops() if n.op in ("squeeze", "unsafe_view")]
    assert len(reshapes) == 2 and all(n.constants == () for n in reshapes)


def test_constants_are_left_unplaced_where_their_slots_are_not_certain(tmp_path: Path) -> None:
    """batch_norm's running statistics are constants with no slot: with more constants
    than empty slots, none is placed rather than a wrong one."""
    snippet = tmp_path / "bn.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\n"
        "x = torch.randn(4, 3)\nw = torch.ones(3, requires_grad=True)\n"
        "mean, var = torch.zeros(3), torch.ones(3)\n"
        "out = F.batch_norm(x, mean, var, w, None, training=True)\nout.sum().backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    bn = next(n for n in g.ops() if n.autograd == "NativeBatchNormBackward0")
    assert bn.constants == ()


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda x: torch.nn.functional.max_pool2d(x, 2), "max_pool2d_with_indices"),
        (lambda x: torch.nn.functional.interpolate(x, scale_factor=2.0), "upsample_nearest2d"),
        (lambda x: torch.nn.functional.unfold(x, 2), "im2col"),
        (torch.log1p, "log1p"),
        (lambda x: x.flatten() @ x.flatten(), "dot"),
        (lambda x: torch.linalg.inv(x[0, 0]), "linalg_inv_ex"),
        (lambda x: torch.nn.functional.smooth_l1_loss(x, x.detach() * 2), "smooth_l1_loss"),
        (lambda x: torch.nn.functional.fold(x.view(1, 4, 4), (3, 3), 2), "col2im"),
    ],
)
def test_op_names_keep_torch_spelling_of_digits(make: object, name: str) -> None:
    """``MaxPool2DWithIndicesBackward0`` is ``max_pool2d_with_indices``, as torch spells
    the function, not ``max_pool2_d_with_indices``."""
    from gradviz.torchcapture.build import op_name

    x = (torch.rand(1, 1, 4, 4) + torch.eye(4)).requires_grad_()
    out = make(x)  # type: ignore[operator]
    assert op_name(out.grad_fn) == name


def test_a_detached_tensor_is_named_as_the_line_that_used_it_names_it(tmp_path: Path) -> None:
    """d2l's ``u = y.detach()`` shares ``y``'s memory; ``z = u * x`` saved it, and the
    capture calls it ``u``, as the line does, while ``x * y.detach()`` calls it ``y``."""
    snippet = tmp_path / "detach.py"
    snippet.write_text(
        "import torch\nx = torch.arange(4.0, requires_grad=True)\n"
        "y = x * x\nu = y.detach()\nz = u * x\nv = x * y.detach()\n"
        "(z.sum() + v.sum()).backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    labels = {
        n.source.line: {s.name: s.label for s in n.saved if s.label}
        for n in g.ops()
        if n.autograd == "MulBackward0" and n.source is not None
    }
    assert labels[5] == {"self": "u"}
    assert labels[6] == {"other": "y"}


def test_constants_of_a_call_that_made_several_nodes_are_not_given_to_its_last(
    tmp_path: Path,
) -> None:
    """``kl_div(..., reduction='none')`` ends in a ``sub`` of two tensors it made itself:
    the target passed in is not that sub's missing input, so it is not named there."""
    snippet = tmp_path / "kl.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\n"
        "x = torch.randn(3, requires_grad=True)\np = torch.tensor([0.2, 0.3, 0.5])\n"
        "F.kl_div(F.log_softmax(x, 0), p, reduction='none').sum().backward()\n"
        "y = torch.tensor([1.0, 2.0, 3.0])\n(x / y).sum().backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    by_op = {n.autograd: n for n in g.ops()}
    assert by_op["SubBackward0"].constants == ()
    assert [(c.slot, c.label) for c in by_op["DivBackward0"].constants] == [(1, "y")]


def test_a_batch_that_linear_views_as_a_matrix_keeps_its_name(tmp_path: Path) -> None:
    """``nn.Linear`` on a 3-D batch runs ``addmm`` on the batch viewed as a matrix: the
    same numbers in the same order, so what addmm saved is named ``x``; a slice of x at
    the same address holds other numbers, and has its own name."""
    snippet = tmp_path / "batch.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\nlin = torch.nn.Linear(4, 2)\n"
        "x = torch.randn(3, 5, 4)\nhead = x[:2]\n"
        "(lin(x).sum() + lin(head).sum()).backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    mat1 = sorted(
        (s.tensor.shape if s.tensor else None, s.label)
        for n in g.ops()
        if n.autograd == "AddmmBackward0"
        for s in n.saved
        if s.name == "mat1"
    )
    assert mat1 == [((10, 4), "head"), ((15, 4), "x")]


def test_a_frozen_layers_bias_is_named_in_its_own_slot(tmp_path: Path) -> None:
    """``linear`` passes (input, weight, bias), ``addmm`` takes (bias, input, weight.T): a
    frozen last layer's bias is addmm's ``self``, and its weight, which goes in
    transposed, is given no name that would read as untransposed."""
    snippet = tmp_path / "frozen.py"
    snippet.write_text(
        "import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))\n"
        "model[2].requires_grad_(False)\n"
        "x = torch.randn(5, 3)\nmodel(x).sum().backward()\n"
    )
    g = capture(snippet).graph
    assert g is not None
    first, last = sorted(
        (n for n in g.ops() if n.autograd == "AddmmBackward0"), key=lambda n: n.step or 0
    )
    assert [(c.slot, c.label) for c in first.constants] == [(1, "x")]
    assert [(c.slot, c.label) for c in last.constants] == [(0, "model.2.bias")]


def test_a_lambda_names_what_its_call_returned_not_itself(tmp_path: Path) -> None:
    """d2l's weight decay: ``net = lambda X: torch.matmul(X, w) + b`` runs its ``add``
    when called; the sum is ``net(X)``'s value, which ``y_hat = net(X)`` names (a local
    of a function that has returned: only its line can say so), and not ``net``. Nor
    is ``loss = lambda ...``'s ``div`` the ``loss``."""
    snippet = tmp_path / "wd.py"
    snippet.write_text(
        "import torch\n"
        "w = torch.ones(3, 1, requires_grad=True)\n"
        "b = torch.zeros(1, requires_grad=True)\n"
        "X, y = torch.ones(2, 3), torch.zeros(2, 1)\n"
        "net = lambda X: torch.matmul(X, w) + b\n"
        "loss = lambda y_hat, y: (y_hat - y) ** 2 / 2\n"
        "def objective(X, y):\n"
        "    y_hat = net(X)\n"
        "    l = loss(y_hat, y) + 0.1 * (w**2).sum()\n"
        "    return l.sum()\n"
        "objective(X, y).backward()\n"
    )
    named = _names_by_op(graph_of(snippet))
    assert named.get("y_hat") == "add"
    assert "net" not in named and "loss" not in named


def _names_by_op(g: Graph) -> dict[str, str]:
    made_by = {e.dst: g.node(e.src) for e in g.edges if g.node(e.src).kind == "op"}
    return {
        name: made_by[n.id].op or "" for n in g.tensors() if n.id in made_by for name in n.names
    }


def test_a_value_returned_by_a_call_is_named_by_the_call(tmp_path: Path) -> None:
    """d2l's weight decay: ``lambd * l2_penalty(w)`` multiplies what ``l2_penalty``
    returned; a reader knows it as ``l2_penalty(w)``, not ``div(sum(pow(w)))``. So is
    a method's (``self.encode(x)``), and one handed on by a ``return`` (``predict(w)``
    returns ``sigmoid(x * w + 1)``: the outer call names it, and the sum passed to
    ``sigmoid`` is not ``predict``'s value).
    A call made in a loop, twice on a line, or of a function that returns a tuple
    names nothing: the graph cannot tell its values apart, or the call's value is not
    one tensor."""
    snippet = tmp_path / "calls.py"
    snippet.write_text(
        "import torch\n"
        "w = torch.ones(3, requires_grad=True)\n"
        "def l2_penalty(w):\n"
        "    return torch.sum(w.pow(2)) / 2\n"
        "def cell(x, h):\n"
        "    return torch.tanh(x * w + h)\n"
        "def halves(x):\n"
        "    return x[:1] * 1, x[1:] * 1\n"
        "def sigmoid(z):\n"
        "    return 1 / (1 + torch.exp(-z))\n"
        "def predict(x):\n"
        "    return sigmoid(x * w + 1)\n"
        "def squashed(x):\n"
        "    s = sigmoid(x)\n"
        "    return s * 3\n"
        "class Coder:\n"
        "    def encode(self, x):\n"
        "        return x.exp()\n"
        "    def loss(self, x):\n"
        "        return (self.encode(x) * 2).sum()\n"
        "def objective():\n"
        "    h = torch.zeros(3)\n"
        "    for _ in range(2):\n"
        "        h = cell(w, h) * 1\n"
        "    a, b = halves(w)\n"
        "    twice = l2_penalty(w) + 0.1 * l2_penalty(h)\n"
        "    return (h.sum() + 0.1 * l2_penalty(w) + a.sum() + b.sum() + twice\n"
        "            + Coder().loss(w) + predict(w).sum() + squashed(w).sum())\n"
        "objective().backward()\n"
    )
    g = graph_of(snippet)
    names = _names_by_op(g)
    assert names.get("l2_penalty(w)") == "div"
    assert names.get("self.encode(x)") == "exp"
    # predict returns what sigmoid returned, not the sum it passed to it: the outer call
    assert names.get("predict(w)") == "mul" and "sigmoid(x * w + 1)" not in names
    assert names.get("s") == "mul"  # s = sigmoid(x): the 1 / ..., made of two ops
    assert not any(name.startswith(("cell(", "halves(")) for name in names)
    assert sum(name.startswith("l2_penalty(") for name in names) == 1


def test_a_module_a_loop_left_behind_does_not_name_its_parameters(tmp_path: Path) -> None:
    """Tutorials initialize weights in ``for m in model.modules():``, which leaves ``m``
    at the last module: its parameters keep their own names, not ``model.2.weight, m.weight``.
    A module reached only through a loop's variable is still named by it."""
    snippet = tmp_path / "init.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))\n"
        "for m in model.modules():\n"
        "    if isinstance(m, nn.Linear):\n"
        "        nn.init.xavier_uniform_(m.weight)\n"
        "for head in [nn.Linear(1, 1)]:\n"
        "    pass\n"
        "class Scale:\n"
        "    def __init__(self):\n"
        "        self.w = torch.ones(1, requires_grad=True)\n"
        "    def __call__(self, x):\n"
        "        return x * self.w\n"
        "scales = [Scale(), Scale()]\n"
        "x = head(model(torch.randn(2, 3)))\n"
        "for scale in scales:\n"
        "    x = scale(x)\n"
        "loss = x.sum()\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    leaves = {n.names for n in g.nodes if n.kind == "leaf"}
    assert ("model.2.weight",) in leaves and ("model.2.bias",) in leaves
    assert ("head.weight",) in leaves  # no better name: the loop's is kept
    assert ("scales[1].w",) in leaves  # makemore's `for layer in layers:`, not `scale.w`
    assert not any(n.startswith(("m.", "scale.")) for names in leaves for n in names)


def test_tensors_held_by_the_snippet_s_own_objects_are_named_by_their_path(
    tmp_path: Path,
) -> None:
    """micrograd's classes rebuilt on tensors keep their weights in plain objects, not in
    ``nn.Module``s: ``model.layers[0].neurons[1].w``, as the snippet reaches it, not
    ``leaf 26``, nor ``p`` (what ``for p in model.parameters()`` left behind). A
    closure's weights take the names its code uses (``W``)."""
    snippet = tmp_path / "objects.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "class Neuron:\n"
        "    def __init__(self, nin):\n"
        "        self.w = torch.randn(nin, requires_grad=True)\n"
        "        self.b = torch.zeros(1, requires_grad=True)\n"
        "    def __call__(self, x):\n"
        "        return torch.tanh(x @ self.w + self.b)\n"
        "class Layer:\n"
        "    def __init__(self, nin, nout):\n"
        "        self.neurons = [Neuron(nin) for _ in range(nout)]\n"
        "    def __call__(self, x):\n"
        "        return torch.cat([n(x) for n in self.neurons])\n"
        "class MLP:\n"
        "    def __init__(self):\n"
        "        self.layers = [Layer(3, 2), Layer(2, 1)]\n"
        "    def __call__(self, x):\n"
        "        for layer in self.layers:\n"
        "            x = layer(x)\n"
        "        return x\n"
        "def make_head():\n"
        "    W = torch.ones(1, requires_grad=True)\n"
        "    def head(h):\n"
        "        return h * W\n"
        "    return head\n"
        "model, head = MLP(), make_head()\n"
        "loss = head(model(torch.tensor([2.0, 3.0, -1.0]))).sum()\n"
        "for p in [n.w for layer in model.layers for n in layer.neurons]:\n"
        "    p.grad = None\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    g = graph_of(snippet)
    leaves = {n.names[0]: n for n in g.nodes if n.kind == "leaf" and n.names}
    assert set(leaves) == {
        f"model.layers[{i}].neurons[{j}].{a}" for i, j in [(0, 0), (0, 1), (1, 0)] for a in "wb"
    } | {"W"}
    shown = leaves["model.layers[0].neurons[1].w"].grad
    assert shown is not None and shown.data is not None
    expected = ns["model"].layers[0].neurons[1].w.grad
    assert torch.allclose(torch.tensor(shown.data), expected)


def test_an_object_that_refuses_to_be_looked_into_names_nothing_and_breaks_nothing(
    tmp_path: Path,
) -> None:
    """Walking the snippet's objects for names meets what snippets hold: an object whose
    ``__dict__`` raises, one that refers to itself, a list of a thousand tensors."""
    snippet = tmp_path / "odd.py"
    snippet.write_text(
        "import torch\n"
        "class Weird:\n"
        "    @property\n"
        "    def __dict__(self):\n"
        "        raise RuntimeError('no')\n"
        "class Holder:\n"
        "    def __init__(self):\n"
        "        self.w = torch.ones(2, requires_grad=True)\n"
        "        self.weird, self.me = Weird(), self\n"
        "        self.many = [torch.zeros(1) for _ in range(1000)]\n"
        "h, odd = Holder(), Weird()\n"
        "(h.w * 3).sum().backward()\n"
    )
    result = capture(snippet)
    assert result.graph is not None and not result.internal_errors
    assert [n.names for n in result.graph.nodes if n.kind == "leaf"] == [("h.w",)]


def test_a_function_called_by_another_name_is_named_by_that_call(tmp_path: Path) -> None:
    """d2l's training loops call ``linreg`` as ``net`` and ``squared_loss`` as ``loss``
    (``net, loss = linreg, squared_loss``): ``net(X, w, b)`` is ``linreg``'s value. A
    ``functools.partial`` of a function counts too."""
    snippet = tmp_path / "d2l.py"
    snippet.write_text(
        "import functools\nimport torch\n"
        "w = torch.ones(2, 1, requires_grad=True)\n"
        "def linreg(X, w, b):\n"
        "    return torch.matmul(X, w) + b\n"
        "def squared_loss(y_hat, y, scale):\n"
        "    return (y_hat - y) ** 2 / scale\n"
        "net, loss = linreg, functools.partial(squared_loss, scale=2)\n"
        "X, y = torch.ones(3, 2), torch.zeros(3, 1)\n"
        "def step():\n"
        "    (loss(net(X, w, 0.5), y) * 3).sum().backward()\n"
        "step()\n"
    )
    names = _names_by_op(graph_of(snippet))
    assert names.get("net(X, w, 0.5)") == "add"
    assert names.get("loss(net(X, w, 0.5), y)") == "div"


def test_d2l_softmax_regression_names_what_net_returned(tmp_path: Path) -> None:
    """d2l's ``net(X)`` returns ``softmax(torch.matmul(X.reshape(...), W) + b)``: the
    division ``softmax`` made is ``net(X)``, two calls up, in ``cross_entropy(net(X),
    y)``; the inner call is too long to read at a glance."""
    snippet = tmp_path / "softmax.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "W = torch.normal(0, 0.01, size=(6, 3), requires_grad=True)\n"
        "b = torch.zeros(3, requires_grad=True)\n"
        "def softmax(X):\n"
        "    X_exp = torch.exp(X)\n"
        "    partition = X_exp.sum(1, keepdim=True)\n"
        "    return X_exp / partition\n"
        "def net(X):\n"
        "    return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)\n"
        "def cross_entropy(y_hat, y):\n"
        "    return -torch.log(y_hat[range(len(y_hat)), y])\n"
        "X, y = torch.randn(5, 6), torch.tensor([0, 2, 1, 1, 0])\n"
        "l = cross_entropy(net(X), y)\n"
        "l.sum().backward()\n"
    )
    names = _names_by_op(graph_of(snippet))
    assert names.get("net(X)") == "div"
    assert {"X_exp", "partition", "l"} <= set(names)


def test_a_variable_assigned_a_value_handed_on_by_a_return_is_named_by_it(
    tmp_path: Path,
) -> None:
    """``p = predict(x)``, where ``predict`` returns ``sigmoid(x * w + 1)``: ``p`` is the
    quotient ``sigmoid`` made, two calls down, not the sum ``predict`` passed to it."""
    snippet = tmp_path / "predict.py"
    snippet.write_text(
        "import torch\n"
        "w = torch.ones(3, requires_grad=True)\n"
        "def sigmoid(z):\n"
        "    return 1 / (1 + torch.exp(-z))\n"
        "def predict(x):\n"
        "    return sigmoid(x * w + 1)\n"
        "def objective():\n"
        "    p = predict(torch.ones(3))\n"
        "    return (p * 2).sum()\n"
        "objective().backward()\n"
    )
    names = _names_by_op(graph_of(snippet))
    assert names.get("p") == "mul"  # 1 / t is reciprocal(t) * 1
    assert not any(name.startswith("predict(") for name in names)


def test_a_transform_of_a_function_is_no_call_of_it(tmp_path: Path) -> None:
    """The per-sample-gradients tutorial: ``ft_per_sample_grads = ft_compute_sample_grad(
    ...)`` calls ``vmap(grad(compute_loss))``, which ``functools.wraps`` names
    ``compute_loss``; it gives gradients, not ``compute_loss``'s value, so the loss
    it computes per sample is not ``ft_per_sample_grads``."""
    snippet = tmp_path / "persample.py"
    snippet.write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
        "from torch.func import functional_call, vmap, grad\n"
        "torch.manual_seed(0)\n"
        "model = nn.Linear(6, 3)\n"
        "data, targets = torch.randn(5, 6), torch.randint(3, (5,))\n"
        "def loss_fn(predictions, targets):\n"
        "    return F.nll_loss(F.log_softmax(predictions, -1), targets)\n"
        "params = {k: v.detach() for k, v in model.named_parameters()}\n"
        "def compute_loss(params, sample, target):\n"
        "    predictions = functional_call(model, params, (sample.unsqueeze(0),))\n"
        "    return loss_fn(predictions, target.unsqueeze(0))\n"
        "ft_compute_sample_grad = vmap(grad(compute_loss), in_dims=(None, 0, 0))\n"
        "ft_per_sample_grads = ft_compute_sample_grad(params, data, targets)\n"
        "loss = loss_fn(model(data), targets)\n"
        "loss.backward()\n"
    )
    names = _names_by_op(graph_of(snippet))
    assert [name for name, op in names.items() if op == "nll_loss"] == ["loss"]
