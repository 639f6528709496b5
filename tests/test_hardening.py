"""Bad input, faults and untrusted files: one clear message, its own exit code, nothing lost.

Each test here is a row of docs/edge-cases.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from conftest import SAMPLES
from helpers import capture, close, graph_of, graph_walk, plain_run, torch_walk, values

from gradviz.cli import cli
from gradviz.model import Graph
from gradviz.transforms import without_module_hooks


def run(runner: CliRunner, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(source)
    return path


# -- snippet problems -------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        (lambda d: d / "missing.py", 3, "no such file"),
        (lambda d: d, 11, "is a folder"),
        (lambda d: (d / "b.py").write_bytes(b"\x7fELF\0\0") and d / "b.py", 11, "binary"),
        (
            lambda d: (d / "l.py").write_bytes("x = 'café'\n".encode("latin-1")) and d / "l.py",
            12,
            "not valid text",
        ),
        (lambda d: write(d, "s.py", "x = (1,\n"), 4, "SyntaxError"),
    ],
    ids=["missing", "folder", "binary", "encoding", "syntax"],
)
def test_each_snippet_problem_has_its_exit_code(
    runner: CliRunner, in_tmp: Path, make: object, code: int, message: str
) -> None:
    path = make(in_tmp)  # type: ignore[operator]
    exit_code, _, err = run(runner, "run", str(path), "-o", "g.json")
    assert exit_code == code
    assert message in err and err.startswith("gradviz: error: ") and "Traceback" not in err


def test_input_without_stdin_says_where(runner: CliRunner, in_tmp: Path) -> None:
    write(in_tmp, "asks.py", "import torch\nn = int(input('steps? '))\n")
    code, _, err = run(runner, "run", "asks.py", "-o", "g.json", stdin="")
    assert code == 13
    assert "asks.py:2: the snippet called input(), but there is no standard input" in err
    assert "echo 3 | gradviz run" in err
    ok = write(
        in_tmp,
        "asks2.py",
        "import torch\nw = torch.ones(2, requires_grad=True)\ny = w * int(input())\n",
    )
    code, _, _ = run(runner, "run", str(ok), "-o", "g.json", stdin="3\n")
    assert code == 0


def test_timeout_stops_a_snippet_that_never_ends(runner: CliRunner, in_tmp: Path) -> None:
    write(in_tmp, "forever.py", "import torch\nwhile True:\n    pass\n")
    code, _, err = run(runner, "run", "forever.py", "-o", "g.json", "--timeout", "3")
    assert code == 124
    assert "forever.py did not finish in 3 s; gradviz stopped it" in err
    assert not (in_tmp / "g.json").exists()


def test_timeout_gives_the_same_capture_as_in_process(runner: CliRunner, in_tmp: Path) -> None:
    here, _, _ = run(runner, "run", str(SAMPLES / "mlp_step.py"), "-o", "a.json")
    child, _, _ = run(
        runner, "run", str(SAMPLES / "mlp_step.py"), "-o", "b.json", "--timeout", "120"
    )
    assert here == child == 0
    assert (in_tmp / "a.json").read_text() == (in_tmp / "b.json").read_text()


def test_the_child_hands_back_an_outcome_that_needs_no_torch(tmp_path: Path) -> None:
    """The ``--timeout`` parent reads the child's Outcome without importing torch."""
    from gradviz.execute import load_snippet
    from gradviz.session import Outcome, run_capture

    outcome = run_capture(load_snippet(SAMPLES / "mlp_step.py"))
    (tmp_path / "outcome").write_bytes(outcome.to_bytes())
    check = (
        "import sys\nfrom pathlib import Path\nfrom gradviz.session import Outcome\n"
        "o = Outcome.from_bytes(Path(sys.argv[1]).read_bytes())\n"
        "print(len(o.graph.nodes), type(o.graph.meta.torch).__name__, 'torch' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", check, str(tmp_path / "outcome")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert outcome.graph is not None
    assert proc.stdout.split() == [str(len(outcome.graph.nodes)), "str", "False"]
    back = Outcome.from_bytes(outcome.to_bytes())
    assert back.graph == outcome.graph and back.exit_code == outcome.exit_code


def test_timeout_child_keeps_errors_and_exit_codes(runner: CliRunner, in_tmp: Path) -> None:
    write(in_tmp, "bad.py", "import torch\nx = torch.ones(2)\ny = x * 2\n")
    code, _, err = run(runner, "run", "bad.py", "-o", "g.json", "--timeout", "60")
    assert code == 5 and "no tensor requires grad" in err
    write(
        in_tmp,
        "exits.py",
        "import sys\nimport torch\nw = torch.ones(1, requires_grad=True)\ny = w * 2\nsys.exit(4)\n",
    )
    code, _, _ = run(runner, "run", "exits.py", "-o", "g.json", "--timeout", "60")
    assert code == 4 and json.loads((in_tmp / "g.json").read_text())["outputs"] == [0]


def test_keyboard_interrupt_exits_130(runner: CliRunner, in_tmp: Path) -> None:
    write(in_tmp, "ctrl_c.py", "raise KeyboardInterrupt\n")
    code, _, err = run(runner, "run", "ctrl_c.py", "-o", "g.json")
    assert code == 130 and "interrupted" in err


def test_snippet_changing_torch_state_does_not_break_gradviz(in_tmp: Path) -> None:
    path = write(
        in_tmp,
        "state.py",
        "import torch\n"
        "torch.set_default_dtype(torch.float64)\n"
        "torch.autograd.set_detect_anomaly(True)\n"
        "w = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "loss = (w * w).sum()\n"
        "loss.backward()\n"
        "torch.set_grad_enabled(False)\n",
    )
    before = (torch.is_grad_enabled(), torch.get_default_dtype(), torch.is_anomaly_enabled())
    g = graph_of(path)
    assert values(g.by_name("w").grad) == [2.0, 4.0]
    assert g.by_name("w").value is not None and g.by_name("w").value.dtype == "float64"
    after = (torch.is_grad_enabled(), torch.get_default_dtype(), torch.is_anomaly_enabled())
    assert after == before


# -- graphviz ---------------------------------------------------------------------


@pytest.mark.dot
def test_dot_too_slow_is_stopped_and_the_dot_kept(
    runner: CliRunner, in_tmp: Path, fake_dot: Any
) -> None:
    fake_dot("sleep 30")
    code, _, err = run(
        runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "g.svg", "--dot-timeout", "1"
    )
    assert code == 6
    assert "did not finish laying out the graph in 1 s" in err
    assert (in_tmp / "g.dot").read_text().startswith("digraph gradviz {")
    assert not (in_tmp / "g.svg").exists()


# -- untrusted graph files ------------------------------------------------------------


def saved(runner: CliRunner, folder: Path) -> dict[str, object]:
    run(runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "g.json")
    data: dict[str, object] = json.loads((folder / "g.json").read_text())
    return data


def test_render_redraws_a_saved_capture(runner: CliRunner, in_tmp: Path) -> None:
    saved(runner, in_tmp)
    code, _, err = run(runner, "render", "g.json", "-o", "again.dot")
    assert code == 0 and "wrote again.dot (6 nodes" in err
    assert "a.grad" not in (in_tmp / "again.dot").read_text()
    assert "[[1., 2.]]" in (in_tmp / "again.dot").read_text()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["nodes"][3].update(kind="evil"), "$.nodes[3].kind: 'evil' is not one of"),
        (lambda d: d["edges"][0].update(src=99), "$.edges[0].src: node 99 does not exist"),
        (lambda d: d.update(version=7), "$.version: 1 was expected"),
        (lambda d: d["nodes"][0].update(names="d"), "$.nodes[0].names: 'd' is not of type"),
        (lambda d: d.pop("nodes"), "'nodes' is a required property"),
    ],
)
def test_render_reports_the_first_schema_error_with_its_path(
    runner: CliRunner, in_tmp: Path, edit: object, message: str
) -> None:
    data = saved(runner, in_tmp)
    edit(data)  # type: ignore[operator]
    (in_tmp / "bad.json").write_text(json.dumps(data))
    code, _, err = run(runner, "render", "bad.json", "-o", "x.dot")
    assert code == 9
    assert message in err and "Traceback" not in err
    assert not (in_tmp / "x.dot").exists()


