"""Every renderer's output parses and says what the graph holds; DOT and JSON match goldens."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pydot
import pytest
from click.testing import CliRunner
from conftest import SAMPLES, SNIPPETS, Golden
from helpers import graph_of, parse_dot, parse_mermaid
from hypothesis import given, settings
from hypothesis import strategies as st

from gradviz.cli import cli
from gradviz.model import Constant, Edge, Graph, Meta, Node, TensorData
from gradviz.renderers import FORMATS, format_for, make_renderer
from gradviz.renderers.base import RenderOptions
from gradviz.renderers.dot import DotRenderer, dot_quote

SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(svg: str) -> dict[str, str]:
    """Graphviz node id (the DOT name, in <title>) -> all the text drawn in that node."""
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            title = g.find(f"{SVG}title")
            assert title is not None and title.text
            out[title.text] = " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
    return out


def test_a_hooked_gradient_says_so_in_the_picture(tmp_path: Path) -> None:
    snippet = tmp_path / "hooked.py"
    snippet.write_text(
        "import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "h = x * 2\nh.register_hook(lambda g: -g)\nh.sum().backward()\n"
    )
    g = graph_of(snippet)
    labels, _ = parse_dot(DotRenderer().render(g))
    assert labels[f"n{g.by_name('h').id}"] == "h 2 value [2., 4.] grad (hook) [-1., -1.]"
    assert labels[f"n{g.by_name('x').id}"] == "x 2 leaf value [1., 2.] grad [-2., -2.]"


def test_dot_labels_carry_names_values_and_grads() -> None:
    g = graph_of(SAMPLES / "autograd_basics.py")
    labels, edges = parse_dot(DotRenderer().render(g))
    a = g.by_name("a")
    assert labels[f"n{a.id}"] == "a 1×2 leaf value [[2., 3.]] grad [[1., 2.]]"
    assert labels[f"n{g.by_name('d').id}"] == "d scalar output value 8. grad 1."
    mul = next(n for n in g.ops() if n.op == "mul")
    assert labels[f"n{mul.id}"] == "mul MulBackward0"
    assert (f"n{a.id}", f"n{mul.id}") in edges  # forward: data flows from a into mul


def test_an_op_names_its_inputs_that_have_no_node() -> None:
    """``mse_loss(prediction, y)``: the target needs no grad and is no node of the
    picture, so the op says what it was used with; an unnamed one is not listed."""
    g = graph_of(SAMPLES / "mlp_step.py")
    labels, _ = parse_dot(DotRenderer().render(g))
    loss = next(n for n in g.ops() if n.op == "mse_loss")
    assert labels[f"n{loss.id}"] == "mse_loss with y MseLossBackward0"
    first = next(n for n in g.ops() if n.op == "addmm" and n.constants)
    assert labels[f"n{first.id}"] == "addmm with x AddmmBackward0"
    unnamed = Node(id=0, kind="op", op="sub", constants=(Constant(slot=1),))
    only = Graph(nodes=[unnamed], edges=[], outputs=[], meta=Meta(snippet="s.py"))
    assert parse_dot(DotRenderer().render(only))[0]["n0"] == "sub"
    from gradviz.renderers.mermaid import MermaidRenderer

    mermaid, _ = parse_mermaid(MermaidRenderer().render(g))
    assert " ".join(mermaid[f"n{loss.id}"].split()) == "mse_loss with y"


def test_backward_direction_reverses_every_edge() -> None:
    g = graph_of(SAMPLES / "autograd_basics.py")
    _, forward = parse_dot(DotRenderer().render(g))
    _, backward = parse_dot(DotRenderer(options=RenderOptions(direction="backward")).render(g))
    assert sorted(backward) == sorted((b, a) for a, b in forward)


def test_gradients_not_computed_are_said_so_never_zero() -> None:
    g = graph_of(SAMPLES / "dynamic_graph.py")
    labels, _ = parse_dot(DotRenderer().render(g))
    assert labels[f"n{g.by_name('z').id}"] == "z scalar output value 6. grad not computed"
    assert labels[f"n{g.by_name('x').id}"] == "x scalar leaf value 2. grad not computed"


def test_accumulated_gradients_show_their_pass_count() -> None:
    g = graph_of(SAMPLES / "grad_accumulation.py")
    labels, _ = parse_dot(DotRenderer().render(g))
    assert labels[f"n{g.by_name('w').id}"] == "w 2 leaf value [1., -2.] grad Σ2 [5., 0.]"


# the deep health samples (hundreds of nodes) are checked by their own tests, not byte for byte
LARGE_SAMPLES = {"vanishing_sigmoid", "exploding_rnn", "attention_head"}


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(SAMPLES.glob("*.py")) if p.stem not in LARGE_SAMPLES],
    ids=lambda p: p.stem,
)
def test_samples_match_their_goldens(path: Path, golden: Golden) -> None:
    g = graph_of(path)
    golden.check(f"{path.stem}.dot", DotRenderer().render(g))
    golden.check(f"{path.stem}.json", g.to_json())


@pytest.mark.dot
@pytest.mark.parametrize(
    "fmt", [f for f in FORMATS if f.name in ("svg", "png", "pdf")], ids=lambda f: f.name
)
def test_images_render(fmt: object) -> None:
    g = graph_of(SAMPLES / "autograd_basics.py")
    renderer = make_renderer(fmt, RenderOptions())  # type: ignore[arg-type]
    data = renderer.render(g)
    if renderer.name == "svg":
        assert isinstance(data, str)
        texts = svg_texts(data)
        assert "[[2., 3.]]" in texts[f"n{g.by_name('a').id}"]
        assert "mul" in texts[f"n{next(n.id for n in g.ops() if n.op == 'mul')}"]
    elif renderer.name == "png":
        assert isinstance(data, bytes) and data.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert 200 < width < 3000 and 200 < height < 3000
    else:
        assert isinstance(data, bytes) and data.startswith(b"%PDF-")


@pytest.mark.dot
def test_hostile_names_are_escaped_in_dot_and_svg() -> None:
    g = graph_of(SNIPPETS / "weird_names.py")
    labels, _ = parse_dot(DotRenderer().render(g))
    texts = svg_texts(make_renderer(format_for("svg", None), RenderOptions()).render(g))  # type: ignore[arg-type]
    weird = g.by_name('a<b>&"c"')
    assert labels[f"n{weird.id}"].startswith('a<b>&"c" scalar leaf')
    assert texts[f"n{weird.id}"].startswith('a<b>&"c"')
    assert texts[f"n{g.by_name('café').id}"].startswith("café")


names = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20)


def named_pair(name: str, op: str) -> Graph:
    """The smallest graph with a hostile name in it: an op and the tensor it made."""
    value = TensorData(shape=(1,), dtype="float32", data=(1.0,))
    return Graph(
        nodes=(
            Node(id=0, kind="output", names=(name,), value=value),
            Node(id=1, kind="op", op=op, autograd="XBackward0"),
        ),
        edges=(Edge(src=1, dst=0),),
        outputs=(0,),
        meta=Meta(snippet=name),
    )


@settings(max_examples=200, deadline=None)
@given(names, names)
def test_any_name_gives_dot_that_parses_to_the_same_text(name: str, op: str) -> None:
    graph = named_pair(name, op)
    labels, edges = parse_dot(DotRenderer().render(graph))
    assert edges == [("n1", "n0")]
    expected = " ".join(
        re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]", "\ufffd", name).split()
    )
    assert " ".join(labels["n0"].split()).startswith(expected)


def test_dot_quote_round_trips_through_pydot() -> None:
    for text in ["plain", 'with "quotes"', "back\\slash", "two\nlines", "{braces} [x]; <y>"]:
        (graph,) = pydot.graph_from_dot_data(f"digraph {{ a [tooltip={dot_quote(text)}]; }}")
        node = next(n for n in graph.get_nodes() if n.get_name() == "a")
        assert node.get("tooltip") == dot_quote(text)


def test_format_is_picked_from_the_suffix_or_the_flag() -> None:
    assert format_for(None, Path("g.SVG")).name == "svg"
    assert format_for(None, Path("g.gv")).name == "dot"
    assert format_for("png", Path("g.svg")).name == "png"
    assert format_for(None, None).name == "svg"


def _fill(dot_label: str) -> str:
    match = re.search(r'BGCOLOR="(#[0-9a-f]{6})"', dot_label)
    assert match, dot_label
    return match.group(1)


def test_color_by_grad_puts_magnitude_on_the_picture() -> None:
    from gradviz.health import norm_of
    from gradviz.renderers.magnitude import NONFINITE, PALETTE

    g = graph_of(SAMPLES / "vanishing_sigmoid.py")
    text = DotRenderer(options=RenderOptions(color_by="grad")).render(g)
    (parsed,) = pydot.graph_from_dot_data(text)
    fills = {
        n.get_name(): _fill(n.get("label"))
        for n in parsed.get_nodes()
        if n.get_name().startswith("n") and "TABLE" in (n.get("label") or "")
    }
    first, last = g.by_name("net.0.weight"), g.by_name("net.24.weight")
    # the vanishing first layer sits at the pale end, the last layer at the dark end
    assert PALETTE.index(fills[f"n{first.id}"]) == 0
    assert PALETTE.index(fills[f"n{last.id}"]) >= len(PALETTE) - 2
    # colours never go down as norms go up
    ranked = sorted(
        (norm_of(n.grad), PALETTE.index(fills[f"n{n.id}"])) for n in g.tensors() if n.grad
    )
    assert [c for _, c in ranked] == sorted(c for _, c in ranked)
    widths = [float(e.get("penwidth")) for e in parsed.get_edges() if e.get("penwidth")]
    assert min(widths) < 1.0 < 3.0 < max(widths)
    assert "cluster_legend" in text and "|grad|</B> (log scale)" in text
    smallest = min(n for n, _ in ranked if n)
    assert f">{smallest:.2g}</TD>" in text  # the colour bar starts at the smallest norm shown
    nan = graph_of(SAMPLES / "log_of_zero.py")
    nan_text = DotRenderer(options=RenderOptions(color_by="grad")).render(nan)
    (nan_parsed,) = pydot.graph_from_dot_data(nan_text)
    p = next(n for n in nan_parsed.get_nodes() if n.get_name() == f"n{nan.by_name('p').id}")
    assert _fill(p.get("label")) == NONFINITE


@pytest.mark.dot
def test_color_by_value_renders_through_dot(runner: CliRunner, in_tmp: Path) -> None:
    result = runner.invoke(
        cli, ["run", str(SAMPLES / "mlp_step.py"), "-o", "g.svg", "--color-by", "value"]
    )
    assert result.exit_code == 0
    texts = " ".join(svg_texts((in_tmp / "g.svg").read_text()).values())
    assert "|value|" in texts and "(log scale)" in texts


def test_mermaid_flowchart_carries_names_values_and_grads() -> None:
    from gradviz.renderers.mermaid import MermaidRenderer

    g = graph_of(SAMPLES / "autograd_basics.py")
    labels, edges = parse_mermaid(MermaidRenderer().render(g))
    a = g.by_name("a")
    assert " ".join(labels[f"n{a.id}"].split()) == "a 1×2 value [[2., 3.]] grad [[1., 2.]]"
    mul = next(n for n in g.ops() if n.op == "mul")
    assert labels[f"n{mul.id}"] == "mul"
    assert (f"n{a.id}", f"n{mul.id}") in edges and len(edges) == len(g.edges)


@settings(max_examples=200, deadline=None)
@given(names, names)
def test_any_name_gives_mermaid_that_parses_to_the_same_text(name: str, op: str) -> None:
    from gradviz.renderers.mermaid import MermaidRenderer

    graph = named_pair(name, op)
    labels, edges = parse_mermaid(MermaidRenderer().render(graph))
    assert edges == [("n1", "n0")]
    assert " ".join(labels["n0"].split()).startswith(" ".join([*name.split(), "1"]))
    assert labels["n1"].split() == op.split()


def svg_centres(svg: str) -> dict[str, tuple[float, float]]:
    """Graphviz node id -> the centre of the box drawn for it (its outline's extent)."""
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") != "node":
            continue
        title = g.find(f"{SVG}title")
        assert title is not None and title.text
        numbers = [
            float(v)
            for shape in g.iter()
            if shape.tag in (f"{SVG}path", f"{SVG}polygon")
            for v in re.findall(r"-?\d+(?:\.\d+)?", shape.get("d") or shape.get("points") or "")
        ]
        xs, ys = numbers[0::2], numbers[1::2]
        out[title.text] = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
    return out


@pytest.mark.dot
def test_the_data_runs_straight_down_with_the_weights_beside_it(tmp_path: Path) -> None:
    """Each op sits at the middle of its inputs, and a layer's weight and bias come in beside
    its input: with every edge alike, each layer sat to the side of the last and a small
    CNN drifted across the page. The edges between activations weigh more."""
    snippet = tmp_path / "cnn.py"
    snippet.write_text(
        "import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.ReLU(),\n"
        "                      nn.Conv2d(16, 8, 3), nn.ReLU(), nn.Conv2d(8, 1, 3))\n"
        "loss = model(torch.randn(2, 1, 12, 12)).pow(2).mean()\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    dot = DotRenderer().render(g)
    spine = [n for n in g.ops() if n.op in ("convolution", "relu")]
    for op in spine:  # the edges into each op from the data, not from its weights
        for e in g.edges:
            if e.dst == op.id:
                weighted = re.search(rf"  n{e.src} -> n{op.id} \[weight=8\];", dot) is not None
                assert weighted == (not g.node(e.src).param), (e, g.node(e.src).names)
    svg = make_renderer(format_for("svg", None), RenderOptions()).render(g)
    assert isinstance(svg, str)
    centres = svg_centres(svg)
    xs = [centres[f"n{op.id}"][0] for op in spine]
    assert len(xs) == 7 and max(xs) - min(xs) < 2  # one column, top to bottom
    ys = [centres[f"n{op.id}"][1] for op in sorted(spine, key=lambda n: n.step or 0)]
    assert ys == sorted(ys)
    fed = {e.dst for e in g.edges if e.dst in {op.id for op in spine} and not g.node(e.src).param}
    beside = [e.src for e in g.edges if g.node(e.src).param and e.dst in fed]
    assert len(beside) == 6  # the first layer's weights sit above it, its data a constant
    assert all(centres[f"n{leaf}"][0] > max(xs) for leaf in beside)  # beside the column


def test_a_from_scratch_nets_leaves_are_its_weights_and_a_graph_of_leaves_has_no_spine(
    tmp_path: Path,
) -> None:
    """d2l's and cs231n's nets keep W1, b1 as leaves, not parameters; the lecture's
    ``c = a * b`` computes from leaves alone, and draws as it always did."""
    snippet = tmp_path / "scratch.py"
    snippet.write_text(
        "import torch\ntorch.manual_seed(0)\nX = torch.randn(4, 3)\n"
        "W1 = torch.randn(3, 5, requires_grad=True)\nW2 = torch.randn(5, 1, requires_grad=True)\n"
        "h = torch.relu(X @ W1)\nloss = (h @ W2).pow(2).mean() + 0.1 * W1.pow(2).sum()\n"
        "loss.backward()\n"
    )
    g = graph_of(snippet)
    dot = DotRenderer().render(g)
    h, w1, w2 = g.by_name("h"), g.by_name("W1"), g.by_name("W2")
    assert re.search(rf"  n{h.id} -> n\d+ \[weight=8\];", dot) is not None
    for leaf in (w1, w2):
        assert re.findall(rf"  n{leaf.id} -> n\d+(.*);", dot) and not re.findall(
            rf"  n{leaf.id} -> n\d+ \[weight", dot
        )
    penalty = next(
        n
        for n in g.ops()
        if n.op == "pow" and any(e.src == w1.id and e.dst == n.id for e in g.edges)
    )
    assert not re.findall(rf"  n{penalty.id} -> n\d+ \[weight", dot)  # made of W1 alone
    lecture = DotRenderer().render(graph_of(SAMPLES / "autograd_basics.py"))
    assert "weight=" not in lecture


def test_the_spine_is_found_in_a_graph_with_a_cycle() -> None:
    """A write into a view can make torch's graph come back round on itself (explain meets
    it as a cycle through shared memory): finding what is made of weights must end."""
    from gradviz.renderers.dot import _made_of_weights

    g = Graph(
        nodes=(
            Node(id=0, kind="output", names=("out",)),
            Node(id=1, kind="op", op="mul", autograd="MulBackward0"),
            Node(id=2, kind="tensor"),
            Node(id=3, kind="op", op="add", autograd="AddBackward0"),
            Node(id=4, kind="leaf", names=("w",), param=True),
            Node(id=5, kind="op", op="copy_", autograd="CopySlices"),
            Node(id=6, kind="tensor"),
        ),
        edges=(
            Edge(src=1, dst=0),
            Edge(src=2, dst=1, slot=0),
            Edge(src=4, dst=1, slot=1),
            Edge(src=3, dst=2),
            Edge(src=2, dst=5),  # round again: 2 -> copy_ -> 6 -> add -> 2
            Edge(src=5, dst=6),
            Edge(src=6, dst=3),
        ),
        outputs=(0,),
    )
    made = _made_of_weights(g)
    assert 4 in made and not {0, 1, 2, 3, 5, 6} & made
    text = DotRenderer().render(g)
    assert "  n4 -> n1;" in text and "  n2 -> n1 [weight=8];" in text
