"""`gradviz doctor`: each sample's problem is found and located; its numbers are torch's."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import SAMPLES
from helpers import capture, graph_of, parse_dot, plain_run

from gradviz.cli import cli
from gradviz.health import diagnose
from gradviz.model import Graph, Stats, TensorData
from gradviz.renderers.dot import DotRenderer


def report(name: str, **kw: float):  # type: ignore[no-untyped-def]
    return diagnose(graph_of(SAMPLES / name), **kw)


def test_parameter_norms_are_torchs() -> None:
    ns = plain_run(SAMPLES / "vanishing_sigmoid.py")
    r = report("vanishing_sigmoid.py")
    by_name = {p.name: p for p in r.params}
    assert len(by_name) == 26
    for name, param in ns["net"].named_parameters():
        health = by_name[f"net.{name}"]
        assert health.grad_norm == pytest.approx(param.grad.norm().item(), rel=1e-4)
        assert health.value_norm == pytest.approx(param.detach().norm().item(), rel=1e-4)
        assert health.shape == tuple(param.shape)


def test_vanishing_gradients_are_found_with_the_op_that_shrank_them() -> None:
    r = report("vanishing_sigmoid.py")
    vanishing = [f for f in r.findings if f.kind == "vanishing"]
    assert [f.subject for f in vanishing][:2] == ["net.0.weight", "net.0.bias"]
    assert "net.24.weight" not in {f.subject for f in vanishing}
    first = vanishing[0]
    assert first.culprit is not None  # the twelve sigmoids together, each under a quarter
    assert re.fullmatch(
        r"sigmoid at line 15, 12 times \(×\S+ together, ×0\.2\d+ each\)", first.culprit
    )
    norms = [s.grad_norm for s in first.path]
    assert norms[0] == 1.0 and norms[-1] == pytest.approx(3.7e-11, rel=0.05)
    # each sigmoid passes at most 1/4 of the gradient: the path shows it shrinking
    sigmoid_steps = [
        (upper, lower) for upper, lower in itertools.pairwise(first.path) if upper.op == "sigmoid"
    ]
    assert len(sigmoid_steps) == 12
    assert all(low.grad_norm <= 0.25 * up.grad_norm + 1e-12 for up, low in sigmoid_steps)
    # a looser threshold finds fewer
    fewer = report("vanishing_sigmoid.py", vanish=1e-9)
    # |loss| is 0.551: 1e-9 of it is 5.5e-10, which net.2 (1.7e-10) is under and net.4 is not
    assert {f.subject for f in fewer.findings} == {
        "net.0.weight",
        "net.0.bias",
        "net.2.weight",
        "net.2.bias",
    }


def test_exploding_gradients_are_found() -> None:
    ns = plain_run(SAMPLES / "exploding_rnn.py")
    r = report("exploding_rnn.py")
    w_hh = next(p for p in r.params if p.name == "w_hh")
    assert w_hh.status == "exploding"
    assert w_hh.grad_norm == pytest.approx(ns["w_hh"].grad.norm().item(), rel=1e-4)
    exploding = {f.subject: f for f in r.findings if f.kind == "exploding"}
    assert set(exploding) == {"w_hh", "w_xh"}
    # the recurrence h = w_hh @ h + ... (line 14) multiplies the gradient at every step
    assert exploding["w_hh"].culprit is not None
    assert exploding["w_hh"].culprit.startswith("mv at line 14")


@pytest.mark.parametrize("scaling", ["scaler.scale(loss)", "loss * 65536.0"])
def test_a_scaled_loss_is_no_exploding_gradient(tmp_path: Path, scaling: str) -> None:
    """GradScaler multiplies the loss by 65,536 before backward, and every gradient with
    it: judged against that scale, a healthy gradient stays ok, an exploded one does not."""
    snippet = tmp_path / "scaled.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))\n"
        "scaler = torch.amp.GradScaler('cpu')\n"
        "loss = nn.functional.cross_entropy(model(torch.randn(4, 8)), torch.tensor([0, 1, 1, 0]))\n"
        f"({scaling}).backward()\n"
    )
    ns = plain_run(snippet)
    norms = [p.grad.norm().item() for p in ns["model"].parameters()]
    assert max(norms) > 1000  # what an absolute threshold took for exploding
    r = diagnose(graph_of(snippet))
    assert [p.status for p in r.params if p.name.startswith("model.")] == ["ok"] * 4
    assert not any(f.kind == "exploding" for f in r.findings)


def test_an_exploding_gradient_the_snippet_clips_says_so(tmp_path: Path) -> None:
    """Clipping bounds the step, not what backward computed: the gradient is still
    reported, and the report says the snippet clips it, and where."""
    snippet = tmp_path / "clipped.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Linear(10, 1)\nx, y = torch.randn(32, 10) * 1000, torch.randn(32, 1)\n"
        "loss = nn.functional.mse_loss(model(x), y)\nloss.backward()\n"
        "nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n"
    )
    g = graph_of(snippet)
    assert g.meta.clipped == (8,) and Graph.from_dict(g.to_dict()).meta == g.meta
    schema = Path(__file__).parent.parent / "gradviz" / "schema" / "graph.schema.json"
    jsonschema.validate(g.to_dict(), json.loads(schema.read_text()))
    (found, *_) = [f for f in diagnose(g).findings if f.kind == "exploding"]
    assert "the snippet clips gradients before its steps, at line 8" in " ".join(
        found.message.split()
    )


def test_an_exploded_gradient_under_a_scaled_loss_is_still_found(tmp_path: Path) -> None:
    snippet = tmp_path / "scaled.py"
    snippet.write_text(
        "import torch\nw = torch.tensor([2.0], requires_grad=True)\nh = w\n"
        "for _ in range(40):\n    h = h * w\nloss = h.sum()\n(loss * 1024.0).backward()\n"
    )
    r = diagnose(graph_of(snippet))
    (found,) = [f for f in r.findings if f.kind == "exploding"]
    assert found.subject == "w" and "over 1000 × 1.02e+03, the loss's scale" in found.message


BATCH_NORM_BY_HAND = """\
import torch
g = torch.Generator().manual_seed(0)
X = torch.randn(8, 5, generator=g)
W1 = torch.randn(5, 6, generator=g, requires_grad=True)
b1 = torch.randn(6, generator=g, requires_grad=True)
W2 = torch.randn(6, 3, generator=g, requires_grad=True)
hprebn = X @ W1 + b1
bnmeani = 1 / 8 * hprebn.sum(0, keepdim=True)
bndiff = hprebn - CENTRE
bnvar = 1 / 7 * (bndiff ** 2).sum(0, keepdim=True)
h = torch.tanh(bndiff * (bnvar + 1e-5) ** -0.5)
loss = (h @ W2).logsumexp(1).mean()
loss.backward()
"""


def test_a_bias_before_batch_norm_written_out_has_no_effect(tmp_path: Path) -> None:
    """makemore's hand-written batch norm subtracts the batch mean (1/n * sum): b1 added
    before it cannot change the loss, and its gradient is rounding noise."""
    snippet = tmp_path / "bn.py"
    snippet.write_text(BATCH_NORM_BY_HAND.replace("CENTRE", "bnmeani"))
    r = diagnose(graph_of(snippet))
    assert {p.name: p.status for p in r.params}["b1"] == "no effect"
    (note,) = [n for n in r.notes if n.subject == "b1"]
    assert "the sub at line 9 (a tensor less its own mean) takes away any constant shift" in (
        note.message
    )
    # less the mean of another tensor: nothing cancels b1, its gradient is a real one
    other = tmp_path / "other.py"
    other.write_text(BATCH_NORM_BY_HAND.replace("CENTRE", "(X @ W1).mean(0, keepdim=True)"))
    r = diagnose(graph_of(other))
    assert {p.name: p.status for p in r.params}["b1"] == "ok"


def test_a_bias_whose_uses_cancel_has_no_effect(tmp_path: Path) -> None:
    """A WGAN critic's loss D(fake) - D(real): its output bias gets +1/n from one use and
    -1/n from the other, exactly zero, which is no vanishing gradient."""
    snippet = tmp_path / "critic.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\nD = torch.nn.Linear(3, 1)\n"
        "fake, real = torch.randn(4, 3), torch.randn(4, 3)\n"
        "loss = D(fake).mean() - D(real).mean()\nloss.backward()\n"
    )
    ns = plain_run(snippet)
    assert ns["D"].bias.grad.item() == 0.0
    r = diagnose(graph_of(snippet))
    status = {p.name: p.status for p in r.params}
    assert status == {"D.weight": "ok", "D.bias": "no effect"}
    assert not r.findings
    (note,) = [n for n in r.notes if n.subject == "D.bias"]
    assert "while its 2 uses sent gradients of norm up to 1, which cancel out" in note.message


NORMALIZED_SUM = """\
import torch
import torch.nn as nn
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 6), nn.LayerNorm(6))
AFTER
x = torch.randn(5, 4)
(model(x) + x.sum(1, keepdim=True)).sum().backward()
"""


def test_a_sum_of_a_normalized_output_gives_no_effect_not_vanishing(tmp_path: Path) -> None:
    """A sum over a model that ends in LayerNorm (plus a skip, so the loss is not zero
    itself): the norm's output always sums to the same, so every parameter below it gets
    zero up to rounding. That is no vanishing gradient; once the norm's learned scale
    varies by feature, the gradient flows."""
    snippet = tmp_path / "normed.py"
    snippet.write_text(NORMALIZED_SUM.replace("AFTER", ""))
    ns = plain_run(snippet)
    assert ns["model"][0].weight.grad.norm() < 1e-5
    r = diagnose(graph_of(snippet))
    status = {p.name: p.status for p in r.params}
    assert status["model.0.weight"] == status["model.2.bias"] == "no effect"
    assert status["model.3.weight"] == "ok" and not r.findings
    (note,) = [n for n in r.notes if n.subject == "model.0.weight"]
    assert "the loss is a sum or mean of the output of native_layer_norm at line 7" in note.message
    scaled = tmp_path / "scaled.py"  # a scale that varies: the gradient is a real one
    scaled.write_text(
        NORMALIZED_SUM.replace("AFTER", "nn.init.uniform_(model[3].weight, 0.5, 1.5)")
    )
    r = diagnose(graph_of(scaled))
    assert {p.name: p.status for p in r.params}["model.0.weight"] == "ok"


@pytest.mark.parametrize("batch", [5, 300])  # numbers kept, or summarized
def test_a_mean_of_squares_of_a_normalized_output_gives_no_effect(
    tmp_path: Path, batch: int
) -> None:
    """``model(x).pow(2).mean()`` on a model ending in LayerNorm (an nn.Transformer's
    output): a normalized output always has the same sum of squares, so the parameters
    below it get zero up to rounding. The gradient reaching the norm is proportional to
    its output; told apart from a real vanishing gradient, and from a loss against a
    target, whose gradient flows."""
    snippet = tmp_path / "squares.py"
    body = (
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.LayerNorm(8))\n"
        f"x = torch.randn({batch}, 4) * 1000\n"  # raw units: the norm's eps is negligible
    )
    snippet.write_text(body + "model(x).pow(2).mean().backward()\n")
    ns = plain_run(snippet)
    assert ns["model"][0].weight.grad.norm() < 1e-6
    r = diagnose(graph_of(snippet))
    status = {p.name: p.status for p in r.params}
    assert status["model.0.weight"] == status["model.2.weight"] == "no effect", status
    assert status["model.3.weight"] == "ok" and not r.findings
    (note,) = [n for n in r.notes if n.subject == "model.0.weight"]
    assert "a sum or mean of squares of the output of native_layer_norm at line 6" in note.message
    target = tmp_path / "target.py"
    target.write_text(body + "(model(x) - torch.linspace(-1, 1, 8)).pow(2).mean().backward()\n")
    r = diagnose(graph_of(target))
    assert {p.name: p.status for p in r.params}["model.0.weight"] == "ok"


def test_proportional_reads_numbers_or_summaries() -> None:
    from gradviz.health import _proportional

    v = TensorData((3,), "float32", data=(1.0, -2.0, 0.5))
    assert _proportional(TensorData((3,), "float32", data=(-0.5, 1.0, -0.25)), v)
    assert not _proportional(TensorData((3,), "float32", data=(-0.5, 1.0, 0.25)), v)
    assert not _proportional(TensorData((3,), "float32", data=(0.0, 0.0, 0.0)), v)
    vs = Stats(min=-2.0, max=1.0, mean=-0.25, std=1.5, nan=0, inf=0, norm=2.5)
    gs = Stats(min=-0.5, max=1.0, mean=0.125, std=0.75, nan=0, inf=0, norm=1.25)  # -0.5 × v
    big = (1000,)
    assert _proportional(TensorData(big, "float32", stats=gs), TensorData(big, "float32", stats=vs))
    other = Stats(min=-0.5, max=1.0, mean=0.3, std=0.75, nan=0, inf=0, norm=1.25)
    assert not _proportional(
        TensorData(big, "float32", stats=other), TensorData(big, "float32", stats=vs)
    )


def test_many_notes_of_one_kind_are_told_twice_then_listed(runner: CliRunner, in_tmp: Path) -> None:
    """Four parameters with no effect for one reason: two notes in full, then the rest by
    name (the table marks each one)."""
    (in_tmp / "normed.py").write_text(NORMALIZED_SUM.replace("AFTER", ""))
    result = runner.invoke(cli, ["doctor", "normed.py"])
    assert result.exit_code == 0
    notes = [line for line in result.stdout.splitlines() if line.startswith("note: ")]
    assert len(notes) == 3
    assert notes[-1] == "note: 2 more no effect: model.2.weight, model.2.bias"


def test_the_first_nan_is_located_forward_and_backward() -> None:
    r = report("log_of_zero.py")
    forward = next(f for f in r.findings if f.kind == "nan_forward")
    assert forward.line == 6 and "log made inf in the forward pass" in forward.message
    backward = next(f for f in r.findings if f.kind == "nan_backward")
    assert backward.line == 7 and "mul sent a non-finite gradient to p" in backward.message
    p = next(p for p in r.params if p.name == "p")
    assert p.status == "nan" and math.isnan(p.grad_norm or 0.0)


@pytest.mark.parametrize(
    ("line", "op", "dropper"),
    [
        ("y = torch.where(x > 0, torch.sqrt(x), torch.zeros_like(x))", "sqrt", "where"),
        ("y = torch.log(x).masked_fill(x <= 0, 0.0)", "log", "masked_fill"),
        ("y = (1 / x)[x != 0]", "reciprocal", "index"),
    ],
)
def test_a_nan_hidden_by_a_mask_is_explained(
    tmp_path: Path, line: str, op: str, dropper: str
) -> None:
    """The torch.where trap: the mask hides the op's nan from the forward pass, not from
    backward (0 × inf). One problem says so and gives the fix; masking the input first
    (the fix itself) has no problem at all."""
    snippet = tmp_path / "masked.py"
    snippet.write_text(
        f"import torch\nx = torch.tensor([-1.0, 0.0, 4.0], requires_grad=True)\n{line}\n"
        "y.sum().backward()\n"
    )
    r = diagnose(graph_of(snippet))
    kinds = [f.kind for f in r.findings]
    assert kinds[0] == "masked_nan" and "nan_forward" not in kinds
    masked = r.findings[0]
    assert masked.line == 3
    assert masked.message.startswith(f"{dropper} drops some of {op}'s elements at masked.py:3")
    assert "0 × inf is nan" in masked.message and "torch.where(mask, x, 1.0)" in masked.message
    ns = plain_run(snippet)  # torch agrees there is a nan to explain
    assert math.isnan(ns["x"].grad.sum().item())
    fixed = tmp_path / "fixed.py"
    fixed.write_text(
        "import torch\nx = torch.tensor([-1.0, 0.0, 4.0], requires_grad=True)\n"
        "y = torch.sqrt(torch.where(x > 0, x, 1.0))\ny.sum().backward()\n"
    )
    assert diagnose(graph_of(fixed)).findings == []


def test_a_nan_the_mask_did_not_hide_is_still_told_forward(tmp_path: Path) -> None:
    snippet = tmp_path / "shown.py"
    snippet.write_text(
        "import torch\nx = torch.tensor([-1.0, 0.0, 4.0], requires_grad=True)\n"
        "y = torch.where(x >= 0, torch.sqrt(x), torch.log(x))\ny.sum().backward()\n"
    )
    kinds = [f.kind for f in diagnose(graph_of(snippet)).findings]
    assert "nan_forward" in kinds


STEPPED = """\
import torch
w = torch.tensor([1.0, -1.0], requires_grad=True)
x = torch.tensor([2.0, 3.0])
for epoch in range(3):
    loss = (w * x).sum() ** 2
    loss.backward()
    with torch.no_grad():
        UPDATE
    RESET
