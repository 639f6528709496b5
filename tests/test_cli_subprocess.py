"""A few real runs of the installed `gradviz` command and of `python -m gradviz`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLES, SNIPPETS

from gradviz.model import Graph

GRADVIZ = shutil.which("gradviz") or str(Path(sys.executable).with_name("gradviz"))


def printed(cmd: list[str]) -> tuple[str, list[str]]:
    """What a command printed: stdout, and stderr's lines but gradviz's own "wrote" line,
    which python and ``gradviz run`` must print alike."""
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=True)
    return proc.stdout, [ln for ln in proc.stderr.splitlines() if "gradviz: wrote" not in ln]


def raised(cmd: list[str]) -> tuple[int, list[str]]:
    """A failing command's exit code and stderr's lines, but for gradviz's own lines."""
    proc = subprocess.run(
        cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    return proc.returncode, [ln for ln in proc.stderr.splitlines() if "gradviz:" not in ln]


def test_console_script_renders_the_lecture_example(tmp_path: Path) -> None:
    proc = subprocess.run(
        [GRADVIZ, "run", str(SAMPLES / "autograd_basics.py"), "-o", str(tmp_path / "g.json")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Gradient of a:",
        "tensor([[1., 2.]])",
        "Gradient of b:",
        "tensor([[2., 3.]])",
    ]
    graph = Graph.from_json((tmp_path / "g.json").read_text())
    assert graph.by_name("a").grad is not None


def test_python_dash_m_reports_a_raising_snippet(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradviz",
            "run",
            str(SNIPPETS / "raises.py"),
            "-o",
            str(tmp_path / "g.svg"),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("Traceback (most recent call last):")
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied" in proc.stderr
    assert "/gradviz/" not in proc.stderr
    assert not (tmp_path / "g.svg").exists()


CHAIN = """
import torch
x = torch.tensor(1.0, requires_grad=True)
for epoch in range({epochs}):
    x.grad = None
    y = x
    for _ in range(50_000):
        y = y * 1.0001
    {finish}
"""


@pytest.mark.parametrize(
    ("epochs", "finish", "nodes"),
    [
        (1, "y.backward()", 100_001),
        (1, "pass  # no backward: the graph is walked from the variables", 100_001),
        (3, "y.backward()  # each pass replaces the last, whose graph is freed mid-run", 100_001),
        (2, "main: y.backward()", 100_001),
        (2, "main: y.backward(); kept = locals()  # a cycle holds the root", 100_001),
    ],
    ids=["backward", "no-backward", "training-loop", "inside-a-function", "locals-cycle"],
)
def test_deep_chain_exits_cleanly(tmp_path: Path, epochs: int, finish: str, nodes: int) -> None:
    """Freeing a 50,000-step chain that Python walked can overflow the C stack (exit 139).

    Inside a function, gradviz keeps the locals that name the graph (the root
    among them) until it is done: they must go before the nodes it holds, and
    so must a root that only a reference cycle keeps.
    """
    snippet = tmp_path / "chain.py"
    source = CHAIN.format(epochs=epochs, finish=finish)
    if finish.startswith("main: "):  # the same loop, in a function
        body = CHAIN.format(epochs=epochs, finish=finish.removeprefix("main: "))
        source = "def main():" + body.replace("\n", "\n    ") + "\nmain()\n"
    snippet.write_text(source)
    proc = subprocess.run(
        [sys.executable, "-m", "gradviz", "run", str(snippet), "-o", str(tmp_path / "g.dot")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"({nodes} nodes" in proc.stderr


def test_an_internal_error_is_one_message_not_a_traceback(tmp_path: Path) -> None:
    """Even a bug in gradviz ends in one line and exit code 70 (shown here by breaking it)."""
    code = (
        "import sys, gradviz.explain.story as s\n"
        "s.tell = lambda *a, **k: 1 / 0\n"
        "from gradviz.cli import main\n"
        f"sys.argv = ['gradviz', 'explain', {str(SAMPLES / 'autograd_basics.py')!r}]\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 70
    assert proc.stderr.startswith("gradviz: internal error: ZeroDivisionError: division by zero")
    assert "Traceback" not in proc.stderr


def test_a_terminal_gets_a_status_line_a_pipe_does_not(tmp_path: Path) -> None:
    import os
    import pty

    snippet = tmp_path / "slow.py"
    snippet.write_text(
        "import time\nimport torch\nw = torch.ones(2, requires_grad=True)\n"
        "time.sleep(0.5)\ny = (w * 2).sum()\n"
    )
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradviz", "run", str(snippet), "-o", str(tmp_path / "g.svg")],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm"},
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait() == 0
    text = seen.decode("utf-8", "replace")
    assert "running" in text and "slow.py" in text and "wrote" in text
    piped = subprocess.run(
        [sys.executable, "-m", "gradviz", "run", str(snippet), "-o", str(tmp_path / "h.svg")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "running" not in piped.stderr and piped.stderr.startswith("gradviz: wrote")


def test_a_torch_error_has_the_traceback_python_prints(tmp_path: Path) -> None:
    """The mode sends Tensor.backward through handle_torch_function; Python's frames stay."""
    snippet = tmp_path / "twice.py"
    snippet.write_text(
        "import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "y = (x * x).sum()\ny.backward()\ny.backward()\n"
    )

    def frames(cmd: list[str]) -> tuple[int, list[str], str]:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
        lines = proc.stderr.splitlines()
        where = [
            line.strip().replace(str(snippet), snippet.name)
            for line in lines
            if line.startswith('  File "')
        ]
        last = next(line for line in lines if line.startswith("RuntimeError"))
        return proc.returncode, where, last

    plain = frames([sys.executable, str(snippet)])
    ours = frames([GRADVIZ, "run", str(snippet), "-o", str(tmp_path / "g.svg")])
    assert plain[0] == ours[0] == 1
    assert ours[1] == plain[1] and "handle_torch_function" not in " ".join(ours[1])
    assert ours[2] == plain[2]


@pytest.mark.parametrize("hooked", [False, True], ids=["plain", "hooked"])
def test_an_error_inside_a_modules_forward_has_the_traceback_python_prints(
    tmp_path: Path, hooked: bool
) -> None:
    """gradviz's module hooks send each call through ``_call_impl``'s ``inner()``, a frame
    python has only where a hook is set: the snippet's own (Grad-CAM's) keeps it."""
    snippet = tmp_path / "shapes.py"
    snippet.write_text(
        "import torch\nmodel = torch.nn.Sequential(torch.nn.Linear(784, 10))\n"
        + ("model[0].register_forward_hook(lambda m, i, o: None)\n" if hooked else "")
        + "loss = model(torch.randn(3, 28, 28)).sum()\n"
    )

    plain = raised([sys.executable, str(snippet)])
    ours = raised([GRADVIZ, "run", str(snippet), "-o", str(tmp_path / "g.svg")])
    assert plain[0] == ours[0] == 1
    assert ("result = forward_call(*args, **kwargs)" in "\n".join(plain[1])) == hooked
    assert ours[1][:-1] == plain[1]  # then gradviz's hint on the shapes
    assert ours[1][-1].startswith("  hint: a matrix product needs the first matrix's columns")


def test_torch_warnings_name_the_snippets_lines_as_python_does(tmp_path: Path) -> None:
    """Through the mode, every torch warning said it came from gradviz's recorder."""
    snippet = tmp_path / "warns.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\n"
        "x = torch.randn(2, 3, requires_grad=True)\n"
        "y = F.softmax(x)\n"  # a Python torch function warns (stacklevel=2)
        "z = F.mse_loss(y, torch.zeros(3))\n"
        "z.backward()\n"
        "print(y.grad, __file__)\n"  # a C++ warning: .grad of a non-leaf
    )

    plain = printed([sys.executable, str(snippet)])
    ours = printed([GRADVIZ, "run", str(snippet), "-o", str(tmp_path / "g.json")])
    assert len([ln for ln in plain[1] if "Warning:" in ln]) == 3
    assert ours == plain
    assert "gradviz" not in "\n".join(ours[1])


def test_a_warning_from_a_backward_hook_names_the_line_python_names(tmp_path: Path) -> None:
    """A module's full backward hook warns with ``stacklevel=5``, counted out through
    ``torch.autograd.backward``: gradviz's wrapper of it made the warning name torch's
    ``Tensor.backward``. Shown once, from the snippet's ``backward()`` line."""
    snippet = tmp_path / "hooked.py"
    snippet.write_text(
        "import torch\nmodel = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())\n"
        "model[0].register_full_backward_hook(lambda m, gi, go: None)\n"
        "for _ in range(2):\n"
        "    model(torch.randn(4, 3)).sum().backward()\n"
    )

    plain = printed([sys.executable, str(snippet)])
    assert plain[1][0].startswith(f"{snippet}:5: UserWarning: Full backward hook is firing")
    assert len(plain[1]) == 2
    assert printed([GRADVIZ, "run", str(snippet), "-o", str(tmp_path / "g.json")]) == plain


def test_a_warning_counted_out_through_module_calls_names_the_frame_python_names(
    tmp_path: Path,
) -> None:
    """``nn.Softmax()`` without a dim warns with ``stacklevel=5``, counted out through
    gradviz's mode and through the ``inner()`` its module hooks add to each module call:
    it named ``Softmax.forward``, where python names ``Module._wrapped_call_impl``."""
    snippet = tmp_path / "implicit.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\n"
        "class Head(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return F.softmax(x)\n"
        "x = torch.randn(2, 3, requires_grad=True)\n"
        "Head()(x).sum().backward()\n"
        "torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax())(x).sum().backward()\n"
    )

    plain = printed([sys.executable, str(snippet)])
    assert plain[1][0].startswith(f"{snippet}:5: UserWarning: Implicit dimension choice")
    assert plain[1][2].endswith(
        "UserWarning: Implicit dimension choice for softmax has been "
        "deprecated. Change the call to include dim=X as an argument."
    )
    assert "module.py" in plain[1][2] and len(plain[1]) == 4
    assert printed([GRADVIZ, "run", str(snippet), "-o", str(tmp_path / "g.json")]) == plain


def test_a_compiled_module_trains_as_under_python(tmp_path: Path) -> None:
    """``torch.compile(model)`` traces gradviz's global module hooks: they changed its
    state inside the trace, and dynamo raised. They do nothing there now, and torch's
    warning about global hooks, which only gradviz's presence caused, is not shown."""
    snippet = tmp_path / "compiled.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 1))\n"
        "fast = torch.compile(model, backend='aot_eager')\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "x, y = torch.randn(16, 4), torch.randn(16, 1)\n"
        "for step in range(2):\n"
        "    loss = nn.functional.mse_loss(fast(x), y)\n"
        "    opt.zero_grad()\n"
        "    loss.backward()\n"
        "    opt.step()\n"
        "    print(step, loss.item(), model[0].weight.grad.sum().item())\n"
    )

    out = tmp_path / "g.json"
    assert printed([GRADVIZ, "run", str(snippet), "-o", str(out)]) == printed(
        [sys.executable, str(snippet)]
    )
    g = Graph.from_json(out.read_text())
    assert "CompiledFunctionBackward" in {n.autograd for n in g.ops()}
    assert {p.name for p in g.params if p.grad is not None} == {
        "model.0.weight",
        "model.0.bias",
        "model.2.weight",
        "model.2.bias",
    }


def test_work_done_in_child_processes_is_told_with_a_way_to_draw_it(tmp_path: Path) -> None:
    """DDP's tutorial trains in processes it starts: gradviz sees none of it, and says so
    (it said the snippet made no tensors), with the way to draw one process's work."""
    snippet = tmp_path / "spawned.py"
    snippet.write_text(
        "import multiprocessing as mp\nimport torch\n"
        "def work(rank):\n"
        "    w = torch.ones(2, requires_grad=True)\n"
        "    (w * 2).sum().backward()\n"
        "    print(rank, w.grad.tolist(), flush=True)\n"
        "if __name__ == '__main__':\n"
        "    p = mp.get_context('fork').Process(target=work, args=(0,))\n"
        "    p.start()\n"
        "    p.join()\n"
    )
    proc = subprocess.run(
        [GRADVIZ, "run", str(snippet), "-o", str(tmp_path / "g.svg")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 5 and proc.stdout == "0 [2.0, 2.0]\n"
    assert "the snippet did its work in 1 process it started" in proc.stderr
    assert "call the function it starts directly" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "g.svg").exists()


def test_anomaly_modes_forward_traceback_is_pythons(tmp_path: Path) -> None:
    """detect_anomaly prints where the forward op ran: without gradviz's frames."""
    snippet = tmp_path / "anomaly.py"
    snippet.write_text(
        "import torch\ntorch.autograd.set_detect_anomaly(True)\n"
        "x = torch.tensor([0.0, 1.0], requires_grad=True)\n"
        "y = x.sqrt()\n"
        "(y * 0).sum().backward()\n"
    )

    plain = raised([sys.executable, str(snippet)])
    ours = raised([GRADVIZ, "run", str(snippet), "-o", str(tmp_path / "g.svg")])
    assert plain[0] == ours[0] == 1
    assert "Traceback of forward call that caused the error:" in "\n".join(plain[1])
    assert ours[1][:-1] == plain[1]  # then gradviz's hint, on a line of its own
    assert ours[1][-1].startswith("  hint: anomaly detection stopped at sqrt's backward")


@pytest.mark.parametrize("hooked", [False, True], ids=["plain", "hooked"])
def test_anomaly_modes_forward_trace_through_a_module_is_pythons(
    tmp_path: Path, hooked: bool
) -> None:
    """The forward trace of an op a module ran passes ``_call_impl``: on its fast path, one
    frame, as under python; with the snippet's own hook, ``inner()`` too, as under python."""
    snippet = tmp_path / "anomaly.py"
    snippet.write_text(
        "import torch\ntorch.autograd.set_detect_anomaly(True)\n"
        "class Root(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x.sqrt()\n"
        "root = Root()\n"
        + ("root.register_forward_hook(lambda m, i, o: None)\n" if hooked else "")
        + "x = torch.tensor([0.0, 1.0], requires_grad=True)\n"
        "(root(x) * 0).sum().backward()\n"
    )

    plain = raised([sys.executable, str(snippet)])
    ours = raised([GRADVIZ, "run", str(snippet), "-o", str(tmp_path / "g.svg")])
    assert plain[0] == ours[0] == 1
    trace = "\n".join(plain[1]).split("Traceback (most recent call last)")[0]
    assert "Traceback of forward call" in trace and ("in inner" in trace) == hooked
    assert ours[1][:-1] == plain[1]  # then gradviz's hint


def test_the_forward_trace_drops_the_modes_frames() -> None:
    from gradviz.torchcapture.snippetwarnings import forward_trace_as_python

    package = str(Path(__file__).resolve().parent.parent / "gradviz") + "/"

    text = (
        "Error detected in X. Traceback of forward call that caused the error:\n"
        '  File "/bin/gradviz", line 8, in <module>\n    sys.exit(main())\n'
        '  File "/s/a.py", line 4, in <module>\n    y = F.softmax(x)\n'
        '  File "/t/torch/nn/functional.py", line 10, in softmax\n'
        "    return handle_torch_function(\n"
        '  File "/t/torch/overrides.py", line 1771, in handle_torch_function\n'
        "    result = mode.__torch_function__(public_api, types, args, kwargs)\n"
        f'  File "{package}torchcapture/recorder.py", line 283, in __torch_function__\n'
        "    out = func(*args, **(kwargs or {}))\n"
        '  File "/t/torch/nn/functional.py", line 20, in softmax\n'
        "    ret = input.softmax(dim)\n"
        " (Triggered internally at x.cpp:1.)"
    )
    assert forward_trace_as_python(text, "/s/a.py") == (
        "Error detected in X. Traceback of forward call that caused the error:\n"
        '  File "/s/a.py", line 4, in <module>\n    y = F.softmax(x)\n'
        '  File "/t/torch/nn/functional.py", line 20, in softmax\n'
        "    ret = input.softmax(dim)\n"
        " (Triggered internally at x.cpp:1.)"
    )


def test_a_profiler_in_the_snippet_sees_only_the_snippets_ops(tmp_path: Path) -> None:
    """gradviz's own summaries (aminmax, dot, item) stay out of the user's torch.profiler."""
    snippet = tmp_path / "profiled.py"
    snippet.write_text(
        "import torch\nfrom torch.profiler import profile\n"
        "model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(),\n"
        "                            torch.nn.Linear(64, 1))\n"
        "x = torch.randn(32, 64)\n"
        "with profile() as prof:\n"
        "    loss = model(x).sum()\n"
        "    loss.backward()\n"
        "print(sorted({e.key for e in prof.key_averages()}))\n"
    )

    def ops(cmd: list[str]) -> str:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=True
        )
        return next(line for line in proc.stdout.splitlines() if line.startswith("["))

    plain = ops([sys.executable, str(snippet)])
    assert "aten::addmm" in plain and "aten::aminmax" not in plain
    assert ops([GRADVIZ, "run", str(snippet), "-o", str(tmp_path / "g.json")]) == plain


def test_torch_warnings_follow_the_snippets_filters_and_lines(tmp_path: Path) -> None:
    """Shown once per line, twice from two lines, every time under "always", never under
    "ignore": the warning is issued again from the snippet's line, where its filters apply."""
    snippet = tmp_path / "filters.py"
    snippet.write_text(
        "import warnings\nimport torch\n"
        "y = torch.randn(3, requires_grad=True) * 2\n"
        "print(y.grad)\n"
        "print(y.grad)\n"  # another line: shown again
        "for _ in range(3):\n    y.grad\n"  # one line in a loop: once
        "warnings.simplefilter('always')\n"
        "for _ in range(2):\n    y.grad\n"  # twice
        "warnings.simplefilter('ignore')\n"
        "y.grad\n"
    )

    plain = printed([sys.executable, str(snippet)])
    lines = [ln.split(":")[1] for ln in plain[1] if "UserWarning" in ln]
    assert lines == ["4", "5", "7", "10", "10"]
    assert printed([GRADVIZ, "run", str(snippet), "-o", str(tmp_path / "g.json")]) == plain
