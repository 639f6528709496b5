"""The meaning of every helper the chain-rule formulas use, in torch.

``evaluate(formula, symbols)`` computes a formula from ``gradviz.explain.rules``
on real tensors. The tests use it to check each rule against the gradients
torch computes; what is shown to the user is therefore what was checked.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
import torch.nn.grad

__all__ = ["NAMESPACE", "evaluate"]


def sum_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Undo broadcasting: sum ``x`` over the dimensions ``like`` was stretched along."""
    x = torch.as_tensor(x)
    shape = tuple(like.shape)
    while x.dim() > len(shape):
        x = x.sum(0)
    for i, size in enumerate(shape):
        if size == 1 and x.shape[i] != 1:
            x = x.sum(i, keepdim=True)
    return x


def _dims(dim: Any, ndim: int) -> list[int]:
    if dim is None or (isinstance(dim, Sequence) and len(dim) == 0):
        return list(range(ndim))
    dims = [dim] if isinstance(dim, int) else list(dim)
    return sorted(d % ndim for d in dims)


def expand_as(
    grad: torch.Tensor, like: torch.Tensor, dim: Any = None, keepdim: bool = True
) -> torch.Tensor:
    """Spread a reduced gradient back over the input: every element gets its share."""
    if not keepdim:
        for d in _dims(dim, like.dim()):
            grad = grad.unsqueeze(d)
    return grad.expand_as(like)


def numel(x: torch.Tensor) -> int:
    return x.numel()


def count(x: torch.Tensor, dim: Any) -> int:
    """How many elements each output of a reduction over ``dim`` averaged."""
    return math.prod(x.shape[d] for d in _dims(dim, x.dim()))


def total(x: torch.Tensor, dim: Any = None, keepdim: bool = False) -> torch.Tensor:
    """``sum`` in the formulas: over everything, or over ``dim``."""
    if dim is None:
        return x.sum()
    return x.sum(dim, keepdim=keepdim)


def Phi(x: torch.Tensor) -> torch.Tensor:
    """Standard normal cumulative distribution."""
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def phi(x: torch.Tensor) -> torch.Tensor:
    """Standard normal density."""
    return torch.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)


def in_range(x: torch.Tensor, lo: float | None, hi: float | None) -> torch.Tensor:
    """1 where clamp let ``x`` through unchanged, else 0."""
    mask = torch.ones_like(x, dtype=torch.bool)
    if lo is not None:
        mask &= x >= lo
    if hi is not None:
        mask &= x <= hi
    return mask


def inverse(dims: Sequence[int]) -> list[int]:
    """The permutation that undoes ``dims``."""
    out = [0] * len(dims)
    for i, d in enumerate(dims):
        out[d] = i
    return out