"""


@pytest.mark.parametrize("update", ["w -= 0.01 * w.grad", "w.data -= 0.01 * w.grad.data"])
def test_a_gradient_never_reset_between_steps_is_a_problem(
    tmp_path: Path, runner: CliRunner, update: str
) -> None:
    """The lecture's .grad accumulates, where it hurts: each step after the first used
    the gradients of every earlier value of w too. ``w.data -= ...`` bumps no version:
    the values tell."""
    snippet = tmp_path / "stepped.py"
    snippet.write_text(STEPPED.replace("UPDATE", update).replace("RESET", "pass"))
    g = graph_of(snippet)
    w = next(n for n in g.nodes if n.names == ("w",))
    assert (w.grad_passes, w.grad_stale) == (3, 2)
    plain = plain_run(snippet)["w"].grad  # torch's .grad: the sum the picture shows
    assert w.grad is not None and w.grad.data == pytest.approx(plain.tolist())
    assert Graph.from_json(g.to_json()).nodes == g.nodes
    r = diagnose(g)
    assert [f.kind for f in r.findings] == ["stale_grad"]
    assert r.findings[0].message.startswith(
        "w.grad adds up 3 backward passes (the last at line 6), and w changed between them"
    )
    assert "w.grad.zero_()" in r.findings[0].message
    assert {p.name: p.status for p in r.params} == {"w": "stale"}
    result = runner.invoke(cli, ["explain", str(snippet), "--width", "200"])
    assert "(sum of 3 backward passes, though the value changed" in result.stdout
    labels, _ = parse_dot(DotRenderer().render(g))  # the picture marks it too
    (label,) = [text for text in labels.values() if text.startswith("w")]
    assert "grad Σ3 stale" in label


@pytest.mark.parametrize(
    ("update", "reset"),
    [("w -= 0.01 * w.grad", "w.grad.zero_()"), ("w -= 0.01 * w.grad", "w.grad = None")],
)
def test_a_gradient_reset_after_each_step_is_no_problem(
    tmp_path: Path, update: str, reset: str
) -> None:
    snippet = tmp_path / "reset.py"
    snippet.write_text(STEPPED.replace("UPDATE", update).replace("RESET", reset))
    g = graph_of(snippet)
    assert all(n.grad_stale == 0 for n in g.nodes)
    assert diagnose(g).findings == []


def test_an_optimizer_stepping_without_zero_grad_is_one_problem_for_all(tmp_path: Path) -> None:
    snippet = tmp_path / "opt.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "x, y = torch.randn(8, 3), torch.randn(8, 1)\n"
        "for step in range(5):\n"
        "    loss = nn.functional.mse_loss(model(x), y)\n"
        "    loss.backward()\n"
        "    opt.step()\n"
    )
    r = diagnose(graph_of(snippet))
    (stale,) = [f for f in r.findings if f.kind == "stale_grad"]
    assert stale.message.startswith(
        "model.0.weight, model.0.bias, model.2.weight and 1 more: each .grad adds up 5 "
        "backward passes (the last at line 9)"
    )
    assert "optimizer.zero_grad()" in stale.message
    assert {p.status for p in r.params} == {"stale"}
    with_reset = tmp_path / "reset.py"
    with_reset.write_text(
        snippet.read_text().replace("    loss =", "    opt.zero_grad()\n    loss =")
    )
    assert "stale_grad" not in [f.kind for f in diagnose(graph_of(with_reset)).findings]


def test_a_stale_sum_no_step_used_is_no_problem(tmp_path: Path) -> None:
    """A GAN: the generator's backward adds into the critic's .grad after the critic
    stepped, but the critic's next zero_grad() drops that sum unused. Two epochs of a
    loop that never resets: the second step used a stale sum, and that is told."""
    gan = tmp_path / "gan.py"
    gan.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "G, D = nn.Linear(2, 2), nn.Linear(2, 1)\n"
        "opt_g = torch.optim.SGD(G.parameters(), lr=0.1)\n"
        "opt_d = torch.optim.SGD(D.parameters(), lr=0.1)\n"
        "for _ in range(2):\n"
        "    real, z = torch.randn(4, 2), torch.randn(4, 2)\n"
        "    opt_d.zero_grad()\n"
        "    d_loss = D(G(z).detach()).mean() - D(real).mean()\n"
        "    d_loss.backward()\n"
        "    opt_d.step()\n"
        "    opt_g.zero_grad()\n"
        "    g_loss = -D(G(z)).mean()\n"
        "    g_loss.backward()\n"
        "    opt_g.step()\n"
    )
    g = graph_of(gan)
    assert all(n.grad_stale == 0 for n in g.nodes)
    assert "stale_grad" not in [f.kind for f in diagnose(g).findings]
    two = tmp_path / "two.py"
    two.write_text(STEPPED.replace("range(3)", "range(2)").replace("UPDATE", "w -= 0.01 * w.grad")
                   .replace("RESET", "pass"))  # fmt: skip
    w = next(n for n in graph_of(two).nodes if n.names == ("w",))
    assert (w.grad_passes, w.grad_stale) == (2, 1)


def test_gradients_accumulated_before_one_step_are_no_problem() -> None:
    """Two backward passes into one .grad, w unchanged in between: accumulation on purpose."""
    g = graph_of(SAMPLES / "grad_accumulation.py")
    w = next(n for n in g.nodes if n.names == ("w",))
    assert w.grad_passes == 2 and w.grad_stale == 0
    assert "stale_grad" not in [f.kind for f in diagnose(g).findings]


def test_a_nan_from_an_infinite_slope_says_the_usual_way_around_it(tmp_path: Path) -> None:
    """A distance of zero: sqrt's derivative is infinite there, and 0 × inf is nan."""
    snippet = tmp_path / "dist.py"
    snippet.write_text(
        "import torch\na = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "b = torch.tensor([1.0, 2.0])\ndist = torch.sqrt(((a - b) ** 2).sum())\ndist.backward()\n"
    )
    assert math.isnan(plain_run(snippet)["a"].grad[0].item())
    (first, *_) = diagnose(graph_of(snippet)).findings
    assert first.kind == "nan_backward" and first.line == 4
    assert first.message.startswith("in backward, sqrt sent a non-finite gradient")
    assert first.message.endswith(
        "add a small epsilon inside, sqrt(x + 1e-12), or clamp x away from 0"
    )


