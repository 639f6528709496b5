"""Show a rule's formula with the snippet's names, or its numbers, put in.

Formulas are parsed as Python expressions and their symbols replaced in the
syntax tree (never by text substitution, so ``self`` inside ``self_sizes``
stays put); wrappers that change nothing here are dropped (``sum_to(x, a)``
when nothing was broadcast, ``* 1`` when ``alpha`` is 1).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Mapping
from typing import cast

__all__ = ["render_formula", "symbols_in"]


def symbols_in(formula: str) -> set[str]:
    """The names a formula uses as values (not the helper functions it calls)."""
    tree = ast.parse(formula, mode="eval")
    called = {
        id(n.func)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


class _Substitute(ast.NodeTransformer):
    def __init__(
        self,
        text: Mapping[str, str],
        values: Mapping[str, str],
        unbroadcast: Collection[str],
        fold: bool,
    ) -> None:
        self.text = text
        self.values = values
        self.unbroadcast = unbroadcast
        self.fold = fold

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.values:
            try:
                return ast.parse(self.values[node.id], mode="eval").body
            except SyntaxError:
                return ast.Name(id=self.values[node.id], ctx=ast.Load())
        if node.id in self.text:
            return ast.Name(id=self.text[node.id], ctx=ast.Load())
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        # sum_to(x, a) is x itself when a was not broadcast: say nothing about it
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "sum_to"
            and len(node.args) == 2
            and isinstance(node.args[1], ast.Name)
            and node.args[1].id in self.unbroadcast
        ):
            inner: ast.AST = self.visit(node.args[0])
            return inner
        self.generic_visit(node)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if not self.fold:
            return node
        folded = _fold(node)
        if folded is not None:
            return folded
        if isinstance(node.op, ast.Pow) and _is_one(node.right):
            return node.left
        if isinstance(node.op, ast.Mult):
            if _is_one(node.right):
                return node.left
            if _is_one(node.left):
                return node.right
        if isinstance(node.op, ast.Div) and _is_one(node.right):
            return node.left
        return node


_ARITHMETIC: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
}


def _fold(node: ast.BinOp) -> ast.AST | None:
    """``2 - 1`` -> ``1``: arithmetic on numbers that were put in (exponent 2, say)."""
    left, right = _number(node.left), _number(node.right)
    fn = _ARITHMETIC.get(type(node.op))
    if left is None or right is None or fn is None:
        return None
    value = fn(left, right)
    if (
        isinstance(value, float)
        and value.is_integer()
        and not (isinstance(left, float) or isinstance(right, float))
    ):
        value = int(value)
    return ast.Constant(value) if value >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(-value))


def _number(node: ast.AST) -> int | float | None:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return cast(int | float, node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    return None


def _is_one(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in (1, 1.0) and node.value is not True


def render_formula(
    formula: str,
    names: Mapping[str, str],
    values: Mapping[str, str] | None = None,
    unbroadcast: Collection[str] = (),
    fold: bool = True,
) -> str:
    """``formula`` with each symbol shown as ``names[symbol]``.

    ``values`` maps symbols to Python literal text (saved attributes such as
    ``alpha`` -> ``1``, or a scalar's number) to put in as numbers;
    ``unbroadcast`` lists the input symbols whose shape equals the output's.
    ``fold=False`` keeps the formula as written (``1. * 0.73 * (1 - 0.73)``),
    for showing it with a run's numbers in it; by default arithmetic on numbers
    is done and ``* 1`` dropped.
    """
    tree: ast.AST = ast.parse(formula, mode="eval")
    tree = _Substitute(names, values or {}, unbroadcast, fold).visit(tree)
    return ast.unparse(tree)
