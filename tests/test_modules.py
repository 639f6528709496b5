"""Big models stay readable: module scopes, clusters, collapsed modules, a node budget."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SAMPLES
from helpers import graph_of, parse_dot, plain_run

from gradviz.cli import cli
from gradviz.display import format_number
from gradviz.model import Graph
from gradviz.renderers.base import RenderOptions
from gradviz.renderers.dot import DotRenderer
from gradviz.transforms import collapse_modules, fit, grad_profile


def test_ops_know_the_module_call_they_ran_in() -> None:
    g = graph_of(SAMPLES / "mlp_step.py")
    scopes = {n.op: n.scope for n in g.ops()}
    assert scopes["relu"] == ("model", "model.1")
    assert scopes["mse_loss"] == ()  # called by the snippet itself
    assert {n.scope for n in g.ops() if n.op == "addmm"} == {
        ("model", "model.0"),
        ("model", "model.2"),
    }
    assert {n.scope for n in g.ops() if n.op == "t"} == {("model", "model.0"), ("model", "model.2")}
    assert g.by_name("model.0.weight").scope == ("model", "model.0")


def test_collapse_modules_folds_each_call_into_one_node() -> None:
    g = graph_of(SAMPLES / "mlp_step.py")
    one = collapse_modules(g, 1)
    assert [n.names for n in one.nodes if n.kind == "module"] == [("model",)]
    assert {n.op for n in one.ops()} == {"mse_loss"}
    assert [n.id for n in one.nodes] == list(range(len(one.nodes)))
    two = collapse_modules(g, 2)
    assert sorted(n.name for n in two.nodes if n.kind == "module") == [
        "model.0",
        "model.1",
        "model.2",
    ]
    labels, edges = parse_dot(DotRenderer().render(two))
    ids = {n.name: f"n{n.id}" for n in two.nodes if n.kind == "module"}
    assert " ".join(labels[ids["model.0"]].split()) == "model.0 Linear 16 params |grad| 1.31"
    assert (ids["model.0"], ids["model.1"]) in edges and (ids["model.1"], ids["model.2"]) in edges


def test_modules_draw_as_nested_clusters() -> None:
    text = DotRenderer(options=RenderOptions(modules=True)).render(
        graph_of(SAMPLES / "mlp_step.py")
    )
    assert text.count("subgraph cluster_m") == 4  # model, and model.0, model.1, model.2 in it
    assert 'label="model: Sequential"' in text and 'label="model.1: ReLU"' in text


def test_the_graph_knows_each_modules_class_in_order_of_call(tmp_path: Path) -> None:
    """What a module is (torchview's strength) beside where it sits: a module no name
    reaches is labelled by its class already, and says it once."""
    snippet = tmp_path / "nets.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "net = nn.Sequential(nn.Linear(3, 4), nn.Tanh())\n"
        "h = net(torch.randn(2, 3))\nloss = nn.Linear(4, 1)(h).sum()\nloss.backward()\n"
    )
    g = graph_of(snippet)
    assert [(m.name, m.kind) for m in g.modules] == [
        ("net", "Sequential"),
        ("net.0", "Linear"),
        ("net.1", "Tanh"),
        ("Linear", "Linear"),
    ]
    assert Graph.from_json(g.to_json()).modules == g.modules
    assert g.module_title("net.1") == "net.1: Tanh" and g.module_title("Linear") == "Linear"
    net = plain_run(snippet)["net"]
    norm = sum(float(p.grad.pow(2).sum()) for p in net.parameters()) ** 0.5
    labels, _ = parse_dot(DotRenderer().render(collapse_modules(g, 1)))
    drawn = sorted(" ".join(label.split()) for label in labels.values() if "params" in label)
    assert drawn[0].startswith("Linear 5 params |grad| ")  # no "Linear Linear"
    assert drawn[1] == f"net Sequential 16 params |grad| {norm:.3g}"


def test_a_node_budget_collapses_first_then_keeps_the_nearest(tmp_path: Path) -> None:
    g = graph_of(SAMPLES / "mlp_step.py")
    same, note = fit(g, 100)
    assert same is g and note is None
    collapsed, note = fit(g, 12)
    assert len(collapsed.nodes) <= 12 and note is not None and "modules below depth" in note
    chain = tmp_path / "chain.py"
    chain.write_text(
        "import torch\nx = torch.tensor(1.0, requires_grad=True)\ny = x\n"
        "for _ in range(100):\n    y = y * 1.01\n"
    )
    long = graph_of(chain)
    kept, note = fit(long, 20)
    assert len(kept.nodes) == 20 and note is not None and "181 more" not in note
    assert "one node for the other 182" in note
    assert kept.node(kept.outputs[0]).names == ("y",)


def test_cli_tells_what_it_left_out(runner: CliRunner, in_tmp: Path) -> None:
    result = runner.invoke(
        cli, ["run", str(SAMPLES / "vanishing_sigmoid.py"), "-o", "g.dot", "--max-nodes", "40"]
    )
    assert result.exit_code == 0
    assert "the graph has 104 nodes; modules below depth" in result.stderr
    labels, _ = parse_dot((in_tmp / "g.dot").read_text())
    assert len(labels) <= 40
    full = runner.invoke(
        cli, ["run", str(SAMPLES / "vanishing_sigmoid.py"), "-o", "g.json", "--max-nodes", "40"]
    )
    assert full.exit_code == 0
    assert len(Graph.from_json((in_tmp / "g.json").read_text()).nodes) == 104  # JSON keeps all


def test_shared_leaves_are_drawn_once_per_use() -> None:
    from gradviz.transforms import split_shared_leaves

    g = graph_of(SAMPLES / "exploding_rnn.py")
    w_hh = g.by_name("w_hh")
    uses = sum(1 for e in g.edges if e.src == w_hh.id)
    assert uses == 20
    split = split_shared_leaves(g)
    copies = [n for n in split.nodes if n.copy_of is not None and n.names == ("w_hh",)]
    assert len(copies) == uses - 1
    for node in [split.by_name("w_hh"), *copies]:
        assert sum(1 for e in split.edges if e.src == node.id) == 1  # one use each
    assert len(split.edges) == len(g.edges)  # no use lost
    text = DotRenderer().render(split)
    assert text.count('style="rounded,dashed,filled"') == len(
        [n for n in split.nodes if n.copy_of is not None]
    )
    few = graph_of(SAMPLES / "grad_accumulation.py")  # w has 2 uses: left alone
    assert split_shared_leaves(few) is few


def test_a_stack_of_layers_is_folded_by_their_names(tmp_path: Path) -> None:
    """nanoGPT's blocks: the note names the first and last layer folded, not the line of
    the first op (a LayerNorm's forward, which says little of what repeated)."""
    from gradviz.transforms import fold_repeats

    snippet = tmp_path / "stack.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "class Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.ln, self.fc = nn.LayerNorm(4), nn.Linear(4, 4)\n"
        "    def forward(self, x):\n"
        "        return x + self.fc(self.ln(x)).tanh()\n"
        "blocks = nn.ModuleList(Block() for _ in range(6))\n"
        "x = torch.randn(2, 4)\n"
        "for block in blocks:\n"
        "    x = block(x)\n"
        "x.sum().backward()\n"
    )
    graph = graph_of(snippet)
    folded, note = fold_repeats(graph)
    assert note is not None
    assert note.startswith("folded 6 repeats of a 5-op block (blocks.0 to blocks.5) into one")
    marked = [n for n in folded.ops() if any(s.startswith("×6") for s in n.scope)]
    assert len(marked) == 5 and len(list(folded.ops())) < len(list(graph.ops())) // 3
    # with --modules, the block's one box holds its modules, not a piece in each of them
    mark = next(s for s in marked[0].scope if s.startswith("×6"))
    assert {n.scope[:2] for n in marked} == {("blocks.0", mark)}
    text = DotRenderer(options=RenderOptions(modules=True)).render(folded)
    inside = _clusters_of(text)
    assert text.count("(one block drawn for all its repeats") == 1
    box = f"{mark}  (one block drawn for all its repeats, with the numbers of the first)"
    assert {tuple(inside[f"n{n.id}"][:2]) for n in marked} == {("blocks.0: Block", box)}
    assert {inside[f"n{n.id}"][2] for n in marked if n.op == "addmm"} == {"blocks.0.fc: Linear"}


def test_a_recurrent_module_folds_by_time_step(tmp_path: Path) -> None:
    """nn.GRU makes every gate of every step in one call, after one product of the
    inputs of all steps, unbound: its steps fold into one block, and the pieces of
    that product into one tensor, drawn once (they used to fan out, one per step)."""
    from gradviz.transforms import fold_repeats

    snippet = tmp_path / "gru.py"
    snippet.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "gru = nn.GRU(3, 4)\nout, h = gru(torch.randn(12, 1, 3))\n"
        "loss = out.pow(2).sum()\nloss.backward()\n"
    )
    g = graph_of(snippet)
    folded, note = fold_repeats(g)
    assert note is not None and note.startswith("folded 12 repeats of a ")
    (unbind,) = [n for n in folded.ops() if n.op == "unbind"]
    (piece,) = {e.dst for e in folded.edges if e.src == unbind.id}
    assert sum(1 for e in folded.edges if e.src == unbind.id) == 1
    assert len(g.nodes) > 5 * len(folded.nodes)
    # the first step's piece of the product stands for all, with its numbers
    (first,) = [
        e.dst
        for e in g.edges
        if e.src == next(n.id for n in g.ops() if n.op == "unbind") and e.slot == 0
    ]
    assert folded.node(piece).value == g.node(first).value
    (stack,) = [n for n in folded.ops() if n.op == "stack"]
    assert len(folded.inputs(stack.id)) == 1  # every step's output, drawn as one edge
    assert len(g.inputs(next(n.id for n in g.ops() if n.op == "stack"))) == 12