def test_a_parameter_cut_off_by_detach_is_named_with_the_line() -> None:
    r = report("detached_param.py")
    missing = {f.subject: f for f in r.findings if f.kind == "no_grad"}
    assert set(missing) == {"encoder.weight", "encoder.bias"}
    assert missing["encoder.weight"].line == 12
    assert "cut off by .detach() at detached_param.py:12" in missing["encoder.weight"].message
    assert {p.name: p.status for p in r.params}["head.weight"] == "ok"


def test_a_state_dict_saved_is_no_detach_of_the_snippets(tmp_path: Path) -> None:
    """``state_dict()`` detaches each parameter it returns, inside torch: a checkpoint
    saved before the step cuts nothing off. A layer the forward forgot is told as never
    computed with, not as cut off at the line that saved the model; the snippet's own
    ``.detach()`` is still named."""
    snippet = tmp_path / "saved.py"
    snippet.write_text(
        "import io\nimport torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc1, self.fc2, self.fc3 = nn.Linear(3, 3), nn.Linear(3, 1), nn.Linear(3, 1)\n"
        "    def forward(self, x):\n"
        "        return self.fc1(x).sum() + self.fc3(x.detach() * 0 + self.fc2.weight.detach())\n"
        "net = Net()\n"
        "torch.save(net.state_dict(), io.BytesIO())\n"
        "net(torch.randn(2, 3)).sum().backward()\n"
    )
    r = diagnose(graph_of(snippet))
    missing = {f.subject: f.message for f in r.findings if f.kind == "no_grad"}
    assert set(missing) == {"net.fc2.weight", "net.fc2.bias"}
    assert missing["net.fc2.weight"].endswith("it was cut off by .detach() at saved.py:9")
    assert missing["net.fc2.bias"].endswith("the snippet never computed with it")


def test_unused_parameters_are_told_apart(tmp_path: Path) -> None:
    snippet = tmp_path / "unused.py"
    snippet.write_text(
        "import torch\n"
        "used = torch.nn.Linear(2, 1)\n"
        "spare = torch.nn.Linear(2, 1)\n"
        "side = torch.nn.Linear(2, 1)\n"
        "x = torch.ones(3, 2)\n"
        "extra = side(x)  # computed, but never part of the loss\n"
        "loss = used(x).sum()\n"
        "loss.backward()\n"
        "opt = torch.optim.SGD([*used.parameters(), *spare.parameters()], lr=0.1)\n"
    )
    r = diagnose(graph_of(snippet))
    messages = {f.subject: f.message for f in r.findings}
    assert (
        "spare.weight requires grad but got none: the snippet never computed with it"
        in (messages["spare.weight"])
    )
    assert (
        "used at unused.py:6, but nothing computed from it reached the loss"
        in (messages["side.weight"])
    )
    assert "used.weight" not in messages


def test_healthy_training_step_has_no_findings() -> None:
    assert report("mlp_step.py").healthy


def test_cli_exit_codes_table_and_json(runner: CliRunner, in_tmp: Path) -> None:
    bad = runner.invoke(cli, ["doctor", str(SAMPLES / "detached_param.py"), "-o", "r.json"])
    assert bad.exit_code == 10
    assert "no grad: encoder.weight requires grad but got none" in " ".join(bad.stdout.split())
    data = json.loads((in_tmp / "r.json").read_text())
    assert data["healthy"] is False
    assert {f["subject"] for f in data["findings"]} == {"encoder.weight", "encoder.bias"}
    assert [p["status"] for p in data["params"]] == ["no grad", "no grad", "ok", "ok"]
    good = runner.invoke(cli, ["doctor", str(SAMPLES / "mlp_step.py")])
    assert good.exit_code == 0 and "✓ no problems found" in good.stdout
    assert "model.0.weight" in good.stdout


def test_explain_shows_why_a_gradient_vanished() -> None:
    from gradviz.explain.story import tell

    story = tell(graph_of(SAMPLES / "vanishing_sigmoid.py"), depth=1)
    text = "\n".join("".join(s.text for s in line) for line in story.footer)
    assert "vanishing net.0.weight.grad is 3.73e-11" in text
    assert "the op that shrank it most: sigmoid at line 15" in text


def test_no_backward_is_a_finding(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["doctor", str(SAMPLES / "dynamic_graph.py")])
    assert result.exit_code == 10 and "no backward pass ran" in result.stdout


CAUSAL_MASK = """
import torch
torch.manual_seed(0)
x = torch.randn(2, 4, 8)
q, k = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
wei = q(x) @ k(x).transpose(-2, -1)
tril = torch.tril(torch.ones(4, 4))
wei = wei.masked_fill(tril == 0, float("-inf"))
wei = torch.softmax(wei, dim=-1)
loss = (wei @ x).{finish}
loss.backward()
"""


def test_an_inf_mask_that_softmax_absorbs_is_not_a_problem(tmp_path: Path) -> None:
    """The causal mask of every GPT tutorial fills -inf on purpose."""
    path = tmp_path / "attention.py"
    path.write_text(CAUSAL_MASK.format(finish="mean()"))
    g = graph_of(path)
    assert any(n.value and n.value.data and -math.inf in n.value.data for n in g.tensors())
    kinds = [f.kind for f in diagnose(g).findings]
    assert "nan_forward" not in kinds and "nan_backward" not in kinds


def test_an_inf_that_reaches_the_loss_is_still_found(tmp_path: Path) -> None:
    path = tmp_path / "attention.py"
    path.write_text(CAUSAL_MASK.format(finish="mean() * float('inf')"))
    kinds = [f.kind for f in diagnose(graph_of(path)).findings]
    assert "nan_forward" in kinds


_CONV_BN = (
    "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
    "net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),\n"
    "                    nn.Flatten(), nn.Linear(4 * 6 * 6, 3))\n"
    "x, y = torch.randn(8, 3, 8, 8), torch.randint(0, 3, (8,))\n"
    "loss = nn.functional.cross_entropy(net(x), y)\n"
    "loss.backward()\n"
)
_KEY_BIAS = (
    "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
    "key, query, value = nn.Linear(8, 4), nn.Linear(8, 4), nn.Linear(8, 4)\n"
    "x = torch.randn(2, 5, 8)\n"
    "wei = torch.softmax(query(x) @ key(x).transpose(-2, -1), dim=-1)\n"
    "loss = (wei @ value(x)).pow(2).mean()\n"
    "loss.backward()\n"
)


@pytest.mark.parametrize(
    ("source", "cancelled", "by"),
    [(_CONV_BN, "net.0.bias", "native_batch_norm"), (_KEY_BIAS, "key.bias", "softmax at line 6")],
)
def test_a_bias_a_normalization_cancels_is_a_note_not_a_problem(
    tmp_path: Path, source: str, cancelled: str, by: str
) -> None:
    snippet = tmp_path / "model.py"
    snippet.write_text(source)
    ns = plain_run(snippet)
    root, _, path = cancelled.partition(".")
    assert ns[root].get_parameter(path).grad.norm().item() < 1e-6  # torch agrees: ~0
    r = diagnose(graph_of(snippet))
    assert r.healthy and not r.findings
    status = {p.name: p.status for p in r.params}
    assert status[cancelled] == "no effect"
    assert {n for n, s in status.items() if s != "ok"} == {cancelled}
    (note,) = r.notes
    assert note.subject == cancelled and f"the {by}" in note.message
    assert "Expected, not a vanishing gradient" in note.message


_LINEAR_BOTTLENECK = (
    "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
    "def block(cin, cout, hid):\n"
    "    return nn.Sequential(\n"
    "        nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(),\n"
    "        nn.Conv2d(hid, hid, 3, padding=1, groups=hid, bias=False), nn.BatchNorm2d(hid),\n"
    "        nn.ReLU6(), nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout))\n"
    "net = nn.Sequential(block(8, 16, 32), block(16, 24, 64), nn.AdaptiveAvgPool2d(1),\n"
    "                    nn.Flatten(), nn.Linear(24, 10))\n"
    "loss = nn.functional.cross_entropy(net(torch.randn(4, 8, 16, 16)), torch.arange(1, 5))\n"
    "loss.backward()\n"
)


