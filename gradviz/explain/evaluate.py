"""The meaning of every helper the chain-rule formulas use, in torch.

``evaluate(formula, symbols)`` computes a formula from ``gradviz.explain.rules``
on real tensors. The tests use it to check each rule against the gradients
torch computes; what is shown to the user is therefore what was checked.
"""

from __future__ import annotations

import ast
import builtins
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
    grad: torch.Tensor, like: torch.Tensor, dim: int, start: int, end: int | None, step: int
) -> torch.Tensor:
    """The slice's gradient in its place, zeros around it; ``end`` None runs to the end."""
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


def one_hot(
    target: torch.Tensor, like: torch.Tensor, ignore_index: int | None = None
) -> torch.Tensor:
    """1 at each row's target class of ``like`` (the log-probabilities), else 0; a row of
    zeros for a target equal to ``ignore_index`` (padding that ``nll_loss`` skips)."""
    if ignore_index is not None:
        return picked(target, like, ignore_index)
    if like.dim() == 1:
        return F.one_hot(target, like.shape[0]).to(like.dtype)
    hot = F.one_hot(target, like.shape[1]).to(like.dtype)
    return hot.movedim(-1, 1) if like.dim() > 2 else hot  # classes at dim 1: per pixel


def picked(target: torch.Tensor, like: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """``one_hot`` of the targets, with a row of zeros for a target ``nll_loss`` ignores."""
    kept = target != ignore_index
    hot = one_hot(torch.where(kept, target, torch.zeros_like(target)), like)
    return hot * (kept.unsqueeze(1) if like.dim() > 1 else kept).to(hot.dtype)


def targets_kept(target: torch.Tensor, ignore_index: int) -> int:
    """How many targets ``nll_loss`` averaged over: those not ``ignore_index``."""
    return int((target != ignore_index).sum())


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


def per_weight(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x`` summed to a per-channel weight: over all but dim 1, or over everything for
    one weight shared by every channel (PReLU's default)."""
    if weight.numel() == 1:
        return x.sum().reshape(weight.shape)
    return sum_c(x).reshape(weight.shape)


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


def per_group(v: torch.Tensor, like: torch.Tensor, group: int) -> torch.Tensor:
    """A value per sample and group, (N, group), spread over the channels and positions
    of each group of ``like`` (N, C, ...): group norm's mean and 1/std."""
    blocks = like.reshape(like.shape[0], group, -1)
    return v.reshape(like.shape[0], group, 1).expand_as(blocks).reshape(like.shape)


def mean_g(x: torch.Tensor, group: int) -> torch.Tensor:
    """The mean over each sample's group of channels (and their positions), spread back."""
    blocks = x.reshape(x.shape[0], group, -1)
    return blocks.mean(-1, keepdim=True).expand_as(blocks).reshape(x.shape)


def xhat_g(x: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor, group: int) -> torch.Tensor:
    """The group-normalized input: (x - mean) / std, per sample and group."""
    return (x - per_group(mean, x, group)) * per_group(rstd, x, group)


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


def var_mean_back(
    grads: Sequence[torch.Tensor | None], x: torch.Tensor, dim: Any, correction: int, keepdim: bool
) -> torch.Tensor:
    """``var_mean``'s gradient: what its variance and its mean sent back, added."""
    n = count(x, dim)
    out = torch.zeros_like(x)
    if grads and grads[0] is not None:
        out = out + expand_as(grads[0], x, dim, keepdim) * 2 * (x - avg(x, dim)) / (n - correction)
    if len(grads) > 1 and grads[1] is not None:
        out = out + expand_as(grads[1], x, dim, keepdim) / n
    return out


def std_mean_back(
    grads: Sequence[torch.Tensor | None],
    x: torch.Tensor,
    std: torch.Tensor,
    dim: Any,
    correction: int,
    keepdim: bool,
) -> torch.Tensor:
    """``std_mean``'s gradient: what its std and its mean sent back, added."""
    n = count(x, dim)
    out = torch.zeros_like(x)
    if grads and grads[0] is not None:
        spread = expand_as(grads[0], x, dim, keepdim) * (x - avg(x, dim))
        out = out + spread / ((n - correction) * expand_as(std, x, dim, keepdim))
    if len(grads) > 1 and grads[1] is not None:
        out = out + expand_as(grads[1], x, dim, keepdim) / n
    return out


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


def _log(x: Any) -> torch.Tensor | float:
    """``log`` of a tensor, or of a plain number (``2 ** x``, ``log2``) exactly."""
    if isinstance(x, int | float):
        return math.log(x)
    return torch.log(x)


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


def inv(a: torch.Tensor) -> torch.Tensor:
    """The matrix inverse (``inverse`` is taken: it inverts a permutation)."""
    out: torch.Tensor = torch.linalg.inv(a)
    return out


def solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = torch.linalg.solve(a, b)
    return out


def others_product(x: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Each element's derivative of a product: the product of all the others in its
    reduction (computed without dividing, so that a zero among them is exact)."""
    flat = x.reshape(-1, 1) if dim is None else x.movedim(dim, -1).unsqueeze(-1)
    n = flat.shape[-2]
    others = flat.squeeze(-1).unsqueeze(-2).expand(*flat.shape[:-2], n, n)
    mask = torch.eye(n, dtype=torch.bool)
    out = torch.where(mask, torch.ones_like(others), others).prod(-1)
    return out.reshape(x.shape) if dim is None else out.movedim(-1, dim)


def cumprod_back(grad: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
    """``cumprod``'s gradient: element i is in every later running product j >= i, and
    its derivative there is the product of the others up to j (exact with zeros)."""
    g = grad.movedim(dim, -1)
    xs = x.movedim(dim, -1)
    n = xs.shape[-1]
    out = torch.zeros_like(xs)
    for i in range(n):
        held = xs.clone()
        held[..., i] = 1.0
        partial = held.cumprod(-1)
        out[..., i] = (g[..., i:] * partial[..., i:]).sum(-1)
    return out.movedim(-1, dim)


def untile(grad: torch.Tensor, like: torch.Tensor, repeats: Sequence[int]) -> torch.Tensor:
    """``repeat``'s gradient: the gradients of every copy added back onto the original."""
    extra = len(repeats) - like.dim()
    shape = list(like.shape)
    split: list[int] = []
    for i, r in enumerate(repeats):
        split += [r, shape[i - extra] if i >= extra else 1]
    out = grad.reshape(split).sum(tuple(range(0, len(split), 2)))
    return out.reshape(like.shape)


def unroll(grad: torch.Tensor, shifts: Sequence[int], dims: Sequence[int]) -> torch.Tensor:
    """``roll``'s gradient: rolled back by the same shifts."""
    if not dims:  # roll of the flattened tensor
        return grad.flatten().roll([-s for s in shifts]).view_as(grad)
    return grad.roll([-s for s in shifts], list(dims))


def windows_back(
    grad: torch.Tensor, like: torch.Tensor, dimension: int, size: int, step: int
) -> torch.Tensor:
    """``Tensor.unfold``'s gradient: each window's gradient added back where it was read."""
    out = torch.zeros_like(like)
    for w in range(grad.shape[dimension]):
        window = grad.select(dimension, w).movedim(-1, dimension)
        out.narrow(dimension, w * step, size).add_(window)
    return out


def fold_patches(
    grad: torch.Tensor,
    like: torch.Tensor,
    kernel_size: Sequence[int],
    dilation: Sequence[int],
    padding: Sequence[int],
    stride: Sequence[int],
) -> torch.Tensor:
    """``F.unfold``'s gradient is ``F.fold``: each patch added back where it was taken."""
    return F.fold(
        grad, like.shape[-2:], tuple(kernel_size), tuple(dilation), tuple(padding), tuple(stride)
    )


def unfold_patches(
    grad: torch.Tensor,
    kernel_size: Sequence[int],
    dilation: Sequence[int],
    padding: Sequence[int],
    stride: Sequence[int],
) -> torch.Tensor:
    """``F.fold``'s gradient is ``F.unfold``: each patch reads back what it was added to."""
    return F.unfold(grad, tuple(kernel_size), tuple(dilation), tuple(padding), tuple(stride))


def pad_back(
    grad: torch.Tensor, like: torch.Tensor, padding: Sequence[int], mode: str
) -> torch.Tensor:
    """The gradient of reflection or replication padding: every cell of the padded
    tensor is a copy of one input cell, and sends its gradient there."""
    spatial = len(padding) // 2
    sizes = like.shape[-spatial:]
    where = torch.arange(math.prod(sizes), dtype=torch.float64).reshape(1, 1, *sizes)
    source = F.pad(where, list(padding), mode=mode).long().flatten()
    lead = like.shape[: like.dim() - spatial]
    out = torch.zeros(*lead, math.prod(sizes), dtype=grad.dtype)
    out.index_add_(-1, source, grad.reshape(*lead, -1))
    return out.reshape(like.shape)


def _source_scale(size_in: int, size_out: int, scale: float | None, corners: bool) -> float:
    """torch's step between source positions (``area_pixel_compute_scale``)."""
    if corners:
        return (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else size_in / size_out


def interpolation_weights(
    size_in: int, size_out: int, mode: str, corners: bool = False, scale: float | None = None
) -> torch.Tensor:
    """The ``size_out × size_in`` matrix of weights that ``F.interpolate`` mixes input
    cells with along one dimension: one 1 a row for nearest, two weights for linear
    (bilinear is linear along each of its two dimensions)."""
    w = torch.zeros(size_out, size_in, dtype=torch.float64)
    step = _source_scale(size_in, size_out, scale, corners)
    for o in range(size_out):
        if mode == "nearest":
            w[o, min(math.floor(o * step), size_in - 1)] = 1.0
            continue
        src = step * o if corners else max(step * (o + 0.5) - 0.5, 0.0)
        lo = min(int(src), size_in - 1)
        hi = lo + 1 if lo < size_in - 1 else lo
        frac = src - lo
        w[o, lo] += 1.0 - frac
        w[o, hi] += frac
    return w


def upsample_back(
    grad: torch.Tensor,
    like: torch.Tensor,
    mode: str,
    align_corners: bool = False,
    *scales: float | None,
) -> torch.Tensor:
    """The gradient of ``F.interpolate`` (nearest, linear, bilinear): each input cell gets
    the gradient of every output cell it was mixed into, with the weight it had there.
    The interpolation is a matrix along each spatial dimension, so its gradient is the
    transposed matrices applied to ``grad``."""
    out = grad.to(torch.float64)
    spatial = grad.dim() - 2
    for k in range(spatial):
        d = 2 + k
        w = interpolation_weights(
            like.shape[d],
            grad.shape[d],
            mode,
            align_corners,
            scales[k] if k < len(scales) else None,
        )
        out = torch.tensordot(out, w, dims=([d], [0])).movedim(-1, d)
    return out.to(grad.dtype)


def adaptive_avg_back(grad: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The gradient of adaptive average pooling: output cell i averaged the input cells
    from floor(i * n / m) to ceil((i + 1) * n / m), and shares its gradient among them."""
    out = grad.to(torch.float64)
    for d in range(grad.dim() - 2, grad.dim()):
        n, m = like.shape[d], grad.shape[d]
        w = torch.zeros(m, n, dtype=torch.float64)
        for i in range(m):
            lo, hi = (i * n) // m, -(-((i + 1) * n) // m)
            w[i, lo:hi] = 1.0 / (hi - lo)
        out = torch.tensordot(out, w, dims=([d], [0])).movedim(-1, d)
    return out.to(grad.dtype)


def unpool_back(grad: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """``max_unpool``'s gradient: each input cell reads the gradient where it was put."""
    return grad.flatten(-2).gather(-1, indices.flatten(-2)).view_as(indices)


def glu_back(grad: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
    """GLU splits ``x`` into halves a, b along ``dim`` and gives a * sigmoid(b): a gets
    grad * sigmoid(b), b gets grad * a * sigmoid(b) * (1 - sigmoid(b))."""
    a, b = x.chunk(2, dim)
    gate = torch.sigmoid(b)
    return torch.cat([grad * gate, grad * a * gate * (1 - gate)], dim)


def taken(grad: torch.Tensor, indices: Sequence[torch.Tensor | None]) -> torch.Tensor:
    """``grad[indices]`` for the indices of an indexed write (None: the whole dimension)."""
    return grad[tuple(slice(None) if i is None else i for i in indices)]


def zero_at(grad: torch.Tensor, indices: Sequence[torch.Tensor | None]) -> torch.Tensor:
    """``grad`` with the cells an indexed write overwrote set to 0."""
    out = grad.clone()
    out[tuple(slice(None) if i is None else i for i in indices)] = 0
    return out


def place_masked(grad: torch.Tensor, like: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``masked_select``'s gradient: each value back where the mask took it, zeros elsewhere."""
    return torch.zeros_like(like).masked_scatter(mask.expand_as(like), grad)


def masked_source_back(
    grad: torch.Tensor, mask: torch.Tensor, source: torch.Tensor
) -> torch.Tensor:
    """``masked_scatter``'s gradient for its source: the first values of ``source`` went to
    the masked cells in order; the rest were not used and get zeros."""
    used = grad.masked_select(mask.expand_as(grad))
    out = torch.zeros(source.numel(), dtype=grad.dtype)
    out[: used.numel()] = used
    return out.view_as(source)


def put_back(grad: torch.Tensor, like: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``take``'s gradient: each value back to the flat position it was taken from."""
    return torch.zeros_like(like).put_(index, grad, accumulate=True)


def bag_back(
    grad: torch.Tensor,
    weight: torch.Tensor,
    indices: torch.Tensor,
    offsets: torch.Tensor,
    mode: int,
) -> torch.Tensor:
    """``EmbeddingBag``'s gradient: every row looked up in a bag gets that bag's gradient,
    divided by the bag's size for the mean (mode 1), whole for the sum (mode 0)."""
    flat, starts = indices.reshape(-1), offsets.tolist()
    if indices.dim() == 2:  # fixed-size bags, one per row
        starts = list(range(0, flat.numel(), indices.shape[1]))
    ends = [*starts[1:], flat.numel()]
    out = torch.zeros_like(weight)
    for bag, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
        if hi > lo:
            share = grad[bag] / (hi - lo) if mode == 1 else grad[bag]
            out.index_add_(0, flat[lo:hi], share.expand(hi - lo, -1))
    return out


def pairwise_back(
    grad: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor, result: torch.Tensor
) -> torch.Tensor:
    """``cdist``'s gradient for ``x1`` (p = 2): row i moves along (x1_i - x2_j) / d_ij,
    weighted by each distance's gradient (a zero distance sends nothing)."""
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    scale = torch.where(result == 0, torch.zeros_like(result), grad / result)
    return (scale.unsqueeze(-1) * diff).sum(-2)


def cross(a: torch.Tensor, b: torch.Tensor, dim: int = -1) -> torch.Tensor:
    out: torch.Tensor = torch.linalg.cross(a, b, dim=dim)
    return out


def pdist_back(grad: torch.Tensor, x: torch.Tensor, result: torch.Tensor) -> torch.Tensor:
    """``pdist``'s gradient (p = 2): the pairs i < j in the order pdist lists them, each
    pulling row i along x_i - x_j and row j the other way."""
    n = x.shape[0]
    rows, cols = torch.triu_indices(n, n, 1)
    diff = x[rows] - x[cols]
    scale = torch.where(result == 0, torch.zeros_like(result), grad / result).unsqueeze(1)
    out = torch.zeros_like(x)
    out.index_add_(0, rows, scale * diff)
    out.index_add_(0, cols, -scale * diff)
    return out


def isnan(x: torch.Tensor) -> torch.Tensor:
    return torch.isnan(x)


def isfinite(x: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(x)


NAMESPACE: dict[str, Any] = {
    "sum_to": sum_to,
    "expand_as": expand_as,
    "numel": numel,
    "count": count,
    "sum": total,
    "exp": torch.exp,
    "log": _log,  # of a tensor, or of the number in 2 ** x
    "sqrt": torch.sqrt,
    "pi": torch.tensor(math.pi, dtype=torch.float64),
    "sign": torch.sign,
    "sin": torch.sin,
    "cos": torch.cos,
    "sigmoid": torch.sigmoid,
    "logsigmoid": F.logsigmoid,
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
    "targets_kept": targets_kept,
    "picked": picked,
    "outer": outer,
    "conv2d_input_grad": conv2d_input_grad,
    "conv2d_weight_grad": conv2d_weight_grad,
    "per_channel": per_channel,
    "per_weight": per_weight,
    "mean_c": mean_c,
    "sum_c": sum_c,
    "xhat": xhat,
    "per_group": per_group,
    "mean_g": mean_g,
    "xhat_g": xhat_g,
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
    "var_mean_back": var_mean_back,
    "std_mean_back": std_mean_back,
    "cumsum": cumsum,
    "index_add_back": index_add_back,
    "max_pool_back": max_pool_back,
    "spread_back": spread_back,
    "pad": pad,
    "unpad": unpad,
    "eye_like": eye_like,
    "diagonal_back": diagonal_back,
    "inv": inv,
    "solve": solve,
    "others_product": others_product,
    "cumprod_back": cumprod_back,
    "untile": untile,
    "unroll": unroll,
    "windows_back": windows_back,
    "fold_patches": fold_patches,
    "unfold_patches": unfold_patches,
    "pad_back": pad_back,
    "upsample_back": upsample_back,
    "adaptive_avg_back": adaptive_avg_back,
    "unpool_back": unpool_back,
    "glu_back": glu_back,
    "taken": taken,
    "zero_at": zero_at,
    "place_masked": place_masked,
    "masked_source_back": masked_source_back,
    "put_back": put_back,
    "bag_back": bag_back,
    "pairwise_back": pairwise_back,
    "isnan": isnan,
    "pdist_back": pdist_back,
    "sinc": torch.sinc,
    "isfinite": isfinite,
    "cosh": torch.cosh,
    "sinh": torch.sinh,
    "erfinv": torch.erfinv,
    "digamma": torch.digamma,
    "polygamma": torch.polygamma,
    "xlogy": torch.xlogy,
    "cross": cross,
    "diag_embed": torch.diag_embed,
    "pixel_shuffle": F.pixel_shuffle,
    "pixel_unshuffle": F.pixel_unshuffle,
    "view_as_real": torch.view_as_real,
    "conj": torch.conj,
    "view_as_complex": torch.view_as_complex,
    "diagonal": torch.diagonal,
    "unsqueeze": torch.unsqueeze,
}


def evaluate(formula: str, symbols: Mapping[str, Any]) -> Any:
    """Compute ``formula`` with ``symbols`` bound (tensors, saved attributes, ``i``)."""
    code = compile(ast.parse(formula, mode="eval"), "<rule>", "eval")
    return eval(code, {"__builtins__": _BUILTINS, **NAMESPACE}, dict(symbols))


_BUILTINS = {"__import__": builtins.__import__}
"""No builtins for the formulas, but ``__import__``: torch's argument parser imports
``torch`` through the calling frame's builtins when an op gets a Python number
(``clamp(x, -delta, delta)``), and without it raises KeyError."""