def test_folding_keeps_both_edges_of_a_square(tmp_path: Path) -> None:
    from gradviz.transforms import fold_repeats

    snippet = tmp_path / "square.py"
    snippet.write_text(
        "import torch\nx = torch.tensor([1.01], requires_grad=True)\ny = x\n"
        "for _ in range(8):\n    y = (y * y).sin()\ny.sum().backward()\n"
    )
    folded, note = fold_repeats(graph_of(snippet))
    assert note is not None and "folded 8 repeats" in note
    (mul,) = [n for n in folded.ops() if n.op == "mul"]
    x = folded.by_name("x")
    assert sorted(e.slot for e in folded.inputs(mul.id) if e.src == x.id) == [0, 1]
    loop = [e for e in folded.inputs(mul.id) if e.src != x.id]
    assert len(loop) == 1  # the step before, squared: one edge back into the block


def test_repeated_blocks_fold_into_one_marked_times_n(tmp_path: Path) -> None:
    from gradviz.transforms import fold_repeats

    rnn = tmp_path / "rnn.py"
    rnn.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "W = torch.randn(4, 4, requires_grad=True)\nU = torch.randn(4, 2, requires_grad=True)\n"
        "h = torch.zeros(4)\n"
        "for x in torch.randn(30, 2):\n"
        "    h = torch.tanh(W @ h + U @ x)\n"
        "loss = h.sum()\nloss.backward()\n"
    )
    g = graph_of(rnn)
    folded, note = fold_repeats(g)
    assert note is not None and "folded 30 repeats of a 4-op block (line 7)" in note
    assert sorted(n.op for n in folded.ops()) == ["add", "mv", "mv", "sum", "tanh"]
    inside = [n for n in folded.nodes if any(x.startswith("×30 ") for x in n.scope)]
    assert {n.op for n in inside if n.kind == "op"} == {"mv", "add", "tanh"}
    assert {n.name for n in folded.nodes if n.kind == "leaf"} == {"W", "U"}  # weights stay
    assert folded.node(folded.outputs[0]).names == ("loss",)
    text = DotRenderer().render(folded)
    assert "(one block drawn for all its repeats, with the numbers of the first)" in text
    # what the first repeat's numbers cannot show: the gradient fading back through time
    plain = tmp_path / "plain.py"
    plain.write_text(
        rnn.read_text()
        .replace("h = torch.zeros(4)\n", "h = torch.zeros(4)\nhs = []\n")
        .replace("U @ x)\n", "U @ x)\n    h.retain_grad()\n    hs.append(h)\n")
    )
    norms = [h.grad.norm().item() for h in plain_run(plain)["hs"]]
    assert norms[0] < 1e-3 * norms[-1]  # it does vanish
    profile = grad_profile(norms)
    assert profile is not None and profile.endswith(
        f"{format_number(norms[0], 2)} → {format_number(norms[-1], 2)}"
    )
    assert f"×30   |grad| by repeat, 1 → 30: {profile}" in inside[0].scope
    assert f'label="×30   |grad| by repeat, 1 → 30: {profile}  (one block' in text
    assert profile in note
    sigmoid = graph_of(SAMPLES / "vanishing_sigmoid.py")
    stack, note = fold_repeats(sigmoid)
    assert note is not None and "folded 12 repeats of a 3-op block" in note
    assert len(stack.nodes) < len(sigmoid.nodes) // 4
    assert fold_repeats(graph_of(SAMPLES / "mlp_step.py"))[1] is None  # nothing repeats