def test_a_normalizations_shift_or_scale_the_next_one_cancels_is_a_note(tmp_path: Path) -> None:
    """MobileNetV2's blocks at initialization: a projection BatchNorm's beta reaches the
    next block's BatchNorm through a 1x1 convolution only, and an expansion BatchNorm's
    gamma (beta zero) through ReLU6 and a depthwise convolution, per channel: the next
    normalization takes both away, and torch gives them gradients of rounding error."""
    snippet = tmp_path / "mobilenet.py"
    snippet.write_text(_LINEAR_BOTTLENECK)
    net = plain_run(snippet)["net"]
    assert net[0][7].bias.grad.norm().item() < 1e-6
    assert net[1][1].weight.grad.norm().item() < 1e-5
    r = diagnose(graph_of(snippet))
    assert r.healthy, [f.message for f in r.findings]
    status = {p.name: p.status for p in r.params}
    assert status["net.0.7.bias"] == status["net.1.1.weight"] == "no effect"
    notes = {n.subject: " ".join(n.message.split()) for n in r.notes}
    assert (
        "the native_batch_norm in net.1.1 at line 11 takes away any constant shift"
        in (notes["net.0.7.bias"])
    )
    assert (
        "the native_batch_norm in net.1.4 at line 11 takes away any constant scale"
        in (notes["net.1.1.weight"])
    )
    assert "bias=False" not in notes["net.0.7.bias"]  # a BatchNorm has no such argument


def test_cli_reports_cancelled_biases_and_exits_zero(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "cnn.py").write_text(_CONV_BN)
    result = runner.invoke(cli, ["doctor", "cnn.py", "-o", "r.json"])
    assert result.exit_code == 0, result.output
    data = json.loads((in_tmp / "r.json").read_text())
    assert data["healthy"] is True and data["findings"] == []
    assert [n["subject"] for n in data["notes"]] == ["net.0.bias"]
    table = runner.invoke(cli, ["doctor", "cnn.py"])
    assert table.exit_code == 0
    text = " ".join(table.stdout.split())
    assert "note: |net.0.bias.grad| is" in text and "✓ no problems found" in text


def test_a_layer_nn_transformer_encoder_copied_is_a_note_not_a_problem(tmp_path: Path) -> None:
    """PyTorch's own example keeps `encoder_layer`; the encoder copies it, so it gets no grad."""
    snippet = tmp_path / "encoder.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "encoder_layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16,\n"
        "                                           batch_first=True)\n"
        "transformer_encoder = nn.TransformerEncoder(encoder_layer, num_layers=3,\n"
        "                                            enable_nested_tensor=False)\n"
        "head = nn.Linear(8, 1)\n"
        "loss = head(transformer_encoder(torch.rand(2, 5, 8))).pow(2).mean()\n"
        "loss.backward()\n"
    )
    r = diagnose(graph_of(snippet))
    assert r.healthy, [f.message for f in r.findings]
    status = {p.name: p.status for p in r.params}
    prototype = {n for n in status if n.startswith("encoder_layer.")}
    assert len(prototype) == 12 and {status[n] for n in prototype} == {"copied"}
    assert {status[n] for n in status if n not in prototype} == {"ok"}
    (note,) = [n for n in r.notes if n.kind == "copied"]
    assert note.subject == "encoder_layer"
    assert "transformer_encoder.layers.0" in note.message and "12 parameters" in note.message


def test_a_spare_module_with_one_look_alike_is_still_a_problem(tmp_path: Path) -> None:
    snippet = tmp_path / "spare.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\n"
        "model = nn.Sequential(nn.Linear(3, 3), nn.Tanh())\n"
        "spare = nn.Linear(3, 3)\n"
        "opt = torch.optim.SGD([*model.parameters(), *spare.parameters()], lr=0.1)\n"
        "loss = model(torch.ones(2, 3)).sum()\n"
        "loss.backward()\n"
    )
    r = diagnose(graph_of(snippet))
    assert {f.subject for f in r.findings} == {"spare.weight", "spare.bias"}
    assert not r.notes


def test_one_tensor_that_torch_func_wrapped_again_and_again_is_one_row(tmp_path: Path) -> None:
    """``jacrev``, ``hessian`` and ``vjp`` each wrap ``x`` in a tensor of their own, a leaf
    of its own in the graph: the table lists ``x`` once per different finding, not once
    per wrapper."""
    snippet = tmp_path / "transforms.py"
    snippet.write_text(
        "import torch\nfrom torch.func import hessian, jacrev, vjp\ntorch.manual_seed(0)\n"
        "def f(x):\n    return (x.sin() * x).sum()\n"
        "x = torch.randn(3)\n"
        "out, back = vjp(f, x)\nback(torch.tensor(1.0))\n"
        "h = hessian(f)(x)\nj = jacrev(jacrev(f))(x)\n"
    )
    r = diagnose(graph_of(snippet))
    rows = [(h.name, h.status, h.value_norm, h.grad_norm) for h in r.params]
    assert len(rows) == len(set(rows))
    assert {h.name for h in r.params} == {"x"}


def test_the_loss_backward_ran_on_heads_the_report_not_a_jacobians_row(tmp_path: Path) -> None:
    """Newton's method by torch.autograd.functional: its jacobian and hessian run
    autograd.grad passes first; the report is headed by what backward() ran on."""
    snippet = tmp_path / "newton.py"
    snippet.write_text(
        "import torch\nfrom torch.autograd.functional import hessian, jacobian\n"
        "def f(x):\n    return (x[0] - 1) ** 4 + (x[1] + 2) ** 2 + x[0] * x[1]\n"
        "x = torch.tensor([0.5, 0.5])\n"
        "x = x - torch.linalg.solve(hessian(f, x), jacobian(f, x))\n"
        "x.requires_grad_(True)\nval = f(x)\nval.backward()\n"
    )
    ns = plain_run(snippet)
    r = diagnose(graph_of(snippet))
    assert r.loss == "val" and r.loss_value == pytest.approx(abs(ns["val"].item()), rel=1e-5)


@pytest.mark.parametrize(
    ("head", "loss", "says"),
    [
        ("nn.Linear(8, 3), nn.Softmax(dim=1)", "nn.CrossEntropyLoss()(model(x), y)", "softmax"),
        (
            "nn.Linear(8, 3), nn.Softmax(dim=1)",
            "F.cross_entropy(model(x).view(4, 3), y)",
            "softmax",
        ),
        (
            "nn.Linear(8, 1), nn.Sigmoid()",
            "nn.BCEWithLogitsLoss()(model(x), y[:, None].float() % 2)",
            "sigmoid",
        ),
        ("nn.Linear(8, 3), nn.Softmax(dim=1)", "nn.NLLLoss()(model(x), y)", "softmax"),
    ],
)
def test_a_loss_of_logits_given_probabilities_is_a_problem(
    tmp_path: Path, head: str, loss: str, says: str
) -> None:
    """A beginner's bug no error reports: nn.Softmax before nn.CrossEntropyLoss."""
    snippet = tmp_path / "squashed.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
        "torch.manual_seed(0)\n"
        f"model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), {head})\n"
        "x, y = torch.randn(4, 5), torch.tensor([0, 1, 2, 1])\n"
        f"loss = {loss}\n"
        "loss.backward()\n"
    )
    r = diagnose(graph_of(snippet))
    (found,) = [f for f in r.findings if f.kind in ("squashed_twice", "not_log_probabilities")]
    assert found.kind == ("not_log_probabilities" if "NLL" in loss else "squashed_twice")
    assert found.subject == says and found.line == 7
    assert f"is given the output of {says} in model.3 at line 7" in " ".join(found.message.split())


def test_a_prediction_broadcast_against_its_target_is_a_problem(tmp_path: Path) -> None:
    """A regression tutorial's classic: a prediction of N×1 against a target of N."""
    snippet = tmp_path / "regression.py"
    snippet.write_text(
        "import warnings\nimport torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "warnings.simplefilter('ignore')\n"
        "model = nn.Linear(3, 1)\nx, y = torch.randn(8, 3), torch.randn(8)\n"
        "mean = torch.zeros(1, requires_grad=True)\n"
        "loss = nn.MSELoss()(model(x), y) + nn.functional.mse_loss(mean, y)\n"
        "loss.backward()\n"
    )
    r = diagnose(graph_of(snippet))
    (found,) = [f for f in r.findings if f.kind == "broadcast_loss"]  # not the fitted mean
    assert found.line == 9
    message = " ".join(found.message.split())
    assert "compares a 8×1 prediction with a target of another shape" in message
    assert "both were broadcast to 8×8" in message


@pytest.mark.parametrize("held", [False, True])
def test_a_dqn_target_that_carries_gradients_gets_a_note(tmp_path: Path, held: bool) -> None:
    """A DQN's target computed without torch.no_grad(): backward pulls the target toward
    the prediction too. A note, where it is; under no_grad, nothing."""
    target = "r + 0.99 * q(s2).max(1).values"
    snippet = tmp_path / "dqn.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "q = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))\n"
        "s, s2, r = torch.randn(6, 4), torch.randn(6, 4), torch.randn(6)\n"
        "q_sa = q(s).gather(1, torch.zeros(6, 1, dtype=torch.long)).squeeze(1)\n"
        + (f"with torch.no_grad():\n    target = {target}\n" if held else f"target = {target}\n")
        + "loss = nn.functional.smooth_l1_loss(q_sa, target)\nloss.backward()\n"
    )
    r = diagnose(graph_of(snippet))
    notes = [n for n in r.notes if n.kind == "learned_target"]
    if held:
        assert notes == []
        return
    (note,) = notes
    assert note.line == 8 and note.subject == "target" and r.healthy
    assert "smooth_l1_loss at line 8 compares against target, which carries gradients" in (
        " ".join(note.message.split())
    )


_RUNNING_TOTALS = {
    "leak": ("total_loss += loss", True),
    "numbers": ("total_loss += loss.item()", False),
    "one_backward": (None, False),
    "part_of_the_loss": ("", False),
}


