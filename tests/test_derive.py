"""Values derived for tensors a torch call made internally: exactly torch's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import graph_of

from gradviz.model import Edge, Node, Saved, TensorData
from gradviz.torchcapture.derive import derive_values
from gradviz.torchcapture.tensors import to_data


def chain(
    autograd: str, src: TensorData | None, out: TensorData | None, **op: object
) -> list[Node]:
    """tensor 0 --(op 1)--> tensor 2, with what is known of each."""
    return [
        Node(id=0, kind="tensor", value=src, grad=None),
        Node(id=1, kind="op", op="x", autograd=autograd, **op),  # type: ignore[arg-type]
        Node(id=2, kind="tensor", value=out),
    ]


EDGES = [Edge(src=0, dst=1, slot=0), Edge(src=1, dst=2, slot=0)]


def derived(nodes: list[Node]) -> tuple[TensorData | None, TensorData | None]:
    done = derive_values(nodes, EDGES)
    return done[0].value, done[2].value


def approx(a: TensorData | None, b: TensorData) -> None:
    assert a is not None and a.shape == b.shape
    if b.data is not None:
        assert a.data == pytest.approx(b.data)
    else:
        assert a.stats is not None and b.stats is not None
        for field in ("min", "max", "mean", "std", "norm"):
            assert getattr(a.stats, field) == pytest.approx(getattr(b.stats, field), rel=1e-5)


@pytest.mark.parametrize("size", [(2, 3, 4), (8, 16, 4)])  # every number, then a summary
def test_a_view_is_its_input_in_another_shape_both_ways(size: tuple[int, ...]) -> None:
    x = torch.randn(*size)
    y = x.view(size[0] * size[1], size[2])
    grad = to_data(torch.ones_like(y))
    nodes = chain("ViewBackward0", to_data(x), None)
    nodes[2] = Node(id=2, kind="tensor", grad=grad)  # its shape comes from its gradient
    approx(derived(nodes)[1], to_data(y))
    back = chain("UnsafeViewBackward0", None, to_data(y))
    back[0] = Node(id=0, kind="tensor", grad=to_data(torch.ones_like(x)))
    approx(derived(back)[0], to_data(x))


@pytest.mark.parametrize(
    ("autograd", "saved", "make"),
    [
        ("TBackward0", (), lambda x: x[0].t()),
        ("TransposeBackward0", (("dim0", "0"), ("dim1", "-1")), lambda x: x.transpose(0, -1)),
        (  # as autograd saves negative dims: unsigned 64-bit
            "TransposeBackward0",
            (("dim0", str(2**64 - 2)), ("dim1", str(2**64 - 1))),
            lambda x: x.transpose(-2, -1),
        ),
        ("PermuteBackward0", (("dims", "(2, 0, 1)"),), lambda x: x.permute(2, 0, 1)),
    ],
)
@pytest.mark.parametrize("size", [(2, 3, 4), (6, 8, 10)])
def test_transposes_and_permutes_reorder_the_numbers_as_torch_does(
    autograd: str, saved: tuple[tuple[str, str], ...], make: object, size: tuple[int, ...]
) -> None:
    x = torch.arange(float(torch.Size(size).numel())).reshape(size)
    src = x[0] if autograd == "TBackward0" else x
    out = make(x)  # type: ignore[operator]
    keep = tuple(Saved(name=n, value=v) for n, v in saved)
    approx(derived(chain(autograd, to_data(src), None, saved=keep))[1], to_data(out))
    approx(derived(chain(autograd, None, to_data(out), saved=keep))[0], to_data(src))


@pytest.mark.parametrize(("size", "to"), [((3, 1), (3, 4)), ((1, 40), (2, 30, 40))])
def test_a_broadcast_repeats_every_number_equally(
    size: tuple[int, ...], to: tuple[int, ...]
) -> None:
    x = torch.randn(*size, dtype=torch.float64)
    nodes = chain("ExpandBackward0", to_data(x), None)
    nodes[2] = Node(id=2, kind="tensor", grad=to_data(torch.ones(to)))
    if x.numel() <= 256 < torch.Size(to).numel():
        assert derived(nodes)[1] is None  # small input, large output: left out
    else:
        approx(derived(nodes)[1], to_data(x.expand(*to)))


def test_what_cannot_be_known_stays_unknown() -> None:
    x = to_data(torch.randn(3, 4))
    assert derived(chain("MmBackward0", x, None))[1] is None  # a real computation
    assert derived(chain("ViewBackward0", x, None))[1] is None  # no shape to view it as
    assert derived(chain("TransposeBackward0", x, None))[1] is None  # dims not saved
    wrong = (Saved(name="dim0", value="0"), Saved(name="dim1", value="5"))
    assert derived(chain("TransposeBackward0", x, None, saved=wrong))[1] is None


ATTENTION = """
import torch
torch.manual_seed(0)
x = torch.randn(2, 4, 8)
q, k = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
wei = torch.softmax(q(x) @ k(x).transpose(-2, -1), dim=-1)
loss = (wei @ x).mean()
loss.backward()
"""


def test_attention_internals_get_torchs_numbers(tmp_path: Path) -> None:
    """``linear`` on 3-D inputs and ``@`` on batches make nodes no torch call showed."""
    (tmp_path / "att.py").write_text(ATTENTION)
    g = graph_of(tmp_path / "att.py")
    torch.manual_seed(0)
    x = torch.randn(2, 4, 8)
    q, k = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
    expected = {
        "AddmmBackward0": [
            torch.addmm(q.bias, x.view(8, 8), q.weight.t()),
            torch.addmm(k.bias, x.view(8, 8), k.weight.t()),
        ],
        "BmmBackward0": [scores := q(x) @ k(x).transpose(-2, -1), torch.softmax(scores, -1) @ x],
    }
    producer = {e.dst: g.node(e.src) for e in g.edges if g.node(e.src).kind == "op"}
    for n in g.tensors():
        op = producer.get(n.id)
        if op is None or op.autograd not in expected:
            continue
        assert n.value is not None and n.value.data is not None, op.autograd
        got = torch.tensor(n.value.data).reshape(n.value.shape)
        assert any(
            got.shape == e.shape and torch.allclose(got, e.detach(), atol=1e-6)
            for e in expected[op.autograd]
        )


CLASSIFIER = """
import torch
torch.manual_seed(0)
model = torch.nn.Linear(4, 3)
x, y = torch.randn(5, 4), torch.tensor([0, 2, 1, 1, 0])
loss = torch.nn.functional.cross_entropy(model(x), y)
loss.backward()
"""


def test_an_op_that_saved_its_result_shows_it_as_its_output(tmp_path: Path) -> None:
    """cross_entropy runs log_softmax inside torch: its output is what it saved."""
    (tmp_path / "clf.py").write_text(CLASSIFIER)
    g = graph_of(tmp_path / "clf.py")
    assert [n.id for n in g.tensors() if n.value is None] == []
    (log_softmax,) = [n for n in g.ops() if n.op == "log_softmax"]
    (out,) = [e.dst for e in g.edges if e.src == log_softmax.id]
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    expected = torch.log_softmax(model(torch.randn(5, 4)), dim=1)
    value = g.node(out).value
    assert value is not None and value.data is not None
    assert value.data == pytest.approx(expected.flatten().tolist(), abs=1e-6)