def test_render_reads_json_only(runner: CliRunner, in_tmp: Path) -> None:
    import pickle

    (in_tmp / "g.json").write_bytes(pickle.dumps({"nodes": []}))
    code, _, err = run(runner, "render", "g.json", "-o", "x.dot")
    assert code == 9 and "is not JSON" in err


def test_render_needs_no_torch(tmp_path: Path) -> None:
    out = tmp_path / "g.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gradviz",
            "run",
            str(SAMPLES / "autograd_basics.py"),
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import sys\nfrom gradviz.cli import main\n"
        f"sys.argv = ['gradviz', 'render', {str(out)!r}, '-o', {str(tmp_path / 'g.dot')!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'render imported torch'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "g.dot").exists()


# -- autograd edge cases ----------------------------------------------------------------


def test_inference_mode_builds_no_graph_and_says_so(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "inf.py",
        "import torch\nw = torch.ones(2, requires_grad=True)\n"
        "with torch.inference_mode():\n    y = w * 2\n",
    )
    result = capture(path)
    assert result.graph is None and result.no_graph is not None
    assert "no operation on them was recorded" in result.no_graph.message


def test_requires_grad_toggled_on_later(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "toggle.py",
        "import torch\nw = torch.ones(2)\nfrozen = w * 3\n"
        "w.requires_grad_()\ny = (w * 2).sum()\ny.backward()\n",
    )
    g = graph_of(path)
    assert [n.autograd for n in g.ops()] == ["SumBackward0", "MulBackward0"]
    assert values(g.by_name("w").grad) == [2.0, 2.0]


