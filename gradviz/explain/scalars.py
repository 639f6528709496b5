"""The chain-rule formulas on plain Python numbers, for graphs of scalars.

When every tensor in a formula holds one number (the micrograd-style examples
of a first lecture), ``gradviz explain`` shows the formula with the numbers put
in and its result: ``∂y/∂x = y * (1 - y) = 0.7311 * (1 - 0.7311) = 0.1966``.
These helpers mean, for one number, what ``gradviz.explain.evaluate`` means for
tensors; a test checks the two agree. No torch here.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["NAMED_NUMBERS", "evaluate_scalar"]


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _sign(x: float) -> float:
    return float((x > 0) - (x < 0))


def _in_range(x: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or x >= lo) and (hi is None or x <= hi)


def _where(cond: Any, a: Any, b: Any) -> Any:
    return a if cond else b


def _phi_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _phi_pdf(x: float) -> float:
    return math.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)


def _same(x: Any, *_: Any) -> Any:
    return x


SCALAR_NAMESPACE: dict[str, Any] = {
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "sin": math.sin,
    "cos": math.cos,
    "sign": _sign,
    "abs": abs,
    "sigmoid": _sigmoid,
    "where": _where,
    "in_range": _in_range,
    "Phi": _phi_cdf,
    "phi": _phi_pdf,
    "numel": lambda x: 1,
    "sum_to": _same,
    "expand_as": _same,
    "sum": _same,
    "tanh": math.tanh,
    "softplus": lambda x: math.log1p(math.exp(x)),
    "clamp": lambda x, lo, hi: min(max(x, lo), hi),
    "cosh": math.cosh,
    "sinh": math.sinh,
    "pi": math.pi,
}


NAMED_NUMBERS = frozenset(k for k, v in SCALAR_NAMESPACE.items() if not callable(v))
"""Numbers the formulas name (``pi``): no tensor needs putting in for them."""


def evaluate_scalar(formula: str, symbols: Mapping[str, Any]) -> float | None:
    """The formula's value for one-number symbols, or None if it cannot be had."""
    try:
        code = compile(ast.parse(formula, mode="eval"), "<rule>", "eval")
        value = eval(code, {"__builtins__": {}, **SCALAR_NAMESPACE}, dict(symbols))
        return float(value)
    except Exception:  # a formula for tensors (``mat2.T`` of a 1×1 matrix): no number
        return None
