"""Lecture-ready renders: themes, label and layout options, sizes, deck defaults, frames, API."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pydot
import pytest
from click.testing import CliRunner
from conftest import SAMPLES
from helpers import graph_of, parse_dot

from gradviz.cli import cli
from gradviz.renderers import FORMATS, make_renderer
from gradviz.renderers.base import RenderOptions
from gradviz.renderers.dot import DotRenderer
from gradviz.renderers.theme import THEMES

SVG = "{http://www.w3.org/2000/svg}"


def dot_of(path: Path, **style: object) -> str:
    return DotRenderer(options=RenderOptions(**style)).render(graph_of(path))  # type: ignore[arg-type]


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.dot
@pytest.mark.parametrize("theme", sorted(THEMES))
@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.name != "json"], ids=lambda f: f.name)
def test_every_theme_renders_in_every_format(theme: str, fmt: object) -> None:
    g = graph_of(SAMPLES / "autograd_basics.py")
    data = make_renderer(fmt, RenderOptions(theme=theme, legend=True)).render(g)  # type: ignore[arg-type]
    name = fmt.name  # type: ignore[attr-defined]
    if name == "svg":
        root = ET.fromstring(data)
        texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
        assert "[[2., 3.]]" in texts and "MulBackward0" in texts
        background = next(p for p in root.iter(f"{SVG}polygon"))
        assert background.get("fill") == THEMES[theme].background
    elif name == "png":
        assert png_size(data)[0] > 100  # type: ignore[arg-type]
    elif name == "pdf":
        assert isinstance(data, bytes) and data.startswith(b"%PDF-")
    elif name == "html":
        assert "<svg" in data and THEMES[theme].background in data  # type: ignore[operator]
    else:
        assert "a" in data  # dot and mermaid text


def test_print_theme_uses_no_colour_for_meaning() -> None:
    text = dot_of(SAMPLES / "autograd_basics.py", theme="print")
    colours = set(re.findall(r"#[0-9a-fA-F]{6}", text)) | set(re.findall(r'"(white|black)"', text))

    def grey(c: str) -> bool:
        rgb = [int(c[i : i + 2], 16) for i in (1, 3, 5)]
        return max(rgb) - min(rgb) <= 0x14  # hue-free, within a hair

    assert all(c in ("white", "black") or grey(c) for c in colours), colours
    assert "leaf</FONT>" in text and 'BORDER="2"' in text  # told apart by tag and border


def labels_of(path: Path, **style: object) -> str:
    return " | ".join(parse_dot(dot_of(path, **style))[0].values())


def test_label_options() -> None:
    path = SAMPLES / "grad_accumulation.py"
    compact = labels_of(path, compact=True)
    assert "value" not in compact and "grad" not in compact and "MulBackward0" not in compact
    assert "w 2 leaf" in compact and "mul" in compact
    assert "value" not in labels_of(path, values=False) and "grad" in labels_of(path, values=False)
    assert "grad" not in labels_of(path, grads=False) and "value" in labels_of(path, grads=False)
    assert "[1., -2.]" in dot_of(path) and "1.235" not in dot_of(path)
    precise = dot_of(SAMPLES / "mlp_step.py", precision=2)
    assert "0.31" in precise and "0.3097" not in precise
    short = dot_of(SAMPLES / "mlp_step.py", max_items=2)
    assert "[[-0.004323, …, -0.4752]," in short
    titled = dot_of(path, title="Two backward calls")
    assert 'label="Two backward calls", labelloc=t' in titled
    assert "rankdir=LR" in dot_of(path, rankdir="LR")
    assert 'bgcolor="transparent"' in dot_of(path, transparent=True)
    assert 'fontname="Georgia"' in dot_of(path, font="Georgia")
    assert "fontsize=16" in dot_of(path, font_size=16)
    assert "cluster_key" in dot_of(path, legend=True) and "cluster_key" not in dot_of(path)


def test_edge_grads_label_each_edge_with_what_flowed() -> None:
    g = graph_of(SAMPLES / "grad_accumulation.py")
    (parsed,) = pydot.graph_from_dot_data(dot_of(SAMPLES / "grad_accumulation.py", edge_grads=True))
    w = g.by_name("w")
    labels = sorted(
        e.get("label").strip('" ') for e in parsed.get_edges() if e.get_source() == f"n{w.id}"
    )
    assert labels == ["[2., -4.]", "[3., 4.]"]  # each pass's share of w.grad


def test_saved_tensors_drawn_on_request() -> None:
    text = dot_of(SAMPLES / "mlp_step.py", saved=True)
    assert "saved x (mat1): [[" in text  # the input x (no grad: not a graph node), named
    assert 'label=" saved self"' not in text or "style=dashed" in text
    assert "alpha=1, beta=1" in text
    assert "saved" not in dot_of(SAMPLES / "mlp_step.py")


@pytest.mark.dot
def test_png_sizes_fit_a_slide_and_never_explode(runner: CliRunner, in_tmp: Path) -> None:
    code = runner.invoke(
        cli,
        [
            "run",
            str(SAMPLES / "mlp_step.py"),
            "-o",
            "slide.png",
            "--width",
            "1920",
            "--height",
            "1080",
        ],
    ).exit_code
    assert code == 0
    w, h = png_size((in_tmp / "slide.png").read_bytes())
    assert w <= 1920 + 2 and h <= 1080 + 2 and (w >= 1900 or h >= 1060)  # fills the 16:9 box
    assert (
        runner.invoke(
            cli, ["run", str(SAMPLES / "vanishing_sigmoid.py"), "-o", "big.png"]
        ).exit_code
        == 0
    )
    assert max(png_size((in_tmp / "big.png").read_bytes())) <= 4096 + 2  # torchviz: 4915×14415
    runner.invoke(cli, ["run", str(SAMPLES / "autograd_basics.py"), "-o", "a1.png"])
    runner.invoke(cli, ["run", str(SAMPLES / "autograd_basics.py"), "-o", "a2.png", "--scale", "2"])
    w1, _ = png_size((in_tmp / "a1.png").read_bytes())
    w2, _ = png_size((in_tmp / "a2.png").read_bytes())
    assert abs(w2 - 2 * w1) <= 2


def test_deck_defaults_from_gradviz_toml_and_pyproject(runner: CliRunner, in_tmp: Path) -> None:
    deck = in_tmp / "deck"
    (deck / "week1").mkdir(parents=True)
    snippet = deck / "week1" / "basics.py"
    snippet.write_text((SAMPLES / "autograd_basics.py").read_text())
    (deck / "gradviz.toml").write_text('theme = "dark"\nfont-size = 15\nlegend = true\n')
    assert runner.invoke(cli, ["run", str(snippet), "-o", "a.dot"]).exit_code == 0
    text = (in_tmp / "a.dot").read_text()
    assert 'bgcolor="#111827"' in text and "fontsize=15" in text and "cluster_key" in text
    assert (
        runner.invoke(cli, ["run", str(snippet), "-o", "b.dot", "--theme", "print"]).exit_code == 0
    )
    assert 'bgcolor="white"' in (in_tmp / "b.dot").read_text()  # the command line wins
    (deck / "gradviz.toml").unlink()
    (deck / "pyproject.toml").write_text('[tool.gradviz]\ntheme = "colorblind"\n')
    assert runner.invoke(cli, ["run", str(snippet), "-o", "c.dot"]).exit_code == 0
    assert "#0072b2" in (in_tmp / "c.dot").read_text()
    (deck / "gradviz.toml").write_text('colour = "red"\n')
    result = runner.invoke(cli, ["run", str(snippet), "-o", "d.dot"])
    assert result.exit_code == 2 and "unknown setting 'colour'" in result.stderr


@pytest.mark.dot
def test_build_up_frames(runner: CliRunner, in_tmp: Path) -> None:
    result = runner.invoke(
        cli, ["run", str(SAMPLES / "mlp_step.py"), "-o", "g.svg", "--frames", "frames"]
    )
    assert result.exit_code == 0 and "wrote 4 frames" in result.stderr
    files = sorted(p.name for p in (in_tmp / "frames").iterdir())
    assert files == [
        "frame_001.svg",
        "frame_002.svg",
        "frame_003.svg",
        "frame_004.svg",
        "index.html",
    ]
    counts = []
    for name in files[:-1]:
        root = ET.fromstring((in_tmp / "frames" / name).read_text())
        counts.append(sum(1 for g in root.iter(f"{SVG}g") if g.get("class") == "node"))
        texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
        assert "grad" not in texts.split()  # backward has not run while the graph grows
    assert counts == sorted(counts) and counts[-1] == len(graph_of(SAMPLES / "mlp_step.py").nodes)
    last = (in_tmp / "frames" / "frame_004.svg").read_text()
    assert "4/4 &#160;line 16: loss = nn.functional.mse_loss(prediction, y)" in last
    index = (in_tmp / "frames" / "index.html").read_text()
    assert index.count("<img") == 4 and "line 15: prediction = model(x)" in index


def test_python_api_for_notebooks(tmp_path: Path) -> None:
    import torch

    import gradviz

    a = torch.tensor([[2.0, 3.0]], requires_grad=True)
    b = torch.tensor([[1.0, 2.0]], requires_grad=True)

    def step() -> torch.Tensor:
        d = (a * b).sum()
        d.backward()
        return d

    g = gradviz.capture(step)
    assert g.by_name("a").grad is not None and g.by_name("a").grad.data == (1.0, 2.0)
    assert g.by_name("output").kind == "output"
    assert "d" in g.by_name("output").names  # a local of the captured function names it too
    x = torch.tensor(2.0, requires_grad=True)
    z = x * 3
    drawn = gradviz.draw(z)
    assert drawn.by_name("z").value is not None and drawn.by_name("z").value.data == (6.0,)
    assert drawn.by_name("x").grad is None
    saved = drawn.render(tmp_path / "z.mmd")
    assert saved.read_text().startswith("flowchart TB")
    from_file = gradviz.capture(SAMPLES / "autograd_basics.py")
    assert {n for node in from_file.nodes for n in node.names} == {"a", "b", "c", "d"}
    bundle = from_file._repr_mimebundle_()
    assert bundle["text/plain"].startswith("<gradviz Graph of autograd_basics.py")
    if "image/svg+xml" in bundle:
        assert ET.fromstring(bundle["image/svg+xml"]).tag == f"{SVG}svg"


@pytest.mark.dot
def test_gallery_is_built_from_saved_captures(tmp_path: Path) -> None:
    import runpy

    gallery = runpy.run_path(str(Path(__file__).parent.parent / "docs" / "make_gallery.py"))
    rows = gallery["build"](
        tmp_path, [SAMPLES / "autograd_basics.py", SAMPLES / "vanishing_sigmoid.py"]
    )
    assert len(rows) == 1  # the 100-node sample is left to its own page
    page = (tmp_path / "gallery.md").read_text()
    assert "![autograd_basics, light](gallery/autograd_basics-light.svg)" in page
    dark = ET.fromstring((tmp_path / "gallery" / "autograd_basics-dark.svg").read_text())
    assert next(dark.iter(f"{SVG}polygon")).get("fill") == THEMES["dark"].background


def _luminance(colour: str) -> float:
    colour = {"white": "#ffffff", "black": "#000000"}.get(colour, colour)
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_text_is_readable_in_every_theme(theme: str) -> None:
    """WCAG contrast: 4.5 for text on its fill, 3 for secondary text and lines."""
    t = THEMES[theme]
    for palette in (t.leaf, t.param, t.tensor, t.output, t.op):
        assert contrast(palette.text, palette.fill) >= 4.5, (theme, palette)
        assert contrast(t.muted, palette.fill) >= 3, (theme, palette)
        assert contrast(t.grad, palette.fill) >= 4.5, (theme, palette)
    assert contrast(t.edge, t.background) >= 3


def test_magnitude_colours_are_readable_in_every_theme() -> None:
    from gradviz.renderers.magnitude import (
        EDGE_PALETTE,
        HEAT_MUTED,
        HEAT_TEXT,
        MISSING,
        NONFINITE,
        PALETTE,
    )

    for fill in (*PALETTE, NONFINITE, MISSING):
        assert contrast(HEAT_TEXT, fill) >= 4.5 and contrast(HEAT_MUTED, fill) >= 3
    for theme in THEMES.values():  # edges stand out from every background but the first step
        assert all(contrast(c, theme.background) >= 1.5 for c in EDGE_PALETTE[1:])
    dark = dot_of(SAMPLES / "log_of_zero.py", theme="dark", color_by="grad")
    assert f'<FONT COLOR="{HEAT_TEXT}">p</FONT>' in dark


def test_frames_outline_the_newest_op_and_stop_at_the_node_budget(
    runner: CliRunner, in_tmp: Path
) -> None:
    """Frames of an RNN (shared weights, copied per use): the outlined op is the one added."""
    (in_tmp / "rnn.py").write_text(
        "import torch\nW = torch.ones(2, 2, requires_grad=True)\nh = torch.ones(2)\n"
        "for _ in range(30):\n    h = torch.tanh(W @ h)\nh.sum().backward()\n"
    )
    result = runner.invoke(
        cli, ["run", "rnn.py", "-o", "g.dot", "--frames", "frames", "--max-nodes", "40"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 19 frames" in result.stderr and "the first 19 of 61 steps" in result.stderr
    expected = ["mv", "tanh"] * 10
    for number, op in enumerate(expected[:19], start=1):
        root = ET.fromstring((in_tmp / "frames" / f"frame_{number:03d}.svg").read_text())
        nodes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
        thick = [
            g for g in nodes if any(p.get("stroke-width") == "3" for p in g.iter(f"{SVG}path"))
        ]
        texts = [" ".join(t.text or "" for t in g.iter(f"{SVG}text")) for g in thick]
        assert len(texts) == 1 and texts[0].split()[0] == op, (number, texts)