def test_work_in_another_thread_is_drawn_with_its_gradients(tmp_path: Path) -> None:
    """A torch function mode is per thread: the mode sees none of a thread's ops, yet
    the graph and every gradient are there (backward is wrapped for all threads), and
    small values are computed again from their inputs (recompute.py)."""
    path = write(
        tmp_path,
        "thread.py",
        "import threading, torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "def work():\n    y = (x * 3).pow(2).sum()\n    y.backward()\n"
        "t = threading.Thread(target=work)\nt.start()\nt.join()\n",
    )
    g = graph_of(path)
    assert [n.autograd for n in g.ops()] == ["SumBackward0", "PowBackward0", "MulBackward0"]
    assert values(g.by_name("x").grad) == [18.0, 36.0]  # 2 * 3x * 3
    assert values(g.by_name("x").value) == [1.0, 2.0]
    assert all(n.grad is not None for n in g.tensors())
    assert sorted(values(n.value) for n in g.tensors() if n.value.shape == ()) == [45.0]
    assert [values(n.value) for n in g.tensors() if n.kind == "tensor"] == [[9.0, 36.0], [3.0, 6.0]]


def test_a_fake_tensor_mode_in_the_snippet_gets_no_warning_from_gradviz(tmp_path: Path) -> None:
    """Shapes without memory (FakeTensorMode): gradviz must not ask a fake tensor for
    its address, which torch warns about, as python snippet.py would not."""
    path = write(
        tmp_path,
        "fake.py",
        "import torch\nfrom torch._subclasses.fake_tensor import FakeTensorMode\n"
        "model = torch.nn.Linear(4, 2)\n"
        "with FakeTensorMode(allow_non_fake_inputs=True):\n"
        "    y = model(torch.empty(3, 4))\n"
        "w = torch.ones(2, requires_grad=True)\n(w * 2).sum().backward()\n",
    )
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        g = graph_of(path)
    assert [str(w.message) for w in seen if "FakeTensor" in str(w.message)] == []
    assert values(g.by_name("w").grad) == [2.0, 2.0]