def test_side_by_side_repeats_fold_only_where_they_play_one_part(tmp_path: Path) -> None:
    """Heads concatenated are one part played three times: they fold. The query, key
    and value projections of one input repeat as well, but go three ways: one block
    for all three would read as one tensor sent to the query, the key and the value."""
    from gradviz.transforms import fold_repeats

    heads = tmp_path / "heads.py"
    heads.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\nx = torch.randn(2, 8)\n"
        "heads = nn.ModuleList([nn.Sequential(nn.Linear(8, 4), nn.Tanh()) for _ in range(3)])\n"
        "out = torch.cat([h(x) for h in heads], dim=-1)\n"
        "out.pow(2).sum().backward()\n"
    )
    folded, note = fold_repeats(graph_of(heads))
    assert note is not None and note.startswith("folded 3 repeats of a 3-op block (heads.0 to")
    (cat,) = [n for n in folded.ops() if n.op == "cat"]
    (tanh,) = [n for n in folded.ops() if n.op == "tanh"]
    assert [folded.node(e.src).id for e in folded.inputs(cat.id)] == [
        e.dst for e in folded.edges if e.src == tanh.id
    ]
    qkv = tmp_path / "qkv.py"
    qkv.write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\nx = torch.randn(2, 4, 8)\n"
        "wq, wk, wv = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)\n"
        "q, k, v = wq(x), wk(x), wv(x)\n"
        "att = (q @ k.transpose(1, 2)).softmax(-1) @ v\n"
        "att.sum().backward()\n"
    )
    g = graph_of(qkv)
    assert sum(1 for n in g.ops() if n.source and n.source.line == 6) == 9
    assert fold_repeats(g) == (g, None)