@pytest.mark.parametrize("case", sorted(_RUNNING_TOTALS))
def test_a_running_total_of_loss_tensors_is_a_problem(
    tmp_path: Path, runner: CliRunner, case: str
) -> None:
    """PyTorch's FAQ's first item: ``total_loss += loss`` keeps every step's graph. A
    total of numbers is fine, and so is a sum that backward then runs on (an RNN's
    loss over its steps)."""
    adds, leaks = _RUNNING_TOTALS[case]
    body = (
        "for step in range(3):\n"  # WaveNet's skip connections, summed at the top level
        "    skips = 0\n"
        "    for scale in (1.0, 2.0):\n"
        "        skips += model(x) * scale\n"
        "    loss = nn.functional.mse_loss(skips, y)\n"
        "    opt.zero_grad()\n    loss.backward()\n    opt.step()\n"
        if adds == ""
        else "total_loss = 0\n"
        "for step in range(3):\n"
        "    opt.zero_grad()\n"
        "    loss = nn.functional.mse_loss(model(x), y)\n"
        "    loss.backward()\n"
        "    opt.step()\n"
        f"    {adds}\n"
        if adds
        else "total_loss = 0\nfor step in range(3):\n"
        "    total_loss += nn.functional.mse_loss(model(x[step:]), y[step:])\n"
        "total_loss.backward()\n"
    )
    snippet = tmp_path / "loop.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "x, y = torch.randn(8, 2), torch.randn(8, 1)\n" + body
    )
    g = graph_of(snippet)
    assert Graph.from_dict(g.to_dict()).meta == g.meta  # kept in the JSON
    schema = Path(__file__).parent.parent / "gradviz" / "schema" / "graph.schema.json"
    jsonschema.validate(g.to_dict(), json.loads(schema.read_text()))
    r = diagnose(g)
    found = [f for f in r.findings if f.kind == "kept_graphs"]
    if not leaks:
        assert found == [] and g.meta.kept_graphs == ()
        return
    assert g.meta.kept_graphs == (("total_loss", 13),)
    (f,) = found
    assert f.subject == "total_loss" and f.line == 13
    assert "keeps every step's graph alive" in f.message
    result = runner.invoke(cli, ["doctor", str(snippet)])
    assert result.exit_code == 10 and "kept graphs: total_loss adds up tensors" in " ".join(
        result.stdout.split()
    )


@pytest.mark.parametrize(
    ("mode", "noted"), [("model.eval()", True), ("model.train()", False), ("frozen", False)]
)
def test_batch_norm_left_in_eval_mode_while_training_gets_a_note(
    tmp_path: Path, mode: str, noted: bool
) -> None:
    """A validation step left model.eval() on: the next steps train a BatchNorm that no
    longer updates its statistics. Frozen on purpose (its weights not trained), nothing."""
    trained = "model[2].parameters()" if mode == "frozen" else "model.parameters()"
    snippet = tmp_path / "loop.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))\n"
        f"opt = torch.optim.SGD({trained}, lr=0.1)\n"
        "x, y = torch.randn(16, 4), torch.randn(16, 1)\n"
        f"{'model.eval()' if mode == 'frozen' else mode}\n"
        "for step in range(2):\n"
        "    loss = nn.functional.mse_loss(model(x), y)\n"
        "    opt.zero_grad()\n    loss.backward()\n    opt.step()\n"
    )
    r = diagnose(graph_of(snippet))
    notes = [n for n in r.notes if n.kind == "eval_mode"]
    assert r.healthy and len(notes) == noted
    if noted:
        assert "batch norm in model.1 at line 9 ran in eval mode" in " ".join(
            notes[0].message.split()
        )


def test_logits_and_distillation_s_softmax_are_no_loss_squashed_twice(tmp_path: Path) -> None:
    """cross_entropy on logits, and KL between a student's log_softmax and a teacher's
    softmax (knowledge distillation), are what they should be."""
    snippet = tmp_path / "fine.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\ntorch.manual_seed(0)\n"
        "student = torch.randn(4, 3, requires_grad=True)\nteacher = torch.randn(4, 3)\n"
        "loss = F.cross_entropy(student, torch.tensor([0, 1, 2, 1])) + F.kl_div(\n"
        "    F.log_softmax(student / 2, 1), F.softmax(teacher / 2, 1), reduction='batchmean')\n"
        "loss.backward()\n"
    )
    r = diagnose(graph_of(snippet))
    assert not [f for f in r.findings if f.kind == "squashed_twice"]


def test_leaves_only_autograd_grad_reached_are_not_asked_not_missing(tmp_path: Path) -> None:
    """autograd.grad(y, x) gives x its gradient and nothing to the weights it went through."""
    snippet = tmp_path / "penalty.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "w = torch.randn(3, 3, requires_grad=True)\n"
        "x = torch.randn(2, 3, requires_grad=True)\n"
        "y = (x @ w).tanh().sum()\n"
        "(gx,) = torch.autograd.grad(y, x)\n"
    )
    r = diagnose(graph_of(snippet))
    status = {p.name: p.status for p in r.params}
    assert status == {"w": "not asked", "x": "ok"}
    assert r.healthy
    assert [n.kind for n in r.notes] == ["not_asked"] and "w is reached only" in r.notes[0].message

    partial = tmp_path / "partial.py"
    partial.write_text(
        "import torch\nw1 = torch.ones(3, requires_grad=True)\n"
        "w2 = torch.ones(3, requires_grad=True)\n(w1 * w2).sum().backward(inputs=[w1])\n"
    )
    g = graph_of(partial)
    assert [p.inputs_only for p in g.passes] == [True]
    assert Graph.from_json(g.to_json()).passes == g.passes
    r = diagnose(g)
    assert {p.name: p.status for p in r.params} == {"w1": "ok", "w2": "not asked"}
    assert r.healthy


def test_an_optimizer_step_fused_into_backward_still_shows_the_gradients(tmp_path: Path) -> None:
    """With post-accumulate-grad hooks, .grad is None once backward ends; what came in is kept.

    The loop variable ``p`` names the last parameter after the loop; the
    parameter keeps its module path as its name.
    """
    snippet = tmp_path / "fused.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))\n"
        "opts = {p: torch.optim.SGD([p], lr=0.1) for p in model.parameters()}\n"
        "seen = {}\n"
        "def hook(p):\n"
        "    seen[id(p)] = p.grad.clone()\n"
        "    opts[p].step()\n"
        "    opts[p].zero_grad()\n"
        "for p in model.parameters():\n"
        "    p.register_post_accumulate_grad_hook(hook)\n"
        "loss = model(torch.randn(3, 4)).pow(2).mean()\n"
        "loss.backward()\n"
        "grads = {n: seen[id(q)] for n, q in model.named_parameters()}\n"
    )
    ns = plain_run(snippet)
    g = graph_of(snippet)
    r = diagnose(g)
    assert r.healthy and all(p.status == "ok" for p in r.params)
    by_name = {p.name: p for p in r.params}
    assert set(by_name) == {f"model.{n}" for n in ns["grads"]}  # no "p"
    for name, grad in ns["grads"].items():
        assert by_name[f"model.{name}"].grad_norm == pytest.approx(grad.norm().item(), rel=1e-5)


def test_parameters_swapped_out_by_functional_call_are_not_a_missing_gradient(
    tmp_path: Path,
) -> None:
    """torch.func tutorials run a module on detached copies of its parameters, by design;
    a parameter detached by mistake stays a problem, and MAML-style fast weights built
    from the parameters themselves give them their gradients."""
    snippet = tmp_path / "func.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\nfrom torch.func import functional_call, grad, vmap\n"
        "torch.manual_seed(0)\n"
        "model, meta, spare = nn.Linear(3, 1), nn.Linear(3, 1), nn.Linear(3, 1)\n"
        "params = {k: v.detach() for k, v in model.named_parameters()}\n"
        "def loss_fn(p, x):\n"
        "    return functional_call(model, p, (x.unsqueeze(0),)).pow(2).sum()\n"
        "xs = torch.randn(4, 3)\n"
        "per_sample = vmap(grad(loss_fn), in_dims=(None, 0))(params, xs)\n"
        "fast = {k: v - 0.1 for k, v in meta.named_parameters()}\n"
        "loss = functional_call(meta, fast, (xs,)).sum() + (xs @ spare.weight.detach().T).sum()\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    lines = {p.name: p.swapped_line for p in g.params if p.swapped_line is not None}
    assert lines == {"model.weight": 8, "model.bias": 8, "meta.weight": 12, "meta.bias": 12}
    assert Graph.from_json(g.to_json()).params == g.params
    r = diagnose(g)
    status = {p.name: p.status for p in r.params}
    assert status["model.weight"] == status["model.bias"] == "swapped"
    assert status["meta.weight"] == status["meta.bias"] == "ok"  # the fast weights' gradients
    assert status["spare.weight"] == "no grad"
    found = {f.subject: f.message for f in r.findings}
    assert found.keys() == {"spare.weight", "spare.bias"}  # the bias: never used
    assert "cut off by .detach() at func.py:12" in found["spare.weight"]
    (note,) = [n for n in r.notes if n.kind == "swapped"]
    assert "model.weight, model.bias were swapped" in note.message and "func.py:8" in note.message


def test_a_pass_started_from_zeros_is_no_vanishing_gradient(tmp_path: Path) -> None:
    """torch.autograd.functional's jvp differentiates twice through a dummy gradient of
    zeros; a snippet may pass zeros itself. Neither is a vanishing gradient."""
    jvp = tmp_path / "jvp.py"
    jvp.write_text(
        "import torch\nfrom torch.autograd.functional import hvp, jvp\n"
        "x = torch.tensor([1.0, 2.0])\nv = torch.tensor([1.0, 0.0])\n"
        "out, tangent = jvp(lambda t: t.sin(), x, v)\n"
        "_, h = hvp(lambda t: (t ** 3).sum(), x, v)\n"
    )
    r = diagnose(graph_of(jvp))
    assert r.findings == []
    assert {p.status for p in r.params if p.name == "x"} == {"not asked"}  # the copies of x

    zeros = tmp_path / "zeros.py"
    zeros.write_text(
        "import torch\nw = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "b = torch.tensor(1.0, requires_grad=True)\n"
        "y = w * 3\ny.backward(torch.zeros_like(y))\n"
        "z = (b * 2).sum()\nz.backward(torch.tensor(0.0))\n"
        "loss = (w * b).sum()\nloss.backward()\n"
    )
    g = graph_of(zeros)
    r = diagnose(g)
    assert r.findings == []
    assert {p.name: p.status for p in r.params} == {"w": "ok", "b": "ok"}  # the last pass counts

    only = tmp_path / "only.py"
    only.write_text(
        "import torch\nw = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "y = w * 3\ny.backward(torch.zeros_like(y))\n"
    )
    r = diagnose(graph_of(only))
    assert r.findings == [] and [p.status for p in r.params] == ["zero seed"]
    (note,) = r.notes
    assert note.kind == "zero_seed" and "started from a zero gradient" in note.message


