"""Numbers print the way torch prints them, and stay small whatever the tensor's size."""

from __future__ import annotations

import math

import pytest

from gradviz.display import format_number, format_shape, tensor_lines
from gradviz.model import Stats, TensorData


def t(shape: tuple[int, ...], data: list[float] | None = None, **kw: object) -> TensorData:
    return TensorData(
        shape=shape, dtype="float32", data=None if data is None else tuple(data), **kw
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("x", "whole", "text"),
    [
        (2.0, True, "2."),
        (0.25, False, "0.25"),
        (1 / 3, False, "0.3333"),
        (1e-7, False, "1e-07"),
        (math.nan, False, "nan"),
        (-math.inf, False, "-inf"),
        (3, False, "3"),
        (True, False, "True"),
        (1 - 2j, False, "1.-2.j"),
        (5.0, False, "5."),
    ],
)
def test_format_number(x: float, whole: bool, text: str) -> None:
    assert format_number(x, whole=whole) == text


def test_shapes() -> None:
    assert format_shape((1, 2)) == "1×2"
    assert format_shape(()) == "scalar"


def test_whole_floats_print_like_torch() -> None:
    assert tensor_lines(t((1, 2), [2.0, 3.0])) == ["[[2., 3.]]"]
    assert tensor_lines(t((2,), [0.5, 2.0])) == ["[0.5, 2.]"]
    assert tensor_lines(t((), [8.0])) == ["8."]


def test_long_rows_and_columns_are_cut_to_their_ends() -> None:
    row = tensor_lines(t((10,), [float(i) for i in range(10)]), max_items=6)
    assert row == ["[0., 1., 2., 3., …, 8., 9.]"]
    lines = tensor_lines(t((8, 2), [float(i) for i in range(16)]), max_items=4)
    assert lines == ["[[0., 1.],", " [2., 3.],", " …", " [12., 13.],", " [14., 15.]]"]


def test_large_and_deep_tensors_show_a_summary() -> None:
    big = t((1000,), stats=Stats(min=-1.0, max=2.0, mean=0.5, std=0.25, nan=1, inf=0))
    assert tensor_lines(big) == ["mean 0.5  std 0.25", "min -1.  max 2.", "nan 1  inf 0"]
    cube = tensor_lines(t((2, 1, 2), [1.0, 2.0, 3.0, math.nan]))
    assert cube[0].startswith("mean 2.  std 1.") and cube[-1] == "nan 1  inf 0"
    assert tensor_lines(TensorData(shape=(3,), dtype="float32")) == ["(values not recorded)"]
    assert tensor_lines(t((0, 3), [])) == ["[]"]