def test_each_repeat_folds_while_the_picture_is_big(tmp_path: Path) -> None:
    """An encoder RNN and a decoder RNN: two repeats, one after the other. Folding only
    the longer left the other drawn step by step, over the fold threshold."""
    from gradviz.transforms import FOLD_ABOVE, for_picture

    seq2seq = tmp_path / "seq2seq.py"
    seq2seq.write_text(
        "import torch\ntorch.manual_seed(0)\n"
        "W = torch.randn(4, 4, requires_grad=True)\nV = torch.randn(4, 4, requires_grad=True)\n"
        "h = torch.zeros(4)\n"
        "for x in torch.randn(40, 4):\n"
        "    h = torch.tanh(W @ h + x)\n"
        "outs = []\n"
        "for _ in range(60):\n"
        "    h = torch.sigmoid(V @ h)\n"
        "    outs.append(h)\n"
        "torch.stack(outs).sum().backward()\n"
    )
    g = graph_of(seq2seq)
    drawn, notes = for_picture(g)
    folds = [n for n in notes if n.startswith("folded")]
    assert len(folds) == 2
    assert {f.split(" into")[0] for f in folds} == {
        "folded 40 repeats of a 3-op block (line 7)",
        "folded 60 repeats of a 2-op block (line 10)",
    }
    assert len(drawn.nodes) <= FOLD_ABOVE
    marks = {x.split()[0] for n in drawn.nodes for x in n.scope if x.startswith("×")}
    assert marks == {"×40", "×60"}
    assert {n.name for n in drawn.nodes if n.kind == "leaf"} == {"W", "V"}


