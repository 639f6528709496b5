"""Turn torch tensors into ``TensorData``: every number when small, a summary when large.

This runs on every op the snippet makes, so it stays cheap: a small tensor costs
one ``tolist()``; a large one a few reductions and never a copy, so capturing a
big model does not double its memory.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import replace

import torch

from gradviz.model import Stats, TensorData

__all__ = [
    "FULL_LIMIT",
    "TRACING_TYPES",
    "StatsMemo",
    "add_data",
    "same_data",
    "same_values",
    "storage_key",
    "to_data",
]

FULL_LIMIT = 256
"""Tensors with at most this many elements keep every value; larger ones a summary."""

StorageKey = tuple[int, tuple[int, ...], tuple[int, ...]]


_DTYPE_NAMES: dict[torch.dtype, str] = {}
_DEVICE_NAMES: dict[torch.device, str] = {}
TRACING_TYPES = frozenset({"FakeTensor", "FunctionalTensor"})
"""Tensors a compiler traces with: they have no numbers to read, nor memory."""
_SPARSE = frozenset(
    {torch.sparse_coo, torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc}
)


def dtype_name(dtype: torch.dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype).removeprefix("torch.")
    return name


def _device_name(device: torch.device) -> str:
    name = _DEVICE_NAMES.get(device)
    if name is None:
        name = _DEVICE_NAMES[device] = str(device)
    return name


class StatsMemo:
    """Summaries already made, by the elements they read, for one backward pass.

    The key is the address of the first element, the version counter, the dtype
    and the (size, stride) pairs in any order: two tensors with equal keys read
    the same elements, unless the first was freed and its memory handed to the
    second. So each entry keeps a weak reference to the tensor it summarized,
    and counts only while that tensor lives (its memory cannot be reused then).
    """

    LIMIT = 4096
    """Entries kept at most: a long forward pass with no backward to reset it stays small."""

    def __init__(self) -> None:
        self._entries: dict[tuple[object, ...], tuple[weakref.ref[torch.Tensor], Stats]] = {}

    def get(self, key: tuple[object, ...]) -> Stats | None:
        entry = self._entries.get(key)
        if entry is None or entry[0]() is None:
            return None
        return entry[1]

    def put(self, key: tuple[object, ...], t: torch.Tensor, stats: Stats) -> None:
        if len(self._entries) >= self.LIMIT:
            self._entries.clear()  # older tensors are seldom seen again
        self._entries[key] = (weakref.ref(t), stats)

    def __len__(self) -> int:
        return len(self._entries)


PROBES = 16


def probe(t: torch.Tensor) -> tuple[object, ...] | None:
    """A few of a large tensor's elements, evenly spread: enough to see later that it was
    rescaled in place (clipped, unscaled), for a few microseconds instead of a summary."""
    if t.layout != torch.strided or t.device.type == "meta":
        return None
    try:
        flat = t.detach().reshape(-1)
        step = max(flat.numel() // PROBES, 1)
        return tuple(flat[::step][:PROBES].tolist())
    except RuntimeError:
        return None


def same_values(a: Sequence[object], b: Sequence[object]) -> bool:
    """Element by element, with nan equal to nan: a gradient of nans read twice has not
    changed (Python's ``==`` says nan differs from itself)."""
    return len(a) == len(b) and all(
        x == y or (x != x and y != y) for x, y in zip(a, b, strict=True)
    )


def same_data(a: TensorData, b: TensorData | None) -> bool:
    """Whether two snapshots hold the same numbers, nan counting as equal to nan."""
    if a == b:
        return True
    if b is None or a.data is None or b.data is None:
        return False  # summaries count nans apart, so equal ones compared equal above
    return replace(a, data=None) == replace(b, data=None) and same_values(a.data, b.data)


def to_data(t: torch.Tensor, memo: StatsMemo | None = None) -> TensorData:
    """Snapshot ``t`` (detached, on any device) as plain Python data.

    Written for speed (a few microseconds): names of dtypes and devices are
    cached, and the common case asks torch as little as possible. With a
    ``memo``, a large tensor that reads the same elements as one summarized
    before (the same tensor saved twice, a weight and its transpose) reuses
    that summary: the statistics do not depend on the order of the elements.
    """
    shape = tuple(t.shape)
    dtype = dtype_name(t.dtype)
    device = t.device
    where = _device_name(device)
    if device.type == "meta" or type(t).__name__ in TRACING_TYPES:
        return TensorData(shape, dtype, where)
    try:
        if t.layout != torch.strided:
            return _sparse_data(t.detach(), shape, dtype, where)
        if t.numel() <= FULL_LIMIT:  # reading values needs no detach; reductions do
            dims = len(shape)
            if dims == 0:
                return TensorData(shape, dtype, where, (t.item(),))
            flat = t if dims == 1 else t.detach().reshape(-1)
            return TensorData(shape, dtype, where, tuple(flat.tolist()))
        if memo is None:
            return TensorData(shape, dtype, where, None, _stats(t.detach()))
        key = _elements_key(t, shape, dtype)
        stats = memo.get(key)
        if stats is None:
            stats = _stats(t.detach())
            memo.put(key, t, stats)
        return TensorData(shape, dtype, where, None, stats)
    except RuntimeError:  # exotic tensor types that refuse to be read
        return TensorData(shape, dtype, where)


def _sparse_data(t: torch.Tensor, shape: tuple[int, ...], dtype: str, where: str) -> TensorData:
    """A sparse tensor (the gradient of ``nn.Embedding(sparse=True)``), its zeros counted.

    Small ones are made dense; large ones are summarized from the stored
    values alone, so a sparse gradient of a big table is never made dense.
    """
    if t.layout not in _SPARSE:
        return TensorData(shape, dtype, where)
    if t.numel() <= FULL_LIMIT:
        return TensorData(shape, dtype, where, tuple(t.to_dense().reshape(-1).tolist()))
    stored = (t.coalesce() if t.layout == torch.sparse_coo else t).values()
    return TensorData(shape, dtype, where, None, _with_zeros(stored, t.numel() - stored.numel()))


def _with_zeros(stored: torch.Tensor, zeros: int) -> Stats:
    """The summary of ``stored`` (the values a sparse tensor keeps) and ``zeros`` zeros,
    in float64 (a sparse tensor stores few values: copying them costs little)."""
    values = (stored.abs() if stored.is_complex() else stored).reshape(-1).double()
    finite = values[torch.isfinite(values)]
    nan = int(torch.isnan(values).sum())
    inf = values.numel() - finite.numel() - nan
    n = finite.numel() + zeros
    if n == 0:
        return Stats(None, None, None, None, nan, inf)
    lo = min(float(finite.min()), 0.0 if zeros else math.inf) if finite.numel() else 0.0
    hi = max(float(finite.max()), 0.0 if zeros else -math.inf) if finite.numel() else 0.0
    mean = float(finite.sum()) / n
    squares = float(finite @ finite)
    std = math.sqrt(max(squares - n * mean * mean, 0.0) / (n - 1)) if n > 1 else None
    return Stats(lo, hi, mean, std, nan, inf, math.sqrt(squares))


def _elements_key(t: torch.Tensor, shape: tuple[int, ...], dtype: str) -> tuple[object, ...]:
    """What says which elements ``t`` reads: equal keys, equal summaries (see StatsMemo).

    A tensor whose elements fill one block of memory, in some order of its
    dimensions, reads ``numel`` elements from its first, whatever its shape: a
    ``view``, ``unflatten`` or transpose of another reads what that one does.
    Others (slices with gaps, broadcasts) are told by their (size, stride) pairs.
    """
    pairs = tuple(zip(shape, t.stride(), strict=True))
    if _dense(pairs):
        return (t.data_ptr(), t._version, dtype, t.numel())
    return (t.data_ptr(), t._version, dtype, tuple(sorted(pairs)))


def _dense(pairs: tuple[tuple[int, int], ...]) -> bool:
    """Whether (size, stride) pairs cover one block of memory with no gaps or repeats."""
    expected = 1
    for size, stride in sorted(pairs, key=lambda p: p[1]):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected *= size
    return True


def _stats(x: torch.Tensor) -> Stats:
    """Summary in three reductions; the slow, exact path only for nan/inf.

    ``std`` comes from the sum and the sum of squares, in float64 on the host:
    cheaper than ``torch.std`` (this runs for every large tensor of every op).
    When the mean dwarfs the spread, that formula cancels badly (the sum of
    squares is a float32 sum), so the exact ``torch.std`` is used instead: below
    a spread of a tenth of the mean, where the formula's error could reach the
    fourth digit shown (log-probabilities at initialization: -2.30 ± 0.03). On
    the CPU each number is read on its own (cheaper than stacking them);
    elsewhere they come back in one transfer.
    """
    if x.is_complex():
        x = x.abs()
    if not x.is_floating_point():
        x = x.double()
    elif x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    flat = _flat(x)
    lo, hi = torch.aminmax(flat)
    if flat.is_cpu:
        lo_f, hi_f, total, squares = float(lo), float(hi), float(flat.sum()), float(flat @ flat)
    else:
        lo_f, hi_f, total, squares = torch.stack([lo, hi, flat.sum(), flat @ flat]).tolist()
    n = flat.numel()
    if not (math.isfinite(lo_f) and math.isfinite(hi_f)):
        return _stats_non_finite(flat)
    mean = total / n
    var = max(squares - n * mean * mean, 0.0) / (n - 1)
    if var < 1e-2 * mean * mean:  # cancellation: ask torch for the exact value
        var = float(flat.double().var())
    return Stats(lo_f, hi_f, mean, math.sqrt(var), 0, 0, math.sqrt(squares))


def _flat(x: torch.Tensor) -> torch.Tensor:
    """The elements of ``x`` as one flat tensor, in any order, copied only when they must be.

    A transposed weight (what ``addmm`` saves) is contiguous once its dimensions
    are put back in memory order: viewing it so avoids copying a 100 MB weight,
    and reductions over contiguous memory are many times faster.
    """
    if x.is_contiguous():
        return x.view(-1)
    strides = x.stride()
    in_memory_order = x.permute(sorted(range(x.dim()), key=lambda d: -strides[d]))
    if in_memory_order.is_contiguous():
        return in_memory_order.view(-1)
    return x.reshape(-1)  # a strided slice: a copy of this one tensor, freed at once


def _stats_non_finite(flat: torch.Tensor) -> Stats:
    finite_mask = torch.isfinite(flat)
    nan = int(torch.isnan(flat).sum())
    finite = flat[finite_mask]
    inf = flat.numel() - finite.numel() - nan
    if finite.numel() == 0:
        return Stats(min=None, max=None, mean=None, std=None, nan=nan, inf=inf)
    f = finite.double()
    lo, hi = torch.aminmax(f)
    std = float(f.std()) if f.numel() > 1 else None
    return Stats(
        min=float(lo),
        max=float(hi),
        mean=float(f.mean()),
        std=std,
        norm=float(torch.linalg.vector_norm(f)),
        nan=nan,
        inf=inf,
    )


def add_data(a: TensorData, b: TensorData) -> TensorData:
    """Elementwise sum of two snapshots of the same tensor (gradient of two passes).

    Large tensors were only summarized, and summaries do not add: the later one is
    kept, and the caller records how many passes there were.
    """
    if a.data is None or b.data is None or a.shape != b.shape:
        return b
    summed = tuple(x + y for x, y in zip(a.data, b.data, strict=True))
    return TensorData(shape=b.shape, dtype=b.dtype, device=b.device, data=summed)


def storage_key(t: torch.Tensor) -> StorageKey | None:
    """What identifies a tensor's memory: saved tensors are new objects over it.

    The address of its first element (storage and offset in one), its shape and
    its strides: two tensors with the same key show the same numbers. A fake
    tensor has no memory (torch warns when asked for its address).
    """
    if type(t).__name__ in TRACING_TYPES:
        return None
    try:
        return (t.data_ptr(), tuple(t.shape), t.stride())
    except (RuntimeError, NotImplementedError):
        return None