def test_a_target_network_used_only_under_no_grad_is_not_a_missing_gradient(
    tmp_path: Path,
) -> None:
    """PyTorch's DQN tutorial: the target network runs under no_grad, by design."""
    snippet = tmp_path / "dqn.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "policy = nn.Linear(4, 2)\ntarget = nn.Linear(4, 2)\nspare = nn.Linear(4, 2)\n"
        "state, nxt = torch.randn(8, 4), torch.randn(8, 4)\n"
        "with torch.no_grad():\n"
        "    best = target(nxt).max(1).values\n"
        "loss = nn.functional.smooth_l1_loss(policy(state).max(1).values, 0.9 * best)\n"
        "loss.backward()\n"
        "opt = torch.optim.AdamW([*policy.parameters(), *spare.parameters()])\n"
    )
    g = graph_of(snippet)
    assert {p.name: p.no_grad_line for p in g.params if p.name.startswith("target")} == {
        "target.weight": 9,
        "target.bias": 9,
    }
    assert Graph.from_json(g.to_json()).params == g.params
    r = diagnose(g)
    status = {p.name: p.status for p in r.params}
    assert status["target.weight"] == status["target.bias"] == "not tracked"
    assert status["spare.weight"] == "no grad"  # never called, and stepped: a problem
    assert [n.kind for n in r.notes] == ["not_tracked"]
    assert "only used under torch.no_grad() (dqn.py:9)" in r.notes[0].message
    assert {f.subject for f in r.findings} == {"spare.weight", "spare.bias"}


def test_a_parameter_multiplied_by_a_zero_parameter_is_a_zero_factor(tmp_path: Path) -> None:
    """LoRA starts B at zero: A's gradient is exactly zero on the first step, by design.
    The doctor says why (a note, status ``zero factor``); a weight multiplied by data of
    zeros, which will not move, stays a problem."""
    snippet = tmp_path / "lora.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "x = torch.randn(4, 6)\nbase = torch.randn(3, 6)\n"
        "A = torch.nn.Parameter(torch.randn(2, 6))\nB = torch.nn.Parameter(torch.zeros(3, 2))\n"
        "w = torch.nn.Parameter(torch.randn(6))\nblank = torch.zeros(4, 6)\n"
        "out = x @ base.T + (x @ A.T @ B.T) * 2\n"
        "loss = out.pow(2).mean() + (blank @ w).sum()\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    assert ns["A"].grad.abs().sum() == 0 and ns["B"].grad.abs().sum() > 0
    r = diagnose(graph_of(snippet))
    status = {h.name: h.status for h in r.params}
    assert status["A"] == "zero factor" and status["B"] == "ok"
    (note,) = [n for n in r.notes if n.subject == "A"]
    assert "multiplies it by B, which is all zeros" in note.message
    assert not any(f.subject == "A" for f in r.findings)
    assert status["w"] == "vanishing"  # data of zeros: it never gets a gradient
    assert [f.kind for f in r.findings if f.subject == "w"] == ["vanishing"]


_ZERO_INITS = {
    "controlnet": (
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "control = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.SiLU())\n"
        "zero = nn.Conv2d(4, 4, 1)\nnn.init.zeros_(zero.weight)\nnn.init.zeros_(zero.bias)\n"
        "base, head = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 3, 1)\n"
        "x, hint = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)\n"
        "loss = head(base(x) + zero(control(hint))).pow(2).mean()\n"
        "loss.backward()\n",
        ["control.0.weight", "control.0.bias"],
        "the convolution at line 10 multiplies it by zero.weight, which is all zeros, so",
    ),
    "zero_init_residual": (
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "conv, bn = nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)\n"
        "nn.init.zeros_(bn.weight)\n"
        "x = torch.randn(2, 4, 8, 8)\n"
        "loss = torch.relu(x + bn(conv(x))).pow(2).mean()\n"
        "loss.backward()\n",
        ["conv.weight"],
        "the native_batch_norm at line 7 multiplies it by bn.weight, which is all zeros, so",
    ),
    "adaln_zero": (
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "mlp, modulation = nn.Linear(8, 8), nn.Linear(4, 16)\n"
        "nn.init.zeros_(modulation.weight)\nnn.init.zeros_(modulation.bias)\n"
        "x, c = torch.randn(3, 8), torch.randn(3, 4)\n"
        "shift, gate = modulation(c).chunk(2, dim=1)\n"
        "out = x + gate * mlp(x + shift)\n"
        "loss = out.pow(2).mean()\n"
        "loss.backward()\n",
        ["mlp.weight", "mlp.bias"],
        "the mul at line 9 multiplies it by gate, which is all zeros because "
        "modulation.weight and modulation.bias are, so",
    ),
}


@pytest.mark.parametrize("case", sorted(_ZERO_INITS))
def test_zeros_a_model_starts_with_on_purpose_are_zero_factors(tmp_path: Path, case: str) -> None:
    """ControlNet's zero convolution, ResNet's zero_init_residual and DiT's adaLN-Zero
    give what lies below them exactly zero on the first step, by design: told in a note,
    naming the parameters whose zeros did it (for a gate, those of the layer making it)."""
    source, starved, says = _ZERO_INITS[case]
    snippet = tmp_path / f"{case}.py"
    snippet.write_text(source)
    ns = plain_run(snippet)
    for name in starved:
        root, _, path = name.partition(".")
        assert ns[root].get_parameter(path).grad.abs().sum() == 0  # torch agrees: exactly 0
    r = diagnose(graph_of(snippet))
    assert r.healthy, [f.message for f in r.findings]
    status = {h.name: h.status for h in r.params}
    assert {n for n, st in status.items() if st != "ok"} == set(starved)
    assert all(status[n] == "zero factor" for n in starved)
    (note, *_) = [n for n in r.notes if n.subject == starved[0]]
    assert says in " ".join(note.message.split())


def test_a_zero_from_a_dead_activation_is_no_zero_factor_though_a_bias_starts_at_zero(
    tmp_path: Path,
) -> None:
    """A gate of zeros that a ReLU made is no initialization that will move: the
    weight below it stays a problem, though the layer before the ReLU has a zero bias."""
    snippet = tmp_path / "dead.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "gate_layer, mlp = nn.Linear(4, 8), nn.Linear(8, 8)\n"
        "nn.init.zeros_(gate_layer.bias)\n"
        "with torch.no_grad():\n    gate_layer.weight.copy_(-gate_layer.weight.abs())\n"
        "x, c = torch.randn(3, 8), torch.rand(3, 4)\n"
        "loss = (x + torch.relu(gate_layer(c)) * mlp(x)).pow(2).mean()\n"
        "loss.backward()\n"
    )
    assert plain_run(snippet)["mlp"].weight.grad.abs().sum() == 0
    r = diagnose(graph_of(snippet))
    status = {h.name: h.status for h in r.params}
    assert status["mlp.weight"] == "vanishing"
    assert "mlp.weight" in {f.subject for f in r.findings}