def test_graphs_made_one_after_another_fold_whole(tmp_path: Path) -> None:
    """A gradient per input, in a loop: each graph has its own leaf (used twice) and its
    own output. One block stands for all, leaf and output included; a weight shared by
    every repeat (a loop that forgot zero_grad) stays drawn once, outside the block."""
    from gradviz.transforms import fold_repeats

    per_input = tmp_path / "per_input.py"
    per_input.write_text(
        "import torch\n"
        "def slope(v):\n"
        "    x = torch.tensor(v, requires_grad=True)\n"
        "    y = x ** 3 - 2 * x\n"
        "    y.backward()\n"
        "    return x.grad.item()\n"
        "slopes = [slope(float(i)) for i in range(40)]\n"
    )
    g = graph_of(per_input)
    assert len(g.outputs) == 40 and sum(n.kind == "leaf" for n in g.nodes) == 40
    folded, note = fold_repeats(g)
    assert note is not None and note.startswith("folded 40 repeats of a 3-op block (line 4)")
    assert [n.kind for n in folded.nodes].count("leaf") == 1
    assert len(folded.outputs) == 1 and len(folded.nodes) == 7
    assert all(any(x.startswith("×40") for x in n.scope) for n in folded.nodes)
    (x,) = [n for n in folded.nodes if n.kind == "leaf"]
    assert x.names == ("x",) and x.grad is not None and x.grad.data == (-2.0,)  # the first: v=0
    stepped = tmp_path / "stepped.py"
    stepped.write_text(
        "import torch\nw = torch.tensor([1.0, -1.0], requires_grad=True)\n"
        "for _ in range(40):\n"
        "    loss = ((w * 2).sum() - 4) ** 2\n"
        "    loss.backward()\n"
        "    with torch.no_grad():\n"
        "        w -= 0.001 * w.grad\n"
    )
    folded, note = fold_repeats(graph_of(stepped))
    assert note is not None and "folded 40 repeats" in note
    (w,) = [n for n in folded.nodes if n.kind == "leaf"]
    assert w.names == ("w",) and not any(x.startswith("×") for x in w.scope)
    assert w.grad_stale == 39 and len(folded.outputs) == 1


def test_cli_folds_big_graphs_unless_told_not_to(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "rnn.py").write_text(
        "import torch\nW = torch.ones(3, 3, requires_grad=True)\nh = torch.ones(3)\n"
        "for _ in range(60):\n    h = torch.tanh(W @ h)\nh.sum().backward()\n"
    )
    folded = runner.invoke(cli, ["run", "rnn.py", "-o", "a.dot"])
    assert folded.exit_code == 0 and "folded 60 repeats" in folded.stderr
    full = runner.invoke(cli, ["run", "rnn.py", "-o", "b.dot", "--no-fold", "--max-nodes", "1000"])
    assert full.exit_code == 0 and "folded" not in full.stderr
    assert len(parse_dot((in_tmp / "b.dot").read_text())[0]) > 5 * len(
        parse_dot((in_tmp / "a.dot").read_text())[0]
    )