def test_complex_and_integer_tensors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cplx.py",
        "import torch\nz = torch.tensor([1+2j, 3-1j], requires_grad=True)\n"
        "idx = torch.tensor([1, 0])\ny = (z[idx] * z).abs().sum()\ny.backward()\n",
    )
    g = graph_of(path)
    z = g.by_name("z")
    assert z.value is not None and z.value.dtype == "complex64"
    assert values(z.value) == [1 + 2j, 3 - 1j]
    ns: dict[str, object] = {}
    exec(path.read_text(), ns)
    assert close([abs(c) for c in values(z.grad)], ns["z"].grad.abs().tolist())  # type: ignore[attr-defined]
    index = next(n for n in g.ops() if n.autograd == "IndexBackward0")
    assert any(
        s.name.startswith("indices") and s.tensor and s.tensor.dtype == "int64" for s in index.saved
    )


def test_empty_and_zero_dim_tensors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "empty.py",
        "import torch\nw = torch.ones(0, 3, requires_grad=True)\n"
        "s = torch.tensor(2.0, requires_grad=True)\ny = w.sum() * s\ny.backward()\n",
    )
    g = graph_of(path)
    w = g.by_name("w")
    assert w.value is not None and w.value.shape == (0, 3) and w.value.data == ()
    assert values(g.by_name("s").grad) == 0.0 and g.by_name("s").value.shape == ()  # type: ignore[union-attr]


def test_very_large_tensors_are_summarized_not_copied(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "big.py",
        "import torch\ntorch.manual_seed(0)\n"
        "w = torch.randn(1000, 1000, requires_grad=True)\ny = (w * 2).sum()\ny.backward()\n",
    )
    g = graph_of(path)
    w = g.by_name("w")
    assert w.value is not None and w.value.data is None and w.value.stats is not None
    assert abs(w.value.stats.mean or 1) < 0.01 and w.value.stats.std == pytest.approx(1, rel=0.01)
    assert w.grad is not None and w.grad.stats is not None and w.grad.stats.min == 2.0
    assert len(g.to_json()) < 20_000  # a million numbers were not written out


def test_tensor_subclass_and_parameter(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sub.py",
        "import torch\n"
        "class Tagged(torch.Tensor):\n"
        "    pass\n"
        "w = torch.nn.Parameter(torch.ones(2))\n"
        "t = torch.ones(2).as_subclass(Tagged).requires_grad_()\n"
        "y = (w * t).sum()\n"
        "y.backward()\n",
    )
    g = graph_of(path)
    assert g.by_name("w").param and not g.by_name("t").param
    assert values(g.by_name("t").grad) == [1.0, 1.0]


_GRAD_CAM = (
    "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
    "model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3),\n"
    "                      nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))\n"
    "seen = {}\n"
    "model[2].register_forward_hook(lambda m, i, o: seen.update(act=o.detach()))\n"
    "model[2].register_full_backward_hook(lambda m, gi, go: seen.update(grad=go[0].detach()))\n"
    "scores = model(torch.randn(1, 3, 6, 6))\n"
    "scores[0, scores.argmax()].backward()\n"
)


def test_module_backward_hooks_are_drawn_as_the_tensors_they_pass_on(
    tmp_path: Path, runner: CliRunner
) -> None:
    """Grad-CAM's hook on a layer makes torch add an identity op before and after it,
    with a copy of each tensor (``relu(BackwardHookFunction#1)``). The JSON keeps
    torch's graph as it is; drawn and told without them, it is torch's less those ops,
    and the layer's output has the gradient the hook saw."""
    path = write(tmp_path, "gradcam.py", _GRAD_CAM)
    ns = plain_run(path)
    names, edges = torch_walk([ns["scores"][0, ns["scores"].argmax()]])
    assert graph_walk(graph_of(path)) == (names, edges)  # the capture: exactly torch's
    hooks = names.pop("BackwardHookFunctionBackward")
    assert hooks == 2  # the layer's input and its output
    g = without_module_hooks(graph_of(path))
    ours, our_edges = graph_walk(g)
    assert ours == names and our_edges == edges - hooks  # one input each
    (conv,) = [n for n in g.ops() if n.scope and n.scope[-1] == "model.2"]
    (out,) = [e.dst for e in g.edges if e.src == conv.id]
    assert close(values(g.node(out).grad), ns["seen"]["grad"].tolist())
    assert g.node(out).grad_hook is None  # the hook only read it
    assert close(values(g.by_name("model.0.bias").grad), ns["model"][0].bias.grad.tolist())
    assert runner.invoke(cli, ["run", str(path), "-o", str(tmp_path / "g.dot")]).exit_code == 0
    assert "BackwardHookFunction" not in (tmp_path / "g.dot").read_text()