def reshape_as(grad: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return grad.reshape(like.shape)


def scatter_back(
    grad: torch.Tensor, like: torch.Tensor, dim: int, indices: torch.Tensor, keepdim: bool
) -> torch.Tensor:
    """The gradient of ``max(dim)``/``min(dim)``: each value back where it was found."""
    if not keepdim:
        grad, indices = grad.unsqueeze(dim), indices.unsqueeze(dim)
    return torch.zeros_like(like).scatter(dim, indices, grad)


def gather_back(
    grad: torch.Tensor, like: torch.Tensor, dim: int, index: torch.Tensor
) -> torch.Tensor:
    """The gradient of ``gather``: each back where it was read, added where read twice."""
    return torch.zeros_like(like).scatter_add(dim, index, grad)


def share_among_max(
    grad: torch.Tensor, like: torch.Tensor, result: torch.Tensor, dim: Any, keepdim: bool
) -> torch.Tensor:
    """``amax``/``amin``: the gradient split evenly among the elements that tie."""
    if not keepdim:
        for d in _dims(dim, like.dim()):
            grad, result = grad.unsqueeze(d), result.unsqueeze(d)
    mask = like == result
    return grad * mask / mask.sum(_dims(dim, like.dim()), keepdim=True)


def piece(grad: torch.Tensor, dim: int, tensors: Sequence[torch.Tensor], i: int) -> torch.Tensor:
    """The slice of ``cat``'s gradient where input ``i`` was placed."""
    start = sum(t.shape[dim] for t in tensors[:i])
    return grad.narrow(dim, start, tensors[i].shape[dim])


def place(grad: torch.Tensor, like: torch.Tensor, dim: int, index: int) -> torch.Tensor:
    out = torch.zeros_like(like)
    out.select(dim, index).copy_(grad)
    return out


def place_slice(
    grad: torch.Tensor, like: torch.Tensor, dim: int, start: int, end: int, step: int
) -> torch.Tensor:
    out = torch.zeros_like(like)
    index = [slice(None)] * like.dim()
    index[dim] = slice(start, end, step)
    out[tuple(index)] = grad
    return out


def index_back(
    grad: torch.Tensor, like: torch.Tensor, indices: Sequence[torch.Tensor | None]
) -> torch.Tensor:
    out = torch.zeros_like(like)
    return out.index_put(tuple(indices), grad, accumulate=True)


def one_hot(target: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """1 at each row's target class of ``like`` (the log-probabilities), else 0."""
    if like.dim() == 1:
        return F.one_hot(target, like.shape[0]).to(like.dtype)
    return F.one_hot(target, like.shape[1]).to(like.dtype)


def outer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.outer(a, b)


def conv2d_input_grad(
    grad: torch.Tensor,
    input: torch.Tensor,
    weight: torch.Tensor,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    transposed: bool = False,
) -> torch.Tensor:
    """A transposed convolution of ``grad`` with ``weight``, sized like ``input``; for
    a transposed layer (ConvTranspose2d), the plain convolution."""
    if transposed:
        return F.conv2d(grad, weight, None, tuple(stride), tuple(padding), tuple(dilation), groups)
    out: torch.Tensor = torch.nn.grad.conv2d_input(  # type: ignore[no-untyped-call]
        input.shape, weight, grad, list(stride), list(padding), list(dilation), groups
    )
    return out


def conv2d_weight_grad(
    grad: torch.Tensor,
    input: torch.Tensor,
    weight: torch.Tensor,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    transposed: bool = False,
) -> torch.Tensor:
    """The convolution of ``input`` with ``grad``: how each weight moved the output. A
    transposed layer is the plain one with input and output swapped."""
    first, second = (grad, input) if transposed else (input, grad)
    out: torch.Tensor = torch.nn.grad.conv2d_weight(  # type: ignore[no-untyped-call]
        first, weight.shape, second, list(stride), list(padding), list(dilation), groups
    )
    return out


def _channel_view(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(1, -1, *([1] * (like.dim() - 2)))


def per_channel(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-channel vector broadcast over batch and space (channel is dim 1)."""
    return _channel_view(v, like)


def _non_channel_dims(x: torch.Tensor) -> list[int]:
    return [d for d in range(x.dim()) if d != 1]


def mean_c(x: torch.Tensor) -> torch.Tensor:
    """Mean over everything but the channel dimension (dim 1), kept for broadcasting."""
    return x.mean(_non_channel_dims(x), keepdim=True)


def sum_c(x: torch.Tensor) -> torch.Tensor:
    """Sum over everything but the channel dimension (dim 1)."""
    return x.sum(_non_channel_dims(x))


def xhat(x: torch.Tensor, mean: torch.Tensor, invstd: torch.Tensor) -> torch.Tensor:
    """The batch-normalized input: (x - mean) / std, per channel."""
    return (x - _channel_view(mean, x)) * _channel_view(invstd, x)


def _last_dims(x: torch.Tensor, normalized_shape: Sequence[int]) -> list[int]:
    return list(range(x.dim() - len(normalized_shape), x.dim()))


def mean_n(x: torch.Tensor, normalized_shape: Sequence[int]) -> torch.Tensor:
    """Mean over the normalized (last) dimensions, kept for broadcasting."""
    return x.mean(_last_dims(x, normalized_shape), keepdim=True)


def sum_lead(x: torch.Tensor, normalized_shape: Sequence[int]) -> torch.Tensor:
    """Sum over the leading (batch) dimensions, leaving the normalized shape."""
    lead = x.dim() - len(normalized_shape)
    return x.sum(list(range(lead))) if lead else x


def avg(x: torch.Tensor, dim: Any) -> torch.Tensor:
    """The mean over ``dim`` (everything when None), kept for broadcasting."""
    return x.mean(_dims(dim, x.dim()), keepdim=True)


def flip(x: torch.Tensor, dim: int) -> torch.Tensor:
    return x.flip(dim)


def cumsum(x: torch.Tensor, dim: int) -> torch.Tensor:
    return x.cumsum(dim)


def index_add_back(
    grad: torch.Tensor, like: torch.Tensor, dim: int, index: torch.Tensor
) -> torch.Tensor:
    """The gradient of ``index_select``: each slice back where it was taken, added up."""
    return torch.zeros_like(like).index_add(dim, index, grad)


def max_pool_back(grad: torch.Tensor, like: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """The gradient of max pooling: each window's gradient to the element that was its
    max (``indices`` count within each channel's plane), added where windows share it."""
    out = torch.zeros_like(like).flatten(-2)
    out = out.scatter_add(-1, indices.flatten(-2), grad.flatten(-2))
    return out.view_as(like)


def spread_back(
    grad: torch.Tensor,
    like: torch.Tensor,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
) -> torch.Tensor:
    """The gradient of average pooling: each window's gradient shared evenly among its
    elements (padding counted, as by default), added where windows overlap."""
    kh, kw = kernel_size
    sh, sw = stride or kernel_size  # () when the stride is the kernel's size
    planes = grad.reshape(-1, 1, *grad.shape[-2:])
    share = torch.full((1, 1, kh, kw), 1.0 / (kh * kw), dtype=grad.dtype)
    out = F.conv_transpose2d(planes, share, stride=(sh, sw))  # rows from -padding on
    (ph, pw), (height, width) = padding, like.shape[-2:]
    out = out[..., ph : ph + height, pw : pw + width]
    out = F.pad(out, (0, width - out.shape[-1], 0, height - out.shape[-2]))
    return out.reshape(like.shape)


def _log(x: Any) -> torch.Tensor:
    return torch.log(torch.as_tensor(x))


def embedding_back(grad: torch.Tensor, indices: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(weight)
    return out.index_add(0, indices.reshape(-1), grad.reshape(-1, weight.shape[1]))


def pad(x: torch.Tensor, widths: Sequence[int]) -> torch.Tensor:
    return F.pad(x, list(widths))


def unpad(grad: torch.Tensor, widths: Sequence[int]) -> torch.Tensor:
    """The input's share of a padded tensor's gradient: padding by the negated widths
    crops what ``pad`` added (and adds back, as zeros, what a negative width cropped)."""
    return F.pad(grad, [-w for w in widths])


def diagonal_back(
    grad: torch.Tensor, like: torch.Tensor, offset: int, dim1: int, dim2: int
) -> torch.Tensor:
    """A diagonal's gradient written back onto the diagonal of zeros shaped like the input."""
    return torch.diagonal_scatter(torch.zeros_like(like), grad, offset, dim1, dim2)


def eye_like(x: torch.Tensor) -> torch.Tensor:
    """Ones on the diagonal of a matrix shaped like ``x`` (the trace's derivative)."""
    rows, cols = x.shape[-2:]
    return torch.eye(rows, cols, dtype=x.dtype)


NAMESPACE: dict[str, Any] = {
    "sum_to": sum_to,
    "expand_as": expand_as,
    "numel": numel,
    "count": count,
    "sum": total,
    "exp": torch.exp,
    "log": _log,  # of a tensor, or of the number in 2 ** x
    "sqrt": torch.sqrt,
    "pi": torch.tensor(math.pi),
    "sign": torch.sign,
    "sin": torch.sin,
    "cos": torch.cos,
    "sigmoid": torch.sigmoid,
    "where": torch.where,
    "abs": torch.abs,
    "Phi": Phi,
    "phi": phi,
    "in_range": in_range,
    "inverse": inverse,
    "reshape_as": reshape_as,
    "scatter_back": scatter_back,
    "gather_back": gather_back,
    "share_among_max": share_among_max,
    "piece": piece,
    "place": place,
    "place_slice": place_slice,
    "index_back": index_back,
    "one_hot": one_hot,
    "outer": outer,
    "conv2d_input_grad": conv2d_input_grad,
    "conv2d_weight_grad": conv2d_weight_grad,
    "per_channel": per_channel,
    "mean_c": mean_c,
    "sum_c": sum_c,
    "xhat": xhat,
    "mean_n": mean_n,
    "sum_lead": sum_lead,
    "embedding_back": embedding_back,
    "cat": torch.cat,
    "stack": torch.stack,
    "tanh": torch.tanh,
    "softplus": F.softplus,
    "clamp": torch.clamp,
    "tril": torch.tril,
    "triu": torch.triu,
    "avg": avg,
    "flip": flip,
    "cumsum": cumsum,
    "index_add_back": index_add_back,
    "max_pool_back": max_pool_back,
    "spread_back": spread_back,
    "pad": pad,
    "unpad": unpad,
    "eye_like": eye_like,
    "diagonal_back": diagonal_back,
    "diagonal": torch.diagonal,
}


def evaluate(formula: str, symbols: Mapping[str, Any]) -> Any:
    """Compute ``formula`` with ``symbols`` bound (tensors, saved attributes, ``i``)."""
    code = compile(ast.parse(formula, mode="eval"), "<rule>", "eval")
    return eval(code, {"__builtins__": {}, **NAMESPACE}, dict(symbols))