def test_depth_is_another_name_for_module_depth(runner: CliRunner, in_tmp: Path) -> None:
    result = runner.invoke(
        cli, ["run", str(SAMPLES / "mlp_step.py"), "-o", "g.dot", "--depth", "2"]
    )
    assert result.exit_code == 0
    assert (in_tmp / "g.dot").read_text().count("shape=box3d") == 3  # model.0, model.1, model.2


def test_notebook_renders_fold_and_fit_big_graphs_like_the_cli(tmp_path: Path) -> None:
    """``Graph.render`` and the inline SVG of a notebook never hand dot the whole graph."""
    (tmp_path / "rnn.py").write_text(
        "import torch\nW = torch.ones(3, 3, requires_grad=True)\nh = torch.ones(3)\n"
        "for _ in range(300):\n    h = torch.tanh(W @ h)\nh.sum().backward()\n"
    )
    g = graph_of(tmp_path / "rnn.py")
    assert len(g.nodes) > 1000
    with pytest.warns(UserWarning, match="folded 300 repeats.*; fold=False draws them all"):
        g.render(tmp_path / "g.dot")
    labels, _ = parse_dot((tmp_path / "g.dot").read_text())
    assert len(labels) < 20
    g.render(tmp_path / "g.json")  # the JSON keeps every node
    assert len(Graph.from_json((tmp_path / "g.json").read_text()).nodes) == len(g.nodes)
    with pytest.warns(UserWarning, match="drew the 29 nearest the outputs.*max_nodes=N"):
        small = g.render(tmp_path / "s.dot", max_nodes=30, fold=False)
    assert len(parse_dot(small.read_text())[0]) <= 40  # the budget, plus copies of W


def test_uncalled_containers_do_not_split_a_module_from_its_weights(tmp_path: Path) -> None:
    """An ``nn.ModuleList`` is never called: its layers' weights go with their layers."""
    (tmp_path / "stack.py").write_text(
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])\n"
        "    def forward(self, x):\n"
        "        for layer in self.layers:\n"
        "            x = torch.tanh(layer(x))\n"
        "        return x\n"
        "net = Net()\nloss = net(torch.ones(1, 2)).sum()\nloss.backward()\n"
    )
    g = graph_of(tmp_path / "stack.py")
    assert g.by_name("net.layers.1.weight").scope == ("net", "net.layers.1")
    two = collapse_modules(g, 2)
    modules = {n.id: n.name for n in two.nodes if n.kind == "module"}
    assert sorted(modules.values()) == ["net.layers.0", "net.layers.1", "net.layers.2"]
    after: dict[int, set[int]] = {}
    for e in two.edges:
        after.setdefault(e.src, set()).add(e.dst)
    feeds = set()  # module -> the next modules it reaches, through ops and tensors
    for m in modules:
        todo = list(after.get(m, ()))
        while todo:
            n = todo.pop()
            if n in modules:
                feeds.add((modules[m], modules[n]))
            else:
                todo.extend(after.get(n, ()))
    assert feeds == {("net.layers.0", "net.layers.1"), ("net.layers.1", "net.layers.2")}


RNN_300 = (
    "import torch\nW = torch.ones(3, 3, requires_grad=True) * 0.1\nh = torch.ones(3)\n"
    "for _ in range(300):\n    h = torch.tanh(W @ h)\nloss = h.sum()\nloss.backward()\n"
)