def test_a_module_hook_that_changes_a_gradient_is_told_like_a_tensor_hook(tmp_path: Path) -> None:
    """Guided backpropagation clamps what each ReLU sends back: the tensor the ReLU
    read shows the clamped gradient, marked hooked, and explain tells both."""
    path = write(
        tmp_path,
        "guided.py",
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))\n"
        "model[1].register_full_backward_hook(lambda m, gi, go: (gi[0].clamp(min=0),))\n"
        "x = torch.randn(1, 4, requires_grad=True)\n"
        "model(x)[0, 1].backward()\n",
    )
    ns = plain_run(path)
    g = without_module_hooks(graph_of(path))
    assert "BackwardHookFunctionBackward" not in {n.autograd for n in g.ops()}
    (relu,) = [n for n in g.ops() if n.op == "relu"]
    (read,) = [e.src for e in g.edges if e.dst == relu.id]
    hooked = g.node(read)
    assert hooked.grad_hook == 0 and min(hooked.grad.data or [-1]) >= 0
    assert close(values(g.by_name("x").grad), ns["x"].grad.tolist())
    (relu_out,) = [e.dst for e in g.edges if e.src == relu.id]
    assert min(g.node(relu_out).grad.data or [0]) < 0  # what arrived, before the clamp
    told = CliRunner().invoke(cli, ["explain", str(path)])
    assert told.exit_code == 0, told.output
    text = " ".join(told.stdout.split())
    assert "gradient hook turned" in text and "BackwardHookFunction" not in text


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_a_tensor_hook_on_a_hooked_modules_output_keeps_its_line(tmp_path: Path) -> None:
    """The output the snippet hooks (``h.register_hook``) is the copy torch's module hook
    made: drawn as the tensor it copies, it keeps the line of the snippet's hook."""
    path = write(
        tmp_path,
        "both.py",
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "lin = nn.Linear(3, 2)\nlin.register_full_backward_hook(lambda m, gi, go: None)\n"
        "h = lin(torch.randn(4, 3))\nh.register_hook(lambda g: g * 10)\n"
        "loss = h.pow(2).sum()\nloss.backward()\n",
    )
    ns = plain_run(path)
    g = without_module_hooks(graph_of(path))
    h = g.by_name("h")
    assert h.grad_hook == 7
    assert "BackwardHookFunctionBackward" not in {n.autograd for n in g.ops()}
    assert close(values(h.grad), (2 * 10 * ns["h"].detach()).tolist())
    assert close(values(g.by_name("lin.bias").grad), ns["lin"].bias.grad.tolist())


def test_torch_compile_region_is_one_opaque_node(tmp_path: Path) -> None:
    """The compiled function's backward is one node. Compiling it runs autograd.grad on
    the compiler's functional tensors: that pass is torch's, not the snippet's, and
    is not drawn (it was: a second output of five nodes without values)."""
    path = write(
        tmp_path,
        "compiled.py",
        "import torch\n"
        "@torch.compile(backend='aot_eager')\n"
        "def f(x):\n"
        "    return (x.sin() * 2).sum()\n"
        "w = torch.tensor([0.0, 1.0], requires_grad=True)\n"
        "loss = f(w)\n"
        "loss.backward()\n",
    )
    g = graph_of(path)
    assert [n.autograd for n in g.ops()] == ["CompiledFunctionBackward"]
    assert [(p.kind, p.line) for p in g.passes] == [("backward", 7)]
    assert [g.node(o).names for o in g.outputs] == [("loss",)]
    assert close(values(g.by_name("w").grad), [2.0, 2 * torch.cos(torch.tensor(1.0)).item()])


