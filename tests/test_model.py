"""The model's JSON: documented schema, exact round trip, same bytes every run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, SAMPLES, SNIPPETS
from helpers import graph_of
from hypothesis import given, settings
from hypothesis import strategies as st

from gradviz.model import (
    Edge,
    Graph,
    GraphFormatError,
    Meta,
    Node,
    Pass,
    Saved,
    Source,
    Stats,
    TensorData,
    unflatten,
)

SCHEMA = json.loads((ROOT / "gradviz" / "schema" / "graph.schema.json").read_text())

floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
elements = st.one_of(
    floats,
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.builds(complex, st.floats(allow_nan=False, width=32), st.floats(allow_nan=False, width=32)),
)


@st.composite
def tensors(draw: st.DrawFn) -> TensorData:
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    numel = math.prod(shape)
    if draw(st.booleans()):
        data = tuple(draw(st.lists(elements, min_size=numel, max_size=numel)))
        return TensorData(shape=shape, dtype="float32", data=data)
    nums = st.one_of(st.none(), floats)
    stats = Stats(draw(nums), draw(nums), draw(nums), draw(nums), draw(st.integers(0, 9)))
    return TensorData(shape=shape, dtype="float64", device="cuda:0", stats=stats)


texts = st.text(max_size=12)


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    n = draw(st.integers(1, 6))
    nodes = tuple(
        Node(
            id=i,
            kind=draw(st.sampled_from(["op", "leaf", "tensor", "output"])),
            names=tuple(draw(st.lists(texts, max_size=2))),
            op=draw(st.one_of(st.none(), st.text(min_size=1, max_size=8))),
            value=draw(st.one_of(st.none(), tensors())),
            grad=draw(st.one_of(st.none(), tensors())),
            grad_passes=draw(st.integers(0, 3)),
            param=draw(st.booleans()),
            source=draw(st.one_of(st.none(), st.builds(Source, st.integers(1, 99), texts))),
            saved=tuple(
                draw(
                    st.lists(
                        st.builds(
                            Saved,
                            st.text(min_size=1, max_size=6),
                            st.one_of(st.none(), tensors()),
                            st.one_of(st.none(), st.text(min_size=1, max_size=6)),
                            st.one_of(st.none(), st.integers(0, n - 1)),
                            st.booleans(),
                        ),
                        max_size=2,
                    )
                )
            ),
        )
        for i in range(n)
    )
    ids = st.integers(0, n - 1)
    edges = tuple(
        draw(
            st.lists(
                st.builds(Edge, ids, ids, st.integers(0, 3), st.one_of(st.none(), tensors())),
                max_size=8,
            )
        )
    )
    return Graph(
        nodes=nodes,
        edges=edges,
        outputs=tuple(draw(st.lists(ids, max_size=2))),
        passes=tuple(
            draw(
                st.lists(
                    st.builds(
                        Pass,
                        st.integers(0, 5),
                        st.sampled_from(["backward", "grad"]),
                        st.tuples(ids),
                    ),
                    max_size=2,
                )
            )
        ),
        meta=Meta(
            snippet=draw(st.text(min_size=1, max_size=10)), passes_total=draw(st.integers(0, 4))
        ),
    )


def same(a: object, b: object) -> bool:
    """Equality that treats nan as equal to nan (the JSON keeps it as "nan")."""
    return json.dumps(repr(a)) == json.dumps(repr(b))


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_json_round_trip_is_exact_and_valid(graph: Graph) -> None:
    text = graph.to_json()
    jsonschema.validate(json.loads(text), SCHEMA)
    back = Graph.from_json(text)
    assert same(back, graph)
    assert back.to_json() == text


@pytest.mark.parametrize(
    "path",
    [*sorted(SAMPLES.glob("*.py")), SNIPPETS / "views.py", SNIPPETS / "custom_function.py"],
    ids=lambda p: p.stem,
)
def test_captured_json_follows_the_schema_and_is_deterministic(path: Path) -> None:
    first = graph_of(path).to_json()
    jsonschema.validate(json.loads(first), SCHEMA)
    assert graph_of(path).to_json() == first
    assert "0x" not in first  # no memory addresses


def test_non_finite_and_complex_values_survive_json() -> None:
    t = TensorData(shape=(4,), dtype="complex64", data=(math.nan, math.inf, -math.inf, 1 + 2j))
    graph = Graph(nodes=(Node(id=0, kind="leaf", value=t),), edges=(), outputs=(0,))
    data = json.loads(graph.to_json())
    assert data["nodes"][0]["value"]["data"] == ["nan", "inf", "-inf", [1.0, 2.0]]
    back = Graph.from_json(graph.to_json()).nodes[0].value
    assert back is not None and back.data is not None
    assert math.isnan(back.data[0]) and back.data[1:] == (math.inf, -math.inf, 1 + 2j)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "not an object"),
        ("{", "not valid JSON"),
        ('{"schema": "other"}', "not a gradviz graph"),
        ('{"schema": "gradviz.graph", "version": 99}', "version 99 is not supported"),
        ('{"schema": "gradviz.graph", "version": 1, "nodes": []}', "malformed"),
    ],
)
def test_bad_documents_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(GraphFormatError, match=message):
        Graph.from_json(text)


def test_unflatten_is_row_major() -> None:
    assert unflatten((1, 2, 3, 4, 5, 6), (2, 3)) == [[1, 2, 3], [4, 5, 6]]
    assert unflatten((7,), ()) == 7
    assert unflatten((), (0, 2)) == []


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_every_text_renderer_takes_any_graph(graph: Graph) -> None:
    """Random graphs and names: DOT and Mermaid parse back, HTML data is JSON, explain runs."""
    import io

    from helpers import parse_dot, parse_mermaid
    from rich.console import Console

    from gradviz.explain.story import tell
    from gradviz.renderers.base import RenderOptions
    from gradviz.renderers.dot import DotRenderer
    from gradviz.renderers.html import page_json
    from gradviz.renderers.markdown import story_markdown
    from gradviz.renderers.mermaid import MermaidRenderer
    from gradviz.renderers.tree import story_renderable

    for options in (RenderOptions(), RenderOptions(saved=True, edge_grads=True, color_by="grad")):
        labels, _ = parse_dot(DotRenderer(options=options).render(graph))
        assert len([k for k in labels if k.startswith("n")]) == len(graph.nodes)
    mermaid_labels, _ = parse_mermaid(MermaidRenderer().render(graph))
    assert len(mermaid_labels) == len(graph.nodes)
    data = json.loads(page_json(graph))
    assert len(data["nodes"]) == len(graph.nodes) and "</" not in page_json(graph)
    story = tell(graph)
    Console(file=io.StringIO(), width=80, color_system=None).print(story_renderable(story))
    assert story_markdown(story, "t").startswith("# t\n")