def test_ids_held_by_nodes_and_parameters_follow_every_transform(tmp_path: Path) -> None:
    """A saved tensor's ``ref``, a copy's ``copy_of``, a parameter's ``node`` stay true."""
    from gradviz.transforms import fold_repeats, for_picture, split_shared_leaves

    (tmp_path / "rnn.py").write_text(RNN_300)
    g = graph_of(tmp_path / "rnn.py")
    folded, _ = fold_repeats(g)
    pictures = [folded, split_shared_leaves(folded), for_picture(g, max_nodes=9)[0]]
    pictures.append(collapse_modules(fit(g, 50)[0], 1))
    for pic in pictures:
        ids = {n.id for n in pic.nodes}
        for n in pic.nodes:
            assert n.copy_of is None or n.copy_of in ids
            for s in n.saved:
                if s.ref is not None:
                    assert s.ref in ids and pic.node(s.ref).kind != "op"
        assert all(p.node is None or p.node in ids for p in pic.params)
    # a folded repeat's saved input points at the tensor that stands for it, never elsewhere
    tanh = next(n for n in folded.ops() if n.op == "tanh")
    (result,) = (s for s in tanh.saved if s.name == "result")
    made = {e.dst for e in folded.edges if e.src == tanh.id}
    assert result.ref in made


def test_big_folded_graphs_render_to_html_and_dot_with_saved_edges(
    runner: CliRunner, in_tmp: Path
) -> None:
    (in_tmp / "rnn.py").write_text(RNN_300)
    assert runner.invoke(cli, ["run", "rnn.py", "-o", "g.html"]).exit_code == 0
    assert runner.invoke(cli, ["run", "rnn.py", "-o", "g.dot", "--saved"]).exit_code == 0
    labels, edges = parse_dot((in_tmp / "g.dot").read_text())
    assert all(a in labels and b in labels for a, b in edges)  # no edge to a node not drawn


def test_grad_profile_is_a_log_scale_bar_per_repeat() -> None:
    assert grad_profile([1e-8, 1e-4, 1.0]) == "▁▅█  1e-08 → 1."
    assert grad_profile([2.0, 2.0]) == "▅▅  2. → 2."  # flat: mid-height bars
    assert grad_profile([0.0, None, float("nan"), 1.0, 10.0]) == "· !▁█  0. → 10."
    assert grad_profile([None, 1.0]) is None  # one known norm is no profile
    many = grad_profile([10.0**-i for i in range(100)])
    assert many is not None and many.endswith("  1. → 1e-99")
    bars = many.split()[0]
    assert len(bars) == 24  # one bar per stretch of repeats past 24
    assert bars[0] == "█" and bars[-1] == "▁"
    levels = ["▁▂▃▄▅▆▇█".index(c) for c in bars]
    assert levels == sorted(levels, reverse=True)


def test_modules_no_name_reaches_are_named_by_class(tmp_path: Path) -> None:
    """``nn.Linear(4, 4)(h)`` made on the line that calls it, or freed at once: its
    parameters are ``Linear#1.weight``, ``Linear#2.weight``..., in the scope its ops
    ran in (a freed module's address may be the next one's), with their gradients;
    a named module keeps its own names."""
    snippet = tmp_path / "inline.py"
    snippet.write_text(
        "import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(4, 4), nn.Tanh())\n"
        "h = model(torch.randn(2, 4))\n"
        "for _ in range(2):\n"
        "    layer = nn.Linear(4, 4)\n"
        "    h = layer(h).relu()\n"
        "    del layer\n"
        "loss = nn.Linear(4, 1)(h).sum()\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    leaves = {n.names[0]: n for n in g.nodes if n.kind == "leaf" and n.names}
    assert set(leaves) == {
        *(f"model.0.{p}" for p in ("weight", "bias")),
        *(f"Linear#{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")),
    }
    for name in ("Linear#1", "Linear#2", "Linear#3"):
        for p in ("weight", "bias"):
            assert leaves[f"{name}.{p}"].scope == (name,)
        (op,) = [e.dst for e in g.edges if e.src == leaves[f"{name}.bias"].id]
        assert g.node(op).scope == (name,)
    grad = leaves["Linear#3.bias"].grad  # d(sum over a batch of 2)/d(bias)
    assert grad is not None and grad.data == (2.0,)
    assert leaves["model.0.weight"].scope == ("model", "model.0")