def test_a_fullgraph_compile_traces_through_the_mode(tmp_path: Path) -> None:
    """Dynamo traces a TorchFunctionMode's handler: gradviz's did its own bookkeeping
    there, which ``fullgraph=True`` refused (a graph break). Under dynamo it now only
    makes the call; the compiled module's backward is one node with its gradients."""
    path = write(
        tmp_path,
        "fullgraph.py",
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "m = nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 8))\n"
        "cm = torch.compile(m, fullgraph=True, dynamic=True, backend='aot_eager')\n"
        "for n in (3, 5):\n"
        "    out = cm(torch.randn(n, 8))\n"
        "    out.sum().backward()\n",
    )
    result = capture(path)
    assert result.run.error is None and result.graph is not None
    g = result.graph
    assert "CompiledFunctionBackward" in {n.autograd for n in g.ops()}
    ns = plain_run(path)
    assert close(values(g.by_name("m.1.bias").grad), ns["m"][1].bias.grad.tolist())


def test_a_compiled_sequential_shows_the_ops_python_runs(tmp_path: Path) -> None:
    """dynamo does not trace ``nn.Sequential.forward`` (torch's own code), so python runs
    the layers as plain ops; but it compiles any other frame that code reaches, and
    gradviz's handler made a compiled function of every op. The graph is torch's."""
    path = write(
        tmp_path,
        "seq.py",
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))\n"
        "model.compile(backend='aot_eager')\n"
        "loss = model(torch.randn(4, 8)).pow(2).mean()\n"
        "loss.backward()\n",
    )
    ns = plain_run(path)
    seen, stack, plain = set(), [ns["loss"].grad_fn], []
    while stack:
        node = stack.pop()
        if node is not None and node not in seen:
            seen.add(node)
            plain.append(type(node).__name__)
            stack.extend(f for f, _ in node.next_functions)
    g = graph_of(path)
    assert sorted(n.autograd for n in g.nodes if n.autograd) == sorted(plain)
    assert "CompiledFunctionBackward" not in plain
    assert close(values(g.by_name("model.2.bias").grad), ns["model"][2].bias.grad.tolist())


def test_a_compiled_models_parameters_are_named_without_the_wrapper(tmp_path: Path) -> None:
    """``model = torch.compile(nn.Sequential(...))`` holds the layers as ``_orig_mod``:
    named ``model.0.weight``, as the snippet's reader knows them."""
    path = write(
        tmp_path,
        "wrapped.py",
        "import torch\nfrom torch import nn\n"
        "model = torch.compile(nn.Sequential(nn.Linear(3, 1)), backend='aot_eager')\n"
        "model(torch.ones(2, 3)).sum().backward()\n",
    )
    g = graph_of(path)
    assert {p.name for p in g.params} == {"model.0.weight", "model.0.bias"}
    assert values(g.by_name("model.0.bias").grad) == [2.0]


