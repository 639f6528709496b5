"""Numbers and shapes as people read them, shared by every renderer.

Values print the way torch prints them (``[[2., 3.]]`` for whole floats), with
long rows and columns cut to their ends, so a label stays small on a slide
whatever the tensor's size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gradviz.model import Scalar, Stats, TensorData, unflatten

__all__ = ["format_number", "format_shape", "tensor_lines"]


def format_shape(shape: Sequence[int]) -> str:
    """``1×2`` for a matrix, ``scalar`` for a 0-dim tensor."""
    return "×".join(str(s) for s in shape) if shape else "scalar"


def format_number(x: Scalar, precision: int = 4, whole: bool = False) -> str:
    """One element: ``2.`` when ``whole`` (every float of its tensor is integral), else %g."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, complex):
        re, im = format_number(x.real, precision), format_number(abs(x.imag), precision)
        return f"{re}{'-' if x.imag < 0 else '+'}{im}j"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if whole:
        return f"{int(x)}."
    text = f"{x:.{precision}g}"
    if "e" not in text and "." not in text:
        text += "."
    return text


def _all_whole(data: Sequence[Scalar]) -> bool:
    return all(
        isinstance(x, float) and math.isfinite(x) and x == int(x) and abs(x) < 1e6 for x in data
    )


def _row(items: Sequence[Scalar], max_items: int, precision: int, whole: bool) -> str:
    if len(items) > max_items:
        head = max(max_items - 2, 1)
        shown = [format_number(x, precision, whole) for x in items[:head]]
        shown.append("…")
        shown.extend(format_number(x, precision, whole) for x in items[-(max_items - head) :])
    else:
        shown = [format_number(x, precision, whole) for x in items]
    return "[" + ", ".join(shown) + "]"


def tensor_lines(t: TensorData, max_items: int = 6, precision: int = 4) -> list[str]:
    """The tensor's numbers as text lines: nested brackets for up to 2-dim, else a summary."""
    if t.data is None:
        if t.stats is not None:
            return _stats_lines(t.stats)
        return ["(values not recorded)"]
    if t.numel == 0:
        return ["[]"]
    whole = _all_whole(t.data)
    if len(t.shape) == 0:
        return [format_number(t.data[0], precision, whole)]
    if len(t.shape) == 1:
        return [_row(t.data, max_items, precision, whole)]
    if len(t.shape) == 2:
        rows = unflatten(t.data, t.shape)
        texts = [_row(r, max_items, precision, whole) for r in rows]
        if len(texts) > max_items:
            head = max(max_items - 2, 1)
            texts = [*texts[:head], "…", *texts[-(max_items - head) :]]
        lines = []
        for i, text in enumerate(texts):
            opener = "[" if i == 0 else " "
            closer = "]" if i == len(texts) - 1 else ("" if text == "…" else ",")
            lines.append(f"{opener}{text}{closer}")
        return lines
    return _stats_lines(_stats_of([abs(x) if isinstance(x, complex) else float(x) for x in t.data]))


def _stats_of(values: list[float]) -> Stats:
    """The same summary capture makes of large tensors, for small ones too deep to print."""
    nan = sum(1 for v in values if math.isnan(v))
    finite = [v for v in values if math.isfinite(v)]
    inf = len(values) - len(finite) - nan
    if not finite:
        return Stats(None, None, None, None, nan=nan, inf=inf)
    mean = sum(finite) / len(finite)
    std = None
    if len(finite) > 1:
        std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1))
    return Stats(min(finite), max(finite), mean, std, nan=nan, inf=inf)


def _stats_lines(s: Stats, precision: int = 3) -> list[str]:
    def f(x: float | None) -> str:
        return "–" if x is None else format_number(x, precision)

    lines = [f"mean {f(s.mean)}  std {f(s.std)}", f"min {f(s.min)}  max {f(s.max)}"]
    if s.nan or s.inf:
        lines.append(f"nan {s.nan}  inf {s.inf}")
    return lines