RESIDUAL = (
    "import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
    "class Block(nn.Module):\n"
    "    def __init__(self, d):\n"
    "        super().__init__()\n"
    "        self.norm = nn.LayerNorm(d)\n"
    "        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))\n"
    "    def forward(self, x):\n"
    "        return x + self.ff(self.norm(x))\n"
    "model = nn.Sequential(*[Block(4) for _ in range(4)])\n"
    "loss = model(torch.randn(3, 4)).pow(2).mean()\n"
    "loss.backward()\n"
)


SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.dot
def test_a_residual_stack_of_module_clusters_runs_down_the_page(tmp_path: Path) -> None:
    """A block's output is drawn between the blocks, in the module around both: drawn in
    the block that made it, it shared a rank with the next block's first weights, and
    ``dot`` set each block beside the last, across the page."""
    from gradviz.renderers import format_for, make_renderer

    snippet = tmp_path / "residual.py"
    snippet.write_text(RESIDUAL)
    g = graph_of(snippet)
    options = RenderOptions(modules=True)
    text = DotRenderer(options=options).render(g)
    clusters = re.findall(r"subgraph (cluster_m\d+) \{\n\s*label=\"([^\"]+)\"", text)
    assert [label for _, label in clusters if label.endswith(": Block")] == [
        f"model.{i}: Block" for i in (3, 2, 1, 0)
    ]
    made_by = {e.dst: g.node(e.src) for e in g.edges if g.node(e.src).kind == "op"}
    handed_on = [n for n in g.tensors() if n.id in made_by and made_by[n.id].op == "add"]
    assert len(handed_on) == 4 and all(n.scope[-1].startswith("model.") for n in handed_on)
    inside = _clusters_of(text)
    for n in handed_on:  # drawn between the blocks, in the Sequential, though made in one
        last = n.scope[1] == "model.3"  # the model's output: outside it, where pow uses it
        assert inside[f"n{n.id}"] == ([] if last else ["model: Sequential"])
    first_weight = g.by_name("model.0.norm.weight")
    assert inside[f"n{first_weight.id}"][-1] == "model.0.norm: LayerNorm"

    svg = make_renderer(format_for("svg", None), options).render(g)
    assert isinstance(svg, str)
    root = ET.fromstring(svg)
    boxes = {}
    for group in root.iter(f"{SVG}g"):
        title = group.find(f"{SVG}title")
        label = next((t.text for t in group.iter(f"{SVG}text") if t.text), "")
        if group.get("class") == "cluster" and label.endswith(": Block") and title is not None:
            shape = group.find(f"{SVG}path")
            shape = group.find(f"{SVG}polygon") if shape is None else shape
            assert shape is not None
            xs, ys = _outline(shape)
            boxes[label] = (min(xs), max(xs), min(ys), max(ys))
    order = [boxes[f"model.{i}: Block"] for i in range(4)]
    for above, below in itertools.pairwise(order):
        assert above[3] <= below[2]  # one under another, down the page
        assert below[0] < above[1] and above[0] < below[1]  # and overlapping across it


def _clusters_of(dot: str) -> dict[str, list[str]]:
    """Each node of DOT text, with the labels of the clusters it is drawn in, outermost first."""
    stack: list[str] = []
    found: dict[str, list[str]] = {}
    for line in dot.splitlines():
        line = line.strip()
        if line.startswith("subgraph cluster"):
            stack.append("")
        elif line.startswith("label=") and stack and not stack[-1]:
            stack[-1] = line.split('"')[1]
        elif line == "}" and stack:
            stack.pop()
        elif (found_node := re.match(r"(n\d+) \[", line)) is not None:
            found[found_node.group(1)] = list(stack)
    return found


def _outline(shape: ET.Element) -> tuple[list[float], list[float]]:
    """The x and y coordinates of a cluster's outline, a polygon or a rounded path."""
    numbers = [
        float(v)
        for v in re.findall(r"-?\d+(?:\.\d+)?", shape.get("points") or shape.get("d") or "")
    ]
    return numbers[0::2], numbers[1::2]