def test_a_compiled_step_that_calls_backward_runs_as_python_runs_it(tmp_path: Path) -> None:
    """A compiled training step calls ``loss.backward()`` itself: dynamo traced gradviz's
    wrapper of backward (and failed in torch: "NYI SymInt equality"). The step runs as
    under python; its leaves show the gradients it left."""
    path = write(
        tmp_path,
        "step.py",
        "import torch\ntorch.manual_seed(0)\nmodel = torch.nn.Linear(4, 1)\n"
        "@torch.compile(backend='aot_eager')\n"
        "def train_step(x, y):\n"
        "    loss = ((model(x) - y) ** 2).mean()\n"
        "    loss.backward()\n"
        "    return loss\n"
        "loss = train_step(torch.randn(8, 4), torch.randn(8, 1))\n",
    )
    result = capture(path)
    assert result.run.error is None and result.graph is not None
    ns = plain_run(path)
    g = result.graph
    assert [(p.kind, p.line) for p in g.passes] == [("backward", 7)]
    assert close(values(g.by_name("loss").value), ns["loss"].item())
    assert close(values(g.by_name("model.weight").grad), ns["model"].weight.grad.tolist())


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # the snippet's own API
def test_torchscript_traced_and_scripted_code_runs_as_python_runs_it(tmp_path: Path) -> None:
    """jit.trace checks that two traces agree: gradviz's own reads must stay out of them."""
    path = write(
        tmp_path,
        "jitted.py",
        "import torch\ntorch.manual_seed(0)\n"
        "@torch.jit.script\n"
        "def fused(x, y):\n"
        "    return (x * y).tanh() + x\n"
        "traced = torch.jit.trace(torch.nn.Linear(3, 3), torch.randn(2, 3))\n"
        "a = torch.randn(2, 3, requires_grad=True)\n"
        "out = fused(traced(a), a).sum()\n"
        "out.backward()\n",
    )
    result = capture(path)
    assert result.run.error is None and result.graph is not None
    ns = plain_run(path)
    assert close(values(result.graph.by_name("a").grad), ns["a"].grad.tolist())
    assert close(values(result.graph.by_name("out").value), ns["out"].item())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_show_their_device(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gpu.py",
        "import torch\nw = torch.ones(2, device='cuda', "
        "requires_grad=True)\ny = (w * 3).sum()\ny.backward()\n",
    )
    g = graph_of(path)
    w = g.by_name("w")
    assert w.value is not None and w.value.device == "cuda:0"
    assert values(w.grad) == [3.0, 3.0]


def test_saved_json_from_a_capture_round_trips(runner: CliRunner, in_tmp: Path) -> None:
    data = saved(runner, in_tmp)
    assert Graph.from_dict(data).to_dict() == data


def _mutations(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Every place in ``doc``, with a kind of damage to do there."""
    found: list[tuple[tuple[Any, ...], str]] = []
    items: Any = []
    if isinstance(doc, dict):
        items = doc.items()
    elif isinstance(doc, list):
        items = enumerate(doc)
    for key, value in items:
        here = (*path, key)
        found += [(here, kind) for kind in ("string", "negative", "null", "drop", "list", "float")]
        found += _mutations(value, here)
    if isinstance(doc, dict):
        found.append(((*path, "unknown_key"), "string"))
    return found


def _damaged(doc: Any, path: tuple[Any, ...], kind: str) -> Any:
    import copy

    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if kind == "drop":
        if isinstance(parent, dict):
            parent.pop(key, None)
        else:
            parent.pop(key)
    else:
        parent[key] = {"string": "x", "negative": -1, "null": None, "list": [], "float": 0.5}[kind]
    return doc


def test_the_fast_schema_check_agrees_with_jsonschema() -> None:
    """The compiled check decides validity; jsonschema, the reference, must agree everywhere."""
    import fastjsonschema
    import jsonschema

    from gradviz.validate import _fast_check, _schema

    doc = graph_of(SAMPLES / "autograd_basics.py").to_dict()
    reference = jsonschema.Draft202012Validator(_schema())
    fast = _fast_check()
    places = _mutations(doc)
    assert len(places) > 200
    for path, kind in places:
        damaged = _damaged(doc, path, kind)
        try:
            fast(damaged)
            fast_ok = True
        except fastjsonschema.JsonSchemaException:
            fast_ok = False
        assert fast_ok == reference.is_valid(damaged), (path, kind)


def test_a_path_that_looks_like_an_option_is_refused(runner: CliRunner, in_tmp: Path) -> None:
    """``--frames -o g.svg`` would write a folder named ``-o``; it is a usage error instead."""
    for args in (["--frames", "-o", "g.svg"], ["-o", "--theme"]):
        code, _, err = run(runner, "run", str(SAMPLES / "autograd_basics.py"), *args)
        assert code == 2, err
        assert "looks like an option, not a path" in err
    assert sorted(p.name for p in in_tmp.iterdir()) == []  # nothing written
    code, _, _ = run(runner, "run", str(SAMPLES / "autograd_basics.py"), "-o", "./-g.svg")
    assert code == 0 and (in_tmp / "-g.svg").exists()