@pytest.mark.parametrize(
    ("loss", "op"),
    [
        ("torch.clamp(1 - y * (X @ w + b), min=0).mean()", "clamp"),
        (
            "F.triplet_margin_loss(X * w[0], X * w[1] + 0.01, X * w[1] - 10 + b, margin=0.1)",
            "clamp_min",
        ),
        ("torch.relu(0.5 - y * (X @ w + b)).sum() * 2", "relu"),
    ],
)
def test_a_hinge_loss_met_everywhere_is_flat_not_vanishing(
    tmp_path: Path, loss: str, op: str
) -> None:
    """An SVM's hinge, a triplet loss: once every margin is met the loss is 0 and its
    gradient exactly zero, by definition; a note says so, not a problem."""
    snippet = tmp_path / "svm.py"
    snippet.write_text(
        "import torch\nimport torch.nn.functional as F\ntorch.manual_seed(0)\n"
        "X = torch.cat([torch.randn(4, 2) + 5, torch.randn(4, 2) - 5])\n"
        "y = torch.cat([torch.ones(4), -torch.ones(4)])\n"
        "w = torch.tensor([1.0, 1.0], requires_grad=True)\n"
        "b = torch.zeros(1, requires_grad=True)\n"
        f"loss = {loss}\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    assert ns["loss"].item() == 0 and ns["w"].grad.abs().sum() == 0
    r = diagnose(graph_of(snippet))
    assert r.healthy, [f.message for f in r.findings]
    assert {h.name: h.status for h in r.params} == {"b": "flat", "w": "flat"}
    note = " ".join(next(n for n in r.notes if n.subject == "w").message.split())
    assert (
        f"the loss sums or averages the {op} at line 8, which holds every element at zero" in note
    )


@pytest.mark.parametrize(
    "compare", ["(model(x) - twin(x)).pow(2).sum()", "nn.functional.mse_loss(model(x), twin(x))"]
)
def test_a_model_compared_with_its_exact_copy_is_flat_not_vanishing(
    tmp_path: Path, compare: str
) -> None:
    """A loss comparing a model with a deep copy of itself is 0 at the start, and its
    gradient exactly zero: the loss is at its minimum, not a vanishing gradient."""
    snippet = tmp_path / "twins.py"
    snippet.write_text(
        "import copy\nimport torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Linear(3, 2)\ntwin = copy.deepcopy(model)\nx = torch.randn(4, 3)\n"
        f"loss = {compare}\nloss.backward()\n"
    )
    ns = plain_run(snippet)
    assert ns["loss"].item() == 0 and ns["twin"].weight.grad.abs().sum() == 0
    r = diagnose(graph_of(snippet))
    assert r.healthy, [f.message for f in r.findings]
    assert {h.status for h in r.params} == {"flat"}
    note = " ".join(next(n for n in r.notes if n.subject == "twin.weight").message.split())
    assert "what it compares is equal" in note and "exact copy of itself" in note


@pytest.mark.parametrize("activation", ["ReLU", "Tanh"])
def test_a_pinn_with_relu_is_told_its_second_derivative_is_zero(
    tmp_path: Path, activation: str
) -> None:
    """A PINN's loss on ``u_xx`` differentiates ReLU's derivative, which is flat: the first
    layer gets exactly zero, the last nothing. Said once, with the op and its line,
    before what it causes; with tanh the weights get theirs."""
    snippet = tmp_path / "pinn.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        f"net = nn.Sequential(nn.Linear(1, 8), nn.{activation}(), nn.Linear(8, 1))\n"
        "x = torch.linspace(0, 1, 10).unsqueeze(1).requires_grad_(True)\n"
        "u = net(x)\n"
        "u_x = torch.autograd.grad(u, x, torch.ones_like(u), create_graph=True)[0]\n"
        "u_xx = torch.autograd.grad(u_x, x, torch.ones_like(u_x), create_graph=True)[0]\n"
        "loss = (u_xx + torch.sin(x)).pow(2).mean()\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    r = diagnose(graph_of(snippet))
    status = {h.name: h.status for h in r.params}
    flat = [f for f in r.findings if f.kind == "flat_derivative"]
    if activation == "Tanh":  # u_xx does not depend on the output bias: still no grad
        assert ns["net"][0].weight.grad.norm() > 0 and ns["net"][2].weight.grad.norm() > 0
        assert flat == [] and status["net.0.weight"] == status["net.2.weight"] == "ok"
        assert ns["net"][2].bias.grad is None and status["net.2.bias"] == "no effect"
        assert r.healthy, [f.message for f in r.findings]  # expected: told in a note
        (note,) = [n for n in r.notes if n.subject == "net.2.bias"]
        assert "reaches net.2 (used at pinn.py:6) only through the derivative" in " ".join(
            note.message.split()
        )
        return
    assert ns["net"][0].weight.grad.count_nonzero() == 0 and ns["net"][2].weight.grad is None
    assert (status["net.0.weight"], status["net.2.weight"]) == ("vanishing", "no grad")
    assert r.findings[0] is flat[0] and flat[0].line == 8
    assert "derivative of relu (threshold_backward at line 8)" in flat[0].message
    assert "net.0.weight, net.0.bias, net.2.weight and 1 more" in flat[0].message


def test_a_gradient_penalty_input_is_no_parameter_that_starves(tmp_path: Path) -> None:
    """WGAN-GP with a LeakyReLU critic: the mix the penalty differentiates at gets exactly
    zero from backward (leaky_relu's derivative is flat), but it is what
    ``autograd.grad`` took the gradient with respect to, not a weight: its status says
    so and no problem is raised. The critic's weights learn from the penalty; the
    generator cut off by ``.detach()`` has a reason of its own."""
    snippet = tmp_path / "wgan.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "D = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))\n"
        "G = nn.Linear(2, 4)\n"
        "real, fake = torch.randn(6, 4), G(torch.randn(6, 2)).detach()\n"
        "alpha = torch.rand(6, 1)\n"
        "mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)\n"
        "(g,) = torch.autograd.grad(D(mixed).sum(), mixed, create_graph=True)\n"
        "loss = D(fake).mean() - D(real).mean() + 10 * ((g.norm(2, dim=1) - 1) ** 2).mean()\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    assert ns["mixed"].grad.count_nonzero() == 0 and ns["D"][0].weight.grad.norm() > 0
    graph = graph_of(snippet)
    (mixed,) = [p for p in graph.params if p.name == "mixed"]
    assert mixed.differentiated_line == 9
    assert not any(p.differentiated_line for p in graph.params if p.name != "mixed")
    r = diagnose(graph)
    status = {h.name: h.status for h in r.params}
    assert status["mixed"] == "input" and status["D.0.weight"] == "ok"
    assert not any(f.subject == "mixed" or f.kind == "flat_derivative" for f in r.findings)
    assert {f.subject for f in r.findings if f.kind == "no_grad"} == {"G.weight", "G.bias"}


def test_an_input_differentiated_at_keeps_its_checks_when_backward_gives_it_enough(
    tmp_path: Path,
) -> None:
    """The lecture's second derivative: ``x`` is what autograd.grad differentiated at,
    and the backward of the derivative gives it 12: an ordinary, healthy gradient."""
    snippet = tmp_path / "second.py"
    snippet.write_text(
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x ** 3\n"
        "(dy,) = torch.autograd.grad(y, x, create_graph=True)\ndy.backward()\n"
    )
    ns = plain_run(snippet)
    graph = graph_of(snippet)
    (x,) = graph.params
    assert x.differentiated_line == 4 and x.grad is not None
    assert x.grad.data == (float(ns["x"].grad),) == (12.0,)
    assert {h.name: h.status for h in diagnose(graph).params} == {"x": "ok"}


@pytest.mark.parametrize("bias", [-100.0, 0.0])
def test_a_relu_dead_across_the_batch_is_told_before_what_it_starves(
    tmp_path: Path, bias: float
) -> None:
    """A first layer whose bias pushes every unit below zero: the ReLU gives zeros, so
    the layer below it gets nothing back and the layer fed its zeros a weight gradient
    of zeros. Said once, first, naming both; a live ReLU says nothing of the kind."""
    snippet = tmp_path / "dead.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))\n"
        f"nn.init.constant_(net[0].bias, {bias})\n"
        "loss = net(torch.randn(8, 3)).pow(2).mean()\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    r = diagnose(graph_of(snippet))
    dead = [f for f in r.findings if f.kind == "dead_relu"]
    if bias == 0.0:
        assert ns["net"][0].weight.grad.count_nonzero() > 0
        assert dead == []
        return
    assert ns["net"][0].weight.grad.count_nonzero() == 0
    assert ns["net"][2].weight.grad.count_nonzero() == 0
    assert ns["net"][2].bias.grad.count_nonzero() == 1
    assert r.findings[0] is dead[0] and dead[0].line == 6
    assert "net.0.weight, net.0.bias get none through it" in dead[0].message
    assert "net.2.weight, fed its zeros, gets a gradient of zeros" in dead[0].message
    assert "net.2.bias" not in dead[0].message


@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
def test_a_weight_made_after_requires_grad_is_told_it_is_no_leaf(tmp_path: Path) -> None:
    """``Wxh = torch.randn(3, 4, requires_grad=True) * 0.1``: the leaf is ``randn``'s
    tensor, which nothing names, and ``Wxh.grad`` stays None, as plain torch shows. Told
    in a note (the saved-tensor-hooks tutorial makes such a ``b`` on purpose), with the
    line rewritten; so for a copy (``.to(float64)``). A named leaf scaled on another
    line is nothing of the kind, nor is what a decomposition makes of an unnamed leaf
    (``S`` of ``torch.linalg.svd(torch.randn(3, 5, requires_grad=True))``)."""
    snippet = tmp_path / "scaled.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "Wxh = torch.randn(3, 4, requires_grad=True) * 0.1\n"
        "w64 = torch.ones(4, requires_grad=True).to(torch.float64)\n"
        "x = torch.randn(2, 3, requires_grad=True)\n"
        "x2 = x * 2\n"
        "class Layer:\n"
        "    def __init__(self):\n"
        "        self.W = torch.ones(4, requires_grad=True) * 0.5\n"
        "layer = Layer()\n"
        "U, S, Vh = torch.linalg.svd(torch.randn(3, 5, requires_grad=True))\n"
        "loss = ((x2 @ Wxh * layer.W).double() @ w64).sum() + S.sum()\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    assert ns["Wxh"].grad is None and ns["x"].grad is not None
    r = diagnose(graph_of(snippet))
    told = {f.subject: f for f in r.notes if f.kind == "not_a_leaf"}
    assert set(told) == {"Wxh", "w64", "layer.W"}
    assert "self.W = (torch.ones(4) * 0.5).requires_grad_()" in told["layer.W"].message
    assert told["Wxh"].line == 3
    assert "Wxh = (torch.randn(3, 4) * 0.1).requires_grad_()" in told["Wxh"].message
    assert "w64 = torch.ones(4).to(torch.float64).requires_grad_()" in told["w64"].message


def test_each_graph_is_judged_by_its_own_loss(tmp_path: Path) -> None:
    """fastai's notebook fits a quadratic (a loss of hundreds), then an MNIST loss near
    one: the second model's weights are judged against the loss they came from."""
    snippet = tmp_path / "two_fits.py"
    snippet.write_text(
        "import torch\n"
        "a = torch.tensor(3.0, requires_grad=True)\n"
        "big = (a * 1e9).sum()\n"
        "big.backward()\n"
        "w = torch.tensor([0.5, -0.2], requires_grad=True)\n"
        "small = (w * 1e-3).sum()\n"
        "small.backward()\n"
        "tiny = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "(tiny * 1e-12 + a * 1e9).sum().backward()\n"
    )
    ns = plain_run(snippet)
    r = diagnose(graph_of(snippet))
    status = {p.name: p.status for p in r.params}
    # |w.grad| = 1.4e-3 is nothing next to 3e9, and healthy next to its own loss (3e-4)
    assert ns["w"].grad.norm().item() == pytest.approx(1.414e-3, rel=1e-3)
    assert status["w"] == "ok"
    # the third loss (6e9) is dominated by a, which it shares with the first: tiny's
    # 1.4e-12 vanished next to it
    assert status["tiny"] == "vanishing"
    (found,) = [f for f in r.findings if f.subject == "tiny"]
    assert "under 1e-06 × |loss| (6e+09)" in found.message


def test_a_converged_offset_is_flat_not_vanishing(tmp_path: Path) -> None:
    """PyTorch's "Learning PyTorch with Examples" fits a + b * P3(c + d * x) to sin on a
    symmetric grid: a and c converge to 0, where the gradients of the 2,000 points they
    are added to cancel in the sum. A bias whose gradient faded on the way down stays
    vanishing (see test_vanishing_gradients_are_found_with_the_op_that_shrank_them)."""
    snippet = tmp_path / "fit.py"
    snippet.write_text(
        "import torch\n"
        "x = torch.linspace(-1, 1, 2001)\n"
        "y = x ** 3\n"
        "a = torch.tensor(0.0, requires_grad=True)\n"
        "b = torch.tensor(0.5, requires_grad=True)\n"
        "y_pred = a + b * x\n"
        "loss = (y_pred - y).pow(2).sum()\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    assert abs(ns["a"].grad.item()) < 1e-6 * ns["loss"].item()
    r = diagnose(graph_of(snippet))
    status = {p.name: p.status for p in r.params}
    assert status == {"a": "flat", "b": "ok"}
    assert r.healthy
    (note,) = [n for n in r.notes if n.subject == "a"]
    assert note.line == 6
    assert "is added to each of its 2,001 elements" in note.message
    assert "The loss is flat along a here" in note.message


def test_a_copy_set_aside_is_no_missing_gradient(tmp_path: Path) -> None:
    """``best_model = copy.deepcopy(model)`` keeps the best epoch: nothing calls it and no
    optimizer steps it, so its parameters get no gradient by design. The same model
    given to an optimizer and never called is a problem (see
    test_a_spare_module_with_one_look_alike_is_still_a_problem)."""
    snippet = tmp_path / "best.py"
    snippet.write_text(
        "import copy\nimport torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "x, y = torch.randn(32, 4), torch.randn(32, 1)\n"
        "best, best_model = float('inf'), None\n"
        "def train():\n"
        "    global best, best_model\n"
        "    for epoch in range(3):\n"
        "        loss = nn.functional.mse_loss(model(x), y)\n"
        "        opt.zero_grad(); loss.backward(); opt.step()\n"
        "        if loss.item() < best:\n"
        "            best, best_model = loss.item(), copy.deepcopy(model)\n"
        "train()\n"
    )
    g = graph_of(snippet)
    optimized = {p.name for p in g.params if p.optimized}
    assert optimized == {"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"}
    assert Graph.from_json(g.to_json()).params == g.params
    r = diagnose(g)
    assert r.healthy
    status = {p.name: p.status for p in r.params}
    assert {name for name, s in status.items() if s == "not called"} == {
        "best_model.0.weight",
        "best_model.0.bias",
        "best_model.2.weight",
        "best_model.2.bias",
    }
    (note,) = [n for n in r.notes if n.kind == "not_called"]
    assert note.subject == "best_model"
    assert "best_model was never called and no optimizer steps it: its 4 parameters" in (
        note.message
    )


def test_an_optimizer_held_in_main_tells_what_is_trained(tmp_path: Path) -> None:
    """The optimizer is a local of ``main()`` (or a scheduler's): a head it steps that
    nothing called is still a problem; a copy it does not step is set aside."""
    snippet = tmp_path / "main.py"
    snippet.write_text(
        "import copy\nimport torch\nfrom torch import nn\n"
        "def main():\n"
        "    model, head = nn.Linear(3, 1), nn.Linear(3, 1)\n"
        "    opt = torch.optim.SGD([*model.parameters(), *head.parameters()], lr=0.1)\n"
        "    sched = torch.optim.lr_scheduler.StepLR(opt, 1)\n"
        "    best = copy.deepcopy(model)\n"
        "    loss = model(torch.ones(2, 3)).sum()\n"
        "    loss.backward()\n"
        "    opt.step()\n"
        "    sched.step()\n"
        "main()\n"
    )
    g = graph_of(snippet)
    assert {p.name for p in g.params if p.optimized} == {
        "model.weight",
        "model.bias",
        "head.weight",
        "head.bias",
    }
    status = {p.name: p.status for p in diagnose(g).params}
    assert status["head.weight"] == status["head.bias"] == "no grad"
    assert status["best.weight"] == status["best.bias"] == "not called"


def test_a_loss_summed_over_a_batch_is_no_exploding_gradient(tmp_path: Path) -> None:
    """PyTorch's VAE example sums its BCE over 128 images of 784 pixels: every gradient
    is 100,352 times the mean's, healthy ones in the thousands. Judged per element summed,
    they are ok; the exploding RNN, whose loss sums 4 elements, is still found."""
    snippet = tmp_path / "vae_like.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 784), nn.Sigmoid())\n"
        "x = torch.rand(128, 784)\n"
        "loss = nn.functional.binary_cross_entropy(model(x), x, reduction='sum') + 0.5 * x.sum()\n"
        "loss.backward()\n"
    )
    ns = plain_run(snippet)
    assert max(p.grad.norm().item() for p in ns["model"].parameters()) > 1000
    r = diagnose(graph_of(snippet))
    assert [p.status for p in r.params] == ["ok"] * 4
    assert r.healthy
    rnn = report("exploding_rnn.py")
    (found, _) = [f for f in rnn.findings if f.kind == "exploding"]
    assert "over 1000 × 4, the elements the loss sums" in found.message


@pytest.mark.filterwarnings("ignore:Error detected in")
def test_a_leaf_backward_never_reached_because_the_snippet_raised_is_stopped(
    tmp_path: Path,
) -> None:
    """Anomaly detection stops backward at the first nan: the leaves below get no gradient.

    That is the error's doing, told once as a note; no cut in the graph, so no ``no grad``
    problem beside the nan that caused it, which names sqrt, the op that made the inf.
    """
    snippet = tmp_path / "dist.py"
    snippet.write_text(
        "import torch\ntorch.autograd.set_detect_anomaly(True)\n"
        "x = torch.tensor([[0.0, 1.0], [0.0, 1.0]], requires_grad=True)\n"
        "d = ((x[0] - x[1]) ** 2).sum().sqrt()\n"
        "d.backward()\n"
    )
    result = capture(snippet)
    assert result.graph is not None and result.graph.meta.partial
    r = diagnose(result.graph)
    assert {p.name: p.status for p in r.params} == {"x": "stopped"}
    assert [(n.kind, n.message) for n in r.notes] == [
        (
            "stopped",
            "x got no gradient: the snippet's error ended the run before backward reached it",
        )
    ]
    assert [(f.kind, f.line) for f in r.findings] == [("nan_backward", 4)]
    assert "sqrt sent a non-finite gradient" in r.findings[0].message


def test_a_fitted_linear_models_weight_is_flat_not_vanishing(tmp_path: Path) -> None:
    """At least squares' solution ``Xᵀ g`` cancels: g is orthogonal to the data's columns.

    A weight multiplied by data of norm 1e-7 has a tiny gradient for want of data,
    not because it converged, and stays a problem.
    """
    fitted = tmp_path / "fitted.py"
    fitted.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "X = torch.randn(200, 3, dtype=torch.float64)\n"
        "y = X @ torch.tensor([0.5, -0.2, 0.3], dtype=torch.float64) + torch.randn(200)\n"
        "w = torch.linalg.lstsq(X, y.unsqueeze(1)).solution.squeeze(1).requires_grad_()\n"
        "loss = ((X @ w - y) ** 2).mean()\n"
        "loss.backward()\n"
    )
    g = graph_of(fitted)
    w = plain_run(fitted)["w"]
    r = diagnose(g)
    [health] = r.params
    assert health.status == "flat" and health.grad_norm == pytest.approx(float(w.grad.norm()))
    assert r.healthy and not r.findings
    [note] = r.notes
    assert note.kind == "no_effect" and note.line == 6
    assert note.message.startswith(f"|w.grad| is {health.grad_norm:.3g} while the gradient ")
    assert "reaching the mv at line 6" in note.message and "they cancel out" in note.message

    starved = tmp_path / "starved.py"
    starved.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "X = torch.randn(200, 3) * 1e-7\n"
        "w = torch.ones(3, requires_grad=True)\n"
        "loss = (X @ w - torch.ones(200)).pow(2).mean()\n"
        "loss.backward()\n"
    )
    r = diagnose(graph_of(starved))
    assert [p.status for p in r.params] == ["vanishing"]
    assert [f.kind for f in r.findings] == ["vanishing"]


def test_a_path_through_tensors_sharing_a_name_numbers_them(tmp_path: Path) -> None:
    """``x = torch.sigmoid(self.fc1(x))``, ``x = torch.sigmoid(self.fc2(x))``: the path down
    from the loss says which ``x`` it passes, as explain's formulas do."""
    snippet = tmp_path / "fading.py"
    snippet.write_text(
        "import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc1, self.fc2, self.fc3 = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 1)\n"
        "        for fc in (self.fc2, self.fc3):\n"
        "            nn.init.constant_(fc.weight, 1e-4)\n"
        "    def forward(self, x):\n"
        "        x = torch.sigmoid(self.fc1(x))\n"
        "        x = torch.sigmoid(self.fc2(x))\n"
        "        x = self.fc3(x)\n"
        "        return x\n"
        "net = Net()\n"
        "loss = net(torch.randn(8, 4)).pow(2).mean()\n"
        "loss.backward()\n"
    )
    r = diagnose(graph_of(snippet))
    finding = next(f for f in r.findings if f.subject == "net.fc1.weight")
    assert finding.kind == "vanishing"
    labels = [s.label for s in finding.path]
    assert labels[:3] == ["loss", "pow output", "x#3"] and "x#2" in labels and "x#1" in labels
    assert labels.index("x#3") < labels.index("x#2") < labels.index("x#1")


def test_the_ops_that_shrank_a_gradient_are_taken_together_by_kind(tmp_path: Path) -> None:
    """Ten sigmoids in a loop each pass about a quarter: together they are why the first
    layer's gradient vanished, though the loss's mean over 32 rows, once, passes less
    than any one of them (×0.18) and was named as the culprit."""
    snippet = tmp_path / "deep.py"
    snippet.write_text(
        "import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
        "class DeepNet(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.layers = nn.ModuleList([nn.Linear(16, 16) for _ in range(10)])\n"
        "        self.out = nn.Linear(16, 1)\n"
        "    def forward(self, x):\n"
        "        for layer in self.layers:\n"
        "            x = torch.sigmoid(layer(x))\n"
        "        return self.out(x)\n"
        "net = DeepNet()\n"
        "loss = net(torch.randn(32, 16)).pow(2).mean()\n"
        "loss.backward()\n"
    )
    r = diagnose(graph_of(snippet))
    first = next(f for f in r.findings if f.subject == "net.layers.0.weight")
    factors = [
        (upper.op, lower.grad_norm / upper.grad_norm)
        for upper, lower in itertools.pairwise(first.path)
        if upper.grad_norm and lower.grad_norm is not None
    ]
    mean = next(f for op, f in factors if op == "mean")
    sigmoids = [f for op, f in factors if op == "sigmoid"]
    assert len(sigmoids) == 10 and mean < min(sigmoids)  # the mean, once, shrinks it more
    assert first.culprit is not None
    assert first.culprit.startswith("sigmoid at line 11, 10 times (×")
    together = float(first.culprit.split("(×")[1].split(" ")[0])
    assert together == pytest.approx(math.prod(sigmoids), rel=1e-2) and together < mean
